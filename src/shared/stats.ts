import type { Random } from './random';

/**
 * Small, exact-where-possible statistics: the click experiment's sign test,
 * percentile bootstrap and sample size, and estimates kept within their valid
 * range for display. Pure functions; randomness is passed in.
 */

/** Probability of each outcome under the null hypothesis of the sign test. */
const NULL_SHARE = 0.5;

/**
 * Exact two-sided sign test: the probability, if both outcomes were equally
 * likely, of a split of `n` decisive pairs at least as uneven as `successes`
 * to `n - successes`: `min(1, 2 * P(X <= min(k, n - k)))`, X ~ Binomial(n, 1/2).
 * Ties are not passed in (the caller drops them). Example: 9 of 10 gives 0.02148.
 */
export function signTestPValue(successes: number, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) throw new RangeError(`successes must be an integer in [0, ${n}], got ${successes}`);
  if (n === 0) return 1;
  const tail = Math.min(successes, n - successes);
  // log-space pmf so that 2^-n does not underflow for large n
  const logHalfPowN = n * Math.log(NULL_SHARE);
  let logChoose = 0;
  let sum = 0;
  for (let i = 0; i <= tail; i++) {
    if (i > 0) logChoose += Math.log(n - i + 1) - Math.log(i);
    sum += Math.exp(logChoose + logHalfPowN);
  }
  return Math.min(1, 2 * sum);
}

interface BootstrapOptions {
  random: Random;
  /** Resamples drawn. */
  samples?: number;
  /** Two-sided coverage, e.g. 0.95. */
  confidence?: number;
}

export const DEFAULT_BOOTSTRAP_SAMPLES = 2000;
const DEFAULT_CONFIDENCE = 0.95;

/**
 * Percentile-bootstrap confidence interval of the mean of `values`
 * (for 0/1 values: of a share). Returns `[low, high]`; `null` for no values.
 */
export function bootstrapMeanInterval(values: ArrayLike<number>, options: BootstrapOptions): [number, number] | null {
  const n = values.length;
  if (n === 0) return null;
  const samples = options.samples ?? DEFAULT_BOOTSTRAP_SAMPLES;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples must be a positive integer, got ${samples}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const means = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[options.random.int(n)];
    means[s] = sum / n;
  }
  means.sort();
  const alpha = 1 - confidence;
  return [quantileSorted(means, alpha / 2), quantileSorted(means, 1 - alpha / 2)];
}

/** Linear-interpolated quantile `q` in [0, 1] of an ascending array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty array');
  const pos = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation,
 * relative error < 1.2e-9): `normalQuantile(0.975) = 1.95996…`.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** Two-sided 95% quantile of the standard normal. */
export const Z95 = 1.959963984540054;

/** An estimate as a page shows it: point and 95% interval within the estimate's valid range. */
export interface BoundedEstimate {
  value: number;
  low: number;
  high: number;
  /** True when the unbiased point estimate lay outside the range and `value` is the nearest end. */
  clipped: boolean;
}

/**
 * Keep an unbiased estimate `value` ± Z95·`se` within [min, max]: a debiased
 * share can come out at −0.5 or 1.75 by noise alone, but the quantity it
 * estimates cannot, so the point and both interval ends are clipped (the
 * interval still covers the truth at least as often). `clipped` says the point
 * moved, for the page to tell the reader.
 */
export function boundedEstimate(value: number, se: number, min: number, max: number): BoundedEstimate {
  if (!(min <= max)) throw new RangeError(`the range [${min}, ${max}] is empty`);
  if (!Number.isFinite(value) || !(se >= 0)) throw new RangeError(`estimate ${value} ± ${se} is not a finite value with a non-negative standard error`);
  const clamp = (x: number) => Math.min(max, Math.max(min, x));
  return { value: clamp(value), low: clamp(value - Z95 * se), high: clamp(value + Z95 * se), clipped: value < min || value > max };
}

interface SampleSizeOptions {
  /** True share of decisive pairs preferring one side, e.g. 0.6 for a 60/40 preference. */
  share: number;
  /** Two-sided significance level. */
  alpha: number;
  /** Probability of reaching significance when `share` is true. */
  power: number;
}

/**
 * Decisive pairs a two-sided sign test needs to detect a true preference share
 * p1 against p0 = 1/2, by the normal approximation to the binomial:
 *
 *   n = ceil( ( z(1 - alpha/2) * sqrt(p0 (1 - p0)) + z(power) * sqrt(p1 (1 - p1)) )^2 / (p1 - p0)^2 )
 *
 * For p1 = 0.6, alpha = 0.05, power = 0.8: (1.960 * 0.5 + 0.842 * 0.490)^2 / 0.01 -> 194.
 */
export function signTestSampleSize({ share, alpha, power }: SampleSizeOptions): number {
  if (!(share > 0 && share < 1) || share === NULL_SHARE) throw new RangeError(`share must be in (0, 1) and not 0.5, got ${share}`);
  const zAlpha = normalQuantile(1 - alpha / 2);
  const zPower = normalQuantile(power);
  const numerator = zAlpha * Math.sqrt(NULL_SHARE * (1 - NULL_SHARE)) + zPower * Math.sqrt(share * (1 - share));
  return Math.ceil((numerator / (share - NULL_SHARE)) ** 2);
}
