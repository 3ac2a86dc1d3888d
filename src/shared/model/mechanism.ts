import type { Interaction } from './feedback';
import { gramian } from './factorize';
import {
  addContribution,
  applyAggregate,
  contributionLayout,
  DEFAULT_STEP,
  DP_CURVATURE,
  DP_RIDGE,
  DP_ROW_THRESHOLD,
  DP_SEGMENT_SCALES,
  layoutSize,
  SEGMENTS,
  UNIT_SCALES,
  type ContributionLayout,
  type SegmentScales,
} from './federated';

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
 * A new mechanism (e.g. for distributed DP) adds a member to `MechanismSpec`, a
 * case to `mechanism` and to `parseMechanismSpec`.
 */

export interface PreconditionedParams {
  /** λ and α of the factorization (the members solve their u with them). */
  reg: number;
  alpha: number;
  /** L2 bound of one datasite's contribution (score units, `federated.ts`). */
  clipNorm: number;
  scales: SegmentScales;
  curvature: 'moment' | 'gram';
  step: number;
  /** With noise: the ridge (in noise stds) and the row threshold of the denoising. */
  ridge: number;
  rowThreshold: number;
}

export type MechanismSpec = { name: 'preconditioned'; params: PreconditionedParams };
export type MechanismName = MechanismSpec['name'];

export interface AggregateNoise {
  /** Contributions in the sum (survivors with a model). */
  count: number;
  /** Standard deviation of the noise of each coordinate of the decoded sum (0: none). */
  noiseStd: number;
}

export interface BoundMechanism {
  readonly name: MechanismName;
  /** L2 bound of every contribution. */
  readonly bound: number;
  layout(items: number, rank: number): ContributionLayout;
  /** One datasite's contribution from its profiles' interactions, each from `base`; the zero vector without profiles. */
  contribute(base: Float32Array, profiles: readonly (readonly Interaction[])[], items: number, rank: number): Float64Array;
  /** The next Global_V from the base and the decoded sum (not modified). */
  apply(base: Float32Array, sum: Float64Array, items: number, rank: number, noise: AggregateNoise): { V: Float32Array; report: Record<string, number> };
}

/** The mechanism a round file names, bound to its parameters. */
export function mechanism(spec: MechanismSpec): BoundMechanism {
  switch (spec.name) {
    case 'preconditioned':
      return preconditioned(spec.params);
  }
}

function preconditioned(p: PreconditionedParams): BoundMechanism {
  const federated = (items: number, rank: number) => ({ items, rank, reg: p.reg, alpha: p.alpha, clipNorm: p.clipNorm, scales: p.scales });
  return {
    name: 'preconditioned',
    bound: p.clipNorm,
    layout: contributionLayout,
    contribute(base, profiles, items, rank) {
      const x = new Float64Array(layoutSize(contributionLayout(items, rank)));
      if (profiles.length === 0) return x;
      const gram = gramian(base, items, rank);
      for (const interactions of profiles) addContribution(x, base, [...interactions], federated(items, rank), gram);
      // the mean of vectors within the bound is within it, up to rounding: make it exact
      let sq = 0;
      for (let i = 0; i < x.length; i++) {
        x[i] /= profiles.length;
        sq += x[i] * x[i];
      }
      const norm = Math.sqrt(sq);
      if (norm > p.clipNorm) for (let i = 0; i < x.length; i++) x[i] *= p.clipNorm / norm;
      return x;
    },
    apply(base, sum, items, rank, { count, noiseStd }) {
      const { V, report } = applyAggregate(base, sum, Math.max(1, count), { ...federated(items, rank), step: p.step, noiseStd, curvature: p.curvature, rowThreshold: p.rowThreshold, ridge: p.ridge }, null);
      return { V, report: { ...report } };
    },
  };
}

/**
 * The preconditioned mechanism's parameters for a round: the measured defaults
 * (`federated.ts`, docs/eval), or under DP noise the DP levers (segment scales,
 * Gram-only curvature, ridge, row denoising).
 */
export function preconditionedSpec(model: { reg: number; alpha: number }, clipNorm: number, noisy: boolean): MechanismSpec {
  return {
    name: 'preconditioned',
    params: noisy
      ? { ...model, clipNorm, scales: DP_SEGMENT_SCALES, curvature: DP_CURVATURE, step: DEFAULT_STEP, ridge: DP_RIDGE, rowThreshold: DP_ROW_THRESHOLD }
      : { ...model, clipNorm, scales: UNIT_SCALES, curvature: 'moment', step: DEFAULT_STEP, ridge: 0, rowThreshold: DP_ROW_THRESHOLD },
  };
}

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
  if (spec.name !== 'preconditioned') throw new RangeError(`mechanism.name ${JSON.stringify(spec.name)} is not known (known: preconditioned)`);
  const p = obj(spec.params, 'mechanism.params', ['reg', 'alpha', 'clipNorm', 'scales', 'curvature', 'step', 'ridge', 'rowThreshold']);
  const s = obj(p.scales, 'mechanism.params.scales', SEGMENTS);
  if (p.curvature !== 'moment' && p.curvature !== 'gram') throw new RangeError('mechanism.params.curvature must be moment or gram');
  return {
    name: 'preconditioned',
    params: {
      reg: num(p.reg, 'mechanism.params.reg', 0, 1000),
      alpha: num(p.alpha, 'mechanism.params.alpha', 0, 10000),
      clipNorm: num(p.clipNorm, 'mechanism.params.clipNorm', 1e-9, 1e9),
      scales: Object.fromEntries(SEGMENTS.map((name) => [name, num(s[name], `mechanism.params.scales.${name}`, 0, 1e6)])) as SegmentScales,
      curvature: p.curvature,
      step: num(p.step, 'mechanism.params.step', 1e-6, 2),
      ridge: num(p.ridge, 'mechanism.params.ridge', 0, 1e6),
      rowThreshold: num(p.rowThreshold, 'mechanism.params.rowThreshold', 0, 1e6),
    },
  };
}
