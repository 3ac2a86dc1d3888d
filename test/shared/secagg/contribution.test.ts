import { describe, expect, it } from 'vitest';
import { SUBSPACE_BOUND, SUBSPACE_DEFAULTS, SUBSPACE_MEMBERS_FRACTION } from '../../../src/shared/model/mechanism';
import { DP_COUNT_SHARE, roundNoiseStd, type SubspacePhase } from '../../../src/shared/model/subspace';
import { composeRdp, emptyLedger, epsilonFromRdp, gaussianRdp, integerL1Bound, privacySpent, rdpCurve, recordSpend, RDP_ORDERS, skellamRdp, zcdpRho } from '../../../src/shared/privacy';
import { contributionBound, roundSpend, runNoiseMultipliers, runRoundNoise, subspaceRunLengths, type RunPrivacy } from '../../../src/shared/secagg/contribution';
import { MAX_SCALE_BITS, MIN_SCALE_BITS, quantizedSensitivity, type Encoding } from '../../../src/shared/secagg/encoding';

/** The noise of a DP training run (`runNoiseMultipliers`, `runRoundNoise`) against the ledger that records its rounds. */
const RUN: RunPrivacy = { epsilon: 8, delta: 1e-5, countShare: DP_COUNT_SHARE };
/** ml-latest-small's catalogue: the measure. */
const ITEMS = 9742;
const RANK = 32;
const lengths = subspaceRunLengths(SUBSPACE_DEFAULTS, ITEMS, RANK);
const PHASES: SubspacePhase[] = ['count', 'gram'];
const CLIP = contributionBound(SUBSPACE_BOUND, SUBSPACE_BOUND * SUBSPACE_MEMBERS_FRACTION);
const AT = '2027-01-04T12:00:00.000Z';

const encodingOf = (phase: SubspacePhase, scaleBits: number): Encoding => ({ length: lengths[phase], clipNorm: CLIP, scaleBits });

/** ε at δ of both rounds as a member's ledger records them, each round's noise times `scales`. */
function ledgerEpsilon(scaleBits: number, scales: Record<SubspacePhase, number> = { count: 1, gram: 1 }): number {
  let ledger = emptyLedger();
  for (const phase of PHASES) {
    const encoding = encodingOf(phase, scaleBits);
    const noise = runRoundNoise(encoding, RUN, lengths, phase);
    ledger = recordSpend(ledger, roundSpend(AT, encoding, { ...noise, sigma: scales[phase] * noise.sigma })!);
  }
  return privacySpent(ledger, { epsilon: RUN.epsilon, delta: RUN.delta, periodDays: 0 }, new Date(AT)).epsilon;
}

describe('subspaceRunLengths', () => {
  it('is each round\'s contribution length: the counts or the co-occurrences, and the members coordinate', () => {
    expect(lengths).toEqual({ count: ITEMS + 1, gram: (200 * 199) / 2 + 1 });
    expect(subspaceRunLengths({ ...SUBSPACE_DEFAULTS, diagonal: true }, ITEMS, RANK).gram).toBe((200 * 201) / 2 + 1);
    expect(subspaceRunLengths({ ...SUBSPACE_DEFAULTS, topItems: 500 }, 120, RANK)).toEqual({ count: 121, gram: (120 * 119) / 2 + 1 });
  });
});

