import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clickLogFile } from '../../src/participant/clicks';
import { runRound } from '../../src/aggregator/round';
import { runClickLoad, type LoadTarget } from '../../src/bench/load';
import { readClickLog } from '../../src/shared/clicks';
import { buildApp, startServer } from '../../src/participant/server/app';
import { STATE_FORMAT_VERSION, writeProfileModel } from '../../src/participant/state';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig } from '../../src/shared/config';
import { readLatestGlobal, type GlobalExpect } from '../../src/shared/global-model';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import { createRandom, type Random } from '../../src/shared/random';
import type { Workspace } from '../../src/shared/workspace';
import { writeSmallCatalog } from '../helpers/data';
import { isAlive, startCli, WAIT_MS, waitFor, type CliRun } from '../helpers/process';
import { addParticipant, AGGREGATOR, APP, cliEnv, createRoot, publish, randomDelta, roundContext, type TestRoot } from '../helpers/root';

/**
 * Ten participant pages and one aggregator on one machine: sustained clicks on
 * every page over real keep-alive sockets while the aggregator daemon merges new
 * deltas. Every click answered `recorded` must have its row in the page's click
 * log, and no row may appear without one (src/bench/load.ts checks both);
 * request rate and latency are reported by `npm run bench`, not asserted here.
 */
const PAGES = 10;
const RANK = 4;
/** The load runs this long, and on until MIN_CLICKS clicks were recorded however slow the machine. */
const LOAD_MS = 4000;
const MIN_CLICKS = 200;
const PUBLISH_EVERY_MS = 250;

let root: TestRoot;
let apps: FastifyInstance[] = [];
let aggregator: CliRun | null = null;
beforeEach(async () => {
  root = await createRoot();
});
afterEach(async () => {
  aggregator?.child.kill('SIGTERM');
  await aggregator?.done;
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
  aggregator = null;
  await root.cleanup();
});

function factors(random: Random, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => random.normal());
}

/** A trained profile_0 (state written directly, as the participant would) for a page to serve. */
async function trainProfile(ws: Workspace, catalog: Catalog, random: Random, baseVersion: number, vGlobal: Float32Array): Promise<void> {
  const items = catalog.items.length;
  await writeProfileModel(ws.privateDir('profile_0'), {
    state: {
      formatVersion: STATE_FORMAT_VERSION,
      profile: 'profile_0',
      rank: RANK,
      items,
      vocabHash: catalog.hash,
      baseVersion,
      access: 'granted',
      trainedAt: new Date().toISOString(),
      watched: [0, 1, 2],
      confidence: [1, 1, 1],
      lastDeltaSha256: null,
      lastPublishedBase: null,
      publishBlocked: null,
      inputsSha256: 'load-test',
    },
    u: factors(random, RANK),
    vLocal: factors(random, items * RANK),
    vGlobal,
  });
}

describe('ten pages and an aggregator under sustained clicks', () => {
  it('loses no click and records none twice', async () => {
    const catalogFile = await writeSmallCatalog(path.join(root.dataDir, 'catalog.json'), 200);
    const catalog = await loadCatalog(catalogFile);
    const model: GlobalExpect = { items: catalog.items.length, rank: RANK, vocabHash: catalog.hash };
    const fields = { items: model.items, rank: RANK, vocabHash: model.vocabHash };
    const random = createRandom(41);
    const participants: Workspace[] = [];
    for (let i = 0; i < PAGES; i++) {
      const ws = await addParticipant(root, `viewer${i}@example.org`);
      await publish(ws, 'profile_0', randomDelta(random, 0.5, model.items * RANK), fields);
      participants.push(ws);
    }
    // version 1 grants every participant the global model, so each page runs the experiment
    expect((await runRound(roundContext(root, {}, model))).version).toBe(1);
    const v1 = (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model))!.values;
    const config = loadConfig({ dotenv: false, env: { APP_NAME: APP, AGGREGATOR_DATASITE: AGGREGATOR, MODEL_RANK: String(RANK), LOG_LEVEL: 'silent' } });
    const targets: LoadTarget[] = [];
    for (const ws of participants) {
      await trainProfile(ws, catalog, random, 1, v1);
      const app = buildApp({ config, workspace: ws, catalog, profile: 'profile_0' });
      apps.push(app);
      targets.push({ url: await startServer(app, { host: '127.0.0.1', port: 0 }), clickLog: clickLogFile(ws, 'profile_0') });
    }
    aggregator = startCli(['aggregator'], cliEnv(root, AGGREGATOR, { CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), MIN_PARTICIPANTS: '1', WATCH_DEBOUNCE_MS: '50', ROUND_INTERVAL_MS: '1000' }));
    const version = async () => (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model))?.manifest.version ?? 0;

    // while the clicks run, participants keep publishing deltas for the aggregator to merge
    let loading = true;
    const publishing = (async () => {
      for (let i = 0; loading; i++) {
        await publish(participants[i % PAGES], 'profile_0', randomDelta(random, 0.5, model.items * RANK), { ...fields, baseVersion: await version() });
        await new Promise((resolve) => setTimeout(resolve, PUBLISH_EVERY_MS));
      }
    })();
    const report = await runClickLoad({ targets, durationMs: LOAD_MS, minClicks: MIN_CLICKS, clientsPerTarget: 3, requestTimeoutMs: WAIT_MS });
    loading = false;
    await publishing;

    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.clicksRecorded).toBeGreaterThanOrEqual(MIN_CLICKS);
    expect(report.rowsFound).toBe(report.clicksRecorded);
    expect(report.lost).toBe(0);
    expect(report.unexpectedRows).toBe(0);
    for (const target of targets) {
      const log = await readClickLog(target.clickLog);
      expect(log?.torn, target.clickLog).toBe(false);
      expect(log?.rejected, target.clickLog).toBe(0);
    }
    // the aggregator merged while the pages were busy, and is still up
    await waitFor(async () => (await version()) > 1, 'a round during the load');
    expect(isAlive(aggregator.child.pid)).toBe(true);
    expect(verifyLedger(await readLedger(root.ws.ledgerFile(AGGREGATOR))).ok).toBe(true);
  });
});
