import { CholeskyDecomposition, Matrix, solve } from 'ml-matrix';
import type { Interaction } from './feedback';

/**
 * Confidence-weighted matrix factorization for implicit feedback (Hu, Koren &
 * Volinsky 2008), trained federated (Ammad-ud-din et al. 2019, "Federated
 * Collaborative Filtering") or centrally as a baseline. Pure math on typed
 * arrays: V is Float32Array row-major items x rank, a user vector u is
 * Float32Array(rank); k x k systems are solved with ml-matrix.
 *
 * The objective over users U and items V is
 * ```
 * L(U, V) = Σ_u L_u(u, V)
 * L_u(u, V) = Σ_{all items j} c_uj (p_uj − u·v_j)²  +  λ |u|²  +  λ Σ_{j watched by u} |v_j|²
 * c_uj = 1 + alpha · confidence_uj, p_uj = preference_uj  for the user's interactions,
 * c_uj = 1,                         p_uj = 0               for every other item.
 * ```
 * Item regularization is split across users the only way a participant can do
 * without knowing how many others exist: each user regularizes the rows of the
 * items they watched, so item j's total penalty is λ·n_j·|v_j|² with n_j its
 * number of watchers (the frequency-weighted regularization of ALS-WR, Zhou et
 * al. 2008). `trainCentral` minimizes exactly this L, so it is the same model.
 *
 * Federated round and the server learning rate. A participant starts from
 * Global_V, runs `trainLocal` and publishes Δ_u = V_local − Global_V. With one
 * epoch, Δ_u = −η_u ∇_V L_u(u, Global_V), η_u = min(lr, the user's stability cap;
 * see `trainLocal`). The aggregator's FedAvg, V ← V + S · mean_u Δ_u, is then a
 * gradient step of size S·η on the *mean* objective L/N: the mean of per-user
 * gradients is 1/N of the full gradient, so one full-batch step of size γ on L
 * would need S = γ·N/η. The mean objective's curvature in item row j is
 * 2·mean_u(c_uj u uᵀ) + 2λ·n_j/N, large for popular items and about 2·mean_u(u uᵀ)
 * for the long tail; η_u is already capped by the user's stiffest row, so S = 1
 * is stable but barely moves the tail. A server step S of 10–30 is needed.
 * Measured on MovieLens latest-small (leave-last-out, full ranking, HR@10, rank 32,
 * alpha 5, λ 0.1, 1 local epoch with η at the cap, all 610 users every round,
 * uniform confidence; popularity 0.043,
 * `trainCentral` 10 iterations 0.072):
 *   S = 1:  0.049 after 10 rounds, 0.043 after 40 (stuck near popularity)
 *   S = 10: 0.067 after 10 rounds, 0.072 after 40
 *   S = 30: 0.069 after 10 rounds, 0.074 after 15–20, 0.069 after 30
 *   FedAdam (Reddi et al. 2021) on −mean_u Δ_u, server lr 0.01: 0.066 after 40 — no gain.
 * and with the app defaults alpha 10, lr 0.05 (the cap binds for every user: at
 * the central solution it ranges 0.0008–0.03, median 0.007):
 *   S = 30, 1 epoch:  0.061 after 10 rounds, 0.071 after 20 (`trainCentral`: 0.064)
 *   S = 10, 5 epochs: 0.048 after 10 rounds, 0.056 after 20 — more local epochs do not help.
 * So: 1 local epoch, server step V[i] += S · Σ_u w_u Δ_u[i] / Σ_u w_u with S ≈ 10–30.
 */

export interface ModelParams {
  rank: number;
  /** λ, the L2 weight of user and (per watcher) item factors. */
  reg: number;
  /** Confidence scale: c = 1 + alpha · confidence. */
  alpha: number;
}

interface LocalTrainOptions extends ModelParams {
  epochs: number;
  /** Gradient step on the item factors, capped per user for stability (see `trainLocal`). */
  lr: number;
  items: number;
  /** VᵀV of Vglobal when the caller has it (the simulator trains many users from one Vglobal). */
  gram?: Float64Array;
}

