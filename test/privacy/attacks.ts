import { EigenvalueDecomposition, Matrix, solve } from 'ml-matrix';
import { DECOY_RATE, EXCLUDED, MAX_PERCENTILE } from '../../src/participant/blend';
import { decodeSum, type Encoding } from '../../src/shared/secagg/encoding';
import { addMask } from '../../src/shared/secagg/prg';
import { combineShares } from '../../src/shared/secagg/shamir';
import { normalQuantile } from '../../src/shared/stats';

/**
 * The attacks of issue 20, as an adversary would run them on the files the
 * project writes, plus the scoring that says whether an attack did better than
 * guessing. Pure functions on typed arrays; the tests in this folder produce the
 * files with the real participant and aggregator code and hand them in here.
 *
 * They live under test/ and not src/: every attack needs ground truth (the
 * victim's private watched set) to be scored, which no production command has,
 * and nothing in production should carry code whose purpose is to de-anonymize
 * its users. The aggregator's defence is the protection itself, not a detector.
 *
 * Why the delta attacks work. One local epoch moves every unwatched item row
 * by the same linear map (`trainLocal`: v_j ← v_j (I − 2η u uᵀ)), and clipping
 * scales every row alike, so in the difference D of two item matrices (a delta,
 * or two consecutive Global_V versions) D_j = v_j A for every row nobody in the
 * round watched. Fitting A by least squares and ranking rows by residual
 * exposes the watched rows; the residual's size along u gives each show's
 * confidence. With Gaussian noise on every value the fit still works, but the
 * residuals are noise, and the ranking is a random guess.
 */

/** The shape of a row-major items × rank matrix. */
export interface Rows {
  items: number;
  rank: number;
}

export interface LinearFit {
  /** rank × rank, D ≈ V·map. */
  map: Matrix;
  /** Residual D − V·map, row-major items × rank. */
  residual: Float64Array;
  /** L2 norm of each residual row. */
  norms: Float64Array;
}

/** Least squares D ≈ V·A over the rows not in `exclude` (normal equations in float64); residuals of every row. */
export function fitLinearMap(base: Float32Array, diff: ArrayLike<number>, { items, rank }: Rows, exclude: ReadonlySet<number> = new Set()): LinearFit {
  const gram = new Matrix(rank, rank);
  const cross = new Matrix(rank, rank);
  for (let j = 0; j < items; j++) {
    if (exclude.has(j)) continue;
    const off = j * rank;
    for (let a = 0; a < rank; a++) {
      const va = base[off + a];
      for (let b = 0; b < rank; b++) {
        gram.set(a, b, gram.get(a, b) + va * base[off + b]);
        cross.set(a, b, cross.get(a, b) + va * diff[off + b]);
      }
    }
  }
  const map = solve(gram, cross);
  const residual = new Float64Array(items * rank);
  const norms = new Float64Array(items);
  for (let j = 0; j < items; j++) {
    const off = j * rank;
    let sq = 0;
    for (let b = 0; b < rank; b++) {
      let predicted = 0;
      for (let a = 0; a < rank; a++) predicted += base[off + a] * map.get(a, b);
      const r = diff[off + b] - predicted;
      residual[off + b] = r;
      sq += r * r;
    }
    norms[j] = Math.sqrt(sq);
  }
  return { map, residual, norms };
}

/** Indices of `scores`, largest first (ties by index). */
export function rankDescending(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}

/**
 * Where a sorted-descending list of positive scores splits into "stands out"
 * and "the rest": the k (1 ≤ k ≤ maxK) with the largest ratio scores[k−1]/scores[k].
 * The attacker needs no count: a clean delta has a gap of five orders of magnitude.
 */
export function largestGapSplit(sortedDesc: readonly number[], maxK: number): number {
  const floor = 1e-300;
  let best = 1;
  let bestGap = -Infinity;
  for (let k = 1; k <= Math.min(maxK, sortedDesc.length - 1); k++) {
    const gap = Math.log(Math.max(sortedDesc[k - 1], floor)) - Math.log(Math.max(sortedDesc[k], floor));
    if (gap > bestGap) {
      bestGap = gap;
      best = k;
    }
  }
  return best;
}

