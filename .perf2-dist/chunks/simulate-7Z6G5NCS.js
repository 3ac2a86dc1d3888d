import {
  auditRoot
} from "./chunk-CVWKA7DQ.js";
import {
  runSecureRoundInProcess
} from "./chunk-L5R43TGV.js";
import {
  SIGNIFICANCE_LEVEL,
  analyzeClicks,
  writeExperimentReport
} from "./chunk-FKFBVTOU.js";
import {
  runParticipantPass
} from "./chunk-VO35YDG3.js";
import {
  ARMS,
  CLICK_LOG_VERSION,
  ClickLog,
  armOnSide
} from "./chunk-RSHDQWJH.js";
import "./chunk-ZSCXCAKP.js";
import {
  readMemberStatus
} from "./chunk-PW473JHD.js";
import {
  loadRecommendations
} from "./chunk-IEFLLXFA.js";
import {
  secureParamsOf
} from "./chunk-WGELUT3Z.js";
import "./chunk-GPRVVA7K.js";
import "./chunk-XAGHYWDG.js";
import "./chunk-65BIV6JN.js";
import {
  lineChartSvg
} from "./chunk-PIJCIS4Q.js";
import "./chunk-EZ7ZEITT.js";
import {
  ensurePublishPermissions
} from "./chunk-NT3X3JSI.js";
import "./chunk-JKMSQLTA.js";
import {
  roundParams,
  runRound
} from "./chunk-IYQIEVDU.js";
import {
  auditParticipation,
  readGlobalCopies,
  readLedger
} from "./chunk-KB4S5H5D.js";
import {
  createRandom,
  deriveSeed
} from "./chunk-OPHXPK3N.js";
import "./chunk-TBES3XCL.js";
import "./chunk-VD4GDXTX.js";
import {
  createMatcher,
  loadCatalog,
  seasonCount
} from "./chunk-FC2Z3HKA.js";
import {
  moduleLogger,
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

// src/commands/simulate.ts
import path3 from "node:path";

// src/simulate/loop.ts
import { existsSync, promises as fs, statfsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";

// src/simulate/choice.ts
var DEFAULT_CHOICE = Object.freeze({ columnBias: Object.freeze({ left: 1, right: 0.8 }), positionDecay: 1 });
var SIDES = ["left", "right"];
var PAGE_VIEW_ID_LENGTH = 16;
var ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
function examination(side, rank, params) {
  return params.columnBias[side] * rank ** -params.positionDecay;
}
function pageViewId(random) {
  let id = "";
  for (let i = 0; i < PAGE_VIEW_ID_LENGTH; i++) id += ID_ALPHABET[random.int(ID_ALPHABET.length)];
  return id;
}
function simulatePageView(input) {
  const params = input.params ?? DEFAULT_CHOICE;
  const { random, lists, chosen } = input;
  const left = random.next() < 0.5 ? "local" : "global";
  const view = {
    v: CLICK_LOG_VERSION,
    type: "view",
    pageView: input.pageView,
    left,
    shown: { local: lists.local.length, global: lists.global.length },
    versions: { ...input.versions }
  };
  const clicks = [];
  const clickedItems = [];
  const depth = Math.max(...ARMS.map((arm) => lists[arm].length));
  for (let rank = 1; rank <= depth; rank++) {
    for (const side of SIDES) {
      const arm = armOnSide(left, side);
      const item = lists[arm][rank - 1];
      if (item === void 0 || chosen.has(item)) continue;
      if (random.next() < examination(side, rank, params) * input.utility(item)) {
        chosen.add(item);
        clicks.push({ v: CLICK_LOG_VERSION, type: "click", pageView: input.pageView, side, arm, rank });
        clickedItems.push(item);
      }
    }
  }
  return { view, clicks, clickedItems };
}
function listValue(list, utility, params = DEFAULT_CHOICE) {
  let value = 0;
  list.forEach((item, i) => {
    value += (i + 1) ** -params.positionDecay * utility(item);
  });
  return value;
}
function truePreference(lists, utility, params = DEFAULT_CHOICE) {
  const local = listValue(lists.local, utility, params);
  const global = listValue(lists.global, utility, params);
  return local === global ? null : global > local ? "global" : "local";
}
function dcg(list, gain) {
  let sum = 0;
  list.forEach((item, i) => {
    sum += gain(item) / Math.log2(i + 2);
  });
  return sum;
}
function gradedNdcg(list, ideal, utility) {
  const best = dcg(ideal, utility);
  return best > 0 ? dcg(list, utility) / best : 0;
}

// src/simulate/population.ts
var LATENT_DIMS = 8;
var GENRE_NOISE = 0.5;
var FAVOURITE_GENRES = 3;
var FAVOURITE_BOOST = 2;
var QUALITY_WEIGHT = 0.5;
var UTILITY_THRESHOLD = 3;
var HISTORY_MEDIAN_SHOWS = 20;
var HISTORY_SPREAD = 0.5;
var HISTORY_MIN_SHOWS = 5;
var HISTORY_MAX_SHOWS = 80;
var HISTORY_SHARPNESS = 2;
var HISTORY_DAYS = 182;
var SERIES_MEAN_EPISODES = 4;
var MAX_HISTORY_EPISODES = 40;
var MAX_EPISODES_PER_CHOICE = 4;
var ORGANIC_SHOWS_PER_WEEK = 1;
var DAYS_PER_WEEK = 7;
var EPISODES_PER_SEASON = 10;
var MS_PER_DAY = 864e5;
function createWorld(catalog, seed) {
  const random = createRandom(deriveSeed(seed, "world"));
  const genreIndex = /* @__PURE__ */ new Map();
  const genreStart = new Int32Array(catalog.items.length + 1);
  const ids = [];
  catalog.items.forEach((item, j) => {
    genreStart[j] = ids.length;
    for (const g of item.genres) {
      if (!genreIndex.has(g)) genreIndex.set(g, genreIndex.size);
      ids.push(genreIndex.get(g));
    }
  });
  genreStart[catalog.items.length] = ids.length;
  const items = catalog.items.length;
  const latent = new Float32Array(items * LATENT_DIMS);
  const scale = 1 / Math.sqrt(LATENT_DIMS);
  for (let i = 0; i < latent.length; i++) latent[i] = random.normal() * scale;
  const quality = new Float32Array(items);
  for (let j = 0; j < items; j++) quality[j] = random.normal();
  return { items, genres: [...genreIndex.keys()], genreStart, genreIds: Int32Array.from(ids), latent, quality };
}
function createTaste(world, seed, index) {
  const random = createRandom(deriveSeed(seed, `taste/${index}`));
  const genre = new Float32Array(world.genres.length);
  for (let g = 0; g < genre.length; g++) genre[g] = random.normal() * GENRE_NOISE;
  const sizes = new Float64Array(genre.length);
  for (const g of world.genreIds) sizes[g]++;
  for (let f = 0; f < Math.min(FAVOURITE_GENRES, genre.length); f++) {
    const g = drawProportional(sizes, random);
    genre[g] += FAVOURITE_BOOST;
    sizes[g] = 0;
  }
  const latent = new Float32Array(LATENT_DIMS);
  for (let a = 0; a < LATENT_DIMS; a++) latent[a] = random.normal();
  return { genre, latent };
}
function drawProportional(weights, random) {
  let total = 0;
  for (const w of weights) total += w;
  let x = random.next() * total;
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i];
    if (x < 0) return i;
  }
  return weights.length - 1;
}
var logistic = (x) => 1 / (1 + Math.exp(-x));
function utilities(world, taste) {
  const out = new Float32Array(world.items);
  for (let j = 0; j < world.items; j++) {
    const start = world.genreStart[j];
    const end = world.genreStart[j + 1];
    let genre = 0;
    for (let k = start; k < end; k++) genre += taste.genre[world.genreIds[k]];
    if (end > start) genre /= end - start;
    let latent = 0;
    for (let a = 0, off = j * LATENT_DIMS; a < LATENT_DIMS; a++) latent += taste.latent[a] * world.latent[off + a];
    out[j] = logistic(genre + latent + QUALITY_WEIGHT * world.quality[j] - UTILITY_THRESHOLD);
  }
  return out;
}
function bestItems(utility, k, exclude) {
  const best = [];
  for (let j = 0; j < utility.length; j++) {
    if (exclude.has(j)) continue;
    if (best.length === k && utility[j] <= utility[best[k - 1]]) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && utility[best[at - 1]] < utility[j]) at--;
    best.splice(at, 0, j);
    if (best.length > k) best.pop();
  }
  return best;
}
function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}
function usDate(isoDate) {
  const [y, m, d2] = isoDate.split("-").map(Number);
  return `${m}/${d2}/${String(y % 100).padStart(2, "0")}`;
}
function historyTitle(catalog, item, episode) {
  const { title, kind } = catalog.items[item];
  if (kind === "film") return title;
  const season = Math.min(Math.ceil(episode / EPISODES_PER_SEASON), seasonCount(catalog.items[item]) ?? Infinity);
  return `${title}: Season ${season}: Episode ${episode - (season - 1) * EPISODES_PER_SEASON}`;
}
function watchRows(catalog, participant, item, count, startMs, lastMs) {
  participant.seen.add(item);
  if (catalog.items[item].kind === "film") return [{ title: historyTitle(catalog, item, 1), date: isoDay(startMs) }];
  const done = participant.episodes.get(item) ?? 0;
  const rows = [];
  for (let e = 1; e <= count; e++) rows.push({ title: historyTitle(catalog, item, done + e), date: isoDay(Math.min(startMs + (e - 1) * MS_PER_DAY, lastMs)) });
  participant.episodes.set(item, done + count);
  return rows;
}
function episodeCount(random, mean2, cap) {
  let n = 1;
  while (n < cap && random.next() > 1 / mean2) n++;
  return n;
}
function createPopulation(catalog, world, options) {
  const people = [];
  for (let index = 0; index < options.participants; index++) {
    const taste = createTaste(world, options.seed, index);
    const random = createRandom(deriveSeed(options.seed, `history/${index}`));
    const participant = {
      index,
      email: options.email(index),
      taste,
      degraded: random.next() < options.degradeGlobal,
      history: [],
      seen: /* @__PURE__ */ new Set(),
      episodes: /* @__PURE__ */ new Map()
    };
    const u = utilities(world, taste);
    const shows = Math.min(HISTORY_MAX_SHOWS, Math.max(HISTORY_MIN_SHOWS, Math.round(Math.exp(Math.log(HISTORY_MEDIAN_SHOWS) + HISTORY_SPREAD * random.normal()))));
    const lastMs = options.startMs - MS_PER_DAY;
    for (const item of drawShows(u, shows, participant.seen, random)) {
      const day = options.startMs - (1 + random.int(HISTORY_DAYS)) * MS_PER_DAY;
      participant.history.push(...watchRows(catalog, participant, item, episodeCount(random, SERIES_MEAN_EPISODES, MAX_HISTORY_EPISODES), day, lastMs));
    }
    people.push(participant);
  }
  return people;
}
function drawShows(u, k, exclude, random) {
  const keys = new Float64Array(u.length);
  for (let j = 0; j < u.length; j++) {
    let x = 0;
    while (x === 0) x = random.next();
    keys[j] = HISTORY_SHARPNESS * Math.log(u[j]) - Math.log(-Math.log(x));
  }
  return bestItems(keys, k, exclude);
}
function organicViewing(catalog, participant, u, weekStartMs2, lastMs, random) {
  return drawShows(u, ORGANIC_SHOWS_PER_WEEK, participant.seen, random).flatMap((item) => watchThisWeek(catalog, participant, item, weekStartMs2, lastMs, random));
}
function watchThisWeek(catalog, participant, item, weekStartMs2, lastMs, random) {
  return watchRows(catalog, participant, item, 1 + random.int(MAX_EPISODES_PER_CHOICE), weekStartMs2 + random.int(DAYS_PER_WEEK - 1) * MS_PER_DAY, lastMs);
}
function formatHistoryCsv(rows) {
  const sorted = rows.map((row, i) => ({ row, i })).sort((a, b) => a.row.date === b.row.date ? b.i - a.i : a.row.date < b.row.date ? 1 : -1);
  const lines = sorted.map(({ row }) => `"${row.title.replace(/"/g, '""')}","${usDate(row.date)}"`);
  return `Title,Date
${lines.join("\n")}
`;
}
function titleMatchRate(catalog, matcher, people) {
  const cache = /* @__PURE__ */ new Map();
  let pairs = 0;
  let matched = 0;
  for (const p of people) {
    for (const item of p.seen) {
      let ok = cache.get(item);
      if (ok === void 0) {
        const title = matcher.decompose(historyTitle(catalog, item, 1));
        ok = matcher.match(title.show, title.kind).item === item;
        cache.set(item, ok);
      }
      pairs++;
      if (ok) matched++;
    }
  }
  return pairs === 0 ? 1 : matched / pairs;
}

