import { AppError } from './errors';
import type { Random } from './random';

/**
 * Differential privacy: noise calibration, noise, and the accountant that keeps
 * every datasite and profile within its budget. Pure: randomness and time are
 * passed in, the ledger is a value (the participant stores it as `privacy.json`).
 *
 * ## Mechanisms
 * - Gaussian, calibrated on its own: the analytic Gaussian mechanism (Balle &
 *   Wang 2018, Theorem 8). N(0, σ²) per coordinate on a function of L2
 *   sensitivity Δ is (ε, δ)-DP iff Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ) ≤ δ;
 *   `gaussianSigma` returns the smallest such σ. (The classic √(2 ln(1.25/δ))Δ/ε
 *   holds only for ε < 1 and is larger: ε = 0.5, δ = 1e-5, Δ = 1 gives 9.69 vs 7.03.)
 * - Gaussian in zCDP (Bun & Steinke 2016): ρ = Δ²/(2σ²); rounds add their ρ;
 *   ρ-zCDP implies (ρ + 2√(ρ ln(1/δ)), δ)-DP (their Proposition 1.3). Its RDP
 *   curve is ε(α) = αΔ²/(2σ²) for every α > 1.
 * - Skellam, the secure-aggregation noise (`secagg/noise.ts`): integer noise
 *   Sk = Poisson(μ/2) − Poisson(μ/2) of variance μ per coordinate on an integer
 *   vector of L2 sensitivity Δ₂ and L1 sensitivity Δ₁ (both in quantized units).
 *   Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially Private
 *   Federated Learning", NeurIPS 2021, Theorem 3.5 (multi-dimensional Skellam),
 *   for integer α > 1:
 *   ```
 *   ε(α) ≤ αΔ₂²/(2μ) + min( ((2α − 1)Δ₂² + 6Δ₁) / (4μ²), 3Δ₁/(2μ) )
 *   ```
 *   The first term is the Gaussian's; the rest vanishes as μ grows. Same
 *   formula as the authors' accountant (google-research/federated,
 *   distributed_dp/accounting_utils.py, `_skellam_rdp`, there in unscaled units
 *   with the scale s: substituting Δ = sΔ', μ = s²μ' gives the line above).
 *   The theorem is for integer orders; at a fractional α `skellamRdp` returns
 *   the bound at ⌈α⌉, which is sound because the Rényi divergence does not
 *   decrease with the order (van Erven & Harremoës 2014, Theorem 3).
 *   For an integer vector Δ₁ ≤ Δ₂·min(√length, Δ₂) (`integerL1Bound`).
 * - Pure ε-DP releases (Laplace counts, randomized response): ε-DP implies RDP
 *   ε̂(α) = ε − ln((1 + e^−ε)/(1 + e^−(2α−1)ε))/(α − 1), the tight bound
 *   (T. Steinke, "Sharp RDP & zCDP from Pure DP", differentialprivacy.org 2024,
 *   Theorem 4; it is below both ε and the older αε²/2).
 *
 * ## From RDP to (ε, δ)
 * Reported: the conversion of Canonne, Kamath, Steinke 2020 ("The Discrete
 * Gaussian for Differential Privacy", Proposition 12; the form Balle et al. 2020
 * also give), minimised over the fixed orders `RDP_ORDERS`:
 * `ε = ε(α) + ln((α−1)/α) − (ln δ + ln α)/(α−1)`, floored at 0 (`epsilonFromRdp`).
 * It is below Mironov's ε(α) + ln(1/δ)/(α − 1) (2017, Proposition 3;
 * `epsilonFromRdpMironov`, kept for comparison) at every order. For a Gaussian
 * the zCDP closed form equals Mironov's minimised over every real α, so on the
 * fixed orders Mironov's is slightly above it and the reported value a little
 * below (ρ = 1.25, δ = 1e-6: closed form 9.561, Mironov on the orders 9.605,
 * reported 8.855).
 *
 * ## Calibration
 * Noise is calibrated against this same accounting, so what a release is
 * calibrated to is what the ledger reports for it: `calibrateRoundNoise` (R
 * identical Skellam rounds) and `calibrateNoiseScale` (rounds of different
 * sizes and noise scaled by one factor: a DP training run's count and gram
 * rounds, `secagg/contribution.ts` `runNoiseMultipliers`) find the smallest
 * noise whose composed curve converts to at most the budget. Calibrating to
 * the zCDP closed form instead spends less than asked: a Gaussian of ρ = 1.0491
 * is ε = 8 at δ = 1e-5 by the closed form, 7.28 by the reported conversion.
 *
 * ## Neighbours
 * User level: one datasite is one person, whatever its number of profiles.
 * The aggregator sees who took part in a round, so what the noise hides is the
 * content of one datasite's contribution: the sum with it against the sum with
 * it replaced by zeros, which differ by the whole contribution (L2 ≤ the clip
 * bound of the whole vector, weight coordinate included).
 *
 * ## Ledger (`privacy.json`, format version 2)
 * One per profile (and one per datasite for secure-aggregation rounds, which
 * cover all its profiles). Entries carry their mechanism, its parameters and the
 * RDP curve over `RDP_ORDERS`; composition adds the curves order by order.
 * ```json
 * { "formatVersion": 2, "method": "rdp", "entries": [
 *   { "at": "2026-11-21T16:00:00.000Z", "kind": "round", "mechanism": "skellam",
 *     "params": { "l2": 66066.87, "l1": 35073047.43, "mu": 109525982445.75 },
 *     "rdp": [{ "alpha": 1.25, "rdp": 0.03985 }, …, { "alpha": 256, "rdp": 5.101 }], "dp": null },
 *   { "at": "2026-11-22T09:00:00.000Z", "kind": "community", "mechanism": "pure-dp",
 *     "params": { "epsilon": 0.05 }, "rdp": [{ "alpha": 1.25, "rdp": 0.00156 }, …, { "alpha": 256, "rdp": 0.04738 }],
 *     "dp": { "epsilon": 0.05, "delta": 0 } } ] }
 * ```
 * `dp` is the release's own (ε, δ) when it has one without conversion (pure
 * ε-DP). The spent (ε, δ) at the target δ is the smaller of two valid bounds:
 * every curve composed and converted, or the pure spends added up (basic
 * composition) plus the other curves converted; a ledger of only pure spends
 * thus reports exactly Σ ε.
 *
 * Version 1 files (basic composition of (ε, δ) entries, no mechanism) are read
 * conservatively: an entry with δ = 0 is a pure ε-DP spend and gets its RDP
 * curve; an entry with δ > 0 cannot be turned into an RDP curve (an (ε, δ)
 * guarantee bounds no Rényi divergence), so it stays an `approximate-dp` entry
 * with `rdp: null`, and the report adds those ε and δ on top of the rest
 * (basic composition): (Σ ε_i + ε_rdp(δ), Σ δ_i + δ).
 *
 * ## Budget
 * `PrivacyBudget`: at most ε at δ over any `periodDays` window (0: forever).
 * A renewing budget bounds what one period's releases reveal; over k periods the
 * total composes (at worst k·ε). Publishing stops when the next release would
 * take the window past ε (`canSpend`); nothing is released unrecorded: callers
 * record the spend before publishing.
 *
 * ## Proposed defaults
 * PRIVACY_BUDGET_EPSILON = 8 per PRIVACY_PERIOD_DAYS = 365 at DP_DELTA = 1e-6,
 * ROUNDS_PER_PERIOD = 52 (one secure round a week, as viewing histories and the
 * community reports change weekly). δ = 1e-6 stays far below 1/(number of
 * datasites) for any deployment up to ~10^5 people; ε = 8 a year is a
 * single-digit user-level guarantee. Each round's noise is what lets 52 rounds
 * compose to ε = 8 at δ = 1e-6 (`calibrateRoundNoise`): with 281,825
 * coordinates and 16 scale bits (Δ₂ = 2^16 + √281,825 = 66,067 quanta,
 * Δ₁ = √281,825·Δ₂), μ = 1.0953e11, i.e. noise std √μ = 5.01·Δ₂ (the zCDP
 * closed form would ask 5.35·Δ₂); per round ρ = Δ₂²/(2μ) = 0.0199 and a
 * stand-alone ε of 0.90 at δ = 1e-6. In the clip C of the delta (whole vector
 * ≤ C√2): σ = 7.14·C on the sum. The community statistics spend from the same
 * ledger: with secure aggregation one Skellam release a week (kind `community`,
 * `shared/community-sum.ts`); at INSIGHTS_EPSILON = 1, δ = 1e-5, 52 weeks
 * compose to ε = 9.4 on their own (measured with this accountant).
 */