interface LocalTrainResult {
  /** The user's factors solved against the local V after training. */
  u: Float32Array;
  /** The local item factors after training. */
  V: Float32Array;
  /** L_u per epoch; the first is before training (u solved against Vglobal). */
  loss: number[];
}

interface CentralParams extends ModelParams {
  iterations: number;
}

interface CentralTrainResult {
  V: Float32Array;
  /** users x rank. */
  U: Float32Array;
  /** L(U, V) after the first user step, then after each iteration. Never increases. */
  loss: number[];
}

/** c = 1 + alpha · confidence, the weight of an interaction. */
export function confidenceWeight(confidence: number, alpha: number): number {
  return 1 + alpha * confidence;
}

/** VᵀV (rank x rank, float64) of a row-major items x rank matrix. */
export function gramian(V: Float32Array, items: number, rank: number): Float64Array {
  checkShape(V, items, rank, 'V');
  const G = new Float64Array(rank * rank);
  const scratch = new Float64Array(rank);
  for (let i = 0; i < items; i++) addOuterUpper(G, V, i * rank, rank, 1, scratch);
  mirrorUpper(G, rank);
  return G;
}

/**
 * The user's exact least-squares factors for fixed V, using the VᵀV trick:
 * (VᵀV + Vᵀ(C − I)V + λI) u = Vᵀ C p, where only watched items contribute to the
 * correction and the right side, so the cost is O(n_u·k² + k³) given `gram` = VᵀV.
 */
export function solveUser(V: Float32Array, rank: number, interactions: Interaction[], params: ModelParams, gram?: Float64Array): Float32Array {
  const items = V.length / rank;
  const A = gram ? gram.slice() : gramian(V, items, rank);
  const b = new Float64Array(rank);
  const scratch = new Float64Array(rank);
  for (const { item, preference, confidence } of interactions) {
    const row = checkItem(item, items) * rank;
    const c = confidenceWeight(confidence, params.alpha);
    // A starts full (symmetric); corrections go to the upper triangle, mirrored below.
    addOuterUpper(A, V, row, rank, c - 1, scratch);
    for (let a = 0; a < rank; a++) b[a] += c * preference * V[row + a];
  }
  mirrorUpper(A, rank);
  for (let a = 0; a < rank; a++) A[a * rank + a] += params.reg;
  return Float32Array.from(solveSymmetric(A, b, rank));
}

/** L_u(u, V): the user's share of the objective (see the module comment). O(items·k). */
export function weightedLoss(u: Float32Array, V: Float32Array, items: number, rank: number, interactions: Interaction[], params: ModelParams): number {
  checkShape(V, items, rank, 'V');
  const scores = new Float64Array(items);
  computeScores(Float64Array.from(u), V, items, rank, scores);
  return userLoss(u, V, rank, scores, interactions, params);
}

/**
 * One participant's federated update (Ammad-ud-din et al. 2019): u is solved
 * exactly against the local V, then V takes a gradient step of L_u over ALL items
 * (unwatched rows have c = 1, p = 0, so their gradient is 2 (u·v_j) u), `epochs`
 * times. Each step is O(items·k + n_u·k² + k³): VᵀV is updated in closed form
 * instead of recomputed, because every unwatched row moves by the same k x k map
 * (I − 2η u uᵀ). The step is η = min(lr, 1 / (2 (c_max |u|² + λ))), the second
 * term being the inverse of the largest curvature of L_u in any item row, so
 * the loss never increases whatever lr and alpha are.
 *
 * Privacy: every unwatched row ends as v_j·M for one k x k matrix M (the product
 * of the per-epoch maps), so in a delta without noise the rows that do not fit
 * that pattern are exactly the watched items. Publishing every row does not hide
 * the watched set by itself; the Gaussian noise of `privacy.ts` does.
 */
