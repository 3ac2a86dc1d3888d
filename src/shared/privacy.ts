import { AppError } from './errors';
import type { Random } from './random';

/**
 * Differential privacy: noise calibration, noise, and the per-profile budget
 * ledger. Pure: randomness is passed in, the ledger is a value (the participant
 * stores it as `privacy.json`).
 *
 * Gaussian calibration: the analytic Gaussian mechanism (Balle & Wang 2018,
 * Theorem 8). Adding N(0, σ²) per coordinate to a function of L2 sensitivity Δ is
 * (ε, δ)-DP if and only if
 * ```
 * Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ) ≤ δ
 * ```
 * and `gaussianSigma` returns the smallest such σ (bisection, the left side falls
 * as σ grows). The classic σ = √(2 ln(1.25/δ)) Δ/ε is proven only for ε < 1 and
 * is larger than needed there (ε = 0.5, δ = 1e-5, Δ = 1: 9.69 classic vs 7.03 analytic),
 * so it is not used; the analytic σ is valid for every ε > 0.
 *
 * Budget ledger (`privacy.json`), basic sequential composition: publishing k
 * releases that are (ε_i, δ_i)-DP is (Σ ε_i, Σ δ_i)-DP. It is loose for many
 * releases but needs no assumption about what the releases are. Example:
 * ```json
 * { "formatVersion": 1, "method": "basic-composition",
 *   "entries": [{ "at": "2026-11-21T16:00:00.000Z", "kind": "delta", "epsilon": 8, "delta": 1e-5 }],
 *   "epsilonSpent": 8, "deltaSpent": 1e-5 }
 * ```
 */

interface PrivacySpend {
  /** ISO timestamp. */
  at: string;
  /** What was released, e.g. 'delta' or 'insights'. */
  kind: string;
  epsilon: number;
  delta: number;
}

export interface PrivacyLedger {
  formatVersion: 1;
  method: string;
  entries: PrivacySpend[];
  epsilonSpent: number;
  deltaSpent: number;
}

const COMPOSITION_METHOD = 'basic-composition';
/** Slack for float sums: ten spends of 0.1 fit a budget of 1. */
const BUDGET_TOLERANCE = 1e-9;
const BISECTION_STEPS = 200;
const BISECTION_RELATIVE_TOLERANCE = 1e-12;

/** Smallest σ making the Gaussian mechanism (ε, δ)-DP for L2 sensitivity Δ (analytic calibration). */
export function gaussianSigma(epsilon: number, delta: number, sensitivity: number): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a positive number, got ${epsilon}`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be within (0, 1), got ${delta}`);
  if (!(sensitivity > 0) || !Number.isFinite(sensitivity)) throw new RangeError(`sensitivity must be a positive number, got ${sensitivity}`);
  const holds = (sigma: number): boolean => gaussianDelta(sigma / sensitivity, epsilon) <= delta;
  let hi = sensitivity;
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

export function emptyLedger(): PrivacyLedger {
  return { formatVersion: 1, method: COMPOSITION_METHOD, entries: [], epsilonSpent: 0, deltaSpent: 0 };
}

/** A new ledger with `spend` appended; totals by basic composition (ε and δ add). */
export function recordSpend(ledger: PrivacyLedger, spend: PrivacySpend): PrivacyLedger {
  if (!(spend.epsilon >= 0 && Number.isFinite(spend.epsilon)) || !(spend.delta >= 0 && spend.delta < 1)) {
    throw new RangeError(`a privacy spend needs finite epsilon >= 0 and delta in [0, 1), got epsilon ${spend.epsilon}, delta ${spend.delta}`);
  }
  const entries = [...ledger.entries, { ...spend }];
  return { formatVersion: 1, method: COMPOSITION_METHOD, entries, ...totals(entries) };
}

/** Whether spending `epsilon` more keeps the ledger within `budgetEpsilon`. */
export function canSpend(ledger: PrivacyLedger, epsilon: number, budgetEpsilon: number): boolean {
  return ledger.epsilonSpent + epsilon <= budgetEpsilon * (1 + BUDGET_TOLERANCE);
}

/** Check a parsed `privacy.json`; totals are recomputed from the entries. Throws ERR_JSON_FORMAT naming `file`. */
export function parsePrivacyLedger(value: unknown, file: string): PrivacyLedger {
  const fail = (what: string): never => {
    throw new AppError('ERR_JSON_FORMAT', `${file}: ${what} (the privacy ledger is kept by the app; restore it from a backup rather than editing it)`, { file });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.formatVersion !== 1) fail(`formatVersion ${JSON.stringify(m.formatVersion)} is not supported`);
  if (m.method !== COMPOSITION_METHOD) fail(`method ${JSON.stringify(m.method)} is not ${COMPOSITION_METHOD}`);
  if (!Array.isArray(m.entries)) return fail('entries is not an array');
  const entries = m.entries.map((e: unknown, i: number): PrivacySpend => {
    const entry = e as Record<string, unknown> | null;
    if (
      typeof entry !== 'object' || entry === null ||
      typeof entry.at !== 'string' || typeof entry.kind !== 'string' ||
      typeof entry.epsilon !== 'number' || !(entry.epsilon >= 0) ||
      typeof entry.delta !== 'number' || !(entry.delta >= 0 && entry.delta < 1)
    ) {
      return fail(`entry ${i} needs at, kind, epsilon >= 0 and delta in [0, 1)`);
    }
    return { at: entry.at, kind: entry.kind, epsilon: entry.epsilon, delta: entry.delta };
  });
  return { formatVersion: 1, method: COMPOSITION_METHOD, entries, ...totals(entries) };
}

function totals(entries: PrivacySpend[]): { epsilonSpent: number; deltaSpent: number } {
  let epsilonSpent = 0;
  let deltaSpent = 0;
  for (const e of entries) {
    epsilonSpent += e.epsilon;
    deltaSpent += e.delta;
  }
  return { epsilonSpent, deltaSpent };
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
