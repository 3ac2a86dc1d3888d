import {
  appendLedgerEntry,
  canonicalJson,
  createLedgerEntry,
  readLedger,
  verifyLedger
} from "./chunk-KB4S5H5D.js";
import {
  GLOBAL_MANIFEST,
  deltaNoiseSigma,
  initialItemFactors,
  listGlobalVersions,
  readLatestGlobal,
  versionDirName,
  writeGlobalVersion
} from "./chunk-OPHXPK3N.js";
import {
  DELTA_MANIFEST_NAME,
  MAX_MANIFEST_BYTES,
  PERMISSION_FILE,
  clipL2,
  maxPayloadBytes,
  parseDeltaManifest,
  parsePermissions,
  permissionReader,
  readDelta,
  sha256Hex,
  writePermissions
} from "./chunk-TBES3XCL.js";
import {
  readJsonFile,
  readRegularFile,
  writeFileAtomic,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  isEmailFolder,
  isProfileName
} from "./chunk-GYULMU4S.js";
import {
  AppError
} from "./chunk-3L2Z3EX5.js";

// src/aggregator/round.ts
import { performance } from "node:perf_hooks";

// src/aggregator/discover.ts
import { promises as fs, lstatSync } from "node:fs";
import path from "node:path";

// src/aggregator/pipeline.ts
async function* inOrder(items, task, depth) {
  if (!(Number.isInteger(depth) && depth >= 1)) throw new RangeError(`depth must be a positive integer, got ${depth}`);
  const started = [];
  const start = (i) => {
    started[i] = task(items[i]).then(
      (value) => ({ ok: true, value }),
      (error) => ({ ok: false, error })
    );
  };
  for (let i = 0; i < Math.min(depth, items.length); i++) start(i);
  for (let i = 0; i < items.length; i++) {
    const outcome = await started[i];
    delete started[i];
    if (i + depth < items.length) start(i + depth);
    yield [items[i], outcome];
  }
}

// src/aggregator/discover.ts
var SCAN_DEPTH = 16;
async function discoverProfiles(ws, logger, fileName = DELTA_MANIFEST_NAME) {
  const found = [];
  const sites = (await listEntries(ws.datasitesDir)).filter((site) => {
    const ok = site.isDirectory() && isEmailFolder(site.name);
    if (!ok) logger.debug({ entry: site.name }, "skipped: not a datasite folder");
    return ok;
  });
  const permissions = permissionReader(ws.datasitesDir);
  for await (const [site, outcome] of inOrder(sites, (s) => scanDatasite(ws, permissions, s.name, fileName, logger), SCAN_DEPTH)) {
    if (outcome.ok) found.push(...outcome.value);
    else logger.debug({ email: site.name, err: outcome.error }, "skipped: datasite unreadable");
  }
  return found.sort((a, b) => a.email === b.email ? compareProfiles(a.profile, b.profile) : a.email < b.email ? -1 : 1);
}
async function scanDatasite(ws, permissions, email, fileName, logger) {
  const appData = ws.appData(email);
  if (!await isRealFolder(path.dirname(appData)) || !await isRealFolder(appData)) {
    if (await entryExists(appData)) logger.debug({ email }, "skipped: app folder is not a real folder (symlink?)");
    return [];
  }
  const found = [];
  for (const entry of await listEntries(appData)) {
    const dir = path.join(appData, entry.name);
    if (!entry.isDirectory() || !isProfileName(entry.name)) {
      logger.debug({ email, entry: entry.name }, "skipped: not a profile folder");
      continue;
    }
    const manifest = path.join(dir, fileName);
    if (!await entryExists(manifest)) continue;
    const sharing = await sharingOf(ws, permissions, manifest, logger);
    if (sharing === "private") {
      logger.debug({ email, profile: entry.name }, "skipped: the profile is not shared with the aggregator");
      continue;
    }
    if (sharing.length > 0) {
      logger.warn({ email, profile: entry.name, file: manifest, writers: sharing }, `skipped: a syft.pub.yaml lets ${sharing.join(", ")} write this delta, so someone other than its owner could have written it; it is merged once no one but its owner may write it`);
      continue;
    }
    found.push({ email, profile: entry.name, dir });
  }
  return found;
}
async function discoverMembers(ws, logger) {
  const found = [];
  const permissions = permissionReader(ws.datasitesDir);
  for (const site of await listEntries(ws.datasitesDir)) {
    if (!site.isDirectory() || !isEmailFolder(site.name)) continue;
    const appData = ws.appData(site.name);
    if (!await isRealFolder(path.dirname(appData)) || !await isRealFolder(appData) || !await entryExists(path.join(appData, PERMISSION_FILE))) continue;
    const sharing = await sharingOf(ws, permissions, path.join(ws.secaggAnswersRoot(site.name), "r000000", "keys.json"), logger);
    if (sharing !== "private" && sharing.length === 0) found.push(site.name);
    else logger.debug({ email: site.name, sharing }, "skipped for secure rounds: answers not readable by the aggregator, or writable by someone besides their owner");
  }
  return found.sort();
}
async function listEntries(dir) {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}
function lstatOrNone(file) {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return void 0;
  }
}
async function isRealFolder(dir) {
  return lstatOrNone(dir)?.isDirectory() ?? false;
}
async function entryExists(file) {
  return lstatOrNone(file) !== void 0;
}
async function sharingOf(ws, permissions, file, logger) {
  try {
    if (!await permissions.canRead(ws.email, file)) return "private";
    return await permissions.writersBesidesOwner(file);
  } catch (err) {
    logger.debug({ file, err }, "skipped: permission file unreadable");
    return "private";
  }
}
function compareProfiles(a, b) {
  return Number(a.slice("profile_".length)) - Number(b.slice("profile_".length));
}

