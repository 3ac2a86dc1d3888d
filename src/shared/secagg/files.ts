import { promises as fs } from 'node:fs';
import path from 'node:path';
import { jsonFileText, readJsonFile, readJsonFileSync, readRegularFile, readRegularFileInto, writeFileAtomic, writeFilesAtomicSync, writeJsonAtomic } from '../atomic';
import { sha256Hex } from '../delta';
import { AppError } from '../errors';
import { isShared, readIntoShared } from '../hash-workers';
import { parseMechanismSpec, type MechanismSpec } from '../model/mechanism';
import { decodeNpy, encodeNpy } from '../npy';

/**
 * The files of a secure-aggregation round, shared by the aggregator (which writes
 * the first five) and the members (which write the rest). Every file is JSON with
 * `format` and `formatVersion`, written atomically, never empty. One folder per
 * round; round ids are a monotone counter (`r000007`), independent of Global_V versions.
 *
 * On the aggregator's datasite, `app_data/<app>/aggregator/secagg/r000007/`:
 * - `round.json`   the round opens: base version, aggregation mechanism and its parameters
 *                  (`../model/mechanism.ts`), contribution layout, encoding, noise, deadlines.
 *                  Readable by every discovered participant (it names nobody). Format
 *                  version 2: the contribution is the mechanism's (version 1 carried a
 *                  FedAvg delta and its weight; such a round is refused by either side).
 *   ```json
 *   { "format": "syftbox-netflix-svd/secagg-round", "formatVersion": 2, "roundId": "r000007",
 *     "baseVersion": 6,
 *     "mechanism": { "name": "subspace", "params": { "phase": "count", "topItems": 200, "dimensions": 12, "power": 0.5, "diagonal": false, "threshold": 1 } },
 *     "layout": { "segments": [{ "name": "counts", "length": 8807 }, { "name": "members", "length": 1 }] },
 *     "params": { "modulusBits": 32, "scaleBits": 23, "clipNorm": 1.4142135623730951, "weightScale": 1,
 *                 "noise": { "mechanism": "skellam", "sigma": 18313182.56 },
 *                 "deadlines": { "keysBy": "2026-11-21T16:02:00.000Z", "sharesBy": "2026-11-21T16:04:00.000Z",
 *                                "maskedBy": "2026-11-21T16:06:00.000Z", "revealBy": "2026-11-21T16:08:00.000Z" } },
 *     "createdAt": "2026-11-21T16:00:00.000Z" }
 *   ```
 *   Without DP (DP_EPSILON=0) the mechanism is the federated optimizer's,
 *   `{ "name": "preconditioned", "params": { "reg": 3, "alpha": 2, "clipNorm": 100, "step": 0.7 } }`,
 *   its layout `gradient`, …, `weight`, `members`, and the noise `{ "mechanism": "none", "sigma": 0 }`.
 * - `cohort.json`  members by cohort index with their two public keys, the neighbour
 *                  graph, the Shamir threshold t and the minimum survivors T. Readable
 *                  by the cohort only; it holds no email.
 *   ```json
 *   { "format": "syftbox-netflix-svd/secagg-cohort", "formatVersion": 1, "roundId": "r000007",
 *     "members": [{ "index": 0, "cPk": "q1x…=", "sPk": "9Uc…=" }, …],
 *     "neighbours": [[1, 2], [0, 2], [0, 1]], "t": 2, "minSurvivors": 3, "createdAt": "…" }
 *   ```
 * - `inbox/<index>.json`  the shares sealed for one member (routed through the
 *                  aggregator, which cannot open them) and U2, the members whose shares
 *                  arrived. Readable by that member only.
 *   ```json
 *   { "format": "syftbox-netflix-svd/secagg-inbox", "formatVersion": 1, "roundId": "r000007",
 *     "to": 2, "u2": [0, 1, 2], "shares": [{ "from": 0, "nonce": "…", "ciphertext": "…", "tag": "…" }, …] }
 *   ```
 * - `unmask.json`  U3 (survivors: masked input arrived) and U2 \ U3 (dropped after
 *                  sharing). Readable by the cohort. Never written when |U3| < T.
 *   ```json
 *   { "format": "syftbox-netflix-svd/secagg-unmask", "formatVersion": 1, "roundId": "r000007",
 *     "survivors": [0, 2, 3], "dropped": [1] }
 *   ```
 * - `result.json`  how the round ended. Readable by the cohort.
 *   ```json
 *   { "format": "syftbox-netflix-svd/secagg-result", "formatVersion": 1, "roundId": "r000007",
 *     "outcome": "merged", "reason": null, "survivors": [0, 2, 3], "dropped": [1], "version": 7, "createdAt": "…" }
 *   ```
 * On each member's datasite, `app_data/<app>/secagg/r000007/` (readable by the aggregator only):
 * - `keys.json`    `{ "format": "syftbox-netflix-svd/secagg-keys", "formatVersion": 1, "roundId": "r000007",
 *                    "cPk": "…", "sPk": "…", "baseVersion": 6, "createdAt": "…" }` (raw X25519 keys, base64)
 * - `shares.json`  `{ …"secagg-shares"…, "roundId", "from": 2, "shares": [{ "to": 0, "nonce", "ciphertext", "tag" }, …] }`
 * - `masked-<16 hex>.npy`  the masked input: uint32 (`<u4`), shape (L,), little-endian;
 *   `masked.json`  its manifest, written after the payload (as a delta manifest):
 *                  `{ …"secagg-masked"…, "roundId", "payload": "masked-3f2a9c0b7d1e4a65.npy", "sha256": "3f2a…", "length": 281825, "createdAt" }`
 * - `reveal.json`  the shares a survivor reveals: of the self-mask seed b for survivors,
 *                  of the mask key s for dropped members, never both for one member:
 *                  `{ …"secagg-reveal"…, "roundId", "from": 2, "bShares": [{ "of": 0, "share": "…" }], "sShares": [{ "of": 1, "share": "…" }] }`
 *
 * The parsers below check everything a hostile writer could get wrong (schema,
 * sizes, index ranges, duplicates, key lengths, the round id) and throw
 * ERR_SECAGG_FILE naming the file; cross-file checks (is this index a neighbour?)
 * belong to the side that knows the round.
 */
