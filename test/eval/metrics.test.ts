import { describe, expect, it } from 'vitest';
import {
  RankingAccumulator,
  RatingAccumulator,
  hitAt,
  ndcgAt,
  rankAmong,
  rankAmongSample,
  recallAt,
  sampleNegatives,
} from '../../src/eval/metrics';
import { createRandom } from '../../src/shared/random';

describe('rankAmong', () => {
  it('counts higher scores, and equal scores of smaller items, among the candidates only', () => {
    const scores = [0.5, 0.9, 0.5, 0.1, 0.7];
    // target 2 (0.5): higher are 1 (0.9) and 4 (0.7); item 0 ties and has a smaller index
    expect(rankAmong(scores, 2, () => true)).toBe(3);
    // item 1 is a training item, so not a candidate
    expect(rankAmong(scores, 2, (j) => j !== 1)).toBe(2);
    // target 0 ties with item 2, which has a larger index: not ahead
    expect(rankAmong(scores, 0, () => true)).toBe(2);
  });

  it('is 0 for the best item', () => {
    expect(rankAmong([1, 2, 3], 2, () => true)).toBe(0);
  });
});

describe('cut-off metrics', () => {
  it('HR and NDCG at 10 from the rank', () => {
    expect(hitAt(0, 10)).toBe(1);
    expect(hitAt(9, 10)).toBe(1);
    expect(hitAt(10, 10)).toBe(0);
    expect(ndcgAt(0, 10)).toBe(1);
    expect(ndcgAt(2, 10)).toBeCloseTo(0.5, 12); // 1 / log2(4)
    expect(ndcgAt(9, 10)).toBeCloseTo(1 / Math.log2(11), 12);
    expect(ndcgAt(10, 10)).toBe(0);
  });

  it('recall is the share of held-out items in the top k', () => {
    expect(recallAt([0, 15, 30], 20)).toBeCloseTo(2 / 3, 12);
    expect(() => recallAt([], 20)).toThrow(RangeError);
  });

  it('accumulates means over users', () => {
    const acc = new RankingAccumulator();
    acc.add(0, 0); // hit everywhere
    acc.add(3, 20); // full: hit, ndcg 1/log2(5); sampled: miss
    acc.add(12, 5); // full: miss at 10, hit at 20; sampled: hit, ndcg 1/log2(7)
    const m = acc.result();
    expect(m.users).toBe(3);
    expect(m.hr10).toBeCloseTo(2 / 3, 12);
    expect(m.ndcg10).toBeCloseTo((1 + 1 / Math.log2(5)) / 3, 12);
    expect(m.recall20).toBe(1);
    expect(m.sampledHr10).toBeCloseTo(2 / 3, 12);
    expect(m.sampledNdcg10).toBeCloseTo((1 + 1 / Math.log2(7)) / 3, 12);
  });

  it('gives zeros for no users', () => {
    expect(new RankingAccumulator().result()).toEqual({ users: 0, hr10: 0, ndcg10: 0, recall20: 0, sampledHr10: 0, sampledNdcg10: 0 });
  });
});

describe('sampled protocol', () => {
  it('draws distinct allowed items, the same ones for the same seed', () => {
    const excluded = (j: number) => j % 3 === 0;
    const a = sampleNegatives(createRandom(7), 1000, 99, excluded);
    const b = sampleNegatives(createRandom(7), 1000, 99, excluded);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(new Set(a).size).toBe(99);
    expect(Array.from(a).every((j) => !excluded(j) && j >= 0 && j < 1000)).toBe(true);
    expect(Array.from(sampleNegatives(createRandom(8), 1000, 99, excluded))).not.toEqual(Array.from(a));
  });

  it('returns every allowed item when fewer than asked exist', () => {
    const out = sampleNegatives(createRandom(1), 10, 99, (j) => j < 4);
    expect(Array.from(out).sort((x, y) => x - y)).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('ranks the held-out item among the sampled items only', () => {
    const scores = [0.3, 0.8, 0.3, 0.9, 0.1];
    // negatives 1 (0.8), 2 (0.3, tie, larger index), 4 (0.1): only item 1 is ahead of target 0
    expect(rankAmongSample(scores, 0, Int32Array.from([1, 2, 4]))).toBe(1);
    // target 2 with negatives 0 (tie, smaller index) and 3: both ahead
    expect(rankAmongSample(scores, 2, Int32Array.from([0, 3]))).toBe(2);
  });
});

describe('rating metrics', () => {
  it('RMSE and MAE with predictions clipped to the scale, pooled by merge', () => {
    const a = new RatingAccumulator(0.5, 5);
    a.add(4, 3); // error 1
    a.add(2, 6); // clipped to 5: error -3
    const b = new RatingAccumulator(0.5, 5);
    b.add(1, 0); // clipped to 0.5: error 0.5
    a.merge(b);
    const m = a.result();
    expect(m.count).toBe(3);
    expect(m.rmse).toBeCloseTo(Math.sqrt((1 + 9 + 0.25) / 3), 12);
    expect(m.mae).toBeCloseTo((1 + 3 + 0.5) / 3, 12);
    expect(new RatingAccumulator(0.5, 5).result()).toEqual({ count: 0, rmse: 0, mae: 0 });
  });
});
