import path from 'node:path';
import { readJsonFileSync } from '../shared/atomic';
import { checkDeltaPayload, checkDeltaShape, DELTA_MANIFEST_NAME, MAX_MANIFEST_BYTES, parseDeltaManifest, readDelta, readDeltaPayload, type Delta, type DeltaExpect, type DeltaManifest, type RowNorms } from '../shared/delta';
import { AppError, type ErrorCode } from '../shared/errors';
import { deltaNoiseSigma } from '../shared/privacy';

/**
 * Policy checks on top of the format checks of `readDelta` (schema, format
 * version, payload sha256, shape, vocabulary, finiteness):
 * - replay: a content hash (manifest sha256) already merged is never merged again;
 * - staleness: `current - baseVersion` must be from 0 to `maxStaleness`; a delta
 *   within the limit keeps `weight * staleDecay^staleness` of its weight;
 * - norm: the declared `clipNorm` may not exceed the aggregator's DELTA_CLIP_NORM,
 *   and the delta must fit `normBounds`: a clipped delta, plus (when it declares
 *   noise) something that looks like the declared Gaussian noise.
 */
export interface ValidationPolicy {
  /** DELTA_CLIP_NORM: the largest clip bound a manifest may declare. */
  clipNorm: number;
  /** NOISE_TOLERANCE: t of `normBounds`, in standard deviations of the noise's norm. */
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

export interface NormBounds {
  /** Largest L2 norm of the whole delta. */
  total: number;
  /** Largest L2 norm of any one row. */
  row: number;
  /** Smallest L2 norm of the whole delta (0 without noise). */
  minTotal: number;
}

/**
 * The L2 norms a delta may have. Without noise: the clip norm C (plus float32
 * rounding), for the whole delta and so for every row. With Gaussian noise n of
 * std σ on each of its d values (rows of `rank`), the noise must look like that
 * noise. The norm is 1-Lipschitz, so by Gaussian concentration
 * P(‖n‖ ≥ σ(√d + t)) ≤ e^(−t²/2), the same from below, and, by the union bound
 * over the `items` rows, P(some row ≥ σ(√rank + √(2 ln items) + t)) ≤ e^(−t²/2).
 * The clipped content adds at most C to each. So an honest delta fails one of
 * the three checks with probability at most 3·e^(−t²/2) (t = NOISE_TOLERANCE = 6:
 * 5e-8), and whatever a participant hides under declared noise is no larger
 * than the declared noise itself would be, in total and in every row.
 * (Before, `C + 4σ√d` let a delta at ε = 0.1 carry a norm of 130,593 and put
 * 1,334 into one Global_V row.)
 */
export function normBounds(manifest: Pick<DeltaManifest, 'clipNorm' | 'noise' | 'items' | 'rank'>, tolerance: number): NormBounds {
  const sigma = manifest.noise?.sigma ?? 0;
  if (sigma === 0) {
    const bound = manifest.clipNorm * (1 + CLIP_ROUNDING_TOLERANCE);
    return { total: bound, row: bound, minTotal: 0 };
  }
  const rootSize = Math.sqrt(manifest.items * manifest.rank);
  return {
    total: manifest.clipNorm + sigma * (rootSize + tolerance),
    row: manifest.clipNorm + sigma * (Math.sqrt(manifest.rank) + Math.sqrt(2 * Math.log(manifest.items)) + tolerance),
    minTotal: Math.max(0, sigma * (rootSize - tolerance) - manifest.clipNorm),
  };
}

/**
 * The noise widens the accepted norms, so a participant must not be able to
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

/** Why norms do not fit `bounds` (naming the norm or row), or null when they do. */
function normProblem({ total, worstRow, worstRowNorm }: RowNorms, bounds: NormBounds): string | null {
  if (total > bounds.total) return `L2 norm ${total.toPrecision(6)} exceeds the allowed ${bounds.total.toPrecision(6)}`;
  if (worstRowNorm > bounds.row) return `row ${worstRow} has L2 norm ${worstRowNorm.toPrecision(6)}, above the ${bounds.row.toPrecision(6)} the declared noise allows in one row`;
  if (total < bounds.minTotal) return `L2 norm ${total.toPrecision(6)} is below the ${bounds.minTotal.toPrecision(6)} that the declared noise would give: it does not carry the noise it declares`;
  return null;
}

/** The manifest alone if it parses (cheap: no payload), else null; never throws. */
export async function peekManifest(profileDir: string): Promise<DeltaManifest | null> {
  const file = path.join(profileDir, DELTA_MANIFEST_NAME);
  try {
    const raw = readJsonFileSync(file, { maxBytes: MAX_MANIFEST_BYTES });
    return raw === null ? null : parseDeltaManifest(raw, file);
  } catch {
    return null;
  }
}

/**
 * Decide about the delta a profile folder holds. `applied` holds the content
 * hashes merged so far (earlier rounds and this one). Expected failures come back
 * as `rejected` with their error code; only I/O failures the participant cannot
 * cause (EIO, EMFILE) are thrown. With `buffer` (see `readDelta`), an accepted
 * delta's values are a view of it.
 */
export async function validateProfile(
  profileDir: string,
  model: DeltaExpect,
  policy: ValidationPolicy,
  view: { currentVersion: number; applied: ReadonlySet<string> },
  buffer?: Buffer,
): Promise<Validation> {
  const peeked = await peekManifest(profileDir);
  if (peeked && view.applied.has(peeked.sha256)) return { kind: 'replay', sha256: peeked.sha256 };
  let delta: Delta | { waiting: string } | null;
  try {
    delta = peeked ? await readPeeked(profileDir, peeked, model, buffer) : await readDelta(profileDir, model, { buffer });
  } catch (err) {
    if (err instanceof AppError) return { kind: 'rejected', sha256: peeked?.sha256 ?? null, code: err.code, message: err.message };
    throw err;
  }
  if (delta === null) return { kind: 'waiting', reason: 'manifest removed while reading' };
  if ('waiting' in delta) return { kind: 'waiting', reason: delta.waiting };
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
  const problem = normProblem(delta.norms, normBounds(m, policy.noiseTolerance));
  if (problem) return reject('ERR_DELTA_NORM', `${problem} (clipNorm ${m.clipNorm}, noise sigma ${m.noise?.sigma ?? 0})`);
  return { kind: 'accepted', delta, weight: m.weight * policy.staleDecay ** staleness, staleness, norm: delta.norms.total };
}

/**
 * The delta of a manifest already read. Sync delivers small files first: the
 * manifest may be here before its payload, or while the payload is still being
 * written; both wait for the next round. A short payload whose hash matches its
 * manifest is complete (and malformed): it is rejected.
 */
async function readPeeked(profileDir: string, manifest: DeltaManifest, model: DeltaExpect, buffer?: Buffer): Promise<Delta | { waiting: string }> {
  checkDeltaShape(manifest, path.join(profileDir, DELTA_MANIFEST_NAME), model);
  const payloadFile = path.join(profileDir, manifest.payload);
  const payload = await readDeltaPayload(payloadFile, model, buffer);
  if (payload === null) return { waiting: `payload ${manifest.payload} not synced yet` };
  const dataBytes = model.items * model.rank * Float32Array.BYTES_PER_ELEMENT;
  if (payload.bytes.length < dataBytes && payload.sha256 !== manifest.sha256) {
    return { waiting: `payload ${manifest.payload} still arriving (${payload.bytes.length} of more than ${dataBytes} bytes)` };
  }
  return checkDeltaPayload(manifest, payloadFile, payload, model);
}
