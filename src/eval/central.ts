import type { Interaction } from '../shared/model/feedback';
import { checkItem, checkShape, confidenceWeight, gramian, solveUser, type ModelParams } from '../shared/model/factorize';
import { addOuterUpper, mirrorUpper, solveSymmetric } from '../shared/model/linalg';

/**
 * The centralized baseline of the implicit model: exact ALS on all training
 * data, which only the evaluation can run (it sees every user). Issue 18:
 * evaluation-only training lives with the evaluation.
 */

export interface CentralParams extends ModelParams {
  iterations: number;
}

export interface CentralTrainResult {
  V: Float32Array;
  /** users x rank. */
  U: Float32Array;
  /** L(U, V) after the first user step, then after each iteration. Never increases. */
  loss: number[];
}

/**
 * Exact alternating least squares on L(U, V) over all users: the centralized
 * baseline of the same model. Each iteration solves every user for fixed V, then
 * every item for fixed U with (UᵀU + Σ_{u watched j} (c_uj − 1) u uᵀ + λ n_j I) v_j
 * = Σ c_uj p_uj u; items nobody watched get v_j = 0. Cost per iteration
 * O(nnz·k² + (users + items)·k³). Deterministic given V0. `onIteration` sees V
 * after each iteration's item step (a copy is the caller's to make).
 */
export function trainCentral(users: Interaction[][], items: number, rank: number, params: CentralParams, V0: Float32Array, onIteration?: (iteration: number, V: Float32Array) => void): CentralTrainResult {
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
    onIteration?.(iteration + 1, V);
    solveUsers();
    loss.push(totalLoss(U, V, users, items, rank, params));
  }
  return { V, U, loss };
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
export function invertInteractions(users: Interaction[][], items: number) {
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
