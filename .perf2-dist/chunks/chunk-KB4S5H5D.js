import {
  GLOBAL_MANIFEST,
  GLOBAL_PAYLOAD,
  listGlobalVersions,
  parseGlobalManifest,
  versionDirName
} from "./chunk-OPHXPK3N.js";
import {
  sha256Hex
} from "./chunk-TBES3XCL.js";
import {
  readJsonFile,
  readRegularFile,
  writeFileAtomic
} from "./chunk-TL5FSXBU.js";
import {
  AppError
} from "./chunk-3L2Z3EX5.js";

// src/shared/ledger.ts
import { createHash } from "node:crypto";
import path from "node:path";
var LEDGER_FORMAT_VERSION = 1;
var GENESIS_HASH = "0".repeat(64);
var MAX_LEDGER_BYTES = 256 * 1024 * 1024;
var SHA256_RE = /^[0-9a-f]{64}$/;
function canonicalJson(value) {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new RangeError(`canonical JSON cannot hold ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const record = value;
  const keys = Object.keys(record).filter((k) => record[k] !== void 0).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
}
function entryHash(entry) {
  const { hash: _omit, ...rest } = entry;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex");
}
function createLedgerEntry(fields, previous) {
  const body = { formatVersion: LEDGER_FORMAT_VERSION, ...fields, prevHash: previous ? previous.hash : GENESIS_HASH };
  return { ...body, hash: entryHash(body) };
}
function verifyLedger(entries) {
  const seen = /* @__PURE__ */ new Set();
  let prev = null;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index];
    const fail = (reason) => ({ ok: false, entries: entries.length, index, reason: `line ${index + 1} (version ${entry.version}): ${reason}` });
    if (entry.formatVersion !== LEDGER_FORMAT_VERSION) return fail(`formatVersion ${entry.formatVersion} is not ${LEDGER_FORMAT_VERSION}`);
    if (entry.hash !== entryHash(entry)) return fail("hash does not match the entry (edited?)");
    if (entry.prevHash !== (prev ? prev.hash : GENESIS_HASH)) return fail("prevHash does not match the previous line (line dropped, inserted or reordered?)");
    if (prev && (entry.version <= prev.version || entry.round <= prev.round)) return fail(`version/round do not increase after ${prev.version}/${prev.round}`);
    for (const accepted of entry.accepted) {
      if (seen.has(accepted.deltaSha256)) return fail(`delta ${accepted.deltaSha256.slice(0, 16)} was already accepted in an earlier round`);
      seen.add(accepted.deltaSha256);
    }
    prev = entry;
  }
  return { ok: true, entries: entries.length, head: prev };
}
function parseLedger(text, file) {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((line, i) => {
    const fail = (what) => {
      throw new AppError("ERR_LEDGER_BROKEN", `${file} line ${i + 1}: ${what}`, { file, row: i + 1 });
    };
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      return fail("is not JSON (truncated or edited?)");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("is not a JSON object");
    const e = value;
    for (const k of ["round", "version", "rejectedCount", "formatVersion"]) {
      if (!Number.isSafeInteger(e[k]) || e[k] < 0) fail(`${k} must be a non-negative integer`);
    }
    for (const k of ["prevHash", "globalSha256", "hash"]) {
      if (typeof e[k] !== "string" || !SHA256_RE.test(e[k])) fail(`${k} must be 64 hex digits`);
    }
    if (typeof e.createdAt !== "string") fail("createdAt must be a string");
    if (typeof e.params !== "object" || e.params === null || Array.isArray(e.params)) fail("params must be an object");
    if (!Array.isArray(e.accepted)) fail("accepted must be a list");
    for (const a of e.accepted) {
      const r = a;
      const ok = typeof r === "object" && r !== null && typeof r.participant === "string" && typeof r.deltaSha256 === "string" && SHA256_RE.test(r.deltaSha256) && typeof r.weight === "number" && Number.isFinite(r.weight);
      if (!ok) fail("accepted entries must be { participant, deltaSha256, weight }");
    }
    if (e.secagg !== void 0) checkSecagg(e.secagg, fail);
    return value;
  });
}
function checkSecagg(value, fail) {
  const r = value;
  if (typeof r !== "object" || r === null || Array.isArray(r) || r.protocol !== "secagg+" || typeof r.roundId !== "string") fail("secagg must be an object with protocol secagg+ and a roundId");
  for (const k of ["modulusBits", "scaleBits", "k", "t", "minSurvivors", "cohort", "survivors", "dropped"]) {
    if (!Number.isSafeInteger(r[k]) || r[k] < 0) fail(`secagg.${k} must be a non-negative integer`);
  }
  const noise = r.noise;
  if (typeof noise !== "object" || noise === null || typeof noise.sigma !== "number" || !Number.isFinite(noise.sigma) || typeof noise.mechanism !== "string") {
    fail("secagg.noise must be { mechanism, sigma }");
  }
}
async function readLedger(file) {
  const bytes = await readRegularFile(file, { maxBytes: MAX_LEDGER_BYTES });
  return bytes === null ? [] : parseLedger(bytes.toString("utf8"), file);
}
async function appendLedgerEntry(file, entry) {
  const bytes = await readRegularFile(file, { maxBytes: MAX_LEDGER_BYTES });
  const text = bytes === null ? "" : bytes.toString("utf8");
  const entries = parseLedger(text, file);
  const last = entries.length > 0 ? entries[entries.length - 1] : null;
  if (entry.prevHash !== (last ? last.hash : GENESIS_HASH) || entry.hash !== entryHash(entry)) {
    throw new AppError("ERR_LEDGER_BROKEN", `${file}: the new entry for version ${entry.version} does not chain onto the last line`, { file });
  }
  await writeFileAtomic(file, `${text}${canonicalJson(entry)}
`);
}
var MAX_GLOBAL_MANIFEST_BYTES = 64 * 1024;
var NPY_HEADER_SLACK_BYTES = 4096;
async function readGlobalCopies(globalDir) {
  const copies = [];
  for (const version of await listGlobalVersions(globalDir)) {
    const dir = path.join(globalDir, versionDirName(version));
    const manifestFile = path.join(dir, GLOBAL_MANIFEST);
    const raw = await readJsonFile(manifestFile, { maxBytes: MAX_GLOBAL_MANIFEST_BYTES }).catch(() => null);
    if (raw === null) continue;
    const manifest = parseGlobalManifest(raw, manifestFile);
    const bytes = await readRegularFile(path.join(dir, GLOBAL_PAYLOAD), { maxBytes: manifest.items * manifest.rank * 4 + NPY_HEADER_SLACK_BYTES }).catch(() => null);
    if (bytes === null) continue;
    copies.push({ version, sha256: sha256Hex(bytes) });
  }
  return copies;
}
function auditParticipation(entries, held) {
  const problems = [];
  const chain = verifyLedger(entries);
  if (!chain.ok) problems.push(`ledger does not verify: ${chain.reason}`);
  const byVersion = new Map(entries.map((e) => [e.version, e]));
  const headVersion = entries.length > 0 ? entries[entries.length - 1].version : 0;
  const globals = held.globals.map(({ version, sha256 }) => {
    const ledgerSha256 = byVersion.get(version)?.globalSha256 ?? null;
    const status = ledgerSha256 === sha256 ? "match" : ledgerSha256 === null && version > headVersion ? "pending" : "mismatch";
    if (status === "mismatch") problems.push(`Global_V version ${version} has sha256 ${sha256.slice(0, 16)}\u2026, the ledger names ${ledgerSha256 ? `${ledgerSha256.slice(0, 16)}\u2026` : "no such version"}`);
    return { version, sha256, ledgerSha256, status };
  });
  let delta = null;
  if (held.delta) {
    const { sha256, createdAt } = held.delta;
    const including = entries.find((e) => e.accepted.some((a) => a.deltaSha256 === sha256));
    const due = Date.parse(createdAt) + held.graceMs;
    const later = entries.find((e) => Date.parse(e.createdAt) >= due);
    const status = including ? "included" : later ? "missing" : "pending";
    if (status === "missing") problems.push(`delta ${sha256.slice(0, 16)}\u2026 is not in the ledger, though round ${later.round} ran after it was published (rejected or not received: see the aggregator)`);
    delta = { sha256, status, version: including ? including.version : null };
  }
  return { ok: problems.length === 0, chain, globals, delta, problems };
}

export {
  canonicalJson,
  createLedgerEntry,
  verifyLedger,
  readLedger,
  appendLedgerEntry,
  readGlobalCopies,
  auditParticipation
};
//# sourceMappingURL=chunk-KB4S5H5D.js.map