export function trainLocal(Vglobal: Float32Array, interactions: Interaction[], options: LocalTrainOptions): LocalTrainResult {
  const { items, rank, reg, alpha, epochs, lr } = options;
  checkShape(Vglobal, items, rank, 'Vglobal');
  const V = Vglobal.slice();
  const G = options.gram ? options.gram.slice() : gramian(V, items, rank);
  const n = interactions.length;
  const rows = new Int32Array(n);
  const weights = new Float64Array(n);
  let maxWeight = 1;
  const seen = new Set<number>();
  interactions.forEach(({ item, confidence }, i) => {
    if (seen.has(item)) throw new RangeError(`item ${item} appears twice in the interactions; give one Interaction per item`);
    seen.add(item);
    rows[i] = checkItem(item, items) * rank;
    weights[i] = confidenceWeight(confidence, alpha);
    maxWeight = Math.max(maxWeight, weights[i]);
  });
  const oldRows = new Float64Array(n * rank);
  const scores = new Float64Array(items);
  const scratch = new Float64Array(rank);
  const loss: number[] = [];

  let u = solveUser(V, rank, interactions, options, G);
  const u64 = new Float64Array(rank);
  for (let epoch = 0; ; epoch++) {
    u64.set(u);
    computeScores(u64, V, items, rank, scores);
    loss.push(userLoss(u, V, rank, scores, interactions, options));
    if (epoch === epochs) break;

    let uNormSq = 0;
    for (let a = 0; a < rank; a++) uNormSq += u64[a] * u64[a];
    const eta = Math.min(lr, 1 / (2 * (maxWeight * uNormSq + reg)));

    // Remove the watched rows from VᵀV; they are added back after their own update.
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < rank; a++) oldRows[i * rank + a] = V[rows[i] + a];
      addOuterUpper(G, V, rows[i], rank, -1, scratch);
    }
    mirrorUpper(G, rank);
    // Every row as if unwatched: v_j ← v_j − 2η (u·v_j) u, i.e. V ← V (I − 2η u uᵀ).
    for (let j = 0, off = 0; j < items; j++, off += rank) {
      const step = 2 * eta * scores[j];
      for (let a = 0; a < rank; a++) V[off + a] -= step * u64[a];
    }
    transformGramian(G, u64, 2 * eta, rank);
    // Watched rows: v_j ← v_j − η (2 c (u·v_j − p) u + 2λ v_j), from their old values.
    for (let i = 0; i < n; i++) {
      const { preference, item } = interactions[i];
      const err = weights[i] * (scores[item] - preference);
      for (let a = 0; a < rank; a++) {
        const old = oldRows[i * rank + a];
        V[rows[i] + a] = old - 2 * eta * (err * u64[a] + reg * old);
      }
      addOuterUpper(G, V, rows[i], rank, 1, scratch);
    }
    mirrorUpper(G, rank);
    u = solveUser(V, rank, interactions, options, G);
  }
  return { u, V, loss };
}

/**
 * Exact alternating least squares on L(U, V) over all users: the centralized
 * baseline of the same model. Each iteration solves every user for fixed V, then
 * every item for fixed U with (UᵀU + Σ_{u watched j} (c_uj − 1) u uᵀ + λ n_j I) v_j
 * = Σ c_uj p_uj u; items nobody watched get v_j = 0. Cost per iteration
 * O(nnz·k² + (users + items)·k³). Deterministic given V0.
 */
