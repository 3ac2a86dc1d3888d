import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readRoundRecord } from '../../src/aggregator/record';
import { secureParams } from '../../src/aggregator/secagg';
import { readProfileModel } from '../../src/participant/state';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig } from '../../src/shared/config';
import { GLOBAL_MANIFEST, listGlobalVersions, readGlobalVersion, readLatestGlobal, type GlobalExpect } from '../../src/shared/global-model';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import { createRandom } from '../../src/shared/random';
import { KEYS_FILE, RESULT_FILE, ROUND_FILE, UNMASK_FILE } from '../../src/shared/secagg/files';
import { isRoundId, Workspace } from '../../src/shared/workspace';
import { historyFor, put, writeSmallCatalog } from '../helpers/data';
import { AGGREGATOR, APP, cliEnv, createRoot, type TestRoot } from '../helpers/root';
import { startCli, waitFor, type CliRun } from '../helpers/process';
import { contributionOf, expectedUpdate, relativeUpdateError } from '../helpers/secagg';

/**
 * The aggregator killed (-9) at seeded random moments of secure rounds, and
 * started again: each start resumes the round in progress (or finds it past its
 * deadlines and ends it), so after every kill the newest complete Global_V loads,
 * the ledger verifies and names it, no version folder lacks its manifest once the
 * next start has run, and no round both aborted for lack of masked inputs and asked
 * for shares. A last clean round produces the optimizer's update from its members' contributions.
 * The participants are daemons that are never killed (their kills: secagg-process.test.ts);
 * they answer on file events, their PARTICIPANT_INTERVAL_MS pass is only the fallback.
 */
const RANK = 4;
const MEMBERS = 4;
const KILLS = 6;
const PHASE_MS = 10_000;

let root: TestRoot;
let catalog: Catalog;
let catalogFile: string;
let model: GlobalExpect;
const running: CliRun[] = [];

beforeEach(async () => {
  root = await createRoot();
  catalogFile = await writeSmallCatalog(path.join(root.dataDir, 'catalog.json'), 150);
  catalog = await loadCatalog(catalogFile);
  model = { items: catalog.items.length, rank: RANK, vocabHash: catalog.hash };
});
afterEach(async () => {
  for (const run of running.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await run.done;
  }
  await root.cleanup();
});

/** Rounds of the non-private optimizer: a DP run (the default) is two rounds, then none for PRIVACY_PERIOD_DAYS. */
const shared = () => ({ DP_EPSILON: '0', CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), CONTRIBUTION_CLIP_NORM: '10', SECURE_AGGREGATION: 'on', MIN_DATASITES: '3', SECAGG_PHASE_MS: String(PHASE_MS), DATE_ORDER: 'dmy' });

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

async function roundIds(): Promise<string[]> {
  return (await fs.readdir(root.ws.secaggDir(AGGREGATOR)).catch(() => [] as string[])).filter(isRoundId).sort();
}

/** The committed state after any kill: Global_V loads, the ledger verifies and ends at it, aborted rounds never asked for shares after too few inputs. */
async function expectConsistent(when: string): Promise<void> {
  const latest = await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model);
  const ledger = await readLedger(root.ws.ledgerFile(AGGREGATOR));
  const check = verifyLedger(ledger);
  expect(check.ok, `${when}: ${check.ok ? '' : check.reason}`).toBe(true);
  // the ledger may lag the newest version by one (written by the next start), never lead it
  const head = ledger.at(-1)?.version ?? 0;
  expect([latest?.manifest.version ?? 0, (latest?.manifest.version ?? 1) - 1], when).toContain(head);
  for (const roundId of await roundIds()) {
    const dir = root.ws.secaggRoundDir(AGGREGATOR, roundId);
    const result = await fs.readFile(path.join(dir, RESULT_FILE), 'utf8').then(JSON.parse, () => null);
    if (result?.outcome === 'aborted' && /masked inputs arrived/.test(result.reason)) expect(await exists(path.join(dir, UNMASK_FILE)), `${when}: ${roundId}`).toBe(false);
  }
}

