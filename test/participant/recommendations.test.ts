import { afterEach, describe, expect, it } from 'vitest';
import { loadRecommendations, rankItems, showFeatures } from '../../src/participant/recommendations';
import { readProfileModel } from '../../src/participant/state';
import { readLatestGlobal } from '../../src/shared/global-model';
import { solveUser } from '../../src/shared/model/factorize';
import { withOverrides } from '../../src/shared/config';
import { isAppError } from '../../src/shared/errors';
import { silentLogger } from '../../src/shared/log';
import { featureSimilarity } from '../../src/shared/model/recommend';
import { createFixture, GLOBAL_VERSION, PROFILE, testCatalog, WATCHED, type Fixture, type FixtureOptions } from '../helpers/server';

let fixture: Fixture | null = null;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = null;
});

async function load(options: FixtureOptions = {}, k = 5, diversity?: number) {
  fixture = await createFixture(options);
  const config = diversity === undefined ? fixture.config : withOverrides(fixture.config, { DIVERSITY: String(diversity) });
  return loadRecommendations({ config, ws: fixture.ws, catalog: fixture.catalog, logger: silentLogger }, PROFILE, k);
}

describe('rankItems', () => {
  const u = new Float32Array([1, 0]);
  // item i scores 10 - i; items 0..3 share a genre, item 4 and 5 do not
  const V = new Float32Array([10, 0, 9, 0, 8, 0, 7, 0, 6, 0, 5, 0]);

  it('returns the k best unwatched items, best first', () => {
    expect(rankItems(u, V, 2, new Set([0]), { k: 3, diversity: 0 })).toEqual([
      { item: 1, score: 9 },
      { item: 2, score: 8 },
      { item: 3, score: 7 },
    ]);
  });

  it('re-ranks for diversity when asked', () => {
    const genre = (i: number) => new Set([i < 4 ? 'genre:Dramas' : `genre:other-${i}`]);
    const similarity = featureSimilarity(genre);
    const plain = rankItems(u, V, 2, new Set(), { k: 3, diversity: 0, similarity }).map((r) => r.item);
    const diverse = rankItems(u, V, 2, new Set(), { k: 3, diversity: 0.7, similarity }).map((r) => r.item);
    expect(plain).toEqual([0, 1, 2]);
    expect(diverse[0]).toBe(0);
    expect(diverse).toContain(4);
    expect(diverse).toContain(5);
  });
});

describe('showFeatures', () => {
  it('uses genres and description terms without short or function words', () => {
    const item = { ...testCatalog(1).items[0], genres: ['Dramas'], description: 'A heist with the crew, told through their eyes.' };
    expect([...showFeatures(item)].sort()).toEqual(['genre:Dramas', 'term:crew', 'term:eyes', 'term:heist', 'term:told']);
  });
});

describe('loadRecommendations', () => {
  it('is null before the first training', async () => {
    expect(await load({ trained: false })).toBeNull();
  });

  it('gives both lists, without watched shows, when the global model is readable', async () => {
    const recs = (await load({}, 8))!;
    expect(recs).toMatchObject({ profile: PROFILE, access: 'granted', globalVersion: GLOBAL_VERSION, localBaseVersion: GLOBAL_VERSION });
    for (const list of [recs.local, recs.global]) {
      expect(list).toHaveLength(8);
      for (const show of list) {
        expect(WATCHED).not.toContain(show.id);
        expect(show.showId).toBe(fixture!.catalog.items[show.id].showId);
      }
      const scores = list.map((s) => s.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
    expect(recs.global.map((s) => s.id)).not.toEqual(recs.local.map((s) => s.id));
  });

  it('scores Global_V with the user solved against that Global_V, not with the u of the last training', async () => {
    const recs = (await load({}, 8))!;
    const f = fixture!;
    const model = (await readProfileModel(f.ws.privateDir(PROFILE)))!;
    const global = (await readLatestGlobal(f.ws.globalDir(f.aggregatorWs.email), { items: f.catalog.items.length, rank: model.state.rank, vocabHash: f.catalog.hash }))!;
    const interactions = model.state.watched.map((item, i) => ({ item, preference: 1, confidence: model.state.confidence[i] }));
    const u = solveUser(global.values, model.state.rank, interactions, { rank: model.state.rank, reg: f.config.ALS_REG, alpha: f.config.ALS_ALPHA });
    const watched = new Set(model.state.watched);
    const expected = rankItems(u, global.values, model.state.rank, watched, { k: 8, diversity: 0 });
    expect(recs.global.map((s) => s.id)).toEqual(expected.map((r) => r.item));
    expect(recs.global.map((s) => s.score)).toEqual(expected.map((r) => r.score));
    const stale = rankItems(model.u, global.values, model.state.rank, watched, { k: 8, diversity: 0 });
    expect(recs.global.map((s) => s.id)).not.toEqual(stale.map((r) => r.item));
  });

  it('gives the local list only while the aggregator has not granted access', async () => {
    const recs = (await load({ granted: false }))!;
    expect(recs.access).toBe('waiting');
    expect(recs.globalVersion).toBeNull();
    expect(recs.global).toEqual([]);
    expect(recs.local).toHaveLength(5);
  });

  it('diversifies both lists with DIVERSITY > 0', async () => {
    const recs = (await load({}, 5, 0.9))!;
    expect(recs.local).toHaveLength(5);
    expect(new Set(recs.local.map((s) => s.id)).size).toBe(5);
  });

  it('refuses a model trained on another catalogue', async () => {
    fixture = await createFixture();
    const other = { ...fixture.catalog, hash: 'another-vocabulary' };
    const err = await loadRecommendations({ config: fixture.config, ws: fixture.ws, catalog: other, logger: silentLogger }, PROFILE, 5).catch((e: unknown) => e);
    expect(isAppError(err, 'ERR_MODEL_VERSION')).toBe(true);
  });
});
