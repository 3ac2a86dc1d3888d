import {
  lineChartSvg
} from "./chunk-PIJCIS4Q.js";
import {
  gramian,
  historyFeedback,
  predictExplicit,
  privatizeDelta,
  solveUser,
  solveUserExplicit,
  trainCentral,
  trainCentralExplicit,
  trainLocal,
  trainLocalExplicit
} from "./chunk-EZ7ZEITT.js";
import {
  ensurePublishPermissions
} from "./chunk-NT3X3JSI.js";
import {
  scoreItems,
  topK
} from "./chunk-JKMSQLTA.js";
import {
  applyServerUpdate,
  createMerger,
  roundParams,
  runRound
} from "./chunk-IYQIEVDU.js";
import "./chunk-KB4S5H5D.js";
import {
  GLOBAL_MANIFEST,
  createRandom,
  deriveSeed,
  gaussianRho,
  gaussianSigma,
  gaussianSigmaForRho,
  initialItemFactors,
  readLatestGlobal,
  zcdpEpsilon,
  zcdpRho
} from "./chunk-OPHXPK3N.js";
import {
  canRead,
  clipL2,
  writeDelta
} from "./chunk-TBES3XCL.js";
import {
  readHistory
} from "./chunk-VD4GDXTX.js";
import {
  createMatcher,
  loadCatalog,
  matchEvents
} from "./chunk-FC2Z3HKA.js";
import {
  moduleLogger,
  readRegularFile,
  rootLogger,
  writeFileAtomic,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  Workspace,
  createEmbeddedDatasite,
  intOption,
  numberOption,
  parseOptions
} from "./chunk-GYULMU4S.js";
import {
  AppError,
  loadConfig,
  withOverrides
} from "./chunk-3L2Z3EX5.js";

// src/commands/eval.ts
import path6 from "node:path";

// src/eval/run.ts
import { promises as fs4 } from "node:fs";
import os2 from "node:os";
import path5 from "node:path";
import { performance as performance2 } from "node:perf_hooks";

// src/eval/baselines.ts
function popularityScorer(users, items) {
  const counts = new Float32Array(items);
  for (const user of users) for (const { item } of user.train) counts[item]++;
  return () => counts;
}
function meanPredictor(mean) {
  return () => () => mean;
}
var ITEM_MEAN_DAMPING = 5;
function itemMeanPredictor(users, items, mean) {
  const sum = new Float64Array(items);
  const count = new Float64Array(items);
  for (const user of users) {
    for (const { item, preference } of user.train) {
      sum[item] += preference;
      count[item]++;
    }
  }
  const predicted = new Float64Array(items);
  for (let j = 0; j < items; j++) predicted[j] = (sum[j] + ITEM_MEAN_DAMPING * mean) / (count[j] + ITEM_MEAN_DAMPING);
  return () => (item) => predicted[item];
}
function localOnlyScorer(V0, rank, trainer) {
  const items = V0.length / rank;
  const train = trainer(V0);
  return (user) => {
    const local = train(user.train);
    return scoreItems(local.u, local.V, items, rank);
  };
}
function localOnlyPredictor(V0, rank, trainer, mean) {
  const train = trainer(V0);
  return (user) => {
    const local = train(user.train);
    return (item) => predictExplicit(local, local.V, item, rank, mean);
  };
}
function simulateFederated(trains, V0, trainer, options) {
  let V = V0;
  const noNoise = createRandom(0);
  for (let round = 1; round <= options.rounds; round++) {
    const train = trainer(V);
    const merger = createMerger("fedavg", V.length);
    for (const interactions of trains) {
      const delta = privatizeDelta(train(interactions).V, V, { clipNorm: options.clipNorm, epsilon: 0, delta: 0, random: noNoise }).values;
      if (options.serverClipNorm > 0) clipL2(delta, options.serverClipNorm);
      merger.add(delta, 1);
    }
    V = applyServerUpdate(V, merger.result(), { serverLr: options.serverLr, noiseStd: 0, random: noNoise });
    options.onRound?.(round, V);
  }
  return V;
}

// src/eval/dp.ts
function noiseMultiplier(epsilon, delta, rounds) {
  if (!(epsilon > 0) || !(delta > 0 && delta < 1) || !(Number.isInteger(rounds) && rounds >= 1)) {
    throw new RangeError(`need epsilon > 0, delta in (0, 1) and rounds >= 1, got ${epsilon}, ${delta}, ${rounds}`);
  }
  return gaussianSigmaForRho(1, zcdpRho(epsilon, delta) / rounds);
}
function totalEpsilon(s, rounds, delta) {
  return zcdpEpsilon(rounds * gaussianRho(1, s), delta);
}
var BISECTION_STEPS = 100;
function epsilonOfNoise(s, delta) {
  let lo = 1e-6;
  let hi = 1;
  while (gaussianSigma(hi, delta, 1) > s) hi *= 2;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    if (gaussianSigma(mid, delta, 1) > s) lo = mid;
    else hi = mid;
  }
  return hi;
}

// src/eval/metrics.ts
function rankAmong(scores, target, isCandidate) {
  const st = scores[target];
  let rank = 0;
  for (let j = 0; j < scores.length; j++) {
    if (j === target || !isCandidate(j)) continue;
    const s = scores[j];
    if (s > st || s === st && j < target) rank++;
  }
  return rank;
}
function rankAmongSample(scores, target, negatives) {
  const st = scores[target];
  let rank = 0;
  for (let i = 0; i < negatives.length; i++) {
    const j = negatives[i];
    const s = scores[j];
    if (s > st || s === st && j < target) rank++;
  }
  return rank;
}
function hitAt(rank, k) {
  return rank < k ? 1 : 0;
}
function ndcgAt(rank, k) {
  return rank < k ? 1 / Math.log2(rank + 2) : 0;
}
function sampleNegatives(random, items, count, excluded) {
  const available = [];
  let free = 0;
  for (let j = 0; j < items; j++) if (!excluded(j)) free++;
  const want = Math.min(count, free);
  if (want < count || free < 4 * count) {
    for (let j = 0; j < items; j++) if (!excluded(j)) available.push(j);
    for (let i = 0; i < want; i++) {
      const k = i + random.int(available.length - i);
      [available[i], available[k]] = [available[k], available[i]];
    }
    return Int32Array.from(available.slice(0, want));
  }
  const chosen = /* @__PURE__ */ new Set();
  const out = new Int32Array(want);
  while (chosen.size < want) {
    const j = random.int(items);
    if (excluded(j) || chosen.has(j)) continue;
    out[chosen.size] = j;
    chosen.add(j);
  }
  return out;
}
var RANKING_CUTOFFS = { hr: 10, ndcg: 10, recall: 20 };
var SAMPLED_NEGATIVES = 99;
var RankingAccumulator = class {
  n = 0;
  sums = { hr10: 0, ndcg10: 0, recall20: 0, sampledHr10: 0, sampledNdcg10: 0 };
  /** Add one user: the full-ranking rank and the sampled rank of their held-out item. */
  add(fullRank, sampledRank) {
    this.n++;
    this.sums.hr10 += hitAt(fullRank, RANKING_CUTOFFS.hr);
    this.sums.ndcg10 += ndcgAt(fullRank, RANKING_CUTOFFS.ndcg);
    this.sums.recall20 += hitAt(fullRank, RANKING_CUTOFFS.recall);
    this.sums.sampledHr10 += hitAt(sampledRank, RANKING_CUTOFFS.hr);
    this.sums.sampledNdcg10 += ndcgAt(sampledRank, RANKING_CUTOFFS.ndcg);
  }
  result() {
    const mean = (s) => this.n === 0 ? 0 : s / this.n;
    return {
      users: this.n,
      hr10: mean(this.sums.hr10),
      ndcg10: mean(this.sums.ndcg10),
      recall20: mean(this.sums.recall20),
      sampledHr10: mean(this.sums.sampledHr10),
      sampledNdcg10: mean(this.sums.sampledNdcg10)
    };
  }
};
var RatingAccumulator = class {
  constructor(min, max) {
    this.min = min;
    this.max = max;
  }
  min;
  max;
  n = 0;
  squared = 0;
  absolute = 0;
  add(rating, prediction) {
    const p = clampRating(prediction, this.min, this.max);
    const e = rating - p;
    this.n++;
    this.squared += e * e;
    this.absolute += Math.abs(e);
  }
  /** Merge another accumulator's sums (k-fold: pooled over folds). */
  merge(other) {
    this.n += other.n;
    this.squared += other.squared;
    this.absolute += other.absolute;
  }
  result() {
    if (this.n === 0) return { count: 0, rmse: 0, mae: 0 };
    return { count: this.n, rmse: Math.sqrt(this.squared / this.n), mae: this.absolute / this.n };
  }
};
function clampRating(prediction, min, max) {
  return Math.min(max, Math.max(min, prediction));
}

