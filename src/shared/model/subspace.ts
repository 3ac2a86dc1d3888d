import type { Interaction } from './feedback';
import { checkItem, checkShape } from './factorize';
import { symmetricEigen } from './linalg';

/**
 * The differentially private mechanism of the federation: DP PureSVD on the
 * most-watched items, in two rounds summed under secure aggregation with
 * distributed noise. Pure functions on typed arrays; the noise is added by
 * whoever sums (the participants' Skellam shares in the real protocol, the
 * evaluation's Gaussian of the same variance in `src/eval/subspace.ts`).
 *
 * Why this and not the preconditioned optimizer of `federated.ts` under noise:
 * with 610 users and ε = 8, the signal of the whole users x items matrix (its
 * normalized rows have total energy 610, top eigenvalues 72, 31, 15, ...) is below
 * the noise of any release over all 9,742 items (spectral norm of the noise ≈
 * σ·2√items ≈ 136 at σ = 0.7): every item-sized release is mostly noise
 * (docs/eval/privacy.md). Restricting the learned part to the m most-watched
 * items (noise ≈ σ·2√m) and to a few directions (k = DP_DIMENSIONS, 12) keeps the part that survives.
 *
 * Rows. A user's row x: 1 for every watched item (preference > 0), 0 elsewhere.
 *
 * Round 1, `count` (any base): the contribution is x / |x| (one value per item,
 * L2 norm 1). The aggregator receives the noisy weighted counts c = Σ_u x̃_u + noise
 * and publishes Global_V with c⁺ = max(c, 0) in column 0 and 0 elsewhere: a
 * popularity model (a user's u solved against it scores items by c⁺).
 *
 * Round 2, `gram` (base = round 1's Global_V): S = the `topItems` rows of the
 * base with the largest norm (ties: the smaller item id), the same set for every
 * participant since the base is public. The row restricted to S is normalized,
 * x̃ = x_S / |x_S| (a user with nothing in S sends zeros), and the contribution is
 * the strict upper triangle of x̃ x̃ᵀ (the co-occurrences) with every entry
 * multiplied by √2 · w, w = 1/√(1 − 1/n) for the n watched items of S, so its L2
 * norm is w · √(|x̃ x̃ᵀ|_F² − Σ x̃_j⁴) = w · √(1 − 1/n) = 1 (fewer than 2 watched
 * items of S: zeros). The diagonal x̃_j² = 1/n is left out: it is the users'
 * counts again (round 1 has them) and takes 1/n of the norm that the
 * co-occurrences, the only part the eigenvectors need, get instead. With
 * `diagonal` true the whole upper triangle is sent (norm |x̃|² = 1, no w), as
 * before. The aggregator unpacks the noisy Gram matrix M = Σ_u w_u x̃ x̃ᵀ + noise,
 * diagonal 0 (the Analyze Gauss mechanism, Dwork et al. 2014: symmetric noise,
 * off-diagonal std σ/√2), denoises it entry by entry, M_ab ← max(M_ab − t·σ/√2, 0)
 * (t = `threshold`: the co-occurrences are ≥ 0 and most are small; at t = 1 the
 * random part of the noise's spectrum shrinks from 2σ√(m/2) to about a quarter of
 * it, for a near-constant offset on every entry; post-processing, no privacy
 * cost), and publishes Global_V with, for
 * the items of S, the top `dimensions` eigenvectors scaled by
 * λ^`power`, and 0 in every other row and column: PureSVD (Cremonesi et al.
 * 2010) restricted to S. Items outside S score 0 under every u.
 *
 * Sensitivity: every contribution has L2 norm 1 (or 0) by construction, whatever
 * the input (hostile bases, duplicate items, huge confidences: tested), so under add/remove-one-user
 * neighbours each round's sum has L2 sensitivity `SUBSPACE_SENSITIVITY` = 1; a
 * round with noise std σ is ρ = 1/(2σ²)-zCDP, and `roundNoiseStd` splits a total
 * ρ between the two rounds (`countShare` to round 1). A run's noise keeps that
 * split and scales both stds down to what the ledger's RDP accounting needs for
 * the run's ε (`runNoiseMultipliers`, `secagg/contribution.ts`).
 *
 * Sizes: round 1 items values (9,742), round 2 m(m−1)/2 (19,900 at m = 200;
 * m(m+1)/2 with the diagonal).
 */

/** L2 bound of every contribution = each round's sensitivity under add/remove one user. */
export const SUBSPACE_SENSITIVITY = 1;
/** Rounds of the mechanism (count, then gram). */
export const SUBSPACE_ROUNDS = 2;

/**
 * Defaults of the mechanism, chosen on the validation splits of five data sets at
 * total ε = 8, δ = 1e-5 (docs/eval/privacy.md): m, k, round 1's share of ρ.
 */
