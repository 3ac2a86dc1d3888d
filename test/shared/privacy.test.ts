import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/shared/errors';
import {
  addGaussianNoise,
  canSpend,
  emptyLedger,
  estimateYesCount,
  gaussianSigma,
  laplaceNoise,
  parsePrivacyLedger,
  randomizedResponse,
  recordSpend,
} from '../../src/shared/privacy';
import { createRandom } from '../../src/shared/random';

const classicSigma = (epsilon: number, delta: number, sensitivity: number): number => (Math.sqrt(2 * Math.log(1.25 / delta)) * sensitivity) / epsilon;

describe('gaussianSigma (analytic Gaussian mechanism)', () => {
  it.each([
    // Reference values of an independent analytic-Gaussian implementation (the sds_core crate's tests).
    [6, 0.5, Math.sqrt(30), 1.4659731497780966],
    [6, 1e-5, Math.sqrt(30), 4.182602139814776],
    [0.1, 1e-5, 10, 307.49566132862844],
  ])('epsilon %d, delta %d, sensitivity %d -> sigma %d', (epsilon, delta, sensitivity, sigma) => {
    expect(gaussianSigma(epsilon, delta, sensitivity)).toBeCloseTo(sigma, 6);
  });

  it('falls as epsilon or delta grows and scales linearly with the sensitivity', () => {
    const epsilons = [0.1, 0.5, 1, 2, 8, 50, 1000];
    const byEpsilon = epsilons.map((e) => gaussianSigma(e, 1e-5, 1));
    for (let i = 1; i < byEpsilon.length; i++) expect(byEpsilon[i]).toBeLessThan(byEpsilon[i - 1]);
    const byDelta = [1e-10, 1e-6, 1e-5, 1e-3, 0.1].map((d) => gaussianSigma(1, d, 1));
    for (let i = 1; i < byDelta.length; i++) expect(byDelta[i]).toBeLessThan(byDelta[i - 1]);
    expect(gaussianSigma(2, 1e-5, 3)).toBeCloseTo(3 * gaussianSigma(2, 1e-5, 1), 9);
    expect(byEpsilon.every((s) => Number.isFinite(s) && s > 0)).toBe(true);
  });

  it('needs less noise than the classic bound where that bound applies (epsilon < 1)', () => {
    for (const epsilon of [0.1, 0.5, 0.9]) {
      const analytic = gaussianSigma(epsilon, 1e-5, 1);
      expect(analytic).toBeLessThan(classicSigma(epsilon, 1e-5, 1));
      expect(analytic).toBeGreaterThan(0.5 * classicSigma(epsilon, 1e-5, 1));
    }
    expect(classicSigma(0.5, 1e-5, 1)).toBeCloseTo(9.69, 2);
    expect(gaussianSigma(0.5, 1e-5, 1)).toBeCloseTo(7.03, 2);
    expect(gaussianSigma(1, 1e-5, 1)).toBeCloseTo(3.73, 2);
  });

  it('rejects parameters outside their domain', () => {
    expect(() => gaussianSigma(0, 1e-5, 1)).toThrow(RangeError);
    expect(() => gaussianSigma(1, 0, 1)).toThrow(RangeError);
    expect(() => gaussianSigma(1, 1e-5, 0)).toThrow(RangeError);
  });
});