// src/eval/evaluate.ts
function evaluateRanking(users, items, scorer, seed) {
  const acc = new RankingAccumulator();
  const seen = new Uint8Array(items);
  for (const user of users) {
    for (const { item } of user.train) seen[item] = 1;
    const scores = scorer(user);
    const full = rankAmong(scores, user.heldOut, (j) => seen[j] === 0);
    const negatives = sampleNegatives(createRandom(deriveSeed(seed, `negatives:${user.userId}`)), items, SAMPLED_NEGATIVES, (j) => seen[j] === 1 || j === user.heldOut);
    acc.add(full, rankAmongSample(scores, user.heldOut, negatives));
    for (const { item } of user.train) seen[item] = 0;
  }
  return acc.result();
}
function factorScorer(V, rank, params) {
  const items = V.length / rank;
  const gram = gramian(V, items, rank);
  return (user) => scoreItems(solveUser(V, rank, user.train, params, gram), V, items, rank);
}
function accumulateRatings(users, predictor, acc) {
  for (const user of users) {
    if (user.test.length === 0) continue;
    const predict = predictor(user);
    for (const { item, rating } of user.test) acc.add(rating, predict(item));
  }
  return acc;
}
function explicitPredictor(V, params) {
  return (user) => {
    const solved = solveUserExplicit(V, params.rank, user.train, params);
    return (item) => predictExplicit(solved, V, item, params.rank, params.mean);
  };
}

// src/eval/federated.ts
import { promises as fs, statfsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
var EVAL_APP_NAME = "syftbox-netflix-svd";
var AGGREGATOR_EMAIL = "aggregator@eval.local";
var PROFILE = "profile_0";
var SHM_DIR = "/dev/shm";
var SHM_MAX_SHARE = 0.5;
var ROOT_OVERHEAD = 1.25;
function participantEmail(userId) {
  return `user${userId}@eval.local`;
}
async function createTempRoot(bytesPerRound2, prefix = "syftbox-eval-") {
  let parent = os.tmpdir();
  try {
    const stat = statfsSync(SHM_DIR);
    if (bytesPerRound2 * ROOT_OVERHEAD <= stat.bavail * stat.bsize * SHM_MAX_SHARE) parent = SHM_DIR;
  } catch {
  }
  return fs.mkdtemp(path.join(parent, prefix));
}
async function setUpRoot(dataDir, appName, participants) {
  createEmbeddedDatasite(dataDir, AGGREGATOR_EMAIL);
  for (const p of participants) {
    const email = participantEmail(p.userId);
    createEmbeddedDatasite(dataDir, email);
    await ensurePublishPermissions(new Workspace({ email, dataDir }, appName), AGGREGATOR_EMAIL);
  }
}
async function runFederated(settings) {
  const { dataDir, config, catalog, participants, trainer, logger } = settings;
  const appName = config.APP_NAME;
  const expect = { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash };
  const aggregatorWs = new Workspace({ email: AGGREGATOR_EMAIL, dataDir }, appName);
  const params = roundParams(config);
  const serverRandom = createRandom(deriveSeed(config.SEED, "server-noise"));
  const initial = initialItemFactors(expect.items, expect.rank, config.SEED);
  let trainFromInitial = null;
  for (let round = 1; round <= settings.rounds; round++) {
    const t0 = performance.now();
    const latest = await readLatestGlobal(aggregatorWs.globalDir(AGGREGATOR_EMAIL), expect);
    const manifest = latest ? path.join(aggregatorWs.globalVersionDir(AGGREGATOR_EMAIL, latest.manifest.version), GLOBAL_MANIFEST) : null;
    const trainFromLatest = latest ? trainer(latest.values) : null;
    const createdAt = (/* @__PURE__ */ new Date()).toISOString();
    for (const p of participants) {
      const email = participantEmail(p.userId);
      const ws = new Workspace({ email, dataDir }, appName);
      const granted = latest !== null && manifest !== null && await canRead(ws.datasitesDir, email, manifest);
      let update;
      if (granted) update = trainFromLatest(p.train);
      else {
        trainFromInitial ??= trainer(initial);
        update = trainFromInitial(p.train);
      }
      const base = granted ? latest.values : initial;
      const delta = privatizeDelta(update.V, base, {
        clipNorm: config.DELTA_CLIP_NORM,
        epsilon: config.DP_EPSILON,
        delta: config.DP_DELTA,
        random: createRandom(deriveSeed(config.SEED, `participant-noise:${round}:${email}`))
      });
      await writeDelta(ws.profileDir(PROFILE), delta.values, {
        items: expect.items,
        rank: expect.rank,
        vocabHash: expect.vocabHash,
        baseVersion: granted ? latest.manifest.version : 0,
        weight: 1,
        clipNorm: config.DELTA_CLIP_NORM,
        noise: delta.noise,
        createdAt
      });
      if (round === settings.rounds) settings.onLastTraining?.(p, update);
    }
    const t1 = performance.now();
    const summary = await runRound({ ws: aggregatorWs, model: expect, params, random: serverRandom, now: () => /* @__PURE__ */ new Date(), logger });
    const t2 = performance.now();
    const merged = await readLatestGlobal(aggregatorWs.globalDir(AGGREGATOR_EMAIL), expect);
    if (merged === null || summary.outcome !== "merged") {
      const first = summary.rejected[0];
      throw new AppError(first?.code ?? "ERR_AGGREGATOR_STATE", `evaluation round ${round} merged nothing (${summary.outcome}, ${summary.counts.rejected} rejected${first ? `; first: ${first.message}` : ""})`);
    }
    await settings.onRound?.({ round, version: merged.manifest.version, values: merged.values, summary, participantsMs: t1 - t0, aggregatorMs: t2 - t1 });
  }
}

// src/eval/ingest.ts
import { promises as fs3 } from "node:fs";
import path3 from "node:path";

// src/eval/movielens.ts
import { createReadStream, promises as fs2 } from "node:fs";
import path2 from "node:path";
import { createInterface } from "node:readline";
import Papa from "papaparse";
var RATINGS_FILE = "ratings.csv";
var MOVIES_FILE = "movies.csv";
var NETFLIX_EXPORT_FILE = "NetflixViewingHistory.csv";
var RATINGS_HEADER = ["userId", "movieId", "rating", "timestamp"];
var MAX_MOVIES_BYTES = 64 * 1024 * 1024;
var INITIAL_ROWS = 1 << 16;
var MS_PER_SECOND = 1e3;
async function movieLensFiles(dir) {
  const ratings = path2.join(dir, RATINGS_FILE);
  const movies = path2.join(dir, MOVIES_FILE);
  for (const file of [ratings, movies]) {
    try {
      await fs2.access(file);
    } catch {
      throw new AppError("ERR_FILE_NOT_FOUND", `${file} does not exist: --ratings must name a MovieLens-format folder holding ${RATINGS_FILE} and ${MOVIES_FILE}`, { file });
    }
  }
  return { ratings, movies };
}
async function readRatings(file) {
  let capacity = INITIAL_ROWS;
  let user = new Int32Array(capacity);
  let movie = new Int32Array(capacity);
  let rating = new Float32Array(capacity);
  let timestamp = new Float64Array(capacity);
  let n = 0;
  let line = 0;
  const bad = (what) => {
    throw new AppError("ERR_RATINGS_FORMAT", `${file} row ${line}: ${what}`, { file, row: line });
  };
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  for await (const raw of lines) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, "").trim() : raw.trim();
    if (text === "") continue;
    const fields = text.split(",");
    if (line === 1) {
      if (RATINGS_HEADER.some((name, i) => fields[i]?.trim() !== name)) bad(`header must start with ${RATINGS_HEADER.join(",")}`);
      continue;
    }
    if (fields.length < RATINGS_HEADER.length) bad(`expected ${RATINGS_HEADER.length} fields, found ${fields.length}`);
    const u = Number(fields[0]);
    const m = Number(fields[1]);
    const r = Number(fields[2]);
    const t = Number(fields[3]);
    if (!Number.isSafeInteger(u) || !Number.isSafeInteger(m) || u < 0 || m < 0 || u > 2 ** 31 - 1 || m > 2 ** 31 - 1) bad("userId and movieId must be non-negative integers");
    if (!Number.isFinite(r)) bad(`rating ${JSON.stringify(fields[2])} is not a number`);
    if (!Number.isFinite(t) || t < 0) bad(`timestamp ${JSON.stringify(fields[3])} is not Unix seconds`);
    if (n === capacity) {
      capacity *= 2;
      user = grow(user, capacity);
      movie = grow(movie, capacity);
      rating = grow(rating, capacity);
      timestamp = grow(timestamp, capacity);
    }
    user[n] = u;
    movie[n] = m;
    rating[n] = r;
    timestamp[n] = t;
    n++;
  }
  if (n === 0) throw new AppError("ERR_RATINGS_FORMAT", `${file} has no ratings`, { file });
  return tableOf(user.subarray(0, n), movie.subarray(0, n), rating.subarray(0, n), timestamp.subarray(0, n));
}
function grow(a, capacity) {
  const out = new a.constructor(capacity);
  out.set(a);
  return out;
}
function tableOf(user, movie, rating, timestamp) {
  const n = user.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => user[a] - user[b] || timestamp[a] - timestamp[b] || movie[a] - movie[b]);
  const table = {
    rows: n,
    movieId: new Int32Array(n),
    rating: new Float32Array(n),
    timestamp: new Float64Array(n)
  };
  const ids = [];
  const starts = [];
  for (let i = 0; i < n; i++) {
    const r = order[i];
    table.movieId[i] = movie[r];
    table.rating[i] = rating[r];
    table.timestamp[i] = timestamp[r];
    if (i === 0 || user[r] !== user[order[i - 1]]) {
      ids.push(user[r]);
      starts.push(i);
    }
  }
  starts.push(n);
  return { ...table, userCount: ids.length, userIds: Int32Array.from(ids), userStart: Int32Array.from(starts) };
}
async function exportTitles(catalog, moviesFile, style) {
  if (style === "catalog") return catalog.items.map((item) => item.title);
  const bytes = await readRegularFile(moviesFile, { maxBytes: MAX_MOVIES_BYTES });
  if (bytes === null) throw new AppError("ERR_FILE_NOT_FOUND", `${moviesFile} does not exist`, { file: moviesFile });
  const { data } = Papa.parse(bytes.toString("utf8"), { skipEmptyLines: "greedy" });
  const raw = /* @__PURE__ */ new Map();
  for (const row of data.slice(1)) raw.set((row[0] ?? "").trim(), (row[1] ?? "").trim());
  return catalog.items.map((item) => raw.get(item.showId) ?? item.title);
}
function movieIndex(catalog) {
  return new Map(catalog.items.map((item) => [Number(item.showId), item.id]));
}
function isoDay(unixSeconds) {
  return new Date(unixSeconds * MS_PER_SECOND).toISOString().slice(0, 10);
}
function csvField(value) {
  return `"${value.replace(/"/g, '""')}"`;
}
function netflixExportText(rows) {
  const sorted = rows.map((row, i) => ({ row, i })).sort((a, b) => b.row.timestamp - a.row.timestamp || a.i - b.i);
  const lines = ["Title,Date"];
  for (const { row } of sorted) lines.push(`${csvField(row.title)},${csvField(isoDay(row.timestamp))}`);
  return `${lines.join("\n")}
`;
}
function firstUsers(table, count) {
  if (count >= table.userCount) return table;
  const rows = table.userStart[count];
  return {
    rows,
    userCount: count,
    userIds: table.userIds.subarray(0, count),
    userStart: table.userStart.subarray(0, count + 1),
    movieId: table.movieId.subarray(0, rows),
    rating: table.rating.subarray(0, rows),
    timestamp: table.timestamp.subarray(0, rows)
  };
}

