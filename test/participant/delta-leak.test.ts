import { Matrix, solve } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { initialItemFactors } from '../../src/shared/global-model';
import type { Interaction } from '../../src/shared/model/feedback';
import { trainLocal } from '../../src/shared/model/factorize';
import { createRandom } from '../../src/shared/random';
import { privatizeDelta } from '../../src/participant/train';

/**
 * What an aggregator can learn from one delta. Without noise every unwatched row
 * moves by one shared linear map (delta_j = v_j A), so fitting A by least squares
 * over all rows and ranking rows by their residual exposes the watched ones. This
 * is why the README says only DP noise hides the watched set.
 */
const ITEMS = 600;
const RANK = 8;
const WATCHED = 20;

function attack(delta: Float32Array, base: Float32Array): number[] {
  const V = new Matrix(ITEMS, RANK);
  const D = new Matrix(ITEMS, RANK);
  for (let i = 0; i < ITEMS; i++) {
    for (let k = 0; k < RANK; k++) {
      V.set(i, k, base[i * RANK + k]);
      D.set(i, k, delta[i * RANK + k]);
    }
  }
  const A = solve(V, D, true); // least squares: D ≈ V A
  const residual = D.sub(V.mmul(A));
  const scores = Array.from({ length: ITEMS }, (_, i) => residual.getRowVector(i).norm());
  return scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]).slice(0, WATCHED).map(([, i]) => i);
}

function recovered(epsilon: number, seed: number): number {
  const random = createRandom(seed);
  const base = initialItemFactors(ITEMS, RANK, seed);
  const watched = new Set<number>();
  while (watched.size < WATCHED) watched.add(random.int(ITEMS));
  const interactions: Interaction[] = [...watched].sort((a, b) => a - b).map((item) => ({ item, preference: 1, confidence: 1 + random.next() }));
  const trained = trainLocal(base, interactions, { items: ITEMS, rank: RANK, reg: 0.1, alpha: 10, epochs: 1, lr: 0.05 });
  const delta = privatizeDelta(trained.V, base, { clipNorm: 1, epsilon, delta: 1e-5, random: createRandom(seed + 1) });
  return attack(delta.values, base).filter((i) => watched.has(i)).length;
}

describe('what one delta reveals', () => {
  it('without noise, the watched rows can be read off the values', () => {
    for (const seed of [1, 2, 3]) expect(recovered(0, seed)).toBeGreaterThanOrEqual(WATCHED - 1);
  });

  it('with DP noise (epsilon 8 per delta) the same attack does little better than guessing', () => {
    const chance = (WATCHED * WATCHED) / ITEMS; // expected hits of a random guess: 0.67
    const hits = [1, 2, 3, 4, 5].map((seed) => recovered(8, seed));
    const mean = hits.reduce((a, b) => a + b, 0) / hits.length;
    expect(mean).toBeLessThan(chance + 3);
  });
});