export const SECAGG_FORMAT_VERSION = 1;
/** `round.json` alone is at version 2 (it names the aggregation mechanism); the other files keep version 1. */
const ROUND_FORMAT_VERSION = 2;
export const MODULUS_BITS = 32;
const FORMAT_PREFIX = 'syftbox-netflix-svd/secagg-';

export const ROUND_FILE = 'round.json';
export const COHORT_FILE = 'cohort.json';
export const INBOX_DIR = 'inbox';
export const UNMASK_FILE = 'unmask.json';
export const RESULT_FILE = 'result.json';
export const KEYS_FILE = 'keys.json';
export const SHARES_FILE = 'shares.json';
export const MASKED_MANIFEST = 'masked.json';
export const REVEAL_FILE = 'reveal.json';
const MASKED_PAYLOAD_RE = /^masked-[0-9a-f]{16}\.npy$/;

/** Round, keys and masked manifests are a few hundred bytes. */
export const MAX_SMALL_FILE_BYTES = 64 * 1024; // 64 KiB
/** Files with one entry per member or neighbour (cohort, inboxes, unmask, shares, reveals). */
export const MAX_LIST_FILE_BYTES = 8 * 1024 * 1024; // 8 MiB: ~60,000 members
/** Largest cohort a file may describe. */
export const MAX_COHORT = 100_000;
/** Longest contribution vector (items x rank + extra segments). */
export const MAX_VECTOR_LENGTH = 50_000_000;
const NPY_HEADER_SLACK_BYTES = 4096;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** A sealed pair of shares: two 32-byte secrets' shares (33 bytes each) and two indices. */
const MAX_CIPHERTEXT_BYTES = 1024;
/** One Shamir share of a 32-byte secret: the secret's bytes plus its x-coordinate. */
const MAX_SHARE_BYTES = 256;

