import type { Interaction } from './feedback';
import { confidenceWeight, gramian, solveUser, type ModelParams } from './factorize';
import { addOuterUpper, choleskyInPlace, choleskySolveInPlace, mirrorUpper, symmetricEigen } from './linalg';

/**
 * The federated optimizer: what a participant contributes to a round and how
 * the aggregator turns the SUM of the contributions into the next Global_V.
 * Everything a participant sends is meant to be summed over participants (per-
 * item counts and gradients reveal the watched set, so they travel only inside
 * the sum: secure aggregation, or a trusted aggregator), and DP noise can enter
 * the same sum. Pure functions on typed arrays.
 *
 * Model: the confidence-weighted objective of `factorize.ts`,
 * L(U, V) = Σ_u w_u L_u(u, V), with a per-user weight w_u ≤ 1 from clipping
 * (1 for every user whose contribution fits the bound).
 *
 * Round (one step of preconditioned gradient descent on V, a damped Newton step
 * per item row; the issue-16 diagnosis: plain FedAvg steps need 20–40 rounds on
 * an ill-conditioned UᵀU and a server learning rate that suits no two data sets):
 * 1. each participant solves its u exactly against the base V (`solveUser`) and
 *    builds its contribution: for each watched item j the residual term e_j u
 *    with e_j = (c_j − 1)(u·v_j) − c_j p_j, the moment (c_j − 1) u, a 1 in the
 *    count and c_j − 1 in the excess of j; the k x k outer product u uᵀ, the same
 *    times Σ_j (c_j − 1), and a weight of 1. The whole vector is clipped to
 *    L2 ≤ `clipNorm` by one factor w_u, so every segment of a user is scaled alike
 *    (the sum stays the gradient of the reweighted objective, not a mix of two).
 * 2. the aggregator receives S = Σ_u x_u and, for every item row j,
 *    ```
 *    G = Σ w u uᵀ,  n_j = Σ_{u watched j} w,  s_j = Σ_{u watched j} w (c − 1),  m_j = Σ_{u watched j} w (c − 1) u
 *    C = Σ_u w Σ_j (c_uj − 1) u uᵀ / Σ_j s_j − ū ūᵀ,   ū = Σ_j m_j / Σ_j s_j
 *    g_j = G v_j + Σ_{u watched j} w e_uj u + λ n_j v_j            (= ½ ∂L/∂v_j, exactly)
 *    P_j = G + m_j m_jᵀ / s_j + s_j C + λ n_j I                      (≈ ½ ∂²L/∂v_j²)
 *    v_j ← v_j − step · P_j⁻¹ g_j
 *    ```
 *    The exact curvature of row j is G + Σ_{u watched j} w (c_uj − 1) u uᵀ + λ n_j I,
 *    and its middle term is s_j (the weighted mean of u uᵀ over j's watchers) =
 *    m_j m_jᵀ / s_j + s_j (the covariance of u over j's watchers). A k x k matrix per
 *    item would make the upload items·k² numbers, so the covariance is the one of
 *    all interactions, C; the first moment m_j is exact. The gradient is exact, so
 *    the fixed point is exact ALS's; the approximation only changes the path. An item
 *    nobody watched has g_j = G v_j and P_j = G, so its row shrinks by (1 − step), taken
 *    directly (defined even when G is singular: fewer users than the rank). Cheaper approximations
 *    measured (docs/eval): s_j · G / W for the whole middle term diverges once
 *    alpha ≥ 5 (the watchers of an item are not the average user), a per-item
 *    diagonal too.
 *    No server learning rate is tuned per data set: the step is damped by one
 *    constant, `DEFAULT_STEP` = 0.7. Measured on the training objective: with step 1
 *    the loss on ml-latest-small falls for 6 rounds, then climbs (the global
 *    covariance underestimates the curvature of some items, whose rows overshoot);
 *    0.6–0.7 lowers it every round on every set tried, and 0.7 is as fast as exact
 *    ALS per iteration in the first rounds. The optimizer keeps no state.
 *
 * Scale. Up to its regularization the factorization is invariant under u → u/s,
 * V → sV, and magnitudes change a lot between the initialization (entries of
 * size 0.1/√k) and a trained model. Both sides measure κ = the RMS item-row norm
 * of the base V (public) and express the contribution in score units (u·v_j is
 * unchanged): ũ = κ u in the per-item and k x k segments. A clip bound then
 * means about the same in every round and on every data set.
 *
 * Layout (float64, row-major, the order of `contributionLayout`; j = the items the
 * user watched, 0 in every other item's entries):
 * ```
 * gradient   items·rank       σ_gradient · e_j ũ
 * moment     items·rank       σ_moment · (c_j − 1) ũ
 * count      items            σ_count
 * excess     items            σ_excess · (c_j − 1)
 * gram       rank(rank+1)/2   σ_gram · ũ_a ũ_b for a ≤ b (row-major upper triangle)
 * curvature  rank(rank+1)/2   σ_curvature · Σ_j (c_j − 1) · ũ_a ũ_b
 * weight     1                σ_weight
 * ```
 * then multiplied by w_u. Size at 9,742 items, rank 32: 2 · 311,744 + 2 · 9,742 +
 * 2 · 528 + 1 = 644,029 values, 2.06 times the item matrix (5.1 MB in float64;
 * the secure-aggregation encoding sends 4 bytes a value). The σ's
 * (`SegmentScales`) are public constants that share the clip budget between the
 * segments under DP noise; without noise they cancel.
 */

