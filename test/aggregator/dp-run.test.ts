import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readDpRun } from '../../src/aggregator/dp-run';
import { advanceSecureRound } from '../../src/aggregator/secagg';
import { runParticipantPass } from '../../src/participant/node';
import { noiseProblem } from '../../src/participant/secagg';
import { readPrivacyLedger } from '../../src/participant/state';
import { readJsonFile, readRegularFile } from '../../src/shared/atomic';
import { readLatestGlobal } from '../../src/shared/global-model';
import { readLedger } from '../../src/shared/ledger';
import { decodeNpy } from '../../src/shared/npy';
import { privacySpent, zcdpRho } from '../../src/shared/privacy';
import { createRandom, deriveSeed } from '../../src/shared/random';
import { topItemsOf } from '../../src/shared/model/subspace';
import { SUBSPACE_MEMBERS_FRACTION } from '../../src/shared/model/mechanism';
import { runNoiseMultipliers } from '../../src/shared/secagg/contribution';
import { layoutLength, MAX_SMALL_FILE_BYTES, parseRoundFile, ROUND_FILE } from '../../src/shared/secagg/files';
import { runSecureRoundInProcess } from '../../src/simulate/secure-round';
import { AGGREGATOR } from '../helpers/root';
import { createFederation, RANK, type Federation } from '../helpers/secagg';

let fed: Federation | null = null;
afterEach(async () => {
  await fed?.root.cleanup();
  fed = null;
});

const EPSILON = 8;
const DELTA = 1e-5;
const COUNT_SHARE = 0.1;
const DAY_MS = 24 * 60 * 60 * 1000;
/** S smaller than the test catalogue (120 items), so rows outside it exist. */
const TOP_ITEMS = 30;

/** What each member adds to a round: its encoded contribution and its noise share (input − encoded), read while the round runs. */
interface Added {
  encoded: Float64Array;
  noise: Float64Array;
}

async function readVector(file: string, dtype: '<i4' | '<u4'): Promise<Int32Array | Uint32Array> {
  const bytes = (await readRegularFile(file, { maxBytes: 64 * 1024 * 1024 }))!;
  return decodeNpy(bytes, file).data as Int32Array | Uint32Array;
}

/** Member 0's noise floor (its own DP_EPSILON) holds for the noise of round `roundId` as opened, and not for 1% less. */
async function expectFloorAt(f: Federation, roundId: string): Promise<void> {
  const file = path.join(f.root.ws.secaggRoundDir(AGGREGATOR, roundId), ROUND_FILE);
  const round = parseRoundFile(await readJsonFile(file, { maxBytes: MAX_SMALL_FILE_BYTES }), file, { roundId });
  const encoding = { length: layoutLength(round.layout), clipNorm: round.params.clipNorm, scaleBits: round.params.scaleBits };
  const model = { items: f.catalog.items.length, rank: RANK };
  const { config } = f.members[0];
  expect(config.DP_EPSILON).toBe(EPSILON);
  expect(noiseProblem(config, round, encoding, model)).toBeNull();
  const less = { ...round, params: { ...round.params, noise: { ...round.params.noise, sigma: 0.99 * round.params.noise.sigma } } };
  expect(noiseProblem(config, less, encoding, model)).toMatch(/less than DP_EPSILON=8 asks/);
}

