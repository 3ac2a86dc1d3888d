import {
  coalesce,
  untilAborted
} from "./chunk-GPRVVA7K.js";
import {
  MAX_SHARES,
  addMod,
  contributionBound,
  contributionLayout,
  decodeSum,
  maxCohortSize,
  roundNoise,
  splitSum,
  unmaskSum
} from "./chunk-XAGHYWDG.js";
import {
  COHORT_FILE,
  INBOX_DIR,
  KEYS_FILE,
  MAX_LIST_FILE_BYTES,
  MAX_SMALL_FILE_BYTES,
  MODULUS_BITS,
  RESULT_FILE,
  REVEAL_FILE,
  ROUND_FILE,
  SHARES_FILE,
  UNMASK_FILE,
  fromBase64,
  header,
  inboxFile,
  layoutLength,
  parseKeysFile,
  parseRevealFile,
  parseSharesFile,
  readMaskedInput,
  readPhaseFile,
  writePhaseFile
} from "./chunk-65BIV6JN.js";
import {
  ROUND_RECORD_FORMAT_VERSION,
  applyServerUpdate,
  discoverMembers,
  ensurePermissions,
  findNewDeltas,
  loadCommittedState,
  loadLedgerSecret,
  participantTag,
  publicParams,
  roundParams,
  runRound,
  writeRoundRecord
} from "./chunk-IYQIEVDU.js";
import {
  cryptoRandom,
  writeGlobalVersion
} from "./chunk-OPHXPK3N.js";
import {
  DELTA_MANIFEST_NAME,
  decodeNpy,
  encodeNpy
} from "./chunk-TBES3XCL.js";
import {
  loadCatalog
} from "./chunk-FC2Z3HKA.js";
import {
  readJsonFile,
  readRegularFile,
  writeFileAtomic,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  isEmailFolder,
  isProfileName,
  isRoundId
} from "./chunk-GYULMU4S.js";
import {
  AppError,
  formatError,
  isAppError,
  requireValue
} from "./chunk-3L2Z3EX5.js";

// src/aggregator/node.ts
import path2 from "node:path";
import { watch } from "chokidar";

// src/aggregator/secagg.ts
import { promises as fs } from "node:fs";
import path from "node:path";

// src/shared/secagg/graph.ts
var MIN_COHORT = 3;
var MAX_ABORT_PROBABILITY = 1e-6;
var MAX_SPARSE_DEGREE = MAX_SHARES - 1;
function shortNeighbourhoodProbability(k, t, survive) {
  if (survive >= 1) return 0;
  let term = (1 - survive) ** k;
  let sum = 0;
  for (let j = 0; j < t; j++) {
    sum += term;
    term *= (k - j) / (j + 1) * (survive / (1 - survive));
  }
  return sum;
}
function cohortShape(n, opts) {
  const { fullGraphMax, minSurvivors, survivorFraction } = opts;
  const dropoutRate = opts.dropoutRate ?? 1 - survivorFraction;
  if (!(survivorFraction > 0 && survivorFraction <= 1)) throw new RangeError(`survivorFraction must be in (0, 1], got ${survivorFraction}`);
  if (!(dropoutRate >= 0 && dropoutRate < 1)) throw new RangeError(`dropoutRate must be in [0, 1), got ${dropoutRate}`);
  if (!Number.isInteger(minSurvivors) || minSurvivors < MIN_COHORT) throw new RangeError(`minSurvivors must be an integer \u2265 ${MIN_COHORT}, got ${minSurvivors}`);
  const T = Math.max(minSurvivors, Math.ceil(survivorFraction * n));
  if (!Number.isInteger(n) || n < T) throw new RangeError(`a cohort of ${n} is below its minimum of ${T} survivors`);
  let k;
  if (n <= fullGraphMax) {
    k = n - 1;
    if (k > MAX_SHARES) throw new RangeError(`a complete graph on ${n} members needs ${k} Shamir shares; at most ${MAX_SHARES} exist (lower fullGraphMax)`);
  } else {
    k = 2 * Math.ceil(Math.log2(n)) + 2;
    const ceiling = Math.min(n - 1, MAX_SPARSE_DEGREE);
    while (k < ceiling && n * shortNeighbourhoodProbability(k, Math.floor(k / 2) + 1, 1 - dropoutRate) > MAX_ABORT_PROBABILITY) k += 2;
    k = Math.min(k, ceiling);
  }
  return { n, k, t: Math.floor(k / 2) + 1, minSurvivors: T };
}
function neighbourGraph(n, k, randomInt) {
  if (!Number.isInteger(n) || !Number.isInteger(k) || k < 1 || k >= n) throw new RangeError(`need integers 1 \u2264 k < n, got n=${n}, k=${k}`);
  if (n * k % 2 === 1) throw new RangeError(`no ${k}-regular graph on ${n} members exists (n\xB7k is odd)`);
  const label = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [label[i], label[j]] = [label[j], label[i]];
  }
  const neighbours = Array.from({ length: n }, () => []);
  const link = (a, b) => {
    neighbours[label[a]].push(label[b]);
    neighbours[label[b]].push(label[a]);
  };
  for (let i = 0; i < n; i++) {
    for (let d = 1; d <= Math.floor(k / 2); d++) link(i, (i + d) % n);
  }
  if (k % 2 === 1) {
    for (let i = 0; i < n / 2; i++) link(i, i + n / 2);
  }
  for (const list of neighbours) list.sort((a, b) => a - b);
  return neighbours;
}

