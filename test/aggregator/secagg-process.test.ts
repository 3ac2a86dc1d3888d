import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { secureParams } from '../../src/aggregator/secagg';
import { readProfileModel } from '../../src/participant/state';
import { loadCatalog } from '../../src/shared/catalog';
import { loadConfig } from '../../src/shared/config';
import { initialItemFactors, listGlobalVersions, readLatestGlobal, type GlobalExpect } from '../../src/shared/global-model';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import { KEYS_FILE, MASKED_MANIFEST, REVEAL_FILE, SHARES_FILE, UNMASK_FILE } from '../../src/shared/secagg/files';
import { Workspace } from '../../src/shared/workspace';
import { historyFor, put, writeSmallCatalog } from '../helpers/data';
import { AGGREGATOR, APP, cliEnv, createRoot, type TestRoot } from '../helpers/root';
import { startCli, waitFor, type CliRun } from '../helpers/process';
import { contributionOf as contributionFrom, expectedUpdate, relativeUpdateError } from '../helpers/secagg';

/**
 * Secure rounds between real processes: participant daemons (`participant`) and
 * the aggregator (`aggregator --once`), each its own node process, talking only
 * through the files of one SyftBox-layout root. Phases end as soon as every member
 * answered, or at their deadline (SECAGG_PHASE_MS) when some dropped; the tests
 * wait on files and exits, never on a fixed sleep. Members answer on file events;
 * their PARTICIPANT_INTERVAL_MS pass is only the fallback (each pass is a whole
 * participant cycle, costly across 17 daemons).
 */
const RANK = 4;
/** The contributions' bound: near their norms on these small histories, so the quantization is fine. */
const CLIP = 10;
/** Generous for a loaded machine: a phase only lasts this long when a member drops. */
const PHASE_MS = 10_000;
/** Members start, train and publish their permission file: many node processes at once on a loaded machine. */
const START_MS = 180_000;

/** The optimizer's update is compared exactly: no DP noise (the default DP_EPSILON runs DP training runs instead). */
const settings = (catalogFile: string) => ({ DP_EPSILON: '0', CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), CONTRIBUTION_CLIP_NORM: String(CLIP), SECURE_AGGREGATION: 'on', MIN_DATASITES: '3', SECAGG_PHASE_MS: String(PHASE_MS), DATE_ORDER: 'dmy' });

interface Member {
  email: string;
  ws: Workspace;
  run: CliRun;
}

/**
 * One federation of real processes in its own SyftBox-layout root. The tests run
 * concurrently (most of their time is spent waiting on the deadline of a member
 * that was killed), so each has its own; `stop` kills what is still running and
 * deletes the root.
 */
interface Cluster {
  root: TestRoot;
  model: GlobalExpect;
  shared: Record<string, string>;
  /** Start `n` participant daemons, each with its own export, and wait until each has trained. */
  startMembers(n: number): Promise<Member[]>;
  startAggregator(args: string[]): CliRun;
  stop(): Promise<void>;
}

async function createCluster(): Promise<Cluster> {
  const root = await createRoot();
  const catalogFile = await writeSmallCatalog(path.join(root.dataDir, 'catalog.json'), 150);
  const catalog = await loadCatalog(catalogFile);
  const model = { items: catalog.items.length, rank: RANK, vocabHash: catalog.hash };
  const shared = settings(catalogFile);
  const running: CliRun[] = [];
  const start = (args: string[], email: string, extra: Record<string, string> = {}) => {
    const run = startCli(args, cliEnv(root, email, { ...shared, ...extra }));
    running.push(run);
    return run;
  };
  return {
    root,
    model,
    shared,
    async startMembers(n) {
      const members: Member[] = [];
      for (let i = 0; i < n; i++) {
        const email = `p${i}@example.org`;
        const outputDir = path.join(root.dataDir, 'exports', email);
        await put(path.join(outputDir, 'profile_0', 'NetflixViewingHistory.csv'), historyFor(catalog, i, 20));
        const run = start(['participant'], email, { OUTPUT_DIR: outputDir, PARTICIPANT_INTERVAL_MS: '5000', WATCH_DEBOUNCE_MS: '50', LOCAL_EPOCHS: '2' });
        members.push({ email, ws: new Workspace({ email, dataDir: root.dataDir }, APP), run });
      }
      // every member has trained and written its permission file: it is discoverable
      await waitFor(async () => (await Promise.all(members.map((m) => exists(path.join(m.ws.privateDir('profile_0'), 'state.json'))))).every(Boolean), 'every member trained', START_MS);
      return members;
    },
    startAggregator: (args) => start(['aggregator', ...args], AGGREGATOR),
    async stop() {
      for (const run of running) {
        if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
        await run.done;
      }
      await root.cleanup();
    },
  };
}