/** Rényi orders at which every curve is kept. */
export const RDP_ORDERS: readonly number[] = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 128, 256];
/** Slack for float sums: ten spends of 0.1 fit a budget of 1. */
const BUDGET_TOLERANCE = 1e-9;
const BISECTION_STEPS = 200;
const BISECTION_RELATIVE_TOLERANCE = 1e-12;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Smallest σ making the Gaussian mechanism (ε, δ)-DP for L2 sensitivity Δ (analytic calibration). */
export function gaussianSigma(epsilon: number, delta: number, sensitivity: number): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a positive number, got ${epsilon}`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be within (0, 1), got ${delta}`);
  if (!(sensitivity > 0) || !Number.isFinite(sensitivity)) throw new RangeError(`sensitivity must be a positive number, got ${sensitivity}`);
  return smallestHolding((sigma) => gaussianDelta(sigma / sensitivity, epsilon) <= delta, sensitivity);
}

/** The exact δ of the Gaussian mechanism with noise s = σ/Δ at ε (Balle & Wang 2018, Theorem 8). */
function gaussianDelta(s: number, epsilon: number): number {
  const a = 1 / (2 * s);
  const b = epsilon * s;
  // e^ε Φ(−a − b) in log space: e^ε alone overflows for ε > 709.
  return Math.exp(logNormalCdf(a - b)) - Math.exp(epsilon + logNormalCdf(-a - b));
}

