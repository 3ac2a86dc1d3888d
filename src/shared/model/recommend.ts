/**
 * Ranking: scores from the factors, the top K unseen items, and an optional
 * diversity re-rank (maximal marginal relevance, Carbonell & Goldstein 1998).
 */

export interface Ranked {
  item: number;
  score: number;
}

/** s_j = u·v_j for every item. */
export function scoreItems(u: Float32Array, V: Float32Array, items: number, rank: number): Float32Array {
  if (u.length !== rank || V.length !== items * rank) throw new RangeError(`u has ${u.length} values and V ${V.length}, expected ${rank} and ${items} x ${rank}`);
  const scores = new Float32Array(items);
  for (let j = 0, off = 0; j < items; j++, off += rank) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += u[a] * V[off + a];
    scores[j] = s;
  }
  return scores;
}

/** The k best items not in `exclude`, best first; ties go to the lower item id; NaN scores are skipped. */
export function topK(scores: ArrayLike<number>, k: number, exclude: ReadonlySet<number>): Ranked[] {
  const best: Ranked[] = [];
  if (k <= 0) return best;
  for (let item = 0; item < scores.length; item++) {
    const score = scores[item];
    if (Number.isNaN(score) || exclude.has(item)) continue;
    if (best.length === k && score <= best[k - 1].score) continue;
    // Insertion into a short sorted list: O(n·k) worst case, O(n) typically, k is a page of shows.
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && best[at - 1].score < score) at--;
    best.splice(at, 0, { item, score });
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * Maximal marginal relevance: repeatedly pick the candidate maximizing
 * (1 − lambda) · relevance − lambda · max similarity to the items already picked,
 * relevance being the score min-max scaled to [0, 1] over the candidates so that
 * it is comparable to a similarity in [0, 1]. lambda = 0 keeps the candidates'
 * order (pure relevance); ties keep the earlier candidate. Returns at most k.
 */
export function mmrRerank(candidates: Ranked[], k: number, lambda: number, similarity: (a: number, b: number) => number): Ranked[] {
  if (lambda < 0 || lambda > 1) throw new RangeError(`lambda must be within [0, 1], got ${lambda}`);
  const n = candidates.length;
  let min = Infinity;
  let max = -Infinity;
  for (const { score } of candidates) {
    min = Math.min(min, score);
    max = Math.max(max, score);
  }
  const span = max - min;
  const relevance = candidates.map(({ score }) => (span > 0 ? (score - min) / span : 1));
  const maxSimilarity = new Float64Array(n);
  const picked = new Uint8Array(n);
  const out: Ranked[] = [];
  while (out.length < Math.min(k, n)) {
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < n; i++) {
      if (picked[i]) continue;
      const value = (1 - lambda) * relevance[i] - lambda * maxSimilarity[i];
      if (value > bestValue) {
        best = i;
        bestValue = value;
      }
    }
    picked[best] = 1;
    out.push(candidates[best]);
    if (lambda > 0) {
      for (let i = 0; i < n; i++) {
        if (!picked[i]) maxSimilarity[i] = Math.max(maxSimilarity[i], similarity(candidates[i].item, candidates[best].item));
      }
    }
  }
  return out;
}

/**
 * Jaccard similarity |A ∩ B| / |A ∪ B| of two items' feature sets (0 when both
 * are empty). Features are opaque strings built by the catalogue, e.g. genres
 * (`genre:Dramas`) and description terms (`term:heist`), so one set covers both.
 */
export function featureSimilarity(features: Map<number, Set<string>> | ((item: number) => Set<string>)): (a: number, b: number) => number {
  const EMPTY = new Set<string>();
  const of = typeof features === 'function' ? features : (item: number) => features.get(item) ?? EMPTY;
  return (a, b) => {
    const A = of(a);
    const B = of(b);
    const [small, large] = A.size <= B.size ? [A, B] : [B, A];
    let common = 0;
    for (const f of small) if (large.has(f)) common++;
    const union = A.size + B.size - common;
    return union === 0 ? 0 : common / union;
  };
}