// src/eval/ingest.ts
var MAX_LISTED_FAILURES = 100;
var MS_PER_SECOND2 = 1e3;
async function ingestParticipants(settings, onUser) {
  const { table, isTrain, catalog, matcher, titles, index } = settings;
  const outcomes = /* @__PURE__ */ new Map();
  const report = {
    ratings: 0,
    exact: 0,
    wrong: 0,
    unmatched: 0,
    rate: 0,
    titles: 0,
    exactTitles: 0,
    unknownMovies: 0,
    droppedWithoutRating: 0,
    failures: [],
    failureCount: 0
  };
  for (let u = 0; u < table.userCount; u++) {
    const rows = [];
    const rated = [];
    const ratingOf = /* @__PURE__ */ new Map();
    let newest = -Infinity;
    for (let r = table.userStart[u]; r < table.userStart[u + 1]; r++) {
      if (!isTrain[r]) continue;
      const item = index.get(table.movieId[r]);
      if (item === void 0) {
        report.unknownMovies++;
        continue;
      }
      rows.push({ title: titles[item], timestamp: table.timestamp[r] });
      rated.push(item);
      ratingOf.set(item, table.rating[r]);
      newest = Math.max(newest, table.timestamp[r]);
    }
    if (rows.length === 0) continue;
    report.ratings += rows.length;
    const userId = table.userIds[u];
    const file = settings.exportFile(userId);
    await fs3.mkdir(path3.dirname(file), { recursive: true });
    await fs3.writeFile(file, netflixExportText(rows));
    const now = new Date(newest * MS_PER_SECOND2);
    const parsed = await readHistory(file, { dateOrder: "ymd", now });
    const matches = matchEvents(parsed.events, matcher);
    const itemOfTitle = new Map(matches.events.map((e) => [e.title, matches.itemOf(e.show, e.kind)]));
    for (const item of rated) countOutcome(report, outcomes, item, itemOfTitle.get(titles[item].trim()) ?? null);
    let train = historyFeedback(matches, { now, halfLifeDays: settings.halfLifeDays, mode: "implicit" }).interactions;
    if (settings.protocol === "explicit") {
      const withRating = [];
      for (const { item } of train) {
        const rating = ratingOf.get(item);
        if (rating === void 0) report.droppedWithoutRating++;
        else withRating.push({ item, preference: rating, confidence: 1 });
      }
      train = withRating;
    }
    onUser({ userId, train });
  }
  report.rate = report.ratings === 0 ? 0 : report.exact / report.ratings;
  report.titles = outcomes.size;
  const failures = [];
  for (const [item, outcome] of outcomes) {
    if (outcome.size === 0) {
      report.exactTitles++;
      continue;
    }
    const [target] = [...outcome.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
    failures.push({
      movieId: Number(catalog.items[item].showId),
      title: titles[item],
      ratings: [...outcome.values()].reduce((a, b) => a + b, 0),
      matched: target < 0 ? null : { movieId: Number(catalog.items[target].showId), title: catalog.items[target].title }
    });
  }
  failures.sort((a, b) => b.ratings - a.ratings || a.movieId - b.movieId);
  report.failureCount = failures.length;
  report.failures = failures.slice(0, MAX_LISTED_FAILURES);
  return report;
}
function countOutcome(report, outcomes, item, matched) {
  let outcome = outcomes.get(item);
  if (outcome === void 0) outcomes.set(item, outcome = /* @__PURE__ */ new Map());
  if (matched === item) {
    report.exact++;
    return;
  }
  if (matched === null) report.unmatched++;
  else report.wrong++;
  const target = matched ?? -1;
  outcome.set(target, (outcome.get(target) ?? 0) + 1);
}

// src/eval/report.ts
import path4 from "node:path";
var REPORT_FORMAT = "syftbox-netflix-svd/eval-report";
var REPORT_FORMAT_VERSION = 1;
function check(name, value, threshold, atMost = false) {
  return { name, value, threshold, met: atMost ? value <= threshold : value >= threshold };
}
var RANKING_CHARTS = [
  { key: "hr10", label: "HR@10" },
  { key: "ndcg10", label: "NDCG@10" }
];
var RATING_CHARTS = [{ key: "rmse", label: "RMSE" }];
function chartData(report, key) {
  const series = [];
  const references = [];
  for (const s of report.settings) {
    if (s.rounds && s.rounds.length > 0) series.push({ name: s.name, points: s.rounds.map((r) => [r.round, r.metrics[key]]), dotted: s.kind !== "federated" });
    else references.push({ name: s.name, y: s.metrics[key] });
  }
  return { series, references };
}
async function writeReport(out, report) {
  const files = [];
  const json = path4.join(out, `${report.protocol}.json`);
  await writeJsonAtomic(json, report);
  files.push(json);
  const charts = report.protocol === "implicit" ? RANKING_CHARTS : RATING_CHARTS;
  for (const { key, label } of charts) {
    const { series, references } = chartData(report, key);
    const file = path4.join(out, `${report.protocol}-${key.toLowerCase()}.svg`);
    const title = `${label} by round (${report.split.kind}, ${report.dataset.participants} participants)`;
    await writeFileAtomic(file, lineChartSvg({ title, xLabel: "round", yLabel: label, series, references }));
    files.push(file);
  }
  return files;
}

// src/eval/split.ts
function leaveLastOut(table) {
  const heldOut = new Int32Array(table.userCount).fill(-1);
  for (let u = 0; u < table.userCount; u++) {
    const start = table.userStart[u];
    const end = table.userStart[u + 1];
    if (end - start < 2) continue;
    let last = start;
    for (let r = start + 1; r < end; r++) {
      if (table.timestamp[r] > table.timestamp[last] || table.timestamp[r] === table.timestamp[last] && table.movieId[r] > table.movieId[last]) last = r;
    }
    heldOut[u] = last;
  }
  return heldOut;
}
function assignFolds(rows, k, random) {
  if (!Number.isInteger(k) || k < 2 || k > 255) throw new RangeError(`folds must be an integer from 2 to 255, got ${k}`);
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  for (let i = rows - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const fold = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) fold[order[i]] = i % k;
  return fold;
}

// src/eval/training.ts
function implicitTrainer(options) {
  return (base) => {
    const gram = gramian(base, options.items, options.rank);
    return (train) => {
      const trained = trainLocal(base, train, { ...options, gram });
      return { V: trained.V, u: trained.u, bias: 0 };
    };
  };
}
function explicitTrainer(options) {
  return (base) => (train) => {
    const trained = trainLocalExplicit(base, train, options);
    return { V: trained.V, u: trained.u, bias: trained.bias };
  };
}

// src/eval/run.ts
var ALL_BASELINES = ["popularity", "local", "central", "fedopt"];
var RECOMMENDATIONS = 100;
var RATING_SCALE_FALLBACK = { min: 0.5, max: 5 };
var BYTES_PER_FLOAT = 4;
var SCORE_DECIMALS = 5;
var LOCAL_SENSITIVITY_IN_CLIPS = 2;
var DP_BAR_EPSILON = 8;
var PREDICTION_DECIMALS = 4;
async function loadData(o) {
  const files = await movieLensFiles(o.ratingsDir);
  const catalog = await loadCatalog(files.movies);
  const all = await readRatings(files.ratings);
  const table = o.maxUsers === null ? all : firstUsers(all, o.maxUsers);
  return { catalog, matcher: createMatcher(catalog), table, titles: await exportTitles(catalog, files.movies, o.titles), index: movieIndex(catalog) };
}
function settingConfig(o, overrides) {
  const base = loadConfig({ dotenv: false, env: {} });
  return withOverrides(base, {
    APP_NAME: EVAL_APP_NAME,
    AGGREGATOR_DATASITE: AGGREGATOR_EMAIL,
    LOG_LEVEL: "silent",
    MODEL_RANK: String(o.rank),
    SEED: String(o.seed),
    ALS_REG: String(o.reg),
    ALS_ALPHA: String(o.alpha),
    LOCAL_EPOCHS: String(o.epochs),
    LOCAL_LR: String(o.lr),
    RECENCY_HALF_LIFE_DAYS: String(o.halfLifeDays),
    SERVER_LR: String(overrides.serverLr ?? o.serverLr),
    DELTA_CLIP_NORM: String(overrides.clipNorm),
    DP_EPSILON: String(overrides.dpEpsilon ?? 0),
    DP_DELTA: String(o.dpDelta),
    SERVER_CLIP_NORM: String(overrides.serverClipNorm ?? 0),
    SERVER_NOISE_STD: String(overrides.serverNoiseStd ?? 0)
  });
}
function exportFileOf(dataDir) {
  return (userId) => path5.join(new Workspace({ email: participantEmail(userId), dataDir }, EVAL_APP_NAME).privateRoot(), "export", NETFLIX_EXPORT_FILE);
}
function formatDuration(ms) {
  const s = Math.round(ms / 1e3);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}
async function runSetting(o, root, name, rounds, config, catalog, participants, trainer, evaluate, onLastTraining) {
  const dataDir = path5.join(root, name.replace(/[^a-z0-9.-]+/gi, "_"));
  await setUpRoot(dataDir, config.APP_NAME, participants);
  const entries = [];
  const started = performance2.now();
  let finalV = null;
  await runFederated({
    dataDir,
    config,
    catalog,
    participants,
    trainer,
    rounds,
    logger: o.logger,
    onLastTraining,
    onRound: (r) => {
      finalV = r.values;
      const metrics = evaluate ? evaluate(r.values) : null;
      if (metrics) {
        entries.push({ round: r.round, metrics, accepted: r.summary.counts.accepted, rejected: r.summary.counts.rejected, participantsMs: Math.round(r.participantsMs), aggregatorMs: Math.round(r.aggregatorMs) });
      }
      const elapsed = performance2.now() - started;
      const eta = elapsed / r.round * (rounds - r.round);
      const shown = metrics === null ? "" : "hr10" in metrics ? `  HR@10 ${metrics.hr10.toFixed(4)}  NDCG@10 ${metrics.ndcg10.toFixed(4)}` : `  RMSE ${metrics.rmse.toFixed(4)}  MAE ${metrics.mae.toFixed(4)}`;
      o.progress(
        `[${name}] round ${r.round}/${rounds}  deltas accepted ${r.summary.counts.accepted} rejected ${r.summary.counts.rejected}  participants ${formatDuration(r.participantsMs)} aggregator ${formatDuration(r.aggregatorMs)}  elapsed ${formatDuration(elapsed)}  ETA ${formatDuration(eta)}${shown}`
      );
    }
  });
  if (!o.keepRoot) await fs4.rm(dataDir, { recursive: true, force: true });
  return { rounds: entries, ms: performance2.now() - started, finalV };
}
async function releaseRoot(o, root) {
  if (o.keepRoot) o.progress(`[root] kept the SyftBox-layout root at ${root}`);
  else await fs4.rm(root, { recursive: true, force: true });
}
function peakRssMb() {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
function environment(root) {
  return { node: process.versions.node, platform: `${process.platform}-${process.arch}`, cpus: os2.cpus().length, tempRoot: path5.dirname(root) };
}
function commonParams(o) {
  return {
    rank: o.rank,
    reg: o.reg,
    alpha: o.alpha,
    localEpochs: o.epochs,
    localLr: o.lr,
    serverLr: o.serverLr,
    rounds: o.rounds,
    clipNorm: o.clipNorm,
    halfLifeDays: o.halfLifeDays,
    centralIterations: o.centralIterations,
    titles: o.titles,
    seed: o.seed
  };
}
function bytesPerRound(participants, items, rank) {
  return participants * items * rank * BYTES_PER_FLOAT;
}
function dpSettings(o, participants) {
  const out = [];
  const rounds = o.dpRounds;
  for (const budget of o.dpBudgets) {
    for (const epsilon of o.epsilons) {
      const noise = budget === "total" ? noiseMultiplier(epsilon, o.dpDelta, rounds) : gaussianSigma(epsilon, o.dpDelta, 1);
      const suffix = `eps${epsilon}${budget === "per-round" ? "-per-round" : ""}`;
      for (const mode of o.dpModes) {
        const sensitivityInClips = mode === "central" ? 1 : LOCAL_SENSITIVITY_IN_CLIPS;
        const z = noise * sensitivityInClips;
        const privacy = {
          mode,
          budget,
          epsilon,
          delta: o.dpDelta,
          noiseMultiplier: z,
          clipNorm: o.dpClipNorm,
          sensitivity: sensitivityInClips * o.dpClipNorm,
          perRoundEpsilon: epsilonOfNoise(noise, o.dpDelta),
          totalEpsilon: totalEpsilon(noise, rounds, o.dpDelta),
          composition: `zCDP over ${rounds} rounds (Bun & Steinke 2016), \u03B4=${o.dpDelta}`
        };
        if (mode === "central") {
          const serverNoiseStd = z * o.dpClipNorm / participants;
          out.push({
            name: `federated-dp-central-${suffix}`,
            rounds,
            config: settingConfig(o, { clipNorm: o.clipNorm, serverLr: o.dpServerLr, serverClipNorm: o.dpClipNorm, serverNoiseStd }),
            privacy: { ...privacy, serverNoiseStd }
          });
        } else {
          out.push({
            name: `federated-dp-local-${suffix}`,
            rounds,
            config: settingConfig(o, { clipNorm: o.dpClipNorm, serverLr: o.dpServerLr, dpEpsilon: privacy.perRoundEpsilon }),
            privacy
          });
        }
      }
    }
  }
  return out;
}
var NO_PRIVACY = { mode: "none", budget: null, epsilon: null, delta: null, noiseMultiplier: null, clipNorm: null, sensitivity: null, perRoundEpsilon: null, totalEpsilon: null, composition: null };
async function runImplicit(o) {
  const t0 = performance2.now();
  const { catalog, matcher, table, titles, index } = await loadData(o);
  const items = catalog.items.length;
  const heldOutRows = leaveLastOut(table);
  const isTrain = new Uint8Array(table.rows).fill(1);
  const heldOutOf = /* @__PURE__ */ new Map();
  for (let u = 0; u < table.userCount; u++) {
    const row = heldOutRows[u];
    if (row < 0) continue;
    isTrain[row] = 0;
    const item = index.get(table.movieId[row]);
    if (item !== void 0) heldOutOf.set(table.userIds[u], item);
  }
  const root = await createTempRoot(bytesPerRound(table.userCount, items, o.rank));
  try {
    const participants = [];
    const ingestStart = performance2.now();
    const matching = await ingestParticipants(
      { table, isTrain, catalog, matcher, titles, index, exportFile: exportFileOf(path5.join(root, "participants")), halfLifeDays: o.halfLifeDays, protocol: "implicit" },
      (p) => participants.push(p)
    );
    const ingestMs = performance2.now() - ingestStart;
    o.progress(`[ingest] ${participants.length} participants, ${matching.ratings} ratings exported; titles mapped back exactly: ${(matching.rate * 100).toFixed(2)}% of ratings (${matching.wrong} to another movie, ${matching.unmatched} unmatched) in ${formatDuration(ingestMs)}`);
    const users = participants.filter((p) => heldOutOf.has(p.userId)).map((p) => ({ userId: p.userId, train: p.train, heldOut: heldOutOf.get(p.userId) }));
    const params = { rank: o.rank, reg: o.reg, alpha: o.alpha };
    const evaluate = (V) => evaluateRanking(users, items, factorScorer(V, o.rank, params), o.seed);
    const V0 = initialItemFactors(items, o.rank, o.seed);
    const trainer = implicitTrainer({ items, rank: o.rank, reg: o.reg, alpha: o.alpha, epochs: o.epochs, lr: o.lr });
    const settings = [];
    const timings = {};
    const timed = (name, fn) => {
      const s = performance2.now();
      const value = fn();
      timings[name] = Math.round(performance2.now() - s);
      o.progress(`[${name}] done in ${formatDuration(timings[name])}`);
      return value;
    };
    if (o.baselines.has("popularity")) {
      const metrics = timed("popularity", () => evaluateRanking(users, items, popularityScorer(users, items), o.seed));
      settings.push({ name: "popularity", kind: "baseline", description: "items ranked by their number of training users", metrics });
    }
    if (o.baselines.has("local")) {
      const localEpochs = o.epochs * o.rounds;
      const local = implicitTrainer({ items, rank: o.rank, reg: o.reg, alpha: o.alpha, epochs: localEpochs, lr: o.lr });
      const metrics = timed("local-only", () => evaluateRanking(users, items, localOnlyScorer(V0, o.rank, local), o.seed));
      settings.push({ name: "local-only", kind: "baseline", description: `each user trains alone from the initialization for ${localEpochs} local epochs (epochs x rounds), no federation`, metrics });
    }
    if (o.baselines.has("central")) {
      const metrics = timed("central-als", () => {
        const trained = trainCentral(participants.map((p) => p.train), items, o.rank, { ...params, iterations: o.centralIterations }, V0);
        return evaluate(trained.V);
      });
      settings.push({ name: "central-als", kind: "central", description: `the same model (trainCentral: exact ALS on all training data) for ${o.centralIterations} iterations`, metrics });
    }
    if (o.baselines.has("fedopt")) {
      const rounds = [];
      timed(
        "central-fedopt",
        () => simulateFederated(participants.map((p) => p.train), V0, trainer, {
          rounds: o.rounds,
          clipNorm: o.clipNorm,
          serverClipNorm: 0,
          serverLr: o.serverLr,
          onRound: (round, V) => rounds.push({ round, metrics: evaluate(V) })
        })
      );
      settings.push({ name: "central-fedopt", kind: "central", description: "the federated optimizer (local epochs, clipping, FedAvg, server lr) run in memory on all data: no files, no noise", metrics: rounds.at(-1).metrics, rounds });
    }
    const runs = [{ name: "federated", rounds: o.rounds, config: settingConfig(o, { clipNorm: o.clipNorm }), privacy: NO_PRIVACY }, ...dpSettings(o, participants.length)];
    for (const run of runs) {
      const result = await runSetting(o, root, run.name, run.rounds, run.config, catalog, participants, trainer, evaluate);
      timings[run.name] = Math.round(result.ms);
      settings.push({
        name: run.name,
        kind: "federated",
        description: run.privacy.mode === "none" ? "federated through SyftBox-layout files, no DP" : `federated with ${run.privacy.mode} DP`,
        metrics: result.rounds.at(-1).metrics,
        rounds: result.rounds,
        privacy: run.privacy
      });
    }
    const report = {
      format: REPORT_FORMAT,
      formatVersion: REPORT_FORMAT_VERSION,
      protocol: "implicit",
      createdAt: (/* @__PURE__ */ new Date()).toISOString(),
      command: o.command,
      dataset: { ratingsDir: o.ratingsDir, users: table.userCount, items, ratings: table.rows, participants: participants.length, evaluatedUsers: users.length },
      split: { kind: "leave-last-out", seed: o.seed },
      params: { ...commonParams(o), dpDelta: o.dpDelta, dpClipNorm: o.dpClipNorm, dpRounds: o.dpRounds, dpServerLr: o.dpServerLr },
      matching,
      settings,
      checks: implicitChecks(settings),
      timings: { totalMs: Math.round(performance2.now() - t0), ingestMs: Math.round(ingestMs), peakRssMb: peakRssMb(), settings: timings },
      environment: environment(root)
    };
    return { report, files: await writeReport(o.out, report) };
  } finally {
    await releaseRoot(o, root);
  }
}
var ratio = (a, b) => b > 0 ? a / b : 0;
function implicitChecks(settings) {
  const find = (name) => settings.find((s) => s.name === name)?.metrics;
  const fed = find("federated");
  const checks = [];
  if (!fed) return checks;
  checks.push(check("federated HR@10 >= 0.065", fed.hr10, 0.065), check("federated HR@10 >= 0.079 (aim)", fed.hr10, 0.079));
  const local = find("local-only");
  if (local) checks.push(check("federated HR@10 above local-only", fed.hr10, local.hr10 + Number.EPSILON));
  const central = find("central-als");
  if (central) {
    checks.push(check("federated / central-als HR@10 >= 0.95", ratio(fed.hr10, central.hr10), 0.95));
    checks.push(check("federated / central-als NDCG@10 >= 0.95", ratio(fed.ndcg10, central.ndcg10), 0.95));
  }
  for (const s of settings) {
    if (s.privacy && s.privacy.mode !== "none" && s.privacy.epsilon === DP_BAR_EPSILON) {
      checks.push(check(`${s.name} / federated HR@10 >= 0.85`, ratio(s.metrics.hr10, fed.hr10), 0.85));
    }
  }
  return checks;
}
function meanRating(table, isTrain) {
  let sum = 0;
  let n = 0;
  for (let r = 0; r < table.rows; r++) {
    if (!isTrain[r]) continue;
    sum += table.rating[r];
    n++;
  }
  return n === 0 ? 0 : sum / n;
}
function ratingScale(table) {
  if (table.rows === 0) return RATING_SCALE_FALLBACK;
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < table.rows; r++) {
    min = Math.min(min, table.rating[r]);
    max = Math.max(max, table.rating[r]);
  }
  return { min, max };
}
function sumMatching(total, next) {
  if (total === null) return next;
  const ratings = total.ratings + next.ratings;
  const exact = total.exact + next.exact;
  return {
    ...total,
    ratings,
    exact,
    wrong: total.wrong + next.wrong,
    unmatched: total.unmatched + next.unmatched,
    rate: ratings === 0 ? 0 : exact / ratings,
    unknownMovies: total.unknownMovies + next.unknownMovies,
    droppedWithoutRating: total.droppedWithoutRating + next.droppedWithoutRating
  };
}
async function runExplicit(o) {
  const t0 = performance2.now();
  const { catalog, matcher, table, titles, index } = await loadData(o);
  const items = catalog.items.length;
  const scale = ratingScale(table);
  const folds = assignFolds(table.rows, o.folds, createRandom(deriveSeed(o.seed, "folds")));
  const root = await createTempRoot(bytesPerRound(table.userCount, items, o.rank));
  const pooled = /* @__PURE__ */ new Map();
  const pooledRounds = /* @__PURE__ */ new Map();
  const acc = (name) => pooled.get(name) ?? pooled.set(name, new RatingAccumulator(scale.min, scale.max)).get(name);
  const roundAcc = (name, round) => {
    const list = pooledRounds.get(name) ?? pooledRounds.set(name, []).get(name);
    list[round - 1] ??= new RatingAccumulator(scale.min, scale.max);
    return list[round - 1];
  };
  const timings = {};
  let matching = null;
  let ingestMs = 0;
  let participantsCount = 0;
  let evaluatedUsers = 0;
  const descriptions = {};
  try {
    for (let fold = 0; fold < o.folds; fold++) {
      const isTrain = new Uint8Array(table.rows);
      for (let r = 0; r < table.rows; r++) isTrain[r] = folds[r] === fold ? 0 : 1;
      const mean = meanRating(table, isTrain);
      const participants = [];
      const ingestStart = performance2.now();
      const foldMatching = await ingestParticipants(
        { table, isTrain, catalog, matcher, titles, index, exportFile: exportFileOf(path5.join(root, `participants-fold${fold + 1}`)), halfLifeDays: o.halfLifeDays, protocol: "explicit" },
        (p) => participants.push(p)
      );
      ingestMs += performance2.now() - ingestStart;
      matching = sumMatching(matching, foldMatching);
      participantsCount = Math.max(participantsCount, participants.length);
      o.progress(`[fold ${fold + 1}/${o.folds}] ${participants.length} participants; titles mapped back exactly: ${(foldMatching.rate * 100).toFixed(2)}% of ratings`);
      const trainOf = new Map(participants.map((p) => [p.userId, p.train]));
      const users = [];
      for (let u = 0; u < table.userCount; u++) {
        const test = [];
        for (let r = table.userStart[u]; r < table.userStart[u + 1]; r++) {
          const item = index.get(table.movieId[r]);
          if (!isTrain[r] && item !== void 0) test.push({ item, rating: table.rating[r] });
        }
        if (test.length > 0) users.push({ userId: table.userIds[u], train: trainOf.get(table.userIds[u]) ?? [], test });
      }
      evaluatedUsers += users.length;
      const params = { rank: o.rank, reg: o.reg, mean };
      const V0 = initialItemFactors(items, o.rank, o.seed);
      const trainer = explicitTrainer({ items, rank: o.rank, reg: o.reg, epochs: o.epochs, lr: o.lr, mean });
      const run = (name2, kind, description, predictor) => {
        descriptions[name2] = { kind, description };
        const s = performance2.now();
        accumulateRatings(users, predictor(), acc(name2));
        timings[name2] = (timings[name2] ?? 0) + Math.round(performance2.now() - s);
      };
      if (o.baselines.has("popularity")) {
        run("global-mean", "baseline", "every rating predicted as the training mean", () => meanPredictor(mean));
        run("item-mean", "baseline", "damped item mean (5 pseudo-ratings at the global mean)", () => itemMeanPredictor(users, items, mean));
      }
      if (o.baselines.has("local")) {
        const localEpochs = o.epochs * o.rounds;
        const local = explicitTrainer({ items, rank: o.rank, reg: o.reg, epochs: localEpochs, lr: o.lr, mean });
        run("local-only", "baseline", `each user trains alone from the initialization for ${localEpochs} local epochs, no federation`, () => localOnlyPredictor(V0, o.rank, local, mean));
      }
      if (o.baselines.has("central")) {
        run(
          "central-als",
          "central",
          `the same biased MF (trainCentralExplicit: exact ALS) for ${o.centralIterations} iterations`,
          () => explicitPredictor(trainCentralExplicit(participants.map((p) => p.train), items, o.rank, { ...params, iterations: o.centralIterations }, V0).V, params)
        );
      }
      if (o.baselines.has("fedopt")) {
        run(
          "central-fedopt",
          "central",
          "the federated optimizer run in memory on all data: no files, no noise",
          () => explicitPredictor(
            simulateFederated(participants.map((p) => p.train), V0, trainer, {
              rounds: o.rounds,
              clipNorm: o.clipNorm,
              serverClipNorm: 0,
              serverLr: o.serverLr,
              onRound: (round2, V) => accumulateRatings(users, explicitPredictor(V, params), roundAcc("central-fedopt", round2))
            }),
            params
          )
        );
      }
      const name = "federated";
      descriptions[name] = { kind: "federated", description: "federated through SyftBox-layout files (explicit variant), no DP" };
      let round = 0;
      let last = null;
      const result = await runSetting(o, root, `${name}-fold${fold + 1}`, o.rounds, settingConfig(o, { clipNorm: o.clipNorm }), catalog, participants, trainer, (V) => {
        round++;
        last = accumulateRatings(users, explicitPredictor(V, params), new RatingAccumulator(scale.min, scale.max));
        roundAcc(name, round).merge(last);
        return last.result();
      });
      acc(name).merge(last);
      timings[name] = (timings[name] ?? 0) + Math.round(result.ms);
    }
    const settings = [];
    for (const [name, a] of pooled) {
      const rounds = pooledRounds.get(name)?.map((r, i) => ({ round: i + 1, metrics: r.result() }));
      settings.push({ name, ...descriptions[name], metrics: a.result(), ...rounds ? { rounds } : {}, ...name === "federated" ? { privacy: NO_PRIVACY } : {} });
    }
    const report = {
      format: REPORT_FORMAT,
      formatVersion: REPORT_FORMAT_VERSION,
      protocol: "explicit",
      createdAt: (/* @__PURE__ */ new Date()).toISOString(),
      command: o.command,
      dataset: { ratingsDir: o.ratingsDir, users: table.userCount, items, ratings: table.rows, participants: participantsCount, evaluatedUsers: Math.round(evaluatedUsers / o.folds) },
      split: { kind: "k-fold", folds: o.folds, seed: o.seed },
      params: commonParams(o),
      matching,
      settings,
      checks: explicitChecks(settings),
      timings: { totalMs: Math.round(performance2.now() - t0), ingestMs: Math.round(ingestMs), peakRssMb: peakRssMb(), settings: timings },
      environment: environment(root)
    };
    return { report, files: await writeReport(o.out, report) };
  } finally {
    await releaseRoot(o, root);
  }
}
function explicitChecks(settings) {
  const fed = settings.find((s) => s.name === "federated")?.metrics;
  const central = settings.find((s) => s.name === "central-als")?.metrics;
  if (!fed) return [];
  const checks = [check("federated RMSE <= 0.89", fed.rmse, 0.89, true), check("federated RMSE <= 0.873 (aim)", fed.rmse, 0.873, true)];
  if (central) checks.push(check("federated / central-als RMSE <= 1.02", ratio(fed.rmse, central.rmse), 1.02, true));
  return checks;
}
function ratedItems(table, index) {
  const out = /* @__PURE__ */ new Map();
  for (let u = 0; u < table.userCount; u++) {
    const set = /* @__PURE__ */ new Set();
    for (let r = table.userStart[u]; r < table.userStart[u + 1]; r++) {
      const item = index.get(table.movieId[r]);
      if (item !== void 0) set.add(item);
    }
    out.set(table.userIds[u], set);
  }
  return out;
}
var round5 = (x) => Number(x.toFixed(SCORE_DECIMALS));
async function runRecommendations(o) {
  const { catalog, matcher, table, titles, index } = await loadData(o);
  const items = catalog.items.length;
  const isTrain = new Uint8Array(table.rows).fill(1);
  const root = await createTempRoot(bytesPerRound(table.userCount, items, o.rank));
  try {
    const participants = [];
    const matching = await ingestParticipants(
      { table, isTrain, catalog, matcher, titles, index, exportFile: exportFileOf(path5.join(root, "participants")), halfLifeDays: o.halfLifeDays, protocol: "implicit" },
      (p) => participants.push(p)
    );
    o.progress(`[ingest] ${participants.length} participants; titles mapped back exactly: ${(matching.rate * 100).toFixed(2)}% of ratings`);
    const rated = ratedItems(table, index);
    const excludedOf = (p) => /* @__PURE__ */ new Set([...p.train.map((i) => i.item), ...rated.get(p.userId) ?? []]);
    const local = /* @__PURE__ */ new Map();
    const trainer = implicitTrainer({ items, rank: o.rank, reg: o.reg, alpha: o.alpha, epochs: o.epochs, lr: o.lr });
    const result = await runSetting(o, root, "federated", o.rounds, settingConfig(o, { clipNorm: o.clipNorm }), catalog, participants, trainer, null, (p, update) => {
      const top = topK(scoreItems(update.u, update.V, items, o.rank), RECOMMENDATIONS, excludedOf(p));
      local.set(p.userId, { u: update.u, items: top.map((t) => t.item), scores: top.map((t) => t.score) });
    });
    const lines = [];
    for (const p of participants) {
      const mine = local.get(p.userId);
      const global = topK(scoreItems(mine.u, result.finalV, items, o.rank), RECOMMENDATIONS, excludedOf(p));
      const ids = (list) => list.map((item) => catalog.items[item].showId);
      const line = { user: String(p.userId), global: ids(global.map((g) => g.item)), local: ids(mine.items) };
      if (o.scores) line.scores = { global: global.map((g) => round5(g.score)), local: mine.scores.map(round5) };
      lines.push(JSON.stringify(line));
    }
    const file = path5.join(o.out, "recommendations.jsonl");
    await writeFileAtomic(file, `${lines.join("\n")}
`);
    return { files: [file], participants: participants.length, matching };
  } finally {
    await releaseRoot(o, root);
  }
}
async function readPredictPairs(file) {
  let text;
  try {
    text = await fs4.readFile(file, "utf8");
  } catch {
    throw new AppError("ERR_FILE_NOT_FOUND", `--predict ${file} cannot be read: give a CSV of userId,movieId rows`, { file });
  }
  const pairs = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const fields = line.trim().split(",");
    if (line.trim() === "" || i === 0 && !/^\d+$/.test(fields[0].trim())) return;
    const userId = Number(fields[0]);
    const movieId = Number(fields[1]);
    if (!Number.isSafeInteger(userId) || !Number.isSafeInteger(movieId)) {
      throw new AppError("ERR_RATINGS_FORMAT", `${file} row ${i + 1}: expected userId,movieId integers`, { file, row: i + 1 });
    }
    pairs.push({ userId, movieId });
  });
  return pairs;
}
async function runPredictions(o) {
  if (o.predictFile === null) throw new AppError("ERR_USAGE", "--protocol explicit --holdout none needs --predict <csv of userId,movieId>");
  const pairs = await readPredictPairs(o.predictFile);
  const { catalog, matcher, table, titles, index } = await loadData(o);
  const items = catalog.items.length;
  const scale = ratingScale(table);
  const isTrain = new Uint8Array(table.rows).fill(1);
  const mean = meanRating(table, isTrain);
  const root = await createTempRoot(bytesPerRound(table.userCount, items, o.rank));
  try {
    const participants = [];
    await ingestParticipants(
      { table, isTrain, catalog, matcher, titles, index, exportFile: exportFileOf(path5.join(root, "participants")), halfLifeDays: o.halfLifeDays, protocol: "explicit" },
      (p) => participants.push(p)
    );
    const trainer = explicitTrainer({ items, rank: o.rank, reg: o.reg, epochs: o.epochs, lr: o.lr, mean });
    const { finalV } = await runSetting(o, root, "federated", o.rounds, settingConfig(o, { clipNorm: o.clipNorm }), catalog, participants, trainer, null);
    const params = { rank: o.rank, reg: o.reg, mean };
    const trainOf = new Map(participants.map((p) => [p.userId, p.train]));
    const solved = /* @__PURE__ */ new Map();
    const lines = ["userId,movieId,prediction"];
    for (const { userId, movieId } of pairs) {
      let user = solved.get(userId);
      if (!user) {
        user = solveUserExplicit(finalV, o.rank, trainOf.get(userId) ?? [], params);
        solved.set(userId, user);
      }
      const item = index.get(movieId);
      const prediction = item === void 0 ? mean + user.bias : predictExplicit(user, finalV, item, o.rank, mean);
      lines.push(`${userId},${movieId},${clampRating(prediction, scale.min, scale.max).toFixed(PREDICTION_DECIMALS)}`);
    }
    const file = path5.join(o.out, "predictions.csv");
    await writeFileAtomic(file, `${lines.join("\n")}
`);
    return { files: [file], predictions: pairs.length };
  } finally {
    await releaseRoot(o, root);
  }
}

