import { splitSum } from './contribution';
import { scaleOf, type Encoding } from './encoding';
import type { ContributionLayout } from './files';

/**
 * What the aggregator can still check on a secure round's decoded sum, since it sees no single
 * contribution (docs/poisoning.md). Every honest member adds a members coordinate w · weightScale, w ∈ {0, 1}, and a mechanism part (the contribution before it) of L2
 * norm ≤ w · partBound (clipped; zero when w = 0), so for any set of honest survivors:
 *
 *   0 ≤ Σw ≤ survivors   and   ‖Σ delta‖ ≤ Σw · partBound,  i.e. the merged mean has norm ≤ partBound,
 *
 * up to the rounding of the encoding (< 1 quantum per coordinate and member) and the round's noise.
 * A sum outside these bounds holds a contribution no honest client makes; the round is refused.
 * A malicious member that stays inside them can still steer the round's mean anywhere within norm
 * partBound (as a unanimous cohort could): that bound, not detection, is what this check gives.
 * The part is checked as one vector: the bound holds for any mechanism that clips its part to partBound.
 */

/** Noise standard deviations of slack on the weight coordinate (a false alarm is below 1e-9). */
const WEIGHT_NOISE_SIGMAS = 6;
/** Relative slack on the noise's L2 norm, which concentrates within a fraction of a percent for long vectors. */
const NOISE_NORM_SLACK = 1.1;

export interface SumBoundParams {
  layout: ContributionLayout;
  encoding: Encoding;
  weightScale: number;
  /** L2 bound of one member's mechanism part (default: weightScale). */
  partBound?: number;
  survivors: number;
  /** The round's T: members' noise shares are sized for T, so S survivors add S/T times the variance. */
  minSurvivors: number;
  /** Standard deviation of the round's noise, in quantization steps of the sum (0: none). */
  noiseSigma: number;
}

interface SumBound {
  /** Largest decoded Σw an honest round can produce. */
  maxWeight: number;
  /** Largest ‖Σ delta‖ an honest round with decoded weight `weight` can produce. */
  maxDeltaNorm: (weight: number) => number;
}

export function sumBound(p: SumBoundParams): SumBound {
  const gamma = scaleOf(p.encoding);
  const noiseStd = p.noiseSigma * Math.sqrt(p.survivors / p.minSurvivors);
  const weightSlack = (WEIGHT_NOISE_SIGMAS * noiseStd + p.survivors) / gamma / p.weightScale;
  // the mechanism's part: every segment but the last (the members coordinate)
  const deltaLength = p.layout.segments.slice(0, -1).reduce((n, s) => n + s.length, 0);
  // rounding: < 1 quantum per coordinate and member; noise: its L2 norm, with slack
  const deltaSlack = (p.survivors * Math.sqrt(deltaLength) + NOISE_NORM_SLACK * Math.sqrt(deltaLength) * noiseStd) / gamma;
  return {
    maxWeight: p.survivors + weightSlack,
    maxDeltaNorm: (weight) => (Math.max(0, weight) + weightSlack) * (p.partBound ?? p.weightScale) + deltaSlack,
  };
}

/** Why a decoded sum cannot come from honest members only, or null when it can. */
export function sumProblem(decoded: Float64Array, p: SumBoundParams): string | null {
  const { part: delta, members: weight } = splitSum(decoded, p.layout, p.weightScale);
  const bound = sumBound(p);
  if (!(weight <= bound.maxWeight)) return `the sum holds a weight of ${weight.toFixed(2)}, more than ${p.survivors} survivors can add (a contribution is out of bounds)`;
  let squares = 0;
  for (let i = 0; i < delta.length; i++) squares += delta[i] * delta[i];
  const norm = Math.sqrt(squares);
  const max = bound.maxDeltaNorm(weight);
  if (!(norm <= max)) return `the summed delta has L2 norm ${norm.toPrecision(4)}, more than the ${max.toPrecision(4)} that a weight of ${weight.toFixed(2)} allows (a contribution is out of bounds)`;
  return null;
}
