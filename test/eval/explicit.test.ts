import { describe, expect, it } from 'vitest';
import {
  applyExplicitAggregate,
  buildExplicitContribution,
  explicitContributionSize,
  explicitLoss,
  predictExplicit,
  solveUserExplicit,
  trainCentralExplicit,
  type ExplicitParams,
} from '../../src/eval/explicit';
import { runExplicitInMemory } from '../../src/eval/inmemory';
import { initialItemFactors } from '../../src/shared/global-model';
import type { Interaction } from '../../src/shared/model/feedback';
import { createRandom, type Random } from '../../src/shared/random';
import { randomInteractions } from '../shared/model/fixtures';

const items = 50;
const rank = 4;

/** Ratings with a user effect (u mod 3), an item effect (item mod 5) and a little noise. */
function ratingsFor(random: Random, users = 30): Interaction[][] {
  return Array.from({ length: users }, (_, u) =>
    randomInteractions(items, 10, random).map((x) => ({ item: x.item, preference: Math.min(5, Math.max(1, Math.round(3 + (u % 3) - 1 + ((x.item % 5) - 2) * 0.5 + random.normal() * 0.3))), confidence: 1 })),
  );
}

function meanOf(data: Interaction[][]): number {
  const all = data.flat();
  return all.reduce((s, x) => s + x.preference, 0) / all.length;
}

describe('explicit model', () => {
  it('trainCentralExplicit never increases the loss and beats the global mean on training RMSE', () => {
    const data = ratingsFor(createRandom(14));
    const mean = meanOf(data);
    const { U, V, userBias, loss } = trainCentralExplicit(data, items, rank, { rank, reg: 0.05, biasReg: 1, mean, iterations: 8 }, initialItemFactors(items, rank, 2));
    for (let i = 1; i < loss.length; i++) expect(loss[i]).toBeLessThanOrEqual(loss[i - 1] * (1 + 1e-6));
    let model = 0;
    let baseline = 0;
    let count = 0;
    data.forEach((ratings, user) => {
      const who = { u: U.subarray(user * rank, (user + 1) * rank), bias: userBias[user] };
      for (const r of ratings) {
        model += (r.preference - predictExplicit(who, V, r.item, rank, mean)) ** 2;
        baseline += (r.preference - mean) ** 2;
        count++;
      }
    });
    expect(Math.sqrt(model / count)).toBeLessThan(0.7 * Math.sqrt(baseline / count));
    expect(U[rank - 1]).toBe(1);
  });

  it('shrinks biases by the constant prior, not by the number of ratings', () => {
    // One item rated 5 by everyone, one item rated 5 by one user: with a penalty λ·n_j the popular item's
    // bias would shrink as much as the obscure one's; with the constant prior it keeps more of its evidence.
    const mean = 3;
    const popular = Array.from({ length: 40 }, () => [{ item: 0, preference: 5, confidence: 1 }]);
    const data = [...popular, [{ item: 1, preference: 5, confidence: 1 }]];
    const params: ExplicitParams = { rank: 2, reg: 0.1, biasReg: 2, mean };
    const { V } = trainCentralExplicit(data, 2, 2, { ...params, iterations: 10 }, new Float32Array(4));
    expect(V[1]).toBeGreaterThan(1.8);
    expect(V[3]).toBeLessThan(V[1]);
  });

  it('solveUserExplicit gives the exact ridge solution: the user loss does not fall in any direction', () => {
    const [ratings] = ratingsFor(createRandom(15));
    const V = initialItemFactors(items, rank, 3);
    const params: ExplicitParams = { rank, reg: 0.1, biasReg: 1, mean: 3 };
    const user = solveUserExplicit(V, rank, ratings, params);
    const loss = (u: Float32Array, bias: number) => explicitLoss([ratings], u, Float32Array.of(bias), V, rank, params);
    const best = loss(user.u, user.bias);
    for (let a = 0; a < rank - 1; a++) {
      for (const d of [-1e-3, 1e-3]) {
        const u = user.u.slice();
        u[a] += d;
        expect(loss(u, user.bias)).toBeGreaterThanOrEqual(best);
      }
    }
    expect(loss(user.u, user.bias + 1e-3)).toBeGreaterThanOrEqual(best);
  });
});

describe('explicit federated optimizer', () => {
  it('has 2·items·rank + rank(rank+1)/2 + 1 values', () => {
    expect(explicitContributionSize(items, rank)).toBe(2 * items * rank + 10 + 1);
    const [ratings] = ratingsFor(createRandom(16));
    expect(buildExplicitContribution(initialItemFactors(items, rank, 1), ratings, { rank, reg: 0.1, biasReg: 1, mean: 3 }).vector).toHaveLength(2 * items * rank + 11);
  });

  it('gets within 2% of the loss of exact ALS in as many rounds as ALS iterations, and exact ALS is its fixed point', () => {
    const data = ratingsFor(createRandom(17), 60);
    const params: ExplicitParams = { rank, reg: 0.05, biasReg: 1, mean: meanOf(data) };
    const V0 = initialItemFactors(items, rank, 4);
    const central = trainCentralExplicit(data, items, rank, { ...params, iterations: 200 }, V0);
    const lossOf = (V: Float32Array) => {
      const U = new Float32Array(data.length * rank);
      const bias = new Float32Array(data.length);
      data.forEach((r, i) => {
        const user = solveUserExplicit(V, rank, r, params);
        U.set(user.u, i * rank);
        bias[i] = user.bias;
      });
      return explicitLoss(data, U, bias, V, rank, params);
    };
    const losses: number[] = [];
    runExplicitInMemory(data, V0, { rounds: 10, params, step: 1, onRound: (_, V) => losses.push(lossOf(V)) });
    expect(losses[9]).toBeLessThan(central.loss[10] * 1.02);
    expect(lossOf(central.V)).toBeCloseTo(central.loss.at(-1)!, 6);
    const sum = new Float64Array(explicitContributionSize(items, rank));
    for (const r of data) buildExplicitContribution(central.V, r, params).vector.forEach((x, i) => (sum[i] += x));
    const next = applyExplicitAggregate(central.V, sum, params, 1);
    for (let i = 0; i < next.length; i++) expect(next[i]).toBeCloseTo(central.V[i], 3);
  });
});
