import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/shared/errors';
import {
  addGaussianNoise,
  calibrateNoiseScale,
  calibrateRoundNoise,
  canSpend,
  composeRdp,
  emptyLedger,
  epsilonFromRdp,
  epsilonFromRdpMironov,
  estimateYesCount,
  gaussianRdp,
  gaussianRho,
  gaussianSigma,
  gaussianSigmaForRho,
  gaussianSpend,
  integerL1Bound,
  laplaceNoise,
  parsePrivacyLedger,
  privacySpent,
  pureDpRdp,
  pureDpSpend,
  randomizedResponse,
  RDP_ORDERS,
  rdpCurve,
  recordSpend,
  skellamRdp,
  skellamSpend,
  zcdpEpsilon,
  zcdpRho,
  type PrivacyBudget,
  type PrivacyLedger,
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


/** The secure-aggregation setting of the MovieLens evaluation: 281,825 coordinates, 16 scale bits. */
const LENGTH = 281_825;
const L2_Q = 2 ** 16 + Math.sqrt(LENGTH);
const L1_Q = integerL1Bound(L2_Q, LENGTH);
const NOW = new Date('2027-01-01T00:00:00.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const daysAgo = (days: number): string => new Date(NOW.getTime() - days * DAY_MS).toISOString();

describe('zCDP', () => {
  it('matches the closed form on a worked example: Δ = 1, σ = 2, 10 rounds, δ = 1e-6', () => {
    // ρ = 1/(2·4) = 0.125 per round, 1.25 in all; ε = 1.25 + 2·√(1.25 · ln 1e6) = 1.25 + 2·√17.2694 = 9.56129
    expect(gaussianRho(1, 2)).toBe(0.125);
    expect(zcdpEpsilon(10 * gaussianRho(1, 2), 1e-6)).toBeCloseTo(9.56129, 5);
    // one round: 0.125 + 2·√(0.125 · 13.8155) = 0.125 + 2·1.31413 = 2.75326
    expect(zcdpEpsilon(gaussianRho(1, 2), 1e-6)).toBeCloseTo(2.75326, 5);
  });

  it('inverts: zcdpRho undoes zcdpEpsilon and gaussianSigmaForRho undoes gaussianRho', () => {
    // ε = 8, δ = 1e-5: ρ = (√(ln 1e5 + 8) − √(ln 1e5))² = 1.04914
    expect(zcdpRho(8, 1e-5)).toBeCloseTo(1.04914, 5);
    for (const [epsilon, delta] of [[0.5, 1e-5], [8, 1e-6], [50, 1e-9]]) expect(zcdpEpsilon(zcdpRho(epsilon, delta), delta)).toBeCloseTo(epsilon, 10);
    expect(gaussianRho(3, gaussianSigmaForRho(3, 0.2))).toBeCloseTo(0.2, 12);
    expect(() => zcdpRho(0, 1e-5)).toThrow(RangeError);
    expect(() => zcdpEpsilon(1, 0)).toThrow(RangeError);
  });
});

describe('RDP to (ε, δ)', () => {
  const tenRounds = rdpCurve((alpha) => 10 * gaussianRdp(alpha, 1, 2));

  it('reports the Canonne-Kamath-Steinke conversion, below Mironov\'s and the zCDP closed form', () => {
    // Independently computed: min over RDP_ORDERS of 1.25α + ln((α−1)/α) − (ln 1e-6 + ln α)/(α−1), at α = 4.
    expect(epsilonFromRdp(tenRounds, 1e-6)).toEqual({ epsilon: expect.closeTo(8.85539, 5), alpha: 4 });
    // Mironov's over the same orders: 1.25α + ln(1e6)/(α−1) at α = 4 = 9.60517.
    expect(epsilonFromRdpMironov(tenRounds, 1e-6)).toEqual({ epsilon: expect.closeTo(9.60517, 5), alpha: 4 });
    const closed = zcdpEpsilon(1.25, 1e-6);
    // Mironov minimised over every real α is the closed form; the fixed orders can only do worse.
    expect(epsilonFromRdpMironov(tenRounds, 1e-6).epsilon).toBeGreaterThanOrEqual(closed);
    expect(epsilonFromRdpMironov(tenRounds, 1e-6).epsilon).toBeLessThan(closed * 1.01);
    for (const rho of [0.001, 0.05, 1, 20]) {
      const curve = rdpCurve((alpha) => alpha * rho);
      expect(epsilonFromRdp(curve, 1e-5).epsilon).toBeLessThan(epsilonFromRdpMironov(curve, 1e-5).epsilon);
      expect(epsilonFromRdp(curve, 1e-5).epsilon).toBeLessThan(zcdpEpsilon(rho, 1e-5));
    }
  });

  it('never reports a negative ε and rejects orders <= 1 and δ outside (0, 1)', () => {
    expect(epsilonFromRdp(rdpCurve(() => 0), 0.5).epsilon).toBe(0);
    expect(() => epsilonFromRdp([{ alpha: 1, rdp: 0 }], 1e-5)).toThrow(RangeError);
    expect(() => epsilonFromRdp(tenRounds, 1)).toThrow(RangeError);
    expect(() => epsilonFromRdp([], 1e-5)).toThrow(RangeError);
  });
});

describe('Skellam RDP (Agarwal, Kairouz, Liu 2021, Theorem 3.5)', () => {
  it('evaluates the theorem on worked examples', () => {
    // α = 2, Δ₂ = 1, Δ₁ = 1, μ = 1: 2/2 + min((3 + 6)/4, 3/2) = 1 + 1.5
    expect(skellamRdp(2, 1, 1, 1)).toBeCloseTo(2.5, 12);
    // α = 2, Δ₂ = 2, Δ₁ = 4, μ = 10: 8/20 + min((12 + 24)/400, 12/20) = 0.4 + 0.09
    expect(skellamRdp(2, 2, 4, 10)).toBeCloseTo(0.49, 12);
  });

  it('uses the next integer order for a fractional one (the divergence grows with the order)', () => {
    expect(skellamRdp(2.5, 2, 4, 10)).toBe(skellamRdp(3, 2, 4, 10));
    expect(skellamRdp(1.25, 2, 4, 10)).toBe(skellamRdp(2, 2, 4, 10));
  });

  it('is above the Gaussian RDP of the same variance and approaches it as μ grows', () => {
    let previousExcess = Infinity;
    for (const mu of [1e2, 1e4, 1e6, 1e8, 1e10]) {
      const skellam = skellamRdp(8, 10, 100, mu);
      const gaussian = gaussianRdp(8, 10, Math.sqrt(mu));
      const excess = skellam / gaussian - 1;
      expect(excess).toBeGreaterThan(0);
      expect(excess).toBeLessThan(previousExcess);
      previousExcess = excess;
    }
    expect(previousExcess).toBeLessThan(1e-6);
  });

  it('bounds the L1 sensitivity of an integer vector by Δ₂·min(√length, Δ₂)', () => {
    expect(integerL1Bound(3, 100)).toBe(9);
    expect(integerL1Bound(20, 100)).toBe(200);
    expect(L1_Q).toBeCloseTo(L2_Q * Math.sqrt(LENGTH), 3);
  });
});

describe('pure ε-DP as RDP (Steinke 2024)', () => {
  it('equals the Rényi divergence of randomized response, its worst case', () => {
    for (const epsilon of [0.1, 1, 4]) {
      const p = Math.exp(epsilon) / (1 + Math.exp(epsilon));
      const q = 1 - p;
      for (const alpha of [1.25, 2, 8, 256]) {
        // ln(p^α q^(1−α) + q^α p^(1−α)) / (α − 1), in log space: q^(1−α) overflows for large α
        const a = alpha * Math.log(p) + (1 - alpha) * Math.log(q);
        const b = alpha * Math.log(q) + (1 - alpha) * Math.log(p);
        const divergence = (Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)))) / (alpha - 1);
        expect(pureDpRdp(alpha, epsilon)).toBeCloseTo(divergence, 10);
        expect(pureDpRdp(alpha, epsilon)).toBeLessThanOrEqual(Math.min(epsilon, (alpha * epsilon * epsilon) / 2) + 1e-15);
      }
    }
    expect(pureDpRdp(2, 0)).toBe(0);
  });
});

