import { createHmac, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, readRegularFile, writeJsonAtomic } from '../shared/atomic';
import type { Catalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import { AppError, formatError, isAppError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { scoreItems } from '../shared/model/recommend';
import { PERMISSION_FILE, parsePermissions, readableHere, writePermissions, type PermissionFile } from '../shared/permissions';
import { isEmailFolder, isProfileName, type Workspace } from '../shared/workspace';
import { readProfileModel, readProfileState } from './state';

/**
 * Blend: two participants who name each other see a "watch together" list on
 * their pages, computed from both sides' predicted interest, without either
 * sending the other their viewing history. Consent, the files and what they
 * disclose are explained in docs/blend.md.
 *
 * Under a SyftBox client the consent marker and scores are written PERMISSION_SETTLE_MS
 * after `blend/syft.pub.yaml`, so the permission file reaches the server first.
 *
 * Scores file `blend/profile_<n>.json`, readable by the friend only (example abridged):
 * ```json
 * { "format": "syftbox-netflix-svd/blend", "formatVersion": 1,
 *   "vocabHash": "5d41…", "items": 8807, "encoding": "uint8-percentile-base64",
 *   "scores": "AAEC…" }
 * ```
 * `scores` decodes to one byte per catalogue item: 0–254 the item's percentile
 * rank of predicted interest u·v_j (254 = this profile's highest), 255 =
 * excluded (watched, or a decoy).
 */
const BLEND_FORMAT = 'syftbox-netflix-svd/blend';
const BLEND_FORMAT_VERSION = 1;
const BLEND_ENCODING = 'uint8-percentile-base64';
export const CONSENT_MARKER = 'consent.json';
const CONSENT_FORMAT = 'syftbox-netflix-svd/blend-consent';
/** Highest percentile byte; EXCLUDED marks watched shows and decoys. */
export const MAX_PERCENTILE = 254;
export const EXCLUDED = 255;
/** Share of unwatched items excluded as decoys. */
export const DECOY_RATE = 0.05;
/** Shows in the watch-together list. */
const WATCH_TOGETHER = 10;
/** Each side's taste genres: the most frequent TASTE_GENRES among its TASTE_ITEMS highest-ranked items. */
const TASTE_ITEMS = 100;
const TASTE_GENRES = 5;
export const MAX_BLEND_BYTES = 256 * 1024; // 256 KiB: a scores file is ~12 KB at 8,807 items

const PRIVATE_FILE = 'blend.json';
const PRIVATE_VERSION = 1;
const SECRET_BYTES = 32;
const MAX_PRIVATE_BYTES = 64 * 1024; // 64 KiB
const SCORES_FILE_RE = /^profile_\d{1,4}\.json$/;

interface BlendScores {
  format: typeof BLEND_FORMAT;
  formatVersion: typeof BLEND_FORMAT_VERSION;
  vocabHash: string;
  items: number;
  encoding: typeof BLEND_ENCODING;
  scores: string;
}

// ---------------------------------------------------------------- pure parts

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

/** The decoy items of one profile: a keyed hash of (profile, item) below DECOY_RATE. Stable for a given secret. */
export function decoyItems(secret: Buffer, profile: string, items: number, rate = DECOY_RATE): Set<number> {
  const out = new Set<number>();
  const limit = rate * 2 ** 32;
  for (let j = 0; j < items; j++) {
    if (createHmac('sha256', secret).update(`${profile}\u0000${j}`).digest().readUInt32BE(0) < limit) out.add(j);
  }
  return out;
}

export function encodeBlendScores(bytes: Uint8Array, vocabHash: string): BlendScores {
  return { format: BLEND_FORMAT, formatVersion: BLEND_FORMAT_VERSION, vocabHash, items: bytes.length, encoding: BLEND_ENCODING, scores: Buffer.from(bytes).toString('base64') };
}

/** The score bytes of a scores file, or the reason it cannot be used. */
export function decodeBlendScores(value: unknown, expect: { items: number; vocabHash: string }): Uint8Array | string {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const v = value as Partial<BlendScores>;
  if (v.format !== BLEND_FORMAT || v.formatVersion !== BLEND_FORMAT_VERSION || v.encoding !== BLEND_ENCODING) return `not ${BLEND_FORMAT} version ${BLEND_FORMAT_VERSION}`;
  if (v.vocabHash !== expect.vocabHash || v.items !== expect.items) return 'made for another catalogue';
  if (typeof v.scores !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v.scores)) return 'scores is not base64';
  const bytes = Buffer.from(v.scores, 'base64');
  if (bytes.length !== expect.items) return `scores has ${bytes.length} values, not ${expect.items}`;
  return new Uint8Array(bytes);
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

/** The watch-together list (rule in the module comment), most agreed first. */
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

function listText(words: string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

// ---------------------------------------------------------------- consent (private)

interface PrivateBlend {
  formatVersion: typeof PRIVATE_VERSION;
  /** Key of the decoy hash (hex). */
  secret: string;
  /** The page's choice, and the BLEND_WITH it was made under (a changed BLEND_WITH overrides it). */
  choice: { friend: string | null; configValue: string | null } | null;
}

type ConsentSource = 'page' | 'config' | 'none';

interface BlendConsent {
  friend: string | null;
  source: ConsentSource;
}

export interface BlendContext {
  config: Pick<Config, 'BLEND_WITH'>;
  ws: Workspace;
  catalog: Catalog;
  logger: Logger;
  /** Clock for the upload order of the blend files (default: now). */
  now?: () => Date;
}

/**
 * Under a SyftBox client, how long the blend folder's syft.pub.yaml must have
 * been in place before anything is written beside it. The client uploads
 * what changed every ~5 s, several files at once in no set order; a file that
 * reached the server before the permission file restricting it would be
 * governed by the app folder's (readable by the aggregator). Six syncs.
 */
export const PERMISSION_SETTLE_MS = 30_000;

async function readPrivate(ws: Workspace): Promise<PrivateBlend | null> {
  const file = path.join(ws.privateRoot(), PRIVATE_FILE);
  const value = (await readJsonFile(file, { maxBytes: MAX_PRIVATE_BYTES })) as PrivateBlend | null;
  if (value !== null && (value.formatVersion !== PRIVATE_VERSION || typeof value.secret !== 'string')) {
    throw new AppError('ERR_JSON_FORMAT', `${file}: not a version ${PRIVATE_VERSION} blend state; delete it and choose the friend again on the blend page`, { file });
  }
  return value;
}

async function writePrivate(ws: Workspace, value: PrivateBlend): Promise<void> {
  await writeJsonAtomic(path.join(ws.privateRoot(), PRIVATE_FILE), value, { private: true });
}

/** Who this datasite blends with, and whether the page or BLEND_WITH decided it. */
export async function readBlendConsent(ctx: Pick<BlendContext, 'config' | 'ws'>): Promise<BlendConsent> {
  const configValue = ctx.config.BLEND_WITH;
  const choice = (await readPrivate(ctx.ws))?.choice ?? null;
  if (choice !== null && choice.configValue === configValue) return { friend: choice.friend, source: 'page' };
  return configValue ? { friend: configValue, source: 'config' } : { friend: null, source: 'none' };
}

/** Record the page's choice (an email, or null to withdraw). ERR_BAD_REQUEST for an invalid email or one's own. */
export async function setBlendConsent(ctx: Pick<BlendContext, 'config' | 'ws'>, friend: string | null): Promise<BlendConsent> {
  const normalized = friend === null ? null : friend.trim().toLowerCase();
  if (normalized !== null && !isEmailFolder(normalized)) throw new AppError('ERR_BAD_REQUEST', `${JSON.stringify(friend)} is not a datasite email such as friend@example.org`);
  if (normalized === ctx.ws.email) throw new AppError('ERR_BAD_REQUEST', 'you cannot blend with your own datasite: name a friend');
  const current = await readPrivate(ctx.ws);
  await writePrivate(ctx.ws, {
    formatVersion: PRIVATE_VERSION,
    secret: current?.secret ?? randomBytes(SECRET_BYTES).toString('hex'),
    choice: { friend: normalized, configValue: ctx.config.BLEND_WITH },
  });
  return readBlendConsent(ctx);
}

async function decoySecret(ws: Workspace): Promise<Buffer> {
  const current = await readPrivate(ws);
  if (current !== null) return Buffer.from(current.secret, 'hex');
  const secret = randomBytes(SECRET_BYTES).toString('hex');
  await writePrivate(ws, { formatVersion: PRIVATE_VERSION, secret, choice: null });
  return Buffer.from(secret, 'hex');
}

// ---------------------------------------------------------------- publishing (I/O)

type BlendState = 'off' | 'waiting' | 'active';

interface BlendSyncResult {
  friend: string | null;
  state: BlendState;
  /** Profiles whose scores are published. */
  published: string[];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** The trained profiles of this datasite (folders of the private root with a model). */
async function trainedProfiles(ws: Workspace): Promise<string[]> {
  const out: string[] = [];
  for (const name of await listDir(ws.privateRoot())) {
    if (isProfileName(name) && (await readProfileState(ws.privateDir(name))) !== null) out.push(name);
  }
  return out;
}

/** This profile's score bytes from its private model; null before its first training or on another catalogue. */
async function computeBlendBytes(ws: Workspace, catalog: Catalog, profile: string, secret: Buffer): Promise<Uint8Array | null> {
  const model = await readProfileModel(ws.privateDir(profile));
  if (model === null || model.state.vocabHash !== catalog.hash || model.state.items !== catalog.items.length) return null;
  const { state } = model;
  const excluded = decoyItems(secret, profile, state.items);
  for (const item of state.watched) excluded.add(item);
  return percentileScores(scoreItems(model.u, model.vLocal, state.items, state.rank), excluded);
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

/** Delete my blend folder's files: scores first, then the marker, then the permission file. */
async function removeBlend(dir: string): Promise<void> {
  await removeScores(dir);
  await fs.rm(path.join(dir, CONSENT_MARKER), { force: true });
  await fs.rm(path.join(dir, PERMISSION_FILE), { force: true });
}

/**
 * Bring `app_data/<app>/blend/` in line with the consent on both sides (see
 * the module comment). Idempotent; writes a file only when its content
 * changes. Call it after each participant pass and after the page changes
 * the consent.
 */
export async function syncBlend(ctx: BlendContext): Promise<BlendSyncResult> {
  const { ws, catalog, logger } = ctx;
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
      logger.debug({ friend, sinceMs }, 'blend permission file written; the consent and scores follow once it has synced');
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
  const secret = await decoySecret(ws);
  const published: string[] = [];
  for (const profile of await trainedProfiles(ws)) {
    try {
      const bytes = await computeBlendBytes(ws, catalog, profile, secret);
      if (bytes === null) continue;
      const file = path.join(dir, `${profile}.json`);
      const text = `${JSON.stringify(encodeBlendScores(bytes, catalog.hash), null, 2)}\n`;
      const current = await readRegularFile(file, { maxBytes: MAX_BLEND_BYTES }).catch(() => null);
      if (current === null || current.toString('utf8') !== text) await writeJsonAtomic(file, encodeBlendScores(bytes, catalog.hash));
      published.push(profile);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      logger.warn({ profile, code: err.code }, formatError(err));
    }
  }
  await removeScores(dir, new Set(published.map((p) => `${p}.json`)));
  if (published.length > 0) logger.debug({ profiles: published }, 'blend scores published');
  return { friend, state: 'active', published };
}

/** Scores published for a previous friend must go before the permission file names the new one. */
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
  /** off: no friend named; waiting: the friend has not named you (or not published yet); active: lists below; untrained: this profile has no model yet. */
  state: BlendState | 'untrained';
  lists: FriendBlend[];
}

/** What the blend page shows for `profile`: the consent, and one watch-together list per profile the friend shares. */
export async function blendView(ctx: BlendContext, profile: string): Promise<BlendView> {
  const { ws, catalog, logger } = ctx;
  const consent = await readBlendConsent(ctx);
  const friend = consent.friend;
  if (friend === null) return { consent, state: 'off', lists: [] };
  if (!(await friendConsents(ws, friend))) return { consent, state: 'waiting', lists: [] };
  const expect = { items: catalog.items.length, vocabHash: catalog.hash };
  const theirs: { profile: string; bytes: Uint8Array }[] = [];
  for (const name of await listDir(ws.blendDir(friend))) {
    if (!SCORES_FILE_RE.test(name)) continue;
    const file = path.join(ws.blendDir(friend), name);
    try {
      if (!(await readableHere(ws, file))) continue;
      const decoded = decodeBlendScores(await readJsonFile(file, { maxBytes: MAX_BLEND_BYTES }), expect);
      if (typeof decoded === 'string') logger.warn({ file, problem: decoded }, 'skipped a friend\'s blend file');
      else theirs.push({ profile: name.slice(0, -'.json'.length), bytes: decoded });
    } catch (err) {
      // Not JSON (yet): a file still being written, like a payload behind its manifest. Looked at again on the next view.
      if (isAppError(err, 'ERR_JSON_FORMAT')) logger.debug({ file }, 'a friend\'s blend file is not complete yet');
      else logger.warn({ file, err: formatError(err) }, 'skipped a friend\'s blend file');
    }
  }
  if (theirs.length === 0) return { consent, state: 'waiting', lists: [] };
  const mine = await myBlendBytes(ctx, profile);
  if (mine === null) return { consent, state: 'untrained', lists: [] };
  return { consent, state: 'active', lists: theirs.map((t) => ({ profile: t.profile, items: watchTogether(mine, t.bytes, catalog) })) };
}

/** My published scores for `profile` (what the friend sees), else the same computed from the model. */
async function myBlendBytes(ctx: BlendContext, profile: string): Promise<Uint8Array | null> {
  const { ws, catalog } = ctx;
  const file = path.join(ws.blendDir(), `${profile}.json`);
  const published = await readJsonFile(file, { maxBytes: MAX_BLEND_BYTES }).catch(() => null);
  const decoded = published === null ? null : decodeBlendScores(published, { items: catalog.items.length, vocabHash: catalog.hash });
  if (decoded instanceof Uint8Array) return decoded;
  return computeBlendBytes(ws, catalog, profile, await decoySecret(ws));
}
