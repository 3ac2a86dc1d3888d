import path from 'node:path';
import type { Catalog, CatalogItem } from '../shared/catalog';
import type { Config } from '../shared/config';
import { AppError, formatError } from '../shared/errors';
import { GLOBAL_MANIFEST, listGlobalVersions, readLatestGlobal, type GlobalExpect, type GlobalModel } from '../shared/global-model';
import type { Logger } from '../shared/log';
import { solveUser } from '../shared/model/factorize';
import { featureSimilarity, mmrRerank, scoreItems, topK, type Ranked } from '../shared/model/recommend';
import { readableHere } from '../shared/permissions';
import type { Workspace } from '../shared/workspace';
import { profileInteractions, readProfileModel, type AccessState, type ProfileState } from './state';

/**
 * A profile's two recommendation lists: "local" scores the catalogue with the
 * private user factors u and the locally fine-tuned item factors V_local;
 * "global" scores the newest Global_V this datasite may read with the user's
 * factors solved against that Global_V (`solveUser` on the profile's watched
 * shows and confidences): the u of the last training belongs to another V, and
 * scoring a newer Global_V with it costs accuracy (measured: docs/eval).
 * Both leave out the shows the profile has watched. With DIVERSITY > 0 each
 * list is re-ranked by maximal marginal relevance over the catalogue's genre
 * and description-term features.
 */

export interface RecommendedShow {
  /** Catalogue item id (row of V). */
  id: number;
  showId: string;
  title: string;
  score: number;
}

interface RankOptions {
  k: number;
  /** MMR diversity weight lambda in [0, 1]; 0 = plain top-k by score. */
  diversity: number;
  /** Item-item similarity for MMR; required when diversity > 0. */
  similarity?: (a: number, b: number) => number;
}

/** How many more candidates than k the MMR re-rank considers. */
const MMR_POOL_FACTOR = 5;

/** Top-k items for user factors `u` under item factors `V` (items x rank, row-major), without `exclude`. */
export function rankItems(u: Float32Array, V: Float32Array, rank: number, exclude: ReadonlySet<number>, options: RankOptions): Ranked[] {
  const items = V.length / rank;
  const scores = scoreItems(u, V, items, rank);
  if (options.diversity <= 0) return topK(scores, options.k, exclude);
  if (!options.similarity) throw new TypeError('rankItems: a similarity is required when diversity > 0');
  const pool = topK(scores, options.k * MMR_POOL_FACTOR, exclude);
  return mmrRerank(pool, options.k, options.diversity, options.similarity);
}

export interface ProfileRecommendations {
  profile: string;
  /** 'granted' when a Global_V this datasite may read exists; the global list is empty otherwise. */
  access: AccessState;
  globalVersion: number | null;
  /** Global_V version the local model was trained from (0 = the initialization). */
  localBaseVersion: number;
  trainedAt: string;
  local: RecommendedShow[];
  global: RecommendedShow[];
}

interface RecommendationContext {
  config: Config;
  ws: Workspace;
  catalog: Catalog;
  logger: Logger;
}

/**
 * The newest complete Global_V that `ws`'s datasite may read, or null (none
 * yet, not granted, or for another vocabulary or rank: logged). Under a SyftBox
 * client, a Global_V synced here is one the server lets this datasite read (the
 * aggregator's syft.pub.yaml, which lists every contributor, is never synced to
 * contributors); in an embedded root the permission files decide
 * (`readableHere`). A newer version whose manifest arrived before its payload
 * (sync sends small files first) is "not yet": one debug line, and the next
 * file event reads it again.
 */
