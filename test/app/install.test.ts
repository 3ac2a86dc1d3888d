import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/shared/config';
import { createEmbeddedDatasite } from '../../src/shared/workspace';
import { linkAppFolder } from '../helpers/app-folder';
import { waitFor } from '../helpers/process';

/**
 * run.sh as SyftBox runs it in a real install: from an app folder under
 * apps/ with any name (a clone into apps/com.github.<owner>.<repo>, a symlink
 * apps/local.<name>), stdout and stderr in the app's logs/app.log, a PATH
 * that may lack Node, maybe before the clone is complete or .env exists.
 * Each test builds such an app folder in a temporary SyftBox root: every
 * entry a symlink to this checkout (test/helpers/app-folder.ts), so the
 * folder's own .env is the test's.
 */

const AGG = 'agg@example.org';
const WAIT_MS = 240_000; // generous: under load (both cores busy, two test files at once) one app start took over 90 s

interface Started {
  child: ChildProcess;
  log: () => string;
  lines: () => string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: { child: ChildProcess; exit: Promise<unknown> }[] = [];
afterEach(async () => {
  for (const { child, exit } of running.splice(0)) {
    // run.sh may be sleeping in a child process: end the whole process group this test started
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    await exit;
  }
});

/** A SyftBox root with an app folder `apps/<name>`, linked to this checkout except `omit`. */
function appFolder(name: string, omit: string[] = []): { root: string; app: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'install-'));
  const app = path.join(root, 'SyftBox', 'apps', name);
  linkAppFolder(app, omit);
  return { root, app };
}

/** Start `<app>/run.sh` as the SyftBox client does: its env, its working folder, output into logs/app.log. */
function startApp(app: string, env: Record<string, string>): Started {
  const logFile = path.join(app, 'logs', 'app.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'w');
  const child = spawn('/bin/sh', ['-c', `exec "${path.join(app, 'run.sh')}"`], { cwd: app, env, stdio: ['ignore', out, out], detached: true });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  running.push({ child, exit });
  const log = () => readFileSync(logFile, 'utf8');
  return { child, log, lines: () => log().split('\n').filter((l) => l !== ''), exit };
}

/** An executable file that stands in for a Node.js binary: a link to this one. */
function fakeNodeDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, path.join(dir, 'node'));
  return path.join(dir, 'node');
}

/** A `node` that says it is v18 and fails the version check. */
function oldNodeDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'node');
  writeFileSync(file, '#!/bin/sh\ncase "$1" in -v) echo v18.19.0 ;; *) exit 1 ;; esac\n');
  chmodSync(file, 0o755);
  return file;
}

/** Just enough environment: no PATH at all unless given, a HOME of its own. */
function bareEnv(root: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '', HOME: path.join(root, 'home'), ...extra };
}

describe('run.sh finds Node.js where people install it', () => {
  it('with an emptied PATH, in the usual install folders', async () => {
    const { root, app } = appFolder('com.github.example.netflix');
    const node = fakeNodeDir(path.join(root, 'usr-local-bin'));
    const run = startApp(app, bareEnv(root, { NODE_SEARCH_PATH: `${path.join(root, 'nothing-here')}:${path.dirname(node)}` }));
    await waitFor(async () => /run\.sh: using Node\.js v\d+/.test(run.log()), 'the Node.js line', WAIT_MS);
    expect(run.lines()[0]).toBe(`run.sh: using Node.js ${process.version} at ${node}`);
  }, 600_000);

  it('through nvm: $NVM_DIR/nvm.sh selects the default version', async () => {
    const { root, app } = appFolder('com.github.example.netflix');
    const nvmDir = path.join(root, 'home', '.nvm');
    const node = fakeNodeDir(path.join(nvmDir, 'versions', 'node', 'v22.11.0', 'bin'));
    // nvm.sh, as nvm does with a default alias: puts that version's bin folder first on PATH
    writeFileSync(path.join(nvmDir, 'nvm.sh'), `export PATH="${path.dirname(node)}:$PATH"\n`);
    const run = startApp(app, bareEnv(root, { NVM_DIR: nvmDir, NODE_SEARCH_PATH: '' }));
    await waitFor(async () => run.log().includes('using Node.js'), 'the Node.js line', WAIT_MS);
    expect(run.lines()[0]).toBe(`run.sh: using Node.js ${process.version} at ${node}`);
  }, 600_000);

  it('through nvm without a default alias: the newest installed version, in the default ~/.nvm', async () => {
    const { root, app } = appFolder('com.github.example.netflix');
    const nvmDir = path.join(root, 'home', '.nvm');
    oldNodeDir(path.join(nvmDir, 'versions', 'node', 'v18.19.0', 'bin'));
    const node = fakeNodeDir(path.join(nvmDir, 'versions', 'node', 'v20.18.1', 'bin'));
    writeFileSync(path.join(nvmDir, 'nvm.sh'), 'nvm() { :; }\n');
    const run = startApp(app, bareEnv(root, { NODE_SEARCH_PATH: '' }));
    await waitFor(async () => run.log().includes('using Node.js'), 'the Node.js line', WAIT_MS);
    expect(run.lines()[0]).toBe(`run.sh: using Node.js ${process.version} at ${node}`);
  }, 600_000);

  it('says in one line of logs/app.log what to install, waits, and starts once Node.js is there', async () => {
    const { root, app } = appFolder('com.github.example.netflix');
    const old = oldNodeDir(path.join(root, 'old-bin'));
    const later = path.join(root, 'installed-later');
    mkdirSync(later);
    // it looks again every NODE_RETRY_SECONDS (30 by default): every second here
    const run = startApp(app, bareEnv(root, { PATH: path.dirname(old), NODE_SEARCH_PATH: later, NODE_RETRY_SECONDS: '1', SYFTBOX_APP_ID: 'netflix' }));
    await waitFor(async () => run.log().includes('cannot find'), 'the missing-Node line', WAIT_MS);
    expect(run.lines()).toEqual([
      expect.stringMatching(/^run\.sh: cannot find Node\.js 20\.10 or newer .*; found v18\.19\.0 at .*old-bin\/node, which is too old: install Node\.js 22 LTS from https:\/\/nodejs\.org/),
    ]);
    expect(run.child.exitCode).toBeNull(); // waiting, not dead

    symlinkSync(process.execPath, path.join(later, 'node'));
    await waitFor(async () => run.log().includes('using Node.js'), 'the app to find the new Node.js', WAIT_MS);
    expect(run.lines()).toHaveLength(2);
  }, 600_000);
});