export function trainCentral(users: Interaction[][], items: number, rank: number, params: CentralParams, V0: Float32Array): CentralTrainResult {
  checkShape(V0, items, rank, 'V0');
  const V = V0.slice();
  const U = new Float32Array(users.length * rank);
  const byItem = invertInteractions(users, items);
  const A = new Float64Array(rank * rank);
  const b = new Float64Array(rank);
  const scratch = new Float64Array(rank);
  const loss: number[] = [];

  const solveUsers = (): void => {
    const G = gramian(V, items, rank);
    users.forEach((interactions, user) => U.set(solveUser(V, rank, interactions, params, G), user * rank));
  };
  solveUsers();
  loss.push(totalLoss(U, V, users, items, rank, params));
  for (let iteration = 0; iteration < params.iterations; iteration++) {
    const GU = gramian(U, users.length, rank);
    for (let j = 0; j < items; j++) {
      const start = byItem.start[j];
      const end = byItem.start[j + 1];
      if (start === end) {
        V.fill(0, j * rank, (j + 1) * rank);
        continue;
      }
      A.set(GU);
      b.fill(0);
      for (let e = start; e < end; e++) {
        const row = byItem.user[e] * rank;
        const c = confidenceWeight(byItem.confidence[e], params.alpha);
        addOuterUpper(A, U, row, rank, c - 1, scratch);
        for (let a = 0; a < rank; a++) b[a] += c * byItem.preference[e] * U[row + a];
      }
      mirrorUpper(A, rank);
      for (let a = 0; a < rank; a++) A[a * rank + a] += params.reg * (end - start);
      V.set(solveSymmetric(A, b, rank), j * rank);
    }
    solveUsers();
    loss.push(totalLoss(U, V, users, items, rank, params));
  }
  return { V, U, loss };
}

/**
 * Explicit (ratings) variant, for RMSE evaluation only; the app uses the implicit
 * model. Biased MF with the biases inside the factors so that the federated delta
 * keeps its items x rank shape:
 * ```
 * r̂_uj = mean + b_u + u·v_j,   u[rank−1] = 1 (fixed),   v_j[rank−1] = b_j (the item bias)
 * L_u = Σ_{j rated by u} (r_uj − r̂_uj)²  +  λ (|u[0..rank−2]|² + b_u²)  +  λ Σ_{j rated by u} |v_j|²
 * ```
 * Only rated items enter the loss (no unobserved terms), so an explicit delta is
 * non-zero only in rated rows; that is acceptable for an offline evaluation, not
 * for publishing. `mean` is the global mean rating, given by the caller.
 * Interactions carry the rating in `preference`; `confidence` is ignored.
 */
export interface ExplicitParams {
  rank: number;
  reg: number;
  /** Global mean rating. */
  mean: number;
}

interface ExplicitUser {
  /** Length rank; the last entry is 1 (it multiplies the item bias). */
  u: Float32Array;
  /** The user bias b_u. */
  bias: number;
}

interface ExplicitLocalOptions extends ExplicitParams {
  epochs: number;
  lr: number;
  items: number;
}

interface ExplicitLocalResult extends ExplicitUser {
  V: Float32Array;
  /** L_u per epoch; the first is before training. */
  loss: number[];
}

interface ExplicitCentralResult {
  V: Float32Array;
  /** users x rank, last column 1. */
  U: Float32Array;
  userBias: Float32Array;
  /** Σ_u L_u after the first user step, then after each iteration. Never increases. */
  loss: number[];
}

/** Predicted rating mean + b_u + u·v_item. */
export function predictExplicit(user: ExplicitUser, V: Float32Array, item: number, rank: number, mean: number): number {
  let s = mean + user.bias;
  for (let a = 0, off = item * rank; a < rank; a++) s += user.u[a] * V[off + a];
  return s;
}

/**
 * The user's exact ridge solution for fixed V: unknowns [u[0..rank−2], b_u],
 * features [v_j[0..rank−2], 1], target r_uj − mean − b_j.
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
  for (let a = 0; a < rank; a++) A[a * rank + a] += params.reg;
  const w = solveSymmetric(A, b, rank);
  const u = Float32Array.from(w);
  u[last] = 1;
  return { u, bias: w[last] };
}

/**
 * The explicit counterpart of `trainLocal`: solve the user, then gradient steps
 * on the rated rows only, v_j ← v_j − η (−2 e_uj u + 2λ v_j), with η = min(lr,
 * 1 / (2 (|u|² + λ))) so the loss never increases.
 */
