import { describe, expect, it } from 'vitest';
import { initialItemFactors } from '../../../src/shared/global-model';
import type { Interaction } from '../../../src/shared/model/feedback';
import { confidenceWeight, gramian, solveUser, trainLocal, weightedLoss, type ModelParams } from '../../../src/shared/model/factorize';
import { createRandom } from '../../../src/shared/random';
import { addOuterUpper, mirrorUpper } from '../../../src/shared/model/linalg';
import { randomInteractions, randomMatrix } from './fixtures';

const params: ModelParams = { rank: 8, reg: 0.1, alpha: 10 };

/** The user's loss written out over every item, straight from the definition. */
function bruteForceLoss(u: Float32Array, V: Float32Array, items: number, rank: number, interactions: Interaction[], p: ModelParams): number {
  const byItem = new Map(interactions.map((x) => [x.item, x]));
  let total = 0;
  for (let j = 0; j < items; j++) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += u[a] * V[j * rank + a];
    const x = byItem.get(j);
    const c = x ? 1 + p.alpha * x.confidence : 1;
    total += c * ((x ? x.preference : 0) - s) ** 2;
    if (x) for (let a = 0; a < rank; a++) total += p.reg * V[j * rank + a] ** 2;
  }
  for (let a = 0; a < rank; a++) total += p.reg * u[a] ** 2;
  return total;
}

