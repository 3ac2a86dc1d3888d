import { describe, expect, it } from 'vitest';
import { trainCentral } from '../../../src/eval/central';
import { runInMemory } from '../../../src/eval/inmemory';
import { initialItemFactors } from '../../../src/shared/global-model';
import { gramian, solveUser, weightedLoss, type ModelParams } from '../../../src/shared/model/factorize';
import type { Interaction } from '../../../src/shared/model/feedback';
import {
  SEGMENTS,
  UNIT_SCALES,
  addContribution,
  applyAggregate,
  buildContribution,
  contributionLayout,
  layoutSize,
  type AggregateParams,
} from '../../../src/shared/model/federated';
import { createRandom } from '../../../src/shared/random';
import { clusteredUsers, randomInteractions } from './fixtures';

const items = 80;
const rank = 4;
const model: ModelParams = { rank, reg: 0.1, alpha: 5 };
const params: AggregateParams = { ...model, items, clipNorm: Number.POSITIVE_INFINITY, scales: UNIT_SCALES, step: 1, noiseStd: 0, rowThreshold: 1, curvature: 'moment', ridge: 0 };

function data(seed: number, users = 60): Interaction[][] {
  return clusteredUsers(users, items, 10, createRandom(seed)).data;
}

/** Σ_u L_u with every u solved against V. */
function totalLoss(trains: Interaction[][], V: Float32Array): number {
  const G = gramian(V, items, rank);
  return trains.reduce((acc, t) => acc + weightedLoss(solveUser(V, rank, t, model, G), V, items, rank, t, model), 0);
}

function sumOf(trains: Interaction[][], V: Float32Array, p: AggregateParams = params): Float64Array {
  const sum = new Float64Array(layoutSize(contributionLayout(items, rank)));
  for (const t of trains) addContribution(sum, V, t, p);
  return sum;
}

describe('contribution layout', () => {
  it('names its segments in order and is about one item matrix plus two items and two k x k triangles', () => {
    const layout = contributionLayout(items, rank);
    expect(layout.segments.map((s) => s.name)).toEqual([...SEGMENTS]);
    expect(layoutSize(layout)).toBe(2 * items * rank + 2 * items + 2 * ((rank * (rank + 1)) / 2) + 1);
  });
});

describe('buildContribution', () => {
  const V = initialItemFactors(items, rank, 3);
  const interactions = randomInteractions(items, 12, createRandom(4));

  it('is non-zero only in the watched rows of the per-item segments', () => {
    const { vector } = buildContribution(V, interactions, params);
    const watched = new Set(interactions.map((i) => i.item));
    const at = { gradient: 0, moment: items * rank, count: 2 * items * rank, excess: 2 * items * rank + items };
    for (let j = 0; j < items; j++) {
      const rowNonZero = (offset: number) => [0, 1, 2, 3].some((a) => vector[offset + j * rank + a] !== 0);
      expect(rowNonZero(at.gradient)).toBe(watched.has(j));
      expect(rowNonZero(at.moment)).toBe(watched.has(j));
      expect(vector[at.count + j]).toBe(watched.has(j) ? 1 : 0);
      expect(vector[at.excess + j] > 0).toBe(watched.has(j));
    }
    expect(vector.at(-1)).toBe(1);
  });

  it('is clipped as a whole: norm at most the bound, every segment scaled by the same factor', () => {
    const free = buildContribution(V, interactions, params);
    let sq = 0;
    for (const x of free.vector) sq += x * x;
    expect(free.norm).toBeCloseTo(Math.sqrt(sq), 9);
    expect(free.weight).toBe(1);
    const clipNorm = free.norm / 3;
    const clipped = buildContribution(V, interactions, { ...params, clipNorm });
    expect(clipped.weight).toBeCloseTo(1 / 3, 12);
    let clippedSq = 0;
    for (let i = 0; i < clipped.vector.length; i++) {
      clippedSq += clipped.vector[i] ** 2;
      expect(clipped.vector[i]).toBeCloseTo(free.vector[i] / 3, 12);
    }
    expect(Math.sqrt(clippedSq)).toBeLessThanOrEqual(clipNorm * (1 + 1e-12));
  });

  it('equals what addContribution accumulates, and its u is the user solved against the base', () => {
    const built = buildContribution(V, interactions, { ...params, clipNorm: 2 });
    const sum = new Float64Array(built.vector.length).fill(0.5);
    const added = addContribution(sum, V, interactions, { ...params, clipNorm: 2 });
    for (let i = 0; i < sum.length; i++) expect(sum[i] - 0.5).toBeCloseTo(built.vector[i], 12);
    expect(added.weight).toBe(built.weight);
    expect(built.u).toEqual(solveUser(V, rank, interactions, model));
  });

  it('is in score units: without regularization, the same vector for V and for 5·V', () => {
    const free = { ...params, reg: 0 };
    const a = buildContribution(V, interactions, free).vector;
    const scaled = Float32Array.from(V, (x) => 5 * x);
    const b = buildContribution(scaled, interactions, free).vector;
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 4);
  });

  it('refuses a bound that is not positive', () => {
    expect(() => buildContribution(V, interactions, { ...params, clipNorm: 0 })).toThrow(RangeError);
  });
});

