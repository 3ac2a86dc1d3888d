import {
  readGrantedGlobal,
  readPrivacyLedger,
  readProfileModel,
  writePrivacyLedger
} from "./chunk-IEFLLXFA.js";
import {
  buildContribution,
  contributionBound,
  contributionLayout,
  createMemberSecrets,
  encodeContribution,
  makeShares,
  maskInput,
  openInbox,
  revealFor,
  roundNoise,
  roundSpend,
  toModular
} from "./chunk-XAGHYWDG.js";
import {
  COHORT_FILE,
  KEYS_FILE,
  MAX_LIST_FILE_BYTES,
  MAX_SMALL_FILE_BYTES,
  RESULT_FILE,
  REVEAL_FILE,
  ROUND_FILE,
  SHARES_FILE,
  UNMASK_FILE,
  fromBase64,
  header,
  inboxFile,
  layoutLength,
  parseCohortFile,
  parseInboxFile,
  parseResultFile,
  parseRoundFile,
  parseUnmaskFile,
  readPhaseFile,
  toBase64,
  writeMaskedInput,
  writePhaseFile
} from "./chunk-65BIV6JN.js";
import {
  canSpend,
  recordSpend
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
  assertRoundId,
  isProfileName,
  isRoundId
} from "./chunk-GYULMU4S.js";
import {
  AppError,
  formatError,
  isAppError,
  requireValue
} from "./chunk-3L2Z3EX5.js";

// src/participant/profiles.ts
import path from "node:path";
var ASSIGNMENTS_FILE = "profiles.json";
var MAX_ASSIGNMENTS_BYTES = 1024 * 1024;
function profileSources(config) {
  return config.NETFLIX_PROFILES.map((folder) => {
    if (!isProfileName(folder)) {
      throw new AppError("ERR_CONFIG_INVALID", `NETFLIX_PROFILES=${config.NETFLIX_PROFILES.join(",")} is invalid: expected folder names like profile_0,profile_1 (got ${JSON.stringify(folder)})`);
    }
    return { folder, file: path.join(config.OUTPUT_DIR, folder, config.NETFLIX_CSV) };
  });
}
function groupByProfileName(events) {
  const groups = /* @__PURE__ */ new Map();
  for (const event of events) {
    const list = groups.get(event.profile);
    if (list) list.push(event);
    else groups.set(event.profile, [event]);
  }
  return groups;
}
async function readAssignments(privateRoot) {
  const stored = await readJsonFile(path.join(privateRoot, ASSIGNMENTS_FILE), { maxBytes: MAX_ASSIGNMENTS_BYTES });
  return stored ? [...stored.assignments] : [];
}
async function assignProfiles(privateRoot, folder, names, reserved) {
  const assignments = await readAssignments(privateRoot);
  const taken = /* @__PURE__ */ new Set([...reserved, ...assignments.map((a) => a.profile)]);
  const sorted = [...names].sort((a, b) => (a ?? "").localeCompare(b ?? ""));
  let changed = false;
  sorted.forEach((name, index) => {
    if (assignments.some((a) => a.folder === folder && a.name === name)) return;
    let profile = folder;
    if (index > 0 || assignments.some((a) => a.profile === folder && !(a.folder === folder && a.name === name))) {
      let n = 0;
      while (taken.has(`profile_${n}`)) n++;
      profile = `profile_${n}`;
    }
    taken.add(profile);
    assignments.push({ folder, name, profile });
    changed = true;
  });
  if (changed) await writeJsonAtomic(path.join(privateRoot, ASSIGNMENTS_FILE), { formatVersion: 1, assignments }, { private: true });
  return assignments.filter((a) => a.folder === folder && names.includes(a.name));
}

// src/participant/secagg.ts
import { promises as fs } from "node:fs";
import path2 from "node:path";

