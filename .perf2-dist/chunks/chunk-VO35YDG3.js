import {
  publishAllCommunityStats,
  syncBlend
} from "./chunk-ZSCXCAKP.js";
import {
  assignProfiles,
  groupByProfileName,
  profileSources,
  readAssignments,
  recordContributionMode,
  respondToSecureRound
} from "./chunk-PW473JHD.js";
import {
  STATE_FORMAT_VERSION,
  readGrantedGlobal,
  readHistoryCache,
  readPrivacyLedger,
  readProfileState,
  writeHistoryCache,
  writePrivacyLedger,
  writeProfileModel
} from "./chunk-IEFLLXFA.js";
import {
  coalesce,
  untilAborted
} from "./chunk-GPRVVA7K.js";
import {
  matchHistory,
  privatizeDelta,
  trainLocal
} from "./chunk-EZ7ZEITT.js";
import {
  ensurePublishPermissions
} from "./chunk-NT3X3JSI.js";
import {
  canSpend,
  deltaNoiseSigma,
  gaussianSpend,
  initialItemFactors,
  privacySpent,
  recordSpend
} from "./chunk-OPHXPK3N.js";
import {
  writeDelta
} from "./chunk-TBES3XCL.js";
import {
  hashHistory,
  readHistory
} from "./chunk-VD4GDXTX.js";
import {
  AppError,
  formatError,
  requireValue
} from "./chunk-3L2Z3EX5.js";

// src/participant/protection.ts
function describeProtection(config) {
  const noised = config.DP_EPSILON > 0;
  const deltas = noised ? "dp-noise" : "none";
  if (config.SECURE_AGGREGATION === "on") {
    const seen = "SECURE_AGGREGATION=on: the aggregator sees only the sum of the round's contributions";
    if (noised) {
      return {
        aggregation: "secure",
        deltas,
        warn: false,
        message: `${seen}; that sum carries noise for (${config.DP_EPSILON}, ${config.DP_DELTA})-differential privacy (this datasite declines a round that adds less)`
      };
    }
    return {
      aggregation: "secure",
      deltas,
      warn: true,
      message: `DP_EPSILON=0: no differential-privacy noise is added. ${seen}, but that sum carries no noise, so contributors comparing consecutive Global_V versions can learn from it which shows were watched; set DP_EPSILON (e.g. 8) to add noise`
    };
  }
  if (noised) {
    const sigma = deltaNoiseSigma(config.DP_EPSILON, config.DP_DELTA, config.DELTA_CLIP_NORM);
    return {
      aggregation: "plain",
      deltas,
      warn: false,
      message: `deltas carry Gaussian noise (sigma ${sigma.toPrecision(3)}): each is (${config.DP_EPSILON}, ${config.DP_DELTA})-differentially private towards the aggregator and every contributor`
    };
  }
  return {
    aggregation: "plain",
    deltas,
    warn: true,
    message: "DP_EPSILON=0: deltas are published without differential-privacy noise, so the aggregator (from your delta) and other contributors (from consecutive Global_V versions) can tell which shows you watched; set DP_EPSILON (e.g. 8) to add noise"
  };
}
function logProtection(config, logger) {
  const protection = describeProtection(config);
  const fields = { aggregation: protection.aggregation, protection: protection.deltas };
  if (protection.warn) logger.warn(fields, protection.message);
  else logger.info(fields, protection.message);
  return protection;
}

// src/participant/node.ts
import { createHash } from "node:crypto";
import { existsSync as existsSync2 } from "node:fs";

// src/participant/extras.ts
async function afterParticipantPass(ctx, result) {
  try {
    await publishAllCommunityStats(ctx, result.profiles.map((p) => p.profile));
    await syncBlend(ctx);
  } catch (err) {
    ctx.logger.error({ err: formatError(err) }, "could not publish community statistics or the blend");
  }
}