export interface ContributionLayout {
  segments: { name: string; length: number }[];
}

export interface RoundDeadlines {
  keysBy: string;
  sharesBy: string;
  maskedBy: string;
  revealBy: string;
}

export const PHASE_DEADLINES: readonly (keyof RoundDeadlines)[] = ['keysBy', 'sharesBy', 'maskedBy', 'revealBy'];

export interface RoundNoise {
  /** `skellam`: each member adds Skellam noise so the sum carries N(0, sigma²)-like integer noise; `none`. */
  mechanism: 'skellam' | 'none';
  /** Standard deviation of the noise in the decoded sum, in quantization steps. */
  sigma: number;
}

export interface RoundFile {
  format: `${typeof FORMAT_PREFIX}round`;
  formatVersion: typeof ROUND_FORMAT_VERSION;
  roundId: string;
  /** Global_V version the contributions must start from. */
  baseVersion: number;
  /** What every member contributes, and how the sum becomes the next Global_V. */
  mechanism: MechanismSpec;
  layout: ContributionLayout;
  params: {
    modulusBits: typeof MODULUS_BITS;
    scaleBits: number;
    /** L2 bound of the whole contribution vector (encoding scale = 2^scaleBits / clipNorm). */
    clipNorm: number;
    /** Value of the members coordinate for one datasite; also the mechanism's bound. */
    weightScale: number;
    noise: RoundNoise;
    deadlines: RoundDeadlines;
  };
  createdAt: string;
}

export interface CohortMember {
  index: number;
  /** Public keys, base64 of raw 32 bytes: c encrypts shares, s agrees masks. */
  cPk: string;
  sPk: string;
}

export interface CohortFile {
  format: `${typeof FORMAT_PREFIX}cohort`;
  formatVersion: typeof SECAGG_FORMAT_VERSION;
  roundId: string;
  members: CohortMember[];
  /** neighbours[i]: the cohort indices member i shares with (symmetric). */
  neighbours: number[][];
  /** Shamir threshold within each neighbourhood. */
  t: number;
  /** T: fewest survivors for the round to complete. */
  minSurvivors: number;
  createdAt: string;
}

export interface SealedBox {
  nonce: string;
  ciphertext: string;
  tag: string;
}

export interface InboxFile {
  format: `${typeof FORMAT_PREFIX}inbox`;
  formatVersion: typeof SECAGG_FORMAT_VERSION;
  roundId: string;
  to: number;
  /** U2: members whose shares arrived (their pairwise masks are in every masked input). */
  u2: number[];
  shares: (SealedBox & { from: number })[];
}

export interface UnmaskFile {
  format: `${typeof FORMAT_PREFIX}unmask`;
  formatVersion: typeof SECAGG_FORMAT_VERSION;
  roundId: string;
  survivors: number[];
  dropped: number[];
}

export interface ResultFile {
  format: `${typeof FORMAT_PREFIX}result`;
  formatVersion: typeof SECAGG_FORMAT_VERSION;
  roundId: string;
  outcome: 'merged' | 'aborted';
  reason: string | null;
  survivors: number[];
  dropped: number[];
  /** The Global_V version the round produced (merged only). */
  version: number | null;
  createdAt: string;
}

export interface KeysFile {
  format: `${typeof FORMAT_PREFIX}keys`;
  formatVersion: typeof SECAGG_FORMAT_VERSION;
  roundId: string;
  cPk: string;
  sPk: string;
  baseVersion: number;
  createdAt: string;
}

export interface SharesFile {
  format: `${typeof FORMAT_PREFIX}shares`;
  formatVersion: typeof SECAGG_FORMAT_VERSION;
  roundId: string;
  from: number;
  shares: (SealedBox & { to: number })[];
}

export interface MaskedManifest {
  format: `${typeof FORMAT_PREFIX}masked`;
  formatVersion: typeof SECAGG_FORMAT_VERSION;
  roundId: string;
  payload: string;
  sha256: string;
  length: number;
  createdAt: string;
}