export const SEGMENTS = ['gradient', 'moment', 'count', 'excess', 'gram', 'curvature', 'weight'] as const;
export type SegmentName = (typeof SEGMENTS)[number];

export interface ContributionLayout {
  segments: { name: string; length: number }[];
}

/** Multipliers of each segment before clipping (the aggregator divides them out). */
export type SegmentScales = Readonly<Record<SegmentName, number>>;

/** Damping of the preconditioned step (module comment). */
export const DEFAULT_STEP = 0.7;

export const UNIT_SCALES: SegmentScales = { gradient: 1, moment: 1, count: 1, excess: 1, gram: 1, curvature: 1, weight: 1 };

/**
 * Under DP noise (the best of the measured levers, docs/eval "Privacy"): the
 * residual rows take most of the clip budget, G is sent 10 times larger (it is
 * one k x k matrix, and a noisy G wrecks every row), counts and excesses small, the
 * moment and curvature segments not at all (`curvature: 'gram'`); a ridge of 0.3
 * noise standard deviations; rows kept by plain positive-part James–Stein.
 */
export const DP_SEGMENT_SCALES: SegmentScales = { gradient: 1, moment: 0, count: 0.1, excess: 0.03, gram: 10, curvature: 0, weight: 0.3 };
export const DP_CURVATURE: AggregateParams['curvature'] = 'gram';
export const DP_RIDGE = 0.3;
export const DP_ROW_THRESHOLD = 1;

export interface FederatedParams extends ModelParams {
  items: number;
  /** L2 bound C of a whole contribution (score units, see the module comment). */
  clipNorm: number;
  scales: SegmentScales;
}

export interface AggregateParams extends FederatedParams {
  /** Multiplier of the preconditioned step (1 = the Newton-like step). */
  step: number;
  /**
   * Std of the noise added to each coordinate of the sum (0 without DP). The
   * update is post-processing of the noisy sum; with noise it shrinks each item
   * row by its estimated signal-to-noise ratio (see `applyAggregate`).
   */
  noiseStd: number;
  /**
   * Approximation of an item's watcher curvature Σ_{u watched j} (c − 1) u uᵀ: `moment`
   * (its first moment m_j, exact, with the global covariance) or `gram` (s_j times the
   * average u uᵀ, G / W: no moment or curvature segment needed).
   */
  curvature: 'moment' | 'gram';
  /** A residual row is kept when its energy exceeds this many times the noise's (then shrunk by James–Stein). */
  rowThreshold: number;
  /**
   * With noise: every item's system gets a ridge of `ridge` times the noise std
   * (score units), so that a row is not solved through a nearly singular G.
   */
  ridge: number;
}

