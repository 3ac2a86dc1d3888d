import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../shared/atomic';
import { DELTA_MANIFEST_NAME, MAX_MANIFEST_BYTES, l2Norm, parseDeltaManifest, readDelta, sha256Hex, type Delta, type DeltaExpect, type DeltaManifest } from '../shared/delta';
import { AppError, type ErrorCode } from '../shared/errors';
import { deltaNoiseSigma } from '../shared/privacy';

/**
 * Policy checks on top of the format checks of `readDelta` (schema, format
 * version, payload sha256, shape, vocabulary, finiteness):
 * - replay: a content hash (manifest sha256) already merged is never merged again;
 * - staleness: `current - baseVersion` must be from 0 to `maxStaleness`; a delta
 *   within the limit keeps `weight * staleDecay^staleness` of its weight;
 * - norm: the declared `clipNorm` may not exceed the aggregator's DELTA_CLIP_NORM,
 *   and the L2 norm must be at most the allowed norm (`allowedNorm`).
 */
export interface ValidationPolicy {
  /** DELTA_CLIP_NORM: the largest clip bound a manifest may declare. */
  clipNorm: number;
  /** NOISE_TOLERANCE: noise standard deviations (times sqrt(size)) a noised delta may exceed its clip norm by. */
  noiseTolerance: number;
  maxStaleness: number;
  staleDecay: number;
}

/** Float32 rounding of a clipped delta (clip computed in float64, stored in float32). */
const CLIP_ROUNDING_TOLERANCE = 1e-4;

export type Validation =
  | { kind: 'accepted'; delta: Delta; weight: number; staleness: number; norm: number }
  | { kind: 'rejected'; sha256: string | null; code: ErrorCode; message: string }
  | { kind: 'replay'; sha256: string }
  /** Not decidable yet (payload not synced, manifest replaced meanwhile): looked at again next round. */
  | { kind: 'waiting'; reason: string };

/**
 * The largest L2 norm a delta may have: without noise, its clip norm (plus float32
 * rounding); with Gaussian noise of std sigma per value, a noise vector of d values
 * has norm about sigma * sqrt(d), so `clipNorm + NOISE_TOLERANCE * sigma * sqrt(d)`.
 */
function allowedNorm(manifest: Pick<DeltaManifest, 'clipNorm' | 'noise' | 'items' | 'rank'>, noiseTolerance: number): number {
  const sigma = manifest.noise?.sigma ?? 0;
  if (sigma > 0) return manifest.clipNorm + noiseTolerance * sigma * Math.sqrt(manifest.items * manifest.rank);
  return manifest.clipNorm * (1 + CLIP_ROUNDING_TOLERANCE);
}

/**
 * The noise widens the accepted norm, so a participant must not be able to
 * declare any sigma it likes: sigma must be what (epsilon, delta, clipNorm)
 * imply, and epsilon at least MIN_DECLARED_EPSILON, which bounds sigma.
 */
const MIN_DECLARED_EPSILON = 0.1;
const SIGMA_REL_TOLERANCE = 1e-6;

function checkDeclaredNoise(m: Pick<DeltaManifest, 'clipNorm' | 'noise'>): string | null {
  if (m.noise === null) return null;
  const { epsilon, delta, sigma } = m.noise;
  if (epsilon < MIN_DECLARED_EPSILON) return `declared noise epsilon ${epsilon} is below ${MIN_DECLARED_EPSILON}`;
  if (!(delta > 0)) return 'declared noise delta must be above 0 for the Gaussian mechanism';
  const expected = deltaNoiseSigma(epsilon, delta, m.clipNorm);
  if (Math.abs(sigma - expected) > SIGMA_REL_TOLERANCE * expected) return `declared noise sigma ${sigma} is not what epsilon ${epsilon}, delta ${delta} and clipNorm ${m.clipNorm} imply (${expected})`;
  return null;
}