export function trainLocalExplicit(Vglobal: Float32Array, ratings: Interaction[], options: ExplicitLocalOptions): ExplicitLocalResult {
  const { items, rank, reg, epochs, lr } = options;
  checkShape(Vglobal, items, rank, 'Vglobal');
  const V = Vglobal.slice();
  const loss: number[] = [];
  let user = solveUserExplicit(V, rank, ratings, options);
  for (let epoch = 0; ; epoch++) {
    loss.push(explicitUserLoss(user, V, rank, ratings, options));
    if (epoch === epochs) break;
    let uNormSq = 0;
    for (let a = 0; a < rank; a++) uNormSq += user.u[a] * user.u[a];
    const eta = Math.min(lr, 1 / (2 * (uNormSq + reg)));
    const errors = ratings.map(({ item, preference }) => preference - predictExplicit(user, V, item, rank, options.mean));
    ratings.forEach(({ item }, i) => {
      for (let a = 0, off = item * rank; a < rank; a++) V[off + a] -= 2 * eta * (reg * V[off + a] - errors[i] * user.u[a]);
    });
    user = solveUserExplicit(V, rank, ratings, options);
  }
  return { ...user, V, loss };
}

/**
 * Exact ALS for the explicit variant: users by `solveUserExplicit`, items by
 * ridge regression on their raters, (Σ u uᵀ + λ n_j I) v_j = Σ (r_uj − mean − b_u) u
 * (u's last entry 1 makes v_j's last entry the item bias); unrated items get 0.
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
  const scratch = new Float64Array(rank);
  const loss: number[] = [];

  const solveUsers = (): number => {
    let total = 0;
    users.forEach((ratings, i) => {
      const user = solveUserExplicit(V, rank, ratings, params);
      U.set(user.u, i * rank);
      userBias[i] = user.bias;
      total += explicitUserLoss(user, V, rank, ratings, params);
    });
    return total;
  };
  loss.push(solveUsers());
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
      for (let a = 0; a < rank; a++) A[a * rank + a] += params.reg * (end - start);
      V.set(solveSymmetric(A, b, rank), j * rank);
    }
    loss.push(solveUsers());
  }
  return { V, U, userBias, loss };
}

function explicitUserLoss(user: ExplicitUser, V: Float32Array, rank: number, ratings: Interaction[], params: ExplicitParams): number {
  let total = params.reg * user.bias * user.bias;
  for (let a = 0; a < rank - 1; a++) total += params.reg * user.u[a] * user.u[a];
  for (const { item, preference } of ratings) {
    const e = preference - predictExplicit(user, V, item, rank, params.mean);
    total += e * e;
    for (let a = 0, off = item * rank; a < rank; a++) total += params.reg * V[off + a] * V[off + a];
  }
  return total;
}

/** L_u from precomputed scores s_j = u·v_j: Σ_all s² + Σ_watched (c (p − s)² − s² + λ|v|²) + λ|u|². */
function userLoss(u: Float32Array, V: Float32Array, rank: number, scores: Float64Array, interactions: Interaction[], params: ModelParams): number {
  let total = 0;
  for (let j = 0; j < scores.length; j++) total += scores[j] * scores[j];
  for (const { item, preference, confidence } of interactions) {
    const s = scores[item];
    const c = confidenceWeight(confidence, params.alpha);
    total += c * (preference - s) ** 2 - s * s;
    for (let a = 0, off = item * rank; a < rank; a++) total += params.reg * V[off + a] * V[off + a];
  }
  for (let a = 0; a < rank; a++) total += params.reg * u[a] * u[a];
  return total;
}

/** Σ_u L_u in O(nnz·k + (users + items)·k²): Σ_u Σ_j (u·v_j)² = Σ_ab (UᵀU)_ab (VᵀV)_ab. */
function totalLoss(U: Float32Array, V: Float32Array, users: Interaction[][], items: number, rank: number, params: ModelParams): number {
  const GU = gramian(U, users.length, rank);
  const GV = gramian(V, items, rank);
  let total = 0;
  for (let i = 0; i < GU.length; i++) total += GU[i] * GV[i];
  users.forEach((interactions, user) => {
    const off = user * rank;
    for (let a = 0; a < rank; a++) total += params.reg * U[off + a] * U[off + a];
    for (const { item, preference, confidence } of interactions) {
      let s = 0;
      let vNormSq = 0;
      for (let a = 0, row = item * rank; a < rank; a++) {
        s += U[off + a] * V[row + a];
        vNormSq += V[row + a] * V[row + a];
      }
      total += confidenceWeight(confidence, params.alpha) * (preference - s) ** 2 - s * s + params.reg * vNormSq;
    }
  });
  return total;
}