export interface RevealedShare {
  of: number;
  share: string;
}

export interface RevealFile {
  format: `${typeof FORMAT_PREFIX}reveal`;
  formatVersion: typeof SECAGG_FORMAT_VERSION;
  roundId: string;
  from: number;
  bShares: RevealedShare[];
  sShares: RevealedShare[];
}

type FormatVersionOf<K extends string> = K extends 'round' ? typeof ROUND_FORMAT_VERSION : typeof SECAGG_FORMAT_VERSION;

function formatVersionOf<K extends string>(kind: K): FormatVersionOf<K> {
  return (kind === 'round' ? ROUND_FORMAT_VERSION : SECAGG_FORMAT_VERSION) as FormatVersionOf<K>;
}

/** `format` and `formatVersion` of a phase file of `kind`. */
export function header<K extends string>(kind: K): { format: `${typeof FORMAT_PREFIX}${K}`; formatVersion: FormatVersionOf<K> } {
  return { format: `${FORMAT_PREFIX}${kind}`, formatVersion: formatVersionOf(kind) };
}

export function layoutLength(layout: ContributionLayout): number {
  return layout.segments.reduce((sum, s) => sum + s.length, 0);
}

export function inboxFile(roundDir: string, index: number): string {
  return path.join(roundDir, INBOX_DIR, `${index}.json`);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

// ---------------------------------------------------------------- validation

/** What a file must agree with: its round, and the cohort size once known. */
export interface FileExpect {
  roundId: string;
  /** Cohort size: every index must be below it. */
  n?: number;
}

class Checker {
  constructor(readonly file: string) {}

  fail(what: string): never {
    throw new AppError('ERR_SECAGG_FILE', `${this.file}: ${what}`, { file: this.file });
  }

  object(value: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(`${what} is not a JSON object`);
    const record = value as Record<string, unknown>;
    const unknown = Object.keys(record).filter((k) => !keys.includes(k));
    if (unknown.length > 0) this.fail(`${what} has unknown keys ${unknown.join(', ')}`);
    const missing = keys.filter((k) => !(k in record));
    if (missing.length > 0) this.fail(`${what} lacks ${missing.join(', ')}`);
    return record;
  }

  head(record: Record<string, unknown>, kind: string, expect: FileExpect): void {
    if (record.format !== `${FORMAT_PREFIX}${kind}`) this.fail(`format ${JSON.stringify(record.format)} is not ${FORMAT_PREFIX}${kind}`);
    if (record.formatVersion !== formatVersionOf(kind)) this.fail(`formatVersion ${JSON.stringify(record.formatVersion)} is not supported (expected ${formatVersionOf(kind)})`);
    if (record.roundId !== expect.roundId) this.fail(`roundId ${JSON.stringify(record.roundId)} is not ${expect.roundId}`);
  }

  int(value: unknown, what: string, min: number, max: number): number {
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) this.fail(`${what} must be an integer from ${min} to ${max}`);
    return value as number;
  }

  number(value: unknown, what: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) this.fail(`${what} must be a finite number from ${min} to ${max}`);
    return value as number;
  }

  date(value: unknown, what: string): string {
    if (typeof value !== 'string' || value.length > 64 || Number.isNaN(Date.parse(value))) this.fail(`${what} must be an ISO date`);
    return value as string;
  }

  index(value: unknown, what: string, expect: FileExpect): number {
    return this.int(value, what, 0, (expect.n ?? MAX_COHORT) - 1);
  }

  /** A list of distinct cohort indices, ascending. */
  indices(value: unknown, what: string, expect: FileExpect): number[] {
    if (!Array.isArray(value) || value.length > (expect.n ?? MAX_COHORT)) this.fail(`${what} must be a list of at most ${expect.n ?? MAX_COHORT} indices`);
    const list = (value as unknown[]).map((v, i) => this.index(v, `${what}[${i}]`, expect));
    for (let i = 1; i < list.length; i++) if (list[i] <= list[i - 1]) this.fail(`${what} must be ascending without duplicates`);
    return list;
  }

  base64(value: unknown, what: string, minBytes: number, maxBytes: number): string {
    if (typeof value !== 'string' || value.length > Math.ceil(maxBytes / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) this.fail(`${what} must be base64`);
    const bytes = Buffer.byteLength(value as string, 'base64'); // the decoded length, without decoding
    if (bytes < minBytes || bytes > maxBytes) this.fail(`${what} holds ${bytes} bytes, expected ${minBytes === maxBytes ? minBytes : `${minBytes} to ${maxBytes}`}`);
    return value as string;
  }

  key(value: unknown, what: string): string {
    return this.base64(value, what, KEY_BYTES, KEY_BYTES);
  }

  /** A sealed box addressed from or to a member; returns that member's index. */
  box(value: unknown, what: string, peer: 'from' | 'to', expect: FileExpect): number {
    const r = this.object(value, what, [peer, 'nonce', 'ciphertext', 'tag']);
    this.base64(r.nonce, `${what}.nonce`, NONCE_BYTES, NONCE_BYTES);
    this.base64(r.ciphertext, `${what}.ciphertext`, 1, MAX_CIPHERTEXT_BYTES);
    this.base64(r.tag, `${what}.tag`, TAG_BYTES, TAG_BYTES);
    return this.index(r[peer], `${what}.${peer}`, expect);
  }

  list<T>(value: unknown, what: string, max: number, each: (v: unknown, where: string) => T): T[] {
    if (!Array.isArray(value) || value.length > max) this.fail(`${what} must be a list of at most ${max} entries`);
    return (value as unknown[]).map((v, i) => each(v, `${what}[${i}]`));
  }

  distinct(values: number[], what: string): void {
    if (new Set(values).size !== values.length) this.fail(`${what} names a member twice`);
  }
}

