import {
  featureSimilarity,
  mmrRerank,
  scoreItems,
  topK
} from "./chunk-JKMSQLTA.js";
import {
  GLOBAL_MANIFEST,
  emptyLedger,
  listGlobalVersions,
  parsePrivacyLedger,
  readLatestGlobal
} from "./chunk-OPHXPK3N.js";
import {
  decodeNpy,
  encodeNpy,
  readableHere
} from "./chunk-TBES3XCL.js";
import {
  readJsonFile,
  readRegularFile,
  writeFileAtomic,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  AppError,
  formatError
} from "./chunk-3L2Z3EX5.js";

// src/participant/recommendations.ts
import path2 from "node:path";

// src/participant/state.ts
import path from "node:path";
var STATE_FORMAT_VERSION = 1;
var PRIVATE = { private: true };
var MAX_STATE_BYTES = 16 * 1024 * 1024;
async function writeProfileModel(dir, model) {
  const { state } = model;
  await writeFileAtomic(path.join(dir, "U.npy"), encodeNpy(model.u, [1, state.rank]), PRIVATE);
  await writeFileAtomic(path.join(dir, "V_local.npy"), encodeNpy(model.vLocal, [state.items, state.rank]), PRIVATE);
  await writeFileAtomic(path.join(dir, "V_global.npy"), encodeNpy(model.vGlobal, [state.items, state.rank]), PRIVATE);
  await writeJsonAtomic(path.join(dir, "state.json"), state, PRIVATE);
}
async function readProfileState(dir) {
  const file = path.join(dir, "state.json");
  const raw = await readJsonFile(file, { maxBytes: MAX_STATE_BYTES });
  if (raw === null) return null;
  if (raw.formatVersion !== STATE_FORMAT_VERSION) {
    throw new AppError("ERR_MODEL_VERSION", `${file}: state format ${raw.formatVersion} is not ${STATE_FORMAT_VERSION}; delete the folder to retrain`, { file });
  }
  return raw;
}
async function readProfileModel(dir) {
  const state = await readProfileState(dir);
  if (state === null) return null;
  const matrix = async (name, rows) => {
    const file = path.join(dir, name);
    const bytes = await readRegularFile(file, { maxBytes: rows * state.rank * 4 + 4096 });
    if (bytes === null) throw new AppError("ERR_FILE_NOT_FOUND", `${file} is missing; run the participant again to retrain`, { file });
    return decodeNpy(bytes, file, { dtype: "<f4", shape: [rows, state.rank] }).data;
  };
  return {
    state,
    u: await matrix("U.npy", 1),
    vLocal: await matrix("V_local.npy", state.items),
    vGlobal: await matrix("V_global.npy", state.items)
  };
}
var HISTORY_CACHE_FORMAT_VERSION = 1;
var HISTORY_CACHE_FILE = "history.json";
var MAX_HISTORY_CACHE_BYTES = 512 * 1024 * 1024;
var PRIVACY_LEDGER_FILE = "privacy.json";
var MAX_PRIVACY_LEDGER_BYTES = 16 * 1024 * 1024;
async function readHistoryCache(dir) {
  const file = path.join(dir, HISTORY_CACHE_FILE);
  const cache = await readJsonFile(file, { maxBytes: MAX_HISTORY_CACHE_BYTES });
  if (cache === null) return null;
  if (cache.formatVersion !== HISTORY_CACHE_FORMAT_VERSION || typeof cache.sourceSha256 !== "string" || !Array.isArray(cache.events)) {
    throw new AppError("ERR_JSON_FORMAT", `${file}: not a version ${HISTORY_CACHE_FORMAT_VERSION} history cache; delete it, the participant rebuilds it from the export`, { file });
  }
  return cache;
}
async function writeHistoryCache(dir, sourceSha256, events) {
  await writeJsonAtomic(path.join(dir, HISTORY_CACHE_FILE), { formatVersion: HISTORY_CACHE_FORMAT_VERSION, sourceSha256, events }, PRIVATE);
}
async function readPrivacyLedger(dir) {
  const file = path.join(dir, PRIVACY_LEDGER_FILE);
  const raw = await readJsonFile(file, { maxBytes: MAX_PRIVACY_LEDGER_BYTES });
  return raw === null ? emptyLedger() : parsePrivacyLedger(raw, file);
}
async function writePrivacyLedger(dir, ledger) {
  await writeJsonAtomic(path.join(dir, PRIVACY_LEDGER_FILE), ledger, PRIVATE);
}