// src/shared/secagg/noise.ts
var PTRS_MIN_LAMBDA = 10;
var MAX_SHARE_LAMBDA = 2 ** 50;
var INT32_MIN = -(2 ** 31);
var INT32_MAX = 2 ** 31 - 1;
var STIRLING_MIN_K = 10;
var LOG_FACTORIAL = (() => {
  const table = [0];
  for (let k = 1; k < STIRLING_MIN_K; k++) table.push(table[k - 1] + Math.log(k));
  return table;
})();
var HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);
function stirlingRemainder(k) {
  const r = 1 / k;
  const r2 = r * r;
  return r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
}
function logPoissonPmf(k, lambda, logLambda) {
  if (k < STIRLING_MIN_K) return -lambda + k * logLambda - LOG_FACTORIAL[k];
  const d = k - lambda;
  return d - k * Math.log1p(d / lambda) - HALF_LOG_TWO_PI - 0.5 * Math.log(k) - stirlingRemainder(k);
}
function checkLambda(lambda) {
  if (!(lambda >= 0 && lambda <= MAX_SHARE_LAMBDA)) throw new RangeError(`lambda must be within [0, 2^50], got ${lambda}`);
}
function poissonSampler(lambda, uniform) {
  checkLambda(lambda);
  return lambda < PTRS_MIN_LAMBDA ? inversionSampler(lambda, uniform) : ptrsSampler(lambda, uniform);
}
function inversionSampler(lambda, uniform) {
  const p0 = Math.exp(-lambda);
  return () => {
    for (; ; ) {
      let u = uniform();
      let p = p0;
      let k = 0;
      while (u > p) {
        u -= p;
        k++;
        p *= lambda / k;
        if (p === 0) break;
      }
      if (p > 0) return k;
    }
  };
}
function ptrsSampler(lambda, uniform) {
  const logLambda = Math.log(lambda);
  const b = 0.931 + 2.53 * Math.sqrt(lambda);
  const a = -0.059 + 0.02483 * b;
  const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
  const vr = 0.9277 - 3.6224 / (b - 2);
  return () => {
    for (; ; ) {
      const u = uniform() - 0.5;
      const v = uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor((2 * a / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || us < 0.013 && v > us) continue;
      if (Math.log(v) + logInvAlpha - Math.log(a / (us * us) + b) <= logPoissonPmf(k, lambda, logLambda)) return k;
    }
  };
}
function skellamShares(length, lambda, uniform) {
  if (!(Number.isInteger(length) && length >= 0)) throw new RangeError(`length must be a non-negative integer, got ${length}`);
  const draw = poissonSampler(lambda, uniform);
  const shares = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const x = draw() - draw();
    if (x < INT32_MIN || x > INT32_MAX) throw new RangeError(`Skellam share ${x} does not fit int32 (lambda ${lambda})`);
    shares[i] = x;
  }
  return shares;
}

