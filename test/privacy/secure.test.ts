import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeProtection, type Protection } from '../../src/participant/protection';
import { readRegularFile } from '../../src/shared/atomic';
import { decodeNpy } from '../../src/shared/npy';
import { pairSeed } from '../../src/shared/secagg/crypto';
import { toModular, type Encoding } from '../../src/shared/secagg/encoding';
import {
  COHORT_FILE,
  fromBase64,
  KEYS_FILE,
  layoutLength,
  MAX_LIST_FILE_BYTES,
  MAX_SMALL_FILE_BYTES,
  parseCohortFile,
  parseKeysFile,
  parseRevealFile,
  parseRoundFile,
  readMaskedInput,
  readPhaseFile,
  REVEAL_FILE,
  ROUND_FILE,
  SHARES_FILE,
} from '../../src/shared/secagg/files';
import { addMask } from '../../src/shared/secagg/prg';
import { chanceTail, decodeDeltaSegment, recoverWatched, removeSelfMask, scoreAgainstChance, topByteChiSquare, type AttackScore, type Rows, type Trial } from './attacks';
import { createAttackRoot, difference, globalVersion, runUntilGranted, victims, watchSecureRound, type AttackRoot, type Settings, type Victim } from './harness';

/**
 * Issue 20, attacks (b) and (a) at the DEFAULT settings (SECURE_AGGREGATION=on,
 * MIN_DATASITES=3, and whatever DP_EPSILON defaults to), against the files a
 * real secure round writes: the embedded demo root (5 participants, the shipped
 * catalogue) runs rounds until everyone trains from Global_V, then one more
 * round while the aggregator copies every round file its permissions let it
 * read, at every step (members delete their keys, shares and reveals when the
 * round ends; a curious aggregator keeps them).
 *
 * (b) The aggregator has, per member: its public keys, its sealed shares (for
 *     neighbours; it holds no key that opens them), its masked input y, and
 *     the b-shares the survivors revealed. From those it rebuilds b and
 *     removes PRG(b), then runs the delta attack on what is left. It must do
 *     no better than guessing: y − PRG(b) still carries the pairwise masks, so
 *     it is uniform on Z_2^32.
 *     Control: the same attack on the member's plain contribution (its
 *     encoded delta, from its private folder) names its watched set, and that
 *     contribution is exactly what the masked file hides: y − PRG(b) minus the
 *     pairwise masks (rebuilt with the member's private mask key) is the
 *     member's input.
 * (a) Any contributor reads the two Global_V versions around the round. Under
 *     secure aggregation without noise they leak the union of the round's
 *     watched sets (a stated limit); with DP noise they must not. The test
 *     reads which applies from describeProtection(config), the statement the
 *     app logs at start, so it keeps asserting the right side if the default
 *     changes.
 *
 * The masks come from the OS CSPRNG (no seed reaches them), so the protected
 * checks cannot use "within 2 standard errors of guessing" (one honest run in
 * about 40 would fail on chance alone, and for the small named sets the normal
 * approximation is poor): each requires that random guesses of the same sizes
 * reach the attack's hits with probability at least MIN_P (exact, `chanceTail`).
 * The printed lines give precision, recall, and guessing's mean ± standard error.
 */
const SEED = 11;
/**
 * The defaults but DP_EPSILON=0: the attacks below read the federated optimizer's
 * contribution layout, and a DP training run (the default) is two rounds of
 * another mechanism, then none for PRIVACY_PERIOD_DAYS. Without noise, (a) is
 * the stated leak; the DP run itself is checked in test/aggregator/dp-run.test.ts.
 */
const DEFAULTS: Settings = { DP_EPSILON: '0' };
/** Least p-value of an attack's hits under guessing: below it, the attack did better than chance. */
const MIN_P = 1e-4;
/** Top-byte chi-square, 255 degrees of freedom: mean 255, standard deviation √510; 5 standard deviations is a tail of about 5e-6 (Wilson–Hilferty). */
const CHI_DOF = 255;
const chiBound = CHI_DOF + 5 * Math.sqrt(2 * CHI_DOF);