export async function readGrantedGlobal(ws: Workspace, aggregator: string | null, expect: GlobalExpect, logger: Logger): Promise<GlobalModel | null> {
  if (aggregator === null) return null;
  try {
    const model = await readLatestGlobal(ws.globalDir(aggregator), expect);
    const [newest] = await listGlobalVersions(ws.globalDir(aggregator));
    if (newest !== undefined && newest !== model?.manifest.version) {
      logger.debug({ version: newest, using: model?.manifest.version ?? null }, 'the newest Global_V here is not complete (yet); using the newest complete one');
    }
    if (model === null) return null;
    const manifest = path.join(ws.globalVersionDir(aggregator, model.manifest.version), GLOBAL_MANIFEST);
    return (await readableHere(ws, manifest)) ? model : null;
  } catch (err) {
    logger.warn({ err: formatError(err) }, 'cannot use the global model; showing local recommendations only');
    return null;
  }
}

/** Function words that say nothing about a show; shorter words are dropped anyway. */
const STOP_WORDS = new Set(
  'about after also been before being both comes during each even finds from gets goes have herself himself into itself just makes more most must only other over some such takes than that their them then there these they this those through till until upon very were what when where which while will with your'.split(' '),
);
const MIN_TERM_LENGTH = 4;

/** An item's MMR features: its genres (`genre:Dramas`) and description terms (`term:heist`). */
export function showFeatures(item: CatalogItem): Set<string> {
  const features = new Set(item.genres.map((g) => `genre:${g}`));
  for (const word of item.description.toLowerCase().match(/\p{L}+/gu) ?? []) {
    if (word.length >= MIN_TERM_LENGTH && !STOP_WORDS.has(word)) features.add(`term:${word}`);
  }
  return features;
}

const similarityCache = new WeakMap<Catalog, (a: number, b: number) => number>();

/** The catalogue's feature similarity; features are built on first use per item (MMR looks at a few dozen). */
function catalogSimilarity(catalog: Catalog): (a: number, b: number) => number {
  let similarity = similarityCache.get(catalog);
  if (!similarity) {
    const features = new Map<number, Set<string>>();
    similarity = featureSimilarity((item) => {
      let f = features.get(item);
      if (!f) features.set(item, (f = showFeatures(catalog.items[item])));
      return f;
    });
    similarityCache.set(catalog, similarity);
  }
  return similarity;
}

/** Both lists for `profile`; null before the participant has trained it. */
export async function loadRecommendations(ctx: RecommendationContext, profile: string, k: number): Promise<ProfileRecommendations | null> {
  const { config, ws, catalog, logger } = ctx;
  const model = await readProfileModel(ws.privateDir(profile));
  if (model === null) return null;
  const { state } = model;
  if (state.vocabHash !== catalog.hash || state.items !== catalog.items.length) {
    throw new AppError('ERR_MODEL_VERSION', `the model of ${profile} was trained on another catalogue (${state.vocabHash.slice(0, 12)}); run the participant again to retrain it`, {
      file: path.join(ws.privateDir(profile), 'state.json'),
    });
  }
  const expect = { items: state.items, rank: state.rank, vocabHash: state.vocabHash };
  const global = await readGrantedGlobal(ws, config.AGGREGATOR_DATASITE, expect, logger);
  const options: RankOptions = { k, diversity: config.DIVERSITY, similarity: config.DIVERSITY > 0 ? catalogSimilarity(catalog) : undefined };
  const watched = new Set(state.watched);
  const toShows = (scored: Ranked[]): RecommendedShow[] =>
    scored.map(({ item, score }) => ({ id: item, showId: catalog.items[item].showId, title: catalog.items[item].title, score }));
  return {
    profile,
    access: global ? 'granted' : 'waiting',
    globalVersion: global ? global.manifest.version : null,
    localBaseVersion: state.baseVersion,
    trainedAt: state.trainedAt,
    local: toShows(rankItems(model.u, model.vLocal, state.rank, watched, options)),
    global: global ? toShows(rankItems(solveAgainst(global.values, state, config), global.values, state.rank, watched, options)) : [],
  };
}

/** The profile's factors solved against `V` from its watched shows and their confidences. */
function solveAgainst(V: Float32Array, state: ProfileState, config: Config): Float32Array {
  return solveUser(V, state.rank, profileInteractions(state), { rank: state.rank, reg: config.ALS_REG, alpha: config.ALS_ALPHA });
}
