import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../src/shared/random';
import { sumBound, sumProblem, type SumBoundParams } from '../../../src/shared/secagg/bound';
import { mechanism, preconditionedSpec } from '../../../src/shared/model/mechanism';
import { buildContribution, contributionBound, contributionLayout, roundNoise, splitSum } from '../../../src/shared/secagg/contribution';
import { decodeSum, encodeContribution, toModular, type Encoding } from '../../../src/shared/secagg/encoding';
import { layoutLength } from '../../../src/shared/secagg/files';
import { skellamShares } from '../../../src/shared/secagg/noise';
import { addMod } from '../../../src/shared/secagg/prg';
import { poisonVector } from '../../../src/simulate/poison';

const ITEMS = 300;
const RANK = 4;
const C = 1;
const optimizer = mechanism(preconditionedSpec({ reg: 1, alpha: 2 }, C));
const layout = contributionLayout(optimizer, ITEMS, RANK);
const encoding: Encoding = { length: layoutLength(layout), clipNorm: contributionBound(C), scaleBits: 16 };
/** The mechanism's part: everything before the members coordinate. */
const PART = encoding.length - 1;
const random = createRandom(101);

/** What an honest client sends: the part `direction` clipped to L2 ≤ C (asked for norm `norm`), members C; without a model, zeros. */
function contributionOf(direction: Float64Array, norm: number, member: boolean): Float64Array {
  const x = new Float64Array(encoding.length);
  if (!member) return x;
  const length = Math.sqrt(direction.reduce((acc, v) => acc + v * v, 0));
  const scale = Math.min(norm, C) / length;
  for (let i = 0; i < PART; i++) x[i] = direction[i] * scale;
  x[PART] = C;
  return x;
}

function randomDirection(): Float64Array {
  return Float64Array.from({ length: PART }, () => random.normal());
}

interface Round {
  /** Σ of the honest members' encoded inputs (noise included), mod 2^32. */
  sum: Uint32Array;
  params: SumBoundParams;
}

/** S honest members, each contributing `deltaOf(i)` with weight 1 (or 0 for the ones in `empty`), with the round's noise shares. */
function honestRound(S: number, deltaOf: (i: number) => Float64Array, opts: { epsilon?: number; empty?: number } = {}): Round {
  const noise = roundNoise(encoding, opts.epsilon ?? 0, 1e-6);
  const minSurvivors = Math.ceil(S * 0.7);
  const sum = new Uint32Array(encoding.length);
  for (let i = 0; i < S; i++) {
    const x = contributionOf(deltaOf(i), 10 * C, i >= (opts.empty ?? 0));
    const shares = noise.sigma > 0 ? skellamShares(encoding.length, (noise.sigma * noise.sigma) / (2 * minSurvivors), () => random.next()) : undefined;
    addMod(sum, toModular(encodeContribution(x, encoding, () => random.next()), shares));
  }
  return { sum, params: { layout, encoding, weightScale: C, survivors: S, minSurvivors, noiseSigma: noise.sigma } };
}

function plus(sum: Uint32Array, p: Uint32Array): Uint32Array {
  const out = Uint32Array.from(sum);
  addMod(out, p);
  return out;
}

function meanOf(decoded: Float64Array): { mean: Float64Array; norm: number } {
  const { part, members } = splitSum(decoded, layout, C);
  const mean = part.map((v) => v / members);
  return { mean, norm: Math.sqrt(mean.reduce((acc, v) => acc + v * v, 0)) };
}

