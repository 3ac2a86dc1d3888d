/**
 * Fixed-point encoding of a clipped contribution into Z_(2^32), and decoding of the sum.
 *
 * Scale γ = 2^scaleBits / clipNorm, so every coordinate of a clipped vector lands in
 * [−2^scaleBits, 2^scaleBits]. Stochastic rounding (floor, then +1 with probability equal to
 * the fraction) is unbiased, so the rounding error of the sum has mean zero.
 *
 * Quantization bound on the decoded sum of n contributions: each coordinate is within n/γ of
 * the float sum (every rounding moves a coordinate by < 1 quantum), and its standard error is
 * at most √n/(2γ) (independent zero-mean errors, each of variance ≤ 1/4).
 * Rounding can lengthen a vector by up to √length quanta, hence the L2 sensitivity
 * γ·clipNorm + √length used for the noise.
 *
 * Wrap safety: the true sum, noise included, must stay inside (−2^31, 2^31) so the centred lift
 * recovers it; `maxCohortSize` gives the largest n for which that holds with a 12σ noise margin.
 */

export interface Encoding {
  length: number;
  clipNorm: number;
  scaleBits: number;
}

const MODULUS = 2 ** 32;
const HALF_MODULUS = 2 ** 31;
export const MAX_SCALE_BITS = 30;
/** The coarsest precision an encoding can have (a contribution at the clip bound is 2 quanta). */
export const MIN_SCALE_BITS = 1;
/** Clip check slack: a vector clipped in float64 may exceed clipNorm by rounding. */
const CLIP_TOLERANCE = 1e-9;
/** Noise tail kept clear of the wrap-around point, in noise standard deviations. */
const NOISE_TAIL_SIGMAS = 12;

function checkEncoding(e: Encoding): void {
  if (!Number.isInteger(e.length) || e.length < 1) throw new RangeError(`encoding length must be a positive integer, got ${e.length}`);
  if (!(e.clipNorm > 0) || !Number.isFinite(e.clipNorm)) throw new RangeError(`clipNorm must be positive and finite, got ${e.clipNorm}`);
  if (!Number.isInteger(e.scaleBits) || e.scaleBits < MIN_SCALE_BITS || e.scaleBits > MAX_SCALE_BITS) {
    throw new RangeError(`scaleBits must be an integer in ${MIN_SCALE_BITS}..${MAX_SCALE_BITS}, got ${e.scaleBits}`);
  }
}

/** γ = 2^scaleBits / clipNorm: quanta per unit. */
export function scaleOf(e: Encoding): number {
  checkEncoding(e);
  return 2 ** e.scaleBits / e.clipNorm;
}

/** L2 sensitivity of one encoded contribution, in quanta: γ·clipNorm + √length. */
export function quantizedSensitivity(e: Encoding): number {
  return scaleOf(e) * e.clipNorm + Math.sqrt(e.length);
}

/**
 * Scale and stochastically round a clipped vector; `uniform` must be the OS CSPRNG outside tests.
 * A coordinate already on the grid (zero: most of a sparse contribution) takes no draw.
 */
export function encodeContribution(x: Float64Array, e: Encoding, uniform: () => number): Int32Array {
  const gamma = scaleOf(e);
  if (x.length !== e.length) throw new RangeError(`contribution has length ${x.length}, the encoding expects ${e.length}`);
  let squares = 0;
  for (let i = 0; i < x.length; i++) squares += x[i] * x[i];
  const norm = Math.sqrt(squares);
  if (!(norm <= e.clipNorm * (1 + CLIP_TOLERANCE))) {
    throw new RangeError(`contribution L2 norm ${norm} exceeds clipNorm ${e.clipNorm} (or is not finite): clip before encoding`);
  }
  const q = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const scaled = x[i] * gamma;
    const low = Math.floor(scaled);
    const fraction = scaled - low;
    q[i] = fraction > 0 && uniform() < fraction ? low + 1 : low;
  }
  return q;
}

/** (q + noise) mod 2^32, ready for masking. */
export function toModular(q: Int32Array, noise?: Int32Array): Uint32Array {
  if (noise !== undefined && noise.length !== q.length) throw new RangeError(`noise has length ${noise.length}, the contribution ${q.length}`);
  const out = new Uint32Array(q.length);
  if (noise === undefined) {
    for (let i = 0; i < q.length; i++) out[i] = q[i];
  } else {
    for (let i = 0; i < q.length; i++) out[i] = q[i] + noise[i];
  }
  return out;
}

/** Decode a summed vector: centred lift to (−2^31, 2^31], then divide by γ. */
export function decodeSum(sum: Uint32Array, e: Encoding): Float64Array {
  const gamma = scaleOf(e);
  if (sum.length !== e.length) throw new RangeError(`sum has length ${sum.length}, the encoding expects ${e.length}`);
  const out = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) {
    const s = sum[i];
    out[i] = (s >= HALF_MODULUS ? s - MODULUS : s) / gamma;
  }
  return out;
}

/**
 * Largest cohort whose sum cannot wrap: n·(γ·clipNorm + 1) + 12·σ < 2^31, where σ is the standard
 * deviation of the summed noise in quanta (an upper bound for the number of survivors expected). 0 if none.
 */
export function maxCohortSize(e: Encoding, noiseStdQuantized: number): number {
  if (!(noiseStdQuantized >= 0) || !Number.isFinite(noiseStdQuantized)) {
    throw new RangeError(`noise standard deviation must be finite and ≥ 0, got ${noiseStdQuantized}`);
  }
  const perMember = scaleOf(e) * e.clipNorm + 1;
  const room = HALF_MODULUS - NOISE_TAIL_SIGMAS * noiseStdQuantized;
  return room <= 0 ? 0 : Math.ceil(room / perMember) - 1;
}