// src/aggregator/secagg.ts
var STATE_FORMAT_VERSION = 1;
var MAX_STATE_BYTES = 64 * 1024 * 1024;
var NPY_HEADER_SLACK_BYTES = 4096;
var KEEP_FINISHED_ROUNDS = 3;
var LEDGER_PROFILE = "datasite";
function secureParams(config, model) {
  const minSurvivors = Math.max(config.SECAGG_MIN_SURVIVORS, config.MIN_DATASITES);
  const layout = contributionLayout(model.items, model.rank);
  const encoding = { length: layoutLength(layout), clipNorm: contributionBound(config.DELTA_CLIP_NORM), scaleBits: config.SECAGG_SCALE_BITS };
  return {
    phaseMs: config.SECAGG_PHASE_MS,
    scaleBits: config.SECAGG_SCALE_BITS,
    minSurvivors,
    survivorFraction: config.SECAGG_SURVIVOR_FRACTION,
    fullGraphMax: config.SECAGG_FULL_GRAPH_MAX,
    minParticipants: Math.max(config.MIN_PARTICIPANTS, minSurvivors),
    minDatasites: config.MIN_DATASITES,
    noise: roundNoise(encoding, config.DP_EPSILON, config.DP_DELTA)
  };
}
async function advanceSecureRound(ctx, options = {}) {
  const state = await latestState(ctx);
  if (state !== null) await republish(ctx, state);
  if (state === null || state.phase === "finished") return openRound(ctx, state);
  const due = (deadline) => options.force === true || ctx.now().getTime() >= Date.parse(deadline);
  const { deadlines } = state.round.params;
  switch (state.phase) {
    case "keys":
      return collectKeys(ctx, state, due(deadlines.keysBy));
    case "shares":
      return collectShares(ctx, state, due(deadlines.sharesBy));
    case "masked":
      return collectMasked(ctx, state, due(deadlines.maskedBy));
    case "reveal":
      return collectReveals(ctx, state, due(deadlines.revealBy));
  }
}
async function openRound(ctx, previous) {
  const { ws, secure, logger } = ctx;
  const invited = await discoverMembers(ws, logger);
  if (invited.length < secure.minParticipants) {
    return { action: "idle", reason: `${invited.length} datasites take part; a secure round needs ${secure.minParticipants} (MIN_PARTICIPANTS, SECAGG_MIN_SURVIVORS, MIN_DATASITES)` };
  }
  const committed = await loadCommittedState(ctx);
  const layout = contributionLayout(ctx.model.items, ctx.model.rank);
  const weightScale = ctx.params.clipNorm;
  const encoding = { length: layoutLength(layout), clipNorm: contributionBound(weightScale), scaleBits: secure.scaleBits };
  if (maxCohortSize(encoding, secure.noise.sigma) < secure.minSurvivors) {
    throw new AppError("ERR_CONFIG_INVALID", `SECAGG_SCALE_BITS=${secure.scaleBits} with noise sigma ${secure.noise.sigma} leaves no room for ${secure.minSurvivors} members in 32 bits: lower SECAGG_SCALE_BITS`);
  }
  const roundId = await nextRoundId(ctx, previous);
  const openedAt = ctx.now();
  const at = (phases) => new Date(openedAt.getTime() + phases * secure.phaseMs).toISOString();
  const round = {
    ...header("round"),
    roundId,
    baseVersion: committed.version,
    layout,
    params: {
      modulusBits: MODULUS_BITS,
      scaleBits: secure.scaleBits,
      clipNorm: encoding.clipNorm,
      weightScale,
      noise: secure.noise,
      deadlines: { keysBy: at(1), sharesBy: at(2), maskedBy: at(3), revealBy: at(4) }
    },
    createdAt: openedAt.toISOString()
  };
  const state = { formatVersion: STATE_FORMAT_VERSION, roundId, phase: "keys", round, invited, cohort: null, u2: null, survivors: null, dropped: null, maskedSha256: null, result: null, weightSum: null };
  await writeState(ctx, state);
  await republish(ctx, state);
  logger.info({ roundId, baseVersion: round.baseVersion, invited: invited.length, keysBy: round.params.deadlines.keysBy }, "opened secure round");
  return { action: "opened", roundId };
}
async function nextRoundId(ctx, previous) {
  const published = (await fs.readdir(ctx.ws.secaggDir(ctx.ws.email)).catch(() => [])).filter(isRoundId);
  const numbers = [...published, ...previous ? [previous.roundId] : []].map((id) => Number(id.slice(1)));
  return `r${String(Math.max(0, ...numbers) + 1).padStart(6, "0")}`;
}
function answerFile(ctx, state, email, name) {
  return path.join(ctx.ws.secaggAnswersDir(state.roundId, email), name);
}
async function exists(file) {
  return fs.lstat(file).then(
    () => true,
    () => false
  );
}
async function collectKeys(ctx, state, due) {
  const { logger, secure } = ctx;
  const files = state.invited.map((email) => answerFile(ctx, state, email, KEYS_FILE));
  const answered = (await Promise.all(files.map(exists))).filter(Boolean).length;
  if (!due && answered < state.invited.length) return { action: "waiting", roundId: state.roundId, phase: "keys", answered, expected: state.invited.length };
  const keys = [];
  const fileOf = /* @__PURE__ */ new Map();
  for (const [i, email] of state.invited.entries()) {
    const parsed = await readAnswer(ctx, files[i], MAX_SMALL_FILE_BYTES, (v, f) => parseKeysFile(v, f, { roundId: state.roundId }));
    if (parsed === null) continue;
    if (parsed.baseVersion !== state.round.baseVersion) {
      logger.error({ roundId: state.roundId, file: files[i] }, `${files[i]}: baseVersion ${parsed.baseVersion} is not the round's ${state.round.baseVersion}; the member is left out`);
      continue;
    }
    keys.push({ email, cPk: parsed.cPk, sPk: parsed.sPk });
    fileOf.set(email, files[i]);
  }
  const uses = /* @__PURE__ */ new Map();
  for (const k of keys) for (const key of [k.cPk, k.sPk]) uses.set(key, (uses.get(key) ?? 0) + 1);
  const distinct = keys.filter((k) => {
    const ok = uses.get(k.cPk) === 1 && uses.get(k.sPk) === 1;
    if (!ok) logger.error({ roundId: state.roundId, file: fileOf.get(k.email) }, `${fileOf.get(k.email)}: a public key also appears in another member's keys.json (duplicate member); both are left out`);
    return ok;
  });
  const maxSize = maxCohortSize({ length: layoutLength(state.round.layout), clipNorm: state.round.params.clipNorm, scaleBits: state.round.params.scaleBits }, secure.noise.sigma);
  const members = shuffle(distinct, ctx).slice(0, maxSize);
  if (members.length < secure.minSurvivors) {
    return abort(ctx, state, `only ${members.length} datasites sent valid keys in time; a secure round needs at least ${secure.minSurvivors}`);
  }
  const shape = cohortShape(members.length, { fullGraphMax: secure.fullGraphMax, minSurvivors: secure.minSurvivors, survivorFraction: secure.survivorFraction });
  const neighbours = neighbourGraph(members.length, shape.k, (n) => ctx.random.int(n));
  const next = { ...state, phase: "shares", cohort: { members, neighbours, k: shape.k, t: shape.t, minSurvivors: shape.minSurvivors, createdAt: ctx.now().toISOString() } };
  await writeState(ctx, next);
  await republish(ctx, next);
  logger.info({ roundId: state.roundId, cohort: members.length, k: shape.k, t: shape.t, minSurvivors: shape.minSurvivors }, "secure round cohort fixed");
  return { action: "cohort", roundId: state.roundId };
}
function shuffle(items, ctx) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = ctx.random.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
async function readAnswer(ctx, file, maxBytes, parse) {
  try {
    return await readPhaseFile(file, maxBytes, parse);
  } catch (err) {
    if (!isAppError(err)) throw err;
    ctx.logger.error({ file: err.file ?? file, code: err.code }, `${formatError(err)}; the member is left out of this phase`);
    return null;
  }
}
async function collectShares(ctx, state, due) {
  const { logger } = ctx;
  const cohort = state.cohort;
  const n = cohort.members.length;
  const files = cohort.members.map((m) => answerFile(ctx, state, m.email, SHARES_FILE));
  const answered = (await Promise.all(files.map(exists))).filter(Boolean).length;
  if (!due && answered < n) return { action: "waiting", roundId: state.roundId, phase: "shares", answered, expected: n };
  const valid = /* @__PURE__ */ new Map();
  for (const [u, file] of files.entries()) {
    const shares = await readAnswer(ctx, file, MAX_LIST_FILE_BYTES, (v, f) => parseSharesFile(v, f, { roundId: state.roundId, n }));
    if (shares === null) continue;
    const to = shares.shares.map((s) => s.to).sort((a, b) => a - b);
    if (shares.from !== u || JSON.stringify(to) !== JSON.stringify(cohort.neighbours[u])) {
      logger.error({ roundId: state.roundId, file }, `${file}: shares must come from member ${u} and go to each of its ${cohort.neighbours[u].length} neighbours exactly once; the member is left out`);
      continue;
    }
    valid.set(u, shares);
  }
  const u2 = [...valid.keys()].sort((a, b) => a - b);
  if (u2.length < cohort.minSurvivors) return abort(ctx, state, `only ${u2.length} members sent their shares in time; the round needs ${cohort.minSurvivors}`);
  const next = { ...state, phase: "masked", u2 };
  await writeState(ctx, next);
  await republish(ctx, next);
  logger.info({ roundId: state.roundId, u2: u2.length, cohort: n }, "secure round shares routed");
  return { action: "routed", roundId: state.roundId };
}
async function buildInbox(ctx, state, v) {
  const cohort = state.cohort;
  const u2 = state.u2;
  const shares = [];
  for (const u of cohort.neighbours[v]) {
    if (!u2.includes(u)) continue;
    const file = answerFile(ctx, state, cohort.members[u].email, SHARES_FILE);
    const sent = await readPhaseFile(file, MAX_LIST_FILE_BYTES, (value, f) => parseSharesFile(value, f, { roundId: state.roundId, n: cohort.members.length }));
    const box = sent?.shares.find((s) => s.to === v);
    if (box) shares.push({ from: u, nonce: box.nonce, ciphertext: box.ciphertext, tag: box.tag });
  }
  return { ...header("inbox"), roundId: state.roundId, to: v, u2, shares };
}
function maskedSumFile(ctx, roundId) {
  return path.join(ctx.ws.aggregatorSecaggPrivateDir(), `${roundId}.sum.npy`);
}
async function collectMasked(ctx, state, due) {
  const { logger } = ctx;
  const cohort = state.cohort;
  const u2 = state.u2;
  const length = layoutLength(state.round.layout);
  const inputs = /* @__PURE__ */ new Map();
  const invalid = [];
  for (const u of u2) {
    const dir = ctx.ws.secaggAnswersDir(state.roundId, cohort.members[u].email);
    try {
      const masked = await readMaskedInput(dir, { roundId: state.roundId, length });
      if (masked !== null) inputs.set(u, { sha256: masked.manifest.sha256, values: masked.values });
    } catch (err) {
      if (!isAppError(err)) throw err;
      invalid.push(err);
    }
  }
  const answered = inputs.size + invalid.length;
  if (!due && answered < u2.length) return { action: "waiting", roundId: state.roundId, phase: "masked", answered, expected: u2.length };
  for (const err of invalid) logger.error({ roundId: state.roundId, file: err.file, code: err.code }, `${formatError(err)}; the member is left out of the sum`);
  const survivors = [...inputs.keys()].sort((a, b) => a - b);
  if (survivors.length < cohort.minSurvivors) {
    return abort(ctx, state, `only ${survivors.length} masked inputs arrived in time; the round needs ${cohort.minSurvivors} survivors`);
  }
  const sum = new Uint32Array(length);
  for (const u of survivors) addMod(sum, inputs.get(u).values);
  await writeFileAtomic(maskedSumFile(ctx, state.roundId), encodeNpy(sum, [length]), { private: true });
  const next = {
    ...state,
    phase: "reveal",
    survivors,
    dropped: u2.filter((u) => !inputs.has(u)),
    maskedSha256: survivors.map((u) => inputs.get(u).sha256)
  };
  await writeState(ctx, next);
  await republish(ctx, next);
  logger.info({ roundId: state.roundId, survivors: survivors.length, dropped: next.dropped.length }, "secure round survivors fixed; unmask requested");
  return { action: "unmask", roundId: state.roundId };
}
function toCohortView(state) {
  const cohort = state.cohort;
  return {
    roundId: state.roundId,
    members: cohort.members.map((m, index) => ({ index, cPk: fromBase64(m.cPk), sPk: fromBase64(m.sPk) })),
    neighbours: cohort.neighbours,
    t: cohort.t,
    minSurvivors: cohort.minSurvivors
  };
}
async function collectReveals(ctx, state, due) {
  const { logger } = ctx;
  const cohort = state.cohort;
  const survivors = state.survivors;
  const dropped = new Set(state.dropped);
  const files = survivors.map((u) => answerFile(ctx, state, cohort.members[u].email, REVEAL_FILE));
  const answered = (await Promise.all(files.map(exists))).filter(Boolean).length;
  if (!due && answered < survivors.length) return { action: "waiting", roundId: state.roundId, phase: "reveal", answered, expected: survivors.length };
  const reveals = [];
  for (const [i, u] of survivors.entries()) {
    const file = files[i];
    const parsed = await readAnswer(ctx, file, MAX_LIST_FILE_BYTES, (v, f) => parseRevealFile(v, f, { roundId: state.roundId, n: cohort.members.length }));
    if (parsed === null) continue;
    const neighbours = new Set(cohort.neighbours[u]);
    const wrong = parsed.from !== u || parsed.bShares.some((s) => !neighbours.has(s.of) || !survivors.includes(s.of)) || parsed.sShares.some((s) => !neighbours.has(s.of) || !dropped.has(s.of));
    if (wrong) {
      logger.error({ roundId: state.roundId, file }, `${file}: shares must come from member ${u}, b-shares only of surviving neighbours, s-shares only of dropped ones; its reveal is ignored`);
      continue;
    }
    reveals.push({
      from: u,
      bShares: parsed.bShares.map((s) => ({ of: s.of, share: fromBase64(s.share) })),
      sShares: parsed.sShares.map((s) => ({ of: s.of, share: fromBase64(s.share) }))
    });
  }
  const masked = await readMaskedSum(ctx, state);
  let sum;
  try {
    sum = await unmaskSum(masked, toCohortView(state), state.u2, { survivors, dropped: state.dropped }, reveals);
  } catch (err) {
    if (!isAppError(err, "ERR_SECAGG_ABORT")) throw err;
    return abort(ctx, state, err.message);
  }
  return commit(ctx, state, sum);
}
async function readMaskedSum(ctx, state) {
  const file = maskedSumFile(ctx, state.roundId);
  const length = layoutLength(state.round.layout);
  const bytes = await readRegularFile(file, { maxBytes: length * 4 + NPY_HEADER_SLACK_BYTES });
  if (bytes === null) throw new AppError("ERR_AGGREGATOR_STATE", `${file} is missing, but round ${state.roundId} is waiting for reveals: restore the aggregator's private folder`, { file });
  return decodeNpy(bytes, file, { dtype: "<u4", shape: [length] }).data;
}
async function commit(ctx, state, sum) {
  const { ws, model, params, secure, logger } = ctx;
  const { round } = state;
  const cohort = state.cohort;
  const survivors = state.survivors;
  const version = round.baseVersion + 1;
  let committed = await loadCommittedState(ctx);
  if (committed.version === version && committed.record?.secagg?.roundId === state.roundId) {
    logger.info({ roundId: state.roundId, version }, "secure round was committed before a restart; publishing its result");
    return finish(ctx, state, { outcome: "merged", reason: null, version });
  }
  if (committed.version !== round.baseVersion) return abort(ctx, state, `Global_V moved from v${round.baseVersion} to v${committed.version} during the round`);
  const encoding = { length: sum.length, clipNorm: round.params.clipNorm, scaleBits: round.params.scaleBits };
  const { delta, weight } = splitSum(decodeSum(sum, encoding), round.layout, round.params.weightScale);
  const minWeight = Math.max(cohort.minSurvivors / 2, secure.minDatasites - 0.5);
  if (!(weight >= minWeight)) {
    return abort(ctx, state, `the sum holds the weight of ${weight.toFixed(2)} contributions; a round needs ${minWeight} (MIN_DATASITES)`);
  }
  const divisor = Math.min(weight, survivors.length);
  const mean = new Float64Array(delta.length);
  for (let i = 0; i < mean.length; i++) mean[i] = delta[i] / divisor;
  const values = applyServerUpdate(committed.values, mean, { serverLr: params.serverLr, noiseStd: params.serverNoiseStd, random: ctx.random });
  const secret = await loadLedgerSecret(ws.aggregatorPrivateDir());
  const emails = survivors.map((u) => cohort.members[u].email);
  const secagg = {
    protocol: "secagg+",
    roundId: state.roundId,
    modulusBits: round.params.modulusBits,
    scaleBits: round.params.scaleBits,
    k: cohort.k,
    t: cohort.t,
    minSurvivors: cohort.minSurvivors,
    noise: round.params.noise,
    cohort: cohort.members.length,
    survivors: survivors.length,
    dropped: state.dropped.length
  };
  const record = {
    formatVersion: ROUND_RECORD_FORMAT_VERSION,
    version,
    round: version,
    previousVersion: round.baseVersion,
    createdAt: round.createdAt,
    params: publicParams(params),
    accepted: survivors.map((u, i) => ({
      email: cohort.members[u].email,
      profile: LEDGER_PROFILE,
      participant: participantTag(secret, version, cohort.members[u].email, LEDGER_PROFILE),
      deltaSha256: state.maskedSha256[i],
      weight: 1,
      staleness: 0
    })),
    rejectedCount: cohort.members.length - survivors.length,
    contributors: [.../* @__PURE__ */ new Set([...committed.contributors, ...emails])].sort(),
    secagg
  };
  ctx.signal?.throwIfAborted();
  await writeRoundRecord(ws.aggregatorPrivateDir(), record);
  await writeGlobalVersion(ws.globalDir(ws.email), values, {
    version,
    round: version,
    items: model.items,
    rank: model.rank,
    vocabHash: model.vocabHash,
    contributors: survivors.length,
    createdAt: round.createdAt
  });
  committed = await loadCommittedState(ctx);
  logger.info({ roundId: state.roundId, version: committed.version, survivors: survivors.length, dropped: state.dropped.length, weight: Number(weight.toFixed(3)) }, "secure round merged");
  return finish(ctx, { ...state, weightSum: weight }, { outcome: "merged", reason: null, version });
}
async function abort(ctx, state, reason) {
  ctx.logger.warn({ roundId: state.roundId, phase: state.phase, reason }, "secure round aborted: nobody is unmasked; the next round starts afresh");
  return finish(ctx, state, { outcome: "aborted", reason, version: null });
}
async function finish(ctx, state, end) {
  const result = {
    ...header("result"),
    roundId: state.roundId,
    ...end,
    survivors: state.survivors ?? [],
    dropped: state.dropped ?? [],
    createdAt: ctx.now().toISOString()
  };
  const next = { ...state, phase: "finished", result };
  await writeState(ctx, next);
  await republish(ctx, next);
  await pruneRounds(ctx);
  return { action: "finished", roundId: state.roundId, summary: summarize(next) };
}
function summarize(state) {
  const result = state.result;
  const cohort = state.cohort;
  return {
    roundId: state.roundId,
    outcome: result.outcome,
    reason: result.reason,
    baseVersion: state.round.baseVersion,
    version: result.version ?? state.round.baseVersion,
    invited: state.invited.length,
    cohort: cohort?.members.length ?? 0,
    survivors: (state.survivors ?? []).map((u) => cohort.members[u].email),
    dropped: state.dropped?.length ?? 0,
    k: cohort?.k ?? null,
    t: cohort?.t ?? null,
    minSurvivors: cohort?.minSurvivors ?? null,
    weightSum: state.weightSum,
    openedAt: state.round.createdAt,
    endedAt: result.createdAt
  };
}
async function pruneRounds(ctx) {
  const ids = (await listStateIds(ctx)).slice(0, -KEEP_FINISHED_ROUNDS);
  for (const roundId of ids) {
    await fs.rm(ctx.ws.secaggRoundDir(ctx.ws.email, roundId), { recursive: true, force: true });
    await fs.rm(stateFile(ctx, roundId), { force: true });
    await fs.rm(maskedSumFile(ctx, roundId), { force: true });
  }
}
async function republish(ctx, state) {
  const dir = ctx.ws.secaggRoundDir(ctx.ws.email, state.roundId);
  await ensurePermissions(dir, roundPermissions(state));
  const missing = async (file) => !await exists(file);
  if (await missing(path.join(dir, ROUND_FILE))) await writePhaseFile(path.join(dir, ROUND_FILE), state.round);
  const { cohort } = state;
  if (cohort && await missing(path.join(dir, COHORT_FILE))) {
    const file = {
      ...header("cohort"),
      roundId: state.roundId,
      members: cohort.members.map((m, index) => ({ index, cPk: m.cPk, sPk: m.sPk })),
      neighbours: cohort.neighbours,
      t: cohort.t,
      minSurvivors: cohort.minSurvivors,
      createdAt: cohort.createdAt
    };
    await writePhaseFile(path.join(dir, COHORT_FILE), file);
  }
  if (state.u2 && state.phase !== "finished") {
    for (const v of state.u2) if (await missing(inboxFile(dir, v))) await writePhaseFile(inboxFile(dir, v), await buildInbox(ctx, state, v));
  }
  if (state.survivors && state.phase !== "finished" && await missing(path.join(dir, UNMASK_FILE))) {
    const unmask = { ...header("unmask"), roundId: state.roundId, survivors: state.survivors, dropped: state.dropped };
    await writePhaseFile(path.join(dir, UNMASK_FILE), unmask);
  }
  if (state.result && await missing(path.join(dir, RESULT_FILE))) await writePhaseFile(path.join(dir, RESULT_FILE), state.result);
  if (state.phase === "finished") await fs.rm(path.join(dir, INBOX_DIR), { recursive: true, force: true });
}
function roundPermissions(state) {
  const members = state.cohort ? [...new Set(state.cohort.members.map((m) => m.email))].sort() : [];
  const read = (pattern, readers) => ({ pattern, access: { read: readers, write: [], admin: [] } });
  const rules = [read(ROUND_FILE, [...state.invited].sort())];
  if (state.cohort) {
    rules.push(read(COHORT_FILE, members), read(UNMASK_FILE, members), read(RESULT_FILE, members));
    for (const [i, m] of state.cohort.members.entries()) rules.push(read(`${INBOX_DIR}/${i}.json`, [m.email]));
  } else {
    rules.push(read(RESULT_FILE, [...state.invited].sort()));
  }
  return { terminal: false, rules };
}
function stateFile(ctx, roundId) {
  return path.join(ctx.ws.aggregatorSecaggPrivateDir(), `${roundId}.json`);
}
async function listStateIds(ctx) {
  const names = await fs.readdir(ctx.ws.aggregatorSecaggPrivateDir()).catch(() => []);
  return names.filter((n) => n.endsWith(".json") && isRoundId(n.slice(0, -".json".length))).map((n) => n.slice(0, -".json".length)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}
async function latestState(ctx) {
  const roundId = (await listStateIds(ctx)).at(-1);
  if (roundId === void 0) return null;
  const file = stateFile(ctx, roundId);
  const raw = await readJsonFile(file, { maxBytes: MAX_STATE_BYTES });
  if (raw === null || raw.formatVersion !== STATE_FORMAT_VERSION || raw.roundId !== roundId) {
    throw new AppError("ERR_AGGREGATOR_STATE", `${file} is not a secure round state: move it away to start a new round`, { file });
  }
  return raw;
}
async function writeState(ctx, state) {
  await writeJsonAtomic(stateFile(ctx, state.roundId), state, { private: true });
}

// src/aggregator/node.ts
var RESCAN_INTERVAL_MS = 3e4;
async function createRoundContext(config, ws, logger) {
  const aggregator = requireValue(config, "AGGREGATOR_DATASITE", "the aggregator runs on the datasite it names");
  if (aggregator !== ws.email) {
    throw new AppError("ERR_CONFIG_INVALID", `AGGREGATOR_DATASITE=${aggregator} but this SyftBox client is ${ws.email}: run the aggregator on the datasite AGGREGATOR_DATASITE names`);
  }
  const catalog = await loadCatalog(config.CATALOG_PATH);
  return {
    ws,
    model: { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash },
    params: roundParams(config),
    random: cryptoRandom(),
    now: () => /* @__PURE__ */ new Date(),
    logger
  };
}
var CHECKS_PER_PHASE = 8;
function secureParamsOf(config, round) {
  if (config.SECURE_AGGREGATION === "off") return null;
  if (config.SERVER_CLIP_NORM > 0) throw new AppError("ERR_CONFIG_INVALID", `SERVER_CLIP_NORM=${config.SERVER_CLIP_NORM} clips each delta, which SECURE_AGGREGATION=on never shows the aggregator: participants clip to DELTA_CLIP_NORM; set SERVER_CLIP_NORM=0, or SECURE_AGGREGATION=off`);
  return secureParams(config, round.model);
}
async function runAggregator(options) {
  const { round, signal, secure } = options;
  const { ws, logger } = round;
  const state = await loadCommittedState(round);
  const known = new Set(state.applied);
  let lastRoundAt = round.now().getTime();
  const lookPlain = async () => {
    const fresh = await findNewDeltas(ws, known, logger);
    if (!roundDue(fresh.length, round.now().getTime() - lastRoundAt, options)) {
      if (fresh.length > 0) logger.debug({ waiting: fresh.length }, "waiting for more deltas");
      return;
    }
    lastRoundAt = round.now().getTime();
    const result = await runRound({ ...round, signal });
    for (const d of [...result.accepted, ...result.rejected, ...result.replayed]) if (d.deltaSha256) known.add(d.deltaSha256);
    options.onRound?.(result);
  };
  const lookSecure = async (params) => {
    for (; ; ) {
      signal.throwIfAborted();
      const step = await advanceSecureRound({ ...round, signal, secure: params });
      if (step.action === "finished") options.onSecureRound?.(step.summary);
      if (step.action === "idle" || step.action === "waiting") {
        logger.debug(step, "secure round waits");
        return;
      }
    }
  };
  const look = secure ? () => lookSecure(secure) : lookPlain;
  const check = coalesce(look, {
    signal,
    onError: (err) => logger.error({ code: err instanceof AppError ? err.code : void 0, err }, formatError(err))
  });
  let debounce;
  const watcher = watch(ws.datasitesDir, {
    ignoreInitial: true,
    followSymlinks: false,
    depth: 4,
    ignored: (p) => !isWatchedPath(path2.relative(ws.datasitesDir, p), ws.appName, secure !== null)
  });
  watcher.on("all", (event, changed) => {
    logger.debug({ event, file: changed }, "participant folder changed");
    clearTimeout(debounce);
    debounce = setTimeout(() => void check(), options.debounceMs);
  });
  watcher.on("error", (err) => logger.warn({ err }, "file watcher error"));
  await new Promise((resolve) => watcher.once("ready", () => resolve()));
  const interval = secure ? secure.phaseMs / CHECKS_PER_PHASE : options.roundIntervalMs;
  const timer = setInterval(() => void check(), Math.min(options.rescanIntervalMs ?? RESCAN_INTERVAL_MS, interval));
  logger.info({ aggregator: ws.email, version: state.version, contributors: state.contributors.length, secureAggregation: secure !== null }, "aggregator started");
  await check();
  await untilAborted(signal);
  clearInterval(timer);
  clearTimeout(debounce);
  await watcher.close();
  await check.idle();
  logger.info("aggregator stopped");
}
var PAYLOAD_RE = /^delta-[0-9a-f]{16}\.npy$/;
async function runOneSecureRound(ctx, pollMs) {
  for (; ; ) {
    ctx.signal.throwIfAborted();
    const step = await advanceSecureRound(ctx);
    if (step.action === "finished") return step.summary;
    if (step.action === "idle") {
      ctx.logger.info({ reason: step.reason }, "no secure round can open");
      return null;
    }
    if (step.action === "waiting") await sleep(pollMs, ctx.signal);
  }
}
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
function roundDue(waiting, sinceLastRoundMs, limits) {
  return waiting >= limits.minParticipants || waiting > 0 && sinceLastRoundMs >= limits.roundIntervalMs;
}
function isWatchedPath(rel, appName, secure) {
  if (rel === "") return true;
  if (rel.startsWith("..") || path2.isAbsolute(rel)) return false;
  const s = rel.split(path2.sep);
  const common = [() => isEmailFolder(s[0]), () => s[1] === "app_data", () => s[2] === appName];
  const checks = secure ? [...common, () => s[3] === "secagg", () => isRoundId(s[4]), () => !s[5].endsWith(".tmp")] : [...common, () => isProfileName(s[3]), () => s[4] === DELTA_MANIFEST_NAME || PAYLOAD_RE.test(s[4])];
  return s.length <= checks.length && s.every((_, i) => checks[i]());
}

export {
  advanceSecureRound,
  createRoundContext,
  secureParamsOf,
  runAggregator,
  runOneSecureRound
};
//# sourceMappingURL=chunk-WGELUT3Z.js.map