// src/participant/secagg.ts
var MEMBER_STATE_VERSION = 1;
var STATUS_FILE = "status.json";
var ROUND_STATE_FILE = "state.json";
var SECRETS_FILE = "secrets.json";
var ENCODED_FILE = "encoded.npy";
var INPUT_FILE = "input.npy";
var MAX_PRIVATE_JSON_BYTES = 8 * 1024 * 1024;
var NPY_HEADER_SLACK_BYTES = 4096;
var MAX_STEPS_PER_CALL = 6;
var NOISE_TOLERANCE = 1e-9;
async function respondToSecureRound(ctx) {
  const steps = [];
  for (let i = 0; i < MAX_STEPS_PER_CALL; i++) {
    const step = await stepOnce(ctx);
    steps.push(step);
    if (step.action === "idle" || step.action === "waiting" || step.action === "finished") break;
  }
  return steps;
}
async function readMemberStatus(ws) {
  const raw = await readJsonFile(path2.join(ws.secaggPrivateDir(), STATUS_FILE), { maxBytes: MAX_PRIVATE_JSON_BYTES });
  return raw?.formatVersion === MEMBER_STATE_VERSION ? raw : null;
}
async function writeMemberStatus(ctx, change) {
  const before = await readMemberStatus(ctx.ws);
  const status = {
    formatVersion: MEMBER_STATE_VERSION,
    mode: "secure",
    current: null,
    declined: null,
    lastRound: null,
    lastCounted: null,
    ...before,
    ...change,
    updatedAt: ctx.now().toISOString()
  };
  await writeJsonAtomic(path2.join(ctx.ws.secaggPrivateDir(), STATUS_FILE), status, { private: true });
}
async function recordContributionMode(ctx) {
  const mode = ctx.config.SECURE_AGGREGATION === "on" ? "secure" : "plain";
  if ((await readMemberStatus(ctx.ws))?.mode !== mode) await writeMemberStatus(ctx, { mode });
}
async function roundIds(dir) {
  const names = await fs.readdir(dir).catch(() => []);
  return names.filter(isRoundId).sort((a, b) => roundNumber(b) - roundNumber(a));
}
function roundNumber(roundId) {
  return Number(roundId.slice(1));
}
async function readable(ws, file) {
  try {
    return (await fs.lstat(file)).isFile() && await readableHere(ws, file);
  } catch {
    return false;
  }
}
async function readShared(ws, file, maxBytes, parse) {
  if (!await readable(ws, file)) return null;
  return readPhaseFile(file, maxBytes, parse);
}
async function stepOnce(ctx) {
  const { ws, logger } = ctx;
  const aggregator = requireValue(ctx.config, "AGGREGATOR_DATASITE", "secure rounds are run by the aggregator");
  const status = await readMemberStatus(ws);
  await expireOldRounds(ctx);
  const [roundId] = await roundIds(ws.secaggDir(aggregator));
  if (roundId === void 0) return { action: "idle", reason: "no secure round has been opened" };
  if (status?.lastRound && roundNumber(status.lastRound.roundId) >= roundNumber(roundId)) return { action: "idle", reason: `round ${roundId} is over for this datasite` };
  if (status?.declined?.roundId === roundId) return { action: "idle", reason: status.declined.reason };
  const dir = ws.secaggRoundDir(aggregator, roundId);
  let round;
  try {
    round = await readShared(ws, path2.join(dir, ROUND_FILE), MAX_SMALL_FILE_BYTES, (v, f) => parseRoundFile(v, f, { roundId }));
  } catch (err) {
    if (!isAppError(err)) throw err;
    logger.error({ roundId, file: err.file, code: err.code }, formatError(err));
    return rememberDeclined(ctx, roundId, formatError(err));
  }
  if (round === null) return { action: "idle", reason: `round ${roundId} is not readable by this datasite` };
  const view = { roundId, dir, round };
  const state = await readRoundState(ws, roundId);
  try {
    const result = await readShared(ws, path2.join(dir, RESULT_FILE), MAX_LIST_FILE_BYTES, (v, f) => parseResultFile(v, f, { roundId }));
    if (result !== null) return state ? await finish(ctx, view, state, resultOutcome(result, state)) : { action: "idle", reason: `round ${roundId} ended before this datasite joined` };
    if (state === null) return await join(ctx, view);
    if (ctx.now().getTime() > expiresAt(round)) return await finish(ctx, view, state, { outcome: "expired", reason: "the round passed its deadlines without a result" });
    switch (state.phase) {
      case "keys":
        return await share(ctx, view, state);
      case "shares":
        return await mask(ctx, view, state);
      case "masked":
      case "revealed":
        return await reveal(ctx, view, state);
    }
  } catch (err) {
    if (!isAppError(err)) throw err;
    logger.error({ roundId, file: err.file, code: err.code }, formatError(err));
    return state ? finish(ctx, view, state, { outcome: "left", reason: formatError(err) }) : rememberDeclined(ctx, roundId, formatError(err));
  }
}
function expiresAt(round) {
  const { maskedBy, revealBy } = round.params.deadlines;
  return Date.parse(revealBy) + Math.max(0, Date.parse(revealBy) - Date.parse(maskedBy));
}
function resultOutcome(result, state) {
  const counted = result.outcome === "merged" && state.index !== null && result.survivors.includes(state.index) && state.maskedSha256 !== null;
  return { outcome: result.outcome, reason: result.reason, version: result.version, counted };
}
async function contributionFor(ctx, baseVersion) {
  const { config, ws, catalog, logger } = ctx;
  const expect = { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash };
  const granted = await readGrantedGlobal(ws, config.AGGREGATOR_DATASITE, expect, logger);
  const readableVersion = granted?.manifest.version ?? null;
  if (readableVersion !== null && readableVersion > baseVersion) return { decline: `the round starts from v${baseVersion}, this datasite already holds v${readableVersion}` };
  const profiles = [...new Set((await readAssignments(ws.privateRoot())).map((a) => a.profile))].filter(isProfileName).sort();
  const trained = [];
  for (const profile of profiles) {
    const model = await readProfileModel(ws.privateDir(profile)).catch(() => null);
    if (model === null || model.state.vocabHash !== catalog.hash || model.state.rank !== config.MODEL_RANK) continue;
    trained.push({ profile, pair: { local: model.vLocal, base: model.vGlobal }, base: model.state.baseVersion });
  }
  if (trained.length === 0) return { wait: "no profile has trained yet" };
  if (readableVersion === null && baseVersion > 0) return { weight: 0, profiles: [], pairs: [] };
  if (readableVersion !== null && readableVersion < baseVersion) return { wait: `Global_V v${baseVersion} is not synced here yet (newest readable: v${readableVersion})` };
  const fromBase = trained.filter((t) => t.base === baseVersion);
  if (fromBase.length === 0) return { wait: `no profile has trained from v${baseVersion} yet` };
  return { weight: 1, profiles: fromBase.map((t) => t.profile), pairs: fromBase.map((t) => t.pair) };
}
async function join(ctx, { roundId, round }) {
  const { config, ws, catalog, logger } = ctx;
  const now = ctx.now();
  if (now.getTime() > Date.parse(round.params.deadlines.keysBy)) return { action: "idle", reason: `round ${roundId} closed its keys phase before this datasite could join` };
  const expected = contributionLayout(catalog.items.length, config.MODEL_RANK);
  if (JSON.stringify(round.layout) !== JSON.stringify(expected)) {
    return { action: "idle", reason: `round ${roundId} expects a contribution of ${layoutLength(round.layout)} values, this model makes ${layoutLength(expected)} (check MODEL_RANK and the catalogue)` };
  }
  const { clipNorm, weightScale, scaleBits } = round.params;
  if (clipNorm < contributionBound(weightScale) * (1 - 1e-12)) return { action: "idle", reason: `round ${roundId}: clipNorm ${clipNorm} is below the contribution bound ${contributionBound(weightScale)}` };
  const found = await contributionFor(ctx, round.baseVersion);
  if ("wait" in found) return { action: "waiting", roundId, reason: found.wait };
  if ("decline" in found) return decline(ctx, roundId, found.decline);
  const encoding = { length: layoutLength(round.layout), clipNorm, scaleBits };
  const wanted = roundNoise(encoding, config.DP_EPSILON, config.DP_DELTA);
  if (round.params.noise.sigma < wanted.sigma * (1 - NOISE_TOLERANCE)) {
    return decline(ctx, roundId, `the round adds noise of sigma ${round.params.noise.sigma.toFixed(1)}, less than DP_EPSILON=${config.DP_EPSILON} asks (${wanted.sigma.toFixed(1)})`);
  }
  const affordable = await withinBudget(ctx, found, roundSpend(now.toISOString(), encoding, round.params.noise));
  if (affordable.weight === 1 && affordable.profiles.length === 0) {
    return decline(ctx, roundId, `privacy budget spent (PRIVACY_BUDGET_EPSILON=${config.PRIVACY_BUDGET_EPSILON}): this datasite contributes to no more rounds`);
  }
  const x = buildContribution(affordable.pairs, round.layout, { clipNorm: Math.min(config.DELTA_CLIP_NORM, weightScale), weightScale });
  const random = ctx.noiseRandom();
  const encoded = encodeContribution(x, encoding, () => random.next());
  const secrets = createMemberSecrets();
  const dir = roundPrivateDir(ws, roundId);
  await writeFileAtomic(path2.join(dir, ENCODED_FILE), encodeNpy(encoded, [encoded.length]), { private: true });
  await writeJsonAtomic(path2.join(dir, SECRETS_FILE), storeSecrets(secrets), { private: true });
  const state = {
    formatVersion: MEMBER_STATE_VERSION,
    roundId,
    baseVersion: round.baseVersion,
    phase: "keys",
    weight: affordable.weight,
    profiles: affordable.profiles,
    index: null,
    u2: null,
    answered: null,
    maskedSha256: null,
    joinedAt: now.toISOString()
  };
  await writeRoundState(ws, state);
  const keys = {
    ...header("keys"),
    roundId,
    cPk: toBase64(secrets.c.publicKey),
    sPk: toBase64(secrets.s.publicKey),
    baseVersion: round.baseVersion,
    createdAt: now.toISOString()
  };
  await writePhaseFile(path2.join(ws.secaggAnswersDir(roundId), KEYS_FILE), keys);
  await writeMemberStatus(ctx, { mode: "secure", current: { roundId, phase: "keys", weight: affordable.weight } });
  logger.info({ roundId, baseVersion: round.baseVersion, profiles: affordable.profiles.length, weight: affordable.weight }, "joined secure round");
  return { action: "joined", roundId };
}
async function decline(ctx, roundId, reason) {
  ctx.logger.info({ roundId }, `not joining secure round ${roundId}: ${reason}`);
  return rememberDeclined(ctx, roundId, reason);
}
async function rememberDeclined(ctx, roundId, reason) {
  await writeMemberStatus(ctx, { declined: { roundId, reason } });
  return { action: "idle", reason };
}
async function withinBudget(ctx, found, spend) {
  if (spend === null || found.weight === 0) return found;
  const budget = privacyBudget(ctx);
  const kept = { weight: 1, profiles: [], pairs: [] };
  for (const [i, profile] of found.profiles.entries()) {
    if (!canSpend(await readPrivacyLedger(ctx.ws.privateDir(profile)), spend, budget, ctx.now())) continue;
    kept.profiles.push(profile);
    kept.pairs.push(found.pairs[i]);
  }
  return kept;
}
function privacyBudget(ctx) {
  return { epsilon: ctx.config.PRIVACY_BUDGET_EPSILON, delta: ctx.config.DP_DELTA, periodDays: 0 };
}
function cohortView(cohort) {
  return {
    roundId: cohort.roundId,
    members: cohort.members.map((m) => ({ index: m.index, cPk: fromBase64(m.cPk), sPk: fromBase64(m.sPk) })),
    neighbours: cohort.neighbours,
    t: cohort.t,
    minSurvivors: cohort.minSurvivors
  };
}
async function readCohort(ws, { dir, roundId }) {
  return readShared(ws, path2.join(dir, COHORT_FILE), MAX_LIST_FILE_BYTES, (v, f) => parseCohortFile(v, f, { roundId }));
}
async function share(ctx, view, state) {
  const { config, ws, logger } = ctx;
  const cohort = await readCohort(ws, view);
  if (cohort === null) return { action: "waiting", roundId: view.roundId, reason: "the cohort is not fixed yet" };
  const file = path2.join(view.dir, COHORT_FILE);
  const secrets = await readSecrets(ws, view.roundId);
  const cPk = toBase64(secrets.c.publicKey);
  const sPk = toBase64(secrets.s.publicKey);
  const me = cohort.members.findIndex((m) => m.cPk === cPk && m.sPk === sPk);
  if (me < 0) return finish(ctx, view, state, { outcome: "left", reason: "not in the cohort (too late, or the cohort was capped)" });
  const mine = cohort.neighbours[me].length;
  const ownMinimum = Math.max(config.SECAGG_MIN_SURVIVORS, config.MIN_DATASITES);
  if (2 * cohort.t <= mine) throw new AppError("ERR_SECAGG_FILE", `${file}: t = ${cohort.t} is not a strict majority of this member's ${mine} neighbours, so its shares could unmask it; refusing the round`, { file });
  if (cohort.minSurvivors < ownMinimum) throw new AppError("ERR_SECAGG_FILE", `${file}: minSurvivors ${cohort.minSurvivors} is below this datasite's minimum of ${ownMinimum} (SECAGG_MIN_SURVIVORS, MIN_DATASITES); refusing the round`, { file });
  const sealed = await makeShares(me, secrets, cohortView(cohort));
  const shares = { ...header("shares"), roundId: view.roundId, from: me, shares: sealed.map(({ to, nonce, ciphertext, tag }) => ({ to, nonce, ciphertext, tag })) };
  await writeRoundState(ws, { ...state, phase: "shares", index: me });
  await writePhaseFile(path2.join(ws.secaggAnswersDir(view.roundId), SHARES_FILE), shares);
  await writeMemberStatus(ctx, { current: { roundId: view.roundId, phase: "shares", weight: state.weight } });
  logger.info({ roundId: view.roundId, index: me, neighbours: mine, t: cohort.t }, "sent secure-aggregation shares");
  return { action: "shared", roundId: view.roundId };
}
async function readInbox(ws, view, cohort, me) {
  const file = inboxFile(view.dir, me);
  return readShared(ws, file, MAX_LIST_FILE_BYTES, (v, f) => parseInboxFile(v, f, { roundId: view.roundId, n: cohort.members.length, to: me }));
}
async function mask(ctx, view, state) {
  const { ws, logger } = ctx;
  const me = state.index;
  const cohort = await readCohort(ws, view);
  const inbox = cohort && await readInbox(ws, view, cohort, me);
  if (!cohort || !inbox) return { action: "waiting", roundId: view.roundId, reason: "the shares have not been routed yet" };
  if (!inbox.u2.includes(me)) return finish(ctx, view, state, { outcome: "left", reason: "this datasite's shares did not arrive in time" });
  const secrets = await readSecrets(ws, view.roundId);
  const cv = cohortView(cohort);
  openInbox(me, secrets, cv, inbox.shares.map((s) => ({ ...s, to: me })));
  const input = await memberInput(ctx, view, state, cohort.minSurvivors);
  const masked = maskInput(me, input, secrets, cv, inbox.u2);
  const manifest = await writeMaskedInput(ws.secaggAnswersDir(view.roundId), view.roundId, masked, ctx.now().toISOString());
  await writeRoundState(ws, { ...state, phase: "masked", u2: inbox.u2, maskedSha256: manifest.sha256 });
  await writeMemberStatus(ctx, { current: { roundId: view.roundId, phase: "masked", weight: state.weight } });
  logger.info({ roundId: view.roundId, index: me, u2: inbox.u2.length, sha256: manifest.sha256 }, "published masked input");
  return { action: "masked", roundId: view.roundId };
}
async function memberInput(ctx, view, state, minSurvivors) {
  const dir = roundPrivateDir(ctx.ws, view.roundId);
  const length = layoutLength(view.round.layout);
  const stored = await readPrivateVector(path2.join(dir, INPUT_FILE), length, "<u4");
  if (stored) return stored;
  const encoded = await readPrivateVector(path2.join(dir, ENCODED_FILE), length, "<i4");
  if (encoded === null) throw new AppError("ERR_FILE_NOT_FOUND", `${path2.join(dir, ENCODED_FILE)} is missing: this round's contribution is lost; the datasite sits the round out`, { file: path2.join(dir, ENCODED_FILE) });
  const { mechanism, sigma } = view.round.params.noise;
  const random = ctx.noiseRandom();
  const noise = mechanism === "skellam" && sigma > 0 ? skellamShares(length, sigma * sigma / (2 * minSurvivors), () => random.next()) : void 0;
  const input = toModular(encoded, noise);
  const { clipNorm, scaleBits } = view.round.params;
  const spend = state.weight === 1 ? roundSpend(ctx.now().toISOString(), { length, clipNorm, scaleBits }, view.round.params.noise) : null;
  if (spend !== null) {
    for (const profile of state.profiles) {
      const profileDir = ctx.ws.privateDir(profile);
      await writePrivacyLedger(profileDir, recordSpend(await readPrivacyLedger(profileDir), spend));
    }
  }
  await writeFileAtomic(path2.join(dir, INPUT_FILE), encodeNpy(input, [length]), { private: true });
  return input;
}
async function reveal(ctx, view, state) {
  const { ws, logger } = ctx;
  const me = state.index;
  const cohort = await readCohort(ws, view);
  const request = cohort && await readShared(ws, path2.join(view.dir, UNMASK_FILE), MAX_LIST_FILE_BYTES, (v, f) => parseUnmaskFile(v, f, { roundId: view.roundId, n: cohort.members.length }));
  const revealFile = path2.join(ws.secaggAnswersDir(view.roundId), REVEAL_FILE);
  if (!cohort || !request) return { action: "waiting", roundId: view.roundId, reason: "waiting for the survivors list" };
  if (state.phase === "revealed" && await readable(ws, revealFile)) return { action: "waiting", roundId: view.roundId, reason: "revealed; waiting for the result" };
  const inbox = await readInbox(ws, view, cohort, me);
  if (!inbox || JSON.stringify(inbox.u2) !== JSON.stringify(state.u2)) {
    throw new AppError("ERR_SECAGG_REFUSED", `${inboxFile(view.dir, me)}: the inbox changed (or vanished) after this member masked; refusing to reveal`, { file: inboxFile(view.dir, me) });
  }
  const secrets = await readSecrets(ws, view.roundId);
  const cv = cohortView(cohort);
  const opened = openInbox(me, secrets, cv, inbox.shares.map((s) => ({ ...s, to: me })));
  const asked = { survivors: request.survivors, dropped: request.dropped };
  const answer = revealFor(me, opened, cv, state.u2, asked, state.answered);
  await writeRoundState(ws, { ...state, phase: "revealed", answered: asked });
  const file = {
    ...header("reveal"),
    roundId: view.roundId,
    from: me,
    bShares: answer.bShares.map((s) => ({ of: s.of, share: toBase64(s.share) })),
    sShares: answer.sShares.map((s) => ({ of: s.of, share: toBase64(s.share) }))
  };
  await writePhaseFile(revealFile, file);
  await writeMemberStatus(ctx, { current: { roundId: view.roundId, phase: "revealed", weight: state.weight } });
  logger.info({ roundId: view.roundId, index: me, survivors: asked.survivors.length, dropped: asked.dropped.length }, "revealed shares for unmasking");
  return { action: "revealed", roundId: view.roundId };
}
async function finish(ctx, view, state, end) {
  const { ws, logger } = ctx;
  const round = {
    roundId: view.roundId,
    outcome: end.outcome,
    counted: end.counted ?? false,
    reason: end.reason,
    weight: state.weight,
    maskedSha256: state.maskedSha256,
    version: end.version ?? null,
    endedAt: ctx.now().toISOString()
  };
  const before = await readMemberStatus(ws);
  const lastCounted = round.counted ? round : before?.lastCounted ?? null;
  await writeMemberStatus(ctx, { current: null, lastRound: round, lastCounted });
  await fs.rm(roundPrivateDir(ws, view.roundId), { recursive: true, force: true });
  await pruneAnswers(ws, lastCounted?.roundId ?? null);
  const log = { roundId: view.roundId, outcome: round.outcome, counted: round.counted, version: round.version, reason: round.reason ?? void 0 };
  if (round.outcome === "merged") logger.info(log, round.counted ? "secure round merged; this datasite was counted among the survivors" : "secure round merged without this datasite");
  else logger.warn(log, `secure round ended without this datasite's contribution (${round.outcome})`);
  return { action: "finished", roundId: view.roundId, round };
}
async function pruneAnswers(ws, keepCounted) {
  for (const roundId of await roundIds(ws.secaggAnswersRoot())) {
    if (await readRoundState(ws, roundId)) continue;
    const dir = ws.secaggAnswersDir(roundId);
    if (roundId !== keepCounted) {
      await fs.rm(dir, { recursive: true, force: true });
      continue;
    }
    for (const name of [KEYS_FILE, SHARES_FILE, REVEAL_FILE]) await fs.rm(path2.join(dir, name), { force: true });
  }
}
async function expireOldRounds(ctx) {
  const [newest, ...older] = await roundIds(ctx.ws.secaggPrivateDir());
  const aggregator = ctx.config.AGGREGATOR_DATASITE;
  const [newestRound] = await roundIds(ctx.ws.secaggDir(aggregator));
  const stale = newest !== void 0 && newestRound !== void 0 && roundNumber(newest) < roundNumber(newestRound) ? [newest, ...older] : older;
  for (const roundId of stale) {
    const state = await readRoundState(ctx.ws, roundId);
    if (state) await finish(ctx, { roundId }, state, { outcome: "expired", reason: "a newer round opened before this one reported a result" });
    else await fs.rm(roundPrivateDir(ctx.ws, roundId), { recursive: true, force: true });
  }
}
function roundPrivateDir(ws, roundId) {
  assertRoundId(roundId);
  return path2.join(ws.secaggPrivateDir(), roundId);
}
async function readRoundState(ws, roundId) {
  const file = path2.join(roundPrivateDir(ws, roundId), ROUND_STATE_FILE);
  const raw = await readJsonFile(file, { maxBytes: MAX_PRIVATE_JSON_BYTES });
  if (raw === null) return null;
  if (raw.formatVersion !== MEMBER_STATE_VERSION || raw.roundId !== roundId) throw new AppError("ERR_JSON_FORMAT", `${file} is not a round state of ${roundId}; delete the folder`, { file });
  return raw;
}
async function writeRoundState(ws, state) {
  await writeJsonAtomic(path2.join(roundPrivateDir(ws, state.roundId), ROUND_STATE_FILE), state, { private: true });
}
function storeSecrets(secrets) {
  return {
    cPk: toBase64(secrets.c.publicKey),
    cSk: toBase64(secrets.c.privateKey),
    sPk: toBase64(secrets.s.publicKey),
    sSk: toBase64(secrets.s.privateKey),
    selfSeed: toBase64(secrets.selfSeed)
  };
}
async function readSecrets(ws, roundId) {
  const file = path2.join(roundPrivateDir(ws, roundId), SECRETS_FILE);
  const raw = await readJsonFile(file, { maxBytes: MAX_SMALL_FILE_BYTES });
  if (raw === null) throw new AppError("ERR_FILE_NOT_FOUND", `${file} is missing: this round's keys are lost; the datasite sits the round out`, { file });
  return {
    c: { publicKey: fromBase64(raw.cPk), privateKey: fromBase64(raw.cSk) },
    s: { publicKey: fromBase64(raw.sPk), privateKey: fromBase64(raw.sSk) },
    selfSeed: fromBase64(raw.selfSeed)
  };
}
async function readPrivateVector(file, length, dtype) {
  const bytes = await readRegularFile(file, { maxBytes: length * 4 + NPY_HEADER_SLACK_BYTES });
  return bytes === null ? null : decodeNpy(bytes, file, { dtype, shape: [length] }).data;
}

export {
  profileSources,
  groupByProfileName,
  readAssignments,
  assignProfiles,
  respondToSecureRound,
  readMemberStatus,
  recordContributionMode
};
//# sourceMappingURL=chunk-PW473JHD.js.map
