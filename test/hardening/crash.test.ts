import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJsonFile, readRegularFile } from '../../src/shared/atomic';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import { MAX_MANIFEST_BYTES, parseDeltaManifest, sha256Hex, type DeltaManifest } from '../../src/shared/delta';
import { GLOBAL_PAYLOAD, readLatestGlobal, type GlobalExpect } from '../../src/shared/global-model';
import { auditParticipation, readGlobalCopies, readLedger, verifyLedger } from '../../src/shared/ledger';
import { decodeNpy } from '../../src/shared/npy';
import { canRead } from '../../src/shared/permissions';
import { createRandom, type Random } from '../../src/shared/random';
import { Workspace } from '../../src/shared/workspace';
import { hasNumpy, historyFor, put, viewingHistory, writeSmallCatalog } from '../helpers/data';
import { startCli } from '../helpers/process';
import { AGGREGATOR, APP, cliEnv, createRoot, type TestRoot } from '../helpers/root';

/**
 * Crash safety of the whole system: three participant processes and one
 * aggregator process (`participant --once`, `aggregator --once`, all four
 * started together each round) for ROUNDS rounds, each process killed with
 * SIGKILL at a seeded random moment of its run with probability KILL_PROBABILITY,
 * and started again in the next round. Between rounds some histories grow.
 * After every round the newest complete Global_V loads and the ledger verifies;
 * at the end, after one round without kills: Global_V decodes as numpy would
 * read it and matches the ledger, the ledger verifies end to end, no delta was
 * applied twice, every applied delta is one a participant published, and every
 * participant's latest delta is applied. (test/aggregator/crash.test.ts kills
 * only the aggregator, with deltas written by the test.)
 */
// With this seed: 13 participant and 6 aggregator kill attempts, most aimed
// well inside a run (the assertions below need 5 and 3 to land). Every process
// start costs ~1 s of CPU (tsx), so more rounds cost more than they find.
const ROUNDS = 10;
const PARTICIPANTS = 3;
const RANK = 4;
const KILL_PROBABILITY = 0.55;
/** ~50 s of CPU (44 process starts) on an idle 2-core machine: the limit holds on one 10x slower. */
const SOAK_TIMEOUT_MS = 600_000; // 10 min
const GROW_PROBABILITY = 0.3;

interface Node {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Wall time of its shortest clean run so far: kills are aimed inside it. */
  runMs: number;
  kills: number;
}

interface Participant {
  ws: Workspace;
  history: string;
}

let root: TestRoot;
beforeEach(async () => {
  root = await createRoot();
});
afterEach(async () => {
  await root.cleanup();
});

/** Run every node once, together; each is killed at a random moment of its run with probability `killProbability`. */
async function runRound(nodes: Node[], random: Random, killProbability: number): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      const t0 = Date.now();
      const run = startCli(node.args, node.env);
      const kill = random.next() < killProbability;
      const delayMs = Math.floor(node.runMs * (0.2 + 0.9 * random.next()));
      const timer = kill ? setTimeout(() => run.child.kill('SIGKILL'), delayMs) : undefined;
      const exit = await run.done;
      clearTimeout(timer);
      if (exit.signal === 'SIGKILL') node.kills++;
      else {
        expect(exit.code, `${node.name}: ${exit.stderr}`).toBe(0);
        // aim later kills inside the shortest clean run seen: warm runs are faster than the first
        const ms = Date.now() - t0;
        node.runMs = node.runMs === 0 ? ms : Math.min(node.runMs, ms);
      }
    }),
  );
}

async function publishedManifest(ws: Workspace): Promise<DeltaManifest | null> {
  const file = ws.deltaManifest('profile_0');
  const raw = await readJsonFile(file, { maxBytes: MAX_MANIFEST_BYTES });
  return raw === null ? null : parseDeltaManifest(raw, file);
}

