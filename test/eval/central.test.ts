import { describe, expect, it } from 'vitest';
import { trainCentral } from '../../src/eval/central';
import { predictExplicit, trainCentralExplicit } from '../../src/eval/explicit';
import { initialItemFactors } from '../../src/shared/global-model';
import { weightedLoss } from '../../src/shared/model/factorize';
import { scoreItems } from '../../src/shared/model/recommend';
import { createRandom } from '../../src/shared/random';
import { clusteredUsers } from '../shared/model/fixtures';

describe('trainCentral', () => {
  it('never increases the total loss, and its loss is the sum of the users\' weightedLoss', () => {
    const random = createRandom(11);
    const items = 60;
    const { data } = clusteredUsers(40, items, 8, random);
    const V0 = initialItemFactors(items, 4, 1);
    const p = { rank: 4, reg: 0.1, alpha: 5, iterations: 6 };
    const { U, V, loss } = trainCentral(data, items, 4, p, V0);
    expect(loss).toHaveLength(7);
    for (let i = 1; i < loss.length; i++) expect(loss[i]).toBeLessThanOrEqual(loss[i - 1] * (1 + 1e-6));
    expect(loss[6]).toBeLessThan(loss[0] * 0.8);
    const sum = data.reduce((acc, x, user) => acc + weightedLoss(U.subarray(user * 4, user * 4 + 4), V, items, 4, x, p), 0);
    expect(sum).toBeCloseTo(loss[6], 2);
  });

  it('is deterministic for a given initialization seed', () => {
    const { data } = clusteredUsers(20, 40, 6, createRandom(12));
    const p = { rank: 4, reg: 0.1, alpha: 5, iterations: 3 };
    const a = trainCentral(data, 40, 4, p, initialItemFactors(40, 4, 7));
    const b = trainCentral(data, 40, 4, p, initialItemFactors(40, 4, 7));
    expect(b.V).toEqual(a.V);
    expect(b.U).toEqual(a.U);
  });

  it('needs the unwatched items: it separates the user\'s taste group, watched-only training scores everything alike', () => {
    const items = 80;
    const rank = 4;
    const { data, group } = clusteredUsers(60, items, 10, createRandom(13));
    const spread = (U: Float32Array, V: Float32Array, user: number): { own: number; other: number } => {
      const scores = scoreItems(U.subarray(user * rank, (user + 1) * rank), V, items, rank);
      const watched = new Set(data[user].map((x) => x.item));
      const mean = (block: number): number => {
        let s = 0;
        let n = 0;
        for (let j = block * 40; j < block * 40 + 40; j++) if (!watched.has(j)) (s += scores[j]), n++;
        return s / n;
      };
      return { own: mean(group[user]), other: mean(1 - group[user]) };
    };

    const weighted = trainCentral(data, items, rank, { rank, reg: 0.1, alpha: 5, iterations: 8 }, initialItemFactors(items, rank, 3));
    // Watched-only: the same factorization fitting p = 1 on watched entries alone (no unwatched terms).
    const watchedOnly = trainCentralExplicit(data, items, rank, { rank, reg: 0.01, biasReg: 0.1, mean: 0, iterations: 8 }, initialItemFactors(items, rank, 3));
    for (const user of [0, 1, 2, 3]) {
      const w = spread(weighted.U, weighted.V, user);
      expect(w.own - w.other).toBeGreaterThan(0.1);
      expect(w.other).toBeLessThan(0.1);
      const userScores = { u: watchedOnly.U.subarray(user * rank, (user + 1) * rank), bias: watchedOnly.userBias[user] };
      const predictions = Array.from({ length: items }, (_, j) => predictExplicit(userScores, watchedOnly.V, j, rank, 0));
      // Every item, of either group, is predicted close to "watched": nothing separates the groups.
      expect(Math.min(...predictions)).toBeGreaterThan(0.5);
      expect(Math.max(...predictions) - Math.min(...predictions)).toBeLessThan(0.05);
    }
  });
});