describe('what one member can do to a secure sum', () => {
  it('its own client refuses a contribution beyond the bound (the encoding checks the L2 norm; buildContribution clips)', () => {
    const x = new Float64Array(encoding.length);
    x[0] = encoding.clipNorm * 1.01;
    expect(() => encodeContribution(x, encoding, () => random.next())).toThrow(/exceeds clipNorm/);
    const base = Float32Array.from({ length: ITEMS * RANK }, () => 10 * random.normal());
    const heavy = Array.from({ length: 50 }, (_, j) => ({ item: j * 3, preference: 1, confidence: 1e6 }));
    const clipped = buildContribution(optimizer, base, [heavy], layout, { items: ITEMS, rank: RANK, weightScale: C });
    const { part, members } = splitSum(clipped, layout, C);
    let squares = 0;
    for (const v of part) squares += v * v;
    expect(Math.sqrt(squares)).toBeLessThanOrEqual(C * (1 + 1e-9));
    expect(members).toBe(1);
  });

  it.each([
    { what: 'unrelated deltas, no noise', S: 20, aligned: false, epsilon: 0, empty: 0 },
    { what: 'identical deltas at the clip bound (the largest honest sum)', S: 20, aligned: true, epsilon: 0, empty: 0 },
    { what: 'identical deltas with DP noise', S: 12, aligned: true, epsilon: 1, empty: 0 },
    { what: 'some members without a model (weight 0)', S: 12, aligned: true, epsilon: 0, empty: 5 },
  ])('accepts every honest sum: $what', ({ S, aligned, epsilon, empty }) => {
    const shared = randomDirection();
    const round = honestRound(S, () => (aligned ? shared : randomDirection()), { epsilon, empty });
    expect(sumProblem(decodeSum(round.sum, encoding), round.params)).toBeNull();
  });

  it('refuses a sum with garbage words (what the modulus alone lets one member add), a weight beyond the survivors, or a delta beyond the weight', () => {
    const round = honestRound(10, randomDirection);
    const garbage = poisonVector('garbage', { layout, encoding, weightScale: C, cohortSize: 10 }, random);
    expect(sumProblem(decodeSum(plus(round.sum, garbage), encoding), round.params)).toMatch(/out of bounds/);

    const heavy = new Uint32Array(encoding.length);
    heavy[encoding.length - 1] = Math.round(5 * C * (2 ** 16 / encoding.clipNorm)); // 5 more weights than anyone has
    expect(sumProblem(decodeSum(plus(round.sum, heavy), encoding), round.params)).toMatch(/weight of 15\.\d\d, more than 10 survivors/);

    const loud = poisonVector('bounded', { layout, encoding, weightScale: C, cohortSize: 10 * 3 }, random); // 3x the bounded attack
    expect(sumProblem(decodeSum(plus(round.sum, loud), encoding), round.params)).toMatch(/summed delta has L2 norm .* more than/);
  });

  it('bounds what an accepted sum can do: the merged mean moves by at most 2·weightScale, whatever one member adds', () => {
    const S = 10;
    const round = honestRound(S, randomDirection);
    const honest = meanOf(decodeSum(round.sum, encoding));
    const { maxDeltaNorm } = sumBound(round.params);
    let accepted = 0;
    let refused = 0;
    let worstShift = 0;
    for (const cohortSize of [1, 3, 6, 9, 12, 20, 40]) {
      for (let trial = 0; trial < 3; trial++) {
        const p = poisonVector('bounded', { layout, encoding, weightScale: C, cohortSize }, random);
        const decoded = decodeSum(plus(round.sum, p), encoding);
        if (sumProblem(decoded, round.params) !== null) {
          refused++;
          continue;
        }
        accepted++;
        const poisoned = meanOf(decoded);
        expect(poisoned.norm).toBeLessThanOrEqual(maxDeltaNorm(S) / S);
        let shift = 0;
        for (let i = 0; i < poisoned.mean.length; i++) shift += (poisoned.mean[i] - honest.mean[i]) ** 2;
        worstShift = Math.max(worstShift, Math.sqrt(shift));
      }
    }
    // both kinds happen: small poisons pass (and are bounded), large ones are refused
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(worstShift).toBeGreaterThan(0.5 * C);
    expect(worstShift).toBeLessThanOrEqual(2 * (maxDeltaNorm(S) / S));
  });
});
