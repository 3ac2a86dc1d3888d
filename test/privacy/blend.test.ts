import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonFile } from '../../src/shared/atomic';
import {
  BLEND_PRIVACY_KIND,
  blendList,
  blendView,
  decodeBlendTaste,
  EXCLUDED,
  MAX_BLEND_BYTES,
  noisyTaste,
  tasteSum,
  watchTogether,
  type BlendTaste,
} from '../../src/participant/blend';
import { afterParticipantPass } from '../../src/participant/extras';
import { readGrantedGlobal } from '../../src/participant/recommendations';
import { readPrivacyLedger, readProfileModel } from '../../src/participant/state';
import { DEMO_AGGREGATOR } from '../../src/demo/embedded';
import { silentLogger } from '../../src/shared/log';
import { normalQuantile } from '../../src/shared/stats';
import { canRead } from '../../src/shared/permissions';
import { createRandom, deriveSeed } from '../../src/shared/random';
import { chanceTail, recoverWatchedFromBlend, recoverWatchedFromTaste, scoreAgainstChance, versionOneBlendScores, type AttackScore, type Trial } from './attacks';
import { createAttackRoot, runUntilGranted, UNPROTECTED, victims, type AttackRoot, type Victim } from './harness';

/**
 * Issue 20, attack (c): a blend friend reads the friend's blend file and the
 * Global_V every contributor may read, and tries to tell which shows the
 * friend watched.
 *
 * Protection (blend file version 2): the file holds only a noised taste
 * summary, t = Σ_{j∈W} clip(v_j) + N(0, σ²I) over the watched shows W, σ from
 * the Gaussian mechanism at (BLEND_EPSILON, DP_DELTA) for one show added or
 * removed, and marks no show. What DP promises, and what is tested: for any
 * show j, the file is nearly as likely from W with j as from W without j, so an
 * attacker fitting the file against Global_V decides "j was watched" at chance
 * level. The game is played against two attackers:
 * - the strongest (the DP adversary): knows Global_V and every other show of W,
 *   and runs the likelihood-ratio test; its accuracy is at most
 *   Φ(clip/(2σ)) (0.553 at ε = 1, δ = 1e-5);
 * - matching pursuit: greedy fit of the file to Global_V's clipped rows, handed
 *   |W|; "watched" if it names j.
 * Controls, so that the test can fail: the same summary without noise (both
 * attackers near certain), and the version-1 file (a percentile per show,
 * watched shows marked among 5% decoys), which gives the watched sets away.
 *
 * Known limit, printed not asserted: the taste itself is what the blend
 * shares. In this five-person demo with plain deltas and no DP noise, Global_V's
 * rows of a person's shows are fitted to that person's taste, so naming the
 * shows that line up with the shared taste finds many of them (attack (a)'s
 * leak through Global_V; the membership game shows the file adds no more than
 * ε per show to it).
 *
 * Usefulness: the new list against the version-1 list, printed.
 */
const SEED = 11;
/** The default rank: Global_V's rows separate shows best there, which helps the attacker. */
const RANK = { MODEL_RANK: '32' };
/** Noise draws per watched show and world in the games. */
const DRAWS = 4;
/** Shows per participant in the matching-pursuit game (each costs two fits). */
const PURSUIT_SHOWS = 24;
const LIST = 10;

interface Game {
  /** Decisions "watched" when j was in the history, and when it was not; trials per world. */
  inWorld: number;
  outWorld: number;
  trials: number;
}

interface Observed {
  files: BlendTaste[];
  ledgerKinds: string[][];
  strongest: Game;
  strongestExact: Game;
  pursuit: Game;
  pursuitExact: Game;
  /** Accuracy bound of the strongest attacker: Φ(clip/(2σ)). */
  bound: number;
  /** The matching pursuit naming shows outright from each published file (the known limit). */
  named: Trial[];
  /** Control: the version-1 file, the top |W| of its ranking among the excluded shows. */
  versionOne: Trial[];
  /** Overlap (of LIST) of the new list with the version-1 list: the published pair, and every pair with and without noise. */
  overlapPublished: number[];
  overlapNoised: number[];
  overlapExact: number[];
}

