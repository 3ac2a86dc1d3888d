import type { Interaction } from './feedback';
import { gramian } from './factorize';
import { addContribution, applyAggregate, contributionLayout, DEFAULT_STEP, layoutSize, UNIT_SCALES, type ContributionLayout } from './federated';
import {
  applySubspace,
  DP_DIMENSIONS,
  DP_GRAM_DIAGONAL,
  DP_GRAM_THRESHOLD,
  DP_POWER,
  DP_TOP_ITEMS,
  subspaceContribution,
  subspaceSize,
  SUBSPACE_SENSITIVITY,
  type SubspaceApplyParams,
  type SubspacePhase,
} from './subspace';

/**
 * The aggregation mechanism of a secure round: what one person (a datasite,
 * whatever its profiles) contributes to the masked sum and how the aggregator
 * turns the decoded sum into the next Global_V. A round file names its mechanism
 * and carries its parameters (`MechanismSpec`), so every member builds the same
 * kind of contribution and the aggregator applies the matching update.
 *
 * ```ts
 * const m = mechanism(spec);                       // spec from round.json
 * const x = m.contribute(base, [profileA, profileB], items, rank); // ‖x‖ ≤ m.bound
 * const { V } = m.apply(base, decodedSum, items, rank, { count, noiseStd });
 * ```
 *
 * Mechanisms:
 * - `preconditioned` (the default, `federated.ts`): each profile's optimizer
 *   contribution (per-item residual rows, moments, counts and excesses, the k x k
 *   Gram and curvature sums, a weight), clipped as a whole to `clipNorm`; the
 *   datasite sends the MEAN of its profiles' clipped contributions, so it stays
 *   within one bound (one datasite = one person) and the sum stays the gradient of
 *   one reweighted objective (each profile weighs w_u / profiles). The aggregator
 *   takes one damped, per-item preconditioned Newton step. Its per-item counts and
 *   gradients reveal the watched set, so it runs only under secure aggregation.
 *
 *   It runs without noise only (DP_EPSILON=0): under noise its item-sized sums
 *   are mostly noise (docs/eval/privacy.md).
 * - `subspace` (`subspace.ts`, the DP mechanism): DP PureSVD in two rounds, a
 *   `count` round (noisy counts of x/|x|, a popularity Global_V) and a `gram`
 *   round from the count round's Global_V (the noisy Gram matrix of its top
 *   `topItems` items, eigenvectors → Global_V). Each profile's contribution has
 *   L2 norm ≤ 1; the datasite sends their mean, clipped to exactly 1.
 *
 * A new mechanism adds a member to `MechanismSpec`, a case to `mechanism` and
 * to `parseMechanismSpec`.
 */

export interface PreconditionedParams {
  /** λ and α of the factorization (the members solve their u with them). */
  reg: number;
  alpha: number;
  /** L2 bound of one datasite's contribution (score units, `federated.ts`). */
  clipNorm: number;
  step: number;
}

/** The subspace mechanism's parameters besides the model shape (items, rank), and the round's phase. */
export type SubspaceSpecParams = Omit<SubspaceApplyParams, 'items' | 'rank'> & { phase: SubspacePhase };

export type MechanismSpec = { name: 'preconditioned'; params: PreconditionedParams } | { name: 'subspace'; params: SubspaceSpecParams };
export type MechanismName = MechanismSpec['name'];

export interface AggregateNoise {
  /** Contributions in the sum (survivors with a model). */
  count: number;
  /** Standard deviation of the noise of each coordinate of the decoded sum (0: none). */
  noiseStd: number;
}

/** L2 bound of one datasite's contribution to a subspace round (= each round's sensitivity, before the members coordinate). */
export const SUBSPACE_BOUND = SUBSPACE_SENSITIVITY;
/**
 * The members coordinate of a subspace round, as a fraction of SUBSPACE_BOUND. The
 * noise is calibrated to the whole vector's L2 bound √(1 + f²)·SUBSPACE_BOUND: at
 * f = 1 (the optimizer's choice) the members coordinate would cost √2 in noise on
 * the mechanism's part; at 1/8 it costs 0.8%, and Σ members is read 8x noisier
 * (the DP count needs no precision: every survivor's input is in the sum).
 */
export const SUBSPACE_MEMBERS_FRACTION = 1 / 8;