// src/simulate/loop.ts
var SIM_AGGREGATOR = "aggregator@sim.example";
var SIM_START_MS = Date.UTC(2025, 0, 6);
var DEFAULT_SIM_RANK = 16;
var SIMULATION_FORMAT = "syftbox-netflix-svd/simulation";
var SIMULATION_FORMAT_VERSION = 1;
var PROFILE = "profile_0";
var CSV_NAME = "NetflixViewingHistory.csv";
var PAGE_HOUR_MS = 20 * 36e5;
var BYTES_PER_MB = 1024 * 1024;
var PARTICIPANT_OVERHEAD_BYTES = 64 * 1024;
var MATRICES_PER_PARTICIPANT = 3;
var SHM_DIR = "/dev/shm";
var SHM_HEADROOM = 1.5;
var DEFAULT_SIMULATION = Object.freeze({
  participants: 200,
  weeks: 10,
  seed: 1,
  rank: DEFAULT_SIM_RANK,
  recsPerColumn: 5,
  viewsPerWeek: 1,
  degradeGlobal: 0,
  aa: false,
  epsilon: 0,
  root: null,
  audit: true,
  choice: DEFAULT_CHOICE
});
function estimateRootBytes(participants, items, rank, weeks) {
  const matrix = items * rank * Float32Array.BYTES_PER_ELEMENT;
  return participants * (MATRICES_PER_PARTICIPANT * matrix + PARTICIPANT_OVERHEAD_BYTES) + (weeks + 1) * matrix;
}
function temporaryBase(estimateBytes) {
  try {
    if (existsSync(SHM_DIR)) {
      const fsStats = statfsSync(SHM_DIR);
      if (fsStats.bavail * fsStats.bsize > SHM_HEADROOM * estimateBytes && os.freemem() > SHM_HEADROOM * estimateBytes) return SHM_DIR;
    }
  } catch {
  }
  return os.tmpdir();
}
var emailOf = (index) => `participant-${String(index + 1).padStart(5, "0")}@sim.example`;
var weekStartMs = (week) => SIM_START_MS + (week - 1) * DAYS_PER_WEEK * MS_PER_DAY;
var pageTimeMs = (week) => weekStartMs(week) + (DAYS_PER_WEEK - 1) * MS_PER_DAY + PAGE_HOUR_MS;
async function createRootFolder(options, items) {
  if (options.root === null) {
    const base = temporaryBase(estimateRootBytes(options.participants, items, options.rank, options.weeks));
    return { dataDir: await fs.mkdtemp(path.join(base, "syftbox-sim-")), temporary: true };
  }
  const dataDir = path.resolve(options.root);
  await fs.mkdir(dataDir, { recursive: true });
  if ((await fs.readdir(dataDir)).length > 0) {
    throw new AppError("ERR_USAGE", `simulation root ${dataDir} is not empty: give a new or empty folder, so that no earlier run mixes in`);
  }
  return { dataDir, temporary: false };
}
async function buildRoot(folder, options, env, people, matcher) {
  const { catalog, logger } = env;
  const { dataDir, temporary } = folder;
  const clock = { nowMs: SIM_START_MS };
  const now = () => new Date(clock.nowMs);
  const base = withOverrides(env.config, {
    AGGREGATOR_DATASITE: SIM_AGGREGATOR,
    MODEL_RANK: String(options.rank),
    RECS_PER_COLUMN: String(options.recsPerColumn),
    DP_EPSILON: String(options.epsilon),
    SEED: String(options.seed),
    NETFLIX_PROFILES: PROFILE,
    NETFLIX_CSV: CSV_NAME,
    DATE_ORDER: "mdy"
  });
  createEmbeddedDatasite(dataDir, SIM_AGGREGATOR);
  const aggregator = {
    ws: new Workspace({ email: SIM_AGGREGATOR, dataDir }, base.APP_NAME),
    model: { items: catalog.items.length, rank: options.rank, vocabHash: catalog.hash },
    params: roundParams(base),
    random: createRandom(deriveSeed(options.seed, "server-noise")),
    now,
    logger: logger.child({ datasite: SIM_AGGREGATOR })
  };
  const secure = secureParamsOf(base, aggregator);
  const sites = [];
  for (const person of people) {
    const exportsDir = path.join(dataDir, "exports", person.email);
    const exportFile = path.join(exportsDir, PROFILE, CSV_NAME);
    await fs.mkdir(path.dirname(exportFile), { recursive: true });
    await fs.writeFile(exportFile, formatHistoryCsv(person.history));
    createEmbeddedDatasite(dataDir, person.email);
    const ws = new Workspace({ email: person.email, dataDir }, base.APP_NAME);
    const siteLogger = logger.child({ datasite: person.email });
    let deltas = 0;
    const ctx = {
      config: withOverrides(base, { OUTPUT_DIR: exportsDir }),
      ws,
      catalog,
      matcher,
      logger: siteLogger,
      now,
      noiseRandom: () => createRandom(deriveSeed(options.seed, `dp-noise/${person.index}/${deltas++}`)),
      onStep: env.probe?.passStep?.bind(env.probe)
    };
    const clickLog = new ClickLog(ws.clickLog(PROFILE), { logger: siteLogger, prepare: () => ensurePublishPermissions(ws, SIM_AGGREGATOR) });
    sites.push({ person, ctx, exportFile, clickLog, epsilon: 0, lastDeltaSha256: null });
  }
  return { dataDir, temporary, aggregator, secure, sites, clock };
}
var mean = (values) => values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length;
var elapsedSince = (t0) => performance.now() - t0;
function randomUnseen(items, n, seen, random) {
  const out = [];
  while (out.length < n) {
    const item = random.int(items);
    if (!seen.has(item) && !out.includes(item)) out.push(item);
  }
  return out;
}
async function appendViewing(site, rows) {
  site.person.history.push(...rows);
  await fs.writeFile(site.exportFile, formatHistoryCsv(site.person.history));
}
async function endWeek(site, week, nowMs, options, catalog, world) {
  const { person } = site;
  const timings = { recommendation: 0, choice: 0, clickWrite: 0, historyWrite: 0 };
  let t0 = performance.now();
  const u = utilities(world, person.taste);
  const watched = organicViewing(catalog, person, u, weekStartMs(week), nowMs, createRandom(deriveSeed(options.seed, `organic/${person.index}/${week}`)));
  timings.choice = elapsedSince(t0);
  const finish = async (outcome) => {
    t0 = performance.now();
    await appendViewing(site, watched);
    timings.historyWrite = elapsedSince(t0);
    return { ...outcome, timings };
  };
  t0 = performance.now();
  const recs = await loadRecommendations(site.ctx, PROFILE, options.recsPerColumn);
  timings.recommendation = elapsedSince(t0);
  if (recs === null || recs.globalVersion === null) return finish({ rows: [], truth: null });
  t0 = performance.now();
  const random = createRandom(deriveSeed(options.seed, `choice/${person.index}/${week}`));
  const utility = (item) => u[item];
  const local = recs.local.map((s) => s.id);
  const global = options.aa ? local : person.degraded ? bestItems(u.map((x) => -x), options.recsPerColumn, person.seen) : recs.global.map((s) => s.id);
  const lists = { local, global };
  const ideal = bestItems(u, options.recsPerColumn, person.seen);
  const truth = {
    ndcg: { local: gradedNdcg(local, ideal, utility), global: gradedNdcg(global, ideal, utility) },
    ndcgRandom: gradedNdcg(randomUnseen(u.length, options.recsPerColumn, person.seen, createRandom(deriveSeed(options.seed, `baseline/${person.index}/${week}`))), ideal, utility),
    preferred: truePreference(lists, utility, options.choice)
  };
  const logRows = [];
  const chosen = [];
  for (let view = 0; view < options.viewsPerWeek; view++) {
    const page = simulatePageView({
      pageView: pageViewId(random),
      lists,
      versions: { global: recs.globalVersion, localBase: recs.localBaseVersion },
      utility,
      chosen: person.seen,
      random,
      params: options.choice
    });
    logRows.push(page.view, ...page.clicks);
    chosen.push(...page.clickedItems);
  }
  for (const item of chosen) watched.push(...watchThisWeek(catalog, person, item, weekStartMs(week), nowMs, random));
  timings.choice += elapsedSince(t0);
  t0 = performance.now();
  await Promise.all(logRows.map((row) => site.clickLog.append(row)));
  timings.clickWrite = elapsedSince(t0);
  const participant = `${person.email}/${PROFILE}`;
  return finish({ rows: logRows.map((row) => ({ ...row, participant })), truth });
}
async function runWeek(root, week, options, env, world) {
  const timings = { participantPass: 0, round: 0, recommendation: 0, choice: 0, clickWrite: 0, historyWrite: 0, report: 0 };
  root.clock.nowMs = pageTimeMs(week);
  let deltasPublished = 0;
  let failedPasses = 0;
  for (const site of root.sites) {
    const t02 = performance.now();
    const result = await runParticipantPass(site.ctx);
    const t1 = performance.now();
    env.probe?.passDone(t02, t1);
    timings.participantPass += t1 - t02;
    failedPasses += result.failed.length;
    for (const outcome of result.profiles) {
      if (outcome.status === "trained") deltasPublished++;
      if (outcome.status !== "published") continue;
      deltasPublished++;
      site.epsilon += outcome.manifest.noise?.epsilon ?? 0;
      site.lastDeltaSha256 = outcome.manifest.sha256;
    }
  }
  let t0 = performance.now();
  const round = await runWeekRound(root, options);
  timings.round = elapsedSince(t0);
  const rows = [];
  const ndcg = { local: [], global: [], random: [] };
  const favour = { global: 0, local: 0 };
  let participantsShown = 0;
  for (const site of root.sites) {
    const outcome = await endWeek(site, week, root.clock.nowMs, options, env.catalog, world);
    for (const [step, ms] of Object.entries(outcome.timings)) timings[step] += ms;
    rows.push(...outcome.rows);
    if (outcome.truth === null) continue;
    participantsShown++;
    ndcg.local.push(outcome.truth.ndcg.local);
    ndcg.global.push(outcome.truth.ndcg.global);
    ndcg.random.push(outcome.truth.ndcgRandom);
    if (outcome.truth.preferred) favour[outcome.truth.preferred]++;
  }
  t0 = performance.now();
  const { report } = await writeExperimentReport(root.aggregator.ws, {
    now: root.aggregator.now,
    random: createRandom(deriveSeed(options.seed, `bootstrap/${week}`)),
    logger: root.aggregator.logger
  });
  timings.report = elapsedSince(t0);
  const thisWeek = analyzeClicks(rows, { bootstrapSamples: 1 });
  const decided = favour.global + favour.local;
  return {
    week,
    ctr: { local: thisWeek.arms.local.clickRate, global: thisWeek.arms.global.clickRate },
    pValue: report.signTest.pValue,
    truePreference: decided > 0 ? favour.global / decided : null,
    ndcg: { local: mean(ndcg.local), global: mean(ndcg.global) },
    ndcgRandomBaseline: mean(ndcg.random),
    epsilonSpent: Math.max(0, ...root.sites.map((s) => s.epsilon)),
    roundMs: Math.round(timings.round),
    counts: {
      deltasPublished,
      deltasAccepted: round.accepted,
      failedPasses,
      globalVersion: round.version,
      participantsShown,
      pageViews: thisWeek.pageViews,
      clicks: { local: thisWeek.arms.local.clicks, global: thisWeek.arms.global.clicks },
      preferGlobal: report.signTest.preferGlobal,
      preferLocal: report.signTest.preferLocal
    },
    timingsMs: roundEach(timings)
  };
}
async function runWeekRound(root, options) {
  if (root.secure === null) {
    const result = await runRound(root.aggregator);
    return { accepted: result.counts.accepted, version: result.version };
  }
  const summary = await runSecureRoundInProcess({ ...root.aggregator, secure: root.secure }, root.sites.map((s) => s.ctx));
  if (summary?.outcome !== "merged") return { accepted: 0, version: summary?.version ?? 0 };
  for (const site of root.sites) {
    const counted = (await readMemberStatus(site.ctx.ws))?.lastCounted;
    if (counted?.roundId !== summary.roundId) continue;
    site.lastDeltaSha256 = counted.maskedSha256;
    if (root.secure.noise.sigma > 0 && counted.weight === 1) site.epsilon += options.epsilon;
  }
  return { accepted: summary.survivors.length, version: summary.version };
}
function roundEach(values) {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Math.round(v)]));
}
async function checkRoot(root, audit) {
  const { ws } = root.aggregator;
  const t0 = performance.now();
  const entries = await readLedger(ws.ledgerFile(ws.email));
  const check = auditParticipation(entries, { globals: await readGlobalCopies(ws.globalDir(ws.email)), delta: null, graceMs: 0 });
  const merged = new Set(entries.flatMap((e) => e.accepted.map((a) => a.deltaSha256)));
  const lastDeltasIncluded = root.sites.filter((s) => s.lastDeltaSha256 !== null && merged.has(s.lastDeltaSha256)).length;
  const problems = [...check.problems];
  if (lastDeltasIncluded < root.sites.length) problems.push(`${root.sites.length - lastDeltasIncluded} participants' last delta is not in the ledger`);
  const t1 = performance.now();
  const report = audit ? await auditRoot({ dataDir: root.dataDir, appName: ws.appName, aggregator: ws.email }) : null;
  const checksMs = { ledger: Math.round(t1 - t0), audit: Math.round(elapsedSince(t1)) };
  return {
    checksMs,
    ledgerOk: problems.length === 0,
    ledger: { entries: entries.length, problems, lastDeltasIncluded, participants: root.sites.length },
    auditOk: report ? report.ok : null,
    auditViolations: report ? report.violations.length : null
  };
}
async function folderBytes(dir) {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(file);
    else if (entry.isFile()) total += (await fs.stat(file)).size;
  }
  return total;
}
var peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
async function runSimulation(options, env) {
  const t0 = performance.now();
  const { catalog } = env;
  const world = createWorld(catalog, options.seed);
  const people = createPopulation(catalog, world, {
    participants: options.participants,
    seed: options.seed,
    degradeGlobal: options.degradeGlobal,
    startMs: SIM_START_MS,
    email: emailOf
  });
  const matcher = createMatcher(catalog);
  const matchRate = titleMatchRate(catalog, matcher, people);
  const folder = await createRootFolder(options, catalog.items.length);
  try {
    const root = await buildRoot(folder, options, env, people, matcher);
    const setupMs = Math.round(elapsedSince(t0));
    const weeks = [];
    for (let week = 1; week <= options.weeks; week++) {
      const metrics = { ...await runWeek(root, week, options, env, world), elapsedMs: Math.round(elapsedSince(t0)) };
      weeks.push(metrics);
      env.onWeek?.(metrics, options.weeks);
    }
    const checks = await checkRoot(root, options.audit);
    await env.probe?.inspect?.({ aggregator: root.aggregator.ws, participants: root.sites.map((s) => s.ctx.ws) });
    const { root: _root, ...params } = options;
    const config = root.sites[0]?.ctx.config ?? env.config;
    return {
      format: SIMULATION_FORMAT,
      formatVersion: SIMULATION_FORMAT_VERSION,
      params: {
        ...params,
        items: catalog.items.length,
        model: {
          ALS_REG: config.ALS_REG,
          ALS_ALPHA: config.ALS_ALPHA,
          LOCAL_EPOCHS: config.LOCAL_EPOCHS,
          LOCAL_LR: config.LOCAL_LR,
          FEEDBACK_MODE: config.FEEDBACK_MODE,
          DELTA_CLIP_NORM: config.DELTA_CLIP_NORM,
          DP_DELTA: config.DP_DELTA,
          PRIVACY_BUDGET_EPSILON: config.PRIVACY_BUDGET_EPSILON,
          SERVER_LR: config.SERVER_LR,
          MERGE_MODE: config.MERGE_MODE,
          SECURE_AGGREGATION: config.SECURE_AGGREGATION,
          DIVERSITY: config.DIVERSITY
        }
      },
      titleMatchRate: matchRate,
      weeks,
      ...checks,
      root: root.temporary ? null : root.dataDir,
      rootMb: Math.round(await folderBytes(root.dataDir) / BYTES_PER_MB),
      setupMs,
      wallMs: Math.round(elapsedSince(t0)),
      peakRssMb: peakRssMb()
    };
  } finally {
    if (folder.temporary) await fs.rm(folder.dataDir, { recursive: true, force: true });
  }
}