/**
 * σ of the noise on one published delta. The aggregator sees every delta on its
 * own, so the guarantee is local, with replace-one neighbours: any two histories
 * give clipped deltas at most 2·clipNorm apart in L2, hence sensitivity 2·clipNorm.
 */
export function deltaNoiseSigma(epsilon: number, delta: number, clipNorm: number): number {
  return gaussianSigma(epsilon, delta, 2 * clipNorm);
}

/** values[i] += N(0, σ²), in place. */
export function addGaussianNoise(values: Float32Array, sigma: number, random: Random): void {
  if (!(sigma >= 0)) throw new RangeError(`sigma must be >= 0, got ${sigma}`);
  for (let i = 0; i < values.length; i++) values[i] += sigma * random.normal();
}

/** One draw of Laplace(0, scale): the ε-DP mechanism for a count of L1 sensitivity Δ uses scale Δ/ε. */
export function laplaceNoise(scale: number, random: Random): number {
  if (!(scale >= 0)) throw new RangeError(`scale must be >= 0, got ${scale}`);
  let p = random.next();
  while (p === 0) p = random.next();
  // Inverse CDF on (0, 1): the two halves are the two exponential tails.
  return p < 0.5 ? scale * Math.log(2 * p) : -scale * Math.log(2 * (1 - p));
}

/**
 * One draw of the discrete Laplace (two-sided geometric) distribution,
 * P(k) ∝ e^{−|k|/scale}: the ε-DP mechanism for an integer count of L1
 * sensitivity Δ uses scale Δ/ε (Ghosh, Roughgarden, Sundararajan 2009). The
 * difference of two geometric draws; integers, so nothing leaks through
 * floating-point rounding.
 */
export function discreteLaplaceNoise(scale: number, random: Random): number {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`scale must be a positive number, got ${scale}`);
  const logP = -1 / scale;
  const geometric = (): number => {
    let u = random.next();
    while (u === 0) u = random.next();
    return Math.floor(Math.log(u) / logP);
  };
  return geometric() - geometric();
}

/**
 * ε-DP randomized response for one yes/no answer (Warner 1965): the true answer
 * with probability e^ε / (1 + e^ε), the opposite otherwise. Lets a participant
 * report e.g. "watched this week's top show" without anyone learning the answer.
 */
export function randomizedResponse(answer: boolean, epsilon: number, random: Random): boolean {
  if (!(epsilon >= 0)) throw new RangeError(`epsilon must be >= 0, got ${epsilon}`);
  return random.next() < truthProbability(epsilon) ? answer : !answer;
}

/** Unbiased estimate of the true number of "yes" among `total` randomized responses with `reportedYes` yes. */
export function estimateYesCount(reportedYes: number, total: number, epsilon: number): number {
  if (!(epsilon > 0)) throw new RangeError(`epsilon must be > 0 to estimate from randomized responses, got ${epsilon}`);
  const p = truthProbability(epsilon);
  return (reportedYes - total * (1 - p)) / (2 * p - 1);
}

function truthProbability(epsilon: number): number {
  return 1 / (1 + Math.exp(-epsilon));
}