export interface BoundMechanism {
  readonly name: MechanismName;
  /** L2 bound of every contribution. */
  readonly bound: number;
  /** The members coordinate each contributing datasite adds (`contribution.ts`). */
  readonly membersScale: number;
  layout(items: number, rank: number): ContributionLayout;
  /**
   * One datasite's contribution from its profiles' interactions, each from `base`; the zero vector without profiles.
   * Written into `out` when given (zeros, of the layout's length: the caller's larger vector, no copy), else into a new vector.
   */
  contribute(base: Float32Array, profiles: readonly (readonly Interaction[])[], items: number, rank: number, out?: Float64Array): Float64Array;
  /** The next Global_V from the base and the decoded sum (not modified). */
  apply(base: Float32Array, sum: Float64Array, items: number, rank: number, noise: AggregateNoise): { V: Float32Array; report: Record<string, number> };
}

/** The mechanism a round file names, bound to its parameters. */
export function mechanism(spec: MechanismSpec): BoundMechanism {
  switch (spec.name) {
    case 'preconditioned':
      return preconditioned(spec.params);
    case 'subspace':
      return subspace(spec.params);
  }
}

/** A zero vector of `length` to contribute into: `out` when given (checked), else a new one. */
function target(out: Float64Array | undefined, length: number): Float64Array {
  if (out === undefined) return new Float64Array(length);
  if (out.length !== length) throw new RangeError(`a contribution has ${length} values; the vector given for it has ${out.length}`);
  return out;
}

/** The mean of the profiles' vectors, clipped to `bound` exactly (the mean of vectors within it is within it, up to rounding), in place. */
function meanWithin(x: Float64Array, profiles: number, bound: number): Float64Array {
  // one profile (a datasite's usual case): the sum is the mean, no division pass
  if (profiles !== 1) for (let i = 0; i < x.length; i++) x[i] /= profiles;
  let sq = 0;
  for (let i = 0; i < x.length; i++) sq += x[i] * x[i];
  const norm = Math.sqrt(sq);
  if (norm > bound) for (let i = 0; i < x.length; i++) x[i] *= bound / norm;
  return x;
}

function preconditioned(p: PreconditionedParams): BoundMechanism {
  const federated = (items: number, rank: number) => ({ items, rank, reg: p.reg, alpha: p.alpha, clipNorm: p.clipNorm, scales: UNIT_SCALES });
  return {
    name: 'preconditioned',
    bound: p.clipNorm,
    membersScale: p.clipNorm,
    layout: contributionLayout,
    contribute(base, profiles, items, rank, out) {
      const x = target(out, layoutSize(contributionLayout(items, rank)));
      if (profiles.length === 0) return x;
      const gram = gramian(base, items, rank);
      for (const interactions of profiles) addContribution(x, base, [...interactions], federated(items, rank), gram);
      return meanWithin(x, profiles.length, p.clipNorm);
    },
    apply(base, sum, items, rank, { count }) {
      // noise-free by design (module comment): no denoising, so no ridge and no row threshold
      const { V, report } = applyAggregate(base, sum, Math.max(1, count), { ...federated(items, rank), step: p.step, noiseStd: 0, curvature: 'moment', rowThreshold: 0, ridge: 0 }, null);
      return { V, report: { ...report } };
    },
  };
}

function subspace(p: SubspaceSpecParams): BoundMechanism {
  const { phase, ...rest } = p;
  const round = phase === 'count' ? 1 : 2;
  const shape = (items: number, rank: number): SubspaceApplyParams => ({ ...rest, items, rank });
  return {
    name: 'subspace',
    bound: SUBSPACE_BOUND,
    membersScale: SUBSPACE_BOUND * SUBSPACE_MEMBERS_FRACTION,
    layout: (items, rank) => ({ segments: [{ name: phase === 'count' ? 'counts' : 'gram', length: subspaceSize(phase, shape(items, rank)) }] }),
    contribute(base, profiles, items, rank, out) {
      const x = target(out, subspaceSize(phase, shape(items, rank)));
      if (profiles.length === 0) return x;
      for (const interactions of profiles) {
        const one = subspaceContribution(base, interactions, round, shape(items, rank));
        for (let i = 0; i < x.length; i++) x[i] += one[i];
      }
      return meanWithin(x, profiles.length, SUBSPACE_BOUND);
    },
    apply(base, sum, items, rank, noise) {
      const { V, report } = applySubspace(base, sum, round, shape(items, rank), noise.noiseStd);
      return { V, report: { dimensions: report.eigenvalues.length, ...(report.eigenvalues.length > 0 ? { topEigenvalue: report.eigenvalues[0] } : {}) } };
    },
  };
}

