import {
  decodeNpy,
  encodeNpy,
  sha256Hex
} from "./chunk-TBES3XCL.js";
import {
  readJsonFile,
  readRegularFile,
  writeFileAtomic,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  AppError
} from "./chunk-3L2Z3EX5.js";

// src/shared/random.ts
import { randomFillSync } from "node:crypto";
function fromUniform(next) {
  let spare = null;
  const normal = () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return { next, normal, int: (n) => Math.floor(next() * n) };
}
function createRandom(seed) {
  let state = seed >>> 0;
  return fromUniform(() => {
    state = state + 1831565813 >>> 0;
    let t = state;
    t = Math.imul(t ^ t >>> 15, t | 1);
    t ^= t + Math.imul(t ^ t >>> 7, t | 61);
    return ((t ^ t >>> 14) >>> 0) / 4294967296;
  });
}
var CRYPTO_BATCH_WORDS = 65536;
function cryptoUniform() {
  const words = new Uint32Array(CRYPTO_BATCH_WORDS);
  let index = CRYPTO_BATCH_WORDS;
  return () => {
    if (index >= CRYPTO_BATCH_WORDS) {
      randomFillSync(words);
      index = 0;
    }
    const hi = words[index++] >>> 5;
    const lo = words[index++] >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}
function cryptoRandom() {
  return fromUniform(cryptoUniform());
}
function deriveSeed(seed, label) {
  let h = (seed ^ 2654435769) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 16777619) >>> 0;
  }
  return h >>> 0;
}

// src/shared/global-model.ts
import { promises as fs } from "node:fs";
import path from "node:path";
var GLOBAL_FORMAT = "syftbox-netflix-svd/global-v";
var GLOBAL_FORMAT_VERSION = 1;
var GLOBAL_PAYLOAD = "Global_V.npy";
var GLOBAL_MANIFEST = "Global_V.json";
var MAX_GLOBAL_MANIFEST_BYTES = 64 * 1024;
var NPY_HEADER_SLACK_BYTES = 4096;
var VERSION_DIR_RE = /^v(\d{6,})$/;
var INIT_SCALE = 0.1;
function initialItemFactors(items, rank, seed) {
  const random = createRandom(seed);
  const std = INIT_SCALE / Math.sqrt(rank);
  const out = new Float32Array(items * rank);
  for (let i = 0; i < out.length; i++) out[i] = random.normal() * std;
  return out;
}
function parseGlobalManifest(value, file) {
  const fail = (what) => {
    throw new AppError("ERR_MODEL_VERSION", `${file}: ${what}`, { file });
  };
  if (typeof value !== "object" || value === null) return fail("manifest is not a JSON object");
  const m = value;
  if (m.format !== GLOBAL_FORMAT) fail(`format ${JSON.stringify(m.format)} is not ${GLOBAL_FORMAT}`);
  if (m.formatVersion !== GLOBAL_FORMAT_VERSION) fail(`formatVersion ${JSON.stringify(m.formatVersion)} is not supported`);
  for (const k of ["version", "round", "items", "rank", "contributors"]) {
    if (!Number.isSafeInteger(m[k]) || m[k] < 0) fail(`${k} must be a non-negative integer`);
  }
  if (typeof m.vocabHash !== "string" || typeof m.sha256 !== "string" || typeof m.createdAt !== "string") fail("vocabHash, sha256 and createdAt must be strings");
  return m;
}
async function listGlobalVersions(globalDir) {
  let names;
  try {
    names = await fs.readdir(globalDir);
  } catch {
    return [];
  }
  return names.map((n) => VERSION_DIR_RE.exec(n)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => b - a);
}
async function readGlobalVersion(versionDir, expect) {
  const manifestFile = path.join(versionDir, GLOBAL_MANIFEST);
  let raw;
  try {
    raw = await readJsonFile(manifestFile, { maxBytes: MAX_GLOBAL_MANIFEST_BYTES });
  } catch (err) {
    if (err.code === "EACCES") return null;
    throw err;
  }
  if (raw === null) return null;
  const manifest = parseGlobalManifest(raw, manifestFile);
  if (manifest.vocabHash !== expect.vocabHash || manifest.rank !== expect.rank || manifest.items !== expect.items) {
    throw new AppError(
      "ERR_MODEL_VERSION",
      `${manifestFile}: Global_V is ${manifest.items} x ${manifest.rank} for vocabulary ${manifest.vocabHash.slice(0, 12)}; this node uses ${expect.items} x ${expect.rank} for ${expect.vocabHash.slice(0, 12)} (update the app or check MODEL_RANK)`,
      { file: manifestFile }
    );
  }
  const payloadFile = path.join(versionDir, GLOBAL_PAYLOAD);
  const bytes = await readRegularFile(payloadFile, { maxBytes: expect.items * expect.rank * 4 + NPY_HEADER_SLACK_BYTES });
  if (bytes === null || sha256Hex(bytes) !== manifest.sha256) return null;
  const npy = decodeNpy(bytes, payloadFile, { dtype: "<f4", shape: [expect.items, expect.rank] });
  return { manifest, values: npy.data };
}
async function readLatestGlobal(globalDir, expect) {
  for (const version of await listGlobalVersions(globalDir)) {
    const model = await readGlobalVersion(path.join(globalDir, versionDirName(version)), expect);
    if (model) return model;
  }
  return null;
}
function versionDirName(version) {
  return `v${String(version).padStart(6, "0")}`;
}
async function writeGlobalVersion(globalDir, values, fields) {
  const bytes = encodeNpy(values, [fields.items, fields.rank]);
  const manifest = { format: GLOBAL_FORMAT, formatVersion: GLOBAL_FORMAT_VERSION, sha256: sha256Hex(bytes), ...fields };
  const dir = path.join(globalDir, versionDirName(fields.version));
  await writeFileAtomic(path.join(dir, GLOBAL_PAYLOAD), bytes);
  await writeJsonAtomic(path.join(dir, GLOBAL_MANIFEST), manifest);
  return manifest;
}

