import type { Interaction } from '../model/feedback';
import { mechanism, subspaceSpec, type BoundMechanism, type SubspaceSpecParams } from '../model/mechanism';
import { roundNoiseStd, SUBSPACE_SENSITIVITY, type SubspacePhase } from '../model/subspace';
import { calibrateNoiseScale, calibrateRoundNoise, integerL1Bound, skellamSpend, zcdpRho, type PrivacyEntry } from '../privacy';
import { MAX_SCALE_BITS, maxCohortSize, MIN_SCALE_BITS, quantizedSensitivity, type Encoding } from './encoding';
import { layoutLength, type ContributionLayout, type RoundNoise } from './files';
import { MAX_SHARE_LAMBDA } from './noise';

/**
 * One datasite's contribution to a secure round, as a float64 vector laid out by
 * `ContributionLayout` (segments in order):
 *   [ the mechanism's segments (`mechanism.ts`) | members (1 value) ]
 * - the mechanism's part: what the round's aggregation mechanism asks of one
 *   person, from every profile of the datasite that trained from the round's base;
 *   it is within the mechanism's bound C (a datasite counts as one person however
 *   many profiles it has);
 * - members = m · S with m = 1 (m = 0, and a zero mechanism part, for a member that
 *   has no model to start from yet: it joins to be granted Global_V and adds
 *   nothing); S is the mechanism's `membersScale` (C for the optimizer, C/8 for the
 *   DP subspace rounds, whose noise pays for every unit of the bound). Σ m counts
 *   the datasites inside the sum, which the aggregator checks against
 *   MIN_DATASITES without seeing any member's part.
 * The whole vector is within √(C² + S²) in L2 (`contributionBound`), the bound the
 * encoding and the DP noise use.
 */
const MEMBERS_SEGMENT = 'members';

/** The mechanism's layout followed by the members coordinate. */
export function contributionLayout(m: Pick<BoundMechanism, 'layout'>, items: number, rank: number): ContributionLayout {
  return { segments: [...m.layout(items, rank).segments, { name: MEMBERS_SEGMENT, length: 1 }] };
}

/** L2 bound of a contribution whose mechanism part is within `partBound` and whose members coordinate is at most `weightScale`. */
export function contributionBound(partBound: number, weightScale: number = partBound): number {
  return Math.hypot(partBound, weightScale);
}

function membersIndex(layout: ContributionLayout): number {
  const last = layout.segments.at(-1);
  if (last?.name !== MEMBERS_SEGMENT || last.length !== 1) throw new RangeError(`the contribution layout must end with one ${MEMBERS_SEGMENT} value`);
  return layout.segments.reduce((sum, s) => sum + s.length, 0) - 1;
}

/**
 * The contribution of a datasite from its profiles' interactions (each from
 * `base`): the mechanism's part and members = `weightScale`; without profiles, the
 * zero vector (members 0). `weightScale` must be the mechanism's `membersScale`.
 */
export function buildContribution(m: BoundMechanism, base: Float32Array, profiles: readonly (readonly Interaction[])[], layout: ContributionLayout, shape: { items: number; rank: number; weightScale: number }): Float64Array {
  if (Math.abs(shape.weightScale - m.membersScale) > 1e-12 * m.membersScale) throw new RangeError(`weightScale ${shape.weightScale} must be the mechanism's members scale ${m.membersScale}`);
  const members = membersIndex(layout);
  const x = new Float64Array(members + 1);
  if (profiles.length === 0) return x;
  m.contribute(base, profiles, shape.items, shape.rank, x.subarray(0, members));
  x[members] = shape.weightScale;
  return x;
}