describe('a DP training run under secure aggregation (DP_EPSILON=8, the default)', () => {
  it('runs a count round then a gram round with the calibrated noise, spends at most DP_EPSILON in every ledger, and starts no second run within PRIVACY_PERIOD_DAYS', async () => {
    fed = await createFederation(4, { DP_EPSILON: String(EPSILON), DP_DELTA: String(DELTA) });
    const f = fed;
    const dp = f.aggregator.secure.dp!;
    expect(dp).toMatchObject({ epsilon: EPSILON, delta: DELTA, countShare: COUNT_SHARE, periodDays: 365 });
    f.aggregator.secure = { ...f.aggregator.secure, dp: { ...dp, subspace: { ...dp.subspace, topItems: TOP_ITEMS } } };
    for (const [i, m] of f.members.entries()) m.noiseRandom = () => createRandom(deriveSeed(11, `member-${i}`));
    let clock = Date.now();
    f.aggregator.now = () => new Date(clock);

    // round 1: count. Each member's encoded contribution and noise share, read from its private round folder after it masked
    const added: Added[] = [];
    const capture = async ({ index, steps }: { index: number; steps: { action: string; roundId?: string }[] }) => {
      const masked = steps.find((s) => s.action === 'masked');
      if (masked?.roundId === undefined) return;
      const dir = path.join(f.members[index].ws.secaggPrivateDir(), masked.roundId);
      const encoded = (await readVector(path.join(dir, 'encoded.npy'), '<i4')) as Int32Array;
      const input = (await readVector(path.join(dir, 'input.npy'), '<u4')) as Uint32Array;
      // input = encoded + noise mod 2^32; the noise share is far below 2^31
      added.push({ encoded: Float64Array.from(encoded), noise: Float64Array.from(input, (v, j) => ((v - encoded[j] + 2 ** 31) % 2 ** 32 >>> 0) - 2 ** 31) });
    };
    for (const m of f.members) await runParticipantPass(m);
    const count = (await runSecureRoundInProcess(f.aggregator, f.members, { afterMember: capture }))!;
    expect(count).toMatchObject({ outcome: 'merged', version: 1, cohort: 4, dropped: 0, minSurvivors: 3 });
    expect(added).toHaveLength(4);
    const [first] = await readLedger(f.root.ws.ledgerFile(AGGREGATOR));
    expect(first.secagg).toMatchObject({ aggregation: 'subspace', noise: { mechanism: 'skellam' } });
    const { scaleBits, noise } = first.secagg!;
    const L = added[0].encoded.length;
    expect(L).toBe(f.catalog.items.length + 1);

    // the round's sigma (quanta) is the run's count multiplier on the whole contribution's sensitivity Δ = 2^scaleBits + √L
    // (members coordinate and rounding included), for a run whose gram round has the TOP_ITEMS' co-occurrences: below the
    // zCDP split's Δ/√(2·share·ρ), by the one factor with which the two rounds spend DP_EPSILON by the ledger's accounting
    const l2 = 2 ** scaleBits + Math.sqrt(L);
    const lengths = { count: L, gram: (TOP_ITEMS * (TOP_ITEMS - 1)) / 2 + 1 };
    expect(noise.sigma).toBeCloseTo(runNoiseMultipliers({ epsilon: EPSILON, delta: DELTA, countShare: COUNT_SHARE }, lengths).count * l2, 3);
    const zcdp = l2 / Math.sqrt(2 * COUNT_SHARE * zcdpRho(EPSILON, DELTA));
    expect(noise.sigma / zcdp).toBeGreaterThan(0.9);
    expect(noise.sigma / zcdp).toBeLessThan(0.93);
    // a member (DP_EPSILON 8 of its own) accepts the round's noise and would refuse 1% less
    await expectFloorAt(f, count.roundId);
    // every share is Skellam of variance σ²/T, so the 4 survivors' noise has variance 4σ²/3 per coordinate:
    // Σ n_j² / (4σ²/3) ~ χ²(L), within 5 standard deviations (√(2L)) of L
    const variance = (4 * noise.sigma ** 2) / 3;
    let chi2 = 0;
    const total = new Float64Array(L);
    for (let j = 0; j < L; j++) {
      let n = 0;
      for (const a of added) {
        n += a.noise[j];
        total[j] += a.encoded[j] + a.noise[j];
      }
      chi2 += (n * n) / variance;
    }
    expect(Math.abs(chi2 - L)).toBeLessThan(5 * Math.sqrt(2 * L));
    // the decoded sum is exactly the members' encoded contributions plus their noise: Global_V v1 holds its positive part in column 0
    // γ = 2^bits / clipNorm, clipNorm = √(1 + f²): the part's bound 1 and the members coordinate f
    const gamma = 2 ** scaleBits / Math.hypot(1, SUBSPACE_MEMBERS_FRACTION);
    const v1 = (await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model))!;
    let positives = 0;
    for (let j = 0; j < f.catalog.items.length; j++) {
      const expected = Math.max(0, total[j] / gamma);
      expect(v1.values[j * RANK]).toBeCloseTo(expected, 3);
      if (expected > 0) positives++;
      for (let a = 1; a < RANK; a++) expect(v1.values[j * RANK + a]).toBe(0);
    }
    expect(positives).toBeGreaterThan(0);

    // round 2: gram, from v1. Global_V v2 is nonzero only on the rows of S (the TOP_ITEMS largest rows of v1)
    for (const m of f.members) await runParticipantPass(m);
    const gram = (await runSecureRoundInProcess(f.aggregator, f.members))!;
    expect(gram).toMatchObject({ outcome: 'merged', version: 2, cohort: 4, baseVersion: 1 });
    const v2 = (await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model))!;
    const S = new Set(topItemsOf(v1.values, { items: f.catalog.items.length, rank: RANK, dimensions: RANK, topItems: TOP_ITEMS }));
    expect(S.size).toBe(TOP_ITEMS);
    let nonzeroInS = 0;
    for (let j = 0; j < f.catalog.items.length; j++) {
      const row = Array.from(v2.values.subarray(j * RANK, (j + 1) * RANK));
      if (!S.has(j)) expect(row.every((v) => v === 0), `row ${j} outside S`).toBe(true);
      else if (row.some((v) => v !== 0)) nonzeroInS++;
    }
    expect(nonzeroInS).toBeGreaterThan(TOP_ITEMS / 2);
    const [, second] = await readLedger(f.root.ws.ledgerFile(AGGREGATOR));
    expect(second.secagg).toMatchObject({ aggregation: 'subspace', noise: { mechanism: 'skellam' } });
    await expectFloorAt(f, gram.roundId);

    // every member's ledger holds both rounds; together they spend at most DP_EPSILON at DP_DELTA
    for (const m of f.members) {
      const ledger = await readPrivacyLedger(m.ws.privateDir('profile_0'));
      expect(ledger.entries.map((e) => e.kind)).toEqual(['round', 'round']);
      const spent = privacySpent(ledger, { epsilon: EPSILON, delta: DELTA, periodDays: 365 }, new Date(clock));
      expect(spent.epsilon).toBeLessThanOrEqual(EPSILON * (1 + 1e-9));
      expect(spent.epsilon).toBeGreaterThan(EPSILON * 0.995);
    }

    // the run is complete as soon as the gram round merged (its record says when the next is due);
    // no round opens within PRIVACY_PERIOD_DAYS of its start, one opens after
    const run = (await readDpRun(f.root.ws))!;
    expect(run).toMatchObject({ countRoundId: count.roundId, gramRoundId: gram.roundId });
    expect(run.completedAt).not.toBeNull();
    expect(Date.parse(run.nextRunAt!) - Date.parse(run.startedAt)).toBe(365 * DAY_MS);
    for (const m of f.members) await runParticipantPass(m);
    expect(await runSecureRoundInProcess(f.aggregator, f.members)).toBeNull();
    clock += 364 * DAY_MS;
    expect(await advanceSecureRound(f.aggregator)).toMatchObject({ action: 'idle', reason: expect.stringContaining('PRIVACY_PERIOD_DAYS=365') });
    clock += 2 * DAY_MS;
    expect(await advanceSecureRound(f.aggregator)).toMatchObject({ action: 'opened' });
  });
});