let root: AttackRoot;
let observed: Observed;

async function observe(): Promise<Observed> {
  root = await createAttackRoot({ ...UNPROTECTED, ...RANK }, SEED);
  await runUntilGranted(root);
  const everyone = await victims(root);
  const [me, friend] = everyone;
  // twice: the first pass publishes each side's consent, the second the summaries (as in the demo)
  for (let pass = 0; pass < 2; pass++) for (const v of [me, friend]) await afterParticipantPass(v.participant.ctx, { profiles: [], missing: [], failed: [] });
  const shape = { items: root.model.items, rank: root.model.rank };
  const global = await readGrantedGlobal(me.participant.ctx.ws, DEMO_AGGREGATOR, root.model, silentLogger);
  if (global === null) throw new Error('no Global_V granted');
  const V = global.values;
  const files: BlendTaste[] = [];
  const ledgerKinds: string[][] = [];
  const named: Trial[] = [];
  for (const [victim, reader] of [[me, friend], [friend, me]] as const) {
    const file = await tasteFile(victim, reader);
    files.push(file);
    ledgerKinds.push((await readPrivacyLedger(victim.participant.ctx.ws.privateDir('profile_0'))).entries.map((e) => e.kind));
    named.push({ guess: recoverWatchedFromTaste(file.taste, V, shape, file.clipNorm, victim.watched.size), truth: victim.watched, population: shape.items });
  }
  const { clipNorm, sigma } = files[0];
  const random = createRandom(deriveSeed(SEED, 'games'));
  const games = { strongest: emptyGame(), strongestExact: emptyGame(), pursuit: emptyGame(), pursuitExact: emptyGame() };
  const versionOne = new Map<Victim, Uint8Array>();
  const versionOneTrials: Trial[] = [];
  for (const v of everyone) {
    const watched = [...v.watched];
    for (const [n, j] of watched.entries()) {
      const rest = tasteSum(V, shape.rank, watched.filter((i) => i !== j), clipNorm);
      const row = tasteSum(V, shape.rank, [j], clipNorm);
      const withJ = rest.map((x, a) => x + row[a]);
      // the strongest attacker: "watched" when t − rest is nearer clip(v_j) than 0
      const says = (t: ArrayLike<number>) => {
        let s = 0;
        for (let a = 0; a < shape.rank; a++) s += row[a] * (t[a] - rest[a] - row[a] / 2);
        return s > 0;
      };
      play(games.strongestExact, says(withJ), says(rest));
      for (let k = 0; k < DRAWS; k++) play(games.strongest, says(noisyTaste(withJ, sigma, random)), says(noisyTaste(rest, sigma, random)));
      if (n < PURSUIT_SHOWS) {
        const pursues = (t: ArrayLike<number>, count: number) => recoverWatchedFromTaste(t, V, shape, clipNorm, count).includes(j);
        play(games.pursuitExact, pursues(withJ, watched.length), pursues(rest, watched.length - 1));
        play(games.pursuit, pursues(noisyTaste(withJ, sigma, random), watched.length), pursues(noisyTaste(rest, sigma, random), watched.length - 1));
      }
    }
    const model = await readProfileModel(v.participant.ctx.ws.privateDir('profile_0'));
    const bytes = versionOneBlendScores(model!.u, model!.vLocal, shape, v.watched, createRandom(deriveSeed(SEED, `decoys/${v.email}`)));
    versionOne.set(v, bytes);
    versionOneTrials.push({ guess: recoverWatchedFromBlend(bytes, V, shape).ranking.slice(0, v.watched.size), truth: v.watched, population: bytes.filter((b) => b === EXCLUDED).length });
  }

  // usefulness: the published pair as each page shows it, and every pair (with fresh noise, and without), against the version-1 list
  const oldList = (a: Victim, b: Victim) => new Set(watchTogether(versionOne.get(a)!, versionOne.get(b)!, root.catalog, LIST).map((t) => t.item));
  const overlapPublished: number[] = [];
  for (const [side, other] of [[me, friend], [friend, me]] as const) {
    const view = await blendView(side.participant.ctx, 'profile_0');
    expect(view.state).toBe('active');
    const items = view.lists[0].items.map((t) => t.item);
    expect(items).toHaveLength(LIST);
    for (const item of items) expect(side.watched.has(item)).toBe(false);
    overlapPublished.push(countIn(items, oldList(side, other)));
  }
  const overlapNoised: number[] = [];
  const overlapExact: number[] = [];
  const reg = root.config.ALS_REG;
  const summary = (v: Victim, noised: boolean) => {
    const exact = tasteSum(V, shape.rank, v.watched, clipNorm);
    return { ...files[0], taste: Array.from(noised ? noisyTaste(exact, sigma, random) : exact) };
  };
  const listOf = (a: Victim, b: Victim, noised: boolean) => blendList(summary(a, noised), summary(b, noised), V, a.watched, root.catalog, reg, LIST).map((t) => t.item);
  for (const a of everyone) {
    for (const b of everyone) {
      if (a === b) continue;
      const old = oldList(a, b);
      overlapExact.push(countIn(listOf(a, b, false), old));
      for (let k = 0; k < DRAWS; k++) overlapNoised.push(countIn(listOf(a, b, true), old));
    }
  }
  const bound = normalCdf(clipNorm / (2 * sigma));
  return { files, ledgerKinds, ...games, bound, named, versionOne: versionOneTrials, overlapPublished, overlapNoised, overlapExact };
}

