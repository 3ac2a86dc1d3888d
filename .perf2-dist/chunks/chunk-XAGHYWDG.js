import {
  calibrateRoundNoise,
  integerL1Bound,
  skellamSpend
} from "./chunk-OPHXPK3N.js";
import {
  clipL2
} from "./chunk-TBES3XCL.js";
import {
  AppError
} from "./chunk-3L2Z3EX5.js";

// src/shared/secagg/encoding.ts
var MODULUS = 2 ** 32;
var HALF_MODULUS = 2 ** 31;
var MAX_SCALE_BITS = 30;
var CLIP_TOLERANCE = 1e-9;
var NOISE_TAIL_SIGMAS = 12;
function checkEncoding(e) {
  if (!Number.isInteger(e.length) || e.length < 1) throw new RangeError(`encoding length must be a positive integer, got ${e.length}`);
  if (!(e.clipNorm > 0) || !Number.isFinite(e.clipNorm)) throw new RangeError(`clipNorm must be positive and finite, got ${e.clipNorm}`);
  if (!Number.isInteger(e.scaleBits) || e.scaleBits < 1 || e.scaleBits > MAX_SCALE_BITS) {
    throw new RangeError(`scaleBits must be an integer in 1..${MAX_SCALE_BITS}, got ${e.scaleBits}`);
  }
}
function scaleOf(e) {
  checkEncoding(e);
  return 2 ** e.scaleBits / e.clipNorm;
}
function quantizedSensitivity(e) {
  return scaleOf(e) * e.clipNorm + Math.sqrt(e.length);
}
function encodeContribution(x, e, uniform) {
  const gamma = scaleOf(e);
  if (x.length !== e.length) throw new RangeError(`contribution has length ${x.length}, the encoding expects ${e.length}`);
  let squares = 0;
  for (let i = 0; i < x.length; i++) squares += x[i] * x[i];
  const norm = Math.sqrt(squares);
  if (!(norm <= e.clipNorm * (1 + CLIP_TOLERANCE))) {
    throw new RangeError(`contribution L2 norm ${norm} exceeds clipNorm ${e.clipNorm} (or is not finite): clip before encoding`);
  }
  const q = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const scaled = x[i] * gamma;
    const low = Math.floor(scaled);
    q[i] = uniform() < scaled - low ? low + 1 : low;
  }
  return q;
}
function toModular(q, noise) {
  if (noise !== void 0 && noise.length !== q.length) throw new RangeError(`noise has length ${noise.length}, the contribution ${q.length}`);
  const out = new Uint32Array(q.length);
  if (noise === void 0) {
    for (let i = 0; i < q.length; i++) out[i] = q[i];
  } else {
    for (let i = 0; i < q.length; i++) out[i] = q[i] + noise[i];
  }
  return out;
}
function decodeSum(sum, e) {
  const gamma = scaleOf(e);
  if (sum.length !== e.length) throw new RangeError(`sum has length ${sum.length}, the encoding expects ${e.length}`);
  const out = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) {
    const s = sum[i];
    out[i] = (s >= HALF_MODULUS ? s - MODULUS : s) / gamma;
  }
  return out;
}
function maxCohortSize(e, noiseStdQuantized) {
  if (!(noiseStdQuantized >= 0) || !Number.isFinite(noiseStdQuantized)) {
    throw new RangeError(`noise standard deviation must be finite and \u2265 0, got ${noiseStdQuantized}`);
  }
  const perMember = scaleOf(e) * e.clipNorm + 1;
  const room = HALF_MODULUS - NOISE_TAIL_SIGMAS * noiseStdQuantized;
  return room <= 0 ? 0 : Math.ceil(room / perMember) - 1;
}