// src/participant/watch.ts
import { existsSync } from "node:fs";
import path from "node:path";
import { watch } from "chokidar";
function watchTargets(targets, { debounceMs, logger, onChange }) {
  const resolved = targets.map((t) => path.resolve(t));
  const roots = [...new Set(resolved.map((t) => nearestExistingAncestor(path.dirname(t))))];
  const relevant = (p) => roots.includes(p) || resolved.some((t) => p === t || p.startsWith(t + path.sep) || t.startsWith(p + path.sep));
  const watcher = watch(roots, {
    ignoreInitial: true,
    ignored: (p) => !relevant(path.resolve(p)) || p.endsWith(".tmp"),
    awaitWriteFinish: { stabilityThreshold: Math.min(debounceMs, 500), pollInterval: 50 }
  });
  let pending = /* @__PURE__ */ new Set();
  let timer;
  watcher.on("all", (event, changed) => {
    const file = path.resolve(changed);
    if (!resolved.some((t) => file === t || file.startsWith(t + path.sep))) return;
    logger.debug({ event, file }, "watched path changed");
    pending.add(file);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const batch = [...pending];
      pending = /* @__PURE__ */ new Set();
      onChange(batch);
    }, debounceMs);
  });
  watcher.on("error", (err) => logger.warn({ err }, "file watcher error"));
  const ready = new Promise((resolve) => watcher.once("ready", () => resolve()));
  return {
    ready,
    async close() {
      clearTimeout(timer);
      await watcher.close();
    }
  };
}
function nearestExistingAncestor(target) {
  let dir = target;
  while (!existsSync(dir)) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dir;
}

