import { describe, expect, it } from 'vitest';
import { epsilonOfNoise, noiseMultiplier, totalEpsilon } from '../../src/eval/dp';
import { deltaNoiseSigma, gaussianSigma } from '../../src/shared/privacy';

describe('privacy accounting of the evaluation', () => {
  it('splits a total budget over the rounds by zCDP (documented example)', () => {
    expect(noiseMultiplier(8, 1e-5, 5)).toBeCloseTo(1.5436, 3);
    // more rounds for the same budget: more noise per round, growing as sqrt(rounds)
    expect(noiseMultiplier(8, 1e-5, 20) / noiseMultiplier(8, 1e-5, 5)).toBeCloseTo(2, 10);
  });

  it('totalEpsilon inverts noiseMultiplier', () => {
    for (const [epsilon, rounds] of [[1, 10], [8, 10], [8, 1], [50, 30]]) {
      expect(totalEpsilon(noiseMultiplier(epsilon, 1e-5, rounds), rounds, 1e-5)).toBeCloseTo(epsilon, 9);
    }
  });

  it('finds the per-round ε of a Gaussian with the given noise per unit sensitivity', () => {
    for (const s of [0.6, 1.5, 5]) {
      const epsilon = epsilonOfNoise(s, 1e-5);
      expect(gaussianSigma(epsilon, 1e-5, 1)).toBeCloseTo(s, 6);
      // local DP: a participant recording this ε draws σ = s · 2C (its sensitivity is 2C)
      expect(deltaNoiseSigma(epsilon, 1e-5, 3)).toBeCloseTo(s * 2 * 3, 5);
    }
  });

  it('refuses budgets that mean nothing', () => {
    expect(() => noiseMultiplier(0, 1e-5, 10)).toThrow(RangeError);
    expect(() => noiseMultiplier(1, 0, 10)).toThrow(RangeError);
    expect(() => noiseMultiplier(1, 1e-5, 0)).toThrow(RangeError);
  });
});
