import type { Interaction } from '../shared/model/feedback';
import { gramian, solveUser, type ModelParams } from '../shared/model/factorize';
import { scoreItems } from '../shared/model/recommend';
import { createRandom, deriveSeed } from '../shared/random';
import { predictExplicit, solveUserExplicit, type ExplicitParams } from './explicit';
import { RankingAccumulator, RatingAccumulator, SAMPLED_NEGATIVES, rankAmong, rankAmongSample, sampleNegatives, type RankingMetrics, type RatingMetrics } from './metrics';

/**
 * Scoring models on held-out data. A model is evaluated the way a participant
 * uses it: the user's factors are solved from their own training interactions
 * against the item factors being evaluated (`solveUser`, the first step of every
 * local training), then every item is scored; the user's training items are not
 * candidates. Baselines that are not factor models pass their own scorer.
 */

export interface RankingUser {
  /** MovieLens userId. */
  userId: number;
  /** Training interactions, as the participant pipeline produced them. */
  train: Interaction[];
  /** Catalogue id of the held-out item. */
  heldOut: number;
}

export interface RatingUser {
  userId: number;
  /** Training ratings (rating in `preference`). */
  train: Interaction[];
  /** Held-out ratings. */
  test: { item: number; rating: number }[];
}

/** Scores of every item for one user (higher = better). */
export type Scorer = (user: RankingUser) => ArrayLike<number>;

/**
 * Full-ranking and sampled metrics of `scorer` over the users. The 99 sampled
 * negatives of a user come from a generator seeded by (seed, userId), so every
 * setting is measured on the same samples.
 */
export function evaluateRanking(users: readonly RankingUser[], items: number, scorer: Scorer, seed: number): RankingMetrics {
  const acc = new RankingAccumulator();
  const seen = new Uint8Array(items);
  for (const user of users) {
    for (const { item } of user.train) seen[item] = 1;
    const scores = scorer(user);
    const full = rankAmong(scores, user.heldOut, (j) => seen[j] === 0);
    const negatives = sampleNegatives(createRandom(deriveSeed(seed, `negatives:${user.userId}`)), items, SAMPLED_NEGATIVES, (j) => seen[j] === 1 || j === user.heldOut);
    acc.add(full, rankAmongSample(scores, user.heldOut, negatives));
    for (const { item } of user.train) seen[item] = 0;
  }
  return acc.result();
}

/** Scorer of a factor model: u solved against V from the user's training interactions, then s = V u. */
export function factorScorer(V: Float32Array, rank: number, params: ModelParams): Scorer {
  const items = V.length / rank;
  const gram = gramian(V, items, rank);
  return (user) => scoreItems(solveUser(V, rank, user.train, params, gram), V, items, rank);
}

/** Rating predictor for one user: item -> predicted rating. */
export type Predictor = (user: RatingUser) => (item: number) => number;

/** Add `predictor`'s errors on every held-out rating to `acc` (k-fold pools the folds); returns `acc`. */
export function accumulateRatings(users: readonly RatingUser[], predictor: Predictor, acc: RatingAccumulator): RatingAccumulator {
  for (const user of users) {
    if (user.test.length === 0) continue;
    const predict = predictor(user);
    for (const { item, rating } of user.test) acc.add(rating, predict(item));
  }
  return acc;
}

/** RMSE and MAE of `predictor` over every held-out rating; predictions clipped to [min, max]. */
export function evaluateRatings(users: readonly RatingUser[], predictor: Predictor, scale: { min: number; max: number }): RatingMetrics {
  return accumulateRatings(users, predictor, new RatingAccumulator(scale.min, scale.max)).result();
}

/** Predictor of the explicit factor model: (u, b_u) solved against V, then mean + b_u + u·v_j. */
export function explicitPredictor(V: Float32Array, params: ExplicitParams): Predictor {
  return (user) => {
    const solved = solveUserExplicit(V, params.rank, user.train, params);
    return (item) => predictExplicit(solved, V, item, params.rank, params.mean);
  };
}