describe('applyAggregate', () => {
  it('gives rows nobody watched 0 in one round, as ALS does', () => {
    const trains = data(5).map((t) => t.filter((i) => i.item !== 7));
    const V0 = initialItemFactors(items, rank, 6);
    const { V } = applyAggregate(V0, sumOf(trains, V0), trains.length, params, null);
    expect([...V.subarray(7 * rank, 8 * rank)].every((x) => Math.abs(x) < 1e-6)).toBe(true);
  });

  it('has exact ALS as its fixed point', () => {
    const trains = data(7);
    const central = trainCentral(trains, items, rank, { ...model, iterations: 300 }, initialItemFactors(items, rank, 8));
    const { V } = applyAggregate(central.V, sumOf(trains, central.V), trains.length, params, null);
    for (let i = 0; i < V.length; i++) expect(V[i]).toBeCloseTo(central.V[i], 3);
  });

  it('lowers the loss every round and gets within 2% of exact ALS in as many rounds as ALS iterations', () => {
    const trains = data(9);
    const V0 = initialItemFactors(items, rank, 10);
    const central = trainCentral(trains, items, rank, { ...model, iterations: 10 }, V0);
    const losses = [totalLoss(trains, V0)];
    runInMemory(trains, V0, { rounds: 10, params, random: createRandom(1), onRound: (_, V) => losses.push(totalLoss(trains, V)) });
    for (let r = 1; r < losses.length; r++) expect(losses[r]).toBeLessThan(losses[r - 1] * (1 + 1e-6));
    expect(losses[10]).toBeLessThan(central.loss[10] * 1.02);
  });

  it('moves with the scale of the base: without regularization, applyAggregate(5·V) = 5·applyAggregate(V) for the same sum', () => {
    const trains = data(11);
    const V0 = initialItemFactors(items, rank, 12);
    const free = { ...params, reg: 0 };
    const sum = sumOf(trains, V0, free);
    const a = applyAggregate(V0, sum, trains.length, free, null).V;
    const b = applyAggregate(Float32Array.from(V0, (x) => 5 * x), sum, trains.length, free, null).V;
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(5 * a[i], 3);
  });

  it('refuses a sum of another layout and an empty round', () => {
    const V0 = initialItemFactors(items, rank, 13);
    expect(() => applyAggregate(V0, new Float64Array(10), 1, params, null)).toThrow(RangeError);
    expect(() => applyAggregate(V0, sumOf(data(14), V0), 0, params, null)).toThrow(RangeError);
  });
});
