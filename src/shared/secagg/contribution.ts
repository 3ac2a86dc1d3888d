import { clipL2 } from '../delta';
import { calibrateRoundNoise, integerL1Bound, skellamSpend, type PrivacyEntry } from '../privacy';
import { quantizedSensitivity, type Encoding } from './encoding';
import type { ContributionLayout, RoundNoise } from './files';

/**
 * One datasite's contribution to a secure round, as a float64 vector laid out by
 * `ContributionLayout` (segments in order):
 *   [ delta (items x rank, row-major) | weight (1 value) ]
 * - delta = the mean over the datasite's profiles of clip_C(V_local − V_base): a
 *   datasite counts as one person however many profiles it has, and the mean of
 *   clipped deltas is still within C;
 * - weight = w · C with w = 1 (w = 0 for a member that has no model to start from
 *   yet: it joins to be granted Global_V and adds nothing). Carrying the weight in
 *   the sum lets the aggregator divide Σ delta by Σ w without seeing either per member.
 * The whole vector is within C·√2 in L2 (`contributionBound`), the bound the encoding uses.
 * Later model work may add segments (e.g. per-item statistics) before `weight`.
 */
export const DELTA_SEGMENT = 'delta';
export const WEIGHT_SEGMENT = 'weight';

export function contributionLayout(items: number, rank: number): ContributionLayout {
  return { segments: [{ name: DELTA_SEGMENT, length: items * rank }, { name: WEIGHT_SEGMENT, length: 1 }] };
}

/** L2 bound of a contribution whose delta is clipped to `weightScale` and whose weight is at most 1. */
export function contributionBound(weightScale: number): number {
  return weightScale * Math.SQRT2;
}

/** Where each segment starts, by name; RangeError when a required segment is missing. */
function offsets(layout: ContributionLayout): Map<string, { start: number; length: number }> {
  const out = new Map<string, { start: number; length: number }>();
  let start = 0;
  for (const s of layout.segments) {
    out.set(s.name, { start, length: s.length });
    start += s.length;
  }
  for (const name of [DELTA_SEGMENT, WEIGHT_SEGMENT]) if (!out.has(name)) throw new RangeError(`the contribution layout has no ${name} segment`);
  if (out.get(WEIGHT_SEGMENT)!.length !== 1) throw new RangeError('the weight segment must hold one value');
  return out;
}

/** A profile's trained item factors and the Global_V it started from (items x rank each). */
export interface ProfileModelPair {
  local: Float32Array;
  base: Float32Array;
}

/**
 * The contribution of a datasite: the mean of its profiles' deltas, each clipped
 * to `clipNorm` (at most `weightScale`), and weight 1; or, without profiles, the
 * zero vector with weight 0.
 */
export function buildContribution(profiles: readonly ProfileModelPair[], layout: ContributionLayout, { clipNorm, weightScale }: { clipNorm: number; weightScale: number }): Float64Array {
  if (!(clipNorm > 0 && clipNorm <= weightScale)) throw new RangeError(`clipNorm ${clipNorm} must be in (0, weightScale ${weightScale}]`);
  const at = offsets(layout);
  const delta = at.get(DELTA_SEGMENT)!;
  const x = new Float64Array(layout.segments.reduce((sum, s) => sum + s.length, 0));
  if (profiles.length === 0) return x;
  const one = new Float64Array(delta.length);
  for (const { local, base } of profiles) {
    if (local.length !== delta.length || base.length !== delta.length) throw new RangeError(`a profile model has ${local.length} values, the delta segment ${delta.length}`);
    for (let i = 0; i < one.length; i++) one[i] = local[i] - base[i];
    clipL2(one, clipNorm);
    for (let i = 0; i < one.length; i++) x[delta.start + i] += one[i] / profiles.length;
  }
  // the mean of clipped vectors is within the bound up to rounding; make it exact
  clipL2(x.subarray(delta.start, delta.start + delta.length), clipNorm);
  x[at.get(WEIGHT_SEGMENT)!.start] = weightScale;
  return x;
}

/** Split a decoded sum into Σ delta and Σ w (the weight coordinate over `weightScale`). */
export function splitSum(sum: Float64Array, layout: ContributionLayout, weightScale: number): { delta: Float64Array; weight: number } {
  const at = offsets(layout);
  const delta = at.get(DELTA_SEGMENT)!;
  return { delta: sum.subarray(delta.start, delta.start + delta.length), weight: sum[at.get(WEIGHT_SEGMENT)!.start] / weightScale };
}

/**
 * The noise a round asks for so that one round's sum is (epsilon, delta)-DP with
 * respect to one datasite (add/remove neighbours, L2 sensitivity γ·clipNorm + √L in
 * quantization steps): Skellam with total variance μ from the RDP calibration, as
 * its standard deviation; none when epsilon is 0.
 */
export function roundNoise(encoding: Encoding, epsilon: number, delta: number): RoundNoise {
  if (epsilon <= 0) return { mechanism: 'none', sigma: 0 };
  const l2 = quantizedSensitivity(encoding);
  const { mu } = calibrateRoundNoise({ epsilonTotal: epsilon, delta, rounds: 1, l2, l1: integerL1Bound(l2, encoding.length) });
  return { mechanism: 'skellam', sigma: Math.sqrt(mu) };
}

/** The privacy spend of contributing to a round with `noise` (null: no noise, nothing to account). */
export function roundSpend(at: string, encoding: Encoding, noise: RoundNoise): PrivacyEntry | null {
  if (noise.mechanism !== 'skellam' || noise.sigma <= 0) return null;
  const l2 = quantizedSensitivity(encoding);
  return skellamSpend(at, 'round', { l2, l1: integerL1Bound(l2, encoding.length), mu: noise.sigma * noise.sigma });
}