/** The preconditioned mechanism's parameters for a round (the measured defaults, `federated.ts`, docs/eval): the non-private optimizer. */
export function preconditionedSpec(model: { reg: number; alpha: number }, clipNorm: number): MechanismSpec {
  return { name: 'preconditioned', params: { ...model, clipNorm, step: DEFAULT_STEP } };
}

/** The subspace mechanism's parameters besides the phase: the defaults of `subspace.ts` (docs/eval/privacy.md). */
export const SUBSPACE_DEFAULTS: Omit<SubspaceSpecParams, 'phase'> = { topItems: DP_TOP_ITEMS, dimensions: DP_DIMENSIONS, power: DP_POWER, diagonal: DP_GRAM_DIAGONAL, threshold: DP_GRAM_THRESHOLD };

/** A round of the subspace mechanism in `phase`, with `params` (the defaults unless given). */
export function subspaceSpec(phase: SubspacePhase, params: Omit<SubspaceSpecParams, 'phase'> = SUBSPACE_DEFAULTS): MechanismSpec {
  return { name: 'subspace', params: { ...params, phase } };
}

/**
 * What a round file may set each numeric subspace parameter to: keyed by every
 * parameter, so a parameter added to `SubspaceApplyParams` must be given its
 * range here (the compiler says so) before a round file can carry it.
 */
const SUBSPACE_RANGES: Record<Exclude<keyof SubspaceSpecParams, 'phase' | 'diagonal'>, { min: number; max: number; integer: boolean }> = {
  // a gram contribution has at most m(m + 1)/2 values: 2,001,000 (16 MB in float64) at most, so no round file can make a member build a huge one
  topItems: { min: 1, max: 2000, integer: true },
  dimensions: { min: 1, max: 256, integer: true },
  power: { min: 0, max: 4, integer: false },
  threshold: { min: 0, max: 10, integer: false },
};

/** Check a mechanism spec read from a round file; throws RangeError naming the field. */
export function parseMechanismSpec(value: unknown): MechanismSpec {
  const obj = (v: unknown, what: string, keys: readonly string[]): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RangeError(`${what} is not a JSON object`);
    const r = v as Record<string, unknown>;
    const wrong = [...Object.keys(r).filter((k) => !keys.includes(k)), ...keys.filter((k) => !(k in r))];
    if (wrong.length > 0) throw new RangeError(`${what} must have exactly the keys ${keys.join(', ')}`);
    return r;
  };
  const num = (v: unknown, what: string, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new RangeError(`${what} must be a finite number from ${min} to ${max}`);
    return v;
  };
  const spec = obj(value, 'mechanism', ['name', 'params']);
  if (spec.name === 'subspace') {
    const names = Object.keys(SUBSPACE_RANGES) as (keyof typeof SUBSPACE_RANGES)[];
    const p = obj(spec.params, 'mechanism.params', ['phase', 'diagonal', ...names]);
    if (p.phase !== 'count' && p.phase !== 'gram') throw new RangeError('mechanism.params.phase must be count or gram');
    if (typeof p.diagonal !== 'boolean') throw new RangeError('mechanism.params.diagonal must be true or false');
    const params = { phase: p.phase, diagonal: p.diagonal } as SubspaceSpecParams;
    for (const name of names) {
      const { min, max, integer } = SUBSPACE_RANGES[name];
      const v = num(p[name], `mechanism.params.${name}`, min, max);
      if (integer && !Number.isInteger(v)) throw new RangeError(`mechanism.params.${name} must be an integer`);
      params[name] = v;
    }
    return { name: 'subspace', params };
  }
  if (spec.name !== 'preconditioned') throw new RangeError(`mechanism.name ${JSON.stringify(spec.name)} is not known (known: preconditioned, subspace)`);
  const p = obj(spec.params, 'mechanism.params', ['reg', 'alpha', 'clipNorm', 'step']);
  return {
    name: 'preconditioned',
    params: {
      reg: num(p.reg, 'mechanism.params.reg', 0, 1000),
      alpha: num(p.alpha, 'mechanism.params.alpha', 0, 10000),
      clipNorm: num(p.clipNorm, 'mechanism.params.clipNorm', 1e-9, 1e9),
      step: num(p.step, 'mechanism.params.step', 1e-6, 2),
    },
  };
}
