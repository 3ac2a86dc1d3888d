import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Matrix, solve } from 'ml-matrix';
import { readJsonFile, readJsonFileSync, readRegularFile, writeJsonAtomic } from '../shared/atomic';
import type { Catalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import { sha256Hex } from '../shared/delta';
import { AppError, formatError, isAppError } from '../shared/errors';
import type { GlobalExpect } from '../shared/global-model';
import type { Logger } from '../shared/log';
import { PERMISSION_FILE, parsePermissions, readableHere, writePermissions, type PermissionFile } from '../shared/permissions';
import { canSpend, gaussianSigma, gaussianSpend, privacySpent, recordSpend, configuredBudget } from '../shared/privacy';
import { cryptoRandom, type Random } from '../shared/random';
import { isEmailFolder, isProfileName, type Workspace } from '../shared/workspace';
import { readGrantedGlobal } from './recommendations';
import { readPrivacyLedger, readProfileState, writePrivacyLedger } from './state';

/**
 * Blend: two participants who name each other see a "watch together" list on
 * their pages, computed from both sides' taste, without either sending the
 * other their viewing history. Consent, the files, the mechanism and what they
 * disclose are explained in docs/blend.md.
 *
 * Under a SyftBox client the consent marker and the summary are written PERMISSION_SETTLE_MS
 * after `blend/syft.pub.yaml`, so the permission file reaches the server first.
 *
 * Taste file `blend/profile_<n>.json`, readable by the friend only (example abridged):
 * ```json
 * { "format": "syftbox-netflix-svd/blend", "formatVersion": 2,
 *   "vocabHash": "5d41…", "items": 8807, "rank": 32, "globalVersion": 4,
 *   "mechanism": "gaussian", "epsilon": 1, "delta": 0.00001, "clipNorm": 0.0931, "sigma": 0.3443,
 *   "taste": [0.8213, -0.1377, …] }
 * ```
 * `taste` (rank numbers) is Σ clip(v_j) over the profile's watched shows j, v_j
 * the rows of Global_V version `globalVersion`, each clipped to L2 norm
 * `clipNorm`, plus N(0, sigma²) per number: the Gaussian mechanism for one show
 * added to or removed from the history (L2 sensitivity clipNorm), (epsilon,
 * delta)-DP, recorded in the profile's privacy ledger (kind `blend`) before it
 * is written. No show is marked in the file. Version 1 (a percentile byte per
 * show, watched shows marked) is refused: it disclosed the watched set.
 */
const BLEND_FORMAT = 'syftbox-netflix-svd/blend';
export const BLEND_FORMAT_VERSION = 2;
const BLEND_MECHANISM = 'gaussian';
export const CONSENT_MARKER = 'consent.json';
const CONSENT_FORMAT = 'syftbox-netflix-svd/blend-consent';
/** Privacy-ledger kind of a taste release. */
export const BLEND_PRIVACY_KIND = 'blend';
/**
 * The clip bound of the rows summed: this quantile of Global_V's row norms. Global_V
 * is public to every contributor, so the bound depends on no one's history.
 */
export const CLIP_QUANTILE = 0.9;
/** A profile releases a new taste summary only when its watched shows changed, and at most this often. */
export const BLEND_REFRESH_DAYS = 28;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Percentile bytes: 0–MAX_PERCENTILE, EXCLUDED for shows this side watched (never published). */
export const MAX_PERCENTILE = 254;
export const EXCLUDED = 255;
/** Shows in the watch-together list. */
const WATCH_TOGETHER = 10;
/** Each side's taste genres: the most frequent TASTE_GENRES among its TASTE_ITEMS highest-ranked items. */
const TASTE_ITEMS = 100;
const TASTE_GENRES = 5;
export const MAX_BLEND_BYTES = 64 * 1024; // 64 KiB: a taste file is ~1 KB at rank 32

const PRIVATE_FILE = 'blend.json';
const PRIVATE_VERSION = 2;
const MAX_PRIVATE_BYTES = 256 * 1024; // 256 KiB: the choice and one release per profile
const SCORES_FILE_RE = /^profile_\d{1,4}\.json$/;

export interface BlendTaste {
  format: typeof BLEND_FORMAT;
  formatVersion: typeof BLEND_FORMAT_VERSION;
  vocabHash: string;
  items: number;
  rank: number;
  globalVersion: number;
  mechanism: typeof BLEND_MECHANISM;
  epsilon: number;
  delta: number;
  clipNorm: number;
  sigma: number;
  taste: number[];
}

// ---------------------------------------------------------------- pure parts

/** The clip bound of a Global_V (row-major items × rank): the CLIP_QUANTILE quantile of its row norms. */
export function blendClipNorm(globalV: Float32Array, rank: number): number {
  const items = globalV.length / rank;
  const norms = new Float64Array(items);
  for (let j = 0; j < items; j++) {
    let sq = 0;
    for (let a = 0; a < rank; a++) sq += globalV[j * rank + a] ** 2;
    norms[j] = Math.sqrt(sq);
  }
  norms.sort();
  return norms[Math.min(items - 1, Math.floor(CLIP_QUANTILE * items))];
}

/** Row j of `globalV` scaled to L2 norm at most `clipNorm`, into `out`. */
function clippedRow(globalV: Float32Array, rank: number, j: number, clipNorm: number, out: Float64Array): Float64Array {
  let sq = 0;
  for (let a = 0; a < rank; a++) sq += globalV[j * rank + a] ** 2;
  const scale = sq > clipNorm * clipNorm ? clipNorm / Math.sqrt(sq) : 1;
  for (let a = 0; a < rank; a++) out[a] = globalV[j * rank + a] * scale;
  return out;
}

/** Σ clip(v_j) over `watched`: one show added or removed moves it by at most `clipNorm` in L2. */
export function tasteSum(globalV: Float32Array, rank: number, watched: Iterable<number>, clipNorm: number): Float64Array {
  const sum = new Float64Array(rank);
  const row = new Float64Array(rank);
  for (const j of new Set(watched)) {
    clippedRow(globalV, rank, j, clipNorm, row);
    for (let a = 0; a < rank; a++) sum[a] += row[a];
  }
  return sum;
}

/** `sum` + N(0, σ²) per number (the Gaussian mechanism). */
export function noisyTaste(sum: ArrayLike<number>, sigma: number, random: Random): Float64Array {
  return Float64Array.from(sum, (v) => v + sigma * random.normal());
}

/**
 * Predicted interest in every show from a taste summary: the user factors
 * u = (Σ_j clip(v_j) clip(v_j)ᵀ + reg·I)⁻¹ taste, the implicit-feedback solve
 * with every show at confidence 1 (Global_V and reg are public, so this is
 * post-processing of the release), then v_j · u.
 */
export function tasteScores(taste: ArrayLike<number>, globalV: Float32Array, rank: number, clipNorm: number, reg: number): Float64Array {
  const items = globalV.length / rank;
  const gram = new Float64Array(rank * rank);
  const row = new Float64Array(rank);
  for (let j = 0; j < items; j++) {
    clippedRow(globalV, rank, j, clipNorm, row);
    for (let a = 0; a < rank; a++) for (let b = a; b < rank; b++) gram[a * rank + b] += row[a] * row[b];
  }
  const g = new Matrix(rank, rank);
  for (let a = 0; a < rank; a++) {
    for (let b = a; b < rank; b++) {
      g.set(a, b, gram[a * rank + b] + (a === b ? reg : 0));
      g.set(b, a, gram[a * rank + b] + (a === b ? reg : 0));
    }
  }
  const u = solve(g, Matrix.columnVector(Array.from(taste))).getColumn(0);
  const scores = new Float64Array(items);
  for (let j = 0; j < items; j++) {
    let s = 0;
    for (let a = 0; a < rank; a++) s += globalV[j * rank + a] * u[a];
    scores[j] = s;
  }
  return scores;
}

/** Percentile bytes of `scores` (0 = lowest, MAX_PERCENTILE = highest; ties by id), EXCLUDED where `excluded`. */
export function percentileScores(scores: ArrayLike<number>, excluded: ReadonlySet<number>): Uint8Array {
  const out = new Uint8Array(scores.length).fill(EXCLUDED);
  const ranked: number[] = [];
  for (let j = 0; j < scores.length; j++) if (!excluded.has(j) && Number.isFinite(scores[j])) ranked.push(j);
  ranked.sort((a, b) => scores[a] - scores[b] || b - a);
  const last = Math.max(ranked.length - 1, 1);
  ranked.forEach((item, r) => (out[item] = Math.round((MAX_PERCENTILE * r) / last)));
  return out;
}

export function encodeBlendTaste(fields: Omit<BlendTaste, 'format' | 'formatVersion' | 'mechanism' | 'taste'> & { taste: ArrayLike<number> }): BlendTaste {
  return { format: BLEND_FORMAT, formatVersion: BLEND_FORMAT_VERSION, ...fields, mechanism: BLEND_MECHANISM, taste: Array.from(fields.taste) };
}

const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** A taste file checked against this catalogue and rank, or the reason it cannot be used. */
export function decodeBlendTaste(value: unknown, expect: GlobalExpect): BlendTaste | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const v = value as Partial<BlendTaste>;
  if (v.format !== BLEND_FORMAT) return `not a ${BLEND_FORMAT} file`;
  if (v.formatVersion !== BLEND_FORMAT_VERSION) {
    return `format version ${JSON.stringify(v.formatVersion)} is not accepted, only ${BLEND_FORMAT_VERSION} (version 1 published a score per show with the watched shows marked, which disclosed them): its owner must update the app`;
  }
  if (v.vocabHash !== expect.vocabHash || v.items !== expect.items) return 'made for another catalogue';
  if (v.rank !== expect.rank) return `rank ${JSON.stringify(v.rank)}, not this app's ${expect.rank} (MODEL_RANK)`;
  if (v.mechanism !== BLEND_MECHANISM || !isPositive(v.epsilon) || !isPositive(v.delta) || !isPositive(v.clipNorm) || !isPositive(v.sigma)) return 'mechanism, epsilon, delta, clipNorm or sigma missing or not positive';
  if (!Number.isSafeInteger(v.globalVersion) || (v.globalVersion as number) < 0) return 'globalVersion is not a version number';
  if (!Array.isArray(v.taste) || v.taste.length !== expect.rank || !v.taste.every((x) => typeof x === 'number' && Number.isFinite(x))) return `taste is not ${expect.rank} finite numbers`;
  return v as BlendTaste;
}

