import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { publishAggregatorReports } from '../../src/aggregator/reports';
import { afterParticipantPass } from '../../src/participant/extras';
import { buildApp } from '../../src/participant/server/app';
import type { PageData } from '../../src/participant/server/routes';
import { writeJsonAtomic } from '../../src/shared/atomic';
import { startCli, waitFor, type CliRun } from '../helpers/process';
import { createFixture, participantEnv, type Fixture } from '../helpers/server';
import { createAttackRoot, runUntilGranted, UNPROTECTED, type AttackRoot } from './harness';

/**
 * Two attacks issue 20 found outside SyftBox's permissions:
 * (e) another account on the same machine reads the private folder (parsed
 *     history, models, privacy ledger, blend secret, the aggregator's ledger
 *     secret): they were written 0644 in 0755 folders;
 * (f) anyone on the network reads the page (recommendations, viewing insights,
 *     blend) when WEB_HOST=0.0.0.0: no warning, and the printed URL said 127.0.0.1.
 */

/** True when an account other than the owner (not root) could read `file`: r for group or others, and x on every folder from `top` down. */
async function readableByOthers(file: string, top: string): Promise<boolean> {
  if (((await fs.stat(file)).mode & 0o044) === 0) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (((await fs.stat(dir)).mode & 0o011) === 0) return false;
    if (dir === top) return true;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out;
}

describe('attack (e): another account on the machine reads the private folder', () => {
  let root: AttackRoot;
  beforeAll(async () => {
    root = await createAttackRoot(UNPROTECTED, 3);
    await runUntilGranted(root);
    // everything that writes private state: passes and rounds (above), community reports and the blend, the page, the aggregator's reports
    for (let pass = 0; pass < 2; pass++) for (const p of root.demo.participants) await afterParticipantPass(p.ctx, { profiles: [{ profile: 'profile_0', status: 'unchanged', access: 'granted', baseVersion: 2 }], missing: [], failed: [] });
    const me = root.demo.participants[0];
    const app = buildApp({ config: me.ctx.config, workspace: me.ctx.ws, catalog: root.catalog, profile: 'profile_0' });
    const page = (await app.inject({ method: 'POST', url: '/api/views', payload: {} })).json() as PageData;
    await app.inject({ method: 'POST', url: '/api/click', payload: { pageView: page.pageView, token: page.token, side: 'left', item: page.columns[0].shows[0].id } });
    await app.close();
    await publishAggregatorReports(root.demo.aggregator, root.config, root.catalog);
  }, 300_000);
  afterAll(async () => {
    await root?.cleanup();
  });

  it('control (files written the shared way, as before): the check sees them readable', async () => {
    const top = path.join(root.dataDir, 'shared-way');
    await fs.mkdir(top, { mode: 0o755 });
    await fs.chmod(top, 0o755);
    const file = path.join(top, 'profile_0', 'history.json');
    await writeJsonAtomic(file, { events: [] });
    await fs.chmod(path.dirname(file), 0o755);
    expect(await readableByOthers(file, top)).toBe(true);
  });

  it('protected: every private file is 0600 in 0700 folders, so no other account reads any', async () => {
    const top = path.join(root.dataDir, 'private');
    const files = await filesUnder(top);
    const names = new Set(files.map((f) => path.basename(f)));
    for (const kind of ['history.json', 'state.json', 'U.npy', 'V_local.npy', 'V_global.npy', 'privacy.json', 'blend.json', 'community.json', 'ledger-secret']) {
      expect([...names].some((n) => n.startsWith(kind)), kind).toBe(true);
    }
    for (const file of files) {
      expect((await fs.stat(file)).mode & 0o777, file).toBe(0o600);
      expect(await readableByOthers(file, top), file).toBe(false);
    }
    for (const dir of new Set(files.map((f) => path.dirname(f)))) expect((await fs.stat(dir)).mode & 0o777, dir).toBe(0o700);
  });
});

describe('attack (f): someone on the network reads the page', () => {
  let fixture: Fixture | null = null;
  let run: CliRun | null = null;
  afterEach(async () => {
    if (run && run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGTERM');
      await run.done;
    }
    await fixture?.cleanup();
    run = null;
    fixture = null;
  });

  it('protected (the default WEB_ALLOW_REMOTE=false): `serve` on 0.0.0.0 refuses to start, with what to do', async () => {
    fixture = await createFixture();
    run = startCli(['serve'], participantEnv(fixture, { WEB_HOST: '0.0.0.0', WEB_PORT: '0' }));
    const done = await run.done;
    expect(done.code).toBe(2);
    expect(done.stderr.trim()).toMatch(/^error: ERR_CONFIG_INVALID: WEB_HOST=0\.0\.0\.0 would let other machines on the network read your page .*WEB_ALLOW_REMOTE=true/);
  });

  it('control (WEB_ALLOW_REMOTE=true): warns loudly, prints the address the network reaches, and the page answers there', async () => {
    fixture = await createFixture();
    const cli = startCli(['serve'], participantEnv(fixture, { WEB_HOST: '0.0.0.0', WEB_PORT: '0', WEB_ALLOW_REMOTE: 'true', LOG_LEVEL: 'warn' }));
    run = cli;
    let stdout = '';
    cli.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const url = await waitFor(async () => /^(http:\/\/[^\s]+:\d+)\n/m.exec(stdout)?.[1], 'the URL on stdout');
    const external = Object.values(os.networkInterfaces()).flat().some((a) => a && !a.internal && a.family === 'IPv4');
    if (external) expect(new URL(url).hostname).not.toMatch(/^(127\.|localhost$|0\.0\.0\.0$)/);
    await waitFor(async () => /THE PAGE IS REACHABLE FROM OTHER MACHINES/.test(stdout), 'the warning');
    const status = await (await fetch(`${url}/api/status`)).json();
    expect(status).toMatchObject({ profile: 'profile_0', access: 'granted' });
  });
});