describe('the noise of a DP training run', () => {
  it.each([MIN_SCALE_BITS, 4, 16, 21, MAX_SCALE_BITS])('spends at most ε and within 0.5%% of it in a member\'s ledger (both rounds at %d scale bits)', (scaleBits) => {
    const spent = ledgerEpsilon(scaleBits);
    expect(spent).toBeLessThanOrEqual(RUN.epsilon);
    expect(spent).toBeGreaterThan(RUN.epsilon * 0.995);
  });

  it('holds whatever precision each round gets, the two differing', () => {
    for (const [countBits, gramBits] of [[MIN_SCALE_BITS, 20], [20, MIN_SCALE_BITS], [16, 17], [30, 4]]) {
      let ledger = emptyLedger();
      for (const [phase, bits] of [['count', countBits], ['gram', gramBits]] as const) {
        const encoding = encodingOf(phase, bits);
        ledger = recordSpend(ledger, roundSpend(AT, encoding, runRoundNoise(encoding, RUN, lengths, phase))!);
      }
      expect(privacySpent(ledger, { epsilon: RUN.epsilon, delta: RUN.delta, periodDays: 0 }, new Date(AT)).epsilon, `${countBits} / ${gramBits} bits`).toBeLessThanOrEqual(RUN.epsilon);
    }
  });

  it('is the smallest: at the coarsest precision, where it is calibrated, the ledger reports ε exactly and 1% less noise in either round overspends', () => {
    expect(ledgerEpsilon(MIN_SCALE_BITS)).toBeGreaterThan(RUN.epsilon * (1 - 1e-9));
    expect(ledgerEpsilon(MIN_SCALE_BITS, { count: 0.99, gram: 1 })).toBeGreaterThan(RUN.epsilon);
    expect(ledgerEpsilon(MIN_SCALE_BITS, { count: 1, gram: 0.99 })).toBeGreaterThan(RUN.epsilon);
    // at the precision rounds get (SECAGG_SCALE_BITS 16 and finer) the Skellam excess is all but gone: ε − 0.001
    expect(ledgerEpsilon(16)).toBeGreaterThan(RUN.epsilon - 0.001);
  });

  it('is 0.92 of the zCDP calibration\'s noise in both rounds, which keep the count share\'s proportions', () => {
    const z = runNoiseMultipliers(RUN, lengths);
    const zcdp = roundNoiseStd(zcdpRho(RUN.epsilon, RUN.delta), RUN.countShare);
    expect(z.count / zcdp.count).toBeCloseTo(0.9244, 3);
    expect(z.gram / zcdp.gram).toBeCloseTo(z.count / zcdp.count, 12);
    // ε 8, δ 1e-5, share 0.1: σ 2.018 on the counts, 0.6727 on the Gram matrix (zCDP: 2.183, 0.7277)
    expect(z.count).toBeCloseTo(2.018, 3);
    expect(z.gram).toBeCloseTo(0.6727, 4);
  });

  it('spends at most ε as the Gaussian of the same std the evaluation simulates, within 0.05%', () => {
    const z = runNoiseMultipliers(RUN, lengths);
    const gaussian = epsilonFromRdp(composeRdp(PHASES.map((phase) => rdpCurve((alpha) => gaussianRdp(alpha, 1, z[phase])))), RUN.delta).epsilon;
    expect(gaussian).toBeLessThanOrEqual(RUN.epsilon);
    expect(gaussian).toBeGreaterThan(RUN.epsilon * 0.9995);
  });

  it('rests on the Skellam curve falling, at a given std per unit of sensitivity, as the precision grows', () => {
    const z = runNoiseMultipliers(RUN, lengths);
    for (const phase of PHASES) {
      let previous: number[] | null = null;
      for (let bits = MIN_SCALE_BITS; bits <= MAX_SCALE_BITS; bits++) {
        const l2 = quantizedSensitivity(encodingOf(phase, bits));
        const curve = RDP_ORDERS.map((alpha) => skellamRdp(alpha, l2, integerL1Bound(l2, lengths[phase]), (z[phase] * l2) ** 2));
        // (up to float rounding once the excess is below it: the Gaussian term is the same at every precision)
        if (previous !== null) for (let i = 0; i < curve.length; i++) expect(curve[i]).toBeLessThanOrEqual(previous[i] * (1 + 1e-12));
        previous = curve;
      }
    }
  });

  it('is none at epsilon 0, and refuses an encoding that is not one of the run\'s rounds', () => {
    expect(runRoundNoise(encodingOf('count', 16), { ...RUN, epsilon: 0 }, lengths, 'count')).toEqual({ mechanism: 'none', sigma: 0 });
    expect(() => runRoundNoise(encodingOf('count', 16), RUN, lengths, 'gram')).toThrow(RangeError);
  });
});