/** A cluster for the running test, stopped when it ends. */
async function clusterFor(onTestFinished: (fn: () => Promise<void>) => void): Promise<Cluster> {
  const cluster = await createCluster();
  onTestFinished(() => cluster.stop());
  return cluster;
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

/** The member's answer `name` in the (only) round r000001. */
const answer = (m: Member, name: string) => path.join(m.ws.secaggAnswersDir('r000001'), name);

/** The aggregator's mechanism under the cluster's settings. */
function mechanismSpec(c: Cluster) {
  return secureParams(loadConfig({ dotenv: false, env: c.shared }), c.model).mechanism;
}

/** A member's contribution as a float vector, read from its private model (trained from v0; it retrains only once v1 is readable). */
async function contributionOf(c: Cluster, m: Member): Promise<Float64Array> {
  const stored = (await readProfileModel(m.ws.privateDir('profile_0')))!;
  expect(stored.state.baseVersion).toBe(0);
  return contributionFrom(m.ws, mechanismSpec(c), c.model);
}

/** How far Global_V v1 is from the optimizer's update from V0 with the plain sum of `contributions`, relative to the update. */
async function distanceToPlainUpdate(c: Cluster, contributions: Float64Array[]): Promise<number> {
  const v0 = initialItemFactors(c.model.items, RANK, 42);
  const v1 = (await readLatestGlobal(c.root.ws.globalDir(AGGREGATOR), c.model))!;
  expect(v1.manifest.version).toBe(1);
  return relativeUpdateError(v1.values, expectedUpdate(mechanismSpec(c), c.model, v0, contributions), v0);
}

/** The quantization of the sum moves the update by less than this share of itself. */
const QUANTIZATION_SHARE = 0.01;

// concurrent: each test's time is mostly a killed member's deadline or process start-up; each has its own cluster
describe.concurrent('secure aggregation between real processes', () => {
  it('produces the optimizer\'s update from the plain sum of the contributions, within quantization, and each member learns it was counted', async ({ onTestFinished }) => {
    const c = await clusterFor(onTestFinished);
    const members = await c.startMembers(4);
    const aggregator = c.startAggregator(['--once', '--json']);
    await waitFor(async () => (await Promise.all(members.map((m) => exists(answer(m, KEYS_FILE))))).every(Boolean), 'every member joined', 240_000);
    const contributions = await Promise.all(members.map((m) => contributionOf(c, m)));
    const exit = await aggregator.done;
    expect(exit.code, exit.stderr).toBe(0);
    const summary = JSON.parse(exit.stdout);
    expect(summary).toMatchObject({ roundId: 'r000001', outcome: 'merged', version: 1, cohort: 4, dropped: 0 });
    expect(summary.survivors.sort()).toEqual(members.map((m) => m.email).sort());
    expect(await distanceToPlainUpdate(c, contributions)).toBeLessThan(QUANTIZATION_SHARE);

    const ledger = await readLedger(c.root.ws.ledgerFile(AGGREGATOR));
    expect(verifyLedger(ledger).ok).toBe(true);
    expect(ledger[0].secagg).toMatchObject({ protocol: 'secagg+', cohort: 4, survivors: 4, dropped: 0 });

    // each member reads the result, keeps its masked input, and `verify` tells it that it was counted;
    // the daemon runs the participant's one cycle: no plain delta, and no local community report either (under secure
    // aggregation the week goes only into the masked community round: test/aggregator/community-round.test.ts)
    for (const m of members) {
      expect(await exists(m.ws.communityStats('profile_0')), m.email).toBe(false);
      expect(await exists(m.ws.deltaManifest('profile_0')), m.email).toBe(false);
      await waitFor(async () => !(await exists(answer(m, KEYS_FILE))), `${m.email} read the result`, 240_000);
      expect(await exists(answer(m, MASKED_MANIFEST))).toBe(true);
      const verify = await startCli(['verify', '--json'], cliEnv(c.root, m.email, c.shared)).done;
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(JSON.parse(verify.stdout).secure).toMatchObject({ roundId: 'r000001', status: 'included', counted: true, version: 1 });
    }
  }, 900_000);

  it('gives exactly the survivors\' sum when members are killed (-9) after sharing and after publishing their masked input', async ({ onTestFinished }) => {
    const c = await clusterFor(onTestFinished);
    const members = await c.startMembers(6);
    const aggregator = c.startAggregator(['--once', '--json']);
    await waitFor(async () => (await Promise.all(members.map((m) => exists(answer(m, KEYS_FILE))))).every(Boolean), 'every member joined', 240_000);
    const contributions = new Map(await Promise.all(members.map(async (m) => [m.email, await contributionOf(c, m)] as const)));
    // one member dies once its shares are out (it is in U2: the survivors' s-shares remove its masks) ...
    await waitFor(() => exists(answer(members[0], SHARES_FILE)), 'member 0 shared', 240_000);
    members[0].run.child.kill('SIGKILL');
    // ... and one once its masked input is out (a survivor that never reveals: its neighbours reveal for it)
    await waitFor(() => exists(answer(members[1], MASKED_MANIFEST)), 'member 1 masked', 240_000);
    members[1].run.child.kill('SIGKILL');
    const exit = await aggregator.done;
    expect(exit.code, exit.stderr).toBe(0);
    const summary = JSON.parse(exit.stdout);
    expect(summary.outcome, summary.reason).toBe('merged');
    expect(summary.survivors).toContain(members[1].email);
    expect(await exists(answer(members[1], REVEAL_FILE))).toBe(false);
    expect(summary.survivors.length + summary.dropped).toBe(summary.cohort);
    const survivors: string[] = summary.survivors;
    expect(await distanceToPlainUpdate(c, survivors.map((e) => contributions.get(e)!))).toBeLessThan(QUANTIZATION_SHARE);
  }, 900_000);

  it('the aggregator daemon runs secure rounds one after the other, and stops cleanly on SIGTERM', async ({ onTestFinished }) => {
    const c = await clusterFor(onTestFinished);
    const members = await c.startMembers(3);
    const daemon = c.startAggregator([]);
    // members retrain from each new version and join the next round: the federation keeps learning
    await waitFor(async () => ((await readLatestGlobal(c.root.ws.globalDir(AGGREGATOR), c.model))?.manifest.version ?? 0) >= 2, 'Global_V v2', 120_000);
    daemon.child.kill('SIGTERM');
    const exit = await daemon.done;
    expect(exit.code, exit.stderr).toBe(0);
    const ledger = await readLedger(c.root.ws.ledgerFile(AGGREGATOR));
    expect(verifyLedger(ledger).ok).toBe(true);
    expect(ledger.slice(0, 2).map((e) => e.secagg?.survivors)).toEqual([3, 3]);
    for (const m of members) expect(await exists(m.ws.deltaManifest('profile_0'))).toBe(false);
  }, 900_000);

  it('aborts below the threshold and publishes nothing that would unmask anyone', async ({ onTestFinished }) => {
    const c = await clusterFor(onTestFinished);
    const members = await c.startMembers(4);
    const aggregator = c.startAggregator(['--once', '--json']);
    // two of four die once they have sent their keys: the cohort has 4 members, T = 3, and only 2 can share
    await waitFor(async () => (await Promise.all(members.slice(0, 2).map((m) => exists(answer(m, KEYS_FILE))))).every(Boolean), 'two members joined', 240_000);
    for (const m of members.slice(0, 2)) m.run.child.kill('SIGKILL');
    const exit = await aggregator.done;
    expect(exit.code, exit.stderr).toBe(0);
    const summary = JSON.parse(exit.stdout);
    expect(summary).toMatchObject({ outcome: 'aborted', version: 0 });
    expect(summary.reason).toMatch(/needs/);
    const roundDir = c.root.ws.secaggRoundDir(AGGREGATOR, 'r000001');
    expect(await exists(path.join(roundDir, UNMASK_FILE))).toBe(false);
    expect(JSON.parse(await fs.readFile(path.join(roundDir, 'result.json'), 'utf8'))).toMatchObject({ outcome: 'aborted' });
    for (const m of members) expect(await exists(answer(m, REVEAL_FILE))).toBe(false);
    expect(await listGlobalVersions(c.root.ws.globalDir(AGGREGATOR))).toEqual([]);
    expect(await readLedger(c.root.ws.ledgerFile(AGGREGATOR))).toEqual([]);
  }, 900_000);
});
