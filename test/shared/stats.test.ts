import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/shared/random';
import { boundedEstimate, bootstrapMeanInterval, normalQuantile, quantileSorted, signTestPValue, signTestSampleSize, Z95 } from '../../src/shared/stats';

describe('signTestPValue', () => {
  it('gives the exact two-sided binomial p-values', () => {
    expect(signTestPValue(9, 10)).toBeCloseTo(22 / 1024, 10); // 0.021484
    expect(signTestPValue(1, 10)).toBeCloseTo(22 / 1024, 10);
    expect(signTestPValue(10, 10)).toBeCloseTo(2 / 1024, 10);
    expect(signTestPValue(8, 10)).toBeCloseTo(0.109375, 10);
    expect(signTestPValue(6, 6)).toBeCloseTo(0.03125, 10);
  });

  it('is 1 for an even split, a single pair and no pairs', () => {
    expect(signTestPValue(5, 10)).toBe(1);
    expect(signTestPValue(1, 1)).toBe(1);
    expect(signTestPValue(0, 0)).toBe(1);
  });

  it('does not underflow for thousands of pairs', () => {
    const p = signTestPValue(1100, 2000);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-5);
    expect(signTestPValue(1000, 2000)).toBe(1);
  });

  it('rejects impossible counts', () => {
    expect(() => signTestPValue(11, 10)).toThrow(RangeError);
    expect(() => signTestPValue(-1, 10)).toThrow(RangeError);
    expect(() => signTestPValue(1.5, 10)).toThrow(RangeError);
  });
});

describe('bootstrapMeanInterval', () => {
  it('contains the true share on seeded Bernoulli data', () => {
    const random = createRandom(7);
    const truth = 0.6;
    const values = Array.from({ length: 300 }, () => (random.next() < truth ? 1 : 0));
    const ci = bootstrapMeanInterval(values, { random: createRandom(11) });
    expect(ci).not.toBeNull();
    const [lo, hi] = ci!;
    expect(lo).toBeLessThan(truth);
    expect(hi).toBeGreaterThan(truth);
    expect(hi - lo).toBeLessThan(0.15);
  });

  it('covers the truth in about 95% of seeded repetitions', () => {
    const random = createRandom(3);
    const truth = 0.6;
    let covered = 0;
    const repetitions = 100;
    for (let r = 0; r < repetitions; r++) {
      const values = Array.from({ length: 80 }, () => (random.next() < truth ? 1 : 0));
      const [lo, hi] = bootstrapMeanInterval(values, { random, samples: 500 })!;
      if (lo <= truth && truth <= hi) covered++;
    }
    expect(covered).toBeGreaterThanOrEqual(88);
  });

  it('is reproducible with the same seed and null for no data', () => {
    const values = [1, 0, 1, 1, 0, 1];
    expect(bootstrapMeanInterval(values, { random: createRandom(5) })).toEqual(bootstrapMeanInterval(values, { random: createRandom(5) }));
    expect(bootstrapMeanInterval([], { random: createRandom(5) })).toBeNull();
  });

  it('collapses to the value when every value is the same', () => {
    expect(bootstrapMeanInterval([1, 1, 1], { random: createRandom(1) })).toEqual([1, 1]);
  });
});

describe('quantileSorted and normalQuantile', () => {
  it('interpolates quantiles', () => {
    expect(quantileSorted([0, 10], 0.25)).toBe(2.5);
    expect(quantileSorted([4], 0.9)).toBe(4);
  });

  it('inverts the normal CDF', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.8)).toBeCloseTo(0.841621, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });
});

describe('signTestSampleSize', () => {
  it('needs 194 decisive pairs for a 60/40 preference at alpha 0.05 and 80% power', () => {
    expect(signTestSampleSize({ share: 0.6, alpha: 0.05, power: 0.8 })).toBe(194);
    expect(signTestSampleSize({ share: 0.4, alpha: 0.05, power: 0.8 })).toBe(194);
  });

  it('needs fewer pairs for a stronger preference', () => {
    expect(signTestSampleSize({ share: 0.75, alpha: 0.05, power: 0.8 })).toBeLessThan(40);
  });

  it('rejects a share of one half', () => {
    expect(() => signTestSampleSize({ share: 0.5, alpha: 0.05, power: 0.8 })).toThrow(RangeError);
  });
});

describe('boundedEstimate', () => {
  it('leaves an estimate inside its range as it is, with its 95% interval', () => {
    expect(boundedEstimate(0.4, 0.1, 0, 1)).toEqual({ value: 0.4, low: 0.4 - Z95 * 0.1, high: 0.4 + Z95 * 0.1, clipped: false });
    expect(Z95).toBeCloseTo(normalQuantile(0.975), 8);
  });

  it('clips a share of -50% or 175% to the range, interval ends included, and says so', () => {
    expect(boundedEstimate(-0.5, 0.4, 0, 1)).toEqual({ value: 0, low: 0, high: -0.5 + Z95 * 0.4, clipped: true });
    expect(boundedEstimate(1.75, 0.5, 0, 1)).toEqual({ value: 1, low: 1.75 - Z95 * 0.5, high: 1, clipped: true });
    // a point inside whose interval reaches past an end: the end is clipped, the point is not
    expect(boundedEstimate(0.05, 0.2, 0, 1)).toEqual({ value: 0.05, low: 0, high: 0.05 + Z95 * 0.2, clipped: false });
  });

  it('handles a half-open range and refuses nonsense', () => {
    expect(boundedEstimate(-3, 1, 0, Infinity)).toEqual({ value: 0, low: 0, high: 0, clipped: true });
    expect(boundedEstimate(1e9, 1, 0, Infinity).clipped).toBe(false);
    expect(() => boundedEstimate(0.5, -1, 0, 1)).toThrow(RangeError);
    expect(() => boundedEstimate(Number.NaN, 1, 0, 1)).toThrow(RangeError);
    expect(() => boundedEstimate(0.5, 1, 1, 0)).toThrow(RangeError);
  });
});
