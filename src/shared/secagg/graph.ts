/**
 * Cohort shape and neighbour graph (SecAgg+, Bell et al. 2020).
 *
 * Each member shares its secrets with, and masks against, only its k neighbours. The Shamir
 * threshold t = ⌊k/2⌋ + 1 is a strict majority of a neighbourhood: each honest neighbour
 * answers one unmask request, so a server cannot gather t shares of both kinds for one member.
 *
 * k: the complete graph (k = n − 1) up to `fullGraphMax`; beyond it the SecAgg+ baseline
 * 2⌈log2 n⌉ + 2, raised (in steps of 2) until members dropping independently at `dropoutRate`
 * leave some neighbourhood with fewer than t survivors with probability ≤ 1e-6 (union bound over
 * the n neighbourhoods). Without that, the baseline k = 22 at n = 1000 aborts most rounds at 20%
 * dropout. Sparse k is even, so n·k is even and the k-regular graph exists.
 *
 * The graph is the Harary graph (ring, each member joined to its k/2 nearest on both sides, plus
 * the opposite member when k is odd) under a uniformly random relabelling, as in Google's
 * production SecAgg+; it is k-regular, symmetric and k-connected.
 *
 * Which dropout rate the graph is sized for is the aggregator's choice (`graphDropout`): the
 * rate its recent rounds showed, with a margin, never below a configured floor nor above what
 * the survivor fraction lets a round lose. k, and with it every member's shares and the pair
 * masks the aggregator expands per dropped member, grows steeply with that rate (k = 38 at
 * n = 1,000 for 10%, 212 for 30%), so sizing every round for the worst rate the round could
 * tolerate costs about 5x where members rarely drop.
 */
import { MAX_SHARES } from './shamir';

export interface CohortShape {
  n: number;
  k: number;
  t: number;
  minSurvivors: number;
}

export interface CohortShapeOptions {
  fullGraphMax: number;
  minSurvivors: number;
  survivorFraction: number;
  /** Independent per-member dropout probability the graph must survive; default 1 − survivorFraction. */
  dropoutRate?: number;
}

/** Smallest cohort: Shamir needs two shares of two (k ≥ 2). */
const MIN_COHORT = 3;
const MAX_ABORT_PROBABILITY = 1e-6;
/** Largest even degree GF(256) Shamir allows. */
const MAX_SPARSE_DEGREE = MAX_SHARES - 1;

/** P[Bin(k, survive) < t]: a neighbourhood of k keeps fewer than t survivors. */
function shortNeighbourhoodProbability(k: number, t: number, survive: number): number {
  if (survive >= 1) return 0;
  let term = (1 - survive) ** k;
  let sum = 0;
  for (let j = 0; j < t; j++) {
    sum += term;
    term *= ((k - j) / (j + 1)) * (survive / (1 - survive));
  }
  return sum;
}

/** n, neighbourhood size k, Shamir threshold t and the minimum number of survivors T for a cohort of n. */
export function cohortShape(n: number, opts: CohortShapeOptions): CohortShape {
  const { fullGraphMax, minSurvivors, survivorFraction } = opts;
  const dropoutRate = opts.dropoutRate ?? 1 - survivorFraction;
  if (!(survivorFraction > 0 && survivorFraction <= 1)) throw new RangeError(`survivorFraction must be in (0, 1], got ${survivorFraction}`);
  if (!(dropoutRate >= 0 && dropoutRate < 1)) throw new RangeError(`dropoutRate must be in [0, 1), got ${dropoutRate}`);
  if (!Number.isInteger(minSurvivors) || minSurvivors < MIN_COHORT) throw new RangeError(`minSurvivors must be an integer ≥ ${MIN_COHORT}, got ${minSurvivors}`);
  const T = Math.max(minSurvivors, Math.ceil(survivorFraction * n));
  if (!Number.isInteger(n) || n < T) throw new RangeError(`a cohort of ${n} is below its minimum of ${T} survivors`);
  let k: number;
  if (n <= fullGraphMax) {
    k = n - 1;
    if (k > MAX_SHARES) throw new RangeError(`a complete graph on ${n} members needs ${k} Shamir shares; at most ${MAX_SHARES} exist (lower fullGraphMax)`);
  } else {
    k = 2 * Math.ceil(Math.log2(n)) + 2;
    const ceiling = Math.min(n - 1, MAX_SPARSE_DEGREE);
    while (k < ceiling && n * shortNeighbourhoodProbability(k, Math.floor(k / 2) + 1, 1 - dropoutRate) > MAX_ABORT_PROBABILITY) k += 2;
    k = Math.min(k, ceiling);
  }
  return { n, k, t: Math.floor(k / 2) + 1, minSurvivors: T };
}