// src/aggregator/merge.ts
function createMerger(mode, size, trimFraction = 0) {
  if (mode === "fedavg") return weightedMean(size);
  if (!(trimFraction >= 0 && trimFraction < 0.5)) throw new RangeError(`trimFraction must be in [0, 0.5), got ${trimFraction}`);
  return coordinateStatistic(size, mode === "median" ? median : trimmedMean(trimFraction));
}
function weightedMean(size) {
  const sum = new Float64Array(size);
  let weightSum = 0;
  let count = 0;
  return {
    add(values, weight) {
      checkDelta(values, size, weight);
      for (let i = 0; i < size; i++) sum[i] += weight * values[i];
      weightSum += weight;
      count++;
    },
    get count() {
      return count;
    },
    result() {
      if (count === 0) throw new RangeError("no deltas to merge");
      const out = new Float64Array(size);
      for (let i = 0; i < size; i++) out[i] = sum[i] / weightSum;
      return out;
    }
  };
}
function coordinateStatistic(size, statistic) {
  const deltas = [];
  return {
    add(values, weight) {
      checkDelta(values, size, weight);
      deltas.push(values.slice());
    },
    get count() {
      return deltas.length;
    },
    result() {
      if (deltas.length === 0) throw new RangeError("no deltas to merge");
      const out = new Float64Array(size);
      const column = new Float64Array(deltas.length);
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < deltas.length; j++) column[j] = deltas[j][i];
        column.sort();
        out[i] = statistic(column);
      }
      return out;
    }
  };
}
var median = (sorted) => {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
function trimmedMean(trimFraction) {
  return (sorted) => {
    const cut = Math.floor(trimFraction * sorted.length);
    let sum = 0;
    for (let j = cut; j < sorted.length - cut; j++) sum += sorted[j];
    return sum / (sorted.length - 2 * cut);
  };
}
function checkDelta(values, size, weight) {
  if (values.length !== size) throw new RangeError(`delta has ${values.length} values, the merger expects ${size}`);
  if (!(weight > 0 && Number.isFinite(weight))) throw new RangeError(`weight must be positive and finite, got ${weight}`);
}
function applyServerUpdate(base, merged, { serverLr, noiseStd, random }) {
  if (base.length !== merged.length) throw new RangeError(`Global_V has ${base.length} values, the merged delta ${merged.length}`);
  const out = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const noise = noiseStd > 0 ? noiseStd * random.normal() : 0;
    out[i] = base[i] + serverLr * (merged[i] + noise);
  }
  return out;
}

