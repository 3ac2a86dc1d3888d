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

// src/shared/secagg/files.ts
import { promises as fs } from "node:fs";
import path from "node:path";
var SECAGG_FORMAT_VERSION = 1;
var MODULUS_BITS = 32;
var FORMAT_PREFIX = "syftbox-netflix-svd/secagg-";
var ROUND_FILE = "round.json";
var COHORT_FILE = "cohort.json";
var INBOX_DIR = "inbox";
var UNMASK_FILE = "unmask.json";
var RESULT_FILE = "result.json";
var KEYS_FILE = "keys.json";
var SHARES_FILE = "shares.json";
var MASKED_MANIFEST = "masked.json";
var REVEAL_FILE = "reveal.json";
var MASKED_PAYLOAD_RE = /^masked-[0-9a-f]{16}\.npy$/;
var MAX_SMALL_FILE_BYTES = 64 * 1024;
var MAX_LIST_FILE_BYTES = 8 * 1024 * 1024;
var MAX_COHORT = 1e5;
var MAX_VECTOR_LENGTH = 5e7;
var NPY_HEADER_SLACK_BYTES = 4096;
var KEY_BYTES = 32;
var NONCE_BYTES = 12;
var TAG_BYTES = 16;
var MAX_CIPHERTEXT_BYTES = 1024;
var MAX_SHARE_BYTES = 256;
var PHASE_DEADLINES = ["keysBy", "sharesBy", "maskedBy", "revealBy"];
function header(kind) {
  return { format: `${FORMAT_PREFIX}${kind}`, formatVersion: SECAGG_FORMAT_VERSION };
}
function layoutLength(layout) {
  return layout.segments.reduce((sum, s) => sum + s.length, 0);
}
function inboxFile(roundDir, index) {
  return path.join(roundDir, INBOX_DIR, `${index}.json`);
}
function toBase64(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
function fromBase64(text) {
  return new Uint8Array(Buffer.from(text, "base64"));
}
var Checker = class {
  constructor(file) {
    this.file = file;
  }
  file;
  fail(what) {
    throw new AppError("ERR_SECAGG_FILE", `${this.file}: ${what}`, { file: this.file });
  }
  object(value, what, keys) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) this.fail(`${what} is not a JSON object`);
    const record = value;
    const unknown = Object.keys(record).filter((k) => !keys.includes(k));
    if (unknown.length > 0) this.fail(`${what} has unknown keys ${unknown.join(", ")}`);
    const missing = keys.filter((k) => !(k in record));
    if (missing.length > 0) this.fail(`${what} lacks ${missing.join(", ")}`);
    return record;
  }
  head(record, kind, expect) {
    if (record.format !== `${FORMAT_PREFIX}${kind}`) this.fail(`format ${JSON.stringify(record.format)} is not ${FORMAT_PREFIX}${kind}`);
    if (record.formatVersion !== SECAGG_FORMAT_VERSION) this.fail(`formatVersion ${JSON.stringify(record.formatVersion)} is not supported (expected ${SECAGG_FORMAT_VERSION})`);
    if (record.roundId !== expect.roundId) this.fail(`roundId ${JSON.stringify(record.roundId)} is not ${expect.roundId}`);
  }
  int(value, what, min, max) {
    if (!Number.isSafeInteger(value) || value < min || value > max) this.fail(`${what} must be an integer from ${min} to ${max}`);
    return value;
  }
  number(value, what, min, max) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) this.fail(`${what} must be a finite number from ${min} to ${max}`);
    return value;
  }
  date(value, what) {
    if (typeof value !== "string" || value.length > 64 || Number.isNaN(Date.parse(value))) this.fail(`${what} must be an ISO date`);
    return value;
  }
  index(value, what, expect) {
    return this.int(value, what, 0, (expect.n ?? MAX_COHORT) - 1);
  }
  /** A list of distinct cohort indices, ascending. */
  indices(value, what, expect) {
    if (!Array.isArray(value) || value.length > (expect.n ?? MAX_COHORT)) this.fail(`${what} must be a list of at most ${expect.n ?? MAX_COHORT} indices`);
    const list = value.map((v, i) => this.index(v, `${what}[${i}]`, expect));
    for (let i = 1; i < list.length; i++) if (list[i] <= list[i - 1]) this.fail(`${what} must be ascending without duplicates`);
    return list;
  }
  base64(value, what, minBytes, maxBytes) {
    if (typeof value !== "string" || value.length > Math.ceil(maxBytes / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) this.fail(`${what} must be base64`);
    const bytes = Buffer.from(value, "base64").length;
    if (bytes < minBytes || bytes > maxBytes) this.fail(`${what} holds ${bytes} bytes, expected ${minBytes === maxBytes ? minBytes : `${minBytes} to ${maxBytes}`}`);
    return value;
  }
  key(value, what) {
    return this.base64(value, what, KEY_BYTES, KEY_BYTES);
  }
  /** A sealed box addressed from or to a member; returns that member's index. */
  box(value, what, peer, expect) {
    const r = this.object(value, what, [peer, "nonce", "ciphertext", "tag"]);
    this.base64(r.nonce, `${what}.nonce`, NONCE_BYTES, NONCE_BYTES);
    this.base64(r.ciphertext, `${what}.ciphertext`, 1, MAX_CIPHERTEXT_BYTES);
    this.base64(r.tag, `${what}.tag`, TAG_BYTES, TAG_BYTES);
    return this.index(r[peer], `${what}.${peer}`, expect);
  }
  list(value, what, max, each) {
    if (!Array.isArray(value) || value.length > max) this.fail(`${what} must be a list of at most ${max} entries`);
    return value.map((v, i) => each(v, `${what}[${i}]`));
  }
  distinct(values, what) {
    if (new Set(values).size !== values.length) this.fail(`${what} names a member twice`);
  }
};
function parseRoundFile(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "round", ["format", "formatVersion", "roundId", "baseVersion", "layout", "params", "createdAt"]);
  c.head(r, "round", expect);
  c.int(r.baseVersion, "baseVersion", 0, Number.MAX_SAFE_INTEGER);
  const layout = c.object(r.layout, "layout", ["segments"]);
  const segments = c.list(layout.segments, "layout.segments", 64, (s, where) => {
    const seg = c.object(s, where, ["name", "length"]);
    if (typeof seg.name !== "string" || !/^[a-z][a-z0-9-]{0,31}$/.test(seg.name)) c.fail(`${where}.name must be a short lowercase name`);
    return { name: seg.name, length: c.int(seg.length, `${where}.length`, 1, MAX_VECTOR_LENGTH) };
  });
  if (segments.length === 0 || layoutLength({ segments }) > MAX_VECTOR_LENGTH) c.fail(`layout must have 1 to ${MAX_VECTOR_LENGTH} values`);
  const p = c.object(r.params, "params", ["modulusBits", "scaleBits", "clipNorm", "weightScale", "noise", "deadlines"]);
  if (p.modulusBits !== MODULUS_BITS) c.fail(`params.modulusBits must be ${MODULUS_BITS}`);
  c.int(p.scaleBits, "params.scaleBits", 1, 30);
  c.number(p.clipNorm, "params.clipNorm", 1e-9, 1e9);
  c.number(p.weightScale, "params.weightScale", 1e-9, 1e9);
  const noise = c.object(p.noise, "params.noise", ["mechanism", "sigma"]);
  if (noise.mechanism !== "skellam" && noise.mechanism !== "none") c.fail("params.noise.mechanism must be skellam or none");
  c.number(noise.sigma, "params.noise.sigma", 0, 2 ** 31);
  const deadlines = c.object(p.deadlines, "params.deadlines", PHASE_DEADLINES);
  for (const k of PHASE_DEADLINES) c.date(deadlines[k], `params.deadlines.${k}`);
  c.date(r.createdAt, "createdAt");
  return value;
}
function parseCohortFile(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "cohort", ["format", "formatVersion", "roundId", "members", "neighbours", "t", "minSurvivors", "createdAt"]);
  c.head(r, "cohort", expect);
  const members = c.list(r.members, "members", MAX_COHORT, (m, where) => {
    const x = c.object(m, where, ["index", "cPk", "sPk"]);
    return { index: c.int(x.index, `${where}.index`, 0, MAX_COHORT - 1), cPk: c.key(x.cPk, `${where}.cPk`), sPk: c.key(x.sPk, `${where}.sPk`) };
  });
  const n = members.length;
  for (const [i, m] of members.entries()) if (m.index !== i) c.fail(`members[${i}].index must be ${i} (members are listed by index)`);
  const keys = members.flatMap((m) => [m.cPk, m.sPk]);
  if (new Set(keys).size !== keys.length) c.fail("two members share a public key");
  const within = { ...expect, n };
  const neighbours = c.list(r.neighbours, "neighbours", n, (list, where) => c.indices(list, where, within));
  if (neighbours.length !== n) c.fail(`neighbours must have one list per member (${n})`);
  for (const [u, list] of neighbours.entries()) {
    for (const v of list) {
      if (v === u) c.fail(`neighbours[${u}] names the member itself`);
      if (!neighbours[v].includes(u)) c.fail(`neighbours is not symmetric: ${u} lists ${v}, not the other way`);
    }
  }
  const t = c.int(r.t, "t", 2, n);
  for (const [u, list] of neighbours.entries()) if (list.length < t) c.fail(`member ${u} has ${list.length} neighbours, fewer than t = ${t}`);
  c.int(r.minSurvivors, "minSurvivors", t, n);
  c.date(r.createdAt, "createdAt");
  return value;
}
function parseInboxFile(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "inbox", ["format", "formatVersion", "roundId", "to", "u2", "shares"]);
  c.head(r, "inbox", expect);
  if (r.to !== expect.to) c.fail(`to ${JSON.stringify(r.to)} is not ${expect.to}`);
  c.indices(r.u2, "u2", expect);
  const shares = c.list(r.shares, "shares", expect.n ?? MAX_COHORT, (b, where) => c.box(b, where, "from", expect));
  c.distinct(shares, "shares");
  return value;
}
function parseUnmaskFile(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "unmask", ["format", "formatVersion", "roundId", "survivors", "dropped"]);
  c.head(r, "unmask", expect);
  c.indices(r.survivors, "survivors", expect);
  c.indices(r.dropped, "dropped", expect);
  return value;
}
function parseResultFile(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "result", ["format", "formatVersion", "roundId", "outcome", "reason", "survivors", "dropped", "version", "createdAt"]);
  c.head(r, "result", expect);
  if (r.outcome !== "merged" && r.outcome !== "aborted") c.fail("outcome must be merged or aborted");
  if (r.reason !== null && (typeof r.reason !== "string" || r.reason.length > 1e3)) c.fail("reason must be null or a short string");
  c.indices(r.survivors, "survivors", expect);
  c.indices(r.dropped, "dropped", expect);
  if (r.version !== null) c.int(r.version, "version", 1, Number.MAX_SAFE_INTEGER);
  c.date(r.createdAt, "createdAt");
  return value;
}
function parseKeysFile(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "keys", ["format", "formatVersion", "roundId", "cPk", "sPk", "baseVersion", "createdAt"]);
  c.head(r, "keys", expect);
  c.key(r.cPk, "cPk");
  c.key(r.sPk, "sPk");
  if (r.cPk === r.sPk) c.fail("cPk and sPk must differ");
  c.int(r.baseVersion, "baseVersion", 0, Number.MAX_SAFE_INTEGER);
  c.date(r.createdAt, "createdAt");
  return value;
}
function parseSharesFile(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "shares", ["format", "formatVersion", "roundId", "from", "shares"]);
  c.head(r, "shares", expect);
  c.index(r.from, "from", expect);
  const shares = c.list(r.shares, "shares", expect.n ?? MAX_COHORT, (b, where) => c.box(b, where, "to", expect));
  c.distinct(shares, "shares");
  return value;
}
function parseRevealFile(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "reveal", ["format", "formatVersion", "roundId", "from", "bShares", "sShares"]);
  c.head(r, "reveal", expect);
  c.index(r.from, "from", expect);
  const revealed = (key) => c.list(r[key], key, expect.n ?? MAX_COHORT, (s2, where) => {
    const x = c.object(s2, where, ["of", "share"]);
    return { of: c.index(x.of, `${where}.of`, expect), share: c.base64(x.share, `${where}.share`, 2, MAX_SHARE_BYTES) };
  });
  const b = revealed("bShares").map((s2) => s2.of);
  const s = revealed("sShares").map((x) => x.of);
  c.distinct([...b, ...s], "bShares and sShares together (never both kinds for one member)");
  return value;
}
function parseMaskedManifest(value, file, expect) {
  const c = new Checker(file);
  const r = c.object(value, "masked manifest", ["format", "formatVersion", "roundId", "payload", "sha256", "length", "createdAt"]);
  c.head(r, "masked", expect);
  if (typeof r.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(r.sha256)) c.fail("sha256 must be 64 lowercase hex digits");
  if (typeof r.payload !== "string" || !MASKED_PAYLOAD_RE.test(r.payload) || r.payload !== `masked-${r.sha256.slice(0, 16)}.npy`) {
    c.fail("payload must be masked-<first 16 hex of sha256>.npy");
  }
  if (r.length !== expect.length) c.fail(`length ${JSON.stringify(r.length)} is not the round's ${expect.length}`);
  c.date(r.createdAt, "createdAt");
  return value;
}
async function readPhaseFile(file, maxBytes, parse) {
  const raw = await readJsonFile(file, { maxBytes });
  return raw === null ? null : parse(raw, file);
}
async function writePhaseFile(file, value) {
  await writeJsonAtomic(file, value);
}
async function writeMaskedInput(dir, roundId, values, createdAt) {
  const bytes = encodeNpy(values, [values.length]);
  const sha256 = sha256Hex(bytes);
  const payload = `masked-${sha256.slice(0, 16)}.npy`;
  const manifest = { ...header("masked"), roundId, payload, sha256, length: values.length, createdAt };
  await writeFileAtomic(path.join(dir, payload), bytes);
  await writeJsonAtomic(path.join(dir, MASKED_MANIFEST), manifest);
  for (const name of await fs.readdir(dir)) {
    if (MASKED_PAYLOAD_RE.test(name) && name !== payload) await fs.rm(path.join(dir, name), { force: true });
  }
  return manifest;
}
async function readMaskedInput(dir, expect) {
  const manifestFile = path.join(dir, MASKED_MANIFEST);
  const manifest = await readPhaseFile(manifestFile, MAX_SMALL_FILE_BYTES, (v, f) => parseMaskedManifest(v, f, expect));
  if (manifest === null) return null;
  const payloadFile = path.join(dir, manifest.payload);
  const bytes = await readRegularFile(payloadFile, { maxBytes: expect.length * 4 + NPY_HEADER_SLACK_BYTES });
  if (bytes === null) return null;
  if (sha256Hex(bytes) !== manifest.sha256) throw new AppError("ERR_SECAGG_FILE", `${payloadFile}: sha256 differs from ${MASKED_MANIFEST}`, { file: payloadFile });
  const npy = decodeNpy(bytes, payloadFile, { dtype: "<u4", shape: [expect.length] });
  return { manifest, values: npy.data };
}

export {
  MODULUS_BITS,
  ROUND_FILE,
  COHORT_FILE,
  INBOX_DIR,
  UNMASK_FILE,
  RESULT_FILE,
  KEYS_FILE,
  SHARES_FILE,
  MASKED_MANIFEST,
  REVEAL_FILE,
  MAX_SMALL_FILE_BYTES,
  MAX_LIST_FILE_BYTES,
  header,
  layoutLength,
  inboxFile,
  toBase64,
  fromBase64,
  parseRoundFile,
  parseCohortFile,
  parseInboxFile,
  parseUnmaskFile,
  parseResultFile,
  parseKeysFile,
  parseSharesFile,
  parseRevealFile,
  readPhaseFile,
  writePhaseFile,
  writeMaskedInput,
  readMaskedInput
};
//# sourceMappingURL=chunk-65BIV6JN.js.map