function emptyGame(): Game {
  return { inWorld: 0, outWorld: 0, trials: 0 };
}

function play(game: Game, saysIn: boolean, saysOut: boolean): void {
  game.trials++;
  if (saysIn) game.inWorld++;
  if (saysOut) game.outWorld++;
}

/** Accuracy of the game's decisions when each world is equally likely. */
function accuracy(game: Game): number {
  return (game.inWorld + game.trials - game.outWorld) / (2 * game.trials);
}

/** The victim's published version-2 file, as its friend (the only other reader) reads it. */
async function tasteFile(victim: Victim, friend: Victim): Promise<BlendTaste> {
  const file = path.join(victim.participant.ctx.ws.blendDir(), 'profile_0.json');
  expect(await canRead(friend.participant.ctx.ws.datasitesDir, friend.email, file)).toBe(true);
  expect(await canRead(friend.participant.ctx.ws.datasitesDir, DEMO_AGGREGATOR, file)).toBe(false);
  const decoded = decodeBlendTaste(await readJsonFile(file, { maxBytes: MAX_BLEND_BYTES }), root.model);
  if (typeof decoded === 'string') throw new Error(decoded);
  return decoded;
}

function countIn(items: readonly number[], set: ReadonlySet<number>): number {
  return items.filter((i) => set.has(i)).length;
}