interface MemberFiles {
  victim: Victim;
  index: number;
  /** y, as published. */
  masked: Uint32Array;
  /** y − PRG(b), b rebuilt from the revealed b-shares. */
  selfUnmasked: Uint32Array;
  /** Control only: the member's private files. */
  plain: Uint32Array;
  input: Uint32Array;
  stripped: Uint32Array;
}

interface Observation {
  protection: Protection;
  /** Files the aggregator copied, by kind. */
  read: Record<string, number>;
  members: MemberFiles[];
  /** (b) on y − PRG(b) and on y: named sets and the top |W| of each ranking, one trial per member. */
  selfUnmaskedNamed: Trial[];
  selfUnmaskedTop: Trial[];
  maskedNamed: Trial[];
  maskedTop: Trial[];
  /** The control: the same attack on each plain contribution. */
  plainNamed: Trial[];
  /** (a): the round's two Global_V versions. */
  union: { accepted: number; named: Trial[]; top: Trial[] };
  /** A round in which only one member trained from the newest Global_V. */
  lone: { outcome: string | null; newVersion: boolean };
}

async function readNpy(file: string, dtype: '<u4' | '<i4', length: number): Promise<Uint32Array | Int32Array> {
  const bytes = await readRegularFile(file, { maxBytes: length * 4 + 4096 });
  if (bytes === null) throw new Error(`${file} was not copied`);
  return decodeNpy(bytes, file, { dtype, shape: [length] }).data as Uint32Array | Int32Array;
}