interface TogetherItem {
  item: number;
  /** Percentiles 0–100 of each side. */
  mine: number;
  theirs: number;
  /** Genres of the item both sides lean to. */
  sharedGenres: string[];
  reason: string;
}

const percent = (byte: number): number => Math.round((100 * byte) / MAX_PERCENTILE);

/** The genres most frequent among one side's TASTE_ITEMS highest-ranked items. */
function tasteGenres(bytes: Uint8Array, catalog: Catalog): Set<string> {
  const top: number[] = [];
  for (let j = 0; j < bytes.length; j++) if (bytes[j] !== EXCLUDED) top.push(j);
  top.sort((a, b) => bytes[b] - bytes[a] || a - b);
  const counts = new Map<string, number>();
  for (const item of top.slice(0, TASTE_ITEMS)) for (const g of catalog.items[item].genres) counts.set(g, (counts.get(g) ?? 0) + 1);
  return new Set([...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, TASTE_GENRES).map(([g]) => g));
}

/** The watch-together list (rule in docs/blend.md), most agreed first. */
export function watchTogether(mine: Uint8Array, theirs: Uint8Array, catalog: Catalog, n = WATCH_TOGETHER): TogetherItem[] {
  if (mine.length !== theirs.length || mine.length !== catalog.items.length) throw new RangeError(`score vectors of ${mine.length} and ${theirs.length} items for a catalogue of ${catalog.items.length}`);
  const candidates: number[] = [];
  for (let j = 0; j < mine.length; j++) if (mine[j] !== EXCLUDED && theirs[j] !== EXCLUDED) candidates.push(j);
  const sum = (j: number) => mine[j] + theirs[j];
  const gap = (j: number) => Math.abs(mine[j] - theirs[j]);
  const pool = candidates.sort((a, b) => sum(b) - sum(a) || a - b).slice(0, 2 * n);
  const chosen = pool.sort((a, b) => gap(a) - gap(b) || sum(b) - sum(a) || a - b).slice(0, n);
  const mineTaste = tasteGenres(mine, catalog);
  const theirTaste = tasteGenres(theirs, catalog);
  return chosen.map((item) => {
    const sharedGenres = catalog.items[item].genres.filter((g) => mineTaste.has(g) && theirTaste.has(g));
    const levels = `you ${percent(mine[item])}, them ${percent(theirs[item])}`;
    const reason = sharedGenres.length > 0 ? `You both lean to ${listText(sharedGenres)} (${levels})` : `High on both your lists (${levels})`;
    return { item, mine: percent(mine[item]), theirs: percent(theirs[item]), sharedGenres, reason };
  });
}