export function parseRoundFile(value: unknown, file: string, expect: FileExpect): RoundFile {
  const c = new Checker(file);
  const r = c.object(value, 'round', ['format', 'formatVersion', 'roundId', 'baseVersion', 'mechanism', 'layout', 'params', 'createdAt']);
  c.head(r, 'round', expect);
  c.int(r.baseVersion, 'baseVersion', 0, Number.MAX_SAFE_INTEGER);
  const mechanism = ((): MechanismSpec => {
    try {
      return parseMechanismSpec(r.mechanism);
    } catch (err) {
      return c.fail(err instanceof RangeError ? err.message : String(err));
    }
  })();
  const layout = c.object(r.layout, 'layout', ['segments']);
  const segments = c.list(layout.segments, 'layout.segments', 64, (s, where) => {
    const seg = c.object(s, where, ['name', 'length']);
    if (typeof seg.name !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(seg.name)) c.fail(`${where}.name must be a short lowercase name`);
    return { name: seg.name as string, length: c.int(seg.length, `${where}.length`, 1, MAX_VECTOR_LENGTH) };
  });
  if (segments.length === 0 || layoutLength({ segments }) > MAX_VECTOR_LENGTH) c.fail(`layout must have 1 to ${MAX_VECTOR_LENGTH} values`);
  const p = c.object(r.params, 'params', ['modulusBits', 'scaleBits', 'clipNorm', 'weightScale', 'noise', 'deadlines']);
  if (p.modulusBits !== MODULUS_BITS) c.fail(`params.modulusBits must be ${MODULUS_BITS}`);
  c.int(p.scaleBits, 'params.scaleBits', 1, 30);
  c.number(p.clipNorm, 'params.clipNorm', 1e-9, 1e9);
  c.number(p.weightScale, 'params.weightScale', 1e-9, 1e9);
  const noise = c.object(p.noise, 'params.noise', ['mechanism', 'sigma']);
  if (noise.mechanism !== 'skellam' && noise.mechanism !== 'none') c.fail('params.noise.mechanism must be skellam or none');
  c.number(noise.sigma, 'params.noise.sigma', 0, 2 ** 31);
  const deadlines = c.object(p.deadlines, 'params.deadlines', PHASE_DEADLINES);
  for (const k of PHASE_DEADLINES) c.date(deadlines[k], `params.deadlines.${k}`);
  c.date(r.createdAt, 'createdAt');
  return { ...(value as RoundFile), mechanism };
}