/** A finished round, as `graphDropout` reads it. */
export interface RoundDropout {
  /** Members of the fixed cohort; 0 when the round ended before its cohort was fixed. */
  cohort: number;
  /** Members whose masked input arrived. */
  survivors: number;
  outcome: 'merged' | 'aborted';
}

export interface GraphDropoutOptions {
  /** The least rate a sparse graph is sized for (SECAGG_DROPOUT_RATE). */
  floor: number;
  /** The most: what a round may lose and still complete, 1 − survivorFraction. */
  cap: number;
}

/** Headroom over the worst dropout rate seen recently: a rate estimated from a few rounds is itself uncertain. */
const DROPOUT_MARGIN = 1.5;

/**
 * The dropout rate the next round's graph is sized for, from the rounds finished recently:
 * DROPOUT_MARGIN x the worst rate among them, within [floor, cap]. A round that aborted
 * after its cohort was fixed counts as `cap`: whatever stopped it, the next rounds take the
 * widest graph until rounds complete again. Rounds that never fixed a cohort say nothing
 * about dropout and are skipped. With no history the floor applies: the first round may
 * abort if members drop more often than that, and the rounds after it are sized for the cap.
 */
export function graphDropout(recent: readonly RoundDropout[], opts: GraphDropoutOptions): number {
  const { floor, cap } = opts;
  if (!(floor >= 0 && floor <= cap && cap < 1)) throw new RangeError(`need 0 ≤ floor ≤ cap < 1, got floor ${floor}, cap ${cap}`);
  let worst = 0;
  for (const round of recent) {
    if (round.cohort === 0) continue;
    worst = Math.max(worst, round.outcome === 'aborted' ? cap : (round.cohort - round.survivors) / round.cohort);
  }
  return Math.min(cap, Math.max(floor, DROPOUT_MARGIN * worst));
}

/** A random symmetric k-regular graph on 0..n−1 (complete when k = n − 1); lists are sorted. */
export function neighbourGraph(n: number, k: number, randomInt: (maxExclusive: number) => number): number[][] {
  if (!Number.isInteger(n) || !Number.isInteger(k) || k < 1 || k >= n) throw new RangeError(`need integers 1 ≤ k < n, got n=${n}, k=${k}`);
  if ((n * k) % 2 === 1) throw new RangeError(`no ${k}-regular graph on ${n} members exists (n·k is odd)`);
  const label = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [label[i], label[j]] = [label[j], label[i]];
  }
  const neighbours: number[][] = Array.from({ length: n }, () => []);
  const link = (a: number, b: number): void => {
    neighbours[label[a]].push(label[b]);
    neighbours[label[b]].push(label[a]);
  };
  // Offsets 1..⌊k/2⌋ never reach n/2 (k < n), so no edge is generated twice.
  for (let i = 0; i < n; i++) {
    for (let d = 1; d <= Math.floor(k / 2); d++) link(i, (i + d) % n);
  }
  if (k % 2 === 1) {
    for (let i = 0; i < n / 2; i++) link(i, i + n / 2);
  }
  for (const list of neighbours) list.sort((a, b) => a - b);
  return neighbours;
}