describe('gramian and solveUser', () => {
  it('gramian equals VᵀV computed entry by entry', () => {
    const V = randomMatrix(50, 6, createRandom(1));
    const G = gramian(V, 50, 6);
    for (let a = 0; a < 6; a++) {
      for (let b = 0; b < 6; b++) {
        let s = 0;
        for (let j = 0; j < 50; j++) s += V[j * 6 + a] * V[j * 6 + b];
        expect(G[a * 6 + b]).toBeCloseTo(s, 10);
      }
    }
  });

  it('gramian is bit for bit the sum of the rows\' outer products added one after another', () => {
    // 203 rows: three full blocks and a partial one; rank 7: a full group of four entries and a tail; exact zeros included
    for (const rank of [7, 32]) {
      const random = createRandom(rank);
      const V = Float32Array.from({ length: 203 * rank }, () => (random.next() < 0.1 ? 0 : random.next() * 2 - 1));
      const expected = new Float64Array(rank * rank);
      const scratch = new Float64Array(rank);
      for (let j = 0; j < 203; j++) addOuterUpper(expected, V, j * rank, rank, 1, scratch);
      mirrorUpper(expected, rank);
      expect(Buffer.from(gramian(V, 203, rank).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
  });

  it('satisfies the normal equations (Vᵀ C V + λI) u = Vᵀ C p built densely over all items', () => {
    const random = createRandom(2);
    const items = 200;
    const { rank } = params;
    const V = randomMatrix(items, rank, random);
    const interactions = randomInteractions(items, 15, random);
    const u = solveUser(V, rank, interactions, params);
    const c = new Float64Array(items).fill(1);
    const p = new Float64Array(items);
    for (const x of interactions) {
      c[x.item] = confidenceWeight(x.confidence, params.alpha);
      p[x.item] = x.preference;
    }
    let residual = 0;
    let scale = 0;
    for (let a = 0; a < rank; a++) {
      let lhs = params.reg * u[a];
      let rhs = 0;
      for (let j = 0; j < items; j++) {
        let s = 0;
        for (let b = 0; b < rank; b++) s += V[j * rank + b] * u[b];
        lhs += V[j * rank + a] * c[j] * s;
        rhs += V[j * rank + a] * c[j] * p[j];
      }
      residual += (lhs - rhs) ** 2;
      scale += rhs ** 2;
    }
    expect(Math.sqrt(residual / scale)).toBeLessThan(1e-5);
  });

  it('gives the same u with a precomputed gramian', () => {
    const random = createRandom(3);
    const V = randomMatrix(100, 8, random);
    const interactions = randomInteractions(100, 10, random);
    expect(solveUser(V, 8, interactions, params, gramian(V, 100, 8))).toEqual(solveUser(V, 8, interactions, params));
  });

  it('weightedLoss equals the loss written out over every item', () => {
    const random = createRandom(4);
    const V = randomMatrix(120, 8, random);
    const u = randomMatrix(1, 8, random, 1);
    const interactions = randomInteractions(120, 12, random);
    expect(weightedLoss(u, V, 120, 8, interactions, params)).toBeCloseTo(bruteForceLoss(u, V, 120, 8, interactions, params), 6);
  });
});

describe('trainLocal', () => {
  const items = 300;
  const rank = params.rank;
  const setup = (seed: number) => {
    const random = createRandom(seed);
    return { V: randomMatrix(items, rank, random), interactions: randomInteractions(items, 20, random) };
  };

  it('never increases the weighted loss over the epochs, and lowers it', () => {
    const { V, interactions } = setup(5);
    const { loss } = trainLocal(V, interactions, { ...params, items, epochs: 8, lr: 0.05 });
    expect(loss).toHaveLength(9);
    for (let e = 1; e < loss.length; e++) expect(loss[e]).toBeLessThanOrEqual(loss[e - 1] * (1 + 1e-6));
    expect(loss[8]).toBeLessThan(loss[0] * 0.9);
  });

  it('stays stable with a learning rate far above the stability cap', () => {
    const { V, interactions } = setup(6);
    const { loss, V: local } = trainLocal(V, interactions, { ...params, alpha: 100, items, epochs: 5, lr: 1000 });
    for (let e = 1; e < loss.length; e++) expect(loss[e]).toBeLessThanOrEqual(loss[e - 1] * (1 + 1e-6));
    expect(local.every(Number.isFinite)).toBe(true);
  });

  it('makes one epoch a plain gradient step: V_local − V = −lr ∇_V L_u at u solved on Vglobal', () => {
    const { V, interactions } = setup(7);
    const lr = 1e-3;
    const u = solveUser(V, rank, interactions, params);
    const { V: local } = trainLocal(V, interactions, { ...params, items, epochs: 1, lr });
    const byItem = new Map(interactions.map((x) => [x.item, x]));
    for (const j of [0, interactions[0].item, interactions[5].item, 150, items - 1]) {
      let s = 0;
      for (let a = 0; a < rank; a++) s += u[a] * V[j * rank + a];
      const x = byItem.get(j);
      const c = x ? 1 + params.alpha * x.confidence : 1;
      const p = x ? x.preference : 0;
      for (let a = 0; a < rank; a++) {
        const grad = 2 * c * (s - p) * u[a] + (x ? 2 * params.reg * V[j * rank + a] : 0);
        expect(local[j * rank + a] - V[j * rank + a]).toBeCloseTo(-lr * grad, 6);
      }
    }
  });

  it('keeps VᵀV exact through its closed-form updates (returned u = u solved from scratch on the local V)', () => {
    const { V, interactions } = setup(8);
    const result = trainLocal(V, interactions, { ...params, items, epochs: 4, lr: 0.05 });
    const fresh = solveUser(result.V, rank, interactions, params);
    for (let a = 0; a < rank; a++) expect(result.u[a]).toBeCloseTo(fresh[a], 4);
  });

  it('is deterministic: the same inputs give bit-identical outputs', () => {
    const V = initialItemFactors(items, rank, 42);
    const { interactions } = setup(9);
    const a = trainLocal(V, interactions, { ...params, items, epochs: 3, lr: 0.05 });
    const b = trainLocal(initialItemFactors(items, rank, 42), interactions, { ...params, items, epochs: 3, lr: 0.05 });
    expect(b.V).toEqual(a.V);
    expect(b.u).toEqual(a.u);
    expect(b.loss).toEqual(a.loss);
  });

  it('leaves V unchanged for a user with no interactions (u = 0)', () => {
    const { V } = setup(11);
    const result = trainLocal(V, [], { ...params, items, epochs: 2, lr: 0.05 });
    expect(result.V).toEqual(V);
    expect([...result.u].every((x) => x === 0)).toBe(true);
    expect(result.loss).toEqual([0, 0, 0]);
  });

  it('rejects duplicate or out-of-range items and mis-shaped matrices', () => {
    const { V } = setup(10);
    const opts = { ...params, items, epochs: 1, lr: 0.05 };
    const x = { item: 3, preference: 1, confidence: 1 };
    expect(() => trainLocal(V, [x, x], opts)).toThrow(/twice/);
    expect(() => trainLocal(V, [{ ...x, item: items }], opts)).toThrow(RangeError);
    expect(() => trainLocal(V.subarray(1), [x], opts)).toThrow(/expected 300 x 8/);
  });
});
