import type { Interaction } from '../shared/model/feedback';
import { checkItem, checkShape } from '../shared/model/factorize';
import { addOuterUpper, choleskyInPlace, choleskySolveInPlace, mirrorUpper, solveSymmetric } from '../shared/model/linalg';
import { invertInteractions } from './central';

/**
 * Explicit (ratings) variant, for the RMSE evaluation only; the app uses the
 * implicit model. Biased MF with the biases inside the factors, so that V keeps
 * its items x rank shape:
 * ```
 * r̂_uj = mean + b_u + x_u·v_j,   x_u = [f_u, 1],   v_j = [f_j, b_j]   (f: rank−1 factors)
 * L = Σ_u [ Σ_{j rated by u} (r_uj − r̂_uj)² + λ n_u |f_u|² + λ_b b_u² ] + Σ_j [ λ n_j |f_j|² + λ_b b_j² ]
 * ```
 * Factors get the frequency-weighted penalty of ALS-WR (Zhou et al. 2008; n_u, n_j =
 * ratings of the user, of the item), biases a constant Gaussian prior λ_b: a
 * penalty growing with n_j shrinks a popular item's bias as much as an obscure
 * one's (measured: RMSE 0.8707 → see docs/eval). `mean` is the global mean rating
 * of the training data. Interactions carry the rating in `preference`.
 *
 * Federated round (`buildExplicitContribution` / `applyExplicitAggregate`), the
 * explicit twin of `src/shared/model/federated.ts`: each user solves (f_u, b_u)
 * against the base V and contributes, for each rated item j, the residual term
 * e_uj x_u (e = r̂ − r) and the moment x_u, plus the k x k matrix n_u x_u x_uᵀ
 * and n_u. The aggregator forms g_j = Σ e x + Λ_j v_j (exact) and approximates
 * the curvature Σ_{rated j} x xᵀ + Λ_j by the item's own first moment m_j = Σ x
 * (exact) with the global covariance of x (one k x k matrix):
 * H_j ≈ n_j (X̄ − x̄ x̄ᵀ) + m_j m_jᵀ / n_j + Λ_j, then v_j ← v_j − step · H_j⁻¹ g_j.
 * The last entry of m_j is n_j (x's last entry is 1). Size: 2·items·rank +
 * rank(rank+1)/2 + 1.
 */
export interface ExplicitParams {
  rank: number;
  /** λ: factor penalty per rating. */
  reg: number;
  /** λ_b: the constant prior of each bias. */
  biasReg: number;
  /** Global mean rating. */
  mean: number;
}

export interface ExplicitUser {
  /** Length rank; the last entry is 1 (it multiplies the item bias). */
  u: Float32Array;
  /** The user bias b_u. */
  bias: number;
}

/** Predicted rating mean + b_u + u·v_item. */
export function predictExplicit(user: ExplicitUser, V: Float32Array, item: number, rank: number, mean: number): number {
  let s = mean + user.bias;
  for (let a = 0, off = item * rank; a < rank; a++) s += user.u[a] * V[off + a];
  return s;
}

/** The penalty diagonal of a row with `n` ratings: λ n on the factors, λ_b on the bias. */
function penalty(params: ExplicitParams, n: number, out: Float64Array): Float64Array {
  out.fill(params.reg * n);
  out[params.rank - 1] = params.biasReg;
  return out;
}

/**
 * The user's exact ridge solution for fixed V: unknowns [f_u, b_u], features
 * [f_j, 1], target r_uj − mean − b_j.
 */