async function observe(root: AttackRoot): Promise<Observation> {
  await runUntilGranted(root);
  const watched = await watchSecureRound(root);
  const summary = watched.summary;
  if (summary === null || summary.outcome !== 'merged') throw new Error(`the watched round did not merge: ${JSON.stringify(summary)}`);
  const all = await victims(root);
  const ws = root.demo.aggregator.ws;
  const { roundId } = summary;
  const inArchive = (dir: string) => path.join(watched.archive, path.relative(ws.datasitesDir, dir));
  const roundDir = inArchive(ws.secaggRoundDir(ws.email, roundId));
  const round = (readPhaseFile(path.join(roundDir, ROUND_FILE), MAX_SMALL_FILE_BYTES, (v, f) => parseRoundFile(v, f, { roundId })))!;
  const cohort = (readPhaseFile(path.join(roundDir, COHORT_FILE), MAX_LIST_FILE_BYTES, (v, f) => parseCohortFile(v, f, { roundId })))!;
  const n = cohort.members.length;
  const length = layoutLength(round.layout);
  const encoding: Encoding = { length, clipNorm: round.params.clipNorm, scaleBits: round.params.scaleBits };
  const shape: Rows = { items: root.model.items, rank: root.model.rank };
  const base = await globalVersion(root, round.baseVersion);
  const read: Record<string, number> = { keys: 0, shares: 0, masked: 0, reveals: 0 };

  // What the aggregator holds of each member: keys (to place it in the cohort), sealed shares, masked input, reveal.
  const answers = all.map((v) => inArchive(ws.secaggAnswersDir(roundId, v.email)));
  const reveals = [];
  for (const dir of answers) {
    const reveal = readPhaseFile(path.join(dir, REVEAL_FILE), MAX_LIST_FILE_BYTES, (v, f) => parseRevealFile(v, f, { roundId, n }));
    if (reveal !== null) reveals.push(reveal);
    if (await readRegularFile(path.join(dir, SHARES_FILE), { maxBytes: MAX_LIST_FILE_BYTES })) read.shares++;
  }
  read.reveals = reveals.length;
  const members: MemberFiles[] = [];
  for (const [i, victim] of all.entries()) {
    const keys = (readPhaseFile(path.join(answers[i], KEYS_FILE), MAX_SMALL_FILE_BYTES, (v, f) => parseKeysFile(v, f, { roundId })))!;
    read.keys++;
    const index = cohort.members.findIndex((m) => m.cPk === keys.cPk && m.sPk === keys.sPk);
    const masked = (await readMaskedInput(answers[i], { roundId, length }))!.values;
    read.masked++;
    const bShares = reveals.flatMap((r) => r.bShares.filter((s) => s.of === index).map((s) => fromBase64(s.share)));
    const selfUnmasked = await removeSelfMask(masked, bShares, cohort.t);
    if (selfUnmasked === null) throw new Error(`fewer than t b-shares of member ${index} were revealed`);

    // Control only: the member's private round folder.
    const own = path.join(watched.privateCopies, victim.email, roundId);
    const plain = toModular((await readNpy(path.join(own, 'encoded.npy'), '<i4', length)) as Int32Array);
    const input = (await readNpy(path.join(own, 'input.npy'), '<u4', length)) as Uint32Array;
    const secrets = JSON.parse((await readRegularFile(path.join(own, 'secrets.json'), { maxBytes: MAX_SMALL_FILE_BYTES }))!.toString('utf8')) as { sSk: string };
    const stripped = Uint32Array.from(selfUnmasked);
    for (const v of cohort.neighbours[index]) {
      addMask(stripped, pairSeed(fromBase64(secrets.sSk), fromBase64(cohort.members[v].sPk), roundId, index, v), v > index ? -1 : 1);
    }
    members.push({ victim, index, masked, selfUnmasked, plain, input, stripped });
  }

  const population = shape.items;
  const attack = (values: (m: MemberFiles) => Uint32Array) => {
    const named: Trial[] = [];
    const top: Trial[] = [];
    for (const m of members) {
      const recovered = recoverWatched(base, decodeDeltaSegment(values(m), encoding, shape), shape);
      named.push({ guess: recovered.named, truth: m.victim.watched, population });
      top.push({ guess: recovered.ranking.slice(0, m.victim.watched.size), truth: m.victim.watched, population });
    }
    return { named, top };
  };
  const selfUnmaskedScores = attack((m) => m.selfUnmasked);
  const maskedScores = attack((m) => m.masked);
  const plainScores = attack((m) => m.plain);

  const after = await globalVersion(root, summary.version);
  const recovered = recoverWatched(base, difference(after, base), shape);
  const unionSet = new Set(all.flatMap((v) => [...v.watched]));
  const union = {
    accepted: summary.survivors.length,
    named: [{ guess: recovered.named, truth: unionSet, population }],
    top: [{ guess: recovered.ranking.slice(0, unionSet.size), truth: unionSet, population }],
  };

  // One member retrains from the newest Global_V; the others have nothing from that base to contribute.
  const loneRound = await watchSecureRound(root, [all[0].participant]);
  const newest = await globalVersion(root, summary.version + 1).then(
    () => true,
    () => false,
  );

  return {
    protection: describeProtection(root.config),
    read,
    members,
    selfUnmaskedNamed: selfUnmaskedScores.named,
    selfUnmaskedTop: selfUnmaskedScores.top,
    maskedNamed: maskedScores.named,
    maskedTop: maskedScores.top,
    plainNamed: plainScores.named,
    union,
    lone: { outcome: loneRound.summary?.outcome ?? null, newVersion: newest },
  };
}

let root: AttackRoot;
let o: Observation;
beforeAll(async () => {
  root = await createAttackRoot(DEFAULTS, SEED);
  o = await observe(root);
}, 600_000);
afterAll(async () => {
  if (o) {
    const line = (name: string, trials: Trial[]) => {
      const s: AttackScore = scoreAgainstChance(trials);
      return `${name}: ${s.hits}/${s.relevant} (named ${s.guessed}; precision ${s.precision.toFixed(3)}, recall ${s.recall.toFixed(3)}), guessing ${s.chanceHits.toFixed(2)} ± ${s.chanceSd.toFixed(2)}, p = ${chanceTail(trials).toPrecision(2)}`;
    };
    console.info(
      [
        `[privacy] defaults (${o.protection.aggregation} aggregation, noise: ${o.protection.deltas}); the aggregator copied ${JSON.stringify(o.read)}`,
        line('(b) y − PRG(b), named', o.selfUnmaskedNamed),
        line('(b) y − PRG(b), top |W|', o.selfUnmaskedTop),
        line('(b) y as published, named', o.maskedNamed),
        line('(b) y as published, top |W|', o.maskedTop),
        `(b) top-byte chi-square (255 dof, bound ${chiBound.toFixed(0)}): y − PRG(b) ${o.members.map((m) => topByteChiSquare(m.selfUnmasked).toFixed(0)).join(', ')}; plain ${o.members.map((m) => topByteChiSquare(m.plain).toFixed(0)).join(', ')}`,
        line('(b) control, plain contributions, named', o.plainNamed),
        line(`(a) Global_V, ${o.union.accepted}-member round, named`, o.union.named),
        line('(a) top |union|', o.union.top),
        `lone member round: ${o.lone.outcome}, new Global_V: ${o.lone.newVersion}`,
      ].join('\n  '),
    );
  }
  await root?.cleanup();
});

