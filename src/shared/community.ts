import path from 'node:path';
import { readJsonFile } from './atomic';
import type { Catalog } from './catalog';
import { formatError, isAppError } from './errors';
import type { Logger } from './log';
import { readableHere } from './permissions';
import { boundedEstimate, type BoundedEstimate } from './stats';
import { shiftWeekLabel } from './weeks';
import type { Workspace } from './workspace';

/**
 * The two community formats, shared by both sides: a participant profile's
 * weekly locally-private report (`profile_<n>/community.json`, readable by the
 * aggregator only) and the aggregator's debiased statistics
 * (`aggregator/community/stats.json`, readable by the contributors). The
 * mechanisms, their privacy cost and the estimators are explained in
 * docs/community.md.
 *
 * A report (abridged):
 * ```json
 * { "format": "syftbox-netflix-svd/community", "formatVersion": 1,
 *   "vocabHash": "5d41…", "items": 8807, "week": "2026-W46",
 *   "epsilon": { "total": 1, "weekly": 0.25, "bucket": 0.25, "show": 0.5 },
 *   "weekly": { "clip": 21, "values": [{ "week": "2026-W39", "plays": null, "scale": null }, …,
 *                                      { "week": "2026-W46", "plays": 131.7, "scale": 84 }] },
 *   "bucket": { "edges": [0, 1, 4, 10, 21], "report": 2 },
 *   "show": { "encoding": "oue-lsb-base64", "bits": "AAQAgA…" } }
 * ```
 * Statistics (abridged; item ids only, a participant's page maps them to titles):
 * ```json
 * { "format": "syftbox-netflix-svd/community-stats", "formatVersion": 1,
 *   "createdAt": "…", "week": "2026-W46", "participants": 231, "vocabHash": "5d41…",
 *   "epsilon": { "min": 4, "max": 4 }, "detectableCount": 62.1,
 *   "topShows": [{ "item": 42, "count": 81.2, "se": 15.4 }, …],
 *   "nothingWatched": { "count": 80.1, "se": 26.9 },
 *   "trend": [{ "week": "2026-W39", "participants": 12, "mean": null, "se": null }, …,
 *             { "week": "2026-W46", "participants": 231, "mean": 7.9, "se": 5.5 }],
 *   "distribution": { "participants": 231, "bands": [
 *     { "min": 0, "max": 0, "share": 0.21, "se": 0.07, "below": 0, "belowSe": 0 }, …] } }
 * ```
 * The statistics are the unbiased estimates, so they can fall outside their
 * range (a share of −0.1); `boundedEstimate` is what a page shows.
 */
export const COMMUNITY_FORMAT = 'syftbox-netflix-svd/community';
export const COMMUNITY_FORMAT_VERSION = 1;
export const COMMUNITY_STATS_FORMAT = 'syftbox-netflix-svd/community-stats';
export const COMMUNITY_STATS_VERSION = 1;
/** Weeks of the trend each report carries (the last one is fresh, the others re-published). */
export const TREND_WEEKS = 8;
/** Plays per week the weekly total is clipped to: 3 a day. It is the Laplace mechanism's sensitivity. */
export const WEEKLY_CLIP = 21;
/** Lower edges of the weekly-plays bands: 0, 1–3, 4–9, 10–20, 21 or more (the top band starts at the clip). */
export const WEEKLY_BUCKETS: readonly number[] = [0, 1, 4, 10, 21];
/** How each report's ε is split between its three parts (they add up to 1). */
export const EPSILON_SHARES = { weekly: 0.25, bucket: 0.25, show: 0.5 } as const;
export const SHOW_ENCODING = 'oue-lsb-base64';
export const MAX_COMMUNITY_BYTES = 64 * 1024; // 64 KiB: a report is ~2 KB at 8,807 items
/** Largest stats.json read back (one is ~5 KB). */
export const MAX_STATS_BYTES = 1024 * 1024; // 1 MiB
const STATS_DIR = 'community';
const STATS_FILE = 'stats.json';
/**
 * The ε a report may claim. Every estimator divides by the report's own
 * probabilities, so a tiny claimed ε makes one report weigh anything (ε = 1e-6
 * put 319,199,993 plays per participant on the public page); a huge one is
 * implausible. From 1, the smallest the participant's documentation tabulates.
 */