// src/simulate/report.ts
import { promises as fs2 } from "node:fs";
import path2 from "node:path";
var RESULTS_FILE = "results.json";
var WEEK = "week";
var fmt = (v, digits = 3) => v === null ? "\u2013" : v.toFixed(digits);
function simulationCharts(result) {
  const { participants, degradeGlobal, aa, recsPerColumn } = result.params;
  const setting = aa ? "A/A" : degradeGlobal > 0 ? `global degraded for ${Math.round(degradeGlobal * 100)}%` : "local vs global";
  const title = (metric) => `${metric} (${participants} participants, ${setting})`;
  const line = (name, pick) => ({
    name,
    points: result.weeks.flatMap((w) => {
      const y = pick(w);
      return y === null ? [] : [[w.week, y]];
    })
  });
  const arms = (pick) => [line("local", (w) => pick(w).local), line("global", (w) => pick(w).global)];
  return {
    "ctr.svg": { title: title("Click-through rate per week"), xLabel: WEEK, yLabel: "clicks / impressions", series: arms((w) => w.ctr), references: [] },
    "p-value.svg": {
      title: title("Sign test on the clicks so far"),
      xLabel: WEEK,
      yLabel: "\u2212log10(p): higher is more significant",
      series: [line("\u2212log10(p)", (w) => -Math.log10(w.pValue))],
      references: [{ name: `p = ${SIGNIFICANCE_LEVEL}`, y: -Math.log10(SIGNIFICANCE_LEVEL) }]
    },
    "true-preference.svg": {
      title: title("Hidden tastes favouring the global list"),
      xLabel: WEEK,
      yLabel: "share of participants",
      series: [line("favour global", (w) => w.truePreference)],
      references: [{ name: "no preference", y: 0.5 }]
    },
    "ndcg.svg": {
      title: title(`NDCG@${recsPerColumn} against the hidden utility`),
      xLabel: WEEK,
      yLabel: "mean NDCG",
      series: [...arms((w) => w.ndcg), line("random unseen shows", (w) => w.ndcgRandomBaseline)],
      references: []
    },
    "epsilon.svg": { title: title("Privacy spent per participant"), xLabel: WEEK, yLabel: "epsilon (largest total)", series: [line("epsilon", (w) => w.epsilonSpent)], references: [] },
    "round-ms.svg": { title: title("Aggregation round wall time"), xLabel: WEEK, yLabel: "ms", series: [line("round", (w) => w.roundMs)], references: [] }
  };
}
async function writeSimulationResults(outDir, result) {
  await fs2.mkdir(outDir, { recursive: true });
  const files = [path2.join(outDir, RESULTS_FILE)];
  await writeJsonAtomic(files[0], result);
  for (const [name, spec] of Object.entries(simulationCharts(result))) {
    const file = path2.join(outDir, name);
    await writeFileAtomic(file, lineChartSvg(spec));
    files.push(file);
  }
  return files;
}
var seconds = (ms) => `${(ms / 1e3).toFixed(1)} s`;
function formatWeekProgress(week, total, participants) {
  const perWeek = week.elapsedMs / week.week;
  const eta = perWeek * (total - week.week);
  const c = week.counts;
  return `week ${week.week}/${total}: ${participants} participants, ${c.deltasAccepted} deltas merged into Global_V v${c.globalVersion}, ${c.pageViews} page views, clicks local ${c.clicks.local} / global ${c.clicks.global}, p = ${fmt(week.pValue, 4)}; ${seconds(week.elapsedMs)} elapsed, ETA ${seconds(eta)}`;
}
function formatSummary(result, files) {
  const header = ["week", "ctr local", "ctr global", "p-value", "true pref", "ndcg local", "ndcg global", "ndcg random", "epsilon", "round ms"];
  const rows = result.weeks.map((w) => [
    String(w.week),
    fmt(w.ctr.local),
    fmt(w.ctr.global),
    fmt(w.pValue, 4),
    fmt(w.truePreference),
    fmt(w.ndcg.local),
    fmt(w.ndcg.global),
    fmt(w.ndcgRandomBaseline),
    fmt(w.epsilonSpent, 2),
    String(w.roundMs)
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  const last = result.weeks.at(-1);
  const verdict = !last ? "no weeks run" : last.pValue < SIGNIFICANCE_LEVEL ? `the experiment report prefers the ${last.counts.preferGlobal > last.counts.preferLocal ? "global" : "local"} model (p = ${fmt(last.pValue, 4)})` : `the experiment report sees no significant preference (p = ${fmt(last.pValue, 4)})`;
  return [
    `simulated ${result.params.participants} participants for ${result.weeks.length} weeks (seed ${result.params.seed}, rank ${result.params.rank}) in ${seconds(result.wallMs)}, peak RSS ${result.peakRssMb} MB`,
    `title match rate of the generated histories: ${(result.titleMatchRate * 100).toFixed(2)}%`,
    "",
    line(header),
    ...rows.map(line),
    "",
    `verdict: ${verdict}`,
    `ledger: ${result.ledgerOk ? "verifies" : `FAILS (${result.ledger.problems.join("; ")})`} (${result.ledger.entries} rounds, ${result.ledger.lastDeltasIncluded}/${result.ledger.participants} last deltas merged)`,
    `audit: ${result.auditOk === null ? "skipped" : result.auditOk ? "no privacy violation" : `${result.auditViolations} violations`}`,
    `wrote ${files.join(", ")}`,
    ""
  ].join("\n");
}

// src/commands/simulate.ts
var MAX_PARTICIPANTS = 99999;
var MAX_RANK = 256;
var MAX_RECS = 50;
var DEFAULT_OUT = "sim-results";
var d = DEFAULT_SIMULATION;
var command = {
  usage: `
usage: npm run -s cli -- simulate [--participants P] [--weeks W] [--seed S] [--json] [--out DIR] [options]

Builds a SyftBox-layout root with one aggregator (${SIM_AGGREGATOR}) and P
participants, each with hidden tastes over the catalogue's genres and latent
factors and a NetflixViewingHistory.csv drawn from them. Every week, every
participant runs the production participant pass (train, publish its delta),
the aggregator runs its round, each participant watches a show it finds by
itself, is shown the page's local and global lists (sides drawn per page view)
and clicks by the choice model on its hidden tastes (src/simulate/choice.ts);
clicks go to its click log, everything watched to its export. Writes
results.json and one SVG chart per metric to --out.
Model and privacy settings come from the configuration (.env, environment),
e.g. SERVER_LR=30 LOCAL_EPOCHS=1 npm run -s cli -- simulate.

  --participants P     simulated participants (default ${d.participants}; 5,000 fit one machine)
  --weeks W            weeks to simulate (default ${d.weeks})
  --seed S             seed of tastes, histories, choices and noise (default ${d.seed})
  --rank R             MODEL_RANK of the simulated federation (default ${d.rank}, half the
                       app's default: files, training and merging cost about half)
  --recs N             shows per column, and N of NDCG@N (default ${d.recsPerColumn})
  --views-per-week V   page views per participant and week (default ${d.viewsPerWeek})
  --degrade-global F   for a share F of the participants, replace the global list by
                       the unseen shows their hidden tastes rate lowest (a planted
                       difference the experiment should detect; default 0)
  --aa                 A/A test: both columns show the local model's list
  --epsilon E          DP_EPSILON per published delta (default ${d.epsilon}: no noise)
  --out DIR            folder for results.json and the charts (default ${DEFAULT_OUT})
  --root DIR           build the root in DIR (new or empty) and keep it; default: a
                       temporary folder (/dev/shm when it has room), deleted at the end
  --no-audit           skip the permission audit at the end (slow beyond ~2,000 participants)
  --json               print the results as one JSON object on stdout
  --verbose            show the components' log lines (LOG_LEVEL) on stderr
Progress goes to stderr, one line per week. Exit 0, or 1 when the ledger or
the audit fails.
`,
  async run(argv) {
    const { values } = parseOptions(argv, {
      participants: { type: "string" },
      weeks: { type: "string" },
      seed: { type: "string" },
      rank: { type: "string" },
      recs: { type: "string" },
      "views-per-week": { type: "string" },
      "degrade-global": { type: "string" },
      aa: { type: "boolean", default: false },
      epsilon: { type: "string" },
      out: { type: "string" },
      root: { type: "string" },
      "no-audit": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      verbose: { type: "boolean", default: false }
    });
    const options = {
      ...d,
      participants: boundedInt("participants", values.participants, d.participants, 1, MAX_PARTICIPANTS),
      weeks: intOption("weeks", values.weeks, d.weeks),
      seed: intOption("seed", values.seed, d.seed, 0),
      rank: boundedInt("rank", values.rank, d.rank, 1, MAX_RANK),
      recsPerColumn: boundedInt("recs", values.recs, d.recsPerColumn, 1, MAX_RECS),
      viewsPerWeek: intOption("views-per-week", values["views-per-week"], d.viewsPerWeek),
      degradeGlobal: share("degrade-global", values["degrade-global"]),
      aa: values.aa,
      epsilon: numberOption("epsilon", values.epsilon, d.epsilon),
      root: values.root === void 0 ? null : path3.resolve(values.root),
      audit: !values["no-audit"]
    };
    if (options.aa && options.degradeGlobal > 0) throw new AppError("ERR_USAGE", "--aa shows the same list in both columns; it cannot be combined with --degrade-global");
    if (options.epsilon < 0) throw new AppError("ERR_USAGE", `--epsilon ${values.epsilon}: expected a number >= 0`);
    const outDir = path3.resolve(values.out ?? DEFAULT_OUT);
    const config = loadConfig();
    const logger = moduleLogger("simulate", rootLogger(values.verbose ? config.LOG_LEVEL : "warn", 2));
    const catalog = await loadCatalog(config.CATALOG_PATH);
    const progress = (line) => process.stderr.write(`${line}
`);
    progress(`simulating ${options.participants} participants x ${options.weeks} weeks (seed ${options.seed}, rank ${options.rank}, ${catalog.items.length} shows)`);
    const result = await runSimulation(options, {
      config,
      catalog,
      logger,
      onWeek: (week, total) => progress(formatWeekProgress(week, total, options.participants))
    });
    const files = await writeSimulationResults(outDir, result);
    process.stdout.write(values.json ? `${JSON.stringify(result)}
` : formatSummary(result, files));
    return result.ledgerOk && result.auditOk !== false ? 0 : 1;
  }
};
function boundedInt(name, value, fallback, min, max) {
  const n = intOption(name, value, fallback, min);
  if (n > max) throw new AppError("ERR_USAGE", `--${name} ${value}: expected an integer from ${min} to ${max}`);
  return n;
}
function share(name, value) {
  const n = numberOption(name, value, 0);
  if (n < 0 || n > 1) throw new AppError("ERR_USAGE", `--${name} ${value}: expected a share from 0 to 1`);
  return n;
}
export {
  command
};
//# sourceMappingURL=simulate-7Z6G5NCS.js.map
