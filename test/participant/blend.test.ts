import { promises as fs, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  blendView,
  CONSENT_MARKER,
  decodeBlendScores,
  decoyItems,
  EXCLUDED,
  MAX_PERCENTILE,
  percentileScores,
  readBlendConsent,
  setBlendConsent,
  syncBlend,
  watchTogether,
  type BlendContext,
} from '../../src/participant/blend';
import { STATE_FORMAT_VERSION, writeProfileModel } from '../../src/participant/state';
import type { Catalog } from '../../src/shared/catalog';
import { isAppError } from '../../src/shared/errors';
import { silentLogger } from '../../src/shared/log';
import { canRead, PERMISSION_FILE, writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
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

describe('scores', () => {
  it('are percentile bytes, top = 254, excluded = 255', () => {
    const bytes = percentileScores([0.5, -1, 3, 2, 0.1], new Set([3]));
    expect([...bytes]).toEqual([Math.round((254 * 2) / 3), 0, 254, EXCLUDED, Math.round(254 / 3)]);
  });

  it('exclude a stable, secret-dependent ~5% of items as decoys', () => {
    const secret = Buffer.alloc(32, 1);
    const decoys = decoyItems(secret, 'profile_0', 8807);
    expect(decoys.size / 8807).toBeGreaterThan(0.04);
    expect(decoys.size / 8807).toBeLessThan(0.06);
    expect(decoyItems(secret, 'profile_0', 8807)).toEqual(decoys);
    expect(decoyItems(Buffer.alloc(32, 2), 'profile_0', 8807)).not.toEqual(decoys);
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
    return { config: { BLEND_WITH: null }, ws, catalog, logger: silentLogger };
  }

  const files = async (ws: Workspace) => (await fs.readdir(ws.blendDir()).catch(() => [])).sort();

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'blend-'));
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('publishes scores only once both consent, readable by exactly the friend, and both sides see the same list', async () => {
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
    const bytes = decodeBlendScores(JSON.parse(text), { items: ITEMS, vocabHash: catalog.hash }) as Uint8Array;
    for (const w of [0, 1, 2]) expect(bytes[w]).toBe(EXCLUDED);

    const seenByAlice = await blendView(alice, 'profile_0');
    const seenByBob = await blendView(bob, 'profile_0');
    expect(seenByAlice.state).toBe('active');
    expect(seenByAlice.lists[0].items.length).toBeGreaterThan(0);
    const ids = seenByAlice.lists[0].items.map((t) => t.item);
    expect(seenByBob.lists[0].items.map((t) => t.item)).toEqual(ids);
    for (const watched of [0, 1, 2, 3, 4]) expect(ids).not.toContain(watched);
  });

  it('deletes the blend on withdrawal; the other side then shows none and removes its own scores', async () => {
    const alice = await participant(ALICE, 1, [0]);
    const bob = await participant(BOB, 2, [1]);
    await setBlendConsent(alice, BOB);
    await setBlendConsent(bob, ALICE);
    await syncBlend(alice);
    await syncBlend(bob);
    await syncBlend(alice);
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
    const alice = await participant(ALICE, 1, []);
    const bob = await participant(BOB, 2, []);
    await setBlendConsent(alice, BOB);
    await setBlendConsent(bob, ALICE);
    await syncBlend(alice);
    await syncBlend(bob);
    await syncBlend(alice);
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