// src/participant/node.ts
async function loadBase(ctx) {
  const { config, ws, catalog } = ctx;
  const aggregator = requireValue(config, "AGGREGATOR_DATASITE", "the participant needs to know whose Global_V to read");
  const expect = { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash };
  const model = await readGrantedGlobal(ws, aggregator, expect, ctx.logger);
  if (model) return { version: model.manifest.version, values: model.values, access: "granted" };
  return { version: 0, values: initialItemFactors(expect.items, expect.rank, config.SEED), access: "waiting" };
}
async function eventsOfSource(ctx, source, sourceSha256, reserved) {
  const { ws } = ctx;
  const mine = (await readAssignments(ws.privateRoot())).filter((a) => a.folder === source.folder);
  if (mine.length > 0) {
    const out2 = /* @__PURE__ */ new Map();
    for (const { profile } of mine) {
      const cache = await readHistoryCache(ws.privateDir(profile)).catch(() => null);
      if (!cache || cache.sourceSha256 !== sourceSha256) break;
      out2.set(profile, cache.events);
    }
    if (out2.size === mine.length) return out2;
  }
  const parsed = await readHistory(source.file, { dateOrder: ctx.config.DATE_ORDER, now: ctx.now(), log: ctx.logger });
  if (parsed.events.length === 0) {
    const skipped2 = Object.entries(parsed.skipped).map(([reason, n]) => `${n} ${reason}`).join(", ");
    throw new AppError("ERR_HISTORY_EMPTY", `${source.file}: no usable row (${parsed.rows} rows, skipped: ${skipped2}); export the history again from Netflix`, { file: source.file });
  }
  const groups = groupByProfileName(parsed.events);
  const assignments = await assignProfiles(ws.privateRoot(), source.folder, [...groups.keys()], reserved);
  const out = /* @__PURE__ */ new Map();
  for (const a of assignments) {
    const events = groups.get(a.name) ?? [];
    out.set(a.profile, events);
    await writeHistoryCache(ws.privateDir(a.profile), sourceSha256, events);
  }
  const skipped = Object.entries(parsed.skipped).filter(([, n]) => n > 0);
  ctx.logger.info({ folder: source.folder, rows: parsed.rows, profiles: assignments.length, skipped: Object.fromEntries(skipped) }, "read viewing history");
  ctx.onStep?.("history");
  return out;
}
async function processProfile(ctx, profile, events, sourceSha256, base) {
  const { config, ws, catalog, logger } = ctx;
  const dir = ws.privateDir(profile);
  const items = catalog.items.length;
  const rank = config.MODEL_RANK;
  const params = {
    rank,
    reg: config.ALS_REG,
    alpha: config.ALS_ALPHA,
    epochs: config.LOCAL_EPOCHS,
    lr: config.LOCAL_LR,
    clip: config.DELTA_CLIP_NORM,
    epsilon: config.DP_EPSILON,
    dpDelta: config.DP_DELTA,
    mode: config.FEEDBACK_MODE,
    halfLife: config.RECENCY_HALF_LIFE_DAYS
  };
  const inputsSha256 = createHash("sha256").update(JSON.stringify({ sourceSha256, base: base.version, access: base.access, vocab: catalog.hash, params })).digest("hex");
  const secure = config.SECURE_AGGREGATION === "on";
  const previous = await readProfileState(dir);
  if (previous && previous.inputsSha256 === inputsSha256 && (secure || previous.lastDeltaSha256 !== null)) {
    return { profile, status: "unchanged", access: base.access, baseVersion: base.version };
  }
  const matched = matchHistory(events, ctx.matcher, { now: ctx.now(), halfLifeDays: config.RECENCY_HALF_LIFE_DAYS, mode: config.FEEDBACK_MODE });
  const trained = trainLocal(base.values, matched.interactions, { ...params, items });
  const state = {
    formatVersion: STATE_FORMAT_VERSION,
    profile,
    rank,
    items,
    vocabHash: catalog.hash,
    baseVersion: base.version,
    access: base.access,
    trainedAt: ctx.now().toISOString(),
    watched: matched.watched,
    lastDeltaSha256: previous?.lastDeltaSha256 ?? null,
    lastPublishedBase: previous?.lastPublishedBase ?? null,
    publishBlocked: null,
    inputsSha256
  };
  logger.info(
    { profile, baseVersion: base.version, interactions: matched.interactions.length, unmatchedShows: matched.unmatchedShows, lossBefore: trained.loss[0], lossAfter: trained.loss.at(-1) },
    "trained local model"
  );
  ctx.onStep?.("training");
  if (secure) {
    await writeProfileModel(dir, { state, u: trained.u, vLocal: trained.V, vGlobal: base.values });
    ctx.onStep?.("delta");
    logger.info({ profile, baseVersion: base.version }, "kept the trained model for the next secure round");
    return { profile, status: "trained", access: base.access, baseVersion: base.version };
  }
  let ledger = await readPrivacyLedger(dir);
  const budget = { epsilon: config.PRIVACY_BUDGET_EPSILON, delta: config.DP_DELTA, periodDays: 0 };
  const spend = config.DP_EPSILON > 0 ? gaussianSpend(ctx.now().toISOString(), "delta-local", { l2: 2 * config.DELTA_CLIP_NORM, sigma: deltaNoiseSigma(config.DP_EPSILON, config.DP_DELTA, config.DELTA_CLIP_NORM) }) : null;
  if (spend !== null && !canSpend(ledger, spend, budget, ctx.now())) {
    const epsilonSpent = privacySpent(ledger, budget, ctx.now()).epsilon;
    state.publishBlocked = `privacy budget spent: ${epsilonSpent.toFixed(2)} of ${config.PRIVACY_BUDGET_EPSILON}`;
    await writeProfileModel(dir, { state, u: trained.u, vLocal: trained.V, vGlobal: base.values });
    logger.warn({ profile, epsilonSpent, budget: config.PRIVACY_BUDGET_EPSILON }, "privacy budget reached: this profile publishes no more deltas (raise PRIVACY_BUDGET_EPSILON to continue)");
    return { profile, status: "blocked", access: base.access, baseVersion: base.version, reason: state.publishBlocked };
  }
  const delta = privatizeDelta(trained.V, base.values, { clipNorm: config.DELTA_CLIP_NORM, epsilon: config.DP_EPSILON, delta: config.DP_DELTA, random: ctx.noiseRandom() });
  await writeProfileModel(dir, { state, u: trained.u, vLocal: trained.V, vGlobal: base.values });
  const createdAt = ctx.now().toISOString();
  if (spend !== null) {
    ledger = recordSpend(ledger, { ...spend, at: createdAt });
    await writePrivacyLedger(dir, ledger);
  }
  const manifest = await writeDelta(ws.profileDir(profile), delta.values, {
    items,
    rank,
    vocabHash: catalog.hash,
    baseVersion: base.version,
    weight: 1,
    clipNorm: config.DELTA_CLIP_NORM,
    noise: delta.noise,
    createdAt
  });
  await writeProfileModel(dir, { state: { ...state, lastDeltaSha256: manifest.sha256, lastPublishedBase: base.version }, u: trained.u, vLocal: trained.V, vGlobal: base.values });
  logger.info({ profile, baseVersion: base.version, norm: Number(delta.rawNorm.toFixed(4)), clipped: delta.rawNorm > config.DELTA_CLIP_NORM, noise: delta.noise?.sigma ?? 0 }, "published delta");
  ctx.onStep?.("delta");
  return { profile, status: "published", manifest, access: base.access, baseVersion: base.version };
}
async function runParticipantPass(ctx) {
  const { logger } = ctx;
  const result = { profiles: [], missing: [], failed: [] };
  const sources = profileSources(ctx.config);
  await ensurePublishPermissions(ctx.ws, requireValue(ctx.config, "AGGREGATOR_DATASITE", "published deltas are readable by the aggregator only"));
  const base = await loadBase(ctx);
  const reserved = sources.map((s) => s.folder);
  for (const source of sources) {
    let events;
    try {
      const sha = await hashHistory(source.file);
      if (sha === null) {
        result.missing.push(source.file);
        continue;
      }
      events = await eventsOfSource(ctx, source, sha, reserved);
      for (const [profile, list] of events) {
        result.profiles.push(await processProfile(ctx, profile, list, sha, base));
      }
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      logger.error({ file: err.file ?? source.file, code: err.code }, formatError(err));
      result.failed.push({ file: source.file, error: formatError(err) });
    }
  }
  return result;
}
async function runParticipantCycle(ctx) {
  const pass = await runParticipantPass(ctx);
  await afterParticipantPass(ctx, pass);
  await recordContributionMode(ctx);
  const secure = ctx.config.SECURE_AGGREGATION === "on" ? await respondToSecureRound(ctx) : null;
  return { pass, secure };
}
async function runParticipant(ctx, { signal, onPass }) {
  const { config, ws, logger } = ctx;
  logProtection(config, logger);
  const aggregator = requireValue(config, "AGGREGATOR_DATASITE", "the participant needs to know whose Global_V to read");
  let lastAccess = null;
  const passOnce = async () => {
    const { pass: result } = await runParticipantCycle(ctx);
    const access = result.profiles[0]?.access ?? lastAccess;
    if (access === "waiting" && lastAccess !== "waiting") logger.info({ aggregator }, "waiting for the aggregator to grant access to the global model");
    if (access === "granted" && lastAccess !== "granted") logger.info({ aggregator, version: result.profiles[0]?.baseVersion }, "the aggregator granted access to the global model");
    lastAccess = access;
    if (result.missing.length > 0 && !existsSync2(config.OUTPUT_DIR)) {
      logger.warn({ outputDir: config.OUTPUT_DIR }, `OUTPUT_DIR=${config.OUTPUT_DIR} does not exist: set OUTPUT_DIR in .env to the folder that holds profile_0/${config.NETFLIX_CSV}`);
    } else {
      for (const file of result.missing) logger.info({ file }, "no viewing history yet: export it from Netflix (Account > Profile > Viewing activity > Download all) and save it here");
    }
    onPass?.(result);
  };
  const pass = coalesce(passOnce, { signal, onError: (err) => logger.error({ code: err.code }, formatError(err)) });
  const exports = profileSources(config).map((s) => s.file);
  const watcher = watchTargets([...exports, ws.globalDir(aggregator), ws.aggregatorDir(aggregator)], {
    debounceMs: config.WATCH_DEBOUNCE_MS,
    logger,
    onChange: () => void pass()
  });
  await watcher.ready;
  const timer = setInterval(() => void pass(), config.PARTICIPANT_INTERVAL_MS);
  await pass();
  await untilAborted(signal);
  clearInterval(timer);
  await watcher.close();
  await pass.idle();
}

export {
  logProtection,
  afterParticipantPass,
  runParticipantPass,
  runParticipantCycle,
  runParticipant
};
//# sourceMappingURL=chunk-VO35YDG3.js.map
