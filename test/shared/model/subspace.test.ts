import { describe, expect, it } from 'vitest';
import { runSubspaceInMemory } from '../../../src/eval/subspace';
import { initialItemFactors } from '../../../src/shared/global-model';
import { solveUser } from '../../../src/shared/model/factorize';
import type { Interaction } from '../../../src/shared/model/feedback';
import { scoreItems, topK } from '../../../src/shared/model/recommend';
import { applySubspace, DP_GRAM_THRESHOLD, roundNoiseStd, subspaceContribution, subspaceSize, topItemsOf, SUBSPACE_SENSITIVITY, type SubspaceApplyParams } from '../../../src/shared/model/subspace';
import { gaussianRho, zcdpEpsilon, zcdpRho } from '../../../src/shared/privacy';
import { createRandom } from '../../../src/shared/random';

const ITEMS = 40;
const RANK = 6;
const params: SubspaceApplyParams = { items: ITEMS, rank: RANK, dimensions: 3, topItems: 20, power: 0.5 };
const norm = (x: Float64Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0));
const watch = (items: number[], confidence = 1.4): Interaction[] => items.map((item) => ({ item, preference: 1, confidence }));

/** Two tastes: users of group g watch most of block g (items 10g..10g+9) and one popular item, 0 or 1. */
function twoTastes(users: number): Interaction[][] {
  const random = createRandom(3);
  return Array.from({ length: users }, (_, u) => {
    const g = u % 2;
    const block = Array.from({ length: 10 }, (_, i) => 10 * g + i).filter(() => random.next() < 0.7);
    return watch([...block, u % 3 === 0 ? 0 : 1].filter((x, i, a) => a.indexOf(x) === i));
  });
}

