import { describe, expect, it } from 'vitest';
import { estimateShowCounts } from '../../src/aggregator/community';
import { buildCommunityReport } from '../../src/participant/community';
import { decodeCommunityReport, WEEKLY_BUCKETS, WEEKLY_CLIP, type DecodedReport } from '../../src/shared/community';
import {
  buildCommunityContribution,
  communityEncoding,
  communityLayout,
  communityNoise,
  communitySpend,
  estimateFromSum,
  MAX_CLICKS_PER_ARM,
  type WeekSummary,
} from '../../src/shared/community-sum';
import { privacySpent, recordSpend, emptyLedger } from '../../src/shared/privacy';
import { decodeSum, encodeContribution, toModular } from '../../src/shared/secagg/encoding';
import { layoutLength } from '../../src/shared/secagg/files';
import { skellamShares } from '../../src/shared/secagg/noise';
import { addMod } from '../../src/shared/secagg/prg';
import { createRandom } from '../../src/shared/random';

/** The real catalogue's size (netflix_titles.csv): the noise is calibrated for this vector length. */
const ITEMS = 8807;
const SCALE_BITS = 16;
const DELTA = 1e-5;

function norm(x: Float64Array): number {
  return Math.sqrt(x.reduce((s, v) => s + v * v, 0));
}

describe('the community contribution', () => {
  it('lays out weekly plays, the band, the top show and the clicks per arm within L2 1', () => {
    const x = buildCommunityContribution([{ plays: 50, topItem: 7, clicks: { local: 9, global: MAX_CLICKS_PER_ARM } }], 10);
    expect(x.length).toBe(layoutLength(communityLayout(10)));
    expect(norm(x)).toBeCloseTo(1, 12);
    const bands = WEEKLY_BUCKETS.length;
    expect(x[1 + bands - 1]).toBeGreaterThan(0); // 50 plays: top band
    expect(x[1 + bands + 7]).toBeGreaterThan(0);
    expect(x[1 + bands + 10]).toBe(0); // "no show" position unused
  });

  it('averages a datasite\'s profiles: one person, one vector, still within 1', () => {
    const x = buildCommunityContribution([{ plays: 0, topItem: null }, { plays: 5, topItem: 3 }, { plays: 30, topItem: 3 }], 10);
    expect(norm(x)).toBeLessThanOrEqual(1 + 1e-12);
    expect(() => buildCommunityContribution([], 10)).toThrow(RangeError);
    expect(() => buildCommunityContribution([{ plays: 1, topItem: 10 }], 10)).toThrow(RangeError);
  });

  it('decodes a noise-free sum into the exact figures', () => {
    const truths: WeekSummary[] = [
      { plays: 0, topItem: null },
      { plays: 3, topItem: 2, clicks: { local: 2, global: 0 } },
      { plays: 12, topItem: 2, clicks: { local: 1, global: 3 } },
      { plays: 40, topItem: 5, clicks: { local: 50, global: 1 } },
    ];
    const sum = new Float64Array(layoutLength(communityLayout(8)));
    for (const t of truths) buildCommunityContribution([t], 8).forEach((v, i) => (sum[i] += v));
    const est = estimateFromSum(sum, truths.length, communityEncoding(8, SCALE_BITS), { noise: { mechanism: 'none', sigma: 0 }, minSurvivors: 3 });
    expect(est.showCounts[2]).toBeCloseTo(2, 9);
    expect(est.showCounts[5]).toBeCloseTo(1, 9);
    expect(est.showCounts[8]).toBeCloseTo(1, 9); // nothing matched
    expect(est.mean).toBeCloseTo((0 + 3 + 12 + WEEKLY_CLIP) / 4, 9);
    expect(est.bands.map((b) => b.share)).toEqual([0.25, 0.25, 0, 0.25, 0.25].map((v) => expect.closeTo(v, 9)));
    expect(est.bands[3].below).toBeCloseTo(0.5, 9);
    expect(est.clicks.local).toBeCloseTo(2 + 1 + MAX_CLICKS_PER_ARM, 9);
    expect(est.clicks.global).toBeCloseTo(4, 9);
  });
});