describe('calibrateRoundNoise', () => {
  it.each([
    // [ε total, δ, rounds, Δ₂, Δ₁]
    [8, 1e-6, 52, L2_Q, L1_Q],
    [8, 1e-5, 5, L2_Q, L1_Q],
    [8, 1e-5, 10, L2_Q, L1_Q],
    [1, 1e-5, 1, 1, 1],
    [3, 1e-6, 20, 10, 100],
  ])('ε %d at δ %d over %d rounds (Δ₂ %d, Δ₁ %d): the calibrated μ spends the budget, 1%% less overspends', (epsilonTotal, delta, rounds, l2, l1) => {
    const { mu } = calibrateRoundNoise({ epsilonTotal, delta, rounds, l2, l1 });
    const budget: PrivacyBudget = { epsilon: epsilonTotal, delta, periodDays: 0 };
    const spentWith = (variance: number): number => {
      let ledger = emptyLedger();
      for (let r = 0; r < rounds; r++) ledger = recordSpend(ledger, skellamSpend(daysAgo(r), 'round', { l2, l1, mu: variance }));
      return privacySpent(ledger, budget, NOW).epsilon;
    };
    expect(spentWith(mu)).toBeLessThanOrEqual(epsilonTotal);
    expect(spentWith(mu)).toBeGreaterThan(epsilonTotal * (1 - 1e-6));
    expect(spentWith(0.99 * mu)).toBeGreaterThan(epsilonTotal);
  });

  it('needs about the Gaussian\'s variance at secure-aggregation scale, and less than the zCDP closed form asks', () => {
    const { mu } = calibrateRoundNoise({ epsilonTotal: 8, delta: 1e-6, rounds: 52, l2: L2_Q, l1: L1_Q });
    // A Gaussian of the same variance, through the same conversion, spends within 0.1% of the budget.
    const gaussian = epsilonFromRdp(rdpCurve((alpha) => 52 * gaussianRdp(alpha, L2_Q, Math.sqrt(mu))), 1e-6).epsilon;
    expect(gaussian).toBeLessThanOrEqual(8);
    expect(gaussian).toBeGreaterThan(8 * 0.999);
    // The zCDP closed form would need σ = Δ₂·5.346 per round; the RDP conversion gets by with about Δ₂·5.01.
    expect(gaussianSigmaForRho(L2_Q, zcdpRho(8, 1e-6) / 52) / L2_Q).toBeCloseTo(5.346, 3);
    expect(Math.sqrt(mu) / L2_Q).toBeCloseTo(5.009, 3);
  });

  it('rejects budgets that mean nothing', () => {
    expect(() => calibrateRoundNoise({ epsilonTotal: 0, delta: 1e-6, rounds: 1, l2: 1, l1: 1 })).toThrow(RangeError);
    expect(() => calibrateRoundNoise({ epsilonTotal: 1, delta: 1e-6, rounds: 0, l2: 1, l1: 1 })).toThrow(RangeError);
    expect(() => calibrateRoundNoise({ epsilonTotal: 1, delta: 0, rounds: 1, l2: 1, l1: 1 })).toThrow(RangeError);
  });
});

