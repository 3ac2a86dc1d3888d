import { describe, expect, it } from 'vitest';
import { calibrateRoundNoise, integerL1Bound } from '../../../src/shared/privacy';
import { createRandom } from '../../../src/shared/random';
import { decodeSum, encodeContribution, maxCohortSize, quantizedSensitivity, scaleOf, toModular, type Encoding } from '../../../src/shared/secagg/encoding';
import { MAX_SHARE_LAMBDA, cryptoUniform, samplePoisson, skellamShares } from '../../../src/shared/secagg/noise';
import { addMod } from '../../../src/shared/secagg/prg';

/** Sample mean and (unbiased) variance. */
function moments(values: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i] - mean) ** 2;
  return { mean, variance: squares / (values.length - 1) };
}

/**
 * Pearson's χ² of `draws` against Poisson(λ). The pmf comes from the ratio P(k+1)/P(k) = λ/(k+1),
 * walked out from the mode over ±12 standard deviations and normalised (independent of the
 * sampler's ln P(k)); consecutive k are pooled into bins of probability ≥ 1/40.
 */
function poissonChiSquare(draws: Float64Array, lambda: number): { statistic: number; degrees: number } {
  const mode = Math.floor(lambda);
  const reach = Math.ceil(12 * Math.sqrt(lambda)) + 10;
  const low = Math.max(0, mode - reach);
  const weights = new Float64Array(mode + reach - low + 1);
  weights[mode - low] = 1;
  for (let k = mode; k < mode + reach; k++) weights[k + 1 - low] = (weights[k - low] * lambda) / (k + 1);
  for (let k = mode; k > low; k--) weights[k - 1 - low] = (weights[k - low] * k) / lambda;
  let total = 0;
  for (const w of weights) total += w;
  // bins: [lower edge k, probability]; the first bin also takes k < low, the last k > its range
  const bins: { from: number; p: number }[] = [];
  let open = { from: 0, p: 0 };
  for (let i = 0; i < weights.length; i++) {
    open.p += weights[i] / total;
    if (open.p >= 1 / 40) {
      bins.push(open);
      open = { from: low + i + 1, p: 0 };
    }
  }
  bins[bins.length - 1].p += open.p;
  const counts = new Float64Array(bins.length);
  for (const k of draws) {
    let lo = 0;
    let hi = bins.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (bins[mid].from <= k) lo = mid;
      else hi = mid - 1;
    }
    counts[lo]++;
  }
  let statistic = 0;
  for (let b = 0; b < bins.length; b++) statistic += (counts[b] - draws.length * bins[b].p) ** 2 / (draws.length * bins[b].p);
  return { statistic, degrees: bins.length - 1 };
}

describe('samplePoisson', () => {
  it.each([0.5, 3, 9.99, 10, 47.3, 1e4, 1e9, 1e10])('Poisson(%d): mean and variance λ (100,000 draws)', (lambda) => {
    const uniform = createRandom(11).next;
    const n = 100_000;
    const draws = new Float64Array(n);
    for (let i = 0; i < n; i++) draws[i] = samplePoisson(lambda, uniform);
    const { mean, variance } = moments(draws);
    expect(draws.every((k) => Number.isInteger(k) && k >= 0)).toBe(true);
    // standard errors: √(λ/n) for the mean; √((λ + 2λ²)/n) for the variance (fourth central moment λ + 3λ²)
    expect(Math.abs(mean - lambda)).toBeLessThan(5 * Math.sqrt(lambda / n));
    expect(Math.abs(variance - lambda)).toBeLessThan(5 * Math.sqrt((lambda + 2 * lambda * lambda) / n));
  });

  it.each([3, 9.99, 10, 47.3, 1e6, 1e10])('Poisson(%d) has the Poisson distribution (χ² over 200,000 draws)', (lambda) => {
    const uniform = createRandom(12).next;
    const draws = new Float64Array(200_000);
    for (let i = 0; i < draws.length; i++) draws[i] = samplePoisson(lambda, uniform);
    const { statistic, degrees } = poissonChiSquare(draws, lambda);
    expect(degrees).toBeGreaterThanOrEqual(7);
    // mean = degrees, sd = √(2·degrees): seven sd above is far beyond chance for a correct sampler
    expect(statistic).toBeLessThan(degrees + 7 * Math.sqrt(2 * degrees));
  });

  it('the χ² check detects a shift of 0.1 standard deviation and a 5% wider spread', () => {
    const lambda = 1e6;
    const uniform = createRandom(13).next;
    const shifted = new Float64Array(200_000);
    const wider = new Float64Array(200_000);
    for (let i = 0; i < shifted.length; i++) {
      const k = samplePoisson(lambda, uniform);
      shifted[i] = k + 100;
      wider[i] = Math.round(lambda + 1.05 * (k - lambda));
    }
    for (const draws of [shifted, wider]) {
      const { statistic, degrees } = poissonChiSquare(draws, lambda);
      expect(statistic).toBeGreaterThan(degrees + 7 * Math.sqrt(2 * degrees));
    }
  });

  it('returns 0 for λ = 0 and rejects λ outside [0, 2^50]', () => {
    const uniform = createRandom(14).next;
    expect(samplePoisson(0, uniform)).toBe(0);
    for (const lambda of [-1, Number.NaN, Number.POSITIVE_INFINITY, MAX_SHARE_LAMBDA * 2]) expect(() => samplePoisson(lambda, uniform)).toThrow(RangeError);
  });

  it('is reproducible from the uniform source', () => {
    const draw = (seed: number): number[] => {
      const uniform = createRandom(seed).next;
      return Array.from({ length: 20 }, () => samplePoisson(1e9, uniform));
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(6)).not.toEqual(draw(5));
  });
});

