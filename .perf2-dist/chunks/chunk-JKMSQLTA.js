// src/shared/model/recommend.ts
function scoreItems(u, V, items, rank) {
  if (u.length !== rank || V.length !== items * rank) throw new RangeError(`u has ${u.length} values and V ${V.length}, expected ${rank} and ${items} x ${rank}`);
  const scores = new Float32Array(items);
  for (let j = 0, off = 0; j < items; j++, off += rank) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += u[a] * V[off + a];
    scores[j] = s;
  }
  return scores;
}
function topK(scores, k, exclude) {
  const best = [];
  if (k <= 0) return best;
  for (let item = 0; item < scores.length; item++) {
    const score = scores[item];
    if (Number.isNaN(score) || exclude.has(item)) continue;
    if (best.length === k && score <= best[k - 1].score) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && best[at - 1].score < score) at--;
    best.splice(at, 0, { item, score });
    if (best.length > k) best.pop();
  }
  return best;
}
function mmrRerank(candidates, k, lambda, similarity) {
  if (lambda < 0 || lambda > 1) throw new RangeError(`lambda must be within [0, 1], got ${lambda}`);
  const n = candidates.length;
  let min = Infinity;
  let max = -Infinity;
  for (const { score } of candidates) {
    min = Math.min(min, score);
    max = Math.max(max, score);
  }
  const span = max - min;
  const relevance = candidates.map(({ score }) => span > 0 ? (score - min) / span : 1);
  const maxSimilarity = new Float64Array(n);
  const picked = new Uint8Array(n);
  const out = [];
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
function featureSimilarity(features) {
  const EMPTY = /* @__PURE__ */ new Set();
  const of = typeof features === "function" ? features : (item) => features.get(item) ?? EMPTY;
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

export {
  scoreItems,
  topK,
  mmrRerank,
  featureSimilarity
};
//# sourceMappingURL=chunk-JKMSQLTA.js.map