/** Split a decoded sum into the mechanism's part and Σ m (the members coordinate over `weightScale`). */
export function splitSum(sum: Float64Array, layout: ContributionLayout, weightScale: number): { part: Float64Array; members: number } {
  const members = membersIndex(layout);
  return { part: sum.subarray(0, members), members: sum[members] / weightScale };
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

/** What a differentially private training run is calibrated to: its total (epsilon, delta) and the count round's share of it. */
export interface RunPrivacy {
  epsilon: number;
  delta: number;
  countShare: number;
}

/** The length of each round's contribution in a DP training run (the mechanism's part and the members coordinate). */
export type RunLengths = Record<SubspacePhase, number>;

/** The contribution lengths of a run of the subspace mechanism with `params` on a model of `items` x `rank`. */
export function subspaceRunLengths(params: Omit<SubspaceSpecParams, 'phase'>, items: number, rank: number): RunLengths {
  const lengthOf = (phase: SubspacePhase): number => layoutLength(contributionLayout(mechanism(subspaceSpec(phase, params)), items, rank));
  return { count: lengthOf('count'), gram: lengthOf('gram') };
}

/**
 * The noise std of each round of a DP training run (the `subspace` mechanism's
 * two rounds) per unit of the round's L2 sensitivity (SUBSPACE_SENSITIVITY in
 * the mechanism's units; its quantized sensitivity in quanta, `runRoundNoise`).
 * The proportions are the zCDP split (`roundNoiseStd`: `countShare` of
 * ρ = zcdpRho(epsilon, delta) to the counts); one factor scales both rounds,
 * the smallest with which their two Skellam sums compose to at most epsilon at
 * delta by the ledger's own accounting (`calibrateNoiseScale`: the curves and
 * conversion each round's `roundSpend` is reported with). The zCDP closed form
 * ε = ρ + 2√(ρ ln(1/δ)) is above that conversion, so the factor is below 1:
 * ε 8, δ 1e-5 give stds 2.018 (counts) and 0.6727 (Gram), 0.924 of the zCDP
 * calibration's 2.183 and 0.7277, at the same reported (ε, δ).
 * The factor is found with both rounds at the coarsest precision
 * (MIN_SCALE_BITS): at a given std per unit of sensitivity, the Skellam curve
 * only falls as the precision grows, so the run stays within epsilon whatever
 * precision each round is encoded at (at SECAGG_SCALE_BITS 16 and above its
 * ledger reports ε − 0.001).
 */
export function runNoiseMultipliers(run: RunPrivacy, lengths: RunLengths): Record<SubspacePhase, number> {
  const std = roundNoiseStd(zcdpRho(run.epsilon, run.delta), run.countShare);
  const phases: SubspacePhase[] = ['count', 'gram'];
  const rounds = phases.map((phase) => {
    // in quanta at the coarsest precision: 2^MIN_SCALE_BITS + √length, whatever the clip norm
    const l2 = quantizedSensitivity({ length: lengths[phase], clipNorm: SUBSPACE_SENSITIVITY, scaleBits: MIN_SCALE_BITS });
    return { l2, l1: integerL1Bound(l2, lengths[phase]), std: (std[phase] / SUBSPACE_SENSITIVITY) * l2 };
  });
  const scale = calibrateNoiseScale(rounds, run.epsilon, run.delta);
  return { count: scale * std.count, gram: scale * std.gram };
}

/**
 * The noise of one round of a DP training run whose rounds have `lengths`: the
 * Skellam sum's std in quanta, `runNoiseMultipliers` times the round's whole
 * contribution's L2 sensitivity in quanta (γ·clipNorm + √length: the
 * mechanism's part, the members coordinate, the rounding). None when epsilon
 * is 0.
 */
export function runRoundNoise(encoding: Encoding, run: RunPrivacy, lengths: RunLengths, phase: SubspacePhase): RoundNoise {
  if (run.epsilon <= 0) return { mechanism: 'none', sigma: 0 };
  if (encoding.length !== lengths[phase]) throw new RangeError(`the ${phase} round's encoding has ${encoding.length} values, the run's ${phase} round ${lengths[phase]}`);
  return { mechanism: 'skellam', sigma: (runNoiseMultipliers(run, lengths)[phase] / SUBSPACE_SENSITIVITY) * quantizedSensitivity(encoding) };
}

/** The privacy spend of contributing to a round with `noise` (null: no noise, nothing to account). */
export function roundSpend(at: string, encoding: Encoding, noise: RoundNoise): PrivacyEntry | null {
  if (noise.mechanism !== 'skellam' || noise.sigma <= 0) return null;
  const l2 = quantizedSensitivity(encoding);
  return skellamSpend(at, 'round', { l2, l1: integerL1Bound(l2, encoding.length), mu: noise.sigma * noise.sigma });
}

/**
 * The encoding of a round: the finest precision (scale bits, from the encoding's
 * maximum down to `minScaleBits`, SECAGG_SCALE_BITS) at which a sum of `cohort`
 * contributions, with the noise `noiseAt` asks at that precision,
 * cannot wrap and each member's noise share stays samplable (λ ≤ MAX_SHARE_LAMBDA);
 * null when even `minScaleBits` leaves no room. A small cohort gets
 * a fine quantization (the optimizer's k x k sums are small in the first rounds),
 * a large one the precision that still fits 32 bits.
 */
export function roundEncoding(
  vector: Omit<Encoding, 'scaleBits'>,
  minScaleBits: number,
  cohort: number,
  noiseAt: (encoding: Encoding) => RoundNoise,
): { encoding: Encoding; noise: RoundNoise } | null {
  for (let scaleBits = MAX_SCALE_BITS; scaleBits >= minScaleBits; scaleBits--) {
    const encoding: Encoding = { ...vector, scaleBits };
    const noise = noiseAt(encoding);
    // each member's Skellam share has λ = σ²/(2T) ≤ σ²/2, which must stay samplable
    if (noise.sigma ** 2 / 2 > MAX_SHARE_LAMBDA) continue;
    if (maxCohortSize(encoding, noise.sigma) >= cohort) return { encoding, noise };
  }
  return null;
}
