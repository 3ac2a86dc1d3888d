import type { Random } from '../shared/random';

/**
 * Offline accuracy metrics. Pure: scores and ranks in, numbers out.
 *
 * Ranking protocol (leave-last-out, one held-out item per user). The rank of the
 * held-out item t among the candidates C (0 = first) is
 * ```
 * rank = |{ j in C : s_j > s_t }| + |{ j in C : s_j = s_t and j < t }|
 * ```
 * i.e. its position in a list sorted by score, ties broken by the smaller item
 * index, the same order as the top-k lists the evaluation writes. Then
 * ```
 * HR@K     = 1 if rank < K else 0
 * NDCG@K   = 1 / log2(rank + 2) if rank < K else 0     (one relevant item: IDCG = 1)
 * Recall@K = (held-out items ranked < K) / (held-out items)   (= HR@K with one item)
 * ```
 * averaged over users. Full ranking: C = every catalogue item the user has not
 * trained on. Sampled protocol (He et al. 2017, NCF): C = the held-out item plus
 * 99 items drawn uniformly without replacement among the items the user never
 * interacted with, from a per-user seeded generator.
 *
 * Explicit protocol: RMSE = sqrt(mean (r − r̂)²), MAE = mean |r − r̂|, with r̂
 * clipped to the rating scale.
 */

/** Position of item `target` in the score order of the candidates (see the module comment). */
export function rankAmong(scores: ArrayLike<number>, target: number, isCandidate: (item: number) => boolean): number {
  const st = scores[target];
  let rank = 0;
  for (let j = 0; j < scores.length; j++) {
    if (j === target || !isCandidate(j)) continue;
    const s = scores[j];
    if (s > st || (s === st && j < target)) rank++;
  }
  return rank;
}

/** Position of `target` among `target` plus `negatives` (same order rule as `rankAmong`). */
export function rankAmongSample(scores: ArrayLike<number>, target: number, negatives: ArrayLike<number>): number {
  const st = scores[target];
  let rank = 0;
  for (let i = 0; i < negatives.length; i++) {
    const j = negatives[i];
    const s = scores[j];
    if (s > st || (s === st && j < target)) rank++;
  }
  return rank;
}

export function hitAt(rank: number, k: number): number {
  return rank < k ? 1 : 0;
}

export function ndcgAt(rank: number, k: number): number {
  return rank < k ? 1 / Math.log2(rank + 2) : 0;
}

/** Share of held-out items ranked within the top k. */
export function recallAt(ranks: ArrayLike<number>, k: number): number {
  if (ranks.length === 0) throw new RangeError('recall needs at least one held-out item');
  let hits = 0;
  for (let i = 0; i < ranks.length; i++) if (ranks[i] < k) hits++;
  return hits / ranks.length;
}

/**
 * `count` distinct items from 0..items−1 for which `excluded` is false, uniformly
 * without replacement (rejection sampling; fine while the user has seen a small
 * share of the catalogue). Fewer when fewer exist.
 */
export function sampleNegatives(random: Random, items: number, count: number, excluded: (item: number) => boolean): Int32Array {
  const available: number[] = [];
  let free = 0;
  for (let j = 0; j < items; j++) if (!excluded(j)) free++;
  const want = Math.min(count, free);
  if (want < count || free < 4 * count) {
    for (let j = 0; j < items; j++) if (!excluded(j)) available.push(j);
    for (let i = 0; i < want; i++) {
      const k = i + random.int(available.length - i);
      [available[i], available[k]] = [available[k], available[i]];
    }
    return Int32Array.from(available.slice(0, want));
  }
  const chosen = new Set<number>();
  const out = new Int32Array(want);
  while (chosen.size < want) {
    const j = random.int(items);
    if (excluded(j) || chosen.has(j)) continue;
    out[chosen.size] = j;
    chosen.add(j);
  }
  return out;
}

const RANKING_CUTOFFS = { hr: 10, ndcg: 10, recall: 20 } as const;
export const SAMPLED_NEGATIVES = 99;

export interface RankingMetrics {
  /** Users evaluated. */
  users: number;
  hr10: number;
  ndcg10: number;
  recall20: number;
  /** Sampled protocol (held-out item among 99 sampled unseen items). */
  sampledHr10: number;
  sampledNdcg10: number;
}

/** Running means of the ranking metrics, one user at a time. */
export class RankingAccumulator {
  private n = 0;
  private sums = { hr10: 0, ndcg10: 0, recall20: 0, sampledHr10: 0, sampledNdcg10: 0 };

  /** Add one user: the full-ranking rank and the sampled rank of their held-out item. */
  add(fullRank: number, sampledRank: number): void {
    this.n++;
    this.sums.hr10 += hitAt(fullRank, RANKING_CUTOFFS.hr);
    this.sums.ndcg10 += ndcgAt(fullRank, RANKING_CUTOFFS.ndcg);
    this.sums.recall20 += hitAt(fullRank, RANKING_CUTOFFS.recall);
    this.sums.sampledHr10 += hitAt(sampledRank, RANKING_CUTOFFS.hr);
    this.sums.sampledNdcg10 += ndcgAt(sampledRank, RANKING_CUTOFFS.ndcg);
  }

  result(): RankingMetrics {
    const mean = (s: number) => (this.n === 0 ? 0 : s / this.n);
    return {
      users: this.n,
      hr10: mean(this.sums.hr10),
      ndcg10: mean(this.sums.ndcg10),
      recall20: mean(this.sums.recall20),
      sampledHr10: mean(this.sums.sampledHr10),
      sampledNdcg10: mean(this.sums.sampledNdcg10),
    };
  }
}

export interface RatingMetrics {
  /** Ratings predicted. */
  count: number;
  rmse: number;
  mae: number;
}

/** Running RMSE and MAE over (rating, prediction) pairs; predictions are clipped to [min, max]. */
export class RatingAccumulator {
  private n = 0;
  private squared = 0;
  private absolute = 0;

  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {}

  add(rating: number, prediction: number): void {
    const p = clampRating(prediction, this.min, this.max);
    const e = rating - p;
    this.n++;
    this.squared += e * e;
    this.absolute += Math.abs(e);
  }

  /** Merge another accumulator's sums (k-fold: pooled over folds). */
  merge(other: RatingAccumulator): void {
    this.n += other.n;
    this.squared += other.squared;
    this.absolute += other.absolute;
  }

  result(): RatingMetrics {
    if (this.n === 0) return { count: 0, rmse: 0, mae: 0 };
    return { count: this.n, rmse: Math.sqrt(this.squared / this.n), mae: this.absolute / this.n };
  }
}

export function clampRating(prediction: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, prediction));
}
