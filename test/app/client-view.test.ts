import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoRoot, publishDemoExtras, runDemoRounds, type DemoRoot } from '../../src/demo/embedded';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig } from '../../src/shared/config';
import { silentLogger } from '../../src/shared/log';
import { readClientConfig, Workspace, writeClientConfig } from '../../src/shared/workspace';
import { runParticipantPass } from '../../src/participant/node';
import { loadCommittedState } from '../../src/aggregator/round';
import { buildApp } from '../../src/participant/server/app';
import { readCommunityStats } from '../../src/shared/community';
import { blendView } from '../../src/participant/blend';
import { syncView } from './sync-view';

/**
 * A contributor's machine as a real SyftBox client leaves it: only the files
 * the server lets it read, so NOT the aggregator's syft.pub.yaml (it lists the
 * other contributors). The participant must still train from Global_V and the
 * page must show the global list: on another datasite's files, presence is
 * the server's decision.
 */

const APP = 'syftbox-netflix-svd';
let root: DemoRoot;
let catalog: Catalog;
let version: number;
const apps: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  const local = path.join(mkdtempSync(path.join(os.tmpdir(), 'client-view-')), 'shared');
  const config = loadConfig({ env: { LOCAL_ROOT: local, OUTPUT_DIR: path.join(local, 'no-own-export'), MODEL_RANK: '4', LOG_LEVEL: 'silent' }, dotenv: false });
  catalog = await loadCatalog(null);
  root = await buildDemoRoot(config, catalog, silentLogger);
  const rounds = await runDemoRounds(root, { minRounds: 1, maxRounds: 4 });
  await publishDemoExtras(root, rounds.at(-1)!, config, catalog);
  version = (await loadCommittedState(root.aggregator)).version;
  expect(version).toBeGreaterThan(0);
}, 600_000);
afterAll(async () => {
  for (const app of apps) await app.close();
});

/** A participant of the shared root, re-homed on a client-synced copy of what it may read. */
async function onItsOwnMachine(index: number, embedded: boolean) {
  const participant = root.participants[index];
  const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'client-view-')), 'SyftBox');
  const synced = await syncView(root.dataDir, participant.email, dataDir);
  const configFile = path.join(path.dirname(dataDir), 'config.json');
  writeClientConfig(configFile, participant.email, dataDir);
  const identity = readClientConfig(configFile);
  const ws = new Workspace({ ...identity, embedded }, APP);
  return { participant, synced, ws, ctx: { ...participant.ctx, ws } };
}

describe('a contributor on a real SyftBox client', () => {
  it('trains from Global_V and shows global recommendations without the aggregator\'s syft.pub.yaml', async () => {
    const { participant, synced, ws, ctx } = await onItsOwnMachine(1, false);
    const aggregatorFiles = synced.filter((f) => f.startsWith(`${root.aggregator.ws.email}/`));
    expect(aggregatorFiles).toContain(`${root.aggregator.ws.email}/app_data/${APP}/aggregator/global/v${String(version).padStart(6, '0')}/Global_V.json`);
    expect(aggregatorFiles.some((f) => f.endsWith('syft.pub.yaml') && f.includes('/aggregator/'))).toBe(false);
    expect(synced.some((f) => f.startsWith(`${root.participants[2].email}/app_data/`))).toBe(false); // nobody else's deltas
    expect(ws.embedded).toBe(false);

    const pass = await runParticipantPass(ctx);
    expect(pass.profiles[0]).toMatchObject({ access: 'granted', baseVersion: version });

    const app = buildApp({ config: participant.ctx.config, workspace: ws, catalog, profile: 'profile_0', logger: silentLogger });
    apps.push(app);
    const page = (await app.inject({ method: 'POST', url: '/api/views', payload: {} })).json() as { state: string; versions: { global: number | null }; columns: { arm: string; shows: unknown[] }[] };
    expect(page.state).toBe('experiment');
    expect(page.versions.global).toBe(version);
    expect(page.columns.find((c) => c.arm === 'global')?.shows.length).toBe(participant.ctx.config.RECS_PER_COLUMN);
  }, 600_000);

  it('would wait forever if it checked the missing permission file, as the embedded mode does on a shared disk', async () => {
    const { ctx } = await onItsOwnMachine(2, true);
    const pass = await runParticipantPass(ctx);
    expect(pass.profiles[0]).toMatchObject({ access: 'waiting', baseVersion: 0 });
  }, 600_000);

  it('reads the community statistics sync delivered', async () => {
    const { ws, synced } = await onItsOwnMachine(3, false);
    expect(synced).toContain(`${root.aggregator.ws.email}/app_data/${APP}/aggregator/community/stats.json`);
    expect(await readCommunityStats(ws, root.aggregator.ws.email, catalog, silentLogger)).toMatchObject({ participants: root.participants.length });
  }, 600_000);

  it('reads its blend friend\'s taste summary that sync delivered, without the friend\'s blend syft.pub.yaml', async () => {
    const { ws, synced, participant, ctx } = await onItsOwnMachine(1, false);
    await runParticipantPass(ctx); // this machine's private model: the list leaves out its own watched shows
    const friend = root.participants[0].email; // the demo's blend pair: participants 0 and 1
    expect(synced).toContain(`${friend}/app_data/${APP}/blend/consent.json`);
    await rm(path.join(ws.blendDir(friend), 'syft.pub.yaml'), { force: true }); // a client that has it or not: presence decides
    const view = await blendView({ config: participant.ctx.config, ws, catalog, logger: silentLogger }, 'profile_0');
    expect(view).toMatchObject({ state: 'active' });
    expect(view.lists[0].items.length).toBeGreaterThan(0);
  }, 600_000);
});