describe('calibrateNoiseScale', () => {
  // two rounds of different sizes, precisions and noise, as a DP training run's count and gram rounds
  const rounds = [
    { l2: L2_Q, l1: L1_Q, std: 2 * L2_Q },
    { l2: 2 ** 10 + Math.sqrt(500), l1: integerL1Bound(2 ** 10 + Math.sqrt(500), 500), std: 0.7 * (2 ** 10 + Math.sqrt(500)) },
  ];
  const spentWith = (scale: number, scales: [number, number] = [1, 1]): number => {
    let ledger = emptyLedger();
    rounds.forEach(({ l2, l1, std }, i) => {
      ledger = recordSpend(ledger, skellamSpend(daysAgo(i), 'round', { l2, l1, mu: (scale * scales[i] * std) ** 2 }));
    });
    return privacySpent(ledger, { epsilon: 8, delta: 1e-5, periodDays: 0 }, NOW).epsilon;
  };

  it('scales all rounds by one factor until the ledger reports exactly the budget; 1% less noise in either round overspends', () => {
    const scale = calibrateNoiseScale(rounds, 8, 1e-5);
    expect(spentWith(scale)).toBeLessThanOrEqual(8);
    expect(spentWith(scale)).toBeGreaterThan(8 * (1 - 1e-9));
    expect(spentWith(scale, [0.99, 1])).toBeGreaterThan(8);
    expect(spentWith(scale, [1, 0.99])).toBeGreaterThan(8);
    // these stds are about the zCDP split of ε 8 (ρ 1.05: 2.18 and 0.73), which the RDP conversion does not need in full
    expect(scale).toBeGreaterThan(0.85);
    expect(scale).toBeLessThan(1);
  });

  it('rejects no rounds and values that mean nothing', () => {
    expect(() => calibrateNoiseScale([], 8, 1e-5)).toThrow(RangeError);
    expect(() => calibrateNoiseScale(rounds, 0, 1e-5)).toThrow(RangeError);
    expect(() => calibrateNoiseScale(rounds, 8, 0)).toThrow(RangeError);
    expect(() => calibrateNoiseScale([{ ...rounds[0], std: 0 }], 8, 1e-5)).toThrow(RangeError);
  });
});

