import { gaussianRho, gaussianSigma, gaussianSigmaForRho, zcdpEpsilon, zcdpRho } from '../shared/privacy';

/**
 * How the evaluation turns a per-user privacy budget into noise.
 *
 * Noise is counted per unit of sensitivity: s = σ / Δ. With budget `total`, ε is
 * one user's budget over the whole run (all rounds, at δ), and the rounds are
 * composed with zero-concentrated DP (Bun & Steinke 2016): a Gaussian mechanism
 * with s is ρ-zCDP with ρ = 1/(2s²); R rounds compose to R·ρ; ρ-zCDP implies
 * (ρ + 2√(ρ ln(1/δ)), δ)-DP. So for a budget (ε, δ) over R rounds
 * ```
 * √ρ_total = √(ln(1/δ) + ε) − √(ln(1/δ))       (the inverse of the conversion)
 * s        = √(R / (2 ρ_total))                 (noise per unit sensitivity, each round)
 * ```
 * Example: ε = 8, δ = 1e-5, R = 5: ρ_total = 1.0491, s = 1.544. With budget
 * `per-round`, every round is an (ε, δ) Gaussian on its own: s = gaussianSigma(ε, δ, 1).
 *
 * Two places for the noise, with their sensitivities (C = the clip norm):
 * - central (`SERVER_CLIP_NORM` = C, `SERVER_NOISE_STD`): the aggregator clips each
 *   delta to C and adds N(0, (s·C/N)²) to each value of the mean of N deltas, i.e.
 *   noise s·C on the sum; adding or removing one user moves the sum by at most C
 *   (DP-FedAvg, McMahan et al. 2018). Protects against everyone who reads
 *   Global_V; the aggregator itself sees the clipped deltas.
 * - local (`DP_EPSILON`, the participant's own noise, `deltaNoiseSigma`): the
 *   aggregator sees each delta, so the neighbours are any two histories, whose
 *   clipped deltas differ by up to 2·C: σ = s·2·C on every delta, √N times the
 *   noise of the mean of the central mode and then some.
 */

/** Noise per unit sensitivity s = σ/Δ of each round for a total budget (ε, δ) over `rounds` Gaussian rounds. */
export function noiseMultiplier(epsilon: number, delta: number, rounds: number): number {
  if (!(epsilon > 0) || !(delta > 0 && delta < 1) || !(Number.isInteger(rounds) && rounds >= 1)) {
    throw new RangeError(`need epsilon > 0, delta in (0, 1) and rounds >= 1, got ${epsilon}, ${delta}, ${rounds}`);
  }
  return gaussianSigmaForRho(1, zcdpRho(epsilon, delta) / rounds);
}

/** Total ε (at δ) of `rounds` Gaussian rounds with noise s = σ/Δ each (zCDP composition). */
export function totalEpsilon(s: number, rounds: number, delta: number): number {
  return zcdpEpsilon(rounds * gaussianRho(1, s), delta);
}

const BISECTION_STEPS = 100;

/** The ε (at δ) of one Gaussian round with noise s = σ/Δ (analytic calibration, the inverse of `gaussianSigma`). */
export function epsilonOfNoise(s: number, delta: number): number {
  let lo = 1e-6;
  let hi = 1;
  while (gaussianSigma(hi, delta, 1) > s) hi *= 2;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    if (gaussianSigma(mid, delta, 1) > s) lo = mid;
    else hi = mid;
  }
  return hi;
}