/** The manifest alone if it parses (cheap: no payload), else null; never throws. */
export async function peekManifest(profileDir: string): Promise<DeltaManifest | null> {
  const file = path.join(profileDir, DELTA_MANIFEST_NAME);
  try {
    const raw = await readJsonFile(file, { maxBytes: MAX_MANIFEST_BYTES });
    return raw === null ? null : parseDeltaManifest(raw, file);
  } catch {
    return null;
  }
}

/**
 * Decide about the delta a profile folder holds. `applied` holds the content
 * hashes merged so far (earlier rounds and this one). Expected failures come back
 * as `rejected` with their error code; only I/O failures the participant cannot
 * cause (EIO, EMFILE) are thrown.
 */
export async function validateProfile(
  profileDir: string,
  model: DeltaExpect,
  policy: ValidationPolicy,
  view: { currentVersion: number; applied: ReadonlySet<string> },
): Promise<Validation> {
  const peeked = await peekManifest(profileDir);
  if (peeked && view.applied.has(peeked.sha256)) return { kind: 'replay', sha256: peeked.sha256 };
  if (peeked) {
    // Sync delivers small files first: the manifest may be here before its payload, or while the payload is still being written.
    const payloadFile = path.join(profileDir, peeked.payload);
    const stat = await fs.lstat(payloadFile).catch(() => null);
    if (stat === null) return { kind: 'waiting', reason: `payload ${peeked.payload} not synced yet` };
    const dataBytes = model.items * model.rank * Float32Array.BYTES_PER_ELEMENT;
    const shortOfModel = stat.isFile() && peeked.items === model.items && peeked.rank === model.rank && stat.size < dataBytes;
    // A short payload whose hash matches its manifest is complete (and malformed): readDelta rejects it below.
    if (shortOfModel && sha256Hex(await fs.readFile(payloadFile)) !== peeked.sha256) {
      return { kind: 'waiting', reason: `payload ${peeked.payload} still arriving (${stat.size} of more than ${dataBytes} bytes)` };
    }
  }
  let delta: Delta | null;
  try {
    delta = await readDelta(profileDir, model);
  } catch (err) {
    if (err instanceof AppError) return { kind: 'rejected', sha256: peeked?.sha256 ?? null, code: err.code, message: err.message };
    throw err;
  }
  if (delta === null) return { kind: 'waiting', reason: 'manifest removed while reading' };
  const m = delta.manifest;
  const file = path.join(profileDir, DELTA_MANIFEST_NAME);
  const reject = (code: ErrorCode, message: string): Validation => ({ kind: 'rejected', sha256: m.sha256, code, message: `${file}: ${message}` });
  if (view.applied.has(m.sha256)) return { kind: 'replay', sha256: m.sha256 };
  const staleness = view.currentVersion - m.baseVersion;
  if (staleness < 0) return reject('ERR_DELTA_STALE', `baseVersion ${m.baseVersion} is newer than the current Global_V version ${view.currentVersion}`);
  if (staleness > policy.maxStaleness) {
    return reject('ERR_DELTA_STALE', `baseVersion ${m.baseVersion} is ${staleness} versions behind ${view.currentVersion} (MAX_STALENESS=${policy.maxStaleness}); retrain from the current Global_V`);
  }
  if (m.clipNorm > policy.clipNorm) return reject('ERR_DELTA_NORM', `declared clipNorm ${m.clipNorm} exceeds the aggregator's DELTA_CLIP_NORM=${policy.clipNorm}`);
  const noiseProblem = checkDeclaredNoise(m);
  if (noiseProblem) return reject('ERR_DELTA_NORM', noiseProblem);
  const norm = l2Norm(delta.values);
  const bound = allowedNorm(m, policy.noiseTolerance);
  if (norm > bound) return reject('ERR_DELTA_NORM', `L2 norm ${norm.toPrecision(6)} exceeds the allowed ${bound.toPrecision(6)} (clipNorm ${m.clipNorm}, noise sigma ${m.noise?.sigma ?? 0})`);
  return { kind: 'accepted', delta, weight: m.weight * policy.staleDecay ** staleness, staleness, norm };
}