// src/participant/recommendations.ts
var MMR_POOL_FACTOR = 5;
function rankItems(u, V, rank, exclude, options) {
  const items = V.length / rank;
  const scores = scoreItems(u, V, items, rank);
  if (options.diversity <= 0) return topK(scores, options.k, exclude);
  if (!options.similarity) throw new TypeError("rankItems: a similarity is required when diversity > 0");
  const pool = topK(scores, options.k * MMR_POOL_FACTOR, exclude);
  return mmrRerank(pool, options.k, options.diversity, options.similarity);
}
async function readGrantedGlobal(ws, aggregator, expect, logger) {
  if (aggregator === null) return null;
  try {
    const model = await readLatestGlobal(ws.globalDir(aggregator), expect);
    const [newest] = await listGlobalVersions(ws.globalDir(aggregator));
    if (newest !== void 0 && newest !== model?.manifest.version) {
      logger.debug({ version: newest, using: model?.manifest.version ?? null }, "the newest Global_V here is not complete (yet); using the newest complete one");
    }
    if (model === null) return null;
    const manifest = path2.join(ws.globalVersionDir(aggregator, model.manifest.version), GLOBAL_MANIFEST);
    return await readableHere(ws, manifest) ? model : null;
  } catch (err) {
    logger.warn({ err: formatError(err) }, "cannot use the global model; showing local recommendations only");
    return null;
  }
}
var STOP_WORDS = new Set(
  "about after also been before being both comes during each even finds from gets goes have herself himself into itself just makes more most must only other over some such takes than that their them then there these they this those through till until upon very were what when where which while will with your".split(" ")
);
var MIN_TERM_LENGTH = 4;
function showFeatures(item) {
  const features = new Set(item.genres.map((g) => `genre:${g}`));
  for (const word of item.description.toLowerCase().match(new RegExp("\\p{L}+", "gu")) ?? []) {
    if (word.length >= MIN_TERM_LENGTH && !STOP_WORDS.has(word)) features.add(`term:${word}`);
  }
  return features;
}
var similarityCache = /* @__PURE__ */ new WeakMap();
function catalogSimilarity(catalog) {
  let similarity = similarityCache.get(catalog);
  if (!similarity) {
    const features = /* @__PURE__ */ new Map();
    similarity = featureSimilarity((item) => {
      let f = features.get(item);
      if (!f) features.set(item, f = showFeatures(catalog.items[item]));
      return f;
    });
    similarityCache.set(catalog, similarity);
  }
  return similarity;
}
async function loadRecommendations(ctx, profile, k) {
  const { config, ws, catalog, logger } = ctx;
  const model = await readProfileModel(ws.privateDir(profile));
  if (model === null) return null;
  const { state } = model;
  if (state.vocabHash !== catalog.hash || state.items !== catalog.items.length) {
    throw new AppError("ERR_MODEL_VERSION", `the model of ${profile} was trained on another catalogue (${state.vocabHash.slice(0, 12)}); run the participant again to retrain it`, {
      file: path2.join(ws.privateDir(profile), "state.json")
    });
  }
  const expect = { items: state.items, rank: state.rank, vocabHash: state.vocabHash };
  const global = await readGrantedGlobal(ws, config.AGGREGATOR_DATASITE, expect, logger);
  const options = { k, diversity: config.DIVERSITY, similarity: config.DIVERSITY > 0 ? catalogSimilarity(catalog) : void 0 };
  const watched = new Set(state.watched);
  const toShows = (scored) => scored.map(({ item, score }) => ({ id: item, showId: catalog.items[item].showId, title: catalog.items[item].title, score }));
  return {
    profile,
    access: global ? "granted" : "waiting",
    globalVersion: global ? global.manifest.version : null,
    localBaseVersion: state.baseVersion,
    trainedAt: state.trainedAt,
    local: toShows(rankItems(model.u, model.vLocal, state.rank, watched, options)),
    global: global ? toShows(rankItems(model.u, global.values, state.rank, watched, options)) : []
  };
}

export {
  STATE_FORMAT_VERSION,
  writeProfileModel,
  readProfileState,
  readProfileModel,
  readHistoryCache,
  writeHistoryCache,
  readPrivacyLedger,
  writePrivacyLedger,
  readGrantedGlobal,
  loadRecommendations
};
//# sourceMappingURL=chunk-IEFLLXFA.js.map