describe('DP PureSVD mechanism', () => {
  it('bounds every contribution by the sensitivity, whatever the input', () => {
    const random = createRandom(11);
    const bases = [
      initialItemFactors(ITEMS, RANK, 1),
      Float32Array.from({ length: ITEMS * RANK }, () => random.normal() * 1e30),
      Float32Array.from({ length: ITEMS * RANK }, (_, i) => (i < RANK ? 1 : 0)),
      new Float32Array(ITEMS * RANK),
    ];
    const histories: Interaction[][] = [
      [],
      watch([5]),
      watch(Array.from({ length: ITEMS }, (_, i) => i), 1e300),
      [...watch([1, 1, 1, 2, 2]), { item: 3, preference: 0, confidence: 5 }],
      watch(Array.from({ length: 200 }, (_, i) => i % 7), 1e-300),
    ];
    for (const base of bases) {
      for (const history of histories) {
        for (const round of [1, 2]) {
          const x = subspaceContribution(base, history, round, params);
          expect(x.length).toBe(subspaceSize(round === 1 ? 'count' : 'gram', params));
          expect(x.every(Number.isFinite)).toBe(true);
          expect(norm(x)).toBeLessThanOrEqual(SUBSPACE_SENSITIVITY + 1e-12);
        }
      }
    }
    // A single watched item: norm 1 in round 1; in round 2 it has no co-occurrence to send (norm 0), or norm 1 with the diagonal.
    expect(norm(subspaceContribution(bases[0], watch([7]), 1, params))).toBeCloseTo(1, 12);
    const top = topItemsOf(bases[0], params);
    expect(norm(subspaceContribution(bases[0], watch([top[0]]), 2, params))).toBe(0);
    expect(norm(subspaceContribution(bases[0], watch([top[0]]), 2, { ...params, diagonal: true }))).toBeCloseTo(1, 12);
    for (const n of [2, 3, 20]) {
      for (const diagonal of [false, true]) expect(norm(subspaceContribution(bases[0], watch(top.slice(0, n)), 2, { ...params, diagonal }))).toBeCloseTo(1, 12);
    }
  });

  it('sends the co-occurrences of S only, each pair once, reweighted to norm 1', () => {
    const base = initialItemFactors(ITEMS, RANK, 1);
    const top = topItemsOf(base, params);
    const m = top.length;
    expect(subspaceSize('gram', params)).toBe((m * (m - 1)) / 2);
    expect(subspaceSize('gram', { ...params, diagonal: true })).toBe((m * (m + 1)) / 2);
    // Three watched items of S (and one outside S, ignored): 3 pairs of value √2/√(3·2), every other entry 0.
    const outside = Array.from({ length: ITEMS }, (_, j) => j).find((j) => !top.includes(j))!;
    const x = subspaceContribution(base, watch([top[0], top[4], top[9], outside]), 2, params);
    const nonZero = [...x].filter((v) => v !== 0);
    expect(nonZero).toHaveLength(3);
    for (const v of nonZero) expect(v).toBeCloseTo(Math.SQRT2 / Math.sqrt(6), 12);
    // Unpacked, the pairs land where they belong: the Gram matrix of that one user has rank 1 over S's items 0, 4, 9.
    const { V, report } = applySubspace(base, x, 2, { ...params, dimensions: 1 }, 0);
    expect(report.eigenvalues).toHaveLength(1);
    // Zero-diagonal J − I on 3 items, scaled by 1/√6 · √2/√2: top eigenvalue 2/√6, eigenvector uniform on the three items.
    expect(report.eigenvalues[0]).toBeCloseTo(2 / Math.sqrt(6), 9);
    const rows = [top[0], top[4], top[9]].map((j) => Math.abs(V[j * RANK]));
    for (const r of rows) expect(r).toBeCloseTo(rows[0], 6);
    expect(rows[0]).toBeGreaterThan(0);
    for (let j = 0; j < ITEMS; j++) if (![top[0], top[4], top[9]].includes(j)) expect(V[j * RANK]).toBeCloseTo(0, 9);
  });

  it('refuses items outside the catalogue and non-finite preferences instead of sending them', () => {
    const base = initialItemFactors(ITEMS, RANK, 1);
    expect(() => subspaceContribution(base, watch([ITEMS]), 1, params)).toThrow(RangeError);
    expect(() => subspaceContribution(base, [{ item: 1, preference: Number.NaN, confidence: 1 }], 1, params)).toThrow(RangeError);
    expect(() => subspaceContribution(new Float32Array(ITEMS * RANK).fill(Number.NaN), watch([1]), 2, params)).toThrow(RangeError);
  });

  it('without noise, recommends each user the unwatched items of their own taste', () => {
    const trains = twoTastes(60);
    const model = { rank: RANK, reg: 3, alpha: 2 };
    const ownShare = (diagonal: boolean): number => {
      const V = runSubspaceInMemory(trains, initialItemFactors(ITEMS, RANK, 2), { params: { ...params, diagonal }, noiseStd: { count: 0, gram: 0 }, random: createRandom(1) });
      // Items 20..39: nobody watched them, so they are outside S and have zero rows.
      for (let j = 20; j < ITEMS; j++) for (let a = 0; a < RANK; a++) expect(V[j * RANK + a]).toBe(0);
      let own = 0;
      let total = 0;
      trains.forEach((history, u) => {
        const seen = new Set(history.map((i) => i.item));
        const unseenOwn = Array.from({ length: 10 }, (_, i) => 10 * (u % 2) + i).filter((j) => !seen.has(j));
        if (unseenOwn.length === 0) return;
        const list = topK(scoreItems(solveUser(V, RANK, history, model), V, ITEMS, RANK), unseenOwn.length, seen);
        own += list.filter(({ item }) => unseenOwn.includes(item)).length;
        total += unseenOwn.length;
      });
      expect(total).toBeGreaterThan(50);
      return own / total;
    };
    // Chance is 0.5 (two tastes of 10 items each). Measured: 0.94 from the co-occurrences alone, 0.98 with the diagonal.
    expect(ownShare(false)).toBeGreaterThan(0.9);
    expect(ownShare(true)).toBeGreaterThan(0.9);
  });

  it('is deterministic given the noise seed, and the noise changes the model', () => {
    const trains = twoTastes(30);
    const noiseStd = roundNoiseStd(zcdpRho(8, 1e-5), 0.25);
    const run = (seed: number) => runSubspaceInMemory(trains, initialItemFactors(ITEMS, RANK, 2), { params, noiseStd, random: createRandom(seed) });
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('splits a zCDP budget between its two rounds exactly', () => {
    const rho = zcdpRho(8, 1e-5);
    const std = roundNoiseStd(rho, 0.25);
    expect(gaussianRho(SUBSPACE_SENSITIVITY, std.count)).toBeCloseTo(0.25 * rho, 12);
    expect(gaussianRho(SUBSPACE_SENSITIVITY, std.count) + gaussianRho(SUBSPACE_SENSITIVITY, std.gram)).toBeCloseTo(rho, 12);
    expect(zcdpEpsilon(rho, 1e-5)).toBeCloseTo(8, 9);
    // ε = 8, δ = 1e-5: ρ = (√(ln 1e5 + 8) − √(ln 1e5))² = 1.0491, so σ_gram = 1/√(2 · 0.75 · 1.0491).
    expect(std.gram).toBeCloseTo(1 / Math.sqrt(2 * 0.75 * 1.0491), 3);
  });

  it('publishes counts after round 1 and learns only the top items after round 2', () => {
    const base = initialItemFactors(ITEMS, RANK, 2);
    const counts = new Float64Array(ITEMS).map((_, j) => (j < 5 ? 10 - j : -1));
    const { V } = applySubspace(base, counts, 1, params, 0);
    expect(V[0]).toBe(10);
    expect(V[7 * RANK]).toBe(0);
    expect(topItemsOf(V, { ...params, topItems: 3 })).toEqual([0, 1, 2]);
    // A noisy Gram matrix with only negative entries is all noise: they are set to 0, and nothing is published.
    const small = { ...params, topItems: 3 };
    const gram = new Float64Array(subspaceSize('gram', small)).fill(-1);
    const next = applySubspace(V, gram, 2, small, 0);
    expect(next.report.eigenvalues).toEqual([]);
    expect(next.V.every((v) => v === 0)).toBe(true);
  });

  it('lowers every entry of the noisy Gram matrix by threshold times its noise std, negatives to 0, before the eigendecomposition', () => {
    const random = createRandom(5);
    const base = initialItemFactors(ITEMS, RANK, 2);
    const noisy = new Float64Array(subspaceSize('gram', params)).map(() => 0.5 + random.normal());
    for (const [threshold, noiseStd] of [[1, 0.3], [2.5, 0.1], [0, 0.7], [1, 0]]) {
      // a packed value is √2 times its entry, whose noise std is noiseStd / √2: lowering the entry by t·noiseStd/√2 lowers the value by t·noiseStd
      const lowered = noisy.map((v) => Math.max(v - threshold * noiseStd, 0));
      expect(lowered.some((v) => v === 0) && lowered.some((v) => v > 0)).toBe(true);
      const got = applySubspace(base, noisy, 2, { ...params, threshold }, noiseStd);
      const expected = applySubspace(base, lowered, 2, { ...params, threshold: 0 }, 0);
      expect(got.report.eigenvalues).toHaveLength(params.dimensions);
      got.report.eigenvalues.forEach((l, e) => expect(l).toBeCloseTo(expected.report.eigenvalues[e], 9));
      got.V.forEach((v, i) => expect(Math.abs(v)).toBeCloseTo(Math.abs(expected.V[i]), 5));
    }
    // the default threshold applies when the params name none; the round's noise std must be a finite number ≥ 0
    expect(applySubspace(base, noisy, 2, params, 0.3).V).toEqual(applySubspace(base, noisy, 2, { ...params, threshold: DP_GRAM_THRESHOLD }, 0.3).V);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => applySubspace(base, noisy, 2, params, bad)).toThrow(RangeError);
    expect(() => applySubspace(base, noisy, 2, { ...params, threshold: -0.5 }, 0.3)).toThrow(RangeError);
  });
});
