import path from 'node:path';
import { readJsonFile, readRegularFile, writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import { AppError } from '../shared/errors';
import type { ViewingEvent } from '../shared/history';
import type { Interaction } from '../shared/model/feedback';
import { decodeNpy, encodeNpy } from '../shared/npy';
import { emptyLedger, parsePrivacyLedger, type PrivacyLedger } from '../shared/privacy';

/**
 * A profile's private state, under `<data_dir>/private/<app>/<email>/<profile>/`
 * (outside `datasites/`, never synced):
 * - `U.npy`        float32 (1, rank): the private user factors
 * - `V_local.npy`  float32 (items, rank): the locally fine-tuned item factors
 * - `V_global.npy` float32 (items, rank): the Global_V the last training started from
 * - `state.json`   what the page and the CLI need (below); written last, so it
 *                  always describes complete matrices
 * - `history.json` the parsed-history cache (events of this profile)
 * - `privacy.json` the privacy ledger (see `src/shared/privacy.ts`)
 */
export const STATE_FORMAT_VERSION = 2;
/** Everything here is written owner-only (0600 in a 0700 folder). */
const PRIVATE = { private: true };
const MAX_STATE_BYTES = 16 * 1024 * 1024; // 16 MiB: watched lists of heavy viewers stay far below

export type AccessState = 'waiting' | 'granted';

export interface ProfileState {
  formatVersion: typeof STATE_FORMAT_VERSION;
  profile: string;
  rank: number;
  items: number;
  vocabHash: string;
  /** Global_V version training started from; 0 = the deterministic initialization. */
  baseVersion: number;
  /** Whether this participant could read a Global_V at its last training. */
  access: AccessState;
  trainedAt: string;
  /** Catalogue ids of matched watched shows, ascending (excluded from recommendations). */
  watched: number[];
  /**
   * The confidence (before alpha) of each watched show, in the order of `watched`:
   * with it the page solves the user's factors against whichever Global_V it
   * scores, not against the one the last training started from.
   */
  confidence: number[];
  /** Manifest sha256 of the last published delta, or null when nothing was published. */
  lastDeltaSha256: string | null;
  /** Global_V version of the last published delta. */
  lastPublishedBase: number | null;
  /** Why the last pass did not publish, if it did not (e.g. the privacy budget). */
  publishBlocked: string | null;
  /** sha256 over the history file, base version and training parameters: an unchanged input is not retrained. */
  inputsSha256: string;
}

/** The profile's interactions as its state records them (watched shows and their confidences; implicit preference 1). */
export function profileInteractions(state: Pick<ProfileState, 'watched' | 'confidence'>): Interaction[] {
  return state.watched.map((item, i) => ({ item, preference: 1, confidence: state.confidence[i] }));
}

interface ProfileModel {
  state: ProfileState;
  u: Float32Array;
  vLocal: Float32Array;
  vGlobal: Float32Array;
}

export async function writeProfileModel(dir: string, model: ProfileModel): Promise<void> {
  const { state } = model;
  await writeFileAtomic(path.join(dir, 'U.npy'), encodeNpy(model.u, [1, state.rank]), PRIVATE);
  await writeFileAtomic(path.join(dir, 'V_local.npy'), encodeNpy(model.vLocal, [state.items, state.rank]), PRIVATE);
  await writeFileAtomic(path.join(dir, 'V_global.npy'), encodeNpy(model.vGlobal, [state.items, state.rank]), PRIVATE);
  await writeJsonAtomic(path.join(dir, 'state.json'), state, PRIVATE);
}

/** Read the state file alone (cheap); null before the first training. */
export async function readProfileState(dir: string): Promise<ProfileState | null> {
  const file = path.join(dir, 'state.json');
  const raw = (await readJsonFile(file, { maxBytes: MAX_STATE_BYTES })) as ProfileState | null;
  if (raw === null) return null;
  if (raw.formatVersion !== STATE_FORMAT_VERSION) {
    throw new AppError('ERR_MODEL_VERSION', `${file}: state format ${raw.formatVersion} is not ${STATE_FORMAT_VERSION}; delete the folder to retrain`, { file });
  }
  return raw;
}

/** Read the state and its matrices; null before the first training. */
export async function readProfileModel(dir: string): Promise<ProfileModel | null> {
  const state = await readProfileState(dir);
  if (state === null) return null;
  const matrix = async (name: string, rows: number): Promise<Float32Array> => {
    const file = path.join(dir, name);
    const bytes = await readRegularFile(file, { maxBytes: rows * state.rank * 4 + 4096 });
    if (bytes === null) throw new AppError('ERR_FILE_NOT_FOUND', `${file} is missing; run the participant again to retrain`, { file });
    return decodeNpy(bytes, file, { dtype: '<f4', shape: [rows, state.rank] }).data as Float32Array;
  };
  return {
    state,
    u: await matrix('U.npy', 1),
    vLocal: await matrix('V_local.npy', state.items),
    vGlobal: await matrix('V_global.npy', state.items),
  };
}

/** The parsed-history cache: a profile's events, keyed by the sha256 of the export they came from. */
interface HistoryCache {
  formatVersion: typeof HISTORY_CACHE_FORMAT_VERSION;
  sourceSha256: string;
  events: ViewingEvent[];
}

const HISTORY_CACHE_FORMAT_VERSION = 1;
const HISTORY_CACHE_FILE = 'history.json';
const MAX_HISTORY_CACHE_BYTES = 512 * 1024 * 1024; // 512 MiB: millions of events
const PRIVACY_LEDGER_FILE = 'privacy.json';
const MAX_PRIVACY_LEDGER_BYTES = 16 * 1024 * 1024; // 16 MiB

/** The cache of a profile's parsed history; null before the first pass. */
/** The private history cache of the profile folder `dir`. */
export function historyCacheFile(dir: string): string {
  return path.join(dir, HISTORY_CACHE_FILE);
}

export async function readHistoryCache(dir: string): Promise<HistoryCache | null> {
  const file = historyCacheFile(dir);
  const cache = (await readJsonFile(file, { maxBytes: MAX_HISTORY_CACHE_BYTES })) as HistoryCache | null;
  if (cache === null) return null;
  if (cache.formatVersion !== HISTORY_CACHE_FORMAT_VERSION || typeof cache.sourceSha256 !== 'string' || !Array.isArray(cache.events)) {
    throw new AppError('ERR_JSON_FORMAT', `${file}: not a version ${HISTORY_CACHE_FORMAT_VERSION} history cache; delete it, the participant rebuilds it from the export`, { file });
  }
  return cache;
}

export async function writeHistoryCache(dir: string, sourceSha256: string, events: ViewingEvent[]): Promise<void> {
  await writeJsonAtomic(path.join(dir, HISTORY_CACHE_FILE), { formatVersion: HISTORY_CACHE_FORMAT_VERSION, sourceSha256, events } satisfies HistoryCache, PRIVATE);
}

/** The profile's privacy ledger (every epsilon spent, validated); empty before the first spend. */
export async function readPrivacyLedger(dir: string): Promise<PrivacyLedger> {
  const file = path.join(dir, PRIVACY_LEDGER_FILE);
  const raw = await readJsonFile(file, { maxBytes: MAX_PRIVACY_LEDGER_BYTES });
  return raw === null ? emptyLedger() : parsePrivacyLedger(raw, file);
}

/** Record the ledger; written before the release it accounts for, so a crash never hides a spend. */
export async function writePrivacyLedger(dir: string, ledger: PrivacyLedger): Promise<void> {
  await writeJsonAtomic(path.join(dir, PRIVACY_LEDGER_FILE), ledger, PRIVATE);
}