export function solveUserExplicit(V: Float32Array, rank: number, ratings: Interaction[], params: ExplicitParams): ExplicitUser {
  const items = V.length / rank;
  const last = rank - 1;
  const A = new Float64Array(rank * rank);
  const b = new Float64Array(rank);
  const x = new Float64Array(rank);
  for (const { item, preference } of ratings) {
    const row = checkItem(item, items) * rank;
    for (let a = 0; a < last; a++) x[a] = V[row + a];
    x[last] = 1;
    const target = preference - params.mean - V[row + last];
    for (let a = 0; a < rank; a++) {
      b[a] += target * x[a];
      for (let c = a; c < rank; c++) A[a * rank + c] += x[a] * x[c];
    }
  }
  mirrorUpper(A, rank);
  const diag = penalty(params, ratings.length, new Float64Array(rank));
  for (let a = 0; a < rank; a++) A[a * rank + a] += diag[a];
  const w = solveSymmetric(A, b, rank);
  const u = Float32Array.from(w);
  u[last] = 1;
  return { u, bias: w[last] };
}

export interface ExplicitCentralResult {
  V: Float32Array;
  /** users x rank, last column 1. */
  U: Float32Array;
  userBias: Float32Array;
  /** L after the first user step, then after each iteration. Never increases. */
  loss: number[];
}

/**
 * Exact ALS: users by `solveUserExplicit`, items by ridge regression on their
 * raters, (Σ x_u x_uᵀ + Λ_j) v_j = Σ (r_uj − mean − b_u) x_u; unrated items get 0.
 */
export function trainCentralExplicit(
  users: Interaction[][],
  items: number,
  rank: number,
  params: ExplicitParams & { iterations: number },
  V0: Float32Array,
): ExplicitCentralResult {
  checkShape(V0, items, rank, 'V0');
  const V = V0.slice();
  const U = new Float32Array(users.length * rank);
  const userBias = new Float32Array(users.length);
  const byItem = invertInteractions(users, items);
  const A = new Float64Array(rank * rank);
  const b = new Float64Array(rank);
  const diag = new Float64Array(rank);
  const scratch = new Float64Array(rank);
  const loss: number[] = [];

  const solveUsers = (): void => {
    users.forEach((ratings, i) => {
      const user = solveUserExplicit(V, rank, ratings, params);
      U.set(user.u, i * rank);
      userBias[i] = user.bias;
    });
    loss.push(explicitLoss(users, U, userBias, V, rank, params));
  };
  solveUsers();
  for (let iteration = 0; iteration < params.iterations; iteration++) {
    for (let j = 0; j < items; j++) {
      const start = byItem.start[j];
      const end = byItem.start[j + 1];
      if (start === end) {
        V.fill(0, j * rank, (j + 1) * rank);
        continue;
      }
      A.fill(0);
      b.fill(0);
      for (let e = start; e < end; e++) {
        const user = byItem.user[e];
        const row = user * rank;
        addOuterUpper(A, U, row, rank, 1, scratch);
        const target = byItem.preference[e] - params.mean - userBias[user];
        for (let a = 0; a < rank; a++) b[a] += target * U[row + a];
      }
      mirrorUpper(A, rank);
      penalty(params, end - start, diag);
      for (let a = 0; a < rank; a++) A[a * rank + a] += diag[a];
      V.set(solveSymmetric(A, b, rank), j * rank);
    }
    solveUsers();
  }
  return { V, U, userBias, loss };
}

/** L(U, b, V) of the module comment. */
export function explicitLoss(users: Interaction[][], U: Float32Array, userBias: Float32Array, V: Float32Array, rank: number, params: ExplicitParams): number {
  const items = V.length / rank;
  const raters = new Float64Array(items);
  let total = 0;
  users.forEach((ratings, i) => {
    const user = { u: U.subarray(i * rank, (i + 1) * rank), bias: userBias[i] };
    for (const { item, preference } of ratings) {
      total += (preference - predictExplicit(user, V, item, rank, params.mean)) ** 2;
      raters[item]++;
    }
    for (let a = 0; a < rank - 1; a++) total += params.reg * ratings.length * user.u[a] ** 2;
    total += params.biasReg * user.bias ** 2;
  });
  for (let j = 0; j < items; j++) {
    for (let a = 0; a < rank - 1; a++) total += params.reg * raters[j] * V[j * rank + a] ** 2;
    total += params.biasReg * V[j * rank + rank - 1] ** 2;
  }
  return total;
}