// src/shared/privacy.ts
var RDP_ORDERS = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 128, 256];
var BUDGET_TOLERANCE = 1e-9;
var BISECTION_STEPS = 200;
var BISECTION_RELATIVE_TOLERANCE = 1e-12;
var DAY_MS = 24 * 60 * 60 * 1e3;
function gaussianSigma(epsilon, delta, sensitivity) {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a positive number, got ${epsilon}`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be within (0, 1), got ${delta}`);
  if (!(sensitivity > 0) || !Number.isFinite(sensitivity)) throw new RangeError(`sensitivity must be a positive number, got ${sensitivity}`);
  const holds = (sigma) => gaussianDelta(sigma / sensitivity, epsilon) <= delta;
  let hi = sensitivity;
  while (!holds(hi)) hi *= 2;
  let lo = hi / 2;
  while (holds(lo)) {
    hi = lo;
    lo /= 2;
  }
  for (let step = 0; step < BISECTION_STEPS && hi - lo > hi * BISECTION_RELATIVE_TOLERANCE; step++) {
    const mid = (lo + hi) / 2;
    if (holds(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
function gaussianDelta(s, epsilon) {
  const a = 1 / (2 * s);
  const b = epsilon * s;
  return Math.exp(logNormalCdf(a - b)) - Math.exp(epsilon + logNormalCdf(-a - b));
}
function deltaNoiseSigma(epsilon, delta, clipNorm) {
  return gaussianSigma(epsilon, delta, 2 * clipNorm);
}
function addGaussianNoise(values, sigma, random) {
  if (!(sigma >= 0)) throw new RangeError(`sigma must be >= 0, got ${sigma}`);
  for (let i = 0; i < values.length; i++) values[i] += sigma * random.normal();
}
function laplaceNoise(scale, random) {
  if (!(scale >= 0)) throw new RangeError(`scale must be >= 0, got ${scale}`);
  let p = random.next();
  while (p === 0) p = random.next();
  return p < 0.5 ? scale * Math.log(2 * p) : -scale * Math.log(2 * (1 - p));
}
function gaussianRho(l2, sigma) {
  checkPositive({ l2, sigma });
  return l2 * l2 / (2 * sigma * sigma);
}
function gaussianSigmaForRho(l2, rho) {
  checkPositive({ l2, rho });
  return l2 / Math.sqrt(2 * rho);
}
function zcdpEpsilon(rho, delta) {
  if (!(rho >= 0) || !Number.isFinite(rho)) throw new RangeError(`rho must be a finite number >= 0, got ${rho}`);
  checkDelta(delta);
  return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}
function zcdpRho(epsilon, delta) {
  checkPositive({ epsilon });
  checkDelta(delta);
  const log = Math.log(1 / delta);
  return (Math.sqrt(log + epsilon) - Math.sqrt(log)) ** 2;
}
function gaussianRdp(alpha, l2, sigma) {
  checkOrder(alpha);
  return alpha * gaussianRho(l2, sigma);
}
function skellamRdp(alpha, l2, l1, mu) {
  checkOrder(alpha);
  checkPositive({ l2, l1, mu });
  const a = Math.ceil(alpha);
  const l2Squared = l2 * l2;
  return a * l2Squared / (2 * mu) + Math.min(((2 * a - 1) * l2Squared + 6 * l1) / (4 * mu * mu), 3 * l1 / (2 * mu));
}
function integerL1Bound(l2, length) {
  checkPositive({ l2, length });
  return l2 * Math.min(Math.sqrt(length), l2);
}
function pureDpRdp(alpha, epsilon) {
  checkOrder(alpha);
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a finite number >= 0, got ${epsilon}`);
  if (epsilon === 0) return 0;
  return epsilon - Math.log((1 + Math.exp(-epsilon)) / (1 + Math.exp(-(2 * alpha - 1) * epsilon))) / (alpha - 1);
}
function rdpCurve(rdpAt) {
  return RDP_ORDERS.map((alpha) => ({ alpha, rdp: rdpAt(alpha) }));
}
function composeRdp(curves) {
  const total = rdpCurve(() => 0);
  for (const curve of curves) {
    checkCurve(curve);
    for (let i = 0; i < total.length; i++) total[i].rdp += curve[i].rdp;
  }
  return total;
}
function epsilonFromRdp(curve, delta) {
  checkDelta(delta);
  return minimiseOverOrders(curve, ({ alpha, rdp }) => rdp + Math.log((alpha - 1) / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1));
}
function minimiseOverOrders(curve, epsilonAt) {
  if (curve.length === 0) throw new RangeError("an RDP curve needs at least one order");
  let best = { epsilon: Infinity, alpha: curve[0].alpha };
  for (const point of curve) {
    checkOrder(point.alpha);
    const epsilon = epsilonAt(point);
    if (epsilon < best.epsilon) best = { epsilon, alpha: point.alpha };
  }
  return { epsilon: Math.max(0, best.epsilon), alpha: best.alpha };
}
function calibrateRoundNoise(options) {
  const { epsilonTotal, delta, rounds, l2, l1 } = options;
  checkPositive({ epsilonTotal, l2, l1 });
  checkDelta(delta);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new RangeError(`rounds must be an integer >= 1, got ${rounds}`);
  const holds = (mu) => roundsEpsilon(rounds, l2, l1, mu, delta) <= epsilonTotal;
  return { mu: smallestHolding(holds, gaussianSigmaForRho(l2, zcdpRho(epsilonTotal, delta) / rounds) ** 2) };
}
function roundsEpsilon(rounds, l2, l1, mu, delta) {
  return epsilonFromRdp(rdpCurve((alpha) => rounds * skellamRdp(alpha, l2, l1, mu)), delta).epsilon;
}
function smallestHolding(holds, start) {
  let hi = start;
  while (!holds(hi)) hi *= 2;
  let lo = hi / 2;
  while (holds(lo)) {
    hi = lo;
    lo /= 2;
  }
  for (let step = 0; step < BISECTION_STEPS && hi - lo > hi * BISECTION_RELATIVE_TOLERANCE; step++) {
    const mid = (lo + hi) / 2;
    if (holds(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
var COMPOSITION_METHOD = "rdp";
var LEDGER_FORMAT_VERSION = 2;
function skellamSpend(at, kind, params) {
  const { l2, l1, mu } = params;
  return { at, kind, mechanism: "skellam", params: { l2, l1, mu }, rdp: rdpCurve((alpha) => skellamRdp(alpha, l2, l1, mu)), dp: null };
}
function gaussianSpend(at, kind, params) {
  const { l2, sigma } = params;
  return { at, kind, mechanism: "gaussian", params: { l2, sigma }, rdp: rdpCurve((alpha) => gaussianRdp(alpha, l2, sigma)), dp: null };
}
function pureDpSpend(at, kind, mechanism, epsilon) {
  return { at, kind, mechanism, params: { epsilon }, rdp: rdpCurve((alpha) => pureDpRdp(alpha, epsilon)), dp: { epsilon, delta: 0 } };
}
function emptyLedger() {
  return { formatVersion: LEDGER_FORMAT_VERSION, method: COMPOSITION_METHOD, entries: [] };
}
function recordSpend(ledger, entry) {
  const problem = entryProblem(entry);
  if (problem !== null) throw new RangeError(`cannot record this privacy spend: ${problem}`);
  return { ...ledger, entries: [...ledger.entries, structuredClone(entry)] };
}
function privacySpent(ledger, budget, now) {
  const since = budget.periodDays > 0 ? now.getTime() - budget.periodDays * DAY_MS : -Infinity;
  const inWindow = ledger.entries.filter((e) => !(Date.parse(e.at) <= since));
  let basic = { epsilon: 0, delta: 0 };
  let pureEpsilon = 0;
  const curves = [];
  const impureCurves = [];
  for (const e of inWindow) {
    if (e.rdp === null) {
      basic = { epsilon: basic.epsilon + e.dp.epsilon, delta: basic.delta + e.dp.delta };
      continue;
    }
    curves.push(e.rdp);
    if (e.dp?.delta === 0) pureEpsilon += e.dp.epsilon;
    else impureCurves.push(e.rdp);
  }
  const converted = (list) => list.length === 0 ? { epsilon: 0, alpha: null } : epsilonFromRdp(composeRdp(list), budget.delta);
  const all = converted(curves);
  const impure = converted(impureCurves);
  const best = all.epsilon <= pureEpsilon + impure.epsilon ? all : { epsilon: pureEpsilon + impure.epsilon, alpha: impure.alpha };
  return { epsilon: basic.epsilon + best.epsilon, delta: basic.delta + budget.delta, alpha: best.alpha, entries: inWindow.length };
}
function canSpend(ledger, next, budget, now) {
  return privacySpent(recordSpend(ledger, next), budget, now).epsilon <= budget.epsilon * (1 + BUDGET_TOLERANCE);
}
function parsePrivacyLedger(value, file) {
  const fail = (what) => {
    throw new AppError("ERR_JSON_FORMAT", `${file}: ${what} (the privacy ledger is kept by the app; restore it from a backup rather than editing it)`, { file });
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("not a JSON object");
  const m = value;
  if (!Array.isArray(m.entries)) return fail("entries is not an array");
  if (m.formatVersion === 1) {
    if (m.method !== "basic-composition") fail(`method ${JSON.stringify(m.method)} is not basic-composition`);
    return { ...emptyLedger(), entries: m.entries.map((e, i) => fromVersion1(e) ?? fail(`entry ${i} needs at, kind, epsilon >= 0 and delta in [0, 1)`)) };
  }
  if (m.formatVersion !== LEDGER_FORMAT_VERSION) fail(`formatVersion ${JSON.stringify(m.formatVersion)} is not supported`);
  if (m.method !== COMPOSITION_METHOD) fail(`method ${JSON.stringify(m.method)} is not ${COMPOSITION_METHOD}`);
  const entries = m.entries.map((e, i) => {
    const problem = entryProblem(e);
    return problem === null ? structuredClone(e) : fail(`entry ${i}: ${problem}`);
  });
  return { ...emptyLedger(), entries };
}
function fromVersion1(value) {
  const e = value;
  if (typeof e !== "object" || e === null || typeof e.at !== "string" || typeof e.kind !== "string" || typeof e.epsilon !== "number" || !(e.epsilon >= 0) || !Number.isFinite(e.epsilon) || typeof e.delta !== "number" || !(e.delta >= 0 && e.delta < 1)) {
    return null;
  }
  if (e.delta === 0) return pureDpSpend(e.at, e.kind, "pure-dp", e.epsilon);
  return { at: e.at, kind: e.kind, mechanism: "approximate-dp", params: { epsilon: e.epsilon, delta: e.delta }, rdp: null, dp: { epsilon: e.epsilon, delta: e.delta } };
}
function entryProblem(value) {
  const e = value;
  if (typeof e !== "object" || e === null || Array.isArray(e)) return "not an object";
  if (typeof e.at !== "string" || typeof e.kind !== "string" || typeof e.mechanism !== "string") return "at, kind and mechanism must be strings";
  const params = e.params;
  if (typeof params !== "object" || params === null || Array.isArray(params) || !Object.values(params).every((v) => typeof v === "number" && Number.isFinite(v))) {
    return "params must be an object of finite numbers";
  }
  const dp = e.dp;
  if (dp !== null && (typeof dp !== "object" || typeof dp.epsilon !== "number" || !(dp.epsilon >= 0) || !Number.isFinite(dp.epsilon) || typeof dp.delta !== "number" || !(dp.delta >= 0 && dp.delta < 1))) {
    return "dp must be null or { epsilon >= 0, delta in [0, 1) }";
  }
  if (e.rdp === null) return dp === null ? "an entry without an RDP curve needs its (epsilon, delta) in dp" : null;
  return curveProblem(e.rdp);
}
function curveProblem(value) {
  if (!Array.isArray(value) || value.length !== RDP_ORDERS.length) return `rdp must list the ${RDP_ORDERS.length} orders ${RDP_ORDERS.join(", ")}`;
  for (let i = 0; i < RDP_ORDERS.length; i++) {
    const p = value[i];
    if (typeof p !== "object" || p === null || p.alpha !== RDP_ORDERS[i]) return `rdp[${i}] must be at order ${RDP_ORDERS[i]}`;
    if (typeof p.rdp !== "number" || !(p.rdp >= 0) || !Number.isFinite(p.rdp)) return `rdp[${i}].rdp must be a finite number >= 0`;
  }
  return null;
}
function checkCurve(curve) {
  const problem = curveProblem(curve);
  if (problem !== null) throw new RangeError(problem);
}
function checkOrder(alpha) {
  if (!(alpha > 1) || !Number.isFinite(alpha)) throw new RangeError(`a R\xE9nyi order must be a finite number > 1, got ${alpha}`);
}
function checkDelta(delta) {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be within (0, 1), got ${delta}`);
}
function checkPositive(values) {
  for (const [name, v] of Object.entries(values)) {
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number, got ${v}`);
  }
}
var SQRT2 = Math.SQRT2;
var LOG_HALF = Math.log(0.5);
var ERFC_SERIES_LIMIT = 2;
var SERIES_TERMS = 60;
var CONTINUED_FRACTION_STEPS = 500;
var TINY = 1e-300;
function logNormalCdf(t) {
  const x = -t / SQRT2;
  if (x < ERFC_SERIES_LIMIT) return Math.log(0.5 * erfcSmall(x));
  return LOG_HALF - x * x + Math.log(erfcScaledLarge(x));
}
function erfcSmall(x) {
  if (x <= -ERFC_SERIES_LIMIT) return 2 - Math.exp(-x * x) * erfcScaledLarge(-x);
  let term = x;
  let sum = x;
  const x2 = x * x;
  for (let n = 1; n < SERIES_TERMS; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return 1 - 2 / Math.sqrt(Math.PI) * sum;
}
function erfcScaledLarge(x) {
  let f = x;
  let C = x;
  let D = 0;
  for (let n = 1; n < CONTINUED_FRACTION_STEPS; n++) {
    const a = n / 2;
    D = x + a * D;
    D = D === 0 ? TINY : 1 / D;
    C = x + a / C;
    if (C === 0) C = TINY;
    const change = C * D;
    f *= change;
    if (Math.abs(change - 1) < 1e-16) break;
  }
  return 1 / (Math.sqrt(Math.PI) * f);
}

export {
  createRandom,
  cryptoRandom,
  deriveSeed,
  GLOBAL_PAYLOAD,
  GLOBAL_MANIFEST,
  initialItemFactors,
  parseGlobalManifest,
  listGlobalVersions,
  readLatestGlobal,
  versionDirName,
  writeGlobalVersion,
  gaussianSigma,
  deltaNoiseSigma,
  addGaussianNoise,
  laplaceNoise,
  gaussianRho,
  gaussianSigmaForRho,
  zcdpEpsilon,
  zcdpRho,
  integerL1Bound,
  calibrateRoundNoise,
  skellamSpend,
  gaussianSpend,
  pureDpSpend,
  emptyLedger,
  recordSpend,
  privacySpent,
  canSpend,
  parsePrivacyLedger
};
//# sourceMappingURL=chunk-OPHXPK3N.js.map