// src/shared/secagg/contribution.ts
var DELTA_SEGMENT = "delta";
var WEIGHT_SEGMENT = "weight";
function contributionLayout(items, rank) {
  return { segments: [{ name: DELTA_SEGMENT, length: items * rank }, { name: WEIGHT_SEGMENT, length: 1 }] };
}
function contributionBound(weightScale) {
  return weightScale * Math.SQRT2;
}
function offsets(layout) {
  const out = /* @__PURE__ */ new Map();
  let start = 0;
  for (const s of layout.segments) {
    out.set(s.name, { start, length: s.length });
    start += s.length;
  }
  for (const name of [DELTA_SEGMENT, WEIGHT_SEGMENT]) if (!out.has(name)) throw new RangeError(`the contribution layout has no ${name} segment`);
  if (out.get(WEIGHT_SEGMENT).length !== 1) throw new RangeError("the weight segment must hold one value");
  return out;
}
function buildContribution(profiles, layout, { clipNorm, weightScale }) {
  if (!(clipNorm > 0 && clipNorm <= weightScale)) throw new RangeError(`clipNorm ${clipNorm} must be in (0, weightScale ${weightScale}]`);
  const at = offsets(layout);
  const delta = at.get(DELTA_SEGMENT);
  const x = new Float64Array(layout.segments.reduce((sum, s) => sum + s.length, 0));
  if (profiles.length === 0) return x;
  const one = new Float64Array(delta.length);
  for (const { local, base } of profiles) {
    if (local.length !== delta.length || base.length !== delta.length) throw new RangeError(`a profile model has ${local.length} values, the delta segment ${delta.length}`);
    for (let i = 0; i < one.length; i++) one[i] = local[i] - base[i];
    clipL2(one, clipNorm);
    for (let i = 0; i < one.length; i++) x[delta.start + i] += one[i] / profiles.length;
  }
  clipL2(x.subarray(delta.start, delta.start + delta.length), clipNorm);
  x[at.get(WEIGHT_SEGMENT).start] = weightScale;
  return x;
}
function splitSum(sum, layout, weightScale) {
  const at = offsets(layout);
  const delta = at.get(DELTA_SEGMENT);
  return { delta: sum.subarray(delta.start, delta.start + delta.length), weight: sum[at.get(WEIGHT_SEGMENT).start] / weightScale };
}
function roundNoise(encoding, epsilon, delta) {
  if (epsilon <= 0) return { mechanism: "none", sigma: 0 };
  const l2 = quantizedSensitivity(encoding);
  const { mu } = calibrateRoundNoise({ epsilonTotal: epsilon, delta, rounds: 1, l2, l1: integerL1Bound(l2, encoding.length) });
  return { mechanism: "skellam", sigma: Math.sqrt(mu) };
}
function roundSpend(at, encoding, noise) {
  if (noise.mechanism !== "skellam" || noise.sigma <= 0) return null;
  const l2 = quantizedSensitivity(encoding);
  return skellamSpend(at, "round", { l2, l1: integerL1Bound(l2, encoding.length), mu: noise.sigma * noise.sigma });
}

// src/shared/secagg/crypto.ts
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes
} from "node:crypto";
var KEY_BYTES = 32;
var NONCE_BYTES = 12;
var TAG_BYTES = 16;
var PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
var SPKI_X25519_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
function checkKey(key, what) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new RangeError(`${what} must be a raw 32-byte X25519 key, got ${key?.length ?? typeof key} bytes`);
  }
}
var privateKeys = /* @__PURE__ */ new WeakMap();
var publicKeys = /* @__PURE__ */ new WeakMap();
function privateKeyObject(raw) {
  let key = privateKeys.get(raw);
  if (key === void 0) {
    checkKey(raw, "private key");
    key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: "der", type: "pkcs8" });
    privateKeys.set(raw, key);
  }
  return key;
}
function publicKeyObject(raw) {
  let key = publicKeys.get(raw);
  if (key === void 0) {
    checkKey(raw, "public key");
    key = createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, raw]), format: "der", type: "spki" });
    publicKeys.set(raw, key);
  }
  return key;
}
function tail(der) {
  return new Uint8Array(der.subarray(der.length - KEY_BYTES));
}
function generateKeyPair() {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  return {
    publicKey: tail(publicKey.export({ format: "der", type: "spki" })),
    privateKey: tail(privateKey.export({ format: "der", type: "pkcs8" }))
  };
}
function publicKeyOf(privateKey) {
  return tail(createPublicKey(privateKeyObject(privateKey)).export({ format: "der", type: "spki" }));
}
function roundSalt(roundId) {
  return createHash("sha256").update(`secagg/${roundId}`).digest();
}
function agree(privateKey, peerPublic, roundId, info) {
  let shared;
  try {
    shared = diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(peerPublic) });
  } catch (cause) {
    throw new AppError("ERR_SECAGG_SHARE", `round ${roundId}: key agreement failed for ${info} (the peer's public key is invalid)`, { cause });
  }
  return Buffer.from(hkdfSync("sha256", shared, roundSalt(roundId), info, KEY_BYTES));
}
function pairSeed(sPrivate, peerSPublic, roundId, iu, iv) {
  return new Uint8Array(agree(sPrivate, peerSPublic, roundId, `mask|${Math.min(iu, iv)}|${Math.max(iu, iv)}`));
}
function shareAad(roundId, from, to) {
  return Buffer.from(`${roundId}|${from}|${to}`);
}
function sealShare(cPrivate, peerCPublic, roundId, from, to, plaintext) {
  const key = agree(cPrivate, peerCPublic, roundId, `share|${from}|${to}`);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(shareAad(roundId, from, to));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    from,
    to,
    nonce: nonce.toString("base64"),
    ciphertext: ciphertext.toString("base64"),
    tag: cipher.getAuthTag().toString("base64")
  };
}
function openShare(cPrivate, peerCPublic, roundId, box) {
  const where = `round ${roundId}: the share from member ${box.from} to member ${box.to}`;
  const nonce = Buffer.from(box.nonce, "base64");
  const tag = Buffer.from(box.tag, "base64");
  if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) {
    throw new AppError("ERR_SECAGG_SHARE", `${where} has a ${nonce.length}-byte nonce and a ${tag.length}-byte tag (expected ${NONCE_BYTES} and ${TAG_BYTES})`);
  }
  const key = agree(cPrivate, peerCPublic, roundId, `share|${box.from}|${box.to}`);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(shareAad(roundId, box.from, box.to));
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(Buffer.from(box.ciphertext, "base64")), decipher.final()]));
  } catch (cause) {
    throw new AppError("ERR_SECAGG_SHARE", `${where} does not authenticate (altered in transit, or not sealed for this member)`, { cause });
  }
}

