import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, readRegularFile, readRegularFileInto, writeFileAtomic, writeJsonAtomic } from './atomic';
import { AppError } from './errors';
import { isShared, readIntoShared, type NpyRowScan } from './hash-workers';
import { decodeNpy, encodeNpy } from './npy';

/**
 * The delta format, shared by the participant (writer) and the aggregator (reader).
 *
 * A participant profile publishes two files in `app_data/<app>/profile_<n>/`:
 * - `delta-<first 16 hex of sha256>.npy`: float32, shape (items, rank), the local
 *   item factors after training minus the Global_V they started from, clipped to
 *   `clipNorm` (Frobenius/L2 over the whole matrix), optionally plus Gaussian noise.
 *   Every row is present, so which rows a delta carries says nothing about which
 *   shows were watched. Their values do: without noise, unwatched rows all move by
 *   one shared linear map and watched rows stand out, so only the DP noise (or,
 *   later, secure aggregation) hides the watched set from the aggregator.
 * - `delta.json`: the manifest, written after the payload; its appearance commits
 *   the delta. Because the payload name carries its hash, a reader never pairs a
 *   new manifest with an old payload.
 *
 * Example manifest:
 * ```json
 * { "format": "syftbox-netflix-svd/delta", "formatVersion": 1,
 *   "payload": "delta-3f2a9c0b7d1e4a65.npy", "sha256": "3f2a9c0b7d1e4a65…",
 *   "items": 8807, "rank": 32, "vocabHash": "9b1c…", "baseVersion": 4,
 *   "weight": 1, "clipNorm": 1,
 *   "noise": { "mechanism": "gaussian", "epsilon": 8, "delta": 1e-5, "sigma": 0.6 },
 *   "createdAt": "2026-11-21T16:00:00.000Z" }
 * ```
 * Merging needs only sums of `weight * delta` and of `weight`, so the format
 * stays usable under secure aggregation (pairwise masks added to the payload).
 */
export const DELTA_FORMAT = 'syftbox-netflix-svd/delta';
export const DELTA_FORMAT_VERSION = 1;
export const DELTA_MANIFEST_NAME = 'delta.json';
/**
 * Every profile counts at most once in FedAvg: a participant may down-weight its
 * delta but never outweigh another profile.
 */
const MAX_DELTA_WEIGHT = 1;
/** A real manifest is < 1 KiB; anything far larger is hostile. */
export const MAX_MANIFEST_BYTES = 64 * 1024; // 64 KiB
const PAYLOAD_RE = /^delta-[0-9a-f]{16}\.npy$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
/** Header room on top of the 4 bytes per value of a payload. */
const NPY_HEADER_SLACK_BYTES = 4096;

export interface NoiseRecord {
  mechanism: 'gaussian';
  epsilon: number;
  delta: number;
  sigma: number;
}

export interface DeltaManifest {
  format: typeof DELTA_FORMAT;
  formatVersion: typeof DELTA_FORMAT_VERSION;
  payload: string;
  sha256: string;
  items: number;
  rank: number;
  vocabHash: string;
  /** Global_V version the delta was computed from; 0 = the documented initialization. */
  baseVersion: number;
  weight: number;
  clipNorm: number;
  noise: NoiseRecord | null;
  createdAt: string;
}