beforeAll(async () => {
  observed = await observe();
}, 600_000);
afterAll(async () => {
  if (observed) {
    const o = observed;
    const mean = (xs: number[]) => (xs.reduce((x, y) => x + y, 0) / xs.length).toFixed(2);
    const game = (name: string, g: Game) => `${name}: accuracy ${accuracy(g).toFixed(3)} over ${2 * g.trials} files (says watched: ${g.inWorld}/${g.trials} with the show, ${g.outWorld}/${g.trials} without)`;
    const named = scoreAgainstChance(o.named);
    const v1 = scoreAgainstChance(o.versionOne);
    console.info(
      [
        `[privacy] (c) blend, clip ${o.files[0].clipNorm.toPrecision(3)}, sigma ${o.files[0].sigma.toPrecision(3)}, epsilon ${o.files[0].epsilon}, chance 0.5, DP bound ${o.bound.toFixed(3)}`,
        `  ${game('strongest attacker', o.strongest)}`,
        `  ${game('matching pursuit', o.pursuit)}`,
        `  ${game('control, no noise: strongest', o.strongestExact)}`,
        `  ${game('control, no noise: matching pursuit', o.pursuitExact)}`,
        `  control, version-1 file: ${v1.hits}/${v1.relevant} named exactly among the excluded (guessing ${v1.chanceHits.toFixed(2)})`,
        `  known limit, naming outright from the published files: ${named.hits}/${named.relevant} (guessing among all shows ${named.chanceHits.toFixed(2)})`,
        `  list overlap with the version-1 list (of ${LIST}): published pair ${o.overlapPublished.join(', ')}; every pair: noised ${mean(o.overlapNoised)}, without noise ${mean(o.overlapExact)}`,
      ].join('\n'),
    );
  }
  await root?.cleanup();
});

/** Standard errors allowed around the accuracy of a game. */
const MARGIN_SE = 3;
const se = (g: Game) => 0.5 / Math.sqrt(2 * g.trials);

describe('attack (c): a blend friend reads the taste file and Global_V', () => {
  it('the published file holds a noised taste summary, no per-show marks, and its spend is in the ledger', () => {
    for (const [i, file] of observed.files.entries()) {
      expect(Object.keys(file).sort()).toEqual(['clipNorm', 'delta', 'epsilon', 'format', 'formatVersion', 'globalVersion', 'items', 'mechanism', 'rank', 'sigma', 'taste', 'vocabHash']);
      expect(file.taste).toHaveLength(root.model.rank);
      expect(file.epsilon).toBe(root.config.BLEND_EPSILON);
      expect(observed.ledgerKinds[i].filter((k) => k === BLEND_PRIVACY_KIND)).toHaveLength(1);
    }
  });

  it('protected: the strongest attacker tells a history with a show from one without it at chance level, within the DP bound', () => {
    expect(observed.bound).toBeLessThan(0.56);
    expect(accuracy(observed.strongest)).toBeLessThanOrEqual(observed.bound + MARGIN_SE * se(observed.strongest));
    expect(accuracy(observed.strongest)).toBeLessThan(0.5 + 0.06 + MARGIN_SE * se(observed.strongest));
  });

  it('protected: matching pursuit against Global_V names a show about as often whether or not it was watched', () => {
    expect(Math.abs(accuracy(observed.pursuit) - 0.5)).toBeLessThanOrEqual(0.06 + MARGIN_SE * se(observed.pursuit));
  });

  it('control: without the noise, both attackers tell the two histories apart', () => {
    expect(accuracy(observed.strongestExact)).toBe(1);
    // matching pursuit names every watched show; it also names many it was not shown, the shows Global_V lines up with the taste (the known limit)
    expect(observed.pursuitExact.inWorld).toBe(observed.pursuitExact.trials);
    expect(accuracy(observed.pursuitExact)).toBeGreaterThan(0.5 + MARGIN_SE * se(observed.pursuitExact));
  });

  it('control: the version-1 file (percentiles, watched shows marked among decoys) gives the watched sets away exactly', () => {
    const score = scoreAgainstChance(observed.versionOne);
    expect(score.hits).toBeGreaterThanOrEqual(score.relevant - 1);
    expect(chanceTail(observed.versionOne)).toBeLessThan(1e-100);
  });
});

/** Φ(x), by inverting normalQuantile (bisection): the test needs it once. */
function normalCdf(x: number): number {
  let lo = 0;
  let hi = 1;
  for (let step = 0; step < 60; step++) {
    const mid = (lo + hi) / 2;
    if (normalQuantile(mid) < x) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