// src/shared/secagg/prg.ts
import { createCipheriv as createCipheriv2 } from "node:crypto";
import { endianness } from "node:os";
var SEED_BYTES = 32;
var ZERO_IV = Buffer.alloc(16);
var CHUNK_WORDS = 4096;
var ZERO_CHUNK = Buffer.alloc(CHUNK_WORDS * 4);
if (endianness() !== "LE") throw new Error("secure aggregation needs a little-endian platform");
function keystream(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new RangeError(`a mask seed must be ${SEED_BYTES} bytes, got ${seed?.length ?? typeof seed}`);
  }
  return createCipheriv2("aes-256-ctr", seed, ZERO_IV);
}
function nextWords(cipher, words) {
  const bytes = cipher.update(ZERO_CHUNK.subarray(0, words * 4));
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, words);
  const copy = new Uint32Array(words);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}
function addMask(acc, seed, sign = 1) {
  const cipher = keystream(seed);
  const length = acc.length;
  for (let offset = 0; offset < length; offset += CHUNK_WORDS) {
    const words = nextWords(cipher, Math.min(CHUNK_WORDS, length - offset));
    const n = words.length;
    if (sign === 1) {
      for (let i = 0; i < n; i++) acc[offset + i] += words[i];
    } else {
      for (let i = 0; i < n; i++) acc[offset + i] -= words[i];
    }
  }
}
function addMod(acc, x, sign = 1) {
  if (acc.length !== x.length) throw new RangeError(`cannot add a vector of length ${x.length} to one of length ${acc.length}`);
  const n = acc.length;
  if (sign === 1) {
    for (let i = 0; i < n; i++) acc[i] += x[i];
  } else {
    for (let i = 0; i < n; i++) acc[i] -= x[i];
  }
}

// src/shared/secagg/shamir.ts
import { combine, split } from "shamir-secret-sharing";
var MAX_SHARES = 255;
async function splitSecret(secret, n, t) {
  if (!Number.isInteger(n) || !Number.isInteger(t) || t < 2 || t > n || n > MAX_SHARES) {
    throw new RangeError(`Shamir sharing needs integers 2 \u2264 t \u2264 n \u2264 ${MAX_SHARES}, got t=${t}, n=${n}`);
  }
  return split(Uint8Array.from(secret), n, t);
}
async function combineShares(shares) {
  return combine(shares.map((s) => Uint8Array.from(s)));
}

