import { EigenvalueDecomposition, Matrix, solve } from 'ml-matrix';

/**
 * Small dense linear algebra on row-major Float64Array k x k matrices, for the
 * k x k systems of the factorization (k = rank, at most a few hundred). Typed
 * arrays in the loops: ml-matrix objects cost more than the arithmetic at k = 32,
 * so ml-matrix only serves the rare fallback (a system that is not positive
 * definite).
 */

/**
 * A[upper] += weight · x xᵀ with x = M[offset .. offset+rank). `row` is scratch
 * of length rank: reading float32 in the inner loop costs 3x the time.
 */
export function addOuterUpper(A: Float64Array, M: ArrayLike<number>, offset: number, rank: number, weight: number, row: Float64Array): void {
  for (let a = 0; a < rank; a++) row[a] = M[offset + a];
  for (let a = 0; a < rank; a++) {
    const xa = weight * row[a];
    if (xa === 0) continue;
    const ra = a * rank;
    for (let c = a; c < rank; c++) A[ra + c] += xa * row[c];
  }
}

/** Copy the upper triangle of A onto the lower one. */
export function mirrorUpper(A: Float64Array, rank: number): void {
  for (let a = 1; a < rank; a++) for (let c = 0; c < a; c++) A[a * rank + c] = A[c * rank + a];
}

/**
 * Cholesky factorization in place, reading only the lower triangle of A (callers may leave the
 * upper one unset): the lower triangle of A becomes L with
 * A = L Lᵀ (the upper triangle is left as it was). False when A is not
 * (numerically) positive definite.
 */
export function choleskyInPlace(A: Float64Array, rank: number): boolean {
  for (let j = 0; j < rank; j++) {
    const rj = j * rank;
    let d = A[rj + j];
    for (let m = 0; m < j; m++) d -= A[rj + m] * A[rj + m];
    if (!(d > 0)) return false;
    d = Math.sqrt(d);
    A[rj + j] = d;
    for (let i = j + 1; i < rank; i++) {
      const ri = i * rank;
      let s = A[ri + j];
      for (let m = 0; m < j; m++) s -= A[ri + m] * A[rj + m];
      A[ri + j] = s / d;
    }
  }
  return true;
}

/** Solve L Lᵀ x = b in place (b becomes x), L from `choleskyInPlace`. */
export function choleskySolveInPlace(L: Float64Array, b: Float64Array, rank: number): void {
  for (let i = 0; i < rank; i++) {
    let s = b[i];
    for (let m = 0; m < i; m++) s -= L[i * rank + m] * b[m];
    b[i] = s / L[i * rank + i];
  }
  for (let i = rank - 1; i >= 0; i--) {
    let s = b[i];
    for (let m = i + 1; m < rank; m++) s -= L[m * rank + i] * b[m];
    b[i] = s / L[i * rank + i];
  }
}

/**
 * Solve the symmetric system A x = b: Cholesky, or the SVD least-squares
 * solution when A is not positive definite. A and b are left unchanged.
 */
export function solveSymmetric(A: Float64Array, b: Float64Array, rank: number): Float64Array {
  const L = A.slice();
  const x = b.slice();
  if (choleskyInPlace(L, rank)) {
    choleskySolveInPlace(L, x, rank);
    return x;
  }
  const m = new Matrix(rank, rank);
  for (let a = 0; a < rank; a++) for (let c = 0; c < rank; c++) m.set(a, c, A[a * rank + c]);
  return Float64Array.from(solve(m, Matrix.columnVector(b), true).getColumn(0));
}

/** Eigenvalues (ascending) and eigenvectors (column a of `vectors`, row-major) of a symmetric matrix. */
export function symmetricEigen(A: Float64Array, rank: number): { values: Float64Array; vectors: Float64Array } {
  const m = new Matrix(rank, rank);
  for (let a = 0; a < rank; a++) for (let c = 0; c < rank; c++) m.set(a, c, A[a * rank + c]);
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const Q = evd.eigenvectorMatrix;
  const vectors = new Float64Array(rank * rank);
  for (let a = 0; a < rank; a++) for (let c = 0; c < rank; c++) vectors[a * rank + c] = Q.get(a, c);
  return { values: Float64Array.from(evd.realEigenvalues), vectors };
}