// ---------------------------------------------------------------- zCDP

/** ρ of the Gaussian mechanism: N(0, σ²) on L2 sensitivity Δ is Δ²/(2σ²)-zCDP. */
export function gaussianRho(l2: number, sigma: number): number {
  checkPositive({ l2, sigma });
  return (l2 * l2) / (2 * sigma * sigma);
}

/** σ giving the Gaussian mechanism on L2 sensitivity Δ exactly ρ-zCDP: Δ/√(2ρ). */
export function gaussianSigmaForRho(l2: number, rho: number): number {
  checkPositive({ l2, rho });
  return l2 / Math.sqrt(2 * rho);
}

/** ε at δ of a ρ-zCDP release: ρ + 2√(ρ ln(1/δ)) (Bun & Steinke 2016, Proposition 1.3). */
export function zcdpEpsilon(rho: number, delta: number): number {
  if (!(rho >= 0) || !Number.isFinite(rho)) throw new RangeError(`rho must be a finite number >= 0, got ${rho}`);
  checkDelta(delta);
  return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}

/** The largest ρ whose zCDP conversion at δ is at most ε: (√(ln(1/δ) + ε) − √(ln(1/δ)))², the inverse of `zcdpEpsilon`. */
export function zcdpRho(epsilon: number, delta: number): number {
  checkPositive({ epsilon });
  checkDelta(delta);
  const log = Math.log(1 / delta);
  return (Math.sqrt(log + epsilon) - Math.sqrt(log)) ** 2;
}

// ---------------------------------------------------------------- RDP

/** Rényi DP at one order: the release is (alpha, rdp)-RDP. */
export interface RdpPoint {
  alpha: number;
  rdp: number;
}
/** A release's RDP at every order of `RDP_ORDERS`, in that order. */
export type RdpCurve = RdpPoint[];

/** RDP of the Gaussian mechanism at order α: αΔ²/(2σ²). */
export function gaussianRdp(alpha: number, l2: number, sigma: number): number {
  checkOrder(alpha);
  return alpha * gaussianRho(l2, sigma);
}

/**
 * RDP of the Skellam mechanism at order α (Agarwal, Kairouz, Liu 2021, Theorem 3.5), all in
 * quantized units: L2 and L1 sensitivities `l2`, `l1`, total noise variance `mu` per coordinate.
 * Evaluated at ⌈α⌉: the theorem is stated for integer orders.
 */
export function skellamRdp(alpha: number, l2: number, l1: number, mu: number): number {
  checkOrder(alpha);
  checkPositive({ l2, l1, mu });
  const a = Math.ceil(alpha);
  const l2Squared = l2 * l2;
  return (a * l2Squared) / (2 * mu) + Math.min(((2 * a - 1) * l2Squared + 6 * l1) / (4 * mu * mu), (3 * l1) / (2 * mu));
}

/** L1 sensitivity of an integer vector of L2 sensitivity `l2` and `length` coordinates: every nonzero |x_i| ≥ 1, so ‖x‖₁ ≤ ‖x‖₂². */
export function integerL1Bound(l2: number, length: number): number {
  checkPositive({ l2, length });
  return l2 * Math.min(Math.sqrt(length), l2);
}