// src/shared/secagg/protocol.ts
var SEED_BYTES2 = 32;
var SHARE_BYTES = SEED_BYTES2 + 1;
var PLAINTEXT_BYTES = 8 + 2 * SHARE_BYTES;
var MAX_NAMED = 10;
function createMemberSecrets() {
  return { c: generateKeyPair(), s: generateKeyPair(), selfSeed: globalThis.crypto.getRandomValues(new Uint8Array(SEED_BYTES2)) };
}
function memberOf(cohort, index) {
  const member = cohort.members[index];
  if (member?.index !== index) {
    throw new RangeError(`round ${cohort.roundId}: member ${index} is not at position ${index} of the cohort (members must be listed in index order)`);
  }
  return member;
}
function neighboursOf(cohort, index) {
  memberOf(cohort, index);
  const list = cohort.neighbours[index];
  if (list === void 0) throw new RangeError(`round ${cohort.roundId}: member ${index} has no neighbour list`);
  return list;
}
async function makeShares(me, secrets, cohort) {
  const neighbours = neighboursOf(cohort, me);
  const sShares = await splitSecret(secrets.s.privateKey, neighbours.length, cohort.t);
  const bShares = await splitSecret(secrets.selfSeed, neighbours.length, cohort.t);
  return neighbours.map((v, j) => {
    const plaintext = new Uint8Array(PLAINTEXT_BYTES);
    const view = new DataView(plaintext.buffer);
    view.setUint32(0, me, true);
    view.setUint32(4, v, true);
    plaintext.set(sShares[j], 8);
    plaintext.set(bShares[j], 8 + SHARE_BYTES);
    return sealShare(secrets.c.privateKey, memberOf(cohort, v).cPk, cohort.roundId, me, v, plaintext);
  });
}
function openInbox(me, secrets, cohort, boxes) {
  const neighbours = new Set(neighboursOf(cohort, me));
  const seen = /* @__PURE__ */ new Set();
  return boxes.map((box) => {
    const where = `round ${cohort.roundId}: the share from member ${box.from} to member ${box.to}`;
    if (box.to !== me || !neighbours.has(box.from) || seen.has(box.from)) {
      throw new AppError("ERR_SECAGG_SHARE", `${where} is not addressed to member ${me} from one of its neighbours, or is repeated`);
    }
    seen.add(box.from);
    const plaintext = openShare(secrets.c.privateKey, memberOf(cohort, box.from).cPk, cohort.roundId, box);
    const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
    if (plaintext.length !== PLAINTEXT_BYTES || view.getUint32(0, true) !== box.from || view.getUint32(4, true) !== me) {
      throw new AppError("ERR_SECAGG_SHARE", `${where} decrypts to a ${plaintext.length}-byte plaintext that does not name this pair`);
    }
    return {
      from: box.from,
      sShare: plaintext.slice(8, 8 + SHARE_BYTES),
      bShare: plaintext.slice(8 + SHARE_BYTES)
    };
  });
}
function maskInput(me, input, secrets, cohort, u2) {
  const neighbours = neighboursOf(cohort, me);
  const inU2 = new Set(u2);
  if (!inU2.has(me)) {
    throw new AppError("ERR_SECAGG_REFUSED", `round ${cohort.roundId}: member ${me} is not in U2 (its shares were not delivered), so it does not mask`);
  }
  const y = Uint32Array.from(input);
  addMask(y, secrets.selfSeed);
  for (const v of neighbours) {
    if (!inU2.has(v)) continue;
    addMask(y, pairSeed(secrets.s.privateKey, memberOf(cohort, v).sPk, cohort.roundId, me, v), v > me ? 1 : -1);
  }
  return y;
}
function sameSet(a, b) {
  const set = new Set(a);
  return set.size === a.length && new Set(b).size === b.length && a.length === b.length && b.every((x) => set.has(x));
}
function requestProblem(cohort, u2, request) {
  const u2Set = new Set(u2);
  const survivors = new Set(request.survivors);
  const dropped = new Set(request.dropped);
  if (survivors.size !== request.survivors.length || dropped.size !== request.dropped.length) return "a list repeats a member";
  if (request.survivors.some((v) => dropped.has(v))) return "the survivor and dropped lists overlap";
  if (request.survivors.some((v) => !u2Set.has(v))) return "a survivor is not in U2 (U3 \u2284 U2)";
  if (!sameSet([...request.survivors, ...request.dropped], u2)) return "survivors and dropped together are not exactly U2";
  if (survivors.size < cohort.minSurvivors) return `${survivors.size} survivors is below the minimum of ${cohort.minSurvivors}`;
  return null;
}
function revealFor(me, opened, cohort, u2, request, answered) {
  const refuse = (why) => {
    throw new AppError("ERR_SECAGG_REFUSED", `round ${cohort.roundId}: member ${me} refuses the unmask request: ${why}`);
  };
  if (answered !== null && !(sameSet(answered.survivors, request.survivors) && sameSet(answered.dropped, request.dropped))) {
    refuse("it differs from the request already answered this round");
  }
  const problem = requestProblem(cohort, u2, request);
  if (problem !== null) refuse(problem);
  const survivors = new Set(request.survivors);
  const dropped = new Set(request.dropped);
  if (!survivors.has(me)) refuse("this member is not listed among the survivors");
  const reveal = { from: me, bShares: [], sShares: [] };
  for (const share of opened) {
    if (survivors.has(share.from)) reveal.bShares.push({ of: share.from, share: share.bShare });
    else if (dropped.has(share.from)) reveal.sShares.push({ of: share.from, share: share.sShare });
  }
  return reveal;
}
function collectShares(cohort, survivors, reveals, kind, of) {
  const wanted = new Set(of);
  const collected = new Map(of.map((v) => [v, []]));
  const seen = /* @__PURE__ */ new Set();
  for (const reveal of reveals) {
    if (!survivors.has(reveal.from)) continue;
    const neighbours = new Set(neighboursOf(cohort, reveal.from));
    for (const { of: v, share } of reveal[kind]) {
      const key = `${reveal.from}|${v}`;
      if (!wanted.has(v) || !neighbours.has(v) || seen.has(key) || share.length !== SHARE_BYTES) continue;
      seen.add(key);
      const list = collected.get(v);
      if (list.length < cohort.t) list.push(share);
    }
  }
  return collected;
}
async function rebuild(cohort, shares, what) {
  try {
    return await combineShares(shares);
  } catch (cause) {
    throw new AppError("ERR_SECAGG_ABORT", `round ${cohort.roundId}: the shares of ${what} do not combine (${cause.message})`, { cause });
  }
}
async function unmaskSum(maskedSum, cohort, u2, request, reveals) {
  const problem = requestProblem(cohort, u2, request);
  if (problem !== null) throw new AppError("ERR_SECAGG_ABORT", `round ${cohort.roundId}: the unmask request is inconsistent: ${problem}`);
  const survivors = new Set(request.survivors);
  const bShares = collectShares(cohort, survivors, reveals, "bShares", request.survivors);
  const sShares = collectShares(cohort, survivors, reveals, "sShares", request.dropped);
  const short = [
    ...[...bShares].filter(([, list]) => list.length < cohort.t).map(([v, list]) => `survivor ${v} (${list.length} b-shares)`),
    ...[...sShares].filter(([, list]) => list.length < cohort.t).map(([v, list]) => `dropped ${v} (${list.length} s-shares)`)
  ];
  if (short.length > 0) {
    const named = short.length > MAX_NAMED ? `${short.slice(0, MAX_NAMED).join(", ")} and ${short.length - MAX_NAMED} more` : short.join(", ");
    throw new AppError("ERR_SECAGG_ABORT", `round ${cohort.roundId}: fewer than t=${cohort.t} shares revealed for ${named}; nobody is unmasked`);
  }
  const sum = Uint32Array.from(maskedSum);
  for (const [v, shares] of bShares) {
    addMask(sum, await rebuild(cohort, shares, `survivor ${v}'s self-mask seed`), -1);
  }
  for (const [v, shares] of sShares) {
    const sPrivate = await rebuild(cohort, shares, `dropped member ${v}'s mask key`);
    if (!Buffer.from(publicKeyOf(sPrivate)).equals(memberOf(cohort, v).sPk)) {
      throw new AppError("ERR_SECAGG_ABORT", `round ${cohort.roundId}: the mask key rebuilt for dropped member ${v} does not match its public key (a revealed share is wrong)`);
    }
    for (const w of neighboursOf(cohort, v)) {
      if (!survivors.has(w)) continue;
      addMask(sum, pairSeed(sPrivate, memberOf(cohort, w).sPk, cohort.roundId, v, w), v > w ? -1 : 1);
    }
  }
  return sum;
}

export {
  encodeContribution,
  toModular,
  decodeSum,
  maxCohortSize,
  contributionLayout,
  contributionBound,
  buildContribution,
  splitSum,
  roundNoise,
  roundSpend,
  MAX_SHARES,
  addMod,
  createMemberSecrets,
  makeShares,
  openInbox,
  maskInput,
  revealFor,
  unmaskSum
};
//# sourceMappingURL=chunk-XAGHYWDG.js.map