export const DP_TOP_ITEMS = 200;
export const DP_DIMENSIONS = 12;
export const DP_COUNT_SHARE = 0.1;
/** Global_V rows of S = eigenvectors · λ^DP_POWER (the `power` of the evaluation and the loop). */
export const DP_POWER = 0.5;
/** Round 2 sends only the co-occurrences (off-diagonal), reweighted to norm 1 (docs/eval/privacy.md). */
export const DP_GRAM_DIAGONAL = false;
/** The noisy Gram matrix's entries are lowered by DP_GRAM_THRESHOLD times their noise std, negatives to 0, before the eigendecomposition. */
export const DP_GRAM_THRESHOLD = 1;

export type SubspacePhase = 'count' | 'gram';

export interface SubspaceParams {
  items: number;
  /** Width of Global_V (the model rank); columns beyond `dimensions` are 0. */
  rank: number;
  /** k: the eigen-directions learned (≤ rank). */
  dimensions: number;
  /** m: the most-watched items the Gram matrix covers. */
  topItems: number;
  /** Round 2 sends the Gram matrix's diagonal too (default `DP_GRAM_DIAGONAL`). */
  diagonal?: boolean;
}

export interface SubspaceApplyParams extends SubspaceParams {
  /** Global_V rows of S = eigenvectors · λ^power. */
  power: number;
  /** t: each entry of the noisy Gram matrix becomes max(M_ab − t·(its noise std), 0) (default `DP_GRAM_THRESHOLD`). */
  threshold?: number;
}

/** The phase of a round (1-based): `count` first, then `gram`. */
export function subspacePhase(round: number): SubspacePhase {
  if (!(Number.isInteger(round) && round >= 1 && round <= SUBSPACE_ROUNDS)) throw new RangeError(`round must be 1 or 2, got ${round}`);
  return round === 1 ? 'count' : 'gram';
}

/** Number of values of a phase's contribution. */
export function subspaceSize(phase: SubspacePhase, params: SubspaceParams): number {
  const m = Math.min(params.topItems, params.items);
  return phase === 'count' ? params.items : gramSize(m, withDiagonal(params));
}

/**
 * Noise std of each round's sum for a total zCDP budget ρ (Δ = 1): round 1 gets
 * `countShare` of ρ, round 2 the rest; ρ_r = 1/(2σ_r²).
 */
export function roundNoiseStd(rho: number, countShare: number): Record<SubspacePhase, number> {
  if (!(rho > 0) || !(countShare > 0 && countShare < 1)) throw new RangeError(`need rho > 0 and countShare in (0, 1), got ${rho}, ${countShare}`);
  const std = (share: number): number => SUBSPACE_SENSITIVITY / Math.sqrt(2 * rho * share);
  return { count: std(countShare), gram: std(1 - countShare) };
}

/** S: the `topItems` rows of the base with the largest norm, ties to the smaller item id (ascending ids). */
export function topItemsOf(base: Float32Array, params: SubspaceParams): number[] {
  const { items, rank } = params;
  checkShape(base, items, rank, 'base');
  const norms = new Float64Array(items);
  for (let j = 0; j < items; j++) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += base[j * rank + a] ** 2;
    if (!Number.isFinite(s)) throw new RangeError(`base has a non-finite value in item row ${j}`);
    norms[j] = s;
  }
  const order = Array.from({ length: items }, (_, j) => j).sort((a, b) => norms[b] - norms[a] || a - b);
  return order.slice(0, Math.min(params.topItems, items)).sort((a, b) => a - b);
}

/** The watched items (preference > 0), deduplicated, checked against the catalogue size. */
function watched(interactions: readonly Interaction[], items: number): Set<number> {
  const out = new Set<number>();
  for (const { item, preference } of interactions) {
    checkItem(item, items);
    if (!Number.isFinite(preference)) throw new RangeError(`interaction with item ${item} has preference ${preference}; it must be a finite number`);
    if (preference > 0) out.add(item);
  }
  return out;
}

/**
 * One participant's contribution to round `round` against the public `base`
 * (see the module comment), L2 norm ≤ 1.
 */
export function subspaceContribution(base: Float32Array, interactions: readonly Interaction[], round: number, params: SubspaceParams): Float64Array {
  const phase = subspacePhase(round);
  const vector = new Float64Array(subspaceSize(phase, params));
  addSubspaceContribution(vector, phase === 'gram' ? topItemsOf(base, params) : null, interactions, params);
  return vector;
}

/**
 * The contribution added into `sum` (count phase: `top` = null; gram phase: `top`
 * = `topItemsOf(base)`), O(n_u + n_S²). Returns the L2 norm of what was added.
 */