/** Segment offsets of an explicit contribution: residual, moment (items x rank each), second moment (upper), ratings. */
function explicitOffsets(items: number, rank: number) {
  const moment = items * rank;
  const second = 2 * items * rank;
  return { residual: 0, moment, second, ratings: second + (rank * (rank + 1)) / 2, size: second + (rank * (rank + 1)) / 2 + 1 };
}

/** Number of values of an explicit contribution. */
export function explicitContributionSize(items: number, rank: number): number {
  return explicitOffsets(items, rank).size;
}

/** One user's explicit contribution (see the module comment) and the solved user. */
export function buildExplicitContribution(base: Float32Array, ratings: Interaction[], params: ExplicitParams): { vector: Float64Array; user: ExplicitUser } {
  const { rank } = params;
  const items = base.length / rank;
  const at = explicitOffsets(items, rank);
  const user = solveUserExplicit(base, rank, ratings, params);
  const x = new Float64Array(at.size);
  for (const { item, preference } of ratings) {
    const e = predictExplicit(user, base, item, rank, params.mean) - preference;
    for (let a = 0, row = item * rank; a < rank; a++) {
      x[at.residual + row + a] = e * user.u[a];
      x[at.moment + row + a] = user.u[a];
    }
  }
  const n = ratings.length;
  for (let a = 0, i = at.second; a < rank; a++) for (let c = a; c < rank; c++, i++) x[i] = n * user.u[a] * user.u[c];
  x[at.ratings] = n;
  return { vector: x, user };
}

/** The next explicit V from the base and the sum of the contributions (see the module comment); `step` multiplies the step. */
export function applyExplicitAggregate(base: Float32Array, sum: Float64Array, params: ExplicitParams, step: number): Float32Array {
  const { rank } = params;
  const items = base.length / rank;
  const at = explicitOffsets(items, rank);
  if (sum.length !== at.size) throw new RangeError(`the sum has ${sum.length} values, expected ${at.size}`);
  const totalRatings = sum[at.ratings];
  // Global covariance of x over ratings: X̄ − x̄x̄ᵀ, x̄ = Σ_j m_j / Σ n.
  const mean = new Float64Array(rank);
  for (let j = 0; j < items; j++) for (let a = 0; a < rank; a++) mean[a] += sum[at.moment + j * rank + a];
  const cov = new Float64Array(rank * rank);
  for (let a = 0, i = at.second; a < rank; a++) for (let c = a; c < rank; c++, i++) cov[a * rank + c] = sum[i] / totalRatings - (mean[a] * mean[c]) / totalRatings ** 2;
  mirrorUpper(cov, rank);

  const V = new Float32Array(base.length);
  const H = new Float64Array(rank * rank);
  const g = new Float64Array(rank);
  const diag = new Float64Array(rank);
  for (let j = 0; j < items; j++) {
    const row = j * rank;
    const m = sum.subarray(at.moment + row, at.moment + row + rank);
    const n = m[rank - 1];
    if (!(n > 0)) continue; // unrated: 0, as in ALS
    penalty(params, n, diag);
    for (let a = 0; a < rank; a++) {
      g[a] = sum[at.residual + row + a] + diag[a] * base[row + a];
      for (let c = 0; c < rank; c++) H[a * rank + c] = n * cov[a * rank + c] + (m[a] * m[c]) / n;
      H[a * rank + a] += diag[a];
    }
    if (!choleskyInPlace(H, rank)) {
      V.set(base.subarray(row, row + rank), row);
      continue;
    }
    choleskySolveInPlace(H, g, rank);
    for (let a = 0; a < rank; a++) V[row + a] = base[row + a] - step * g[a];
  }
  return V;
}
