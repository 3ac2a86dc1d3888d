import { describe, expect, it } from 'vitest';
import type { Interaction } from '../../../src/shared/model/feedback';
import { mechanism, parseMechanismSpec, preconditionedSpec, subspaceSpec, SUBSPACE_DEFAULTS } from '../../../src/shared/model/mechanism';
import { subspaceContribution, subspaceSize } from '../../../src/shared/model/subspace';
import { contributionBound } from '../../../src/shared/secagg/contribution';

const ITEMS = 50;
const RANK = 4;
const params = { ...SUBSPACE_DEFAULTS, topItems: 10, dimensions: 2 };
const watch = (items: number[]): Interaction[] => items.map((item) => ({ item, preference: 1, confidence: 1 }));
const norm = (x: Float64Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
/** A base whose row norms fall with the item id: S = the first `topItems` items. */
const base = Float32Array.from({ length: ITEMS * RANK }, (_, i) => (i % RANK === 0 ? ITEMS - Math.floor(i / RANK) : 0));

describe('the subspace mechanism', () => {
  it('lays out one segment of the phase\'s size and applies the DP PureSVD step', () => {
    const count = mechanism(subspaceSpec('count', params));
    const gram = mechanism(subspaceSpec('gram', params));
    expect(count.bound).toBe(1);
    // the members coordinate is 1/8 of the bound, so the whole contribution's bound (what the noise pays for) is √(1 + 1/64)
    expect(count.membersScale).toBe(1 / 8);
    expect(contributionBound(count.bound, count.membersScale)).toBeCloseTo(1.0078, 4);
    expect(count.layout(ITEMS, RANK)).toEqual({ segments: [{ name: 'counts', length: ITEMS }] });
    expect(gram.layout(ITEMS, RANK)).toEqual({ segments: [{ name: 'gram', length: (10 * 9) / 2 }] });
    const x = gram.contribute(base, [watch([0, 1, 2, 30])], ITEMS, RANK);
    const { V, report } = gram.apply(base, x, ITEMS, RANK, { count: 1, noiseStd: 0 });
    // one contribution: the co-occurrences of x̃x̃ᵀ (x̃ = 1/√3 on the 3 watched items of S) reweighted by
    // 1/√(1 − 1/3) to norm 1, i.e. √1.5·(J − I)/3 on those items: top eigenvalue √1.5·2/3 = 2/√6
    expect(report.topEigenvalue).toBeCloseTo(2 / Math.sqrt(6), 9);
    expect(report.dimensions).toBeGreaterThanOrEqual(1);
    for (let j = 10; j < ITEMS; j++) for (let a = 0; a < RANK; a++) expect(V[j * RANK + a]).toBe(0);
    expect(V[0]).not.toBe(0);
    // the aggregator's noise std reaches the denoising: at t·σ above every packed value (√2·√1.5/3 = 0.577) nothing is left
    expect(gram.apply(base, x, ITEMS, RANK, { count: 1, noiseStd: 0.5 / params.threshold! }).report.dimensions).toBe(1);
    expect(gram.apply(base, x, ITEMS, RANK, { count: 1, noiseStd: 0.6 / params.threshold! }).report).toEqual({ dimensions: 0 });
  });

  it('sends the mean of a datasite\'s profiles, within 1 (exactly 1 when they agree), and zeros without profiles', () => {
    const m = mechanism(subspaceSpec('count', params));
    const one = subspaceContribution(base, watch([3, 4]), 1, { ...params, items: ITEMS, rank: RANK });
    const same = m.contribute(base, [watch([3, 4]), watch([3, 4])], ITEMS, RANK);
    expect(norm(same)).toBeLessThanOrEqual(1);
    expect(norm(same)).toBeCloseTo(1, 12);
    expect(Array.from(same)).toEqual(Array.from(one).map((v) => expect.closeTo(v, 12)));
    const mixed = m.contribute(base, [watch([3]), watch([40])], ITEMS, RANK);
    expect(mixed[3]).toBeCloseTo(0.5, 12);
    expect(mixed[40]).toBeCloseTo(0.5, 12);
    expect(norm(mixed)).toBeLessThan(1);
    expect(Array.from(m.contribute(base, [], ITEMS, RANK))).toEqual(new Array(subspaceSize('count', { ...params, items: ITEMS, rank: RANK })).fill(0));
  });
});

describe('contribute into a given vector', () => {
  it('writes the same values as into a new vector, for both mechanisms, and refuses a vector of another length', () => {
    const specs = [subspaceSpec('count', params), subspaceSpec('gram', params), preconditionedSpec({ reg: 1, alpha: 2 }, 5)];
    for (const spec of specs) {
      const m = mechanism(spec);
      for (const profiles of [[watch([0, 1, 2, 30])], [watch([3, 4]), watch([3, 40])]]) {
        const fresh = m.contribute(base, profiles, ITEMS, RANK);
        // the caller's larger vector, one value past the part (as buildContribution's members coordinate)
        const larger = new Float64Array(fresh.length + 1);
        const out = larger.subarray(0, fresh.length);
        expect(m.contribute(base, profiles, ITEMS, RANK, out)).toBe(out);
        expect(Buffer.from(out.slice().buffer).equals(Buffer.from(fresh.buffer))).toBe(true);
        expect(larger[fresh.length]).toBe(0);
      }
      expect(() => m.contribute(base, [watch([1])], ITEMS, RANK, new Float64Array(3))).toThrow(/has 3/);
    }
  });
});

describe('parseMechanismSpec (a hostile round file)', () => {
  it('reads back what the aggregator writes', () => {
    for (const spec of [subspaceSpec('count'), subspaceSpec('gram', params), preconditionedSpec({ reg: 3, alpha: 2 }, 100)]) expect(parseMechanismSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it.each([
    ['an unknown phase', { name: 'subspace', params: { ...SUBSPACE_DEFAULTS, phase: 'both' } }, /phase must be count or gram/],
    ['a missing parameter', { name: 'subspace', params: { phase: 'count', topItems: 200, dimensions: 8 } }, /exactly the keys/],
    ['an extra parameter', { name: 'subspace', params: { ...SUBSPACE_DEFAULTS, phase: 'count', noise: 0 } }, /exactly the keys/],
    ['a Gram matrix too large for any member to build', { name: 'subspace', params: { ...SUBSPACE_DEFAULTS, phase: 'gram', topItems: 2001 } }, /topItems must be a finite number from 1 to 2000/],
    ['a fractional item count', { name: 'subspace', params: { ...SUBSPACE_DEFAULTS, phase: 'gram', topItems: 20.5 } }, /topItems must be an integer/],
    ['no dimensions', { name: 'subspace', params: { ...SUBSPACE_DEFAULTS, phase: 'gram', dimensions: 0 } }, /dimensions must be/],
    ['a diagonal that is not a boolean', { name: 'subspace', params: { ...SUBSPACE_DEFAULTS, phase: 'gram', diagonal: 'no' } }, /diagonal must be true or false/],
    ['a power that is not a number', { name: 'subspace', params: { ...SUBSPACE_DEFAULTS, phase: 'gram', power: '0.5' } }, /power must be/],
    ['a negative threshold', { name: 'subspace', params: { ...SUBSPACE_DEFAULTS, phase: 'gram', threshold: -1 } }, /threshold must be a finite number from 0 to 10/],
    ['no threshold (a round file of the format before it)', { name: 'subspace', params: { phase: 'gram', topItems: 200, dimensions: 8, power: 0.5, diagonal: false } }, /exactly the keys/],
    ['the optimizer with the removed DP levers', { name: 'preconditioned', params: { reg: 3, alpha: 2, clipNorm: 100, step: 0.7, ridge: 0.3 } }, /exactly the keys/],
    ['an unknown mechanism', { name: 'gaussian', params: {} }, /not known \(known: preconditioned, subspace\)/],
  ])('refuses %s', (_, value, message) => {
    expect(() => parseMechanismSpec(value)).toThrow(message);
  });
});
