/**
 * Distributed differential-privacy noise for secure aggregation: Skellam shares.
 *
 * Each member adds Sk(λ) = Poisson(λ) − Poisson(λ) to every coordinate of its
 * encoded contribution. Independent Skellams add up to a Skellam, so whatever
 * set of at least T members survives, the decoded sum carries exactly Skellam
 * noise of variance ≥ 2·λ·T, and its privacy follows from the Skellam RDP bound
 * in `../privacy` (Agarwal, Kairouz, Liu 2021).
 *
 * Poisson sampling is exact up to floating point: inversion (sequential search
 * from k = 0) for λ < 10, and for λ ≥ 10 Hörmann's PTRS, the transformed
 * rejection method with squeeze (W. Hörmann, "The transformed rejection method
 * for generating Poisson random variables", Insurance: Mathematics and
 * Economics 12, 1993). PTRS needs about 2.3 uniforms per draw whatever λ is,
 * so a share for the largest λ costs as much as for λ = 10. Its final test
 * compares with ln P(k) = −λ + k ln λ − ln k!; for λ ≈ 1e10 those three terms are
 * about 2e11 each, so it is computed as (k − λ) − k·log1p((k − λ)/λ) −
 * ½ ln(2πk) − (Stirling remainder), which keeps an absolute error near 1e-11
 * instead of the 1e-5 of the direct form.
 *
 * Randomness comes in as a uniform source on [0, 1): `cryptoUniform()` (the OS
 * CSPRNG) outside tests. Noise from a guessable source could be regenerated and
 * subtracted by whoever sees the sum.
 */

export { cryptoUniform } from '../random';

/** Below this λ the Poisson sampler inverts the CDF; at or above it, PTRS. */
const PTRS_MIN_LAMBDA = 10;
/**
 * Largest λ accepted for a share: Poisson draws stay below 2^53 (exact in a
 * double) and a share's std √(2λ) ≈ 4.7e7 keeps it inside int32 by 45 std.
 */
export const MAX_SHARE_LAMBDA = 2 ** 50;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** ln k! for k < PTRS's Stirling threshold, exact from the running product. */
const STIRLING_MIN_K = 10;
const LOG_FACTORIAL: readonly number[] = (() => {
  const table = [0];
  for (let k = 1; k < STIRLING_MIN_K; k++) table.push(table[k - 1] + Math.log(k));
  return table;
})();
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/**
 * ln k! − (k ln k − k + ½ ln(2πk)) for k ≥ STIRLING_MIN_K: the Stirling series
 * 1/(12k) − 1/(360k³) + 1/(1260k⁵) − 1/(1680k⁷) + 1/(1188k⁹), error below 2e-14.
 */
function stirlingRemainder(k: number): number {
  const r = 1 / k;
  const r2 = r * r;
  return r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
}

/** ln P(X = k) for X ~ Poisson(λ), k ≥ 0 an integer, without cancellation for large λ. */
function logPoissonPmf(k: number, lambda: number, logLambda: number): number {
  if (k < STIRLING_MIN_K) return -lambda + k * logLambda - LOG_FACTORIAL[k];
  const d = k - lambda;
  return d - k * Math.log1p(d / lambda) - HALF_LOG_TWO_PI - 0.5 * Math.log(k) - stirlingRemainder(k);
}

function checkLambda(lambda: number): void {
  if (!(lambda >= 0 && lambda <= MAX_SHARE_LAMBDA)) throw new RangeError(`lambda must be within [0, 2^50], got ${lambda}`);
}

/** A Poisson(λ) sampler with the per-λ constants computed once. */
function poissonSampler(lambda: number, uniform: () => number): () => number {
  checkLambda(lambda);
  return lambda < PTRS_MIN_LAMBDA ? inversionSampler(lambda, uniform) : ptrsSampler(lambda, uniform);
}

/** Sequential-search inversion: one uniform per draw, about λ + 1 steps. */
function inversionSampler(lambda: number, uniform: () => number): () => number {
  const p0 = Math.exp(-lambda);
  return () => {
    for (;;) {
      let u = uniform();
      let p = p0;
      let k = 0;
      while (u > p) {
        u -= p;
        k++;
        p *= lambda / k;
        // Rounding left u above the remaining tail: draw again (probability ~1e-16).
        if (p === 0) break;
      }
      if (p > 0) return k;
    }
  };
}

/** Hörmann's PTRS (transformed rejection with squeeze), for λ ≥ 10. */
function ptrsSampler(lambda: number, uniform: () => number): () => number {
  const logLambda = Math.log(lambda);
  const b = 0.931 + 2.53 * Math.sqrt(lambda);
  const a = -0.059 + 0.02483 * b;
  const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
  const vr = 0.9277 - 3.6224 / (b - 2);
  return () => {
    for (;;) {
      const u = uniform() - 0.5;
      const v = uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor((2 * a / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + logInvAlpha - Math.log(a / (us * us) + b) <= logPoissonPmf(k, lambda, logLambda)) return k;
    }
  };
}

/** One draw of Poisson(λ), 0 ≤ λ ≤ 2^50. */
export function samplePoisson(lambda: number, uniform: () => number): number {
  return poissonSampler(lambda, uniform)();
}

/** `length` independent draws of Sk(λ) = Poisson(λ) − Poisson(λ) (mean 0, variance 2λ): one member's noise share. */
export function skellamShares(length: number, lambda: number, uniform: () => number): Int32Array {
  if (!(Number.isInteger(length) && length >= 0)) throw new RangeError(`length must be a non-negative integer, got ${length}`);
  const draw = poissonSampler(lambda, uniform);
  const shares = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const x = draw() - draw();
    // Unreachable for λ ≤ 2^50 (45 standard deviations); a wrapped share would be silent corruption.
    if (x < INT32_MIN || x > INT32_MAX) throw new RangeError(`Skellam share ${x} does not fit int32 (lambda ${lambda})`);
    shares[i] = x;
  }
  return shares;
}