describe('noise', () => {
  it('addGaussianNoise adds zero-mean noise of standard deviation sigma (100,000 draws)', () => {
    const n = 100_000;
    const sigma = 2;
    const values = new Float32Array(n).fill(5);
    addGaussianNoise(values, sigma, createRandom(7));
    let sum = 0;
    let sumSq = 0;
    for (const v of values) {
      sum += v - 5;
      sumSq += (v - 5) ** 2;
    }
    const mean = sum / n;
    const std = Math.sqrt(sumSq / n - mean * mean);
    // Standard errors: sigma/sqrt(n) = 0.0063 for the mean, sigma/sqrt(2n) = 0.0045 for the std.
    expect(Math.abs(mean)).toBeLessThan(4 * (sigma / Math.sqrt(n)));
    expect(Math.abs(std - sigma)).toBeLessThan(4 * (sigma / Math.sqrt(2 * n)));
  });

  it('is reproducible: the same seed gives the same noise, another seed other noise', () => {
    const draw = (seed: number): Float32Array => {
      const v = new Float32Array(16);
      addGaussianNoise(v, 1, createRandom(seed));
      return v;
    };
    expect(draw(3)).toEqual(draw(3));
    expect(draw(4)).not.toEqual(draw(3));
  });

  it('laplaceNoise has mean 0 and mean absolute value equal to the scale', () => {
    const random = createRandom(8);
    const n = 100_000;
    const scale = 1.5;
    let sum = 0;
    let sumAbs = 0;
    for (let i = 0; i < n; i++) {
      const x = laplaceNoise(scale, random);
      sum += x;
      sumAbs += Math.abs(x);
    }
    // Laplace(b): std b·sqrt(2), |X| ~ Exponential(b) with std b.
    expect(Math.abs(sum / n)).toBeLessThan((4 * scale * Math.SQRT2) / Math.sqrt(n));
    expect(Math.abs(sumAbs / n - scale)).toBeLessThan((4 * scale) / Math.sqrt(n));
  });

  it('randomizedResponse tells the truth with probability e^ε/(1+e^ε), and estimateYesCount undoes it', () => {
    const random = createRandom(9);
    const epsilon = 1;
    const n = 50_000;
    const trueYes = 12_000;
    let reportedYes = 0;
    let truthful = 0;
    for (let i = 0; i < n; i++) {
      const answer = i < trueYes;
      const reported = randomizedResponse(answer, epsilon, random);
      if (reported) reportedYes++;
      if (reported === answer) truthful++;
    }
    const p = Math.E / (1 + Math.E);
    expect(Math.abs(truthful / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    // Std of the estimate: sqrt(n p (1-p)) / (2p - 1) = 218.
    expect(Math.abs(estimateYesCount(reportedYes, n, epsilon) - trueYes)).toBeLessThan(4 * 218);
  });
});

describe('privacy ledger', () => {
  it('adds epsilon and delta by basic composition without changing the old ledger', () => {
    const first = recordSpend(emptyLedger(), { at: '2026-01-01T00:00:00.000Z', kind: 'delta', epsilon: 8, delta: 1e-5 });
    const second = recordSpend(first, { at: '2026-01-02T00:00:00.000Z', kind: 'insights', epsilon: 1, delta: 0 });
    expect(first.entries).toHaveLength(1);
    expect(first.epsilonSpent).toBe(8);
    expect(second).toMatchObject({ formatVersion: 1, method: 'basic-composition', epsilonSpent: 9, deltaSpent: 1e-5 });
    expect(second.entries.map((e) => e.kind)).toEqual(['delta', 'insights']);
    expect(() => recordSpend(first, { at: 'x', kind: 'delta', epsilon: -1, delta: 0 })).toThrow(RangeError);
  });

  it('allows spending up to the budget and not beyond (ten spends of 0.1 fit a budget of 1)', () => {
    let ledger = emptyLedger();
    for (let i = 0; i < 10; i++) {
      expect(canSpend(ledger, 0.1, 1)).toBe(true);
      ledger = recordSpend(ledger, { at: `t${i}`, kind: 'delta', epsilon: 0.1, delta: 1e-6 });
    }
    expect(canSpend(ledger, 0.1, 1)).toBe(false);
    expect(canSpend(ledger, 0, 1)).toBe(true);
    expect(canSpend(emptyLedger(), 51, 50)).toBe(false);
  });

  it('parses its own JSON, recomputing the totals, and rejects a malformed file', () => {
    const ledger = recordSpend(emptyLedger(), { at: '2026-01-01T00:00:00.000Z', kind: 'delta', epsilon: 2, delta: 1e-5 });
    const tampered = { ...JSON.parse(JSON.stringify(ledger)), epsilonSpent: 0 };
    expect(parsePrivacyLedger(tampered, 'privacy.json')).toEqual(ledger);
    for (const bad of [null, [], { ...ledger, formatVersion: 2 }, { ...ledger, entries: [{ at: 'x', kind: 'delta', epsilon: -1, delta: 0 }] }]) {
      let error: unknown;
      try {
        parsePrivacyLedger(bad, '/p/privacy.json');
      } catch (err) {
        error = err;
      }
      expect(isAppError(error, 'ERR_JSON_FORMAT')).toBe(true);
      expect((error as Error).message).toContain('/p/privacy.json');
    }
  });
});