/** The layout of a contribution for `items` x `rank` factors. */
export function contributionLayout(items: number, rank: number): ContributionLayout {
  const triangle = (rank * (rank + 1)) / 2;
  const lengths: Record<SegmentName, number> = { gradient: items * rank, moment: items * rank, count: items, excess: items, gram: triangle, curvature: triangle, weight: 1 };
  return { segments: SEGMENTS.map((name) => ({ name, length: lengths[name] })) };
}

/** Total number of values of a layout. */
export function layoutSize(layout: ContributionLayout): number {
  return layout.segments.reduce((sum, s) => sum + s.length, 0);
}

/** Start offset of each segment. */
function offsets(items: number, rank: number): Record<SegmentName, number> {
  const out = {} as Record<SegmentName, number>;
  let at = 0;
  for (const { name, length } of contributionLayout(items, rank).segments) {
    out[name as SegmentName] = at;
    at += length;
  }
  return out;
}

/** κ: the RMS row norm of V, the unit that turns u into score units (1 for an all-zero V). */
export function scoreScale(V: Float32Array, items: number, rank: number, gram?: Float64Array): number {
  const G = gram ?? gramian(V, items, rank);
  let trace = 0;
  for (let a = 0; a < rank; a++) trace += G[a * rank + a];
  const kappa = Math.sqrt(trace / Math.max(items, 1));
  return kappa > 0 ? kappa : 1;
}

export interface Contribution {
  vector: Float64Array;
  layout: ContributionLayout;
  /** The user's factors solved against the base (what the page scores Global_V with). */
  u: Float32Array;
  /** L2 norm of the vector before clipping. */
  norm: number;
  /** The clip factor w_u = min(1, clipNorm / norm). */
  weight: number;
}

/**
 * One participant's contribution to a round, already clipped to `params.clipNorm`
 * (see the module comment). `gram` = VᵀV of the base when the caller has it.
 * A user without interactions contributes only the Gram and weight segments
 * (u = 0 then, so those are 0 too apart from the weight): they still count in W.
 */
export function buildContribution(base: Float32Array, interactions: Interaction[], params: FederatedParams, gram?: Float64Array): Contribution {
  const layout = contributionLayout(params.items, params.rank);
  const vector = new Float64Array(layoutSize(layout));
  const { u, norm, weight } = addContribution(vector, base, interactions, params, gram);
  return { vector, layout, u, norm, weight };
}

/**
 * `buildContribution` accumulated straight into `sum` (sum += x_u) without
 * materializing x_u: the vector is zero outside the watched rows, so this costs
 * O(n_u·k + k²) instead of O(items·k). What the in-memory rounds use.
 */