export const MIN_REPORT_EPSILON = 1;
const MAX_REPORT_EPSILON = 100;
/** A Laplace draw beyond this many scales has probability e^-14 (8e-7): such a value is refused as forged. */
const MAX_NOISE_SCALES = 14;
const SCALE_REL_TOLERANCE = 1e-9;

export interface WeeklyValue {
  week: string;
  /** Clipped plays + Laplace noise; null for weeks before the profile's first report. */
  plays: number | null;
  /** Laplace scale the value was noised with (its noise variance is 2·scale²). */
  scale: number | null;
}

export interface CommunityReport {
  format: typeof COMMUNITY_FORMAT;
  formatVersion: typeof COMMUNITY_FORMAT_VERSION;
  vocabHash: string;
  items: number;
  week: string;
  epsilon: { total: number; weekly: number; bucket: number; show: number };
  weekly: { clip: number; values: WeeklyValue[] };
  bucket: { edges: number[]; report: number };
  show: { encoding: typeof SHOW_ENCODING; bits: string };
}

export interface ShowCount {
  item: number;
  count: number;
  se: number;
}

export interface TrendPoint {
  week: string;
  participants: number;
  mean: number | null;
  se: number | null;
}

export interface Band {
  min: number;
  /** Null for the open top band. */
  max: number | null;
  share: number;
  se: number;
  /** Share of participants in the bands below this one. */
  below: number;
  belowSe: number;
}

export interface CommunityStats {
  format: typeof COMMUNITY_STATS_FORMAT;
  formatVersion: typeof COMMUNITY_STATS_VERSION;
  createdAt: string;
  week: string;
  participants: number;
  vocabHash: string;
  epsilon: { min: number; max: number };
  /** The count a show must exceed to be listed: about how many participants must play it most. */
  detectableCount: number;
  /** Shows whose count exceeds detectableCount, largest first; empty when none does. */
  topShows: ShowCount[];
  nothingWatched: { count: number; se: number };
  trend: TrendPoint[];
  distribution: { participants: number; bands: Band[] };
}

// ---------------------------------------------------------------- mechanisms (the participant randomizes, the aggregator debiases)

/** K-ary randomized response: probability of reporting the true band, and each other band. */
export function bandProbabilities(epsilon: number, bands: number): { p: number; q: number } {
  const e = Math.exp(epsilon);
  return { p: e / (e + bands - 1), q: 1 / (e + bands - 1) };
}

/** OUE: probability that the true position reads 1, and that any other position does. */
export function unaryProbabilities(epsilon: number): { p: number; q: number } {
  return { p: 0.5, q: 1 / (Math.exp(epsilon) + 1) };
}

/** Index of the band of WEEKLY_BUCKETS that `plays` falls in. */
export function bandOf(plays: number): number {
  let band = 0;
  while (band + 1 < WEEKLY_BUCKETS.length && plays >= WEEKLY_BUCKETS[band + 1]) band++;
  return band;
}

export function packBits(bits: Uint8Array): string {
  const packed = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) packed[i >> 3] |= 1 << (i & 7);
  return Buffer.from(packed).toString('base64');
}

/** Inverse of packBits; null when `text` is not base64 of exactly ceil(length / 8) bytes with zero padding bits. */
export function unpackBits(text: string, length: number): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const packed = Buffer.from(text, 'base64');
  if (packed.length !== Math.ceil(length / 8) || packed.toString('base64') !== text) return null;
  const bits = new Uint8Array(length);
  for (let i = 0; i < length; i++) bits[i] = (packed[i >> 3] >> (i & 7)) & 1;
  for (let i = length; i < packed.length * 8; i++) if ((packed[i >> 3] >> (i & 7)) & 1) return null;
  return bits;
}

// ---------------------------------------------------------------- reading a report

