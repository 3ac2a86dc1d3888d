import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeProtection } from '../../src/participant/protection';
import { SUBSPACE_DEFAULTS } from '../../src/shared/model/mechanism';
import { applySubspace, subspaceContribution, topItemsOf, type SubspaceApplyParams } from '../../src/shared/model/subspace';
import { chanceTail, scoreAgainstChance, type Trial } from './attacks';
import { createAttackRoot, globalVersion, runUntilGranted, victims, type AttackRoot, type Victim } from './harness';

/**
 * Issue 20, attack (a), at the real defaults (issue 15: a DP training run). Any
 * contributor reads the run's two Global_V versions: v1, the count round's noisy
 * counts (column 0), and v2, the co-occurrence round's eigenvectors on the rows
 * of S (the 200 most-watched items of v1, 0 elsewhere). From v1 it names the
 * |U| items with the largest count (U = the union of the five watched sets,
 * which the attacker is even told the size of); from v2 it names as many rows of
 * S, by norm, as there are items of S that co-occur in someone's history (what
 * the round carries). With the noise, both must do no better than
 * guessing (exact hypergeometric tail ≥ MIN_P).
 *
 * Controls, so that the test can fail: the same two attacks on the noise-free
 * sums of the members' own contributions (built with the mechanism from their
 * watched sets) name the union exactly.
 *
 * The members' noise comes from a seeded stream in this harness (the app draws
 * it from the OS).
 */
const SEED = 23;
/** Least p-value of an attack's hits under guessing: below it, the attack did better than chance. */
const MIN_P = 1e-4;

interface Observation {
  epsilonSpent: number[];
  counts: { noisy: Trial; exact: Trial };
  rows: { noisy: Trial; exact: Trial };
}

let root: AttackRoot;
let observed: Observation;

/** The `size` items of `candidates` with the largest score (ties: the smaller id). */
function topBy(candidates: readonly number[], score: (item: number) => number, size: number): number[] {
  return [...candidates].sort((a, b) => score(b) - score(a) || a - b).slice(0, size);
}

function rowNorm(V: Float32Array | Float64Array, rank: number, item: number): number {
  let s = 0;
  for (let a = 0; a < rank; a++) s += V[item * rank + a] ** 2;
  return s;
}

async function observe(): Promise<Observation> {
  root = await createAttackRoot({}, SEED);
  const protection = describeProtection(root.config);
  if (protection.aggregation !== 'secure' || protection.deltas !== 'dp-noise') throw new Error(`the defaults no longer run a DP training run: ${protection.message}`);
  await runUntilGranted(root);
  const everyone: Victim[] = await victims(root);
  const { items, rank } = root.model;
  const union = new Set<number>();
  for (const v of everyone) for (const j of v.watched) union.add(j);
  const all = Array.from({ length: items }, (_, j) => j);
  const params: SubspaceApplyParams = { ...SUBSPACE_DEFAULTS, dimensions: Math.min(SUBSPACE_DEFAULTS.dimensions, rank), items, rank };

  // v1: the count round's noisy counts, against the members' exact counts
  const v1 = await globalVersion(root, 1);
  const exactCounts = new Float64Array(items);
  const interactions = everyone.map((v) => [...v.watched].map((item) => ({ item, preference: 1, confidence: 1 })));
  for (const x of interactions) subspaceContribution(v1, x, 1, params).forEach((value, j) => (exactCounts[j] += value));
  const counts = {
    noisy: { guess: topBy(all, (j) => v1[j * rank], union.size), truth: union, population: items },
    exact: { guess: topBy(all, (j) => exactCounts[j], union.size), truth: union, population: items },
  };

  // v2: the co-occurrence round's rows on S, against the same round without noise
  const v2 = await globalVersion(root, 2);
  const S = topItemsOf(v1, params);
  // what the round carries: the items of S that co-occur in someone's history (a member with one item in S sends nothing)
  const inS = new Set<number>();
  for (const v of everyone) {
    const mine = S.filter((j) => v.watched.has(j));
    if (mine.length >= 2) for (const j of mine) inS.add(j);
  }
  const exactGram = new Float64Array(subspaceContribution(v1, interactions[0], 2, params).length);
  for (const x of interactions) subspaceContribution(v1, x, 2, params).forEach((value, i) => (exactGram[i] += value));
  const exactV2 = applySubspace(v1, exactGram, 2, params, 0).V;
  const rows = {
    noisy: { guess: topBy(S, (j) => rowNorm(v2, rank, j), inS.size), truth: inS, population: S.length },
    exact: { guess: topBy(S, (j) => rowNorm(exactV2, rank, j), inS.size), truth: inS, population: S.length },
  };
  const epsilonSpent = everyone.map((v) => v.participant.ctx.config.DP_EPSILON);
  return { epsilonSpent, counts, rows };
}

beforeAll(async () => {
  observed = await observe();
}, 600_000);
afterAll(async () => {
  if (observed) {
    const line = (name: string, t: Trial) => {
      const s = scoreAgainstChance([t]);
      return `  ${name}: ${s.hits}/${s.relevant} (named ${s.guessed}), guessing ${s.chanceHits.toFixed(2)} ± ${s.chanceSd.toFixed(2)}, p = ${chanceTail([t]).toPrecision(2)}`;
    };
    console.info(
      [
        '[privacy] (a) at the defaults: a DP training run (ε = 8 per run, δ = 1e-5)',
        line('v1 counts, noisy', observed.counts.noisy),
        line('v1 counts, control without noise', observed.counts.exact),
        line('v2 rows of S, noisy', observed.rows.noisy),
        line('v2 rows of S, control without noise', observed.rows.exact),
      ].join('\n'),
    );
  }
  await root?.cleanup();
});

describe('attack (a) against a DP training run (the defaults)', () => {
  it('runs at the default ε of 8 per run', () => {
    for (const epsilon of observed.epsilonSpent) expect(epsilon).toBe(8);
  });

  it('control: without the noise, the count round and the co-occurrence round name the union of the watched sets', () => {
    for (const t of [observed.counts.exact, observed.rows.exact]) {
      const s = scoreAgainstChance([t]);
      expect(s.precision).toBeGreaterThan(0.95);
      expect(chanceTail([t])).toBeLessThan(MIN_P);
    }
  });

  it('with the noise, neither Global_V version names the union better than guessing', () => {
    for (const t of [observed.counts.noisy, observed.rows.noisy]) {
      const s = scoreAgainstChance([t]);
      expect(chanceTail([t]), `${s.hits} hits, guessing gets ${s.chanceHits.toFixed(2)} ± ${s.chanceSd.toFixed(2)}`).toBeGreaterThanOrEqual(MIN_P);
    }
  });
});