export function addContribution(sum: Float64Array, base: Float32Array, interactions: Interaction[], params: FederatedParams, gram?: Float64Array): Omit<Contribution, 'vector' | 'layout'> {
  const { items, rank, alpha, scales } = params;
  if (!(params.clipNorm > 0)) throw new RangeError(`clipNorm must be > 0, got ${params.clipNorm}`);
  const G = gram ?? gramian(base, items, rank);
  const kappa = scoreScale(base, items, rank, G);
  const u = solveUser(base, rank, interactions, params, G);
  const at = offsets(items, rank);
  const uk = new Float64Array(rank);
  let ukSq = 0;
  for (let a = 0; a < rank; a++) {
    uk[a] = kappa * u[a];
    ukSq += uk[a] * uk[a];
  }
  // Per watched item: e_j (residual) and c_j − 1; the norm follows from them without the vector.
  const n = interactions.length;
  const residual = new Float64Array(n);
  const excess = new Float64Array(n);
  let excessTotal = 0;
  let sq = scales.weight * scales.weight;
  interactions.forEach(({ item, preference, confidence }, i) => {
    const c = confidenceWeight(confidence, alpha);
    const row = item * rank;
    let s = 0;
    for (let a = 0; a < rank; a++) s += u[a] * base[row + a];
    residual[i] = (c - 1) * s - c * preference;
    excess[i] = c - 1;
    excessTotal += c - 1;
    sq += ukSq * ((scales.gradient * residual[i]) ** 2 + (scales.moment * excess[i]) ** 2) + scales.count ** 2 + (scales.excess * excess[i]) ** 2;
  });
  let triangleSq = 0;
  for (let a = 0; a < rank; a++) for (let b = a; b < rank; b++) triangleSq += (uk[a] * uk[b]) ** 2;
  sq += triangleSq * (scales.gram ** 2 + (scales.curvature * excessTotal) ** 2);
  const norm = Math.sqrt(sq);
  const weight = Math.min(1, params.clipNorm / norm);

  interactions.forEach(({ item }, i) => {
    const row = item * rank;
    const e = weight * scales.gradient * residual[i];
    const m = weight * scales.moment * excess[i];
    for (let a = 0; a < rank; a++) {
      sum[at.gradient + row + a] += e * uk[a];
      sum[at.moment + row + a] += m * uk[a];
    }
    sum[at.count + item] += weight * scales.count;
    sum[at.excess + item] += weight * scales.excess * excess[i];
  });
  for (let a = 0, i = 0; a < rank; a++) {
    for (let b = a; b < rank; b++, i++) {
      sum[at.gram + i] += weight * scales.gram * uk[a] * uk[b];
      sum[at.curvature + i] += weight * scales.curvature * excessTotal * uk[a] * uk[b];
    }
  }
  sum[at.weight] += weight * scales.weight;
  return { u, norm, weight };
}

/** Optimizer state kept by the aggregator between rounds: none (the step is stateless). */
export type OptimizerState = null;

export interface AggregateReport {
  /** W: the sum of the users' clip weights (noisy under DP). */
  weight: number;
  /** Items whose row was set from a positive count. */
  itemsWithCount: number;
  /** Item rows whose P_j was not positive definite (left unchanged). */
  singularItems: number;
  /** Residual rows kept by the denoising (all without noise). */
  keptRows: number;
}

/**
 * The next Global_V from the base and the SUM of `count` contributions (see the
 * module comment for the update). Pure: `sum` is not modified.
 *
 * With noise in the sum (`noiseStd` > 0) the update is post-processing of the
 * noisy sum, so it costs no privacy:
 * - the residual rows R_j (items x rank) are denoised twice: per direction, in
 *   the eigenbasis of Σ_j R_j R_jᵀ, each direction keeps the share
 *   max(0, 1 − items σ² / eigenvalue) of its energy that is not noise; then each
 *   row is kept only when its energy exceeds `rowThreshold` times the noise energy
 *   left in it, and shrunk by positive-part James–Stein. Most items have few
 *   watchers; without this their rows are pure noise, and noise rows outrank
 *   the real ones.
 * - G, a noisy symmetric matrix, is projected onto the positive semidefinite cone
 *   (so is the covariance; both also without noise, where the fixed-point rounding
 *   of a secure sum can make them slightly indefinite).
 * - counts and excesses are clamped at 0;
 * - every item's system gets a ridge of `ridge` times the noise std: a noisy
 *   row solved through a nearly singular G (tiny in the first rounds, when the
 *   users' factors against the initialization are small) would blow up.
 */