/** A parsed report with its bits decoded. */
export interface DecodedReport {
  report: CommunityReport;
  bits: Uint8Array;
}

const WEEK_LABEL_RE = /^\d{4}-W\d{2}$/;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Check a report against the format and the reader's catalogue; returns the problem, or the decoded report. */
export function decodeCommunityReport(value: unknown, expect: { items: number; vocabHash: string }): DecodedReport | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const r = value as Partial<CommunityReport>;
  if (r.format !== COMMUNITY_FORMAT || r.formatVersion !== COMMUNITY_FORMAT_VERSION) return `format ${String(r.format)} version ${String(r.formatVersion)} is not ${COMMUNITY_FORMAT} version ${COMMUNITY_FORMAT_VERSION}`;
  if (r.vocabHash !== expect.vocabHash || r.items !== expect.items) return 'made for another catalogue';
  if (typeof r.week !== 'string' || !WEEK_LABEL_RE.test(r.week)) return 'week is not an ISO week';
  const eps = r.epsilon;
  const parts = ['weekly', 'bucket', 'show'] as const;
  if (!eps || !isFiniteNumber(eps.total) || !(eps.total >= MIN_REPORT_EPSILON && eps.total <= MAX_REPORT_EPSILON)) return `epsilon.total must be in [${MIN_REPORT_EPSILON}, ${MAX_REPORT_EPSILON}]`;
  for (const part of parts) {
    if (!isFiniteNumber(eps[part]) || Math.abs(eps[part] - eps.total * EPSILON_SHARES[part]) > 1e-9 * eps.total) return `epsilon.${part} is not ${EPSILON_SHARES[part]} of the total`;
  }
  const weekly = r.weekly;
  if (!weekly || weekly.clip !== WEEKLY_CLIP || !Array.isArray(weekly.values) || weekly.values.length !== TREND_WEEKS) return `weekly must have clip ${WEEKLY_CLIP} and ${TREND_WEEKS} values`;
  // Earlier weeks were noised by earlier reports, possibly at another ε within the bounds; this week's at this report's.
  const scaleOf = (epsilon: number) => WEEKLY_CLIP / (epsilon * EPSILON_SHARES.weekly);
  for (const [i, v] of weekly.values.entries()) {
    if (typeof v !== 'object' || v === null || v.week !== shiftWeekLabel(r.week, i - TREND_WEEKS + 1)) return `weekly.values[${i}] is not the week ${TREND_WEEKS - 1 - i} before ${r.week}`;
    if (v.plays === null && v.scale === null) continue;
    if (!isFiniteNumber(v.plays) || !isFiniteNumber(v.scale)) return `weekly.values[${i}] needs a finite plays and a scale, or both null`;
    if (v.scale < scaleOf(MAX_REPORT_EPSILON) || v.scale > scaleOf(MIN_REPORT_EPSILON)) return `weekly.values[${i}].scale ${v.scale} is not the Laplace scale of an epsilon in [${MIN_REPORT_EPSILON}, ${MAX_REPORT_EPSILON}]`;
    if (v.plays < -MAX_NOISE_SCALES * v.scale || v.plays > WEEKLY_CLIP + MAX_NOISE_SCALES * v.scale) return `weekly.values[${i}].plays ${v.plays} is further from [0, ${WEEKLY_CLIP}] than its noise goes (${MAX_NOISE_SCALES} scales)`;
  }
  const fresh = weekly.values[TREND_WEEKS - 1];
  if (fresh.scale === null) return 'the report week has no value';
  if (Math.abs(fresh.scale - scaleOf(eps.total)) > SCALE_REL_TOLERANCE * fresh.scale) return `the report week's scale ${fresh.scale} is not the Laplace scale of epsilon ${eps.total} (${scaleOf(eps.total)})`;
  const bucket = r.bucket;
  if (!bucket || JSON.stringify(bucket.edges) !== JSON.stringify(WEEKLY_BUCKETS)) return `bucket.edges must be ${JSON.stringify(WEEKLY_BUCKETS)}`;
  if (!Number.isInteger(bucket.report) || bucket.report < 0 || bucket.report >= WEEKLY_BUCKETS.length) return 'bucket.report is not a band index';
  if (!r.show || r.show.encoding !== SHOW_ENCODING || typeof r.show.bits !== 'string') return `show must be ${SHOW_ENCODING}`;
  const bits = unpackBits(r.show.bits, expect.items + 1);
  if (bits === null) return `show.bits is not base64 of ${expect.items + 1} bits`;
  return { report: r as CommunityReport, bits };
}

