import {
  moduleLogger,
  readJsonFile,
  readRegularFile,
  readRegularFileInto,
  writeFileAtomic,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  AppError,
  isAppError
} from "./chunk-3L2Z3EX5.js";

// src/shared/delta.ts
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";

// src/shared/hash-workers.ts
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
var WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, buffer, offset, length }) => {
  parentPort.postMessage({ id, hex: createHash('sha256').update(new Uint8Array(buffer, offset, length)).digest('hex') });
});
`;
var workers = null;
var pending = /* @__PURE__ */ new Map();
var nextId = 0;
function start() {
  const count = Math.max(1, availableParallelism());
  return Array.from({ length: count }, () => {
    const entry = { worker: new Worker(WORKER_SOURCE, { eval: true }), busy: 0 };
    entry.worker.unref();
    entry.worker.on("message", ({ id, hex }) => {
      if (--entry.busy === 0) entry.worker.unref();
      const job = pending.get(id);
      pending.delete(id);
      job?.resolve(hex);
    });
    entry.worker.on("error", (err) => fail(err));
    entry.worker.on("exit", (code) => fail(new Error(`a hash worker exited (code ${code})`)));
    return entry;
  });
}
function fail(err) {
  const dead = workers;
  workers = null;
  for (const w of dead ?? []) void w.worker.terminate();
  for (const job of pending.values()) job.reject(err);
  pending.clear();
}
function isShared(bytes) {
  return bytes.buffer instanceof SharedArrayBuffer;
}
function sha256Shared(bytes) {
  if (!isShared(bytes)) throw new TypeError("sha256Shared needs bytes in a SharedArrayBuffer");
  workers ??= start();
  const target = workers.reduce((a, b) => b.busy < a.busy ? b : a);
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    if (target.busy++ === 0) target.worker.ref();
    target.worker.postMessage({ id, buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.byteLength });
  });
}

// src/shared/npy.ts
var MAGIC = Buffer.from([147, 78, 85, 77, 80, 89]);
var PREFIX_BYTES = 10;
var HEADER_ALIGN = 64;
var MAX_HEADER_BYTES = 4096;
var LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function encodeNpy(data, shape) {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape ${shape.join("x")} needs ${count} values, got ${data.length}`);
  const descr = data instanceof Float32Array ? "<f4" : data instanceof Uint32Array ? "<u4" : "<i4";
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = PREFIX_BYTES + header.length + 1;
  header += " ".repeat((HEADER_ALIGN - unpadded % HEADER_ALIGN) % HEADER_ALIGN) + "\n";
  const out = Buffer.alloc(PREFIX_BYTES + header.length + data.byteLength);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, PREFIX_BYTES, "latin1");
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) body.copy(out, PREFIX_BYTES + header.length);
  else swapInto(body, out, PREFIX_BYTES + header.length);
  return out;
}
function decodeNpy(buf, source, expect = {}) {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const fail2 = (what) => {
    throw new AppError("ERR_NPY_FORMAT", `${source}: ${what}`, { file: source });
  };
  if (bytes.length < PREFIX_BYTES || !bytes.subarray(0, 6).equals(MAGIC)) fail2("not an .npy file (bad magic)");
  const major = bytes[6];
  let headerLen;
  let headerStart;
  if (major === 1) {
    headerLen = bytes.readUInt16LE(8);
    headerStart = PREFIX_BYTES;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail2("truncated header");
    headerLen = bytes.readUInt32LE(8);
    headerStart = 12;
  } else {
    return fail2(`unsupported .npy version ${major}`);
  }
  if (headerLen > MAX_HEADER_BYTES) fail2(`header of ${headerLen} bytes is implausibly long`);
  if (bytes.length < headerStart + headerLen) fail2("truncated header");
  const header = bytes.subarray(headerStart, headerStart + headerLen).toString("latin1");
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === void 0 || fortran === void 0 || shapeText === void 0) fail2("header lacks descr, fortran_order or shape");
  if (descr !== "<f4" && descr !== "<i4" && descr !== "<u4") fail2(`dtype ${descr} is not little-endian float32 (<f4), int32 (<i4) or uint32 (<u4)`);
  if (fortran === "True") fail2("Fortran-ordered arrays are not accepted");
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map((s) => /^\d+$/.test(s) ? Number(s) : NaN);
  if (shape.some((n) => !Number.isSafeInteger(n))) fail2(`shape (${shapeText}) is not a tuple of integers`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const needed = count * 4;
  if (bytes.length - dataStart < needed) fail2(`header claims ${count} values (${needed} bytes) but only ${bytes.length - dataStart} bytes follow`);
  if (bytes.length - dataStart > needed) fail2(`${bytes.length - dataStart - needed} unexpected bytes after the data`);
  if (expect.dtype && descr !== expect.dtype) fail2(`dtype ${descr}, expected ${expect.dtype}`);
  if (expect.shape) {
    const ok = expect.shape.length === shape.length && expect.shape.every((n, i) => n === -1 || n === shape[i]);
    if (!ok) fail2(`shape (${shape.join(", ")}), expected (${expect.shape.map((n) => n === -1 ? "*" : n).join(", ")})`);
  }
  const Type = descr === "<f4" ? Float32Array : descr === "<u4" ? Uint32Array : Int32Array;
  const offset = bytes.byteOffset + dataStart;
  if (LITTLE_ENDIAN && offset % 4 === 0) return { dtype: descr, shape, data: new Type(bytes.buffer, offset, count) };
  const copy = new ArrayBuffer(needed);
  const view = Buffer.from(copy);
  if (LITTLE_ENDIAN) bytes.copy(view, 0, dataStart, dataStart + needed);
  else swapInto(bytes.subarray(dataStart, dataStart + needed), view, 0);
  return { dtype: descr, shape, data: new Type(copy) };
}
function swapInto(src, dst, offset) {
  for (let i = 0; i < src.length; i += 4) {
    dst[offset + i] = src[i + 3];
    dst[offset + i + 1] = src[i + 2];
    dst[offset + i + 2] = src[i + 1];
    dst[offset + i + 3] = src[i];
  }
}