export interface WatchedRecovery {
  /** The rows the attacker names as watched (largest residual gap). */
  named: number[];
  /** Every row, most suspicious first (an attacker who knows how many shows were watched takes a prefix). */
  ranking: number[];
  /** The fit over the rows not named (what the confidence attack starts from). */
  fit: LinearFit;
}

/** Share of rows a robust fit sets aside: the attacker assumes fewer shows than this were watched in a round. */
const TRIM_FRACTION = 0.25;
const TRIM_PASSES = 4;

/**
 * Attacks (a) and (b): the watched rows of a difference of item matrices. A
 * plain fit over all rows is dragged by the watched ones (a round of five
 * participants has hundreds), so the fit is trimmed: refit without the
 * TRIM_FRACTION rows of largest residual, a few times; then name the rows past
 * the largest residual gap, and fit once more without exactly those.
 */
export function recoverWatched(base: Float32Array, diff: ArrayLike<number>, shape: Rows): WatchedRecovery {
  const trimmed = Math.floor(shape.items * TRIM_FRACTION);
  let fit = fitLinearMap(base, diff, shape);
  for (let pass = 0; pass < TRIM_PASSES; pass++) fit = fitLinearMap(base, diff, shape, new Set(rankDescending(fit.norms).slice(0, trimmed)));
  const name = (current: LinearFit) => {
    const ranking = rankDescending(current.norms);
    return { ranking, named: ranking.slice(0, largestGapSplit(ranking.map((j) => current.norms[j]), trimmed)) };
  };
  fit = fitLinearMap(base, diff, shape, new Set(name(fit).named));
  return { ...name(fit), fit };
}

/**
 * Attack (b), second half: the confidence weight c_j = 1 + alpha·confidence of
 * each named row, from one delta. With a = 2η·(clip scale) and u the user's
 * factors, unwatched rows give A = −a u uᵀ (its one non-zero eigenpair gives û
 * and a|u|²) and watched rows the residual −a[(c_j(u·v_j − 1) − u·v_j) u + λ v_j]:
 * the part orthogonal to û gives a (λ = ALS_REG is public), the part along û
 * then gives c_j. The sign of u is taken so that the weights come out ≥ 1.
 * The tests hand in the true watched rows, which only helps the attacker.
 */
export function estimateConfidenceWeights(base: Float32Array, fit: LinearFit, rows: readonly number[], { rank }: Rows, reg: number): Float64Array {
  const symmetric = new Matrix(rank, rank);
  for (let a = 0; a < rank; a++) for (let b = 0; b < rank; b++) symmetric.set(a, b, (fit.map.get(a, b) + fit.map.get(b, a)) / 2);
  const eigen = new EigenvalueDecomposition(symmetric, { assumeSymmetric: true });
  const values = eigen.realEigenvalues;
  let top = 0;
  for (let i = 1; i < rank; i++) if (Math.abs(values[i]) > Math.abs(values[top])) top = i;
  const kappa = values[top];
  const direction = eigen.eigenvectorMatrix.getColumn(top);
  const along = (row: number, source: ArrayLike<number>) => {
    let s = 0;
    for (let a = 0; a < rank; a++) s += source[row * rank + a] * direction[a];
    return s;
  };
  // a from the parts orthogonal to û: residual⊥ = −aλ v⊥, pooled over the rows.
  let num = 0;
  let den = 0;
  for (const j of rows) {
    const t = along(j, base);
    const rho = along(j, fit.residual);
    for (let a = 0; a < rank; a++) {
      const vPerp = base[j * rank + a] - t * direction[a];
      const rPerp = fit.residual[j * rank + a] - rho * direction[a];
      num += rPerp * vPerp;
      den += vPerp * vPerp;
    }
  }
  const step = -num / (reg * den);
  const uNorm = Math.sqrt(Math.abs(kappa / step));
  const weights = (sign: 1 | -1) =>
    Float64Array.from(rows, (j) => {
      const mu = sign * uNorm;
      const t = along(j, base);
      const x = -along(j, fit.residual) / step - reg * t;
      return (x / mu + mu * t) / (mu * t - 1);
    });
  const plus = weights(1);
  const minus = weights(-1);
  return median(plus) >= median(minus) ? plus : minus;
}

