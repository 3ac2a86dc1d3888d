import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/shared/catalog';
import { PROJECT_ROOT } from '../../src/shared/config';
import { readDelta } from '../../src/shared/delta';
import { readLatestGlobal } from '../../src/shared/global-model';
import { verifyLedger, readLedger } from '../../src/shared/ledger';
import { canRead } from '../../src/shared/permissions';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { readProfileState } from '../../src/participant/state';
import { linkAppFolder } from '../helpers/app-folder';
import { freePort, waitFor } from '../helpers/process';

const AGG = 'aggregator@example.org';
const ALICE = 'alice@example.org';
const OUTSIDER = 'mallory@example.org';
const APP = 'syftbox-netflix-svd';
const RANK = '4';

interface RunSh {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start run.sh as SyftBox does: `$SHELL -lc 'exec <app>/run.sh'` from the app folder (test/helpers/app-folder.ts), with its env. */
function startRunSh(app: string, env: Record<string, string>): RunSh {
  const child = spawn('/bin/sh', ['-c', `exec ${path.join(app, 'run.sh')}`], {
    cwd: app,
    env: { PATH: process.env.PATH, HOME: env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exit };
}

const running: RunSh[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exit;
  }
});

describe('run.sh', () => {
  it('runs an aggregator and a participant from their client configs and stops cleanly on SIGTERM', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'runsh-'));
    const dataDir = path.join(root, 'SyftBox');
    const agg = createEmbeddedDatasite(dataDir, AGG, path.join(root, 'agg-config.json'));
    const alice = createEmbeddedDatasite(dataDir, ALICE, path.join(root, 'alice-config.json'));
    createEmbeddedDatasite(dataDir, OUTSIDER);
    const app = path.join(dataDir, 'apps', APP);
    linkAppFolder(app);
    const exports = path.join(root, 'exports');
    mkdirSync(path.join(exports, 'profile_0'), { recursive: true });
    copyFileSync(path.join(PROJECT_ROOT, 'data', 'demo', 'crime-and-thrillers.csv'), path.join(exports, 'profile_0', 'NetflixViewingHistory.csv'));
    const common = {
      HOME: root,
      AGGREGATOR_DATASITE: AGG,
      MODEL_RANK: RANK,
      MIN_PARTICIPANTS: '1',
      // one participant: the plain path (a secure round needs 3 datasites; secure rounds between processes: test/aggregator/secagg-process.test.ts)
      SECURE_AGGREGATION: 'off',
      MIN_DATASITES: '1',
      WATCH_DEBOUNCE_MS: '200',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      SYFTBOX_APP_ID: APP,
    };
    const aggregator = startRunSh(app, { ...common, SYFTBOX_CLIENT_CONFIG_PATH: agg.configPath, OUTPUT_DIR: path.join(root, 'no-history'), SYFTBOX_ASSIGNED_PORT: String(await freePort()) });
    const alicePort = await freePort();
    const participant = startRunSh(app, { ...common, SYFTBOX_CLIENT_CONFIG_PATH: alice.configPath, OUTPUT_DIR: exports, SYFTBOX_ASSIGNED_PORT: String(alicePort) });
    running.push(aggregator, participant);

    // the page URL is printed early, before training finishes
    await waitFor(async () => participant.output().includes(`http://127.0.0.1:${alicePort}`), 'the page URL');
    const catalog = await loadCatalog(null);
    const model = { items: catalog.items.length, rank: Number(RANK), vocabHash: catalog.hash };
    const aliceWs = new Workspace({ email: ALICE, dataDir }, APP);
    const aggWs = new Workspace({ email: AGG, dataDir }, APP);

    // the participant publishes, the aggregator merges and grants, the participant retrains from Global_V
    await waitFor(() => readLatestGlobal(aggWs.globalDir(AGG), model), 'Global_V');
    await waitFor(async () => (await readProfileState(aliceWs.privateDir('profile_0')))?.access === 'granted', 'access granted');
    const health = await fetch(`http://127.0.0.1:${alicePort}/api/health`);
    expect(health.status).toBe(200);

    // a second start (the client restarted after a crash) stops the first cleanly and takes over
    const secondPort = await freePort();
    const second = startRunSh(app, { ...common, SYFTBOX_CLIENT_CONFIG_PATH: alice.configPath, OUTPUT_DIR: exports, SYFTBOX_ASSIGNED_PORT: String(secondPort) });
    running.push(second);
    expect(await participant.exit).toEqual({ code: 0, signal: null });
    expect(participant.output()).toMatch(/"msg":"stopped"/);
    expect(participant.output()).not.toMatch(/"level":50/);
    expect(participant.output()).toMatch(/waiting for the aggregator to grant access|granted access/);
    await waitFor(async () => second.output().includes(`http://127.0.0.1:${secondPort}`), 'the second page URL', 240_000);
    const takeover = second.output().split('\n').filter((l) => l.includes('earlier copy'));
    expect(takeover).toHaveLength(1);
    expect(takeover[0]).toContain(`stopped an earlier copy of the app (pid ${participant.child.pid}) and took over`);
    expect((await fetch(`http://127.0.0.1:${secondPort}/api/health`)).status).toBe(200);

    second.child.kill('SIGTERM');
    aggregator.child.kill('SIGTERM');
    const [sExit, aExit] = await Promise.all([second.exit, aggregator.exit]);
    expect(sExit).toEqual({ code: 0, signal: null });
    expect(aExit).toEqual({ code: 0, signal: null });
    expect(second.output()).toMatch(/"msg":"stopped"/);
    expect(aggregator.output()).toMatch(/"msg":"stopped"/);

    // outputs and permissions
    const delta = await readDelta(aliceWs.profileDir('profile_0'), model);
    expect(delta).not.toBeNull();
    expect(await canRead(aliceWs.datasitesDir, AGG, aliceWs.deltaManifest('profile_0'))).toBe(true);
    expect(await canRead(aliceWs.datasitesDir, OUTSIDER, aliceWs.deltaManifest('profile_0'))).toBe(false);
    // the app runs the participant's one cycle: the community report goes out too
    expect(existsSync(aliceWs.communityStats('profile_0'))).toBe(true);
    expect(await canRead(aliceWs.datasitesDir, OUTSIDER, aliceWs.communityStats('profile_0'))).toBe(false);
    const global = (await readLatestGlobal(aggWs.globalDir(AGG), model))!;
    const manifest = path.join(aggWs.globalVersionDir(AGG, global.manifest.version), 'Global_V.json');
    expect(await canRead(aggWs.datasitesDir, ALICE, manifest)).toBe(true);
    expect(await canRead(aggWs.datasitesDir, OUTSIDER, manifest)).toBe(false);
    expect(verifyLedger(await readLedger(aggWs.ledgerFile(AGG))).ok).toBe(true);
    // the lock is released: nothing is left claiming to run
    expect(existsSync(path.join(aliceWs.privateRoot(), 'app.lock'))).toBe(false);
    expect(readFileSync(path.join(dataDir, 'datasites', ALICE, 'app_data', APP, 'syft.pub.yaml'), 'utf8')).toContain(AGG);
  });

  it('started by hand, stops with one line naming the problem when the SyftBox config is missing', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'runsh-'));
    const app = path.join(root, APP);
    linkAppFolder(app);
    const run = startRunSh(app, { HOME: root, AGGREGATOR_DATASITE: AGG, SYFTBOX_CLIENT_CONFIG_PATH: path.join(root, 'nope.json') });
    running.push(run);
    expect((await run.exit).code).toBe(2);
    const [using, ...lines] = run.output().trim().split('\n');
    expect(using).toMatch(/^run\.sh: using Node\.js v\d+/);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ERR_SYFTBOX_CONFIG: SyftBox client config .*nope\.json does not exist/);
  });
});
