import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readRoundRecord } from '../../src/aggregator/record';
import { loadCatalog } from '../../src/shared/catalog';
import { listGlobalVersions, readGlobalVersion, readLatestGlobal, type GlobalExpect } from '../../src/shared/global-model';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import { canRead, EVERYONE } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { startCli } from '../helpers/process';
import { addParticipant, AGGREGATOR, cliEnv, createRoot, publish, randomDelta, writeCatalog, type TestRoot } from '../helpers/root';

/**
 * Exactly-once under kill -9: a real `aggregator --once` process is killed at
 * seeded random moments while rounds run; after each kill and after the final
 * clean run, the committed state must be consistent: Global_V loads, the ledger
 * verifies and ends at the newest version, every published delta is merged
 * exactly once, each version is the previous one plus the weighted mean of the
 * deltas its ledger line lists, and exactly the contributors may read.
 */
const RANK = 8;
const ITEMS = 3000;
const KILLS = 6;
const NEW_PER_ITERATION = 4;

let root: TestRoot;
let model: GlobalExpect;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  root = await createRoot();
  const catalogFile = await writeCatalog(root, ITEMS);
  const catalog = await loadCatalog(catalogFile);
  model = { items: catalog.items.length, rank: RANK, vocabHash: catalog.hash };
  env = cliEnv(root, AGGREGATOR, { CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), SERVER_LR: '0.5' });
});
afterEach(async () => {
  await root.cleanup();
});

describe('aggregator under kill -9', () => {
  it('applies every delta exactly once and keeps ledger, Global_V and permissions consistent', async () => {
    const random = createRandom(20260101);
    const published = new Map<string, Float32Array>();
    const participants: string[] = [];
    let next = 0;
    const publishNew = async () => {
      const base = (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model))?.manifest.version ?? 0;
      for (let i = 0; i < NEW_PER_ITERATION; i++) {
        const email = `p${next++}@example.org`;
        const values = randomDelta(random, 0.5, model.items * model.rank);
        const manifest = await publish(await addParticipant(root, email), 'profile_0', values, { items: model.items, rank: model.rank, vocabHash: model.vocabHash, baseVersion: base });
        published.set(manifest.sha256, values);
        participants.push(email);
      }
    };

    // calibrate: how long one clean run takes on this machine
    await publishNew();
    const t0 = Date.now();
    const first = await startCli(['aggregator', '--once'], env).done;
    const fullRunMs = Date.now() - t0;
    expect(first.code, first.stderr).toBe(0);

    let killed = 0;
    let runMs = fullRunMs;
    // KILLS attempts, and more (bounded) until at least one kill landed: a run can
    // finish before its kill moment, more so once caches are warm.
    for (let k = 0; k < KILLS || (killed === 0 && k < KILLS * 4); k++) {
      await publishNew();
      const started = Date.now();
      const run = startCli(['aggregator', '--once'], env);
      // the first third of a run is process start-up: aim most kills at the round itself
      const delay = Math.floor(runMs * (0.3 + random.next()));
      const timer = setTimeout(() => run.child.kill('SIGKILL'), delay);
      const exit = await run.done;
      clearTimeout(timer);
      if (exit.signal === 'SIGKILL') killed++;
      else {
        expect(exit.code, exit.stderr).toBe(0);
        runMs = Math.min(runMs, Date.now() - started);
      }
      // whatever the moment, the newest complete Global_V loads and the ledger verifies
      await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model);
      expect(verifyLedger(await readLedger(root.ws.ledgerFile(AGGREGATOR))).ok).toBe(true);
    }
    expect(killed).toBeGreaterThan(0);

    const final = await startCli(['aggregator', '--once'], env).done;
    expect(final.code, final.stderr).toBe(0);
    const settled = await startCli(['aggregator', '--once'], env).done;
    expect(settled.stdout).toMatch(/no new deltas waiting/);

    const latest = await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model);
    const ledger = await readLedger(root.ws.ledgerFile(AGGREGATOR));
    expect(verifyLedger(ledger).ok).toBe(true);
    expect(ledger.map((e) => e.version)).toEqual(Array.from({ length: ledger.length }, (_, i) => i + 1));
    expect(ledger.at(-1)?.version).toBe(latest?.manifest.version);
    expect(ledger.at(-1)?.globalSha256).toBe(latest?.manifest.sha256);
    const merged = ledger.flatMap((e) => e.accepted.map((a) => a.deltaSha256));
    expect(merged.length).toBe(published.size);
    expect(new Set(merged)).toEqual(new Set(published.keys()));

    // each kept version = previous + SERVER_LR * weighted mean of the deltas its ledger line lists
    const kept = (await listGlobalVersions(root.ws.globalDir(AGGREGATOR))).sort((a, b) => a - b);
    for (const v of kept.slice(1)) {
      const prev = (await readGlobalVersion(root.ws.globalVersionDir(AGGREGATOR, v - 1), model))!.values;
      const cur = (await readGlobalVersion(root.ws.globalVersionDir(AGGREGATOR, v), model))!.values;
      const entry = ledger.find((e) => e.version === v)!;
      const weightSum = entry.accepted.reduce((s, a) => s + a.weight, 0);
      let worst = 0;
      for (let i = 0; i < cur.length; i++) {
        let sum = 0;
        for (const a of entry.accepted) sum += a.weight * published.get(a.deltaSha256)![i];
        worst = Math.max(worst, Math.abs(cur[i] - (prev[i] + (0.5 * sum) / weightSum)));
      }
      expect(worst).toBeLessThan(1e-6);
      const record = await readRoundRecord(root.ws.aggregatorPrivateDir(), v);
      expect(record.accepted.map((a) => a.deltaSha256)).toEqual(entry.accepted.map((a) => a.deltaSha256));
    }

    const ds = root.ws.datasitesDir;
    const payload = path.join(root.ws.globalVersionDir(AGGREGATOR, latest!.manifest.version), 'Global_V.npy');
    for (const email of participants) expect(await canRead(ds, email, payload), email).toBe(true);
    expect(await canRead(ds, 'outsider@example.org', payload)).toBe(false);
    expect(await canRead(ds, EVERYONE, root.ws.ledgerFile(AGGREGATOR))).toBe(false);
  });
});