// src/commands/eval.ts
var DEFAULTS = {
  implicit: { rank: 32, reg: 1, alpha: 2, epochs: 1, lr: 100, serverLr: 8, rounds: 5, clip: 1e3 },
  explicit: { rank: 16, reg: 3, alpha: 0, epochs: 1, lr: 100, serverLr: 4, rounds: 30, clip: 1e3 }
};
var DEFAULT_HALF_LIFE_DAYS = 1e5;
var DEFAULT_EPSILONS = "1,8";
var DEFAULT_DP_DELTA = 1e-5;
var DEFAULT_DP_CLIP = 2;
var DEFAULT_DP_ROUNDS = 12;
var DEFAULT_DP_SERVER_LR = 4;
var DEFAULT_CENTRAL_ITERATIONS = 10;
var DEFAULT_FOLDS = 5;
var DEFAULT_SEED = 42;
var command = {
  usage: `
usage: npm run -s cli -- eval --ratings <dir> [options]

Turns every user of a MovieLens-format folder (ratings.csv, movies.csv) into a
participant with a Netflix-style export in a temporary SyftBox-layout root, runs
the real participant pipeline and aggregator rounds, and compares the federated
model with baselines on the same split. Progress goes to stderr.

  --ratings <dir>         MovieLens-format folder (required)
  --protocol <p>          implicit (leave-last-out; HR@10, NDCG@10, Recall@20, sampled HR/NDCG)
                          or explicit (k-fold; RMSE, MAE)                 [implicit]
  --folds <k>             folds of the explicit protocol                  [5]
  --holdout <h>           last (evaluate) or none (train on everything and write
                          recommendations.jsonl, or predictions.csv with --predict)  [last]
  --predict <csv>         explicit + --holdout none: userId,movieId pairs to predict
  --out <dir>             where reports, charts and outputs go            [eval-results]
  --rounds <n>            federated rounds                                [implicit 5, explicit 30]
  --rank <k> --reg <l> --alpha <a> --epochs <e> --lr <lr>
                          model and local training (defaults tuned per protocol)
  --server-lr <s>         FedAvg server learning rate                     [implicit 8, explicit 4]
  --clip <c>              participants' delta clip norm without DP        [1000]
  --half-life <days>      recency half-life of the implicit confidence   [100000 = off]
  --epsilons <list>       DP settings: total \u03B5 per user over all rounds, comma-separated,
                          or none                                         [1,8]
  --dp <mode>             central (aggregator noise), local (participant noise) or both  [central]
  --dp-budget <b>         what \u03B5 bounds: total (the user's whole run, zCDP over the rounds),
                          per-round (each round's Gaussian), or both      [total]
  --dp-delta <d>          \u03B4 per user (of the run, or of each round with per-round)  [1e-5]
  --dp-clip <c>           clip norm of the DP settings                    [2]
  --dp-rounds <n>         rounds of the DP settings                       [12]
  --dp-server-lr <s>      server learning rate of the DP settings         [4]
  --baselines <list>      popularity,local,central,fedopt, all or none    [all]
  --central-iterations <n> ALS iterations of the central baseline         [10]
  --titles <style>        export titles: catalog (Netflix-like, no year) or movielens  [catalog]
  --users <n>             only the first n users (quick runs)
  --seed <n>              split, sampling, initialization and noise seed  [42]
  --scores                add scores to recommendations.jsonl
  --keep-root             keep the temporary SyftBox root (printed)
  --json                  print the report JSON on stdout
`,
  async run(argv) {
    const { values } = parseOptions(argv, {
      ratings: { type: "string" },
      protocol: { type: "string" },
      folds: { type: "string" },
      holdout: { type: "string" },
      predict: { type: "string" },
      out: { type: "string" },
      rounds: { type: "string" },
      rank: { type: "string" },
      reg: { type: "string" },
      alpha: { type: "string" },
      epochs: { type: "string" },
      lr: { type: "string" },
      "server-lr": { type: "string" },
      clip: { type: "string" },
      "half-life": { type: "string" },
      epsilons: { type: "string" },
      dp: { type: "string" },
      "dp-budget": { type: "string" },
      "dp-delta": { type: "string" },
      "dp-clip": { type: "string" },
      "dp-rounds": { type: "string" },
      "dp-server-lr": { type: "string" },
      baselines: { type: "string" },
      "central-iterations": { type: "string" },
      titles: { type: "string" },
      users: { type: "string" },
      seed: { type: "string" },
      scores: { type: "boolean" },
      "keep-root": { type: "boolean" },
      json: { type: "boolean" }
    });
    if (!values.ratings) throw new AppError("ERR_USAGE", "--ratings <dir> is required (a folder with ratings.csv and movies.csv)");
    const protocol = oneOf("protocol", values.protocol ?? "implicit", ["implicit", "explicit"]);
    const holdout = oneOf("holdout", values.holdout ?? "last", ["last", "none"]);
    if (values.predict && (protocol !== "explicit" || holdout !== "none")) throw new AppError("ERR_USAGE", "--predict goes with --protocol explicit --holdout none");
    const d = DEFAULTS[protocol];
    const options = {
      ratingsDir: path6.resolve(values.ratings),
      out: path6.resolve(values.out ?? "eval-results"),
      protocol,
      holdout,
      folds: intOption("folds", values.folds, DEFAULT_FOLDS, 2),
      predictFile: values.predict ? path6.resolve(values.predict) : null,
      maxUsers: values.users === void 0 ? null : intOption("users", values.users, 0),
      rounds: intOption("rounds", values.rounds, d.rounds),
      rank: intOption("rank", values.rank, d.rank),
      reg: positive("reg", numberOption("reg", values.reg, d.reg), true),
      alpha: positive("alpha", numberOption("alpha", values.alpha, d.alpha), true),
      epochs: intOption("epochs", values.epochs, d.epochs),
      lr: positive("lr", numberOption("lr", values.lr, d.lr)),
      halfLifeDays: positive("half-life", numberOption("half-life", values["half-life"], DEFAULT_HALF_LIFE_DAYS)),
      serverLr: positive("server-lr", numberOption("server-lr", values["server-lr"], d.serverLr)),
      clipNorm: positive("clip", numberOption("clip", values.clip, d.clip)),
      epsilons: parseEpsilons(values.epsilons ?? DEFAULT_EPSILONS),
      dpBudgets: values["dp-budget"] === "both" ? ["total", "per-round"] : [oneOf("dp-budget", values["dp-budget"] ?? "total", ["total", "per-round"])],
      dpDelta: positive("dp-delta", numberOption("dp-delta", values["dp-delta"], DEFAULT_DP_DELTA)),
      dpModes: values.dp === "both" ? ["central", "local"] : [oneOf("dp", values.dp ?? "central", ["central", "local"])],
      dpClipNorm: positive("dp-clip", numberOption("dp-clip", values["dp-clip"], DEFAULT_DP_CLIP)),
      dpRounds: intOption("dp-rounds", values["dp-rounds"], DEFAULT_DP_ROUNDS),
      dpServerLr: positive("dp-server-lr", numberOption("dp-server-lr", values["dp-server-lr"], DEFAULT_DP_SERVER_LR)),
      baselines: parseBaselines(values.baselines ?? "all"),
      centralIterations: intOption("central-iterations", values["central-iterations"], DEFAULT_CENTRAL_ITERATIONS),
      titles: oneOf("titles", values.titles ?? "catalog", ["catalog", "movielens"]),
      seed: intOption("seed", values.seed, DEFAULT_SEED, 0),
      keepRoot: values["keep-root"] === true,
      scores: values.scores === true,
      command: `npm run -s cli -- eval ${argv.join(" ")}`,
      logger: moduleLogger("eval", rootLogger(process.env.LOG_LEVEL ?? "warn")),
      progress: (line) => process.stderr.write(`${line}
`)
    };
    if (holdout === "none") {
      const result = protocol === "implicit" ? await runRecommendations(options) : await runPredictions(options);
      for (const file of result.files) process.stderr.write(`wrote ${file}
`);
      if (values.json) process.stdout.write(`${JSON.stringify(result)}
`);
      return 0;
    }
    const { report, files } = protocol === "implicit" ? await runImplicit(options) : await runExplicit(options);
    const rows = report.settings.map((s) => `  ${s.name.padEnd(32)} ${Object.entries(s.metrics).filter(([k]) => k !== "users" && k !== "count").map(([k, v]) => `${k} ${v.toFixed(4)}`).join("  ")}`);
    process.stderr.write(`${rows.join("\n")}
`);
    for (const c of report.checks) process.stderr.write(`  ${c.met ? "met    " : "NOT MET"} ${c.name}: ${c.value.toFixed(4)} (threshold ${c.threshold})
`);
    for (const file of files) process.stderr.write(`wrote ${file}
`);
    if (values.json) process.stdout.write(`${JSON.stringify(report)}
`);
    return 0;
  }
};
function oneOf(name, value, allowed) {
  if (!allowed.includes(value)) throw new AppError("ERR_USAGE", `--${name} ${value}: expected one of ${allowed.join(", ")}`);
  return value;
}
function positive(name, value, allowZero = false) {
  if (value < 0 || !allowZero && value === 0) throw new AppError("ERR_USAGE", `--${name} ${value}: expected a number ${allowZero ? ">= 0" : "> 0"}`);
  return value;
}
function parseEpsilons(text) {
  if (text === "none") return [];
  return text.split(",").map((s) => {
    const n = Number(s.trim());
    if (!(n > 0) || !Number.isFinite(n)) throw new AppError("ERR_USAGE", `--epsilons ${text}: expected positive numbers separated by commas, or none`);
    return n;
  });
}
function parseBaselines(text) {
  if (text === "all") return new Set(ALL_BASELINES);
  if (text === "none") return /* @__PURE__ */ new Set();
  return new Set(
    text.split(",").map((s) => oneOf("baselines", s.trim(), ALL_BASELINES))
  );
}
export {
  command
};
//# sourceMappingURL=eval-PI2SG4PX.js.map