export interface Delta {
  manifest: DeltaManifest;
  /** Row-major items x rank. */
  values: Float32Array;
  /** Its norms, from the same pass that checked every value is finite. */
  norms: RowNorms;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Largest payload file of a delta for `expect`: 4 bytes a value plus the .npy header. */
export function maxPayloadBytes(expect: Pick<DeltaExpect, 'items' | 'rank'>): number {
  return expect.items * expect.rank * 4 + NPY_HEADER_SLACK_BYTES;
}

export interface RowNorms {
  /** L2 (Frobenius) norm of the whole matrix. */
  total: number;
  /** The row with the largest L2 norm (the first of equals), and that norm. */
  worstRow: number;
  worstRowNorm: number;
}

/**
 * One pass over a row-major matrix of rows of `rank`: its norms, and the index of
 * its first non-finite value (-1 when all are finite). The squares are summed in
 * double precision, where no finite float32 overflows (3.4e38² · 10⁷ values <
 * 1e85), so the sum is finite exactly when every value is: no test per value.
 */
export function scanRows(values: Float32Array, rank: number): { nonFinite: number; norms: RowNorms } {
  let total = 0;
  let worstRow = 0;
  let worstSq = 0;
  const whole = rank & ~3;
  for (let off = 0, row = 0; off < values.length; off += rank, row++) {
    // four running sums (twice as fast as one: the additions no longer wait on each other)
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let a = 0;
    for (; a < whole; a += 4) {
      const x0 = values[off + a];
      const x1 = values[off + a + 1];
      const x2 = values[off + a + 2];
      const x3 = values[off + a + 3];
      s0 += x0 * x0;
      s1 += x1 * x1;
      s2 += x2 * x2;
      s3 += x3 * x3;
    }
    for (; a < rank; a++) s0 += values[off + a] * values[off + a];
    const sq = s0 + s1 + (s2 + s3);
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

/** Write a delta (payload, then manifest) into `profileDir`, removing older payloads. */
export async function writeDelta(
  profileDir: string,
  values: Float32Array,
  fields: Omit<DeltaManifest, 'format' | 'formatVersion' | 'payload' | 'sha256'>,
): Promise<DeltaManifest> {
  if (values.length !== fields.items * fields.rank) {
    throw new RangeError(`delta has ${values.length} values, expected ${fields.items} x ${fields.rank}`);
  }
  const bytes = encodeNpy(values, [fields.items, fields.rank]);
  const sha256 = sha256Hex(bytes);
  const payload = `delta-${sha256.slice(0, 16)}.npy`;
  const manifest: DeltaManifest = { format: DELTA_FORMAT, formatVersion: DELTA_FORMAT_VERSION, payload, sha256, ...fields };
  await writeFileAtomic(path.join(profileDir, payload), bytes);
  await writeJsonAtomic(path.join(profileDir, DELTA_MANIFEST_NAME), manifest);
  for (const name of await fs.readdir(profileDir)) {
    if (PAYLOAD_RE.test(name) && name !== payload) await fs.rm(path.join(profileDir, name), { force: true });
  }
  return manifest;
}

/** Check a parsed manifest against the schema: exact keys, types and ranges. */
export function parseDeltaManifest(value: unknown, file: string): DeltaManifest {
  const fail = (what: string): never => {
    throw new AppError('ERR_DELTA_MANIFEST', `${file}: ${what}`, { file });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('manifest is not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.format !== DELTA_FORMAT) fail(`format ${JSON.stringify(m.format)} is not ${DELTA_FORMAT}`);
  if (m.formatVersion !== DELTA_FORMAT_VERSION) fail(`formatVersion ${JSON.stringify(m.formatVersion)} is not supported (expected ${DELTA_FORMAT_VERSION})`);
  const allowed = new Set(['format', 'formatVersion', 'payload', 'sha256', 'items', 'rank', 'vocabHash', 'baseVersion', 'weight', 'clipNorm', 'noise', 'createdAt']);
  const unknown = Object.keys(m).filter((k) => !allowed.has(k));
  if (unknown.length > 0) fail(`unknown keys ${unknown.join(', ')}`);
  if (typeof m.payload !== 'string' || !PAYLOAD_RE.test(m.payload)) fail('payload must be a file name delta-<16 hex>.npy (no paths)');
  if (typeof m.sha256 !== 'string' || !SHA256_RE.test(m.sha256)) fail('sha256 must be 64 lowercase hex digits');
  if ((m.payload as string) !== `delta-${(m.sha256 as string).slice(0, 16)}.npy`) fail('payload name does not match sha256');
  const posInt = (k: string, max: number) => {
    if (!Number.isSafeInteger(m[k]) || (m[k] as number) < 0 || (m[k] as number) > max) fail(`${k} must be an integer from 0 to ${max}`);
  };
  posInt('items', 10_000_000);
  posInt('rank', 1024);
  posInt('baseVersion', Number.MAX_SAFE_INTEGER);
  if (typeof m.vocabHash !== 'string' || !/^[0-9a-f]{8,64}$/.test(m.vocabHash)) fail('vocabHash must be hex');
  const finitePos = (k: string) => {
    if (typeof m[k] !== 'number' || !Number.isFinite(m[k]) || (m[k] as number) <= 0) fail(`${k} must be a positive finite number`);
  };
  finitePos('weight');
  if ((m.weight as number) > MAX_DELTA_WEIGHT) fail(`weight ${m.weight} exceeds ${MAX_DELTA_WEIGHT}: a profile cannot outweigh another`);
  finitePos('clipNorm');
  if (m.noise !== null) {
    const n = m.noise as Record<string, unknown>;
    if (typeof n !== 'object' || n === null || n.mechanism !== 'gaussian') fail('noise must be null or a gaussian record');
    for (const k of ['epsilon', 'delta', 'sigma']) {
      if (typeof n[k] !== 'number' || !Number.isFinite(n[k]) || (n[k] as number) < 0) fail(`noise.${k} must be a non-negative number`);
    }
  }
  if (typeof m.createdAt !== 'string' || Number.isNaN(Date.parse(m.createdAt))) fail('createdAt must be an ISO date');
  return m as unknown as DeltaManifest;
}

export interface DeltaExpect {
  items: number;
  rank: number;
  vocabHash: string;
}

interface ReadDeltaOptions {
  /** The manifest, already read and parsed from `profileDir` (saves reading it twice). */
  manifest?: DeltaManifest;
  /**
   * Read the payload into this buffer (at least `maxPayloadBytes(expect)` bytes), reused
   * from delta to delta: `values` is then a view of it, valid until the next read into it.
   * In shared memory (`Buffer.from(new SharedArrayBuffer(n))`), it is read, hashed and
   * scanned on a worker thread (`hash-workers.ts`) while the caller's thread goes on.
   */
  buffer?: Buffer;
}

/**
 * Read and check a published delta: manifest schema, payload hash, shape,
 * vocabulary and finiteness (and its norms, in the same pass). Returns null when no
 * manifest exists yet. Norm and staleness are policy: the aggregator checks them
 * (`src/aggregator/validate.ts`).
 */
export async function readDelta(profileDir: string, expect: DeltaExpect, options: ReadDeltaOptions = {}): Promise<Delta | null> {
  const manifestFile = path.join(profileDir, DELTA_MANIFEST_NAME);
  const manifest = options.manifest ?? (await readManifest(manifestFile));
  if (manifest === null) return null;
  checkDeltaShape(manifest, manifestFile, expect);
  const payloadFile = path.join(profileDir, manifest.payload);
  const payload = await readDeltaPayload(payloadFile, expect, options.buffer);
  if (payload === null) throw new AppError('ERR_DELTA_MANIFEST', `${manifestFile} names ${manifest.payload}, which does not exist (not synced yet?)`, { file: manifestFile });
  return checkDeltaPayload(manifest, payloadFile, payload, expect);
}

/** ERR_DELTA_SHAPE unless the manifest's shape and vocabulary are the model's. */
export function checkDeltaShape(manifest: DeltaManifest, manifestFile: string, expect: DeltaExpect): void {
  if (manifest.rank !== expect.rank || manifest.items !== expect.items || manifest.vocabHash !== expect.vocabHash) {
    throw new AppError(
      'ERR_DELTA_SHAPE',
      `${manifestFile}: delta is ${manifest.items} x ${manifest.rank} for vocabulary ${manifest.vocabHash.slice(0, 12)}, the model is ${expect.items} x ${expect.rank} for ${expect.vocabHash.slice(0, 12)}`,
      { file: manifestFile },
    );
  }
}

/** A payload's bytes as read, their sha256, and (when read on a worker) the row scan of its values. */
export interface DeltaPayload {
  bytes: Uint8Array;
  sha256: string;
  scan: NpyRowScan | null;
}

/** Read a payload file (see `ReadDeltaOptions.buffer`); null when it does not exist (not synced yet). */
export async function readDeltaPayload(payloadFile: string, expect: Pick<DeltaExpect, 'items' | 'rank'>, buffer?: Buffer): Promise<DeltaPayload | null> {
  const maxBytes = maxPayloadBytes(expect);
  if (buffer && buffer.length < maxBytes) throw new RangeError(`the read buffer holds ${buffer.length} bytes; a payload may have ${maxBytes}`);
  const target = buffer?.subarray(0, maxBytes);
  let read: Promise<DeltaPayload | null>;
  if (target && isShared(target)) read = readIntoShared(payloadFile, target, expect.rank);
  else read = (target ? readRegularFileInto(payloadFile, target) : readRegularFile(payloadFile, { maxBytes })).then((bytes) => bytes && { bytes, sha256: sha256Hex(bytes), scan: null });
  return read.catch((err: unknown) => {
    if (err instanceof AppError && err.code === 'ERR_FILE_NOT_REGULAR') throw new AppError('ERR_DELTA_PATH', err.message, { file: payloadFile });
    if (err instanceof AppError && err.code === 'ERR_FILE_TOO_LARGE') throw new AppError('ERR_DELTA_SHAPE', err.message, { file: payloadFile });
    throw err;
  });
}

/** The delta a read payload holds: its hash is the manifest's, it decodes to the model's shape, and every value is finite. */
export function checkDeltaPayload(manifest: DeltaManifest, payloadFile: string, payload: DeltaPayload, expect: DeltaExpect): Delta {
  if (payload.sha256 !== manifest.sha256) throw new AppError('ERR_DELTA_HASH', `${payloadFile}: sha256 differs from the manifest`, { file: payloadFile });
  const values = decodeNpy(payload.bytes, payloadFile, { dtype: '<f4', shape: [expect.items, expect.rank] }).data as Float32Array;
  const { scan } = payload;
  // the worker's scan counts only if it scanned exactly these values (decodeNpy copies unaligned data)
  const scanned = scan !== null && values.buffer === payload.bytes.buffer && values.byteOffset === payload.bytes.byteOffset + scan.dataOffset;
  const { nonFinite, norms } = scanned ? { nonFinite: scan.nonFinite, norms: { total: Math.sqrt(scan.total), worstRow: scan.worstRow, worstRowNorm: Math.sqrt(scan.worstSq) } } : scanRows(values, expect.rank);
  if (nonFinite >= 0) {
    throw new AppError('ERR_DELTA_NONFINITE', `${payloadFile}: value ${nonFinite} (row ${Math.floor(nonFinite / expect.rank)}) is ${values[nonFinite]}`, { file: payloadFile });
  }
  return { manifest, values, norms };
}

/** The manifest in `manifestFile` checked against the schema, or null when there is none; errors carry the delta codes. */
export async function readManifest(manifestFile: string): Promise<DeltaManifest | null> {
  const raw = await readJsonFile(manifestFile, { maxBytes: MAX_MANIFEST_BYTES }).catch((err: unknown) => {
    if (err instanceof AppError && err.code === 'ERR_FILE_TOO_LARGE') throw new AppError('ERR_DELTA_MANIFEST', err.message, { file: manifestFile });
    if (err instanceof AppError && err.code === 'ERR_FILE_NOT_REGULAR') throw new AppError('ERR_DELTA_PATH', err.message, { file: manifestFile });
    if (err instanceof AppError && err.code === 'ERR_JSON_FORMAT') throw new AppError('ERR_DELTA_MANIFEST', err.message, { file: manifestFile });
    throw err;
  });
  return raw === null ? null : parseDeltaManifest(raw, manifestFile);
}

/** L2 (Frobenius) norm of a flat matrix, accumulated in double precision. */
export function l2Norm(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/** Scale `values` in place so its L2 norm is at most `bound`; returns the norm before clipping. */
export function clipL2(values: Float32Array | Float64Array, bound: number): number {
  const norm = l2Norm(values);
  if (norm > bound) {
    const scale = bound / norm;
    for (let i = 0; i < values.length; i++) values[i] *= scale;
  }
  return norm;
}
