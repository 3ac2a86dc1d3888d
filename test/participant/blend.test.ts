import { promises as fs, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BLEND_PRIVACY_KIND,
  BLEND_REFRESH_DAYS,
  blendClipNorm,
  blendView,
  CONSENT_MARKER,
  decodeBlendTaste,
  EXCLUDED,
  MAX_PERCENTILE,
  noisyTaste,
  percentileScores,
  readBlendConsent,
  setBlendConsent,
  syncBlend,
  tasteScores,
  tasteSum,
  watchTogether,
  type BlendContext,
} from '../../src/participant/blend';
import { readPrivacyLedger, STATE_FORMAT_VERSION, writeProfileModel } from '../../src/participant/state';
import type { Catalog } from '../../src/shared/catalog';
import { isAppError } from '../../src/shared/errors';
import { silentLogger } from '../../src/shared/log';
import { canRead, PERMISSION_FILE, writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { blendConfig, writeBlendGlobal } from '../helpers/blend';
import { capture } from '../helpers/log';
import { catalogOf } from '../helpers/data';

const GENRES = ['Dramas', 'Comedies', 'Thrillers', 'Documentaries'];
/** `items` series with two of GENRES each. */
const seriesCatalog = (items: number): Catalog =>
  catalogOf(Array.from({ length: items }, (_, id) => ({ year: 2020, genres: [GENRES[id % 4], GENRES[(id + 1) % 4]] })), 'b'.repeat(64));

describe('watchTogether', () => {
  const catalog = seriesCatalog(10);
  const X = EXCLUDED;
  //                 0    1    2    3    4    5    6    7    8    9
  const mine = Uint8Array.from([250, 240, 200, 100, 254, 180, 10, 230, X, 120]);
  const theirs = Uint8Array.from([150, 236, 210, 100, X, 185, 12, 229, 254, 250]);

  it('takes the 2N best by average, then the N with the smallest disagreement, excluding what either side excluded', () => {
    // averages: 0:200 1:238 2:205 3:100 5:182.5 6:11 7:229.5 9:185 (4 and 8 excluded)
    // best 2N=6: 1, 7, 2, 0, 9, 5; by gap: 7 (1), 1 (4), 5 (5), 2 (10), 0 (100), 9 (130)
    // item 3 (gap 0) and 6 (gap 2) agree best but are not among the best liked
    expect(watchTogether(mine, theirs, catalog, 3).map((t) => t.item)).toEqual([7, 1, 5]);
    // N = 2: pool 1, 7, 2, 0
    expect(watchTogether(mine, theirs, catalog, 2).map((t) => t.item)).toEqual([7, 1]);
  });

  it('breaks ties by the higher average, then the lower id', () => {
    const a = Uint8Array.from([100, 200, 200, 150, 0, 0, 0, 0, 0, 0]);
    const b = Uint8Array.from([100, 200, 200, 150, 0, 0, 0, 0, 0, 0]);
    expect(watchTogether(a, b, catalog, 3).map((t) => t.item)).toEqual([1, 2, 3]);
  });

  it('explains each pick with the genres both lean to, and the two percentiles', () => {
    const [first] = watchTogether(mine, theirs, catalog, 1);
    expect(first.item).toBe(7);
    expect(first.mine).toBe(Math.round((100 * 230) / MAX_PERCENTILE));
    expect(first.theirs).toBe(Math.round((100 * 229) / MAX_PERCENTILE));
    expect(first.sharedGenres).toEqual(['Documentaries', 'Dramas']);
    expect(first.reason).toBe(`You both lean to Documentaries and Dramas (you ${first.mine}, them ${first.theirs})`);
  });

  it('returns nothing when every item is excluded on one side', () => {
    expect(watchTogether(mine, new Uint8Array(10).fill(EXCLUDED), catalog)).toEqual([]);
  });
});

describe('taste summary', () => {
  const rank = 3;
  //                         row 0: norm 5      row 1: norm 1   row 2: norm 0.5
  const V = Float32Array.of(3, 4, 0, /**/ 0, 0, 1, /**/ 0.5, 0, 0, /**/ 0, 0.1, 0);

  it('clips each row to the clip norm, so one show moves the sum by at most that', () => {
    expect([...tasteSum(V, rank, [0, 1], 1)]).toEqual([0.6, 0.8, 1].map((x) => expect.closeTo(x, 6)));
    expect([...tasteSum(V, rank, [2], 1)]).toEqual([0.5, 0, 0]);
    expect([...tasteSum(V, rank, [], 1)]).toEqual([0, 0, 0]);
    expect([...tasteSum(V, rank, [1, 1], 1)]).toEqual([0, 0, 1]);
  });

  it('takes the clip norm as a quantile of the public Global_V row norms', () => {
    // norms 5, 1, 0.5, 0.1: the 0.9 quantile of four rows is the largest
    expect(blendClipNorm(V, rank)).toBeCloseTo(5, 6);
    const many = Float32Array.from({ length: 100 }, (_, j) => j + 1);
    expect(blendClipNorm(many, 1)).toBe(91);
  });

  it('adds N(0, sigma²) per number: sample mean and variance over many draws', () => {
    const random = createRandom(3);
    const draws = Array.from({ length: 4000 }, () => noisyTaste([1, -2], 0.5, random));
    const mean = draws.reduce((m, d) => m + d[0], 0) / draws.length;
    const variance = draws.reduce((v, d) => v + (d[0] - mean) ** 2, 0) / draws.length;
    expect(mean).toBeCloseTo(1, 1);
    expect(variance).toBeGreaterThan(0.25 * 0.9);
    expect(variance).toBeLessThan(0.25 * 1.1);
  });

  it('scores shows by the regularized solve against Global_V: a taste along a row ranks that row first', () => {
    const scores = tasteScores([0, 0, 1], V, rank, 1, 0.1);
    expect([...scores].indexOf(Math.max(...scores))).toBe(1);
  });

  it('percentile bytes: top = 254, excluded = 255', () => {
    const bytes = percentileScores([0.5, -1, 3, 2, 0.1], new Set([3]));
    expect([...bytes]).toEqual([Math.round((254 * 2) / 3), 0, 254, EXCLUDED, Math.round(254 / 3)]);
  });
});

describe('consent and publishing', () => {
  const APP = 'blend-test';
  const AGG = 'agg@example.org';
  const ALICE = 'alice@example.org';
  const BOB = 'bob@example.org';
  const CAROL = 'carol@example.org';
  const ITEMS = 60;
  const RANK = 4;
  const catalog = seriesCatalog(ITEMS);
  let dataDir: string;
  let clockMs: number;

  async function participant(email: string, seed: number, watched: number[]): Promise<BlendContext & { ws: Workspace }> {
    createEmbeddedDatasite(dataDir, email);
    const ws = new Workspace({ email, dataDir }, APP);
    await writePermissions(ws.appData(), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
    const random = createRandom(seed);
    const u = Float32Array.from({ length: RANK }, () => random.normal());
    const vLocal = Float32Array.from({ length: ITEMS * RANK }, () => random.normal());
    await writeProfileModel(ws.privateDir('profile_0'), {
      state: {
        formatVersion: STATE_FORMAT_VERSION, profile: 'profile_0', rank: RANK, items: ITEMS, vocabHash: catalog.hash, baseVersion: 0, access: 'waiting',
        trainedAt: '2026-01-01T00:00:00.000Z', watched, confidence: watched.map(() => 1), lastDeltaSha256: null, lastPublishedBase: null, publishBlocked: null, inputsSha256: 'x',
      },
      u,
      vLocal,
      vGlobal: vLocal,
    });
    return { config: blendConfig(null, AGG), ws, catalog, logger: silentLogger, now: () => new Date(clockMs), noiseRandom: () => createRandom(seed + 100) };
  }

  /** Alice and Bob, each consenting to the other, after the passes that publish both taste summaries. */
  async function blendingPair(aliceWatched: number[], bobWatched: number[]) {
    const alice = await participant(ALICE, 1, aliceWatched);
    const bob = await participant(BOB, 2, bobWatched);
    await setBlendConsent(alice, BOB);
    await setBlendConsent(bob, ALICE);
    await syncBlend(alice);
    await syncBlend(bob);
    await syncBlend(alice);
    return { alice, bob };
  }

  const files = async (ws: Workspace) => (await fs.readdir(ws.blendDir()).catch(() => [])).sort();

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'blend-'));
    clockMs = Date.parse('2026-03-01T12:00:00Z');
    await writeBlendGlobal(dataDir, APP, AGG, [ALICE, BOB, CAROL], catalog, RANK);
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('publishes a taste summary only once both consent, readable by exactly the friend, spent from the ledger first; each list leaves out its own watched shows', async () => {
    const alice = await participant(ALICE, 1, [0, 1, 2]);
    const bob = await participant(BOB, 2, [3, 4]);

    await setBlendConsent(alice, BOB);
    expect(await syncBlend(alice)).toEqual({ friend: BOB, state: 'waiting', published: [] });
    expect(await files(alice.ws)).toEqual([CONSENT_MARKER, PERMISSION_FILE]);
    const marker = path.join(alice.ws.blendDir(), CONSENT_MARKER);
    expect(await canRead(alice.ws.datasitesDir, BOB, marker)).toBe(true);
    expect(await canRead(alice.ws.datasitesDir, AGG, marker)).toBe(false);
    expect((await blendView(bob, 'profile_0')).state).toBe('off');

    await setBlendConsent(bob, ALICE);
    expect(await syncBlend(bob)).toEqual({ friend: ALICE, state: 'active', published: ['profile_0'] });
    expect(await syncBlend(alice)).toEqual({ friend: BOB, state: 'active', published: ['profile_0'] });

    const scoresFile = path.join(alice.ws.blendDir(), 'profile_0.json');
    expect(await canRead(alice.ws.datasitesDir, BOB, scoresFile)).toBe(true);
    for (const other of [AGG, CAROL]) expect(await canRead(alice.ws.datasitesDir, other, scoresFile)).toBe(false);
    const text = await fs.readFile(scoresFile, 'utf8');
    expect(text).not.toMatch(/Show \d|watched|@/);
    const taste = decodeBlendTaste(JSON.parse(text), { items: ITEMS, rank: RANK, vocabHash: catalog.hash });
    if (typeof taste === 'string') throw new Error(taste);
    expect(taste.taste).toHaveLength(RANK);
    expect(taste.sigma).toBeGreaterThan(3 * taste.clipNorm); // (1, 1e-5)-DP: σ ≈ 3.7 × the sensitivity
    const ledger = await readPrivacyLedger(alice.ws.privateDir('profile_0'));
    expect(ledger.entries.map((e) => [e.kind, e.mechanism, e.params])).toEqual([[BLEND_PRIVACY_KIND, 'gaussian', { l2: taste.clipNorm, sigma: taste.sigma }]]);

    const seenByAlice = await blendView(alice, 'profile_0');
    const seenByBob = await blendView(bob, 'profile_0');
    expect(seenByAlice.state).toBe('active');
    const ids = seenByAlice.lists[0].items.map((t) => t.item);
    const bobIds = seenByBob.lists[0].items.map((t) => t.item);
    expect(ids.length).toBeGreaterThan(0);
    for (const watched of [0, 1, 2]) expect(ids).not.toContain(watched);
    for (const watched of [3, 4]) expect(bobIds).not.toContain(watched);
    // the same ranking on both sides: without their own watched shows, the two lists agree
    const neither = (list: number[]) => list.filter((i) => ![0, 1, 2, 3, 4].includes(i));
    expect(neither(bobIds).slice(0, 5)).toEqual(neither(ids).slice(0, 5));
  });

  it('re-publishes the same summary at no cost until the watched shows change and BLEND_REFRESH_DAYS have passed', async () => {
    const { alice, bob } = await blendingPair([0, 1, 2], [3]);
    const file = path.join(alice.ws.blendDir(), 'profile_0.json');
    const first = await fs.readFile(file, 'utf8');
    const spends = async () => (await readPrivacyLedger(alice.ws.privateDir('profile_0'))).entries.length;
    expect(await spends()).toBe(1);

    await fs.rm(file);
    await syncBlend(alice);
    expect(await fs.readFile(file, 'utf8')).toBe(first);
    clockMs += (BLEND_REFRESH_DAYS + 1) * 24 * 3600 * 1000;
    await syncBlend(alice); // same watched shows: nothing new to say
    expect(await spends()).toBe(1);

    const again = await participant(ALICE, 1, [0, 1, 2, 5]);
    await syncBlend(again);
    expect(await spends()).toBe(2);
    expect(await fs.readFile(file, 'utf8')).not.toBe(first);
  });

  it('refuses a release the privacy budget cannot pay for, with one warning, and publishes nothing', async () => {
    const alice = await participant(ALICE, 1, [0, 1, 2]);
    const bob = await participant(BOB, 2, [3]);
    const log = capture();
    const broke = { ...alice, config: { ...alice.config, PRIVACY_BUDGET_EPSILON: 0.5 }, logger: log.logger };
    await setBlendConsent(broke, BOB);
    await setBlendConsent(bob, ALICE);
    await syncBlend(broke);
    await syncBlend(bob);
    expect(await syncBlend(broke)).toEqual({ friend: BOB, state: 'active', published: [] });
    expect(await files(alice.ws)).toEqual([CONSENT_MARKER, PERMISSION_FILE]);
    expect((await readPrivacyLedger(alice.ws.privateDir('profile_0'))).entries).toEqual([]);
    expect(log.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(['privacy budget reached: this profile shares no taste summary for the blend']);
    expect((await blendView(bob, 'profile_0')).state).toBe('waiting');
  });

  it('rejects a friend\'s version-1 file (percentiles with the watched shows marked), with an error naming the file', async () => {
    const { alice, bob } = await blendingPair([0], [1]);
    const old = path.join(bob.ws.blendDir(), 'profile_0.json');
    await fs.writeFile(old, JSON.stringify({ format: 'syftbox-netflix-svd/blend', formatVersion: 1, vocabHash: catalog.hash, items: ITEMS, encoding: 'uint8-percentile-base64', scores: Buffer.alloc(ITEMS).toString('base64') }));
    const log = capture();
    expect(await blendView({ ...alice, logger: log.logger }, 'profile_0')).toMatchObject({ state: 'waiting', lists: [] });
    const errors = log.lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toContain(old);
    expect(errors[0].msg).toMatch(/format version 1 is not accepted, only 2/);
  });

  it('deletes the blend on withdrawal; the other side then shows none and removes its own scores', async () => {
    const { alice, bob } = await blendingPair([0], [1]);
    expect((await blendView(bob, 'profile_0')).state).toBe('active');

    await setBlendConsent(alice, null);
    expect(await syncBlend(alice)).toEqual({ friend: null, state: 'off', published: [] });
    expect(await files(alice.ws)).toEqual([]);
    expect(await blendView(alice, 'profile_0')).toMatchObject({ state: 'off', lists: [] });
    expect(await blendView(bob, 'profile_0')).toMatchObject({ state: 'waiting', lists: [] });

    expect((await syncBlend(bob)).state).toBe('waiting');
    expect(await files(bob.ws)).toEqual([CONSENT_MARKER, PERMISSION_FILE]);
  });

  it('moves to a new friend without leaving scores readable by the old one', async () => {
    const { alice, bob } = await blendingPair([], []);
    expect(await files(alice.ws)).toContain('profile_0.json');

    await setBlendConsent(alice, CAROL);
    expect((await syncBlend(alice)).state).toBe('waiting');
    expect(await files(alice.ws)).toEqual([CONSENT_MARKER, PERMISSION_FILE]);
    const marker = path.join(alice.ws.blendDir(), CONSENT_MARKER);
    expect(await canRead(alice.ws.datasitesDir, CAROL, marker)).toBe(true);
    expect(await canRead(alice.ws.datasitesDir, BOB, marker)).toBe(false);
  });

  it('takes BLEND_WITH until the page decides, and a changed BLEND_WITH over an older page choice', async () => {
    const alice = await participant(ALICE, 1, []);
    const withBob = { ...alice, config: { BLEND_WITH: BOB } };
    expect(await readBlendConsent(withBob)).toEqual({ friend: BOB, source: 'config' });
    await setBlendConsent(withBob, null);
    expect(await readBlendConsent(withBob)).toEqual({ friend: null, source: 'page' });
    expect(await readBlendConsent({ ...alice, config: { BLEND_WITH: CAROL } })).toEqual({ friend: CAROL, source: 'config' });
    expect(await readBlendConsent(alice)).toEqual({ friend: null, source: 'none' });
  });

  it('refuses an invalid email or one\'s own', async () => {
    const alice = await participant(ALICE, 1, []);
    for (const bad of ['not an email', ALICE, '../x@y.z']) {
      await expect(setBlendConsent(alice, bad)).rejects.toSatisfy((err: unknown) => isAppError(err, 'ERR_BAD_REQUEST'));
    }
  });
});