describe('secure rounds with the aggregator killed (-9)', () => {
  it('resume or end cleanly after every kill, and keep Global_V, the ledger and the round files consistent', async () => {
    const members: Workspace[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const email = `p${i}@example.org`;
      const outputDir = path.join(root.dataDir, 'exports', email);
      await put(path.join(outputDir, 'profile_0', 'NetflixViewingHistory.csv'), historyFor(catalog, i, 20));
      running.push(startCli(['participant'], cliEnv(root, email, { ...shared(), OUTPUT_DIR: outputDir, PARTICIPANT_INTERVAL_MS: '5000', WATCH_DEBOUNCE_MS: '50' })));
      members.push(new Workspace({ email, dataDir: root.dataDir }, APP));
    }
    await waitFor(async () => (await Promise.all(members.map((m) => exists(path.join(m.privateDir('profile_0'), 'state.json'))))).every(Boolean), 'every member trained', 240_000);
    const aggregatorEnv = cliEnv(root, AGGREGATOR, shared());

    // calibrate: one clean round
    const t0 = Date.now();
    const first = await startCli(['aggregator', '--once', '--json'], aggregatorEnv).done;
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ outcome: 'merged', version: 1 });
    let runMs = Date.now() - t0;

    const random = createRandom(20261204);
    let killed = 0;
    for (let k = 0; k < KILLS || (killed < 2 && k < KILLS * 3); k++) {
      const started = Date.now();
      const run = startCli(['aggregator', '--once', '--json'], aggregatorEnv);
      running.push(run);
      const timer = setTimeout(() => run.child.kill('SIGKILL'), Math.floor(runMs * (0.2 + random.next())));
      const exit = await run.done;
      clearTimeout(timer);
      if (exit.signal === 'SIGKILL') killed++;
      else {
        expect(exit.code, exit.stderr).toBe(0);
        runMs = Math.min(runMs, Date.now() - started);
      }
      await expectConsistent(`after run ${k} (${exit.signal ?? 'clean'})`);
    }
    expect(killed).toBeGreaterThanOrEqual(2);

    // a clean round: resumes whatever was in progress; then one more from start to end, checked against the plain update
    const resumed = await startCli(['aggregator', '--once', '--json'], aggregatorEnv).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    const base = (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model))!;
    const last = startCli(['aggregator', '--once', '--json'], aggregatorEnv);
    running.push(last);
    const roundId = await waitFor(async () => {
      const ids = await roundIds();
      const id = ids.at(-1);
      return id && (await exists(path.join(root.ws.secaggRoundDir(AGGREGATOR, id), ROUND_FILE))) && !(await exists(path.join(root.ws.secaggRoundDir(AGGREGATOR, id), RESULT_FILE))) ? id : null;
    }, 'the last round opened', 240_000);
    await waitFor(async () => (await Promise.all(members.map((m) => exists(path.join(m.secaggAnswersDir(roundId), KEYS_FILE))))).every(Boolean), 'every member joined the last round', 240_000);
    const spec = secureParams(loadConfig({ dotenv: false, env: shared() }), model).mechanism;
    const contributions = await Promise.all(
      members.map(async (m) => {
        const stored = (await readProfileModel(m.privateDir('profile_0')))!;
        expect(stored.state.baseVersion).toBe(base.manifest.version);
        return contributionOf(m, spec, model);
      }),
    );
    const exit = await last.done;
    expect(exit.code, exit.stderr).toBe(0);
    const summary = JSON.parse(exit.stdout);
    expect(summary).toMatchObject({ roundId, outcome: 'merged', version: base.manifest.version + 1, cohort: MEMBERS });
    const next = (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model))!;
    // the optimizer's update from the plain sum, moved by the quantization by less than 1% of itself
    expect(relativeUpdateError(next.values, expectedUpdate(spec, model, base.values, contributions), base.values)).toBeLessThan(0.01);

    // the whole history: consecutive versions, each with its ledger line (secagg) and round record, no manifest-less folder
    await expectConsistent('at the end');
    const ledger = await readLedger(root.ws.ledgerFile(AGGREGATOR));
    expect(ledger.map((e) => e.version)).toEqual(Array.from({ length: ledger.length }, (_, i) => i + 1));
    expect(ledger.at(-1)!.version).toBe(next.manifest.version);
    for (const entry of ledger) expect(entry.secagg?.protocol).toBe('secagg+');
    for (const v of await listGlobalVersions(root.ws.globalDir(AGGREGATOR))) {
      expect(await exists(path.join(root.ws.globalVersionDir(AGGREGATOR, v), GLOBAL_MANIFEST)), `v${v}`).toBe(true);
      expect(await readGlobalVersion(root.ws.globalVersionDir(AGGREGATOR, v), model), `v${v}`).not.toBeNull();
      expect((await readRoundRecord(root.ws.aggregatorPrivateDir(), v)).secagg?.roundId, `v${v}`).toMatch(/^r\d{6}$/);
    }
  }, 900_000);
});