// src/shared/delta.ts
var DELTA_FORMAT = "syftbox-netflix-svd/delta";
var DELTA_FORMAT_VERSION = 1;
var DELTA_MANIFEST_NAME = "delta.json";
var MAX_DELTA_WEIGHT = 1;
var MAX_MANIFEST_BYTES = 64 * 1024;
var PAYLOAD_RE = /^delta-[0-9a-f]{16}\.npy$/;
var SHA256_RE = /^[0-9a-f]{64}$/;
var NPY_HEADER_SLACK_BYTES = 4096;
function sha256Hex(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}
function maxPayloadBytes(expect) {
  return expect.items * expect.rank * 4 + NPY_HEADER_SLACK_BYTES;
}
function scanRows(values, rank) {
  let total = 0;
  let worstRow = 0;
  let worstSq = 0;
  for (let off = 0, row = 0; off < values.length; off += rank, row++) {
    let sq = 0;
    for (let a = 0; a < rank; a++) sq += values[off + a] * values[off + a];
    total += sq;
    if (sq > worstSq) {
      worstSq = sq;
      worstRow = row;
    }
  }
  let nonFinite = -1;
  if (!Number.isFinite(total)) nonFinite = values.findIndex((v) => !Number.isFinite(v));
  return { nonFinite, norms: { total: Math.sqrt(total), worstRow, worstRowNorm: Math.sqrt(worstSq) } };
}
async function writeDelta(profileDir, values, fields) {
  if (values.length !== fields.items * fields.rank) {
    throw new RangeError(`delta has ${values.length} values, expected ${fields.items} x ${fields.rank}`);
  }
  const bytes = encodeNpy(values, [fields.items, fields.rank]);
  const sha256 = sha256Hex(bytes);
  const payload = `delta-${sha256.slice(0, 16)}.npy`;
  const manifest = { format: DELTA_FORMAT, formatVersion: DELTA_FORMAT_VERSION, payload, sha256, ...fields };
  await writeFileAtomic(path.join(profileDir, payload), bytes);
  await writeJsonAtomic(path.join(profileDir, DELTA_MANIFEST_NAME), manifest);
  for (const name of await fs.readdir(profileDir)) {
    if (PAYLOAD_RE.test(name) && name !== payload) await fs.rm(path.join(profileDir, name), { force: true });
  }
  return manifest;
}
function parseDeltaManifest(value, file) {
  const fail2 = (what) => {
    throw new AppError("ERR_DELTA_MANIFEST", `${file}: ${what}`, { file });
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail2("manifest is not a JSON object");
  const m = value;
  if (m.format !== DELTA_FORMAT) fail2(`format ${JSON.stringify(m.format)} is not ${DELTA_FORMAT}`);
  if (m.formatVersion !== DELTA_FORMAT_VERSION) fail2(`formatVersion ${JSON.stringify(m.formatVersion)} is not supported (expected ${DELTA_FORMAT_VERSION})`);
  const allowed = /* @__PURE__ */ new Set(["format", "formatVersion", "payload", "sha256", "items", "rank", "vocabHash", "baseVersion", "weight", "clipNorm", "noise", "createdAt"]);
  const unknown = Object.keys(m).filter((k) => !allowed.has(k));
  if (unknown.length > 0) fail2(`unknown keys ${unknown.join(", ")}`);
  if (typeof m.payload !== "string" || !PAYLOAD_RE.test(m.payload)) fail2("payload must be a file name delta-<16 hex>.npy (no paths)");
  if (typeof m.sha256 !== "string" || !SHA256_RE.test(m.sha256)) fail2("sha256 must be 64 lowercase hex digits");
  if (m.payload !== `delta-${m.sha256.slice(0, 16)}.npy`) fail2("payload name does not match sha256");
  const posInt = (k, max) => {
    if (!Number.isSafeInteger(m[k]) || m[k] < 0 || m[k] > max) fail2(`${k} must be an integer from 0 to ${max}`);
  };
  posInt("items", 1e7);
  posInt("rank", 1024);
  posInt("baseVersion", Number.MAX_SAFE_INTEGER);
  if (typeof m.vocabHash !== "string" || !/^[0-9a-f]{8,64}$/.test(m.vocabHash)) fail2("vocabHash must be hex");
  const finitePos = (k) => {
    if (typeof m[k] !== "number" || !Number.isFinite(m[k]) || m[k] <= 0) fail2(`${k} must be a positive finite number`);
  };
  finitePos("weight");
  if (m.weight > MAX_DELTA_WEIGHT) fail2(`weight ${m.weight} exceeds ${MAX_DELTA_WEIGHT}: a profile cannot outweigh another`);
  finitePos("clipNorm");
  if (m.noise !== null) {
    const n = m.noise;
    if (typeof n !== "object" || n === null || n.mechanism !== "gaussian") fail2("noise must be null or a gaussian record");
    for (const k of ["epsilon", "delta", "sigma"]) {
      if (typeof n[k] !== "number" || !Number.isFinite(n[k]) || n[k] < 0) fail2(`noise.${k} must be a non-negative number`);
    }
  }
  if (typeof m.createdAt !== "string" || Number.isNaN(Date.parse(m.createdAt))) fail2("createdAt must be an ISO date");
  return m;
}
async function readDelta(profileDir, expect, options = {}) {
  const manifestFile = path.join(profileDir, DELTA_MANIFEST_NAME);
  const manifest = options.manifest ?? await readManifest(manifestFile);
  if (manifest === null) return null;
  const payloadFile = path.join(profileDir, manifest.payload);
  if (manifest.rank !== expect.rank || manifest.items !== expect.items || manifest.vocabHash !== expect.vocabHash) {
    throw new AppError(
      "ERR_DELTA_SHAPE",
      `${manifestFile}: delta is ${manifest.items} x ${manifest.rank} for vocabulary ${manifest.vocabHash.slice(0, 12)}, the model is ${expect.items} x ${expect.rank} for ${expect.vocabHash.slice(0, 12)}`,
      { file: manifestFile }
    );
  }
  const maxBytes = maxPayloadBytes(expect);
  if (options.buffer && options.buffer.length < maxBytes) throw new RangeError(`the read buffer holds ${options.buffer.length} bytes; a payload may have ${maxBytes}`);
  const read = options.buffer ? readRegularFileInto(payloadFile, options.buffer.subarray(0, maxBytes)) : readRegularFile(payloadFile, { maxBytes });
  const bytes = await read.catch((err) => {
    if (err instanceof AppError && err.code === "ERR_FILE_NOT_REGULAR") throw new AppError("ERR_DELTA_PATH", err.message, { file: payloadFile });
    if (err instanceof AppError && err.code === "ERR_FILE_TOO_LARGE") throw new AppError("ERR_DELTA_SHAPE", err.message, { file: payloadFile });
    throw err;
  });
  if (bytes === null) throw new AppError("ERR_DELTA_MANIFEST", `${manifestFile} names ${manifest.payload}, which does not exist (not synced yet?)`, { file: manifestFile });
  const sha256 = isShared(bytes) ? await sha256Shared(bytes) : sha256Hex(bytes);
  if (sha256 !== manifest.sha256) throw new AppError("ERR_DELTA_HASH", `${payloadFile}: sha256 differs from the manifest`, { file: payloadFile });
  const values = decodeNpy(bytes, payloadFile, { dtype: "<f4", shape: [expect.items, expect.rank] }).data;
  const { nonFinite, norms } = scanRows(values, expect.rank);
  if (nonFinite >= 0) {
    throw new AppError("ERR_DELTA_NONFINITE", `${payloadFile}: value ${nonFinite} (row ${Math.floor(nonFinite / expect.rank)}) is ${values[nonFinite]}`, { file: payloadFile });
  }
  return { manifest, values, norms };
}
async function readManifest(manifestFile) {
  const raw = await readJsonFile(manifestFile, { maxBytes: MAX_MANIFEST_BYTES }).catch((err) => {
    if (err instanceof AppError && err.code === "ERR_FILE_TOO_LARGE") throw new AppError("ERR_DELTA_MANIFEST", err.message, { file: manifestFile });
    if (err instanceof AppError && err.code === "ERR_FILE_NOT_REGULAR") throw new AppError("ERR_DELTA_PATH", err.message, { file: manifestFile });
    if (err instanceof AppError && err.code === "ERR_JSON_FORMAT") throw new AppError("ERR_DELTA_MANIFEST", err.message, { file: manifestFile });
    throw err;
  });
  return raw === null ? null : parseDeltaManifest(raw, manifestFile);
}
function l2Norm(values) {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}
function clipL2(values, bound) {
  const norm = l2Norm(values);
  if (norm > bound) {
    const scale = bound / norm;
    for (let i = 0; i < values.length; i++) values[i] *= scale;
  }
  return norm;
}

// src/shared/permissions.ts
import { lstatSync } from "node:fs";
import path2 from "node:path";
import { parseAllDocuments, stringify } from "yaml";

// src/shared/acl-template.ts
import { createHash as createHash2 } from "node:crypto";
var FIELDS = /* @__PURE__ */ new Set(["UserEmail", "UserHash", "Year", "Month", "Date"]);
var FUNCTIONS = /* @__PURE__ */ new Set(["sha2", "upper", "lower"]);
var GO_ONLY = /* @__PURE__ */ new Set([
  "if",
  "else",
  "end",
  "range",
  "with",
  "define",
  "template",
  "block",
  "break",
  "continue",
  "nil",
  "true",
  "false",
  "and",
  "or",
  "not",
  "call",
  "html",
  "index",
  "slice",
  "js",
  "len",
  "print",
  "printf",
  "println",
  "urlquery",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge"
]);
var SHA2_DEFAULT_LENGTH = 16;
var SHA2_MAX_LENGTH = 64;
var UINT8_MAX = 255;
var USER_HASH_BYTES = 8;
var Unsupported = class extends Error {
};
var Invalid = class extends Error {
};
function templateData(user, now) {
  return {
    UserEmail: user,
    UserHash: createHash2("sha256").update(user).digest().subarray(0, USER_HASH_BYTES).toString("hex"),
    Year: String(now.getUTCFullYear()).padStart(4, "0"),
    Month: String(now.getUTCMonth() + 1).padStart(2, "0"),
    Date: String(now.getUTCDate()).padStart(2, "0")
  };
}
function isTemplate(pattern) {
  return pattern.includes("{{") && pattern.includes("}}");
}
function compileTemplate(text) {
  let pieces;
  try {
    pieces = parse(text);
  } catch (err) {
    if (err instanceof Unsupported) return { kind: "unsupported", reason: err.message };
    if (err instanceof Invalid) return { kind: "invalid", reason: err.message };
    throw err;
  }
  return {
    kind: "ok",
    execute: (data) => {
      let out = "";
      for (const piece of pieces) {
        if (piece.type === "text") {
          out += piece.text;
          continue;
        }
        const value = run(piece.pipeline, data);
        if (value === null) return null;
        out += value.type === "string" ? value.value : String(value.value);
      }
      return out;
    }
  };
}
function parse(text) {
  const pieces = [];
  let rest = text;
  let trimNextText = false;
  while (rest.length > 0) {
    const open = rest.indexOf("{{");
    let literal = open === -1 ? rest : rest.slice(0, open);
    if (trimNextText) literal = literal.trimStart();
    if (open === -1) {
      if (literal) pieces.push({ type: "text", text: literal });
      break;
    }
    let body = rest.slice(open + 2);
    if (/^-[ \t\r\n]/.test(body)) {
      literal = literal.trimEnd();
      body = body.slice(1);
    }
    if (literal) pieces.push({ type: "text", text: literal });
    const close = body.indexOf("}}");
    if (close === -1) throw new Invalid("unclosed action");
    let inside = body.slice(0, close);
    trimNextText = /[ \t\r\n]-$/.test(inside);
    if (trimNextText) inside = inside.slice(0, -1);
    pieces.push({ type: "action", pipeline: parsePipeline(inside) });
    rest = body.slice(close + 2);
  }
  return pieces;
}
var TOKEN_RE = /\s*(?:(\.[A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*)|(-?\d[\w.]*)|("(?:[^"\\]|\\.)*")|(\|))/y;
function parsePipeline(source) {
  if (/^\s*\/\*/.test(source)) throw new Unsupported("a comment");
  const commands = [[]];
  TOKEN_RE.lastIndex = 0;
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    TOKEN_RE.lastIndex = at;
    const token = TOKEN_RE.exec(source);
    if (token === null) throw new Unsupported(`"${source.slice(at).trim()}"`);
    at = TOKEN_RE.lastIndex;
    const [, field, identifier, integer, quoted, pipe] = token;
    const current = commands[commands.length - 1];
    if (pipe !== void 0) {
      if (current.length === 0) throw new Invalid("missing command before |");
      commands.push([]);
    } else if (field !== void 0) {
      if (source[at] === ".") throw new Unsupported(`a field chain ${field}.\u2026`);
      current.push({ type: "field", name: field.slice(1) });
    } else if (identifier !== void 0) {
      if (GO_ONLY.has(identifier)) throw new Unsupported(`"${identifier}"`);
      if (!FUNCTIONS.has(identifier)) throw new Invalid(`function "${identifier}" not defined`);
      current.push({ type: "func", name: identifier });
    } else if (integer !== void 0) {
      if (!/^-?\d+$/.test(integer)) throw new Unsupported(`the number ${integer}`);
      current.push({ type: "int", value: Number(integer) });
    } else if (quoted !== void 0) {
      try {
        current.push({ type: "string", value: JSON.parse(quoted) });
      } catch {
        throw new Unsupported(`the string ${quoted}`);
      }
    }
  }
  if (commands.some((c) => c.length === 0)) throw new Invalid(commands.length === 1 ? "empty action" : "missing command after |");
  return commands;
}
function run(pipeline, data) {
  let previous = null;
  for (const [head, ...args] of pipeline) {
    const values = [];
    for (const arg of args) {
      const value = operandValue(arg, data);
      if (value === null) return null;
      values.push(value);
    }
    if (previous !== null) values.push(previous);
    if (head.type !== "func") {
      if (values.length > 0) return null;
      previous = operandValue(head, data);
    } else {
      previous = call(head.name, values);
    }
    if (previous === null) return null;
  }
  return previous;
}
function operandValue(operand, data) {
  switch (operand.type) {
    case "field":
      return FIELDS.has(operand.name) ? { type: "string", value: data[operand.name] } : null;
    case "func":
      return call(operand.name, []);
    case "int":
    case "string":
      return operand;
  }
}
function call(name, args) {
  const [text, length] = args;
  if (text?.type !== "string") return null;
  if (name === "upper" || name === "lower") {
    if (args.length !== 1) return null;
    return { type: "string", value: name === "upper" ? text.value.toUpperCase() : text.value.toLowerCase() };
  }
  if (args.length > 2 || length !== void 0 && (length.type !== "int" || length.value < 0 || length.value > UINT8_MAX)) return null;
  const hash = createHash2("sha256").update(text.value).digest("hex");
  if (length === void 0) return { type: "string", value: hash };
  const n = Math.min(length.value, SHA2_MAX_LENGTH);
  return { type: "string", value: hash.slice(0, n <= 0 ? SHA2_DEFAULT_LENGTH : n) };
}

// src/shared/doublestar.ts
var SEPARATOR = 47;
var STAR = 42;
var QUESTION = 63;
var OPEN_CLASS = 91;
var CLOSE_CLASS = 93;
var OPEN_ALT = 123;
var CLOSE_ALT = 125;
var COMMA = 44;
var BACKSLASH = 92;
var BANG = 33;
var CARET = 94;
var DASH = 45;
var NONE = -1;
var MAX_CACHED_PATTERNS = 1e4;
var patternRunes = /* @__PURE__ */ new Map();
function toRunes(text) {
  return Array.from(text, (c) => c.codePointAt(0));
}
function runesOf(pattern) {
  let runes = patternRunes.get(pattern);
  if (runes === void 0) {
    if (patternRunes.size >= MAX_CACHED_PATTERNS) patternRunes.clear();
    runes = toRunes(pattern);
    patternRunes.set(pattern, runes);
  }
  return runes;
}
function hasGlobSyntax(pattern) {
  return /[*?[]/.test(pattern);
}
function globMatch(pattern, name) {
  return doMatch(runesOf(pattern), toRunes(name), -1, -1, -1, -1, 0, 0) === true;
}
function doMatch(pattern, name, doublestarPatternBacktrackIn, doublestarNameBacktrackIn, starPatternBacktrackIn, starNameBacktrackIn, patIdxIn, nameIdxIn) {
  let doublestarPatternBacktrack = doublestarPatternBacktrackIn;
  let doublestarNameBacktrack = doublestarNameBacktrackIn;
  let starPatternBacktrack = starPatternBacktrackIn;
  let starNameBacktrack = starNameBacktrackIn;
  let patIdx = patIdxIn;
  let nameIdx = nameIdxIn;
  const patLen = pattern.length;
  const nameLen = name.length;
  let startOfSegment = true;
  match: while (nameIdx < nameLen) {
    if (patIdx < patLen) {
      switch (pattern[patIdx]) {
        case STAR: {
          patIdx++;
          if (patIdx < patLen && pattern[patIdx] === STAR) {
            patIdx++;
            if (startOfSegment) {
              if (patIdx >= patLen) return true;
              if (pattern[patIdx] === SEPARATOR) {
                patIdx++;
                doublestarPatternBacktrack = patIdx;
                doublestarNameBacktrack = nameIdx;
                starPatternBacktrack = -1;
                starNameBacktrack = -1;
                continue match;
              }
            }
          }
          startOfSegment = false;
          starPatternBacktrack = patIdx;
          starNameBacktrack = nameIdx;
          continue match;
        }
        case QUESTION:
          startOfSegment = false;
          if (name[nameIdx] === SEPARATOR) break;
          patIdx++;
          nameIdx++;
          continue match;
        case OPEN_CLASS: {
          startOfSegment = false;
          patIdx++;
          if (patIdx >= patLen) return "bad";
          const nameRune = name[nameIdx];
          let matched = false;
          const negate = pattern[patIdx] === BANG || pattern[patIdx] === CARET;
          if (negate) patIdx++;
          if (patIdx >= patLen || pattern[patIdx] === CLOSE_CLASS) return "bad";
          let last = NONE;
          while (patIdx < patLen && pattern[patIdx] !== CLOSE_CLASS) {
            let patRune = runeAt(pattern, patIdx);
            patIdx++;
            if (last !== NONE && patRune === DASH && patIdx < patLen && pattern[patIdx] !== CLOSE_CLASS) {
              if (pattern[patIdx] === BACKSLASH) patIdx++;
              patRune = runeAt(pattern, patIdx);
              if (patIdx < patLen) patIdx++;
              if (last <= nameRune && nameRune <= patRune) {
                matched = true;
                break;
              }
              last = NONE;
              continue;
            }
            if (patRune === BACKSLASH) {
              patRune = runeAt(pattern, patIdx);
              if (patIdx < patLen) patIdx++;
            }
            if (patRune === nameRune) {
              matched = true;
              break;
            }
            last = patRune;
          }
          if (matched === negate) {
            if (patIdx >= patLen) return "bad";
            break;
          }
          const closingIdx = indexUnescaped(pattern, patIdx, patLen, CLOSE_CLASS);
          if (closingIdx === -1) return "bad";
          patIdx = closingIdx + 1;
          nameIdx++;
          continue match;
        }
        case OPEN_ALT: {
          startOfSegment = false;
          const beforeIdx = patIdx;
          patIdx++;
          const closingIdx = indexMatchedClosingAlt(pattern, patIdx, patLen);
          if (closingIdx === -1) return "bad";
          for (; ; ) {
            const commaIdx = indexNextAlt(pattern, patIdx, closingIdx);
            if (commaIdx === -1) break;
            const alternative = [...pattern.slice(0, beforeIdx), ...pattern.slice(patIdx, commaIdx), ...pattern.slice(closingIdx + 1)];
            const result = doMatch(alternative, name, doublestarPatternBacktrack, doublestarNameBacktrack, starPatternBacktrack, starNameBacktrack, beforeIdx, nameIdx);
            if (result !== false) return result;
            patIdx = commaIdx + 1;
          }
          const lastAlternative = [...pattern.slice(0, beforeIdx), ...pattern.slice(patIdx, closingIdx), ...pattern.slice(closingIdx + 1)];
          return doMatch(lastAlternative, name, doublestarPatternBacktrack, doublestarNameBacktrack, starPatternBacktrack, starNameBacktrack, beforeIdx, nameIdx);
        }
        default: {
          if (pattern[patIdx] === BACKSLASH) {
            patIdx++;
            if (patIdx >= patLen) return "bad";
          }
          const patRune = pattern[patIdx];
          if (patRune !== name[nameIdx]) {
            if (patIdx > 0 && pattern[patIdx - 1] === BACKSLASH) patIdx--;
            break;
          }
          patIdx++;
          nameIdx++;
          startOfSegment = patRune === SEPARATOR;
          continue match;
        }
      }
    }
    if (starPatternBacktrack >= 0 && name[starNameBacktrack] !== SEPARATOR) {
      starNameBacktrack++;
      patIdx = starPatternBacktrack;
      nameIdx = starNameBacktrack;
      startOfSegment = false;
      continue;
    }
    if (doublestarPatternBacktrack >= 0) {
      nameIdx = doublestarNameBacktrack;
      while (nameIdx < nameLen) {
        const nameRune = name[nameIdx];
        nameIdx++;
        if (nameRune === SEPARATOR) {
          doublestarNameBacktrack = nameIdx;
          patIdx = doublestarPatternBacktrack;
          startOfSegment = true;
          continue match;
        }
      }
    }
    if (patIdx < patLen && !isValidPattern(pattern.slice(patIdx))) return "bad";
    return false;
  }
  return isZeroLengthPattern(pattern.slice(patIdx));
}
function runeAt(runes, index) {
  return index < runes.length ? runes[index] : NONE;
}
function isZeroLengthPattern(pattern) {
  const is = (offset, ...runes) => runes.every((r, i) => pattern[offset + i] === r);
  switch (pattern.length) {
    case 0:
      return true;
    case 1:
      if (pattern[0] === STAR) return true;
      break;
    case 2:
      if (is(0, STAR, STAR)) return true;
      break;
    case 3:
      if (is(0, SEPARATOR, STAR, STAR) || is(0, STAR, STAR, SEPARATOR)) return true;
      break;
    case 4:
      if (is(0, SEPARATOR, STAR, STAR, SEPARATOR)) return true;
      break;
  }
  if (pattern[0] === OPEN_ALT) {
    const closingIdx = indexMatchedClosingAlt(pattern, 1, pattern.length);
    if (closingIdx === -1) return "bad";
    const rest = pattern.slice(closingIdx + 1);
    let patIdx = 1;
    for (; ; ) {
      const commaIdx = indexNextAlt(pattern, patIdx, closingIdx);
      if (commaIdx === -1) break;
      const result = isZeroLengthPattern([...pattern.slice(patIdx, commaIdx), ...rest]);
      if (result !== false) return result;
      patIdx = commaIdx + 1;
    }
    return isZeroLengthPattern([...pattern.slice(patIdx, closingIdx), ...rest]);
  }
  return isValidPattern(pattern) ? false : "bad";
}
function indexUnescaped(runes, from, to, target) {
  for (let i = from; i < to; i++) {
    if (runes[i] === BACKSLASH) i++;
    else if (runes[i] === target) return i;
  }
  return -1;
}
function indexMatchedClosingAlt(runes, from, to) {
  let alts = 1;
  for (let i = from; i < to; i++) {
    if (runes[i] === BACKSLASH) i++;
    else if (runes[i] === OPEN_ALT) alts++;
    else if (runes[i] === CLOSE_ALT && --alts === 0) return i;
  }
  return -1;
}
function indexNextAlt(runes, from, to) {
  let alts = 1;
  for (let i = from; i < to; i++) {
    if (runes[i] === BACKSLASH) i++;
    else if (runes[i] === OPEN_ALT) alts++;
    else if (runes[i] === CLOSE_ALT) alts--;
    else if (runes[i] === COMMA && alts === 1) return i;
  }
  return -1;
}
function isValidPattern(runes) {
  let altDepth = 0;
  const length = runes.length;
  validate: for (let i = 0; i < length; i++) {
    switch (runes[i]) {
      case BACKSLASH:
        i++;
        if (i >= length) return false;
        continue;
      case OPEN_CLASS:
        i++;
        if (i >= length) return false;
        if (runes[i] === CARET || runes[i] === BANG) i++;
        if (i >= length || runes[i] === CLOSE_CLASS) return false;
        for (; i < length; i++) {
          if (runes[i] === BACKSLASH) i++;
          else if (runes[i] === CLOSE_CLASS) continue validate;
        }
        return false;
      case OPEN_ALT:
        altDepth++;
        continue;
      case CLOSE_ALT:
        if (altDepth === 0) return false;
        altDepth--;
        continue;
    }
  }
  return altDepth === 0;
}

// src/shared/permissions.ts
var PERMISSION_FILE = "syft.pub.yaml";
var LEGACY_PERMISSION_FILE = "syftperm.yaml";
var EVERYONE = "*";
var USER_TOKEN = "USER";
var MAX_PERMISSION_FILE_BYTES = 1024 * 1024;
var LEVEL_RANK = { none: 0, read: 1, write: 2, admin: 3 };
var ACCESS_KEYS = ["read", "write", "admin"];
var USER_GLOB_CHARS_RE = /[*?[\]]/;
var YAML11_TRUE = /* @__PURE__ */ new Set(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"]);
var YAML11_FALSE = /* @__PURE__ */ new Set(["n", "N", "no", "No", "NO", "off", "Off", "OFF"]);
function grants(level, needed) {
  return LEVEL_RANK[level] >= LEVEL_RANK[needed];
}
async function writePermissions(dir, file) {
  const target = path2.join(dir, PERMISSION_FILE);
  for (const rule of file.rules) {
    const everyone = [EVERYONE, ...isTemplate(rule.pattern) ? [] : [USER_TOKEN]];
    for (const key of ["write", "admin"]) {
      const open = (rule.access[key] ?? []).find((entry) => everyone.includes(entry));
      if (open !== void 0) {
        throw new RangeError(`refusing to write ${target}: rule "${rule.pattern}" grants ${key} to "${open}" (everyone); name the users instead`);
      }
    }
  }
  const text = stringify({
    terminal: file.terminal ?? false,
    rules: file.rules.map((rule) => ({
      pattern: rule.pattern,
      access: { read: rule.access.read ?? [], write: rule.access.write ?? [], admin: rule.access.admin ?? [] }
    }))
  });
  parsePermissions(text, target);
  await writeFileAtomic(target, text);
}
var logUnknownKeys = ({ file, keys }) => {
  moduleLogger("permissions").warn({ file, keys }, "unknown keys in permission file ignored");
};
function parsePermissions(text, file, onUnknownKeys = logUnknownKeys) {
  const root = parseYaml(text, file);
  if (root === null) return { terminal: false, rules: [] };
  if (!isRecord(root)) throw malformed(file, 'must be a mapping with "rules" (and optionally "terminal")');
  const unknown = unknownKeys(root, ["terminal", "rules"], "");
  const terminal = decodeBool(root.terminal);
  if (terminal === null) throw malformed(file, '"terminal" must be true or false');
  const rawRules = root.rules ?? [];
  if (!Array.isArray(rawRules)) throw malformed(file, '"rules" must be a list of {pattern, access} entries');
  const rules = rawRules.map((raw, i) => {
    const where = `rules[${i}]`;
    if (!isRecord(raw)) throw malformed(file, `${where} must be a mapping with "pattern" and "access"`);
    unknown.push(...unknownKeys(raw, ["pattern", "access"], `${where}.`));
    const pattern = decodeString(raw.pattern);
    if (pattern === null || pattern === "") throw malformed(file, `${where}.pattern must be a non-empty string`);
    if (!isRecord(raw.access)) throw malformed(file, `${where}.access must be a mapping with read/write/admin lists`);
    unknown.push(...unknownKeys(raw.access, ACCESS_KEYS, `${where}.access.`));
    const access = { read: [], write: [], admin: [] };
    for (const key of ACCESS_KEYS) {
      const list = raw.access[key] ?? [];
      const entries = Array.isArray(list) ? list.map(decodeString) : null;
      if (entries === null || entries.includes(null)) {
        throw malformed(file, `${where}.access.${key} must be a list of emails, "*", "USER" or email globs`);
      }
      access[key] = entries;
    }
    return { pattern, access };
  });
  if (unknown.length > 0) onUnknownKeys({ file, keys: unknown });
  return { terminal, rules };
}
function decodeString(value) {
  if (value === null || value === void 0) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return null;
}
function decodeBool(value) {
  if (value === null || value === void 0) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && YAML11_TRUE.has(value)) return true;
  if (typeof value === "string" && YAML11_FALSE.has(value)) return false;
  return null;
}
var LEGACY_PERMISSIONS = ["read", "write", "create", "admin"];
function parseLegacyPermissions(text, file) {
  const root = parseYaml(text, file);
  if (!Array.isArray(root)) throw malformed(file, "a legacy syftperm.yaml must be a list of {path, user, permissions, type} entries");
  const entries = root.map((raw, i) => parseLegacyEntry(raw, `[${i}]`, file));
  const patterns = [...new Set(entries.map((entry) => entry.pattern))];
  return { terminal: false, rules: patterns.map((pattern) => foldLegacy(pattern, entries)) };
}
function parseLegacyEntry(raw, where, file) {
  if (!isRecord(raw)) throw malformed(file, `${where} must be a mapping with path, user, permissions`);
  const unknown = unknownKeys(raw, ["path", "user", "permissions", "type"], `${where}.`);
  if (unknown.length > 0) throw malformed(file, `unknown keys ${unknown.join(", ")}; allowed: path, user, permissions, type`);
  const { path: pattern, user, type = "allow" } = raw;
  if (typeof pattern !== "string" || pattern === "" || pattern.startsWith("../")) {
    throw malformed(file, `${where}.path must be a glob inside this folder`);
  }
  if (typeof user !== "string" || user !== EVERYONE && !/^[^@]+@[^@]+$/.test(user)) {
    throw malformed(file, `${where}.user must be an email or "*"`);
  }
  if (type !== "allow" && type !== "disallow") throw malformed(file, `${where}.type must be allow or disallow`);
  const list = typeof raw.permissions === "string" ? [raw.permissions] : raw.permissions;
  const permissions = Array.isArray(list) ? list.map((p) => typeof p === "string" ? p.toLowerCase() : p) : [];
  if (permissions.length === 0 || !permissions.every((p) => LEGACY_PERMISSIONS.includes(p))) {
    throw malformed(file, `${where}.permissions must be one or a list of ${LEGACY_PERMISSIONS.join(", ")}`);
  }
  const translated = pattern.replaceAll("{useremail}", "{{.UserEmail}}");
  return { pattern: translated, user, permissions, allow: type === "allow" };
}
function foldLegacy(pattern, entries) {
  const bits = /* @__PURE__ */ new Map();
  for (const entry of entries) {
    if (entry.pattern !== pattern && entry.pattern !== "**") continue;
    for (const permission of entry.permissions) {
      if (entry.allow) {
        if (!bits.has(entry.user)) bits.set(entry.user, /* @__PURE__ */ new Set());
        bits.get(entry.user)?.add(permission);
      } else if (entry.user === EVERYONE) {
        for (const set of bits.values()) set.delete(permission);
      } else {
        bits.get(entry.user)?.delete(permission);
      }
    }
  }
  const access = { read: [], write: [], admin: [] };
  for (const [user, set] of bits) {
    if (set.has("admin")) access.admin.push(user);
    else if (set.has("read") && (set.has("write") || set.has("create"))) access.write.push(user);
    else if (set.has("read")) access.read.push(user);
  }
  return { pattern, access };
}
function parseYaml(text, file) {
  const [doc] = parseAllDocuments(text, { uniqueKeys: true, merge: true });
  if (doc === void 0) return null;
  if (doc.errors.length > 0) throw malformed(file, `is not valid YAML (${doc.errors[0].message.split("\n")[0]})`);
  return doc.toJS() ?? null;
}
function malformed(file, what) {
  return new AppError("ERR_PERMISSION_FILE", `${file}: ${what}. Fix or delete the file (format: docs/syftbox.md)`, { file });
}
function isRecord(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function unknownKeys(record, known, prefix) {
  return Object.keys(record).filter((key) => !known.includes(key)).map((key) => `${prefix}${key}`);
}
function evaluate(files, user, targetRel, now = /* @__PURE__ */ new Date()) {
  const segments = splitRelative(targetRel);
  const rel = segments.join("/");
  if (rel.startsWith(user)) return "admin";
  const governing = nearestFile(files, segments);
  if (governing === null) return "none";
  const level = matchingLevel(compiledRules(governing.file, segments.slice(0, governing.depth).join("/")), rel, user, now);
  return level === "write" && segments[segments.length - 1] === PERMISSION_FILE ? "read" : level;
}
function namedPrincipals(files) {
  const named = /* @__PURE__ */ new Set();
  for (const file of files) {
    for (const rule of file.rules) for (const key of ACCESS_KEYS) for (const p of rule.access[key] ?? []) if (p !== EVERYONE && p !== USER_TOKEN) named.add(p);
  }
  return [...named].sort();
}
function otherWriters(files, targetRel) {
  const owner = splitRelative(targetRel)[0];
  return [...namedPrincipals(files.values()), EVERYONE].filter((p) => p !== owner && grants(evaluate(files, p, targetRel), "write"));
}
function splitRelative(targetRel) {
  const segments = targetRel.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0 || segments.includes("..")) throw new RangeError(`"${targetRel}" is not a path inside datasites/`);
  return segments;
}
function nearestFile(files, segments) {
  let found = null;
  for (let depth = 1; depth < segments.length; depth++) {
    const file = files.get(segments.slice(0, depth).join("/"));
    if (file === void 0) continue;
    found = { file, depth };
    if (file.terminal) break;
  }
  return found;
}
function matchingLevel(rules, rel, user, now) {
  let decided = null;
  let level = "none";
  for (const rule of rules) {
    if (decided !== null && rule.specificity < decided) break;
    if (!rule.matches(rel, user, now)) continue;
    decided = rule.specificity;
    const granted = levelOf(rule.access, user);
    if (LEVEL_RANK[granted] > LEVEL_RANK[level]) level = granted;
  }
  return level;
}
var compiledCache = /* @__PURE__ */ new WeakMap();
function compiledRules(file, folder) {
  let byFolder = compiledCache.get(file);
  if (byFolder === void 0) compiledCache.set(file, byFolder = /* @__PURE__ */ new Map());
  let rules = byFolder.get(folder);
  if (rules === void 0) {
    rules = file.rules.map((rule) => {
      const matches = ruleMatcher(`${folder}/${rule.pattern}`);
      return matches === null ? null : { specificity: specificity(rule.pattern), access: rule.access, matches };
    }).filter((rule) => rule !== null).sort((a, b) => b.specificity - a.specificity);
    byFolder.set(folder, rules);
  }
  return rules;
}
function ruleMatcher(fullPattern) {
  if (!isTemplate(fullPattern)) {
    if (!hasGlobSyntax(fullPattern)) return (rel) => rel === fullPattern;
    return (rel) => globMatch(fullPattern, rel);
  }
  const template = compileTemplate(fullPattern);
  if (template.kind === "invalid") return null;
  if (template.kind === "unsupported") return () => false;
  return (rel, user, now) => {
    const resolved = template.execute(templateData(user, now));
    if (resolved === null) return false;
    return hasGlobSyntax(resolved) ? globMatch(resolved, rel) : resolved === rel;
  };
}
function uncheckedPatterns(file, folder) {
  return file.rules.map((rule) => rule.pattern).filter((pattern) => {
    const full = `${folder}/${pattern}`;
    return isTemplate(full) && compileTemplate(full).kind === "unsupported";
  });
}
function specificity(glob) {
  if (glob === "**") return -100;
  if (glob === "**/*") return -99;
  let score = Buffer.byteLength(glob) * 2 + (glob.split("/").length - 1) * 10;
  if (isTemplate(glob)) score += 50;
  [...glob].forEach((c, i) => {
    if (c === "*") score -= i === 0 ? 20 : 10;
    else if ("?![{".includes(c)) score -= 2;
  });
  return score;
}
function levelOf(access, user) {
  if (listGrants(access.admin, user)) return "admin";
  if (listGrants(access.write, user)) return "write";
  if (listGrants(access.read, user)) return "read";
  return "none";
}
function listGrants(list, user) {
  for (const entry of list ?? []) {
    if (entry === EVERYONE || entry === USER_TOKEN || entry === user) return true;
    if (USER_GLOB_CHARS_RE.test(entry) && globMatch(entry, user)) return true;
  }
  return false;
}
function toDatasitesRelative(datasitesDir, target) {
  const rel = path2.relative(path2.resolve(datasitesDir), path2.resolve(target));
  if (rel === "" || rel.startsWith("..") || path2.isAbsolute(rel)) throw new RangeError(`${target} is not inside ${datasitesDir}`);
  return rel.split(path2.sep).join("/");
}
function ancestorFolders(targetRel) {
  const segments = splitRelative(targetRel);
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join("/"));
}
async function readPermissionFolder(datasitesDir, folderRel, options = {}) {
  const folder = path2.join(datasitesDir, ...folderRel.split("/"));
  const current = await readCachedPermissions(path2.join(folder, PERMISSION_FILE), (text, file) => parseShared(text, file, options.onUnknownKeys));
  if (current !== null || options.legacy === false) return current;
  return readCachedPermissions(path2.join(folder, LEGACY_PERMISSION_FILE), parseLegacyPermissions);
}
var sharedParses = /* @__PURE__ */ new Map();
var MAX_SHARED_PARSES = 1e3;
function parseShared(text, file, onUnknownKeys = logUnknownKeys) {
  const known = sharedParses.get(text);
  if (known !== void 0) return known;
  let clean = true;
  const parsed = parsePermissions(text, file, (info) => {
    clean = false;
    onUnknownKeys(info);
  });
  if (clean) {
    if (sharedParses.size >= MAX_SHARED_PARSES) sharedParses.clear();
    sharedParses.set(text, parsed);
  }
  return parsed;
}
var permissionCache = /* @__PURE__ */ new Map();
var MAX_CACHED_PERMISSION_FILES = 1e4;
async function readCachedPermissions(file, parse2) {
  const stat = lstatSync(file, { throwIfNoEntry: false });
  if (stat === void 0 || !stat.isFile() || stat.size === 0) return null;
  const key = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  let value = permissionCache.get(file)?.key === key ? permissionCache.get(file)?.value : void 0;
  if (value === void 0) {
    value = await parseFile(file, parse2);
    if (permissionCache.size >= MAX_CACHED_PERMISSION_FILES) permissionCache.clear();
    permissionCache.set(file, { key, value });
  }
  if (value.error) throw value.error;
  return value.parsed;
}
async function parseFile(file, parse2) {
  try {
    const text = await readRegularFile(file, { maxBytes: MAX_PERMISSION_FILE_BYTES });
    return { parsed: text === null ? null : parse2(text.toString("utf8"), file) };
  } catch (err) {
    if (isAppError(err, "ERR_PERMISSION_FILE")) return { error: err };
    if (isAppError(err, "ERR_FILE_TOO_LARGE")) return { error: malformed(file, err.message) };
    if (isAppError(err, "ERR_FILE_NOT_REGULAR")) return { parsed: null };
    throw err;
  }
}
function permissionReader(datasitesDir) {
  const folders = /* @__PURE__ */ new Map();
  const folderFile = (folder) => {
    let file = folders.get(folder);
    if (file === void 0) folders.set(folder, file = readGoverningFolder(datasitesDir, folder));
    return file;
  };
  const governingFiles = async (rel) => {
    const files = /* @__PURE__ */ new Map();
    for (const folder of ancestorFolders(rel)) {
      const file = await folderFile(folder);
      if (file !== null) files.set(folder, file);
    }
    return files;
  };
  const reader = {
    async accessOf(user, target, now = /* @__PURE__ */ new Date()) {
      const rel = toDatasitesRelative(datasitesDir, target);
      return evaluate(await governingFiles(rel), user, rel, now);
    },
    async canRead(user, target) {
      return grants(await reader.accessOf(user, target), "read");
    },
    async writersBesidesOwner(target) {
      const rel = toDatasitesRelative(datasitesDir, target);
      return otherWriters(await governingFiles(rel), rel);
    }
  };
  return reader;
}
async function readGoverningFolder(datasitesDir, folder) {
  return readPermissionFolder(datasitesDir, folder).catch((err) => {
    if (!isAppError(err, "ERR_PERMISSION_FILE")) throw err;
    if (!reportedMalformed.has(err)) {
      reportedMalformed.add(err);
      moduleLogger("permissions").warn({ file: err.file, err: err.message }, "permission file does not parse; like the server, the folder above governs");
    }
    return null;
  });
}
var reportedMalformed = /* @__PURE__ */ new WeakSet();
async function canRead(datasitesDir, user, target) {
  return permissionReader(datasitesDir).canRead(user, target);
}
async function readableHere(view, target) {
  return !view.embedded || canRead(view.datasitesDir, view.email, target);
}

export {
  encodeNpy,
  decodeNpy,
  DELTA_MANIFEST_NAME,
  MAX_MANIFEST_BYTES,
  sha256Hex,
  maxPayloadBytes,
  writeDelta,
  parseDeltaManifest,
  readDelta,
  clipL2,
  PERMISSION_FILE,
  EVERYONE,
  grants,
  writePermissions,
  parsePermissions,
  evaluate,
  namedPrincipals,
  uncheckedPatterns,
  toDatasitesRelative,
  ancestorFolders,
  readPermissionFolder,
  permissionReader,
  canRead,
  readableHere
};
//# sourceMappingURL=chunk-TBES3XCL.js.map
