import type { Interaction } from './feedback';
import { addOuterUpper, mirrorUpper, solveSymmetric } from './linalg';

/**
 * Confidence-weighted matrix factorization for implicit feedback (Hu, Koren &
 * Volinsky 2008), trained federated (Ammad-ud-din et al. 2019, "Federated
 * Collaborative Filtering") or centrally as a baseline. Pure math on typed
 * arrays: V is Float32Array row-major items x rank, a user vector u is
 * Float32Array(rank); k x k systems are solved by `linalg.ts`.
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
 * al. 2008). The evaluation's `trainCentral` (src/eval/central.ts) minimizes
 * exactly this L, so it is the same model.
 *
 * Federated training does not go through a local V: `federated.ts` turns the
 * gradient of this L into a preconditioned step the aggregator takes from the
 * sum of the participants' contributions (the FedAvg of local deltas it replaced
 * needed 20–40 rounds and a server learning rate tuned per data set). `trainLocal`
 * remains the participant's private fine-tuning behind its "local" list, and the
 * FedAvg baseline of the evaluation.
 */

export interface ModelParams {
  rank: number;
  /** λ, the L2 weight of user and (per watcher) item factors. */
  reg: number;
  /** Confidence scale: c = 1 + alpha · confidence. */
  alpha: number;
}

export interface LocalTrainOptions extends ModelParams {
  epochs: number;
  /** Gradient step on the item factors, capped per user for stability (see `trainLocal`). */
  lr: number;
  items: number;
  /** VᵀV of Vglobal when the caller has it (the simulator trains many users from one Vglobal). */
  gram?: Float64Array;
}

export interface LocalTrainResult {
  /** The user's factors solved against the local V after training. */
  u: Float32Array;
  /** The local item factors after training. */
  V: Float32Array;
  /** L_u per epoch; the first is before training (u solved against Vglobal). */
  loss: number[];
}

/** c = 1 + alpha · confidence, the weight of an interaction. */
export function confidenceWeight(confidence: number, alpha: number): number {
  return 1 + alpha * confidence;
}

/** Rows of V per block of `gramian` (64 x rank 32 floats: 8 KB, in the first-level cache). */
const GRAM_BLOCK_ROWS = 64;
/** Entries of a row of VᵀV summed side by side (independent additions the CPU overlaps). */
const GRAM_LANES = 4;

/**
 * VᵀV (rank x rank, float64) of a row-major items x rank matrix. Every entry sums its
 * products over the rows in row order, so the result is exactly that of adding the rows'
 * outer products one after another; the rows go in cache-sized blocks, and four entries
 * are summed at once in registers (3x the speed of the row-by-row update: every member of
 * a secure round computes it for its contribution).
 */
export function gramian(V: Float32Array, items: number, rank: number): Float64Array {
  checkShape(V, items, rank, 'V');
  const G = new Float64Array(rank * rank);
  for (let start = 0; start < items; start += GRAM_BLOCK_ROWS) {
    const end = Math.min(items, start + GRAM_BLOCK_ROWS);
    for (let a = 0; a < rank; a++) {
      const ra = a * rank;
      let c = a;
      for (; c + GRAM_LANES <= rank; c += GRAM_LANES) {
        let s0 = G[ra + c];
        let s1 = G[ra + c + 1];
        let s2 = G[ra + c + 2];
        let s3 = G[ra + c + 3];
        for (let o = start * rank; o < end * rank; o += rank) {
          const x = V[o + a];
          s0 += x * V[o + c];
          s1 += x * V[o + c + 1];
          s2 += x * V[o + c + 2];
          s3 += x * V[o + c + 3];
        }
        G[ra + c] = s0;
        G[ra + c + 1] = s1;
        G[ra + c + 2] = s2;
        G[ra + c + 3] = s3;
      }
      for (; c < rank; c++) {
        let s = G[ra + c];
        for (let o = start * rank; o < end * rank; o += rank) s += V[o + a] * V[o + c];
        G[ra + c] = s;
      }
    }
  }
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

/** RangeError unless M is rows x rank. */
export function checkShape(M: Float32Array, rows: number, rank: number, name: string): void {
  if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`rank must be a positive integer, got ${rank}`);
  if (M.length !== rows * rank) throw new RangeError(`${name} has ${M.length} values, expected ${rows} x ${rank}`);
}

/** The item id, or a RangeError when it is outside 0..items−1. */
export function checkItem(item: number, items: number): number {
  if (!Number.isInteger(item) || item < 0 || item >= items) throw new RangeError(`interaction item ${item} is outside 0..${items - 1}`);
  return item;
}
