import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { roundDue, runAggregator } from '../../src/aggregator/node';
import type { RoundResult } from '../../src/aggregator/round';
import { loadCatalog } from '../../src/shared/catalog';
import { readLatestGlobal } from '../../src/shared/global-model';
import { createRandom } from '../../src/shared/random';
import { startCli, waitFor } from '../helpers/process';
import { addParticipant, AGGREGATOR, cliEnv, createRoot, publish, randomDelta, roundContext, writeCatalog, type TestRoot } from '../helpers/root';

let root: TestRoot;
let controller: AbortController;
let stopped: Promise<void> | null;
beforeEach(async () => {
  root = await createRoot();
  controller = new AbortController();
  stopped = null;
});
afterEach(async () => {
  controller.abort();
  await stopped;
  await root.cleanup();
});

describe('roundDue', () => {
  const limits = { minParticipants: 3, roundIntervalMs: 1000 };
  it('runs when MIN_PARTICIPANTS deltas wait, or one waits and the interval passed', () => {
    expect(roundDue(3, 0, limits)).toBe(true);
    expect(roundDue(2, 999, limits)).toBe(false);
    expect(roundDue(1, 1000, limits)).toBe(true);
    expect(roundDue(0, 1e9, limits)).toBe(false);
  });
});

describe('runAggregator', () => {
  function start(options: { minParticipants: number; roundIntervalMs: number }) {
    const rounds: RoundResult[] = [];
    const ctx = { ...roundContext(root), now: () => new Date() };
    stopped = runAggregator({ round: ctx, secure: null, signal: controller.signal, debounceMs: 20, rescanIntervalMs: 50, onRound: (r) => rounds.push(r), ...options });
    return rounds;
  }

  it('merges as soon as MIN_PARTICIPANTS new deltas wait, picked up from file events', async () => {
    const rounds = start({ minParticipants: 2, roundIntervalMs: 3_600_000 });
    const random = createRandom(1);
    await publish(await addParticipant(root, 'a@example.org'), 'profile_0', randomDelta(random));
    await publish(await addParticipant(root, 'b@example.org'), 'profile_0', randomDelta(random));
    const first = await waitFor(async () => rounds[0], 'a round');
    expect(first).toMatchObject({ outcome: 'merged', version: 1, counts: { accepted: 2 } });
  });

  it('merges a single waiting delta once ROUND_INTERVAL_MS has passed', async () => {
    const rounds = start({ minParticipants: 5, roundIntervalMs: 300 });
    await publish(await addParticipant(root, 'a@example.org'), 'profile_0', randomDelta(createRandom(2)));
    const first = await waitFor(async () => rounds[0], 'a round');
    expect(first).toMatchObject({ outcome: 'merged', counts: { accepted: 1 } });
  });

  it('resolves when the signal aborts', async () => {
    start({ minParticipants: 1, roundIntervalMs: 1000 });
    controller.abort('SIGTERM');
    await expect(stopped).resolves.toBeUndefined();
  });
});

describe('aggregator process', () => {
  it('runs rounds as deltas arrive and exits 0 on SIGTERM', async () => {
    const catalogFile = await writeCatalog(root, 30);
    const catalog = await loadCatalog(catalogFile);
    const model = { items: catalog.items.length, rank: 2, vocabHash: catalog.hash };
    const env = cliEnv(root, AGGREGATOR, { CATALOG_PATH: catalogFile, MODEL_RANK: '2', MIN_PARTICIPANTS: '1', WATCH_DEBOUNCE_MS: '50', ROUND_INTERVAL_MS: '1000' });
    const fields = { items: model.items, rank: model.rank, vocabHash: model.vocabHash };
    const random = createRandom(3);
    const a = await addParticipant(root, 'a@example.org');
    await publish(a, 'profile_0', randomDelta(random, 0.5, model.items * model.rank), fields);
    const run = startCli(['aggregator'], env);
    const version = async () => (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model))?.manifest.version;
    await waitFor(async () => (await version()) === 1, 'version 1');
    await publish(a, 'profile_0', randomDelta(random, 0.5, model.items * model.rank), { ...fields, baseVersion: 1 });
    await waitFor(async () => (await version()) === 2, 'version 2');
    run.child.kill('SIGTERM');
    const exit = await run.done;
    expect(exit.code, exit.stderr).toBe(0);
  });
});