export function applyAggregate(
  base: Float32Array,
  sum: Float64Array,
  count: number,
  params: AggregateParams,
  state: OptimizerState,
): { V: Float32Array; state: OptimizerState; report: AggregateReport } {
  const { items, rank, reg, scales } = params;
  const layout = contributionLayout(items, rank);
  if (sum.length !== layoutSize(layout)) throw new RangeError(`the sum has ${sum.length} values, the layout for ${items} x ${rank} has ${layoutSize(layout)}`);
  if (!(count >= 1)) throw new RangeError(`count must be at least 1, got ${count}`);
  const needed: SegmentName[] = params.curvature === 'moment' ? [...SEGMENTS] : ['gradient', 'count', 'excess', 'gram', 'weight'];
  for (const name of needed) if (!(scales[name] > 0)) throw new RangeError(`segment ${name} has scale ${scales[name]}; curvature '${params.curvature}' needs it above 0`);
  const at = offsets(items, rank);
  const Gbase = gramian(base, items, rank);
  const kappa = scoreScale(base, items, rank, Gbase);

  // Back to V units (module comment): ũ = κ u, so residual and moment rows / κ, k x k sums / κ².
  const k2 = kappa * kappa;
  const R = new Float64Array(items * rank);
  for (let i = 0; i < R.length; i++) R[i] = sum[at.gradient + i] / scales.gradient;
  const byMoment = params.curvature === 'moment';
  const m = new Float64Array(items * rank);
  if (byMoment) for (let i = 0; i < m.length; i++) m[i] = sum[at.moment + i] / (scales.moment * kappa);
  const n = new Float64Array(items);
  const s = new Float64Array(items);
  let excessTotal = 0;
  for (let j = 0; j < items; j++) {
    n[j] = Math.max(0, sum[at.count + j] / scales.count);
    s[j] = Math.max(0, sum[at.excess + j] / scales.excess);
    excessTotal += s[j];
  }
  const G = triangleOf(sum, at.gram, rank, scales.gram * k2);
  const M = byMoment ? triangleOf(sum, at.curvature, rank, scales.curvature * k2) : new Float64Array(rank * rank);
  let keptRows = items;
  if (params.noiseStd > 0) keptRows = denoiseRows(R, items, rank, params.noiseStd / scales.gradient, params.rowThreshold);
  // G and the covariance are positive semidefinite by construction; the noise or the
  // fixed-point rounding of a secure sum can break that (a no-op on an exact sum).
  projectPsd(G, rank);
  // Covariance of u over the interactions, weighted by c − 1: Ū − ū ūᵀ.
  const mean = new Float64Array(rank);
  const cov = new Float64Array(rank * rank);
  const measuredWeight = sum[at.weight] / scales.weight;
  if (byMoment && excessTotal > 0) {
    for (let j = 0; j < items; j++) for (let a = 0; a < rank; a++) mean[a] += m[j * rank + a];
    for (let a = 0; a < rank; a++) mean[a] /= excessTotal;
    for (let a = 0; a < rank; a++) for (let b = 0; b < rank; b++) cov[a * rank + b] = M[a * rank + b] / excessTotal - mean[a] * mean[b];
    projectPsd(cov, rank);
  } else if (!byMoment) {
    // The average u uᵀ, G / W, stands for every item's watchers (W: the weight sum; noise can make it implausible, the count is exact).
    const W = measuredWeight > 0 ? measuredWeight : count;
    for (let i = 0; i < cov.length; i++) cov[i] = G[i] / W;
  }

  const noiseRidge = (params.ridge * params.noiseStd) / (scales.gradient * k2);
  const V = new Float32Array(base.length);
  const P = new Float64Array(rank * rank);
  const g = new Float64Array(rank);
  let itemsWithCount = 0;
  let singularItems = 0;
  for (let j = 0; j < items; j++) {
    const row = j * rank;
    const nj = n[j];
    const sj = s[j];
    if (nj > 0) itemsWithCount++;
    else {
      // Nobody watched j: g_j = G v_j and P_j = G, so the step is v_j itself whenever G is
      // invertible. Taken directly, it stays defined when G is not (fewer users than the
      // rank, or a G blurred by quantization): the row decays towards 0, as in ALS.
      for (let a = 0; a < rank; a++) V[row + a] = (1 - params.step) * base[row + a];
      continue;
    }
    for (let a = 0; a < rank; a++) {
      let gv = 0;
      for (let b = 0; b < rank; b++) gv += G[a * rank + b] * base[row + b];
      g[a] = gv + R[row + a] / kappa + reg * nj * base[row + a];
      // the lower triangle only: choleskyInPlace reads nothing above the diagonal
      for (let b = 0; b <= a; b++) P[a * rank + b] = G[a * rank + b] + sj * cov[a * rank + b] + (byMoment && sj > 0 ? (m[row + a] * m[row + b]) / sj : 0);
      P[a * rank + a] += reg * nj + noiseRidge;
    }
    if (!choleskyInPlace(P, rank)) {
      singularItems++;
      for (let a = 0; a < rank; a++) V[row + a] = base[row + a];
      continue;
    }
    choleskySolveInPlace(P, g, rank);
    for (let a = 0; a < rank; a++) V[row + a] = base[row + a] - params.step * g[a];
  }
  return { V, state, report: { weight: measuredWeight, itemsWithCount, singularItems, keptRows } };
}