// src/aggregator/record.ts
import { createHmac, randomBytes } from "node:crypto";
import { promises as fs2 } from "node:fs";
import path2 from "node:path";
var ROUND_RECORD_FORMAT_VERSION = 1;
var MAX_RECORD_BYTES = 64 * 1024 * 1024;
var RECORD_RE = /^v(\d{6,})\.json$/;
var SECRET_FILE = "ledger-secret";
var SECRET_BYTES = 32;
function roundsDir(privateDir) {
  return path2.join(privateDir, "rounds");
}
function recordFile(privateDir, version) {
  return path2.join(roundsDir(privateDir), `${versionDirName(version)}.json`);
}
async function writeRoundRecord(privateDir, record) {
  await writeJsonAtomic(recordFile(privateDir, record.version), record, { private: true });
}
async function readRoundRecord(privateDir, version) {
  const file = recordFile(privateDir, version);
  const raw = await readJsonFile(file, { maxBytes: MAX_RECORD_BYTES });
  if (raw === null || raw.formatVersion !== ROUND_RECORD_FORMAT_VERSION || raw.version !== version || !Array.isArray(raw.accepted) || !Array.isArray(raw.contributors)) {
    throw new AppError(
      "ERR_AGGREGATOR_STATE",
      `${file} is ${raw === null ? "missing" : "not a round record"}, but Global_V version ${version} is committed: restore the aggregator's private folder, or move that Global_V version away`,
      { file }
    );
  }
  return raw;
}
async function listRoundRecords(privateDir) {
  let names;
  try {
    names = await fs2.readdir(roundsDir(privateDir));
  } catch {
    return [];
  }
  return names.map((n) => RECORD_RE.exec(n)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
}
async function removeRoundRecord(privateDir, version) {
  await fs2.rm(recordFile(privateDir, version), { force: true });
}
function ledgerFields(record, globalSha256) {
  return {
    round: record.round,
    version: record.version,
    globalSha256,
    accepted: record.accepted.map(({ participant, deltaSha256, weight }) => ({ participant, deltaSha256, weight })),
    rejectedCount: record.rejectedCount,
    params: record.params,
    createdAt: record.createdAt,
    ...record.secagg ? { secagg: record.secagg } : {}
  };
}
async function loadLedgerSecret(privateDir) {
  const file = path2.join(privateDir, SECRET_FILE);
  const text = await readRegularFile(file, { maxBytes: 1024 });
  if (text !== null && /^[0-9a-f]{64}\s*$/.test(text.toString("utf8"))) return Buffer.from(text.toString("utf8").trim(), "hex");
  const secret = randomBytes(SECRET_BYTES);
  await writeFileAtomic(file, `${secret.toString("hex")}
`, { private: true });
  return secret;
}
function participantTag(secret, version, email, profile) {
  return createHmac("sha256", secret).update(`${version}
${email}
${profile}`).digest("hex");
}

// src/aggregator/state.ts
import { promises as fs3 } from "node:fs";
import path4 from "node:path";

// src/aggregator/grant.ts
import path3 from "node:path";
var CONTRIBUTOR_READABLE = ["global/**", "ledger.jsonl", "experiment/**", "community/**"];
var MAX_PERMISSION_BYTES = 1024 * 1024;
function aggregatorPermissions(contributors, patterns = CONTRIBUTOR_READABLE) {
  const read = [...new Set(contributors)].sort();
  return { terminal: false, rules: patterns.map((pattern) => ({ pattern, access: { read, write: [], admin: [] } })) };
}
async function grantContributors(aggregatorDir, contributors, patterns) {
  return ensurePermissions(aggregatorDir, aggregatorPermissions(contributors, patterns));
}
async function ensurePermissions(dir, wanted) {
  const file = path3.join(dir, PERMISSION_FILE);
  const current = await readRegularFile(file, { maxBytes: MAX_PERMISSION_BYTES }).catch(() => null);
  if (current !== null) {
    try {
      if (canonicalJson(parsePermissions(current.toString("utf8"), file)) === canonicalJson({ terminal: false, ...wanted })) return false;
    } catch {
    }
  }
  await writePermissions(dir, wanted);
  return true;
}

// src/aggregator/state.ts
async function reconcile(ctx) {
  const { ws, model, logger } = ctx;
  const me = ws.email;
  const latest = await readLatestGlobal(ws.globalDir(me), model);
  const version = latest?.manifest.version ?? 0;
  const record = latest ? await readRoundRecord(ws.aggregatorPrivateDir(), version) : null;
  const ledger = await reconcileLedger(ws.ledgerFile(me), version, latest?.manifest.sha256 ?? null, record, logger);
  const contributors = record?.contributors ?? [];
  if (await grantContributors(ws.aggregatorDir(me), contributors)) logger.info({ contributors: contributors.length }, "read permissions updated");
  await prune(ctx, version);
  const applied = /* @__PURE__ */ new Set();
  for (const entry of ledger) for (const accepted of entry.accepted) applied.add(accepted.deltaSha256);
  return {
    version,
    values: latest?.values ?? initialItemFactors(model.items, model.rank, ctx.seed),
    globalSha256: latest?.manifest.sha256 ?? null,
    ledger,
    applied,
    contributors,
    record
  };
}
async function reconcileLedger(file, version, globalSha256, record, logger) {
  const entries = await readLedger(file);
  const check = verifyLedger(entries);
  if (!check.ok) throw new AppError("ERR_LEDGER_BROKEN", `${file}: ${check.reason}. The ledger must not be edited: restore it from a backup`, { file });
  const head = check.head;
  const headVersion = head?.version ?? 0;
  if (headVersion === version) {
    if (head && head.globalSha256 !== globalSha256) {
      throw new AppError("ERR_LEDGER_BROKEN", `${file}: the last line names Global_V version ${version} with sha256 ${head.globalSha256.slice(0, 16)}\u2026, the committed payload has ${globalSha256?.slice(0, 16)}\u2026`, { file });
    }
    return entries;
  }
  if (record && globalSha256 && headVersion === record.previousVersion) {
    const entry = createLedgerEntry(ledgerFields(record, globalSha256), head);
    await appendLedgerEntry(file, entry);
    logger.info({ version, accepted: record.accepted.length }, "ledger entry written");
    return [...entries, entry];
  }
  throw new AppError(
    "ERR_LEDGER_BROKEN",
    `${file} ends at version ${headVersion}, but the newest committed Global_V is version ${version}${record ? ` (built on ${record.previousVersion})` : ""}: the ledger and the global/ folder belong to different histories; move both away to start over`,
    { file }
  );
}
async function prune(ctx, version) {
  const { ws, logger } = ctx;
  const oldestKept = version - ctx.maxStaleness - 1;
  const globalDir = ws.globalDir(ws.email);
  for (const v of await listGlobalVersions(globalDir)) {
    const dir = ws.globalVersionDir(ws.email, v);
    const abandoned = v > version && !await entryExists(path4.join(dir, GLOBAL_MANIFEST));
    if (v < oldestKept || abandoned) {
      await fs3.rm(dir, { recursive: true, force: true });
      logger.debug({ version: v, abandoned }, "removed Global_V version");
    }
  }
  for (const v of await listRoundRecords(ws.aggregatorPrivateDir())) {
    if (v < oldestKept) await removeRoundRecord(ws.aggregatorPrivateDir(), v);
  }
}

// src/aggregator/status.ts
import path5 from "node:path";
var STATUS_FORMAT_VERSION = 1;
var STATUS_FILE = "status.json";
var MAX_STATUS_BYTES = 64 * 1024 * 1024;
function statusFile(privateDir) {
  return path5.join(privateDir, STATUS_FILE);
}
async function writeStatus(privateDir, summary, now) {
  const status = { formatVersion: STATUS_FORMAT_VERSION, updatedAt: now.toISOString(), ...summary };
  await writeJsonAtomic(statusFile(privateDir), status, { private: true });
}

// src/aggregator/validate.ts
import { promises as fs4 } from "node:fs";
import path6 from "node:path";
var CLIP_ROUNDING_TOLERANCE = 1e-4;
function normBounds(manifest, tolerance) {
  const sigma = manifest.noise?.sigma ?? 0;
  if (sigma === 0) {
    const bound = manifest.clipNorm * (1 + CLIP_ROUNDING_TOLERANCE);
    return { total: bound, row: bound, minTotal: 0 };
  }
  const rootSize = Math.sqrt(manifest.items * manifest.rank);
  return {
    total: manifest.clipNorm + sigma * (rootSize + tolerance),
    row: manifest.clipNorm + sigma * (Math.sqrt(manifest.rank) + Math.sqrt(2 * Math.log(manifest.items)) + tolerance),
    minTotal: Math.max(0, sigma * (rootSize - tolerance) - manifest.clipNorm)
  };
}
var MIN_DECLARED_EPSILON = 0.1;
var SIGMA_REL_TOLERANCE = 1e-6;
function checkDeclaredNoise(m) {
  if (m.noise === null) return null;
  const { epsilon, delta, sigma } = m.noise;
  if (epsilon < MIN_DECLARED_EPSILON) return `declared noise epsilon ${epsilon} is below ${MIN_DECLARED_EPSILON}`;
  if (!(delta > 0)) return "declared noise delta must be above 0 for the Gaussian mechanism";
  const expected = deltaNoiseSigma(epsilon, delta, m.clipNorm);
  if (Math.abs(sigma - expected) > SIGMA_REL_TOLERANCE * expected) return `declared noise sigma ${sigma} is not what epsilon ${epsilon}, delta ${delta} and clipNorm ${m.clipNorm} imply (${expected})`;
  return null;
}
function normProblem({ total, worstRow, worstRowNorm }, bounds) {
  if (total > bounds.total) return `L2 norm ${total.toPrecision(6)} exceeds the allowed ${bounds.total.toPrecision(6)}`;
  if (worstRowNorm > bounds.row) return `row ${worstRow} has L2 norm ${worstRowNorm.toPrecision(6)}, above the ${bounds.row.toPrecision(6)} the declared noise allows in one row`;
  if (total < bounds.minTotal) return `L2 norm ${total.toPrecision(6)} is below the ${bounds.minTotal.toPrecision(6)} that the declared noise would give: it does not carry the noise it declares`;
  return null;
}
async function peekManifest(profileDir) {
  const file = path6.join(profileDir, DELTA_MANIFEST_NAME);
  try {
    const raw = await readJsonFile(file, { maxBytes: MAX_MANIFEST_BYTES });
    return raw === null ? null : parseDeltaManifest(raw, file);
  } catch {
    return null;
  }
}
async function validateProfile(profileDir, model, policy, view, buffer) {
  const peeked = await peekManifest(profileDir);
  if (peeked && view.applied.has(peeked.sha256)) return { kind: "replay", sha256: peeked.sha256 };
  if (peeked) {
    const payloadFile = path6.join(profileDir, peeked.payload);
    const stat = await fs4.lstat(payloadFile).catch(() => null);
    if (stat === null) return { kind: "waiting", reason: `payload ${peeked.payload} not synced yet` };
    const dataBytes = model.items * model.rank * Float32Array.BYTES_PER_ELEMENT;
    const shortOfModel = stat.isFile() && peeked.items === model.items && peeked.rank === model.rank && stat.size < dataBytes;
    if (shortOfModel && sha256Hex(await fs4.readFile(payloadFile)) !== peeked.sha256) {
      return { kind: "waiting", reason: `payload ${peeked.payload} still arriving (${stat.size} of more than ${dataBytes} bytes)` };
    }
  }
  let delta;
  try {
    delta = await readDelta(profileDir, model, { manifest: peeked ?? void 0, buffer });
  } catch (err) {
    if (err instanceof AppError) return { kind: "rejected", sha256: peeked?.sha256 ?? null, code: err.code, message: err.message };
    throw err;
  }
  if (delta === null) return { kind: "waiting", reason: "manifest removed while reading" };
  const m = delta.manifest;
  const file = path6.join(profileDir, DELTA_MANIFEST_NAME);
  const reject = (code, message) => ({ kind: "rejected", sha256: m.sha256, code, message: `${file}: ${message}` });
  if (view.applied.has(m.sha256)) return { kind: "replay", sha256: m.sha256 };
  const staleness = view.currentVersion - m.baseVersion;
  if (staleness < 0) return reject("ERR_DELTA_STALE", `baseVersion ${m.baseVersion} is newer than the current Global_V version ${view.currentVersion}`);
  if (staleness > policy.maxStaleness) {
    return reject("ERR_DELTA_STALE", `baseVersion ${m.baseVersion} is ${staleness} versions behind ${view.currentVersion} (MAX_STALENESS=${policy.maxStaleness}); retrain from the current Global_V`);
  }
  if (m.clipNorm > policy.clipNorm) return reject("ERR_DELTA_NORM", `declared clipNorm ${m.clipNorm} exceeds the aggregator's DELTA_CLIP_NORM=${policy.clipNorm}`);
  const noiseProblem = checkDeclaredNoise(m);
  if (noiseProblem) return reject("ERR_DELTA_NORM", noiseProblem);
  const problem = normProblem(delta.norms, normBounds(m, policy.noiseTolerance));
  if (problem) return reject("ERR_DELTA_NORM", `${problem} (clipNorm ${m.clipNorm}, noise sigma ${m.noise?.sigma ?? 0})`);
  return { kind: "accepted", delta, weight: m.weight * policy.staleDecay ** staleness, staleness, norm: delta.norms.total };
}

// src/aggregator/round.ts
function roundParams(config) {
  return {
    seed: config.SEED,
    serverLr: config.SERVER_LR,
    mergeMode: config.MERGE_MODE,
    trimFraction: config.TRIM_FRACTION,
    serverClipNorm: config.SERVER_CLIP_NORM,
    serverNoiseStd: config.SERVER_NOISE_STD,
    minDatasites: config.MIN_DATASITES,
    clipNorm: config.DELTA_CLIP_NORM,
    noiseTolerance: config.NOISE_TOLERANCE,
    maxStaleness: config.MAX_STALENESS,
    staleDecay: config.STALE_DECAY
  };
}
var READ_AHEAD = 4;
async function runRound(ctx) {
  const { ws, model, params, logger, signal } = ctx;
  const startedAt = ctx.now();
  const t0 = performance.now();
  const state = await reconcile(stateContext(ctx));
  const refs = await discoverProfiles(ws, logger);
  const merger = createMerger(params.mergeMode, model.items * model.rank, params.trimFraction);
  const applied = new Set(state.applied);
  const accepted = [];
  const rejected = [];
  const replayed = [];
  const waiting = [];
  let siteEmail = null;
  let siteDeltas = [];
  const flush = () => {
    if (siteDeltas.length === 0) return;
    const share = addDatasite(merger, siteDeltas);
    for (const a of accepted.slice(-siteDeltas.length)) a.weight *= share;
    siteDeltas = [];
  };
  const readAhead = ctx.readAhead ?? READ_AHEAD;
  const buffers = Array.from({ length: readAhead + 1 }, () => Buffer.from(new SharedArrayBuffer(maxPayloadBytes(model))));
  const jobs = refs.map((ref, i) => ({ ref, i, buffer: buffers[i % buffers.length] }));
  const validate = (job) => validateProfile(job.ref.dir, model, params, { currentVersion: state.version, applied }, job.buffer);
  for await (const [{ ref, i }, result] of inOrder(jobs, validate, readAhead)) {
    signal?.throwIfAborted();
    const who = { email: ref.email, profile: ref.profile };
    if (!result.ok) {
      logger.warn({ ...who, err: result.error }, "could not read the delta; trying again next round");
      waiting.push({ ...who, deltaSha256: null, reason: result.error.message });
      continue;
    }
    const outcome = result.value;
    const v = outcome.kind === "accepted" && applied.has(outcome.delta.manifest.sha256) ? { kind: "replay", sha256: outcome.delta.manifest.sha256 } : outcome;
    switch (v.kind) {
      case "accepted": {
        const { delta, weight, staleness, norm } = v;
        if (params.serverClipNorm > 0) clipL2(delta.values, params.serverClipNorm);
        if (siteEmail !== ref.email) flush();
        siteEmail = ref.email;
        const lastOfSite = refs[i + 1]?.email !== ref.email;
        siteDeltas.push({ values: lastOfSite && siteDeltas.length === 0 ? delta.values : delta.values.slice(), weight });
        applied.add(delta.manifest.sha256);
        accepted.push({ ...who, deltaSha256: delta.manifest.sha256, weight, staleness });
        if (lastOfSite) flush();
        logger.debug({ ...who, weight, staleness, norm }, "delta accepted");
        break;
      }
      case "rejected":
        rejected.push({ ...who, deltaSha256: v.sha256, code: v.code, message: v.message });
        logger.warn({ ...who, code: v.code }, v.message);
        break;
      case "replay":
        replayed.push({ ...who, deltaSha256: v.sha256, reason: "ERR_DELTA_REPLAY: already merged" });
        logger.debug({ ...who, code: "ERR_DELTA_REPLAY" }, "delta already merged");
        break;
      case "waiting":
        waiting.push({ ...who, deltaSha256: null, reason: v.reason });
        logger.debug({ ...who, reason: v.reason }, "delta not ready");
        break;
    }
  }
  flush();
  const datasites = new Set(accepted.map((a) => a.email)).size;
  if (merger.count > 0 && datasites < params.minDatasites) {
    for (const a of accepted.splice(0)) waiting.push({ email: a.email, profile: a.profile, deltaSha256: null, reason: `only ${datasites} datasites have a new delta; a round needs ${params.minDatasites} (MIN_DATASITES)` });
    logger.info({ datasites, minDatasites: params.minDatasites }, "too few datasites for a round: the deltas wait for more");
  }
  const commit = accepted.length > 0;
  const ledgerParams = publicParams(params);
  let after = state;
  let records = [];
  if (commit) {
    const version = state.version + 1;
    const secret = await loadLedgerSecret(ws.aggregatorPrivateDir());
    records = accepted.map((a) => ({ ...a, participant: participantTag(secret, version, a.email, a.profile) }));
    const values = applyServerUpdate(state.values, merger.result(), { serverLr: params.serverLr, noiseStd: params.serverNoiseStd, random: ctx.random });
    const record = {
      formatVersion: ROUND_RECORD_FORMAT_VERSION,
      version,
      round: version,
      previousVersion: state.version,
      createdAt: startedAt.toISOString(),
      params: ledgerParams,
      accepted: records,
      rejectedCount: rejected.length,
      contributors: [.../* @__PURE__ */ new Set([...state.contributors, ...accepted.map((a) => a.email)])].sort()
    };
    signal?.throwIfAborted();
    await writeRoundRecord(ws.aggregatorPrivateDir(), record);
    await writeGlobalVersion(ws.globalDir(ws.email), values, {
      version,
      round: version,
      items: model.items,
      rank: model.rank,
      vocabHash: model.vocabHash,
      contributors: records.length,
      createdAt: startedAt.toISOString()
    });
    after = await reconcile(stateContext(ctx));
  }
  const rejectedByCode = {};
  for (const r of rejected) rejectedByCode[r.code] = (rejectedByCode[r.code] ?? 0) + 1;
  const summary = {
    outcome: commit ? "merged" : datasites > 0 ? "too-few-datasites" : rejected.length > 0 ? "none-accepted" : "nothing-new",
    version: after.version,
    previousVersion: state.version,
    globalSha256: after.globalSha256,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    counts: { accepted: records.length, rejected: rejected.length, replayed: replayed.length, waiting: waiting.length },
    rejectedByCode,
    accepted: records,
    rejected,
    replayed,
    waiting,
    contributors: after.contributors.length,
    params: ledgerParams
  };
  await writeStatus(ws.aggregatorPrivateDir(), summary, ctx.now());
  logger.info({ outcome: summary.outcome, version: summary.version, ...summary.counts, durationMs: summary.durationMs }, "round finished");
  return summary;
}
async function findNewDeltas(ws, known, logger) {
  const fresh = [];
  for (const ref of await discoverProfiles(ws, logger)) {
    const manifest = await peekManifest(ref.dir);
    if (manifest && !known.has(manifest.sha256)) fresh.push(ref);
  }
  return fresh;
}
async function loadCommittedState(ctx) {
  return reconcile(stateContext(ctx));
}
function stateContext(ctx) {
  return { ws: ctx.ws, model: ctx.model, seed: ctx.params.seed, maxStaleness: ctx.params.maxStaleness, logger: ctx.logger };
}
var MAX_DATASITE_WEIGHT = 1;
function addDatasite(merger, deltas) {
  const total = deltas.reduce((sum, d) => sum + d.weight, 0);
  const weight = Math.min(total, MAX_DATASITE_WEIGHT);
  if (deltas.length === 1) {
    merger.add(deltas[0].values, weight);
  } else {
    const mean = new Float32Array(deltas[0].values.length);
    for (const d of deltas) for (let i = 0; i < mean.length; i++) mean[i] += d.weight / total * d.values[i];
    merger.add(mean, weight);
  }
  return weight / total;
}
function publicParams(p) {
  return {
    serverLr: p.serverLr,
    mergeMode: p.mergeMode,
    ...p.mergeMode === "trimmed" ? { trimFraction: p.trimFraction } : {},
    serverClipNorm: p.serverClipNorm,
    serverNoiseStd: p.serverNoiseStd,
    clipNorm: p.clipNorm,
    noiseTolerance: p.noiseTolerance,
    maxStaleness: p.maxStaleness,
    staleDecay: p.staleDecay
  };
}

export {
  discoverProfiles,
  discoverMembers,
  ensurePermissions,
  createMerger,
  applyServerUpdate,
  ROUND_RECORD_FORMAT_VERSION,
  writeRoundRecord,
  loadLedgerSecret,
  participantTag,
  roundParams,
  runRound,
  findNewDeltas,
  loadCommittedState,
  publicParams
};
//# sourceMappingURL=chunk-IYQIEVDU.js.map