export function addSubspaceContribution(sum: Float64Array, top: readonly number[] | null, interactions: readonly Interaction[], params: SubspaceParams): number {
  const seen = watched(interactions, params.items);
  if (top === null) {
    if (sum.length !== params.items) throw new RangeError(`the count sum must have ${params.items} values, got ${sum.length}`);
    if (seen.size === 0) return 0;
    const x = 1 / Math.sqrt(seen.size);
    for (const j of seen) sum[j] += x;
    return 1;
  }
  const m = top.length;
  const diagonal = withDiagonal(params);
  const size = gramSize(m, diagonal);
  if (sum.length !== size) throw new RangeError(`the gram sum must have ${size} values, got ${sum.length}`);
  const positions: number[] = [];
  top.forEach((j, p) => {
    if (seen.has(j)) positions.push(p);
  });
  const n = positions.length;
  if (n < (diagonal ? 1 : 2)) return 0;
  // x̃ = 1/√n on the n watched items of S: n diagonal entries 1/n and n(n − 1)/2 off-diagonal √2/n, norm² = 1/n + (n − 1)/n = 1;
  // without the diagonal the off-diagonal entries are scaled by w = √(n/(n − 1)) to norm² = 1: √2/√(n(n − 1)).
  const offDiagonal = diagonal ? Math.SQRT2 / n : Math.SQRT2 / Math.sqrt(n * (n - 1));
  for (let i = 0; i < n; i++) {
    const a = positions[i];
    if (diagonal) sum[triangleIndex(a, a, m, true)] += 1 / n;
    for (let l = i + 1; l < n; l++) sum[triangleIndex(a, positions[l], m, diagonal)] += offDiagonal;
  }
  return 1;
}

/** Values of the packed upper triangle of an m x m matrix, with or without the diagonal. */
function gramSize(m: number, diagonal: boolean): number {
  return (m * (m + (diagonal ? 1 : -1))) / 2;
}

function withDiagonal(params: SubspaceParams): boolean {
  return params.diagonal ?? DP_GRAM_DIAGONAL;
}

/** Offset of (a, b) in the row-major upper triangle of an m x m matrix: a ≤ b with the diagonal, a < b without. */
function triangleIndex(a: number, b: number, m: number, diagonal: boolean): number {
  return diagonal ? a * m - (a * (a - 1)) / 2 + (b - a) : a * m - (a * (a + 1)) / 2 + (b - a - 1);
}

export interface SubspaceReport {
  phase: SubspacePhase;
  /** Gram phase: the eigenvalues kept, largest first (count phase: empty). */
  eigenvalues: number[];
}

/**
 * The next Global_V (items x rank) from the noisy sum of round `round`'s
 * contributions against `base` (see the module comment), `noiseStd` the noise
 * std of each value of the sum (0: none). Pure.
 */
export function applySubspace(base: Float32Array, sum: Float64Array, round: number, params: SubspaceApplyParams, noiseStd: number): { V: Float32Array; report: SubspaceReport } {
  const { items, rank, dimensions: k } = params;
  if (!(Number.isInteger(k) && k >= 1 && k <= rank)) throw new RangeError(`dimensions must be an integer in [1, ${rank}], got ${k}`);
  const phase = subspacePhase(round);
  const size = subspaceSize(phase, params);
  if (sum.length !== size) throw new RangeError(`the ${phase} sum has ${sum.length} values, expected ${size}`);
  const threshold = params.threshold ?? DP_GRAM_THRESHOLD;
  if (!(threshold >= 0 && Number.isFinite(threshold)) || !(noiseStd >= 0 && Number.isFinite(noiseStd))) throw new RangeError(`threshold and noiseStd must be finite and ≥ 0, got ${threshold}, ${noiseStd}`);
  const V = new Float32Array(items * rank);
  if (phase === 'count') {
    for (let j = 0; j < items; j++) V[j * rank] = Math.max(0, sum[j]);
    return { V, report: { phase, eigenvalues: [] } };
  }
  const top = topItemsOf(base, params);
  const m = top.length;
  const diagonal = withDiagonal(params);
  const M = new Float64Array(m * m);
  // an off-diagonal entry is its packed value / √2, so its noise std is noiseStd / √2; a diagonal entry's is noiseStd
  const lower = { offDiagonal: (threshold * noiseStd) / Math.SQRT2, diagonal: threshold * noiseStd };
  for (let a = 0; a < m; a++) {
    for (let b = diagonal ? a : a + 1; b < m; b++) {
      const value = a === b ? Math.max(sum[triangleIndex(a, a, m, true)] - lower.diagonal, 0) : Math.max(sum[triangleIndex(a, b, m, diagonal)] / Math.SQRT2 - lower.offDiagonal, 0);
      M[a * m + b] = value;
      M[b * m + a] = value;
    }
  }
  const { values, vectors } = symmetricEigen(M, m);
  const eigenvalues: number[] = [];
  for (let e = 0; e < Math.min(k, m); e++) {
    const src = m - 1 - e;
    const lambda = values[src];
    if (!(lambda > 0)) break;
    eigenvalues.push(lambda);
    const scale = lambda ** params.power;
    for (let p = 0; p < m; p++) V[top[p] * rank + e] = vectors[p * m + src] * scale;
  }
  return { V, report: { phase, eigenvalues } };
}