export function parseCohortFile(value: unknown, file: string, expect: FileExpect): CohortFile {
  const c = new Checker(file);
  const r = c.object(value, 'cohort', ['format', 'formatVersion', 'roundId', 'members', 'neighbours', 't', 'minSurvivors', 'createdAt']);
  c.head(r, 'cohort', expect);
  const members = c.list(r.members, 'members', MAX_COHORT, (m, where) => {
    const x = c.object(m, where, ['index', 'cPk', 'sPk']);
    return { index: c.int(x.index, `${where}.index`, 0, MAX_COHORT - 1), cPk: c.key(x.cPk, `${where}.cPk`), sPk: c.key(x.sPk, `${where}.sPk`) };
  });
  const n = members.length;
  for (const [i, m] of members.entries()) if (m.index !== i) c.fail(`members[${i}].index must be ${i} (members are listed by index)`);
  const keys = members.flatMap((m) => [m.cPk, m.sPk]);
  if (new Set(keys).size !== keys.length) c.fail('two members share a public key');
  const within = { ...expect, n };
  const neighbours = c.list(r.neighbours, 'neighbours', n, (list, where) => c.indices(list, where, within));
  if (neighbours.length !== n) c.fail(`neighbours must have one list per member (${n})`);
  for (const [u, list] of neighbours.entries()) {
    for (const v of list) {
      if (v === u) c.fail(`neighbours[${u}] names the member itself`);
      if (!neighbours[v].includes(u)) c.fail(`neighbours is not symmetric: ${u} lists ${v}, not the other way`);
    }
  }
  const t = c.int(r.t, 't', 2, n);
  for (const [u, list] of neighbours.entries()) if (list.length < t) c.fail(`member ${u} has ${list.length} neighbours, fewer than t = ${t}`);
  c.int(r.minSurvivors, 'minSurvivors', t, n);
  c.date(r.createdAt, 'createdAt');
  return value as CohortFile;
}

export function parseInboxFile(value: unknown, file: string, expect: FileExpect & { to: number }): InboxFile {
  const c = new Checker(file);
  const r = c.object(value, 'inbox', ['format', 'formatVersion', 'roundId', 'to', 'u2', 'shares']);
  c.head(r, 'inbox', expect);
  if (r.to !== expect.to) c.fail(`to ${JSON.stringify(r.to)} is not ${expect.to}`);
  c.indices(r.u2, 'u2', expect);
  const shares = c.list(r.shares, 'shares', expect.n ?? MAX_COHORT, (b, where) => c.box(b, where, 'from', expect));
  c.distinct(shares, 'shares');
  return value as InboxFile;
}

export function parseUnmaskFile(value: unknown, file: string, expect: FileExpect): UnmaskFile {
  const c = new Checker(file);
  const r = c.object(value, 'unmask', ['format', 'formatVersion', 'roundId', 'survivors', 'dropped']);
  c.head(r, 'unmask', expect);
  c.indices(r.survivors, 'survivors', expect);
  c.indices(r.dropped, 'dropped', expect);
  return value as UnmaskFile;
}

export function parseResultFile(value: unknown, file: string, expect: FileExpect): ResultFile {
  const c = new Checker(file);
  const r = c.object(value, 'result', ['format', 'formatVersion', 'roundId', 'outcome', 'reason', 'survivors', 'dropped', 'version', 'createdAt']);
  c.head(r, 'result', expect);
  if (r.outcome !== 'merged' && r.outcome !== 'aborted') c.fail('outcome must be merged or aborted');
  if (r.reason !== null && (typeof r.reason !== 'string' || r.reason.length > 1000)) c.fail('reason must be null or a short string');
  c.indices(r.survivors, 'survivors', expect);
  c.indices(r.dropped, 'dropped', expect);
  if (r.version !== null) c.int(r.version, 'version', 1, Number.MAX_SAFE_INTEGER);
  c.date(r.createdAt, 'createdAt');
  return value as ResultFile;
}