describe('run.sh in a folder that is still being cloned', () => {
  it('waits in one line until the clone is complete', async () => {
    const { root, app } = appFolder('com.github.example.netflix', ['ui']);
    mkdirSync(path.join(app, '.git'));
    writeFileSync(path.join(app, '.git', 'index.lock'), '');
    const run = startApp(app, bareEnv(root, { NODE_SEARCH_PATH: path.dirname(process.execPath) }));
    await waitFor(async () => run.log().includes('not complete'), 'the incomplete-folder line', WAIT_MS);
    expect(run.lines()).toEqual([`run.sh: the app folder ${app} is not complete yet (still being cloned or copied?); waiting for it`]);

    symlinkSync(path.join(PROJECT_ROOT, 'ui'), path.join(app, 'ui'));
    rmSync(path.join(app, '.git', 'index.lock'));
    await waitFor(async () => run.log().includes('using Node.js'), 'run.sh to go on', WAIT_MS);
  }, 600_000);
});

describe('the app under SyftBox before it is configured', () => {
  function syftboxEnv(root: string, app: string, email: string): Record<string, string> {
    const client = createEmbeddedDatasite(path.join(root, 'SyftBox'), email, path.join(root, 'home', '.syftbox', 'config.json'));
    return bareEnv(root, {
      PATH: path.dirname(process.execPath),
      SYFTBOX_APP_ID: path.basename(app),
      SYFTBOX_APP_DIR: app,
      SYFTBOX_CLIENT_CONFIG_PATH: client.configPath,
      SYFTBOX_ASSIGNED_PORT: '0',
      LOG_FORMAT: 'json',
    });
  }

  it('says in one line that AGGREGATOR_DATASITE is missing, waits for .env, then starts', async () => {
    const { root, app } = appFolder('com.github.example.netflix');
    const run = startApp(app, syftboxEnv(root, app, AGG));
    await waitFor(async () => run.log().includes('AGGREGATOR_DATASITE is not set'), 'the missing-configuration line', WAIT_MS);
    const waiting = run.lines().filter((l) => !l.startsWith('run.sh: '));
    expect(waiting).toHaveLength(1);
    expect(JSON.parse(waiting[0])).toMatchObject({ level: 40, code: 'ERR_CONFIG_MISSING', msg: expect.stringContaining(`Waiting: the app starts by itself when ${path.join(app, '.env')}`) });

    writeFileSync(path.join(app, '.env'), 'MODEL_RANK=0\n'); // still wrong, differently: one more line
    await waitFor(async () => run.log().includes('MODEL_RANK'), 'the invalid-value line', WAIT_MS);
    writeFileSync(path.join(app, '.env'), `AGGREGATOR_DATASITE=${AGG}\nMODEL_RANK=4\n`);
    await waitFor(async () => run.log().includes('"msg":"starting"'), 'the app to start', WAIT_MS);
    expect(run.lines().filter((l) => l.includes('"level":40')).map((l) => (JSON.parse(l) as { code: string }).code)).toEqual(['ERR_CONFIG_MISSING', 'ERR_CONFIG_INVALID']);

    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  }, 600_000);

  it('stops promptly on SIGTERM while it waits', async () => {
    const { root, app } = appFolder('com.github.example.netflix');
    const run = startApp(app, syftboxEnv(root, app, AGG));
    await waitFor(async () => run.log().includes('AGGREGATOR_DATASITE is not set'), 'the missing-configuration line', WAIT_MS);
    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  }, 600_000);

  it('runs from any folder name, through a symlink in apps/, reading the .env of that folder', async () => {
    const { root, app } = appFolder('com.github.someone.some-fork');
    writeFileSync(path.join(app, '.env'), `AGGREGATOR_DATASITE=${AGG}\nMODEL_RANK=4\n`);
    const linked = path.join(path.dirname(app), 'local.netflix');
    symlinkSync(app, linked);
    const run = startApp(linked, syftboxEnv(root, linked, AGG));
    await waitFor(async () => run.log().includes('"msg":"starting"'), 'the app to start', WAIT_MS);
    const starting = JSON.parse(run.lines().find((l) => l.includes('"msg":"starting"'))!) as Record<string, unknown>;
    expect(starting).toMatchObject({ email: AGG, aggregator: true, dataDir: path.join(root, 'SyftBox') });
    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  }, 600_000);
});
