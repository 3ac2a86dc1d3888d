import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, readRegularFile, writeFileAtomic, writeJsonAtomic } from './atomic';
import { sha256Hex } from './delta';
import { AppError } from './errors';
import { decodeNpy, encodeNpy } from './npy';
import { createRandom } from './random';

/**
 * Global_V: the aggregator's item factors, one immutable folder per version:
 * `aggregator/global/v000012/Global_V.npy` (float32, items x rank, `numpy.load`s)
 * and `Global_V.json`, its manifest, written second. A version exists once its
 * manifest exists and the payload's sha256 matches it, so a crash at any moment
 * leaves the previous complete version or the new complete one.
 *
 * Example manifest:
 * ```json
 * { "format": "syftbox-netflix-svd/global-v", "formatVersion": 1, "version": 12,
 *   "round": 12, "items": 8807, "rank": 32, "vocabHash": "9b1c…",
 *   "sha256": "…", "contributors": 5, "createdAt": "2026-11-21T16:00:00.000Z" }
 * ```
 */
const GLOBAL_FORMAT = 'syftbox-netflix-svd/global-v';
const GLOBAL_FORMAT_VERSION = 1;
export const GLOBAL_PAYLOAD = 'Global_V.npy';
export const GLOBAL_MANIFEST = 'Global_V.json';
const MAX_GLOBAL_MANIFEST_BYTES = 64 * 1024; // 64 KiB
const NPY_HEADER_SLACK_BYTES = 4096;
const VERSION_DIR_RE = /^v(\d{6,})$/;

/**
 * Standard deviation of the documented initialization: entries of V are
 * N(0, INIT_SCALE^2 / rank), so a row's expected norm is INIT_SCALE.
 */
const INIT_SCALE = 0.1;

interface GlobalManifest {
  format: typeof GLOBAL_FORMAT;
  formatVersion: typeof GLOBAL_FORMAT_VERSION;
  version: number;
  round: number;
  items: number;
  rank: number;
  vocabHash: string;
  sha256: string;
  contributors: number;
  createdAt: string;
}

export interface GlobalModel {
  manifest: GlobalManifest;
  /** Row-major items x rank. */
  values: Float32Array;
}

/**
 * The documented deterministic initialization (model version 0): entries drawn
 * i.i.d. N(0, INIT_SCALE^2 / rank) from `createRandom(seed)`, row-major. The
 * participant trains from it before it may read Global_V; the aggregator starts
 * from it when no Global_V exists, so both agree on what version 0 is.
 */
export function initialItemFactors(items: number, rank: number, seed: number): Float32Array {
  const key = `${items}x${rank}/${seed}`;
  if (lastInitial?.key !== key) {
    const random = createRandom(seed);
    const std = INIT_SCALE / Math.sqrt(rank);
    const values = new Float32Array(items * rank);
    for (let i = 0; i < values.length; i++) values[i] = random.normal() * std;
    lastInitial = { key, values };
  }
  return lastInitial.values.slice(); // a copy: callers may step it in place
}

/** The last initialization drawn (hundreds of thousands of normal draws): every round before the first Global_V, and each participant, asks again. */
let lastInitial: { key: string; values: Float32Array } | null = null;

export function parseGlobalManifest(value: unknown, file: string): GlobalManifest {
  const fail = (what: string): never => {
    throw new AppError('ERR_MODEL_VERSION', `${file}: ${what}`, { file });
  };
  if (typeof value !== 'object' || value === null) return fail('manifest is not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.format !== GLOBAL_FORMAT) fail(`format ${JSON.stringify(m.format)} is not ${GLOBAL_FORMAT}`);
  if (m.formatVersion !== GLOBAL_FORMAT_VERSION) fail(`formatVersion ${JSON.stringify(m.formatVersion)} is not supported`);
  for (const k of ['version', 'round', 'items', 'rank', 'contributors']) {
    if (!Number.isSafeInteger(m[k]) || (m[k] as number) < 0) fail(`${k} must be a non-negative integer`);
  }
  if (typeof m.vocabHash !== 'string' || typeof m.sha256 !== 'string' || typeof m.createdAt !== 'string') fail('vocabHash, sha256 and createdAt must be strings');
  return m as unknown as GlobalManifest;
}

/** Versions present in `globalDir` (complete or not), newest first. */
export async function listGlobalVersions(globalDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(globalDir);
  } catch {
    return [];
  }
  return names
    .map((n) => VERSION_DIR_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

export interface GlobalExpect {
  items: number;
  rank: number;
  vocabHash: string;
}

/** Read one version folder; null when it is incomplete (manifest absent, payload absent or not matching). */
export async function readGlobalVersion(versionDir: string, expect: GlobalExpect): Promise<GlobalModel | null> {
  const manifestFile = path.join(versionDir, GLOBAL_MANIFEST);
  let raw: unknown;
  try {
    raw = await readJsonFile(manifestFile, { maxBytes: MAX_GLOBAL_MANIFEST_BYTES });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES') return null;
    throw err;
  }
  if (raw === null) return null;
  const manifest = parseGlobalManifest(raw, manifestFile);
  if (manifest.vocabHash !== expect.vocabHash || manifest.rank !== expect.rank || manifest.items !== expect.items) {
    throw new AppError(
      'ERR_MODEL_VERSION',
      `${manifestFile}: Global_V is ${manifest.items} x ${manifest.rank} for vocabulary ${manifest.vocabHash.slice(0, 12)}; this node uses ${expect.items} x ${expect.rank} for ${expect.vocabHash.slice(0, 12)} (update the app or check MODEL_RANK)`,
      { file: manifestFile },
    );
  }
  const payloadFile = path.join(versionDir, GLOBAL_PAYLOAD);
  const bytes = await readRegularFile(payloadFile, { maxBytes: expect.items * expect.rank * 4 + NPY_HEADER_SLACK_BYTES });
  if (bytes === null || sha256Hex(bytes) !== manifest.sha256) return null;
  const npy = decodeNpy(bytes, payloadFile, { dtype: '<f4', shape: [expect.items, expect.rank] });
  return { manifest, values: npy.data as Float32Array };
}

/** The newest complete Global_V in `globalDir`, or null when none is readable (yet). */
export async function readLatestGlobal(globalDir: string, expect: GlobalExpect): Promise<GlobalModel | null> {
  for (const version of await listGlobalVersions(globalDir)) {
    const model = await readGlobalVersion(path.join(globalDir, versionDirName(version)), expect);
    if (model) return model;
  }
  return null;
}

export function versionDirName(version: number): string {
  return `v${String(version).padStart(6, '0')}`;
}

/** Write one Global_V version: payload first, manifest second (the commit point). */
export async function writeGlobalVersion(
  globalDir: string,
  values: Float32Array,
  fields: Omit<GlobalManifest, 'format' | 'formatVersion' | 'sha256'>,
): Promise<GlobalManifest> {
  const bytes = encodeNpy(values, [fields.items, fields.rank]);
  const manifest: GlobalManifest = { format: GLOBAL_FORMAT, formatVersion: GLOBAL_FORMAT_VERSION, sha256: sha256Hex(bytes), ...fields };
  const dir = path.join(globalDir, versionDirName(fields.version));
  await writeFileAtomic(path.join(dir, GLOBAL_PAYLOAD), bytes);
  await writeJsonAtomic(path.join(dir, GLOBAL_MANIFEST), manifest);
  return manifest;
}