export function parseKeysFile(value: unknown, file: string, expect: FileExpect): KeysFile {
  const c = new Checker(file);
  const r = c.object(value, 'keys', ['format', 'formatVersion', 'roundId', 'cPk', 'sPk', 'baseVersion', 'createdAt']);
  c.head(r, 'keys', expect);
  c.key(r.cPk, 'cPk');
  c.key(r.sPk, 'sPk');
  if (r.cPk === r.sPk) c.fail('cPk and sPk must differ');
  c.int(r.baseVersion, 'baseVersion', 0, Number.MAX_SAFE_INTEGER);
  c.date(r.createdAt, 'createdAt');
  return value as KeysFile;
}

export function parseSharesFile(value: unknown, file: string, expect: FileExpect): SharesFile {
  const c = new Checker(file);
  const r = c.object(value, 'shares', ['format', 'formatVersion', 'roundId', 'from', 'shares']);
  c.head(r, 'shares', expect);
  c.index(r.from, 'from', expect);
  const shares = c.list(r.shares, 'shares', expect.n ?? MAX_COHORT, (b, where) => c.box(b, where, 'to', expect));
  c.distinct(shares, 'shares');
  return value as SharesFile;
}

export function parseRevealFile(value: unknown, file: string, expect: FileExpect): RevealFile {
  const c = new Checker(file);
  const r = c.object(value, 'reveal', ['format', 'formatVersion', 'roundId', 'from', 'bShares', 'sShares']);
  c.head(r, 'reveal', expect);
  c.index(r.from, 'from', expect);
  const revealed = (key: 'bShares' | 'sShares') =>
    c.list(r[key], key, expect.n ?? MAX_COHORT, (s, where) => {
      const x = c.object(s, where, ['of', 'share']);
      return { of: c.index(x.of, `${where}.of`, expect), share: c.base64(x.share, `${where}.share`, 2, MAX_SHARE_BYTES) };
    });
  const b = revealed('bShares').map((s) => s.of);
  const s = revealed('sShares').map((x) => x.of);
  c.distinct([...b, ...s], 'bShares and sShares together (never both kinds for one member)');
  return value as RevealFile;
}

export function parseMaskedManifest(value: unknown, file: string, expect: FileExpect & { length: number }): MaskedManifest {
  const c = new Checker(file);
  const r = c.object(value, 'masked manifest', ['format', 'formatVersion', 'roundId', 'payload', 'sha256', 'length', 'createdAt']);
  c.head(r, 'masked', expect);
  if (typeof r.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha256)) c.fail('sha256 must be 64 lowercase hex digits');
  if (typeof r.payload !== 'string' || !MASKED_PAYLOAD_RE.test(r.payload) || r.payload !== `masked-${(r.sha256 as string).slice(0, 16)}.npy`) {
    c.fail('payload must be masked-<first 16 hex of sha256>.npy');
  }
  if (r.length !== expect.length) c.fail(`length ${JSON.stringify(r.length)} is not the round's ${expect.length}`);
  c.date(r.createdAt, 'createdAt');
  return value as MaskedManifest;
}

// ---------------------------------------------------------------- reading and writing

/**
 * Read and parse one phase file; null when it is absent (not written, or not synced yet).
 * Synchronous I/O (`readRegularFileSync`): the aggregator reads these by the thousand in a large
 * round, and each is small (at most `maxBytes`, 8 MiB for the longest lists).
 */
export function readPhaseFile<T>(file: string, maxBytes: number, parse: (value: unknown, file: string) => T): T | null {
  const raw = readJsonFileSync(file, { maxBytes });
  return raw === null ? null : parse(raw, file);
}

/** Write a phase file atomically. */
export async function writePhaseFile(file: string, value: object): Promise<void> {
  await writeJsonAtomic(file, value);
}

