import { deltaNoiseSigma } from '../shared/privacy';

/**
 * How the evaluation turns a per-user privacy budget into noise.
 *
 * ε is the TOTAL budget of one user over the whole training run (all rounds), at
 * δ total. The rounds are composed with zero-concentrated DP (Bun & Steinke
 * 2016): a Gaussian mechanism of L2 sensitivity Δ and noise std z·Δ is ρ-zCDP
 * with ρ = 1/(2z²); R rounds compose to R·ρ; ρ-zCDP implies
 * (ρ + 2√(ρ ln(1/δ)), δ)-DP. So for a budget (ε, δ) over R rounds
 * ```
 * √ρ_total = √(ln(1/δ) + ε) − √(ln(1/δ))       (the inverse of the conversion)
 * z        = √(R / (2 ρ_total))                 (noise multiplier of each round)
 * ```
 * Example: ε = 8, δ = 1e-5, R = 5: ρ_total = 1.0486, z = 1.544.
 *
 * Two places for the noise:
 * - central (`SERVER_CLIP_NORM` = C, `SERVER_NOISE_STD`): the aggregator clips each
 *   delta to C and adds N(0, (z·C/N)²) to each value of the mean of N deltas, i.e.
 *   noise z·C on the sum (DP-FedAvg, McMahan et al. 2018). Protects against everyone
 *   who reads Global_V; the aggregator itself sees the clipped deltas.
 * - local (`DP_EPSILON`, the participant's own noise): each participant adds
 *   N(0, (z·C)²) to its delta before publishing; protects against the aggregator
 *   too, at √N times the noise of the mean. The per-delta ε recorded in the delta
 *   manifest is the ε of that Gaussian alone (analytic calibration at DP_DELTA,
 *   local sensitivity 2·C), so that `privatizeDelta` draws exactly σ = z·C.
 */

/** Per-round noise multiplier z for a total budget (ε, δ) over `rounds` Gaussian rounds. */
export function noiseMultiplier(epsilon: number, delta: number, rounds: number): number {
  if (!(epsilon > 0) || !(delta > 0 && delta < 1) || !(Number.isInteger(rounds) && rounds >= 1)) {
    throw new RangeError(`need epsilon > 0, delta in (0, 1) and rounds >= 1, got ${epsilon}, ${delta}, ${rounds}`);
  }
  const log = Math.log(1 / delta);
  const rho = (Math.sqrt(log + epsilon) - Math.sqrt(log)) ** 2;
  return Math.sqrt(rounds / (2 * rho));
}

/** Total ε (at δ) of `rounds` Gaussian rounds with noise multiplier z (zCDP composition). */
export function totalEpsilon(z: number, rounds: number, delta: number): number {
  const rho = rounds / (2 * z * z);
  return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}

const BISECTION_STEPS = 100;

/**
 * The per-delta ε a participant records for noise multiplier z: the ε whose
 * participant-side σ (`deltaNoiseSigma`, local replace-one sensitivity 2·C) at
 * clip norm 1 equals z, so that `privatizeDelta` draws exactly σ = z·C.
 */
export function epsilonOfMultiplier(z: number, delta: number): number {
  let lo = 1e-6;
  let hi = 1;
  while (deltaNoiseSigma(hi, delta, 1) > z) hi *= 2;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    if (deltaNoiseSigma(mid, delta, 1) > z) lo = mid;
    else hi = mid;
  }
  return hi;
}