/** No better than guessing: random guesses of the same sizes hit as many with probability ≥ MIN_P. */
function expectChance(trials: Trial[], what: string): void {
  const s = scoreAgainstChance(trials);
  expect(chanceTail(trials), `${what}: ${s.hits} hits, guessing gets ${s.chanceHits.toFixed(2)} ± ${s.chanceSd.toFixed(2)}`).toBeGreaterThanOrEqual(MIN_P);
}

describe('the default settings', () => {
  it('run secure aggregation: every member\'s contribution left as masked input only', () => {
    expect(o.protection.aggregation).toBe('secure');
    expect(o.members).toHaveLength(5);
    expect(o.members.every((m) => m.victim.watched.size > 0)).toBe(true);
    // the aggregator read every kind of file a member publishes in a round, from all five
    expect(o.read).toEqual({ keys: 5, shares: 5, masked: 5, reveals: 5 });
  });
});

describe('attack (b) at the defaults: the aggregator reads every round file it may read', () => {
  it('control: the same attack on a plain contribution names each member\'s watched set', () => {
    expect(scoreAgainstChance(o.plainNamed).precision).toBeGreaterThan(0.95);
    expect(scoreAgainstChance(o.plainNamed).recall).toBeGreaterThan(0.95);
    expect(chanceTail(o.plainNamed)).toBeLessThan(MIN_P);
  });

  it('control: the masked file is exactly the member\'s input under the masks (removing the pairwise masks, with the member\'s private key, gives it back)', () => {
    const bytes = (a: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const m of o.members) expect(bytes(m.stripped).equals(bytes(m.input))).toBe(true);
    // and a plain contribution is far from uniform, so the uniformity check below can fail
    for (const m of o.members) expect(topByteChiSquare(m.plain)).toBeGreaterThan(100 * chiBound);
  });

  it('what the aggregator can take off the masks is uniform on Z_2^32', () => {
    for (const m of o.members) {
      expect(topByteChiSquare(m.masked)).toBeLessThanOrEqual(chiBound);
      expect(topByteChiSquare(m.selfUnmasked)).toBeLessThanOrEqual(chiBound);
    }
  });

  it('recovers no watched show beyond guessing, from y − PRG(b) or from y', () => {
    expectChance(o.selfUnmaskedNamed, 'y − PRG(b), named');
    expectChance(o.selfUnmaskedTop, 'y − PRG(b), top |W|');
    expectChance(o.maskedNamed, 'y, named');
    expectChance(o.maskedTop, 'y, top |W|');
  });
});

describe('attack (a) at the defaults: a contributor reads two consecutive Global_V versions', () => {
  it('no Global_V comes from one member: a round in which only one could contribute does not merge', () => {
    expect(o.lone.outcome).not.toBe('merged');
    expect(o.lone.newVersion).toBe(false);
  });

  it('asserts what describeProtection states: the union of the round\'s watched sets leaks without noise (a stated limit), not with it', () => {
    expect(o.union.accepted).toBe(5);
    if (o.protection.deltas === 'none') {
      // Known limit (README, threat model): secure aggregation hides each member's contribution,
      // not the sum, and without noise the sum names every show anyone in the round watched.
      expect(o.protection.warn).toBe(true);
      expect(scoreAgainstChance(o.union.named).precision).toBeGreaterThan(0.95);
      expect(scoreAgainstChance(o.union.named).recall).toBeGreaterThan(0.95);
    } else {
      expectChance(o.union.named, 'union, named');
      expectChance(o.union.top, 'union, top |W|');
    }
  });
});