/** RDP at order α implied by pure ε-DP, tight (Steinke 2024, Theorem 4). */
export function pureDpRdp(alpha: number, epsilon: number): number {
  checkOrder(alpha);
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a finite number >= 0, got ${epsilon}`);
  if (epsilon === 0) return 0;
  return epsilon - Math.log((1 + Math.exp(-epsilon)) / (1 + Math.exp(-(2 * alpha - 1) * epsilon))) / (alpha - 1);
}

/** The curve of `rdpAt` over `RDP_ORDERS`. */
export function rdpCurve(rdpAt: (alpha: number) => number): RdpCurve {
  return RDP_ORDERS.map((alpha) => ({ alpha, rdp: rdpAt(alpha) }));
}

/** Composition: the RDP of releasing all of them is the sum, order by order. */
export function composeRdp(curves: readonly RdpCurve[]): RdpCurve {
  const total = rdpCurve(() => 0);
  for (const curve of curves) {
    checkCurve(curve);
    for (let i = 0; i < total.length; i++) total[i].rdp += curve[i].rdp;
  }
  return total;
}

/** (ε, δ) from an RDP curve, reported form: Canonne, Kamath, Steinke 2020, Proposition 12, minimised over the orders. */
export function epsilonFromRdp(curve: readonly RdpPoint[], delta: number): { epsilon: number; alpha: number } {
  checkDelta(delta);
  return minimiseOverOrders(curve, ({ alpha, rdp }) => rdp + Math.log((alpha - 1) / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1));
}

/** (ε, δ) from an RDP curve by Mironov 2017, Proposition 3: ε(α) + ln(1/δ)/(α − 1), minimised over the orders. Looser; for comparison. */
export function epsilonFromRdpMironov(curve: readonly RdpPoint[], delta: number): { epsilon: number; alpha: number } {
  checkDelta(delta);
  return minimiseOverOrders(curve, ({ alpha, rdp }) => rdp + Math.log(1 / delta) / (alpha - 1));
}

function minimiseOverOrders(curve: readonly RdpPoint[], epsilonAt: (point: RdpPoint) => number): { epsilon: number; alpha: number } {
  if (curve.length === 0) throw new RangeError('an RDP curve needs at least one order');
  let best = { epsilon: Infinity, alpha: curve[0].alpha };
  for (const point of curve) {
    checkOrder(point.alpha);
    const epsilon = epsilonAt(point);
    if (epsilon < best.epsilon) best = { epsilon, alpha: point.alpha };
  }
  return { epsilon: Math.max(0, best.epsilon), alpha: best.alpha };
}

// ---------------------------------------------------------------- calibration

export interface RoundNoiseOptions {
  /** ε allowed for all `rounds` rounds together ... */
  epsilonTotal: number;
  /** ... at this δ. */
  delta: number;
  /** Number of identical rounds sharing the budget. */
  rounds: number;
  /** L2 sensitivity of one round's sum, quantized units. */
  l2: number;
  /** L1 sensitivity of one round's sum, quantized units. */
  l1: number;
}

/**
 * The smallest total Skellam variance μ per coordinate (quantized units) such that `rounds` rounds
 * compose to at most `epsilonTotal` at `delta` (RDP over `RDP_ORDERS`, reported conversion):
 * `calibrateNoiseScale` on identical rounds, from the Gaussian zCDP value.
 */
export function calibrateRoundNoise(options: RoundNoiseOptions): { mu: number } {
  const { epsilonTotal, delta, rounds, l2, l1 } = options;
  checkPositive({ epsilonTotal, l2, l1 });
  checkDelta(delta);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new RangeError(`rounds must be an integer >= 1, got ${rounds}`);
  const std = gaussianSigmaForRho(l2, zcdpRho(epsilonTotal, delta) / rounds);
  const scale = calibrateNoiseScale(Array.from({ length: rounds }, () => ({ l2, l1, std })), epsilonTotal, delta);
  return { mu: (scale * std) ** 2 };
}

/** One Skellam round of a calibration: its L2 and L1 sensitivities and a noise std (all in quantized units), before scaling. */
export interface SkellamRoundShape {
  l2: number;
  l1: number;
  std: number;
}

/**
 * The smallest factor f > 0 such that the rounds, each with Skellam noise of total variance
 * (f·std)² per coordinate, compose to at most `epsilon` at `delta` by the ledger's own
 * accounting (`skellamRdp` curves added order by order, `epsilonFromRdp`): one factor for all,
 * so the rounds keep their stds' proportions. Bisection on f, which ε falls with; from 1,
 * so stds of a zCDP calibration (an upper bound) give f ≤ 1.
 */
export function calibrateNoiseScale(rounds: readonly SkellamRoundShape[], epsilon: number, delta: number): number {
  checkPositive({ epsilon });
  checkDelta(delta);
  if (rounds.length === 0) throw new RangeError('a calibration needs at least one round');
  for (const { l2, l1, std } of rounds) checkPositive({ l2, l1, std });
  const spent = (scale: number): number =>
    epsilonFromRdp(composeRdp(rounds.map(({ l2, l1, std }) => rdpCurve((alpha) => skellamRdp(alpha, l2, l1, (scale * std) ** 2)))), delta).epsilon;
  return smallestHolding((scale) => spent(scale) <= epsilon, 1);
}

/** The smallest x > 0 with holds(x), for a predicate that is monotone (false below, true above), to relative 1e-12. */
function smallestHolding(holds: (x: number) => boolean, start: number): number {
  let hi = start;
  while (!holds(hi)) hi *= 2;
  let lo = hi / 2;
  while (holds(lo)) {
    hi = lo;
    lo /= 2;
  }
  for (let step = 0; step < BISECTION_STEPS && hi - lo > hi * BISECTION_RELATIVE_TOLERANCE; step++) {
    const mid = (lo + hi) / 2;
    if (holds(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

// ---------------------------------------------------------------- ledger

/** One recorded release. */
export interface PrivacyEntry {
  /** ISO timestamp. */
  at: string;
  /** What was released: 'round' (secure aggregation), 'delta-local', 'community', … */
  kind: string;
  /** 'skellam' | 'gaussian' | 'laplace' | 'randomized-response' | 'pure-dp' | 'approximate-dp'. */
  mechanism: string;
  /** The mechanism's parameters, e.g. { l2, l1, mu } for Skellam. */
  params: Record<string, number>;
  /** RDP curve over `RDP_ORDERS`; null for a release known only as (ε, δ)-DP (read from a version 1 ledger). */
  rdp: RdpCurve | null;
  /** The release's own (ε, δ) when known without conversion (pure ε-DP: δ = 0). */
  dp: { epsilon: number; delta: number } | null;
}

export interface PrivacyLedger {
  formatVersion: 2;
  method: typeof COMPOSITION_METHOD;
  entries: PrivacyEntry[];
}

export interface PrivacyBudget {
  /** The most ε that may be spent ... */
  epsilon: number;
  /** ... at this δ ... */
  delta: number;
  /** ... within any window of this many days (a renewing budget); 0 = over all time. */
  periodDays: number;
}

/** A profile's budget as the configuration sets it: PRIVACY_BUDGET_EPSILON at DP_DELTA within any PRIVACY_PERIOD_DAYS. */
export function configuredBudget(config: { PRIVACY_BUDGET_EPSILON: number; DP_DELTA: number; PRIVACY_PERIOD_DAYS: number }): PrivacyBudget {
  return { epsilon: config.PRIVACY_BUDGET_EPSILON, delta: config.DP_DELTA, periodDays: config.PRIVACY_PERIOD_DAYS };
}

export interface PrivacySpent {
  epsilon: number;
  /** The target δ plus the δ of entries known only as (ε, δ)-DP. */
  delta: number;
  /** The order the RDP conversion used; null when no curve was converted. */
  alpha: number | null;
  /** Entries within the window. */
  entries: number;
}

export const COMPOSITION_METHOD = 'rdp';
export const LEDGER_FORMAT_VERSION = 2;

/** A Skellam round: total noise variance `mu` per coordinate on sensitivities `l2`, `l1` (quantized units). */
export function skellamSpend(at: string, kind: string, params: { l2: number; l1: number; mu: number }): PrivacyEntry {
  const { l2, l1, mu } = params;
  return { at, kind, mechanism: 'skellam', params: { l2, l1, mu }, rdp: rdpCurve((alpha) => skellamRdp(alpha, l2, l1, mu)), dp: null };
}

/** A Gaussian release: N(0, σ²) per coordinate on L2 sensitivity `l2`. */
export function gaussianSpend(at: string, kind: string, params: { l2: number; sigma: number }): PrivacyEntry {
  const { l2, sigma } = params;
  return { at, kind, mechanism: 'gaussian', params: { l2, sigma }, rdp: rdpCurve((alpha) => gaussianRdp(alpha, l2, sigma)), dp: null };
}

/** A pure ε-DP release (Laplace counts, randomized response). */
export function pureDpSpend(at: string, kind: string, mechanism: string, epsilon: number): PrivacyEntry {
  return { at, kind, mechanism, params: { epsilon }, rdp: rdpCurve((alpha) => pureDpRdp(alpha, epsilon)), dp: { epsilon, delta: 0 } };
}

export function emptyLedger(): PrivacyLedger {
  return { formatVersion: LEDGER_FORMAT_VERSION, method: COMPOSITION_METHOD, entries: [] };
}

/** A new ledger with `entry` appended. */
export function recordSpend(ledger: PrivacyLedger, entry: PrivacyEntry): PrivacyLedger {
  const problem = entryProblem(entry);
  if (problem !== null) throw new RangeError(`cannot record this privacy spend: ${problem}`);
  return { ...ledger, entries: [...ledger.entries, structuredClone(entry)] };
}

/**
 * What the ledger has spent within the budget's window ending at `now`, at the budget's δ: the
 * smaller of (all curves composed, converted) and (pure spends added + the other curves converted),
 * plus, by basic composition, the (ε, δ) of entries without a curve.
 */
export function privacySpent(ledger: PrivacyLedger, budget: PrivacyBudget, now: Date): PrivacySpent {
  const since = budget.periodDays > 0 ? now.getTime() - budget.periodDays * DAY_MS : -Infinity;
  // An unreadable timestamp counts: the window may only ever forget a spend it can date.
  const inWindow = ledger.entries.filter((e) => !(Date.parse(e.at) <= since));
  let basic = { epsilon: 0, delta: 0 };
  let pureEpsilon = 0;
  const curves: RdpCurve[] = [];
  const impureCurves: RdpCurve[] = [];
  for (const e of inWindow) {
    if (e.rdp === null) {
      basic = { epsilon: basic.epsilon + e.dp!.epsilon, delta: basic.delta + e.dp!.delta };
      continue;
    }
    curves.push(e.rdp);
    if (e.dp?.delta === 0) pureEpsilon += e.dp.epsilon;
    else impureCurves.push(e.rdp);
  }
  const converted = (list: RdpCurve[]): { epsilon: number; alpha: number | null } =>
    list.length === 0 ? { epsilon: 0, alpha: null } : epsilonFromRdp(composeRdp(list), budget.delta);
  const all = converted(curves);
  const impure = converted(impureCurves);
  const best = all.epsilon <= pureEpsilon + impure.epsilon ? all : { epsilon: pureEpsilon + impure.epsilon, alpha: impure.alpha };
  return { epsilon: basic.epsilon + best.epsilon, delta: basic.delta + budget.delta, alpha: best.alpha, entries: inWindow.length };
}

/** Whether recording `next` keeps the spend within the budget's window at or below its ε. */
export function canSpend(ledger: PrivacyLedger, next: PrivacyEntry, budget: PrivacyBudget, now: Date): boolean {
  return privacySpent(recordSpend(ledger, next), budget, now).epsilon <= budget.epsilon * (1 + BUDGET_TOLERANCE);
}

/**
 * Check a parsed `privacy.json`: version 2 as written, version 1 converted (see the header).
 * Throws ERR_JSON_FORMAT naming `file`.
 */
export function parsePrivacyLedger(value: unknown, file: string): PrivacyLedger {
  const fail = (what: string): never => {
    throw new AppError('ERR_JSON_FORMAT', `${file}: ${what} (the privacy ledger is kept by the app; restore it from a backup rather than editing it)`, { file });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const m = value as Record<string, unknown>;
  if (!Array.isArray(m.entries)) return fail('entries is not an array');
  if (m.formatVersion === 1) {
    if (m.method !== 'basic-composition') fail(`method ${JSON.stringify(m.method)} is not basic-composition`);
    return { ...emptyLedger(), entries: m.entries.map((e: unknown, i: number) => fromVersion1(e) ?? fail(`entry ${i} needs at, kind, epsilon >= 0 and delta in [0, 1)`)) };
  }
  if (m.formatVersion !== LEDGER_FORMAT_VERSION) fail(`formatVersion ${JSON.stringify(m.formatVersion)} is not supported`);
  if (m.method !== COMPOSITION_METHOD) fail(`method ${JSON.stringify(m.method)} is not ${COMPOSITION_METHOD}`);
  const entries = m.entries.map((e: unknown, i: number): PrivacyEntry => {
    const problem = entryProblem(e);
    return problem === null ? structuredClone(e as PrivacyEntry) : fail(`entry ${i}: ${problem}`);
  });
  return { ...emptyLedger(), entries };
}

/** A version 1 entry {at, kind, epsilon, delta} as a version 2 entry; null if malformed. */
function fromVersion1(value: unknown): PrivacyEntry | null {
  const e = value as Record<string, unknown> | null;
  if (
    typeof e !== 'object' || e === null || typeof e.at !== 'string' || typeof e.kind !== 'string' ||
    typeof e.epsilon !== 'number' || !(e.epsilon >= 0) || !Number.isFinite(e.epsilon) ||
    typeof e.delta !== 'number' || !(e.delta >= 0 && e.delta < 1)
  ) {
    return null;
  }
  if (e.delta === 0) return pureDpSpend(e.at, e.kind, 'pure-dp', e.epsilon);
  return { at: e.at, kind: e.kind, mechanism: 'approximate-dp', params: { epsilon: e.epsilon, delta: e.delta }, rdp: null, dp: { epsilon: e.epsilon, delta: e.delta } };
}

/** What is wrong with an entry, or null. */
function entryProblem(value: unknown): string | null {
  const e = value as Record<string, unknown> | null;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'not an object';
  if (typeof e.at !== 'string' || typeof e.kind !== 'string' || typeof e.mechanism !== 'string') return 'at, kind and mechanism must be strings';
  const params = e.params as Record<string, unknown> | null;
  if (typeof params !== 'object' || params === null || Array.isArray(params) || !Object.values(params).every((v) => typeof v === 'number' && Number.isFinite(v))) {
    return 'params must be an object of finite numbers';
  }
  const dp = e.dp as Record<string, unknown> | null;
  if (dp !== null && (typeof dp !== 'object' || typeof dp.epsilon !== 'number' || !(dp.epsilon >= 0) || !Number.isFinite(dp.epsilon) || typeof dp.delta !== 'number' || !(dp.delta >= 0 && dp.delta < 1))) {
    return 'dp must be null or { epsilon >= 0, delta in [0, 1) }';
  }
  if (e.rdp === null) return dp === null ? 'an entry without an RDP curve needs its (epsilon, delta) in dp' : null;
  return curveProblem(e.rdp);
}

function curveProblem(value: unknown): string | null {
  if (!Array.isArray(value) || value.length !== RDP_ORDERS.length) return `rdp must list the ${RDP_ORDERS.length} orders ${RDP_ORDERS.join(', ')}`;
  for (let i = 0; i < RDP_ORDERS.length; i++) {
    const p = value[i] as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null || p.alpha !== RDP_ORDERS[i]) return `rdp[${i}] must be at order ${RDP_ORDERS[i]}`;
    if (typeof p.rdp !== 'number' || !(p.rdp >= 0) || !Number.isFinite(p.rdp)) return `rdp[${i}].rdp must be a finite number >= 0`;
  }
  return null;
}

function checkCurve(curve: unknown): void {
  const problem = curveProblem(curve);
  if (problem !== null) throw new RangeError(problem);
}

function checkOrder(alpha: number): void {
  if (!(alpha > 1) || !Number.isFinite(alpha)) throw new RangeError(`a Rényi order must be a finite number > 1, got ${alpha}`);
}

function checkDelta(delta: number): void {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be within (0, 1), got ${delta}`);
}