// ---------------------------------------------------------------- the statistics file

/** Where the aggregator's statistics live in its shared folder. */
export function communityStatsFile(ws: Workspace, aggregatorEmail: string = ws.email): string {
  return path.join(ws.aggregatorDir(aggregatorEmail), STATS_DIR, STATS_FILE);
}

/**
 * The community statistics a participant may read: `stats.json` in the
 * aggregator's folder, once synced here and readable by this datasite, for
 * this catalogue; null otherwise (not published yet, not granted, another
 * catalogue, malformed: the last two are logged).
 */
export async function readCommunityStats(ws: Workspace, aggregatorEmail: string, catalog: Catalog, logger: Logger): Promise<CommunityStats | null> {
  const file = communityStatsFile(ws, aggregatorEmail);
  try {
    if (!(await readableHere(ws, file))) return null;
    const value = (await readJsonFile(file, { maxBytes: MAX_STATS_BYTES })) as CommunityStats | null;
    if (value === null) return null;
    const shaped =
      value.format === COMMUNITY_STATS_FORMAT && value.formatVersion === COMMUNITY_STATS_VERSION &&
      Array.isArray(value.topShows) && value.topShows.every((s) => Number.isInteger(s.item) && s.item >= 0 && s.item < catalog.items.length) &&
      Array.isArray(value.trend) && Array.isArray(value.distribution?.bands) && value.distribution.bands.length === WEEKLY_BUCKETS.length;
    if (!shaped) {
      logger.warn({ file }, 'community statistics in an unknown format; ignored');
      return null;
    }
    if (value.vocabHash !== catalog.hash) {
      logger.warn({ file }, 'community statistics are for another catalogue; ignored');
      return null;
    }
    return value;
  } catch (err) {
    if (isAppError(err, 'ERR_JSON_FORMAT')) logger.debug({ file }, 'the community statistics are not complete yet');
    else logger.warn({ file, err: formatError(err) }, 'cannot read the community statistics');
    return null;
  }
}

// ---------------------------------------------------------------- what a page shows

/** Community figures as a page shows them: every estimate within its valid range (docs/community.md). */
export interface DisplayedCommunity {
  week: string;
  participants: number;
  topShows: { item: number; count: BoundedEstimate }[];
  nothingWatched: BoundedEstimate;
  trend: { week: string; participants: number; mean: BoundedEstimate | null }[];
  bands: { min: number; max: number | null; share: BoundedEstimate; below: BoundedEstimate }[];
}

/** Clip each figure of `stats` to its range: shares to [0, 1], counts to [0, participants], mean plays to [0, WEEKLY_CLIP]. */
export function displayedCommunity(stats: Pick<CommunityStats, 'week' | 'participants' | 'topShows' | 'nothingWatched' | 'trend' | 'distribution'>): DisplayedCommunity {
  const n = stats.participants;
  return {
    week: stats.week,
    participants: n,
    topShows: stats.topShows.map((s) => ({ item: s.item, count: boundedEstimate(s.count, s.se, 0, n) })),
    nothingWatched: boundedEstimate(stats.nothingWatched.count, stats.nothingWatched.se, 0, n),
    trend: stats.trend.map((t) => ({ week: t.week, participants: t.participants, mean: t.mean === null || t.se === null ? null : boundedEstimate(t.mean, t.se, 0, WEEKLY_CLIP) })),
    bands: stats.distribution.bands.map((b) => ({ min: b.min, max: b.max, share: boundedEstimate(b.share, b.se, 0, 1), below: boundedEstimate(b.below, b.belowSe, 0, 1) })),
  };
}