describe('privacy ledger', () => {
  const budget: PrivacyBudget = { epsilon: 8, delta: 1e-6, periodDays: 365 };
  const { mu: tenRoundMu } = calibrateRoundNoise({ epsilonTotal: 8, delta: 1e-6, rounds: 10, l2: L2_Q, l1: L1_Q });
  const round = (at: string) => skellamSpend(at, 'round', { l2: L2_Q, l1: L1_Q, mu: tenRoundMu });

  it('records without changing the old ledger and composes curves by adding them', () => {
    const first = recordSpend(emptyLedger(), round(daysAgo(2)));
    const second = recordSpend(first, gaussianSpend(daysAgo(1), 'delta-local', { l2: 2, sigma: 3 }));
    expect(first.entries).toHaveLength(1);
    expect(second).toMatchObject({ formatVersion: 2, method: 'rdp' });
    expect(second.entries.map((e) => [e.kind, e.mechanism])).toEqual([['round', 'skellam'], ['delta-local', 'gaussian']]);
    const composed = epsilonFromRdp(composeRdp(second.entries.map((e) => e.rdp!)), 1e-6);
    expect(privacySpent(second, budget, NOW)).toEqual({ epsilon: composed.epsilon, delta: 1e-6, alpha: composed.alpha, entries: 2 });
    expect(() => recordSpend(first, { ...round('x'), rdp: [{ alpha: 2, rdp: 1 }] })).toThrow(RangeError);
    expect(() => recordSpend(first, { ...round('x'), rdp: null })).toThrow(RangeError);
  });

  it('stops at the budget: ten calibrated rounds fit ε = 8, an eleventh does not', () => {
    let ledger: PrivacyLedger = emptyLedger();
    for (let r = 0; r < 10; r++) {
      expect(canSpend(ledger, round(daysAgo(10 - r)), budget, NOW)).toBe(true);
      ledger = recordSpend(ledger, round(daysAgo(10 - r)));
    }
    expect(privacySpent(ledger, budget, NOW).epsilon).toBeCloseTo(8, 5);
    expect(canSpend(ledger, round(NOW.toISOString()), budget, NOW)).toBe(false);
    // a tiny release still does not fit a spent budget
    expect(canSpend(ledger, pureDpSpend(NOW.toISOString(), 'community', 'pure-dp', 0.01), budget, NOW)).toBe(false);
  });

  it('renews over the period: spends older than periodDays no longer count, unless the budget is for all time', () => {
    let ledger = emptyLedger();
    for (let r = 0; r < 10; r++) ledger = recordSpend(ledger, round(daysAgo(400 + r)));
    expect(privacySpent(ledger, budget, NOW)).toMatchObject({ epsilon: 0, entries: 0, alpha: null });
    expect(canSpend(ledger, round(NOW.toISOString()), budget, NOW)).toBe(true);
    expect(canSpend(ledger, round(NOW.toISOString()), { ...budget, periodDays: 0 }, NOW)).toBe(false);
    // a spend whose time cannot be read always counts
    const undated = recordSpend(emptyLedger(), { ...round('yesterday'), at: 'yesterday' });
    expect(privacySpent(undated, budget, NOW).entries).toBe(1);
  });

  it('adds pure spends by basic composition when that is tighter: ten spends of 0.1 fit a budget of 1', () => {
    const small: PrivacyBudget = { epsilon: 1, delta: 1e-6, periodDays: 0 };
    let ledger = emptyLedger();
    for (let i = 0; i < 10; i++) {
      expect(canSpend(ledger, pureDpSpend(daysAgo(i), 'community', 'laplace', 0.1), small, NOW)).toBe(true);
      ledger = recordSpend(ledger, pureDpSpend(daysAgo(i), 'community', 'laplace', 0.1));
    }
    expect(privacySpent(ledger, small, NOW)).toMatchObject({ epsilon: expect.closeTo(1, 12), alpha: null });
    expect(canSpend(ledger, pureDpSpend(NOW.toISOString(), 'community', 'laplace', 0.1), small, NOW)).toBe(false);
  });

  it('reports the smaller of composing every curve and adding the pure spends to the rest', () => {
    const gaussian = gaussianSpend(daysAgo(3), 'delta-local', { l2: 1, sigma: 4 });
    for (const epsilon of [0.05, 3]) {
      const pure = pureDpSpend(daysAgo(2), 'community', 'laplace', epsilon);
      const ledger = recordSpend(recordSpend(emptyLedger(), gaussian), pure);
      const allCurves = epsilonFromRdp(composeRdp([gaussian.rdp!, pure.rdp!]), 1e-6).epsilon;
      const pureAdded = epsilon + epsilonFromRdp(gaussian.rdp!, 1e-6).epsilon;
      expect(privacySpent(ledger, budget, NOW).epsilon).toBeCloseTo(Math.min(allCurves, pureAdded), 12);
    }
    // small pure spends are cheaper inside the RDP composition, large ones outside it
    const withSmall = recordSpend(recordSpend(emptyLedger(), gaussian), pureDpSpend(daysAgo(2), 'community', 'laplace', 0.05));
    expect(privacySpent(withSmall, budget, NOW).alpha).not.toBeNull();
    expect(privacySpent(withSmall, budget, NOW).epsilon).toBeLessThan(0.05 + epsilonFromRdp(gaussian.rdp!, 1e-6).epsilon);
  });

  it('round-trips through JSON', () => {
    const ledger = recordSpend(recordSpend(emptyLedger(), round(daysAgo(1))), pureDpSpend(daysAgo(0), 'community', 'pure-dp', 1));
    expect(parsePrivacyLedger(JSON.parse(JSON.stringify(ledger)), 'privacy.json')).toEqual(ledger);
  });

  it('reads a version 1 ledger conservatively: pure spends get curves, (ε, δ) spends add up beside them', () => {
    const v1 = {
      formatVersion: 1,
      method: 'basic-composition',
      entries: [
        { at: daysAgo(3), kind: 'delta', epsilon: 2, delta: 1e-5 },
        { at: daysAgo(2), kind: 'insights', epsilon: 1, delta: 0 },
      ],
      epsilonSpent: 3,
      deltaSpent: 1e-5,
    };
    const ledger = parsePrivacyLedger(v1, 'privacy.json');
    expect(ledger.formatVersion).toBe(2);
    expect(ledger.entries[0]).toMatchObject({ kind: 'delta', mechanism: 'approximate-dp', rdp: null, dp: { epsilon: 2, delta: 1e-5 } });
    expect(ledger.entries[1]).toMatchObject({ kind: 'insights', mechanism: 'pure-dp', dp: { epsilon: 1, delta: 0 } });
    expect(ledger.entries[1].rdp!.map((p) => p.rdp)).toEqual(RDP_ORDERS.map((alpha) => pureDpRdp(alpha, 1)));
    // (2, 1e-5) + (1, 0) by basic composition; the reported δ adds the target δ
    expect(privacySpent(ledger, budget, NOW)).toEqual({ epsilon: 3, delta: 1e-5 + 1e-6, alpha: null, entries: 2 });
    // a Skellam round on top: the (ε, δ) entry stays outside the RDP composition
    const withRound = recordSpend(ledger, round(daysAgo(1)));
    const rest = Math.min(
      epsilonFromRdp(composeRdp([ledger.entries[1].rdp!, withRound.entries[2].rdp!]), 1e-6).epsilon,
      1 + epsilonFromRdp(withRound.entries[2].rdp!, 1e-6).epsilon,
    );
    expect(privacySpent(withRound, budget, NOW).epsilon).toBeCloseTo(2 + rest, 12);
  });

  it('rejects a malformed file with ERR_JSON_FORMAT naming it', () => {
    const good = JSON.parse(JSON.stringify(recordSpend(emptyLedger(), round(daysAgo(1)))));
    const entry = good.entries[0];
    const bad = [
      null,
      [],
      { ...good, formatVersion: 3 },
      { ...good, method: 'basic-composition' },
      { ...good, entries: [{ ...entry, rdp: entry.rdp.slice(1) }] },
      { ...good, entries: [{ ...entry, rdp: entry.rdp.map((p: { alpha: number }) => ({ ...p, rdp: -1 })) }] },
      { ...good, entries: [{ ...entry, rdp: null, dp: null }] },
      { ...good, entries: [{ ...entry, params: { mu: 'large' } }] },
      { formatVersion: 1, method: 'basic-composition', entries: [{ at: 'x', kind: 'delta', epsilon: -1, delta: 0 }] },
    ];
    for (const value of bad) {
      let error: unknown;
      try {
        parsePrivacyLedger(value, '/p/privacy.json');
      } catch (err) {
        error = err;
      }
      expect(isAppError(error, 'ERR_JSON_FORMAT')).toBe(true);
      expect((error as Error).message).toContain('/p/privacy.json');
    }
  });
});