/** Interactions grouped by item (CSR): the raters of item j are entries start[j] .. start[j+1]−1. */
function invertInteractions(users: Interaction[][], items: number) {
  const start = new Int32Array(items + 1);
  for (const interactions of users) for (const { item } of interactions) start[checkItem(item, items) + 1]++;
  for (let j = 0; j < items; j++) start[j + 1] += start[j];
  const nnz = start[items];
  const user = new Int32Array(nnz);
  const preference = new Float64Array(nnz);
  const confidence = new Float64Array(nnz);
  const next = Int32Array.from(start.subarray(0, items));
  users.forEach((interactions, u) => {
    for (const it of interactions) {
      const e = next[it.item]++;
      user[e] = u;
      preference[e] = it.preference;
      confidence[e] = it.confidence;
    }
  });
  return { start, user, preference, confidence };
}

function computeScores(u: Float64Array, V: Float32Array, items: number, rank: number, out: Float64Array): void {
  for (let j = 0, off = 0; j < items; j++, off += rank) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += u[a] * V[off + a];
    out[j] = s;
  }
}

/** G ← M G M with M = I − t u uᵀ: G − t (u wᵀ + w uᵀ) + t² (uᵀw) u uᵀ, w = G u. O(k²). */
function transformGramian(G: Float64Array, u: Float64Array, t: number, rank: number): void {
  const w = new Float64Array(rank);
  let uw = 0;
  for (let a = 0; a < rank; a++) {
    let s = 0;
    for (let c = 0; c < rank; c++) s += G[a * rank + c] * u[c];
    w[a] = s;
    uw += u[a] * s;
  }
  for (let a = 0; a < rank; a++) {
    for (let c = 0; c < rank; c++) G[a * rank + c] += -t * (u[a] * w[c] + w[a] * u[c]) + t * t * uw * u[a] * u[c];
  }
}

/**
 * A[upper] += weight · x xᵀ with x = M[offset .. offset+rank). `row` is scratch
 * of length rank: reading float32 in the inner loop costs 3x the time.
 */
function addOuterUpper(A: Float64Array, M: Float32Array, offset: number, rank: number, weight: number, row: Float64Array): void {
  for (let a = 0; a < rank; a++) row[a] = M[offset + a];
  for (let a = 0; a < rank; a++) {
    const xa = weight * row[a];
    if (xa === 0) continue;
    const ra = a * rank;
    for (let c = a; c < rank; c++) A[ra + c] += xa * row[c];
  }
}

function mirrorUpper(A: Float64Array, rank: number): void {
  for (let a = 1; a < rank; a++) for (let c = 0; c < a; c++) A[a * rank + c] = A[c * rank + a];
}

/** Solve the symmetric system A x = b (Cholesky; SVD least squares if A is not positive definite). */
function solveSymmetric(A: Float64Array, b: Float64Array, rank: number): Float64Array {
  const m = new Matrix(rank, rank);
  for (let a = 0; a < rank; a++) for (let c = 0; c < rank; c++) m.set(a, c, A[a * rank + c]);
  const rhs = Matrix.columnVector(b);
  const chol = new CholeskyDecomposition(m);
  const x = chol.isPositiveDefinite() ? chol.solve(rhs) : solve(m, rhs, true);
  return Float64Array.from(x.getColumn(0));
}

function checkShape(M: Float32Array, rows: number, rank: number, name: string): void {
  if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`rank must be a positive integer, got ${rank}`);
  if (M.length !== rows * rank) throw new RangeError(`${name} has ${M.length} values, expected ${rows} x ${rank}`);
}

function checkItem(item: number, items: number): number {
  if (!Number.isInteger(item) || item < 0 || item >= items) throw new RangeError(`interaction item ${item} is outside 0..${items - 1}`);
  return item;
}
