import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../src/shared/random';
import { decodeSum, encodeContribution, maxCohortSize, quantizedSensitivity, scaleOf, toModular, type Encoding } from '../../../src/shared/secagg/encoding';
import { addMod } from '../../../src/shared/secagg/prg';

/** A random vector of L2 norm `norm`. */
function vectorOfNorm(length: number, norm: number, seed: number): Float64Array {
  const random = createRandom(seed);
  const x = Float64Array.from({ length }, () => random.normal());
  const scale = norm / Math.sqrt(x.reduce((acc, v) => acc + v * v, 0));
  return x.map((v) => v * scale);
}

describe('scale and sensitivity', () => {
  it('γ = 2^scaleBits / clipNorm and Δ₂ = γ·clipNorm + √length', () => {
    const e: Encoding = { length: 100, clipNorm: 0.5, scaleBits: 16 };
    expect(scaleOf(e)).toBe(131072);
    expect(quantizedSensitivity(e)).toBe(65536 + 10);
  });

  it.each([
    { length: 0, clipNorm: 1, scaleBits: 16 },
    { length: 3, clipNorm: 0, scaleBits: 16 },
    { length: 3, clipNorm: 1, scaleBits: 31 },
    { length: 3, clipNorm: 1, scaleBits: 2.5 },
  ])('rejects %o', (e) => {
    expect(() => scaleOf(e)).toThrow(RangeError);
  });
});

describe('encodeContribution / toModular / decodeSum', () => {
  const e: Encoding = { length: 500, clipNorm: 2, scaleBits: 16 };

  it('round-trips a clipped vector, negatives included, to within one quantum per coordinate', () => {
    const x = vectorOfNorm(e.length, 2, 1);
    const random = createRandom(2);
    const decoded = decodeSum(toModular(encodeContribution(x, e, () => random.next())), e);
    const gamma = scaleOf(e);
    for (let i = 0; i < x.length; i++) expect(Math.abs(decoded[i] - x[i])).toBeLessThan(1 / gamma);
    expect(x.some((v) => v < 0)).toBe(true);
  });

  it('rounds without bias', () => {
    const one: Encoding = { length: 1, clipNorm: 1, scaleBits: 4 };
    const random = createRandom(3);
    const draws = 20000;
    let total = 0;
    for (let i = 0; i < draws; i++) total += encodeContribution(Float64Array.of(0.3), one, () => random.next())[0];
    // 0.3·16 = 4.8: 5 with probability 0.8, else 4; standard error √(0.16/20000) ≈ 0.0028
    expect(total / draws).toBeCloseTo(4.8, 1);
    expect(Math.abs(total / draws - 4.8)).toBeLessThan(0.012);
  });

  it('keeps the decoded sum of n contributions within n/γ of the float sum', () => {
    const n = 40;
    const random = createRandom(4);
    const sum = new Uint32Array(e.length);
    const floatSum = new Float64Array(e.length);
    for (let u = 0; u < n; u++) {
      const x = vectorOfNorm(e.length, 2 * random.next(), 100 + u);
      addMod(sum, toModular(encodeContribution(x, e, () => random.next())));
      for (let i = 0; i < x.length; i++) floatSum[i] += x[i];
    }
    const decoded = decodeSum(sum, e);
    const gamma = scaleOf(e);
    let squared = 0;
    for (let i = 0; i < e.length; i++) {
      expect(Math.abs(decoded[i] - floatSum[i])).toBeLessThan(n / gamma);
      squared += (decoded[i] - floatSum[i]) ** 2;
    }
    // standard error ≤ √n/(2γ); the RMS over 500 coordinates stays well under twice that
    expect(Math.sqrt(squared / e.length)).toBeLessThan((2 * Math.sqrt(n)) / (2 * gamma));
  });

  it('adds the noise shares before reduction mod 2^32', () => {
    const q = Int32Array.of(5, -3, 0);
    expect([...toModular(q, Int32Array.of(-7, 1, -1))]).toEqual([2 ** 32 - 2, 2 ** 32 - 2, 2 ** 32 - 1]);
    expect(() => toModular(q, new Int32Array(2))).toThrow(RangeError);
  });

  it('accepts a vector exactly at the clip norm and rejects one above it, a NaN, or the wrong length', () => {
    const uniform = () => 0.5;
    expect(() => encodeContribution(vectorOfNorm(e.length, 2, 5), e, uniform)).not.toThrow();
    expect(() => encodeContribution(vectorOfNorm(e.length, 2.0001, 5), e, uniform)).toThrow(RangeError);
    const withNaN = vectorOfNorm(e.length, 1, 5);
    withNaN[3] = Number.NaN;
    expect(() => encodeContribution(withNaN, e, uniform)).toThrow(RangeError);
    expect(() => encodeContribution(new Float64Array(3), e, uniform)).toThrow(RangeError);
    expect(() => decodeSum(new Uint32Array(3), e)).toThrow(RangeError);
  });
});

describe('maxCohortSize', () => {
  const e: Encoding = { length: 10, clipNorm: 1, scaleBits: 16 };

  it('is the largest n with n·(γC + 1) + 12σ < 2^31', () => {
    for (const sigma of [0, 1000, 1e6]) {
      const n = maxCohortSize(e, sigma);
      expect(n * (65536 + 1) + 12 * sigma).toBeLessThan(2 ** 31);
      expect((n + 1) * (65536 + 1) + 12 * sigma).toBeGreaterThanOrEqual(2 ** 31);
    }
    expect(maxCohortSize(e, 0)).toBe(32767);
    expect(maxCohortSize(e, 2 ** 31)).toBe(0);
    expect(() => maxCohortSize(e, Number.NaN)).toThrow(RangeError);
  });

  it('decodes the most extreme sum of a maximal cohort, while one more member at the bound wraps', () => {
    const extreme = toModular(encodeContribution(Float64Array.of(1, ...new Array(9).fill(0)), e, () => 0.5));
    const n = maxCohortSize(e, 0);
    const sum = new Uint32Array(e.length);
    for (let u = 0; u < n; u++) addMod(sum, extreme);
    expect(decodeSum(sum, e)[0]).toBe(n);
    addMod(sum, extreme);
    // 32768 · 2^16 = 2^31: the centred lift reads it as −2^31
    expect(decodeSum(sum, e)[0]).toBe(-(n + 1));
  });
});