/**
 * Attack (c): the watched set from a blend friend's percentile file and
 * Global_V. For shows not excluded, the percentile is a rank of u·v_j (the local
 * map is linear in the Global_V row), so regressing the percentiles' normal
 * scores on the Global_V rows recovers u's direction; then every excluded show
 * gets a predicted interest. Decoys are a uniform DECOY_RATE sample of the
 * unwatched shows, so their predicted interest is distributed like that of the
 * shows left in the file: above the score of the k-th best shown show, about
 * k·rate/(1 − rate) decoys are expected. The attacker names the excluded shows
 * above the k where that is half a decoy; the watched shows, which the
 * friend's factors were fitted to, are up there.
 */
export function recoverWatchedFromBlend(percentiles: Uint8Array, globalV: Float32Array, { items, rank }: Rows): { named: number[]; ranking: number[]; predicted: Float64Array } {
  const gram = new Matrix(rank, rank);
  const cross = new Matrix(rank, 1);
  for (let j = 0; j < items; j++) {
    if (percentiles[j] === EXCLUDED) continue;
    const y = normalQuantile((percentiles[j] + 0.5) / (MAX_PERCENTILE + 1));
    const off = j * rank;
    for (let a = 0; a < rank; a++) {
      cross.set(a, 0, cross.get(a, 0) + globalV[off + a] * y);
      for (let b = 0; b < rank; b++) gram.set(a, b, gram.get(a, b) + globalV[off + a] * globalV[off + b]);
    }
  }
  const beta = solve(gram, cross).getColumn(0);
  const predicted = new Float64Array(items);
  for (let j = 0; j < items; j++) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += globalV[j * rank + a] * beta[a];
    predicted[j] = s;
  }
  const byScore = rankDescending(predicted);
  const ranking = byScore.filter((j) => percentiles[j] === EXCLUDED);
  const shown = byScore.filter((j) => percentiles[j] !== EXCLUDED);
  const k = Math.ceil((EXPECTED_DECOYS_NAMED * (1 - DECOY_RATE)) / DECOY_RATE);
  const threshold = predicted[shown[Math.min(k, shown.length) - 1]];
  return { named: ranking.filter((j) => predicted[j] > threshold), ranking, predicted };
}

/** Decoys the blend attack accepts to name, in expectation. */
const EXPECTED_DECOYS_NAMED = 0.5;

/**
 * Attack (b) under secure aggregation, first step: what the aggregator can take
 * off a member's masked input y = x + PRG(b) ± Σ PRG(s_uv) with what it holds.
 * To unmask the round's sum it must rebuild every survivor's self-mask seed b
 * from the b-shares the survivors reveal, so it can remove PRG(b) from each y;
 * the pairwise masks stay (their keys' shares are revealed only for members
 * that dropped, and an honest member never reveals both kinds for one member).
 * Null when fewer than t b-shares were revealed.
 */
export async function removeSelfMask(masked: Uint32Array, bShares: readonly Uint8Array[], t: number): Promise<Uint32Array | null> {
  if (bShares.length < t) return null;
  const out = Uint32Array.from(masked);
  addMask(out, await combineShares(bShares.slice(0, t)), -1);
  return out;
}

/** Read a vector of the secure encoding (mod 2^32) as a contribution and keep its delta segment (the first items × rank values). */
export function decodeDeltaSegment(values: Uint32Array, encoding: Encoding, { items, rank }: Rows): Float64Array {
  return decodeSum(values, encoding).subarray(0, items * rank);
}

/**
 * Pearson's chi-square of the top byte of each value against the uniform
 * distribution on 256 values (255 degrees of freedom: mean 255, variance 510).
 * A masked input is uniform on Z_2^32; a plain contribution's top byte is 0x00
 * or 0xFF (small values around zero).
 */
export function topByteChiSquare(values: Uint32Array): number {
  const counts = new Float64Array(256);
  for (let i = 0; i < values.length; i++) counts[values[i] >>> 24]++;
  const expected = values.length / 256;
  let chi = 0;
  for (const c of counts) chi += (c - expected) ** 2 / expected;
  return chi;
}

/** A page view as the click log shows it to the aggregator (attack (d)). */
export interface LoggedView {
  pageView: string;
  at: string;
  local: number[] | null;
  global: number[] | null;
}

/** Attack (d): every page view's lists and time, read off a click log's text (whatever the row version). */
export function readLoggedViews(text: string): LoggedView[] {
  const out: LoggedView[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as Record<string, unknown>;
    if (row.type !== 'view') continue;
    const list = (v: unknown) => (Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? (v as number[]) : null);
    out.push({ pageView: String(row.pageView), at: typeof row.at === 'string' ? row.at : '', local: list(row.local), global: list(row.global) });
  }
  return out;
}