describe('skellamShares', () => {
  it.each([0.3, 7, 1e3, 5e9])('Sk(%d): Int32Array of mean 0 and variance 2λ (100,000 coordinates)', (lambda) => {
    const n = 100_000;
    const shares = skellamShares(n, lambda, createRandom(21).next);
    expect(shares).toBeInstanceOf(Int32Array);
    expect(shares).toHaveLength(n);
    const { mean, variance } = moments(shares);
    // Skellam(λ, λ): variance 2λ, fourth central moment 2λ + 12λ², so Var(s²) ≈ (2λ + 8λ²)/n
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt((2 * lambda) / n));
    expect(Math.abs(variance - 2 * lambda)).toBeLessThan(5 * Math.sqrt((2 * lambda + 8 * lambda * lambda) / n));
  });

  it('T members\' shares sum to noise of variance 2·λ·T', () => {
    const members = 7;
    const lambda = 3e8;
    const length = 60_000;
    const uniform = createRandom(22).next;
    const sum = new Float64Array(length);
    for (let m = 0; m < members; m++) {
      const share = skellamShares(length, lambda, uniform);
      for (let i = 0; i < length; i++) sum[i] += share[i];
    }
    const { mean, variance } = moments(sum);
    const expected = 2 * lambda * members;
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(expected / length));
    expect(Math.abs(variance / expected - 1)).toBeLessThan(5 * Math.sqrt(2 / length));
  });

  it('draws from the OS CSPRNG at secure-aggregation scale (281,825 coordinates, λ = 5e9)', () => {
    const length = 281_825;
    const lambda = 5e9;
    const { mean, variance } = moments(skellamShares(length, lambda, cryptoUniform()));
    expect(Math.abs(mean)).toBeLessThan(6 * Math.sqrt((2 * lambda) / length));
    expect(Math.abs(variance / (2 * lambda) - 1)).toBeLessThan(6 * Math.sqrt(2 / length));
  });

  it('gives zeros for λ = 0 and rejects a bad length or λ', () => {
    const uniform = createRandom(23).next;
    expect(skellamShares(5, 0, uniform)).toEqual(new Int32Array(5));
    expect(skellamShares(0, 10, uniform)).toHaveLength(0);
    expect(() => skellamShares(-1, 10, uniform)).toThrow(RangeError);
    expect(() => skellamShares(2.5, 10, uniform)).toThrow(RangeError);
    expect(() => skellamShares(5, -3, uniform)).toThrow(RangeError);
  });
});

describe('cryptoUniform', () => {
  it('gives uniform doubles in [0, 1) with 53 random bits, different per source', () => {
    const uniform = cryptoUniform();
    const n = 200_000;
    const values = new Float64Array(n);
    let belowHalf = 0;
    let finerThan32Bits = 0;
    let on53BitGrid = 0;
    for (let i = 0; i < n; i++) {
      const u = uniform();
      values[i] = u;
      if (u < 0.5) belowHalf++;
      if (!Number.isInteger(u * 2 ** 32)) finerThan32Bits++;
      if (Number.isInteger(u * 2 ** 53)) on53BitGrid++;
    }
    expect(values.every((u) => u >= 0 && u < 1)).toBe(true);
    expect(on53BitGrid).toBe(n);
    const { mean, variance } = moments(values);
    expect(Math.abs(mean - 0.5)).toBeLessThan(6 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002);
    expect(Math.abs(belowHalf / n - 0.5)).toBeLessThan(6 * Math.sqrt(0.25 / n));
    expect(finerThan32Bits).toBeGreaterThan(n * 0.99);
    expect(cryptoUniform()()).not.toBe(cryptoUniform()());
  });
});

describe('noise through the encoding', () => {
  it('the decoded sum of T members carries noise of the calibrated variance σ² = μ/γ²', () => {
    // clipNorm a power of two: γ = 2^15 and contributions on the 1/γ grid encode exactly, so the
    // decoded sum minus the true sum is the noise alone
    const e: Encoding = { length: 50_000, clipNorm: 2, scaleBits: 16 };
    const gamma = scaleOf(e);
    const members = 5;
    const l2 = quantizedSensitivity(e);
    const { mu } = calibrateRoundNoise({ epsilonTotal: 8, delta: 1e-5, rounds: 5, l2, l1: integerL1Bound(l2, e.length) });
    expect(maxCohortSize(e, Math.sqrt(mu))).toBeGreaterThanOrEqual(members);
    const lambdaShare = mu / (2 * members);

    const random = createRandom(31);
    const truth = new Float64Array(e.length);
    const sum = new Uint32Array(e.length);
    for (let m = 0; m < members; m++) {
      const x = new Float64Array(e.length);
      for (let i = 0; i < 400; i++) x[random.int(e.length)] = (random.int(2001) - 1000) / gamma; // norm ≤ 20·1000/2^15 < 2
      for (let i = 0; i < e.length; i++) truth[i] += x[i];
      addMod(sum, toModular(encodeContribution(x, e, random.next), skellamShares(e.length, lambdaShare, random.next)));
    }
    const decoded = decodeSum(sum, e);
    const noise = decoded.map((v, i) => v - truth[i]);
    const { mean, variance } = moments(noise);
    const sigmaSquared = mu / (gamma * gamma);
    // (n−1)s²/σ² ~ χ²(n−1): s²/σ² within 5·√(2/(n−1)) of 1
    expect(Math.abs(variance / sigmaSquared - 1)).toBeLessThan(5 * Math.sqrt(2 / (e.length - 1)));
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(sigmaSquared / e.length));
    // exact encoding: the noise is a whole number of quanta in every coordinate
    expect(noise.every((v) => Number.isInteger(v * gamma))).toBe(true);
  });
});
