import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, readRegularFile, writeFileAtomic, writeJsonAtomic } from './atomic';
import { AppError } from './errors';
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
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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

/**
 * Read and check a published delta: manifest schema, payload hash, shape,
 * vocabulary and finiteness. Returns null when no manifest exists yet.
 * Norm and staleness are policy: the aggregator checks them (`src/aggregator/validate.ts`).
 */
export async function readDelta(profileDir: string, expect: DeltaExpect): Promise<Delta | null> {
  const manifestFile = path.join(profileDir, DELTA_MANIFEST_NAME);
  const raw = await readJsonFile(manifestFile, { maxBytes: MAX_MANIFEST_BYTES }).catch((err: unknown) => {
    if (err instanceof AppError && err.code === 'ERR_FILE_TOO_LARGE') throw new AppError('ERR_DELTA_MANIFEST', err.message, { file: manifestFile });
    if (err instanceof AppError && err.code === 'ERR_FILE_NOT_REGULAR') throw new AppError('ERR_DELTA_PATH', err.message, { file: manifestFile });
    if (err instanceof AppError && err.code === 'ERR_JSON_FORMAT') throw new AppError('ERR_DELTA_MANIFEST', err.message, { file: manifestFile });
    throw err;
  });
  if (raw === null) return null;
  const manifest = parseDeltaManifest(raw, manifestFile);
  const payloadFile = path.join(profileDir, manifest.payload);
  if (manifest.rank !== expect.rank || manifest.items !== expect.items || manifest.vocabHash !== expect.vocabHash) {
    throw new AppError(
      'ERR_DELTA_SHAPE',
      `${manifestFile}: delta is ${manifest.items} x ${manifest.rank} for vocabulary ${manifest.vocabHash.slice(0, 12)}, the model is ${expect.items} x ${expect.rank} for ${expect.vocabHash.slice(0, 12)}`,
      { file: manifestFile },
    );
  }
  const maxBytes = expect.items * expect.rank * 4 + NPY_HEADER_SLACK_BYTES;
  const bytes = await readRegularFile(payloadFile, { maxBytes }).catch((err: unknown) => {
    if (err instanceof AppError && err.code === 'ERR_FILE_NOT_REGULAR') throw new AppError('ERR_DELTA_PATH', err.message, { file: payloadFile });
    if (err instanceof AppError && err.code === 'ERR_FILE_TOO_LARGE') throw new AppError('ERR_DELTA_SHAPE', err.message, { file: payloadFile });
    throw err;
  });
  if (bytes === null) throw new AppError('ERR_DELTA_MANIFEST', `${manifestFile} names ${manifest.payload}, which does not exist (not synced yet?)`, { file: manifestFile });
  if (sha256Hex(bytes) !== manifest.sha256) throw new AppError('ERR_DELTA_HASH', `${payloadFile}: sha256 differs from the manifest`, { file: payloadFile });
  const npy = decodeNpy(bytes, payloadFile, { dtype: '<f4', shape: [expect.items, expect.rank] });
  const values = npy.data as Float32Array;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new AppError('ERR_DELTA_NONFINITE', `${payloadFile}: value ${i} (row ${Math.floor(i / expect.rank)}) is ${values[i]}`, { file: payloadFile });
    }
  }
  return { manifest, values };
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