function checkPositive(values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number, got ${v}`);
  }
}

const SQRT2 = Math.SQRT2;
const LOG_HALF = Math.log(0.5);
/** Below this erfc uses the power series of erf, above it the continued fraction. */
const ERFC_SERIES_LIMIT = 2;
const SERIES_TERMS = 60;
const CONTINUED_FRACTION_STEPS = 500;
const TINY = 1e-300;

/** ln Φ(t), Φ the standard normal CDF, accurate far into the lower tail (no underflow to −∞ before t ≈ −1e154). */
function logNormalCdf(t: number): number {
  const x = -t / SQRT2;
  if (x < ERFC_SERIES_LIMIT) return Math.log(0.5 * erfcSmall(x));
  return LOG_HALF - x * x + Math.log(erfcScaledLarge(x));
}

/** erfc(x) for x < ERFC_SERIES_LIMIT: 1 − erf(x) by the power series (or 2 − erfc(−x) for very negative x). */
function erfcSmall(x: number): number {
  if (x <= -ERFC_SERIES_LIMIT) return 2 - Math.exp(-x * x) * erfcScaledLarge(-x);
  let term = x;
  let sum = x;
  const x2 = x * x;
  for (let n = 1; n < SERIES_TERMS; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return 1 - (2 / Math.sqrt(Math.PI)) * sum;
}

/**
 * e^{x²} erfc(x) for x ≥ ERFC_SERIES_LIMIT by the continued fraction
 * erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated with
 * the modified Lentz method.
 */
function erfcScaledLarge(x: number): number {
  let f = x;
  let C = x;
  let D = 0;
  for (let n = 1; n < CONTINUED_FRACTION_STEPS; n++) {
    const a = n / 2;
    D = x + a * D;
    D = D === 0 ? TINY : 1 / D;
    C = x + a / C;
    if (C === 0) C = TINY;
    const change = C * D;
    f *= change;
    if (Math.abs(change - 1) < 1e-16) break;
  }
  return 1 / (Math.sqrt(Math.PI) * f);
}