/** True when python3 with numpy is installed (then Global_V is also loaded by numpy itself). */
describe('participants and aggregator under kill -9', () => {
  it(`${ROUNDS} rounds with random kills leave Global_V, the ledger and the applied deltas consistent`, async () => {
    const catalogFile = await writeSmallCatalog(path.join(root.dataDir, 'catalog.json'), 300);
    const catalog: Catalog = await loadCatalog(catalogFile);
    const model: GlobalExpect = { items: catalog.items.length, rank: RANK, vocabHash: catalog.hash };
    // the community report (the participant's cycle publishes it) is not what this test is about: skip its work
    // rounds of the non-private optimizer: a DP run (the default) is two rounds, then none for PRIVACY_PERIOD_DAYS
    const shared = { DP_EPSILON: '0', CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), INSIGHTS_EPSILON: '0' };
    const participants: Participant[] = [];
    const nodes: Node[] = [];
    for (let i = 0; i < PARTICIPANTS; i++) {
      const email = `p${i}@example.org`;
      const outputDir = path.join(root.dataDir, `exports-${i}`);
      const history = await put(path.join(outputDir, 'profile_0', 'NetflixViewingHistory.csv'), historyFor(catalog, i, 30));
      nodes.push({ name: email, args: ['participant', '--once'], env: cliEnv(root, email, { ...shared, OUTPUT_DIR: outputDir, LOCAL_EPOCHS: '2' }), runMs: 0, kills: 0 });
      participants.push({ ws: new Workspace({ email, dataDir: root.dataDir }, APP), history });
    }
    nodes.push({ name: AGGREGATOR, args: ['aggregator', '--once'], env: cliEnv(root, AGGREGATOR, shared), runMs: 0, kills: 0 });

    const random = createRandom(20261121);
    const published = new Set<string>();
    const recordPublished = async () => {
      for (const p of participants) {
        const manifest = await publishedManifest(p.ws);
        if (manifest) published.add(manifest.sha256);
      }
    };

    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, p] of participants.entries()) {
        if (round > 0 && random.next() < GROW_PROBABILITY) await fs.appendFile(p.history, viewingHistory(catalog, createRandom(round * 10 + i), 2).split('\n').slice(1).join('\n'));
      }
      // the first round is clean: it measures how long each process runs
      await runRound(nodes, random, round === 0 ? 0 : KILL_PROBABILITY);
      await recordPublished();
      // whatever the moment of the kills: the newest complete Global_V loads, the ledger verifies
      await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model);
      const check = verifyLedger(await readLedger(root.ws.ledgerFile(AGGREGATOR)));
      expect(check.ok, `round ${round}: ${check.ok ? '' : check.reason}`).toBe(true);
    }
    expect(nodes.filter((n) => n.args[0] === 'participant').reduce((sum, n) => sum + n.kills, 0)).toBeGreaterThanOrEqual(5);
    expect(nodes.find((n) => n.args[0] === 'aggregator')!.kills).toBeGreaterThanOrEqual(3);

    // one round without kills: participants train on the newest version, the aggregator applies it
    await runRound(nodes.slice(0, PARTICIPANTS), random, 0);
    await recordPublished();
    await runRound(nodes.slice(PARTICIPANTS), random, 0);

    const ledger = await readLedger(root.ws.ledgerFile(AGGREGATOR));
    const check = verifyLedger(ledger);
    expect(check.ok, check.ok ? '' : check.reason).toBe(true);
    // the aggregator ran clean in at least 5 of its 11 runs; round 0 may find no delta yet, and a run may find none new
    expect(ledger.length).toBeGreaterThanOrEqual(3);
    expect(ledger.map((e) => e.version)).toEqual(Array.from({ length: ledger.length }, (_, i) => i + 1));
    const applied = ledger.flatMap((e) => e.accepted.map((a) => a.deltaSha256));
    expect(new Set(applied).size, 'a delta applied twice').toBe(applied.length);
    for (const sha of applied) expect(published.has(sha), `applied delta ${sha.slice(0, 16)} was never published`).toBe(true);

    // Global_V: the committed version is the ledger's head, and decodes as numpy reads it
    const latest = (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model))!;
    expect(latest.manifest.version).toBe(ledger.at(-1)!.version);
    const payload = path.join(root.ws.globalVersionDir(AGGREGATOR, latest.manifest.version), GLOBAL_PAYLOAD);
    const bytes = (await readRegularFile(payload, { maxBytes: 16 * 2 ** 20 }))!;
    expect(sha256Hex(bytes)).toBe(ledger.at(-1)!.globalSha256);
    const decoded = decodeNpy(bytes, payload, { dtype: '<f4', shape: [model.items, RANK] });
    expect((decoded.data as Float32Array).every(Number.isFinite)).toBe(true);
    if (hasNumpy()) {
      const out = execFileSync('python3', ['-c', 'import sys, numpy; a = numpy.load(sys.argv[1]); print(a.dtype, a.shape, bool(numpy.isfinite(a).all()))', payload], { encoding: 'utf8' });
      expect(out.trim()).toBe(`float32 (${model.items}, ${RANK}) True`);
    }

    // each participant: its latest delta is applied, its copies of Global_V match the ledger, and it may read the model
    for (const p of participants) {
      const manifest = (await publishedManifest(p.ws))!;
      expect(applied, p.ws.email).toContain(manifest.sha256);
      const audit = auditParticipation(ledger, { globals: await readGlobalCopies(p.ws.globalDir(AGGREGATOR)), delta: { sha256: manifest.sha256, createdAt: manifest.createdAt }, graceMs: 0 });
      expect(audit.problems, p.ws.email).toEqual([]);
      expect(await canRead(root.ws.datasitesDir, p.ws.email, payload), p.ws.email).toBe(true);
    }
  }, SOAK_TIMEOUT_MS);
});