describe('one week under secure aggregation against local reports (200 participants, same ε)', () => {
  // Each show's count noise is independent across the 8,808 positions, so one week gives
  // thousands of samples of it: their RMS error is the standard error, measured.
  const N = 200;
  const EPSILON = 4;
  const random = createRandom(20261204);
  const truths: WeekSummary[] = Array.from({ length: N }, (_, i) => ({ plays: i % 25, topItem: i < 60 ? 42 : i < 90 ? 7 : null }));
  const truthCount = new Float64Array(ITEMS + 1);
  for (const t of truths) truthCount[t.topItem ?? ITEMS]++;

  function rms(counts: ArrayLike<number>): number {
    let s = 0;
    for (let j = 0; j <= ITEMS; j++) s += (counts[j] - truthCount[j]) ** 2;
    return Math.sqrt(s / (ITEMS + 1));
  }

  function secureWeek() {
    const encoding = communityEncoding(ITEMS, SCALE_BITS);
    const noise = communityNoise(encoding, EPSILON, DELTA);
    const minSurvivors = Math.ceil(0.7 * N); // SECAGG_SURVIVOR_FRACTION's default: the shares are calibrated for T, all N survive
    const lambda = (noise.sigma * noise.sigma) / (2 * minSurvivors);
    const sum = new Uint32Array(encoding.length);
    for (const t of truths) {
      const q = encodeContribution(buildCommunityContribution([t], ITEMS), encoding, () => random.next());
      addMod(sum, toModular(q, skellamShares(encoding.length, lambda, () => random.next())));
    }
    return { est: estimateFromSum(decodeSum(sum, encoding), N, encoding, { noise, minSurvivors }), encoding, noise };
  }

  function localWeek(): Float64Array {
    const decoded: DecodedReport[] = truths.map((t) => {
      const report = buildCommunityReport({ week: '2026-W02', plays: t.plays, topItem: t.topItem }, { epsilon: EPSILON, items: ITEMS, vocabHash: 'v', random, earlier: new Map() });
      const d = decodeCommunityReport(report, { items: ITEMS, vocabHash: 'v' });
      if (typeof d === 'string') throw new Error(d);
      return d;
    });
    return estimateShowCounts(decoded, ITEMS).counts;
  }

  it('cuts the error of one show\'s count at least 5x, and the measured error is the stated one', () => {
    const { est } = secureWeek();
    const central = rms(est.showCounts);
    const local = rms(localWeek());
    // stated standard errors: ±12 locally (docs/community.md), est.showSe centrally
    expect(local).toBeGreaterThan(10);
    expect(local).toBeLessThan(14);
    expect(Math.abs(central - est.showSe) / est.showSe).toBeLessThan(0.05);
    expect(local / central).toBeGreaterThanOrEqual(5);
    console.log(`one show's count at n=${N}, epsilon=${EPSILON}: local RMS ${local.toFixed(2)}, secure RMS ${central.toFixed(2)} (stated ${est.showSe.toFixed(2)}), ratio ${(local / central).toFixed(2)}`);
    // the played shows stand out, and no unplayed one is listed
    const listed = [...est.showCounts.subarray(0, ITEMS)].flatMap((c, item) => (c > est.detectableCount ? [item] : []));
    expect(listed.sort((a, b) => a - b)).toEqual([7, 42]);
    expect(est.mean).toBeGreaterThan(0);
  }, 600_000);

  it('records the week in the ledger as one Skellam release of about its ε', () => {
    const encoding = communityEncoding(ITEMS, SCALE_BITS);
    const noise = communityNoise(encoding, EPSILON, DELTA);
    const spend = communitySpend('2026-01-12T00:00:00.000Z', encoding, noise)!;
    expect(spend).toMatchObject({ kind: 'community', mechanism: 'skellam' });
    const spent = privacySpent(recordSpend(emptyLedger(), spend), { epsilon: 50, delta: DELTA, periodDays: 0 }, new Date('2026-01-13T00:00:00Z'));
    expect(spent.epsilon).toBeLessThanOrEqual(EPSILON + 1e-9);
    expect(spent.epsilon).toBeGreaterThan(EPSILON * 0.99);
    expect(communitySpend('x', encoding, { mechanism: 'none', sigma: 0 })).toBeNull();
  });
});