/**
 * Denoise the rows of R (items x rank) carrying i.i.d. N(0, σ²) noise, in place
 * (see `applyAggregate`); returns the number of rows kept.
 */
function denoiseRows(R: Float64Array, items: number, rank: number, sigma: number, rowThreshold: number): number {
  const M = new Float64Array(rank * rank);
  const scratch = new Float64Array(rank);
  for (let j = 0; j < items; j++) addOuterUpper(M, R, j * rank, rank, 1, scratch);
  mirrorUpper(M, rank);
  const { values, vectors: Q } = symmetricEigen(M, rank);
  const noiseEnergy = items * sigma * sigma;
  const keep = Float64Array.from(values, (v) => (v > 0 ? Math.max(0, 1 - noiseEnergy / v) : 0));
  let residualNoise = 0;
  for (let a = 0; a < rank; a++) residualNoise += keep[a] * keep[a] * sigma * sigma;
  const y = new Float64Array(rank);
  let kept = 0;
  for (let j = 0; j < items; j++) {
    const row = j * rank;
    // y = diag(keep) Qᵀ r, r ← Q y
    for (let a = 0; a < rank; a++) {
      let s = 0;
      for (let b = 0; b < rank; b++) s += Q[b * rank + a] * R[row + b];
      y[a] = keep[a] * s;
    }
    let energy = 0;
    for (let a = 0; a < rank; a++) energy += y[a] * y[a];
    const factor = energy > rowThreshold * residualNoise ? 1 - residualNoise / energy : 0;
    if (factor > 0) kept++;
    for (let b = 0; b < rank; b++) {
      let s = 0;
      for (let a = 0; a < rank; a++) s += Q[b * rank + a] * y[a];
      R[row + b] = factor * s;
    }
  }
  return kept;
}

/** Replace a symmetric matrix by its nearest positive semidefinite one (negative eigenvalues set to 0), in place. */
function projectPsd(A: Float64Array, rank: number): void {
  const { values, vectors: Q } = symmetricEigen(A, rank);
  A.fill(0);
  for (let e = 0; e < rank; e++) {
    const v = values[e];
    if (!(v > 0)) continue;
    for (let a = 0; a < rank; a++) for (let b = 0; b < rank; b++) A[a * rank + b] += v * Q[a * rank + e] * Q[b * rank + e];
  }
}

/** The symmetric k x k matrix stored as the upper triangle at `offset` of `sum`, divided by `divisor`. */
function triangleOf(sum: Float64Array, offset: number, rank: number, divisor: number): Float64Array {
  const A = new Float64Array(rank * rank);
  for (let a = 0, i = offset; a < rank; a++) for (let b = a; b < rank; b++, i++) A[a * rank + b] = sum[i] / divisor;
  mirrorUpper(A, rank);
  return A;
}