// ---------------------------------------------------------------- scoring

/** How many of `guess` are in `truth`. */
export function countHits(guess: Iterable<number>, truth: ReadonlySet<number>): number {
  let hits = 0;
  for (const g of guess) if (truth.has(g)) hits++;
  return hits;
}

/** Mean and variance of the hits of a uniformly random guess of `guessed` out of `population`, `relevant` of which are right (hypergeometric). */
export function guessingHits(population: number, relevant: number, guessed: number): { mean: number; variance: number } {
  const p = relevant / population;
  const mean = guessed * p;
  const variance = population > 1 ? (guessed * p * (1 - p) * (population - guessed)) / (population - 1) : 0;
  return { mean, variance };
}

export interface AttackScore {
  /** Hits of the attack, summed over its targets. */
  hits: number;
  guessed: number;
  relevant: number;
  precision: number;
  recall: number;
  /** What guessing achieves: expected hits, their standard error, and expected + 2 standard errors (the tests' usual margin). */
  chanceHits: number;
  chanceSd: number;
  chanceBound: number;
}

/** One attack on one target: what it named, what is true, and how many it could have named from. */
export interface Trial {
  guess: readonly number[];
  truth: ReadonlySet<number>;
  population: number;
}

/** Pool independent trials into one score against guessing (hits, means and variances add). */
export function scoreAgainstChance(trials: readonly Trial[]): AttackScore {
  let hits = 0;
  let guessed = 0;
  let relevant = 0;
  let mean = 0;
  let variance = 0;
  for (const t of trials) {
    hits += countHits(t.guess, t.truth);
    guessed += t.guess.length;
    relevant += t.truth.size;
    const g = guessingHits(t.population, t.truth.size, t.guess.length);
    mean += g.mean;
    variance += g.variance;
  }
  return {
    hits,
    guessed,
    relevant,
    precision: guessed > 0 ? hits / guessed : 0,
    recall: relevant > 0 ? hits / relevant : 0,
    chanceHits: mean,
    chanceSd: Math.sqrt(variance),
    chanceBound: mean + 2 * Math.sqrt(variance),
  };
}

/** The distribution of the hits of a uniformly random guess of `guessed` out of `population`, `relevant` of which are right (hypergeometric pmf, by its term ratio). */
function hypergeometricPmf(population: number, relevant: number, guessed: number): Float64Array {
  const top = Math.min(relevant, guessed);
  const pmf = new Float64Array(top + 1);
  let p = 1;
  for (let i = 0; i < guessed; i++) p *= (population - relevant - i) / (population - i);
  for (let k = 0; k <= top; k++) {
    pmf[k] = p;
    p *= ((relevant - k) * (guessed - k)) / ((k + 1) * (population - relevant - guessed + k + 1));
  }
  return pmf;
}

/**
 * The p-value of an attack's pooled hits against guessing: the probability
 * that random guesses of the same sizes hit at least as many (the exact
 * distribution of the sum of the trials' hypergeometric hits, by convolution).
 * For runs that cannot be seeded, where "within 2 standard errors" would fail
 * one honest run in 40, and the normal approximation is poor for small means.
 */
export function chanceTail(trials: readonly Trial[]): number {
  let dist = Float64Array.of(1);
  for (const t of trials) {
    const pmf = hypergeometricPmf(t.population, t.truth.size, t.guess.length);
    const next = new Float64Array(dist.length + pmf.length - 1);
    for (let a = 0; a < dist.length; a++) for (let b = 0; b < pmf.length; b++) next[a + b] += dist[a] * pmf[b];
    dist = next;
  }
  const hits = trials.reduce((n, t) => n + countHits(t.guess, t.truth), 0);
  let tail = 0;
  for (let k = hits; k < dist.length; k++) tail += dist[k];
  return Math.min(1, tail);
}

/** Pearson correlation. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Two standard errors of a Pearson r of n pairs under "no relation" (over all pairings of the two lists, Var r = 1/(n − 1) whatever their distributions). */
export function chanceCorrelationBound(n: number): number {
  return 2 / Math.sqrt(n - 1);
}

function median(values: ArrayLike<number>): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