/**
 * The list one side sees: both taste files scored against the same Global_V
 * and ranked as percentiles over the whole catalogue (so both sides rank
 * alike), then this side's own watched shows left out. The friend's watched
 * shows are unknown here and may appear; their list leaves them out.
 */
export function blendList(mine: BlendTaste, theirs: BlendTaste, globalV: Float32Array, myWatched: ReadonlySet<number>, catalog: Catalog, reg: number, n = WATCH_TOGETHER): TogetherItem[] {
  const bytes = (t: BlendTaste, excluded: ReadonlySet<number>) => percentileScores(tasteScores(t.taste, globalV, t.rank, t.clipNorm, reg), excluded);
  const mineBytes = bytes(mine, new Set());
  for (const j of myWatched) mineBytes[j] = EXCLUDED;
  return watchTogether(mineBytes, bytes(theirs, new Set()), catalog, n);
}

function listText(words: string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

// ---------------------------------------------------------------- consent and releases (private)

/** A taste summary released for one profile: the file as published, and what it was computed from. */
interface StoredRelease {
  at: string;
  /** sha256 of the watched ids it summed (sorted, comma-separated): a new release only when they change. */
  watchedSha256: string;
  file: BlendTaste;
}

interface PrivateBlend {
  formatVersion: typeof PRIVATE_VERSION;
  /** The page's choice, and the BLEND_WITH it was made under (a changed BLEND_WITH overrides it). */
  choice: { friend: string | null; configValue: string | null } | null;
  /** The last release of each profile, re-published as it is (no new spend) until it is due again. */
  releases: Record<string, StoredRelease>;
}

type ConsentSource = 'page' | 'config' | 'none';

/** What reading or changing the consent needs. */
interface ConsentContext {
  config: Pick<Config, 'BLEND_WITH'>;
  ws: Workspace;
}

interface BlendConsent {
  friend: string | null;
  source: ConsentSource;
}

export interface BlendContext {
  config: Pick<Config, 'BLEND_WITH' | 'BLEND_EPSILON' | 'DP_DELTA' | 'PRIVACY_BUDGET_EPSILON' | 'PRIVACY_PERIOD_DAYS' | 'AGGREGATOR_DATASITE' | 'ALS_REG'>;
  ws: Workspace;
  catalog: Catalog;
  logger: Logger;
  /** Clock for the upload order and the release interval (default: now). */
  now?: () => Date;
  /** Source of the taste noise (default: the OS CSPRNG). */
  noiseRandom?: () => Random;
}

/**
 * Under a SyftBox client, how long the blend folder's syft.pub.yaml must have
 * been in place before anything is written beside it. The client uploads
 * what changed every ~5 s, several files at once in no set order; a file that
 * reached the server before the permission file restricting it would be
 * governed by the app folder's (readable by the aggregator). Six syncs.
 */
export const PERMISSION_SETTLE_MS = 30_000;

/** The private blend state; a version 1 file (the decoy secret of the withdrawn format) keeps only its choice. */
async function readPrivate(ws: Workspace): Promise<PrivateBlend | null> {
  const file = path.join(ws.privateRoot(), PRIVATE_FILE);
  // synchronous: a small local file, read several times by each blend request of the page
  const value = readJsonFileSync(file, { maxBytes: MAX_PRIVATE_BYTES }) as Omit<Partial<PrivateBlend>, 'formatVersion'> & { formatVersion?: unknown } | null;
  if (value === null) return null;
  if (value.formatVersion === 1) return { formatVersion: PRIVATE_VERSION, choice: value.choice ?? null, releases: {} };
  if (value.formatVersion !== PRIVATE_VERSION || typeof value.releases !== 'object' || value.releases === null) {
    throw new AppError('ERR_JSON_FORMAT', `${file}: not a version ${PRIVATE_VERSION} blend state; delete it and choose the friend again on the blend page`, { file });
  }
  return value as PrivateBlend;
}

async function writePrivate(ws: Workspace, value: PrivateBlend): Promise<void> {
  await writeJsonAtomic(path.join(ws.privateRoot(), PRIVATE_FILE), value, { private: true });
}

/** Who this datasite blends with, and whether the page or BLEND_WITH decided it. */
export async function readBlendConsent(ctx: ConsentContext): Promise<BlendConsent> {
  const configValue = ctx.config.BLEND_WITH;
  const choice = (await readPrivate(ctx.ws))?.choice ?? null;
  if (choice !== null && choice.configValue === configValue) return { friend: choice.friend, source: 'page' };
  return configValue ? { friend: configValue, source: 'config' } : { friend: null, source: 'none' };
}

/** Record the page's choice (an email, or null to withdraw). ERR_BAD_REQUEST for an invalid email or one's own. */
export async function setBlendConsent(ctx: ConsentContext, friend: string | null): Promise<BlendConsent> {
  const normalized = friend === null ? null : friend.trim().toLowerCase();
  if (normalized !== null && !isEmailFolder(normalized)) throw new AppError('ERR_BAD_REQUEST', `${JSON.stringify(friend)} is not a datasite email such as friend@example.org`);
  if (normalized === ctx.ws.email) throw new AppError('ERR_BAD_REQUEST', 'you cannot blend with your own datasite: name a friend');
  const current = await readPrivate(ctx.ws);
  // the same choice again (a second click, a reload) rewrites nothing
  const unchanged = current?.choice?.friend === normalized && current.choice.configValue === ctx.config.BLEND_WITH;
  if (!unchanged) await writePrivate(ctx.ws, { formatVersion: PRIVATE_VERSION, choice: { friend: normalized, configValue: ctx.config.BLEND_WITH }, releases: current?.releases ?? {} });
  return readBlendConsent(ctx);
}

/** One sentence per fact, for the page: what the friend can read and learn at these settings. */
export function describeBlendProtection(config: Pick<Config, 'BLEND_EPSILON' | 'DP_DELTA' | 'MODEL_RANK'>): string {
  if (config.BLEND_EPSILON <= 0 || config.DP_DELTA <= 0) {
    return `Nothing is shared with your friend: the blend's taste summary needs BLEND_EPSILON > 0 and DP_DELTA > 0 (now ${config.BLEND_EPSILON} and ${config.DP_DELTA}).`;
  }
  return (
    `What your friend can read while you both consent: ${config.MODEL_RANK} numbers summing up your taste (the Global_V rows of the shows you watched, each clipped, added up), ` +
    `with Gaussian noise that makes them (ε = ${config.BLEND_EPSILON}, δ = ${config.DP_DELTA})-differentially private for each show: ` +
    'whether any one show is in your history changes what your friend can learn by at most that ε. No show is marked as watched. ' +
    `A new summary goes out only when your shows changed, at most every ${BLEND_REFRESH_DAYS} days, and each spends ε = ${config.BLEND_EPSILON} of your privacy budget. ` +
    'The protection is per show: your taste as a whole, what many shows say together, is what the blend shares. ' +
    "Your list leaves out the shows you watched; your friend's leaves out theirs, so your two lists can differ. " +
    "Stop blending at any time: your file is deleted at once, and your friend's app deletes theirs."
  );
}

// ---------------------------------------------------------------- publishing (I/O)

type BlendState = 'off' | 'waiting' | 'active';

interface BlendSyncResult {
  friend: string | null;
  state: BlendState;
  /** Profiles whose taste summary is published. */
  published: string[];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** The profile folders of the private root. */
async function profileFolders(ws: Workspace): Promise<string[]> {
  return (await listDir(ws.privateRoot())).filter(isProfileName);
}

function modelShape(ctx: Pick<BlendContext, 'catalog'>, rank: number): GlobalExpect {
  return { items: ctx.catalog.items.length, rank, vocabHash: ctx.catalog.hash };
}

/**
 * The taste summary `profile` publishes now: its stored release while that is
 * current (same watched shows, or released less than BLEND_REFRESH_DAYS ago),
 * else a new one, its spend recorded in the privacy ledger first. Null before
 * the profile is trained from a readable Global_V, when BLEND_EPSILON is 0, or
 * when the budget cannot pay for a first release.
 */
async function releaseFor(ctx: BlendContext, profile: string, stored: PrivateBlend): Promise<BlendTaste | null> {
  const { config, ws, catalog, logger } = ctx;
  const dir = ws.privateDir(profile);
  const state = await readProfileState(dir);
  if (state === null || state.vocabHash !== catalog.hash || state.items !== catalog.items.length) return null;
  if (config.BLEND_EPSILON <= 0 || config.DP_DELTA <= 0) return null;
  const now = (ctx.now ?? (() => new Date()))();
  const watchedSha256 = sha256Hex(Buffer.from([...state.watched].sort((a, b) => a - b).join(','), 'utf8'));
  const previous = stored.releases[profile];
  const usable = previous !== undefined && typeof decodeBlendTaste(previous.file, modelShape(ctx, state.rank)) !== 'string' ? previous : undefined;
  if (usable && (usable.watchedSha256 === watchedSha256 || now.getTime() - Date.parse(usable.at) < BLEND_REFRESH_DAYS * DAY_MS)) return usable.file;

  const global = await readGrantedGlobal(ws, config.AGGREGATOR_DATASITE, modelShape(ctx, state.rank), logger);
  if (global === null) return usable?.file ?? null;
  const clipNorm = blendClipNorm(global.values, state.rank);
  const sigma = gaussianSigma(config.BLEND_EPSILON, config.DP_DELTA, clipNorm);
  const spend = gaussianSpend(now.toISOString(), BLEND_PRIVACY_KIND, { l2: clipNorm, sigma });
  const budget = configuredBudget(config);
  let ledger = await readPrivacyLedger(dir);
  if (!canSpend(ledger, spend, budget, now)) {
    const epsilonSpent = privacySpent(ledger, budget, now).epsilon;
    logger.warn({ profile, epsilonSpent, budget: config.PRIVACY_BUDGET_EPSILON }, usable ? 'privacy budget reached: the blend keeps the taste summary already shared' : 'privacy budget reached: this profile shares no taste summary for the blend');
    return usable?.file ?? null;
  }
  const taste = noisyTaste(tasteSum(global.values, state.rank, state.watched, clipNorm), sigma, (ctx.noiseRandom ?? cryptoRandom)());
  const file = encodeBlendTaste({
    vocabHash: catalog.hash,
    items: catalog.items.length,
    rank: state.rank,
    globalVersion: global.manifest.version,
    epsilon: config.BLEND_EPSILON,
    delta: config.DP_DELTA,
    clipNorm,
    sigma,
    taste,
  });
  // Recorded before the summary is kept or published: a crash in between wastes budget, never hides a spend.
  ledger = recordSpend(ledger, spend);
  await writePrivacyLedger(dir, ledger);
  stored.releases[profile] = { at: now.toISOString(), watchedSha256, file };
  await writePrivate(ws, stored);
  logger.info({ profile, epsilon: config.BLEND_EPSILON, epsilonSpent: privacySpent(ledger, budget, now).epsilon, globalVersion: global.manifest.version }, 'released a blend taste summary');
  return file;
}

/** True when `friend` has named this datasite: their consent marker is here and readable (`readableHere`). */
export async function friendConsents(ws: Workspace, friend: string): Promise<boolean> {
  const marker = path.join(ws.blendDir(friend), CONSENT_MARKER);
  try {
    return (await readRegularFile(marker, { maxBytes: MAX_PRIVATE_BYTES })) !== null && (await readableHere(ws, marker));
  } catch {
    return false;
  }
}

function blendPermissions(friend: string): PermissionFile {
  return { terminal: false, rules: [{ pattern: '**', access: { read: [friend], write: [], admin: [] } }] };
}

async function ensurePermissions(dir: string, friend: string): Promise<void> {
  const file = path.join(dir, PERMISSION_FILE);
  const wanted = blendPermissions(friend);
  const current = await readRegularFile(file, { maxBytes: MAX_PRIVATE_BYTES }).catch(() => null);
  if (current !== null) {
    try {
      if (JSON.stringify(parsePermissions(current.toString('utf8'), file)) === JSON.stringify(wanted)) return;
    } catch {
      // malformed: rewritten below
    }
  }
  await writePermissions(dir, wanted);
}

async function removeScores(dir: string, keep: ReadonlySet<string> = new Set()): Promise<void> {
  for (const name of await listDir(dir)) if (SCORES_FILE_RE.test(name) && !keep.has(name)) await fs.rm(path.join(dir, name), { force: true });
}

/** Delete my blend folder's files: the summaries first, then the marker, then the permission file. */
async function removeBlend(dir: string): Promise<void> {
  if ((await listDir(dir)).length === 0) return; // never blended, or already withdrawn
  await removeScores(dir);
  await fs.rm(path.join(dir, CONSENT_MARKER), { force: true });
  await fs.rm(path.join(dir, PERMISSION_FILE), { force: true });
}

/**
 * Bring `app_data/<app>/blend/` in line with the consent on both sides (see
 * docs/blend.md). Idempotent; writes a file only when its content changes, and
 * deletes any file of the withdrawn version 1. Call it after each participant
 * pass and after the page changes the consent.
 */
export async function syncBlend(ctx: BlendContext): Promise<BlendSyncResult> {
  const { ws, logger } = ctx;
  const dir = ws.blendDir();
  const { friend } = await readBlendConsent(ctx);
  if (friend === null) {
    await removeBlend(dir);
    return { friend, state: 'off', published: [] };
  }
  await removeScoresFor(dir, friend);
  await ensurePermissions(dir, friend);
  if (!ws.embedded) {
    const sinceMs = (ctx.now ?? (() => new Date()))().getTime() - (await fs.stat(path.join(dir, PERMISSION_FILE))).mtimeMs;
    if (sinceMs < PERMISSION_SETTLE_MS) {
      logger.debug({ friend, sinceMs }, 'blend permission file written; the consent and the taste summary follow once it has synced');
      return { friend, state: 'waiting', published: [] };
    }
  }
  const marker = path.join(dir, CONSENT_MARKER);
  if ((await readRegularFile(marker, { maxBytes: MAX_PRIVATE_BYTES }).catch(() => null)) === null) {
    await writeJsonAtomic(marker, { format: CONSENT_FORMAT, formatVersion: 1 });
  }
  if (!(await friendConsents(ws, friend))) {
    await removeScores(dir);
    return { friend, state: 'waiting', published: [] };
  }
  const stored = (await readPrivate(ws)) ?? { formatVersion: PRIVATE_VERSION, choice: null, releases: {} };
  const published: string[] = [];
  for (const profile of await profileFolders(ws)) {
    try {
      const taste = await releaseFor(ctx, profile, stored);
      if (taste === null) continue;
      const file = path.join(dir, `${profile}.json`);
      const text = `${JSON.stringify(taste, null, 2)}\n`;
      const current = await readRegularFile(file, { maxBytes: MAX_BLEND_BYTES }).catch(() => null);
      if (current === null || current.toString('utf8') !== text) await writeJsonAtomic(file, taste);
      published.push(profile);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      logger.warn({ profile, code: err.code }, formatError(err));
    }
  }
  await removeScores(dir, new Set(published.map((p) => `${p}.json`)));
  if (published.length > 0) logger.debug({ profiles: published }, 'blend taste summaries published');
  return { friend, state: 'active', published };
}

/** Summaries published for a previous friend must go before the permission file names the new one. */
async function removeScoresFor(dir: string, friend: string): Promise<void> {
  const text = await readRegularFile(path.join(dir, PERMISSION_FILE), { maxBytes: MAX_PRIVATE_BYTES }).catch(() => null);
  if (text === null) return;
  try {
    if (JSON.stringify(parsePermissions(text.toString('utf8'), path.join(dir, PERMISSION_FILE))) === JSON.stringify(blendPermissions(friend))) return;
  } catch {
    // malformed: treat as another friend's
  }
  await removeScores(dir);
}

// ---------------------------------------------------------------- the page's view

interface FriendBlend {
  /** The friend's profile folder, e.g. profile_0. */
  profile: string;
  items: TogetherItem[];
}

export interface BlendView {
  consent: BlendConsent;
  /** off: no friend named; waiting: the friend has not named you (or not published yet); active: lists below; untrained: this profile has shared no taste summary yet. */
  state: BlendState | 'untrained';
  lists: FriendBlend[];
}

/** What the blend page shows for `profile`: the consent, and one watch-together list per profile the friend shares. */
export async function blendView(ctx: BlendContext, profile: string): Promise<BlendView> {
  const { config, ws, catalog, logger } = ctx;
  const consent = await readBlendConsent(ctx);
  const friend = consent.friend;
  if (friend === null) return { consent, state: 'off', lists: [] };
  if (!(await friendConsents(ws, friend))) return { consent, state: 'waiting', lists: [] };
  const state = await readProfileState(ws.privateDir(profile));
  const mine = state === null ? null : await myRelease(ctx, profile, modelShape(ctx, state.rank));
  if (mine === null || state === null) return { consent, state: 'untrained', lists: [] };
  const expect = modelShape(ctx, mine.rank);
  const theirs: { profile: string; taste: BlendTaste }[] = [];
  for (const name of await listDir(ws.blendDir(friend))) {
    if (!SCORES_FILE_RE.test(name)) continue;
    const file = path.join(ws.blendDir(friend), name);
    try {
      if (!(await readableHere(ws, file))) continue;
      const decoded = decodeBlendTaste(await readJsonFile(file, { maxBytes: MAX_BLEND_BYTES }), expect);
      if (typeof decoded === 'string') logger.error({ file, problem: decoded }, `skipped the friend's blend file ${file}: ${decoded}`);
      else theirs.push({ profile: name.slice(0, -'.json'.length), taste: decoded });
    } catch (err) {
      // Not JSON (yet): a file still being written, like a payload behind its manifest. Looked at again on the next view.
      if (isAppError(err, 'ERR_JSON_FORMAT')) logger.debug({ file }, 'a friend\'s blend file is not complete yet');
      else logger.warn({ file, err: formatError(err) }, 'skipped a friend\'s blend file');
    }
  }
  if (theirs.length === 0) return { consent, state: 'waiting', lists: [] };
  const global = await readGrantedGlobal(ws, config.AGGREGATOR_DATASITE, expect, logger);
  if (global === null) return { consent, state: 'waiting', lists: [] };
  const watched = new Set(state.watched);
  return { consent, state: 'active', lists: theirs.map((t) => ({ profile: t.profile, items: blendList(mine, t.taste, global.values, watched, catalog, config.ALS_REG) })) };
}

/** My release for `profile`: as stored privately, else as published (what the friend reads); null if neither is usable. */
async function myRelease(ctx: BlendContext, profile: string, expect: GlobalExpect): Promise<BlendTaste | null> {
  const stored = (await readPrivate(ctx.ws))?.releases[profile]?.file;
  const published = stored ?? (await readJsonFile(path.join(ctx.ws.blendDir(), `${profile}.json`), { maxBytes: MAX_BLEND_BYTES }).catch(() => null));
  const decoded = published === null ? null : decodeBlendTaste(published, expect);
  return typeof decoded === 'string' ? null : decoded;
}