/** Write members' inbox files of one round, each atomically, as one synchronous batch (`writeFilesAtomicSync`; the inbox folder is synced once). */
export function writeInboxFiles(roundDir: string, inboxes: readonly InboxFile[]): void {
  writeFilesAtomicSync(path.join(roundDir, INBOX_DIR), inboxes.map((inbox) => ({ name: path.basename(inboxFile(roundDir, inbox.to)), data: jsonFileText(inbox) })));
}

export interface MaskedInput {
  manifest: MaskedManifest;
  values: Uint32Array;
}

/** Publish a masked input: payload `masked-<sha16>.npy`, then `masked.json` (the commit), then older payloads removed. */
export async function writeMaskedInput(dir: string, roundId: string, values: Uint32Array, createdAt: string): Promise<MaskedManifest> {
  const bytes = encodeNpy(values, [values.length]);
  const sha256 = sha256Hex(bytes);
  const payload = `masked-${sha256.slice(0, 16)}.npy`;
  const manifest: MaskedManifest = { ...header('masked'), roundId, payload, sha256, length: values.length, createdAt };
  await writeFileAtomic(path.join(dir, payload), bytes);
  await writeJsonAtomic(path.join(dir, MASKED_MANIFEST), manifest);
  for (const name of await fs.readdir(dir)) {
    if (MASKED_PAYLOAD_RE.test(name) && name !== payload) await fs.rm(path.join(dir, name), { force: true });
  }
  return manifest;
}

/** Largest payload file of a masked input of `length` values: 4 bytes a value plus the .npy header. */
export function maskedPayloadBytes(length: number): number {
  return length * 4 + NPY_HEADER_SLACK_BYTES;
}

/** A masked input's manifest and the payload file it names; null while the manifest is absent, an AppError naming the file for a bad one. */
export function readMaskedManifest(dir: string, expect: FileExpect & { length: number }): { manifest: MaskedManifest; payloadFile: string } | null {
  const manifest = readPhaseFile(path.join(dir, MASKED_MANIFEST), MAX_SMALL_FILE_BYTES, (v, f) => parseMaskedManifest(v, f, expect));
  return manifest === null ? null : { manifest, payloadFile: path.join(dir, manifest.payload) };
}

/**
 * Read a member's masked input: manifest, payload, sha256, dtype `<u4` and
 * length. With `buffer` (at least `maskedPayloadBytes(length)`, reused from input
 * to input), the payload is read into it and `values` is a view of it, valid until
 * the next read into it; a buffer in shared memory (`Buffer.from(new SharedArrayBuffer(n))`)
 * is read and hashed on a worker thread (`hash-workers.ts`) while the caller's thread goes on.
 * Null while the manifest or its payload is absent (SyftBox syncs the
 * small manifest first); an AppError naming the file for anything wrong.
 */
export async function readMaskedInput(dir: string, expect: FileExpect & { length: number }, buffer?: Buffer): Promise<MaskedInput | null> {
  const named = readMaskedManifest(dir, expect);
  if (named === null) return null;
  const { manifest, payloadFile } = named;
  const maxBytes = maskedPayloadBytes(expect.length);
  if (buffer && buffer.length < maxBytes) throw new RangeError(`the read buffer holds ${buffer.length} bytes; a masked payload may have ${maxBytes}`);
  const target = buffer?.subarray(0, maxBytes);
  const read = target && isShared(target) ? await readIntoShared(payloadFile, target, 0) : await (target ? readRegularFileInto(payloadFile, target) : readRegularFile(payloadFile, { maxBytes })).then((b) => b && { bytes: b, sha256: sha256Hex(b) });
  if (read === null) return null;
  const { bytes, sha256 } = read;
  if (sha256 !== manifest.sha256) throw new AppError('ERR_SECAGG_FILE', `${payloadFile}: sha256 differs from ${MASKED_MANIFEST}`, { file: payloadFile });
  const npy = decodeNpy(bytes, payloadFile, { dtype: '<u4', shape: [expect.length] });
  return { manifest, values: npy.data as Uint32Array };
}
