import { createHash } from 'node:crypto';
import path from 'node:path';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import type { Catalog } from '../shared/catalog';
import { formatError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { canRead } from '../shared/permissions';
import { Workspace } from '../shared/workspace';
import {
  bandProbabilities,
  COMMUNITY_FORMAT,
  COMMUNITY_FORMAT_VERSION,
  EPSILON_SHARES,
  MAX_COMMUNITY_BYTES,
  shiftWeekLabel,
  SHOW_ENCODING,
  TREND_WEEKS,
  unaryProbabilities,
  unpackBits,
  WEEKLY_BUCKETS,
  WEEKLY_CLIP,
  type CommunityReport,
} from '../participant/community';
import { isoWeek } from '../participant/insights';
import { discoverProfiles } from './discover';

/**
 * Community statistics, aggregator side: every participant profile's
 * locally-private weekly report (`profile_<n>/community.json`, see
 * `src/participant/community.ts`; profiles are found as `discoverProfiles`
 * finds them, i.e. those that also publish a delta and let the aggregator
 * read it) debiased into community figures, each with
 * its standard error, once at least MIN_PARTICIPANTS profiles reported on the
 * same ISO week. Outputs, both written atomically:
 *
 * - `aggregator/community/stats.json`, readable by the contributors (the
 *   aggregator folder's `syft.pub.yaml` grants them `community/**`); item ids
 *   only, the participant's page maps them to titles with its catalogue:
 *   ```json
 *   { "format": "syftbox-netflix-svd/community-stats", "formatVersion": 1,
 *     "createdAt": "…", "week": "2026-W46", "participants": 231, "vocabHash": "5d41…",
 *     "epsilon": { "min": 4, "max": 4 }, "detectableCount": 62.1,
 *     "topShows": [{ "item": 42, "count": 81.2, "se": 15.4 }, …],
 *     "nothingWatched": { "count": 80.1, "se": 26.9 },
 *     "trend": [{ "week": "2026-W39", "participants": 12, "mean": null, "se": null }, …,
 *               { "week": "2026-W46", "participants": 231, "mean": 7.9, "se": 5.5 }],
 *     "distribution": { "participants": 231, "bands": [
 *       { "min": 0, "max": 0, "share": 0.21, "se": 0.07, "below": 0, "belowSe": 0 }, …] } }
 *   ```
 *   `count` is the estimated number of participants whose most-played show of
 *   the week it was; `mean` the mean weekly plays (clipped to WEEKLY_CLIP);
 *   `share` the estimated share of participants in a band of weekly plays and
 *   `below` the share in the bands under it. Weeks of the trend with fewer
 *   than MIN_PARTICIPANTS values have null figures.
 * - `public/index.html` in the aggregator's datasite (world-readable): the top
 *   shows with titles, as the original app published. Titles are safe there:
 *   every figure is an aggregate of ε-LDP reports.
 *
 * Estimators (all unbiased; heterogeneous ε across participants is allowed,
 * each report is debiased with its own probabilities):
 * - OUE show counts: count_j = Σ_i (b_ij − q_i)/(p − q_i);
 * - K-ary randomized response band shares: for a set S of bands,
 *   share_S = (1/n) Σ_i (1[r_i ∈ S] − |S|·q_i)/(p_i − q_i);
 * - Laplace weekly values: mean = (1/n) Σ_i y_i.
 * Standard errors are those of the noise given the participants (the figures
 * describe this community, not a wider population): for the randomized parts
 * √(Σ_i π_i(1 − π_i))/(p − q_i) with π_i the report's probability of a 1 at the
 * estimate, for the Laplace part √(Σ_i 2·scale_i²)/n.
 */
export const COMMUNITY_STATS_FORMAT = 'syftbox-netflix-svd/community-stats';
export const COMMUNITY_STATS_VERSION = 1;
/** Chance, over the whole catalogue, of listing a show that no participant played most. */
export const DETECTION_ALPHA = 0.05;
/** Shows listed in stats.json (at most). */
export const TOP_COMMUNITY_SHOWS = 20;
/** Shows listed on the public page. */
export const PUBLIC_TOP_SHOWS = 10;
export const COMMUNITY_DIR = 'community';
export const STATS_FILE = 'stats.json';
export const PUBLIC_PAGE = 'index.html';
/**
 * The ε a report may claim. Every estimator divides by the report's own
 * probabilities, so a tiny claimed ε makes one report weigh anything (ε = 1e-6
 * put 319,199,993 plays per participant on the public page); a huge one is
 * implausible. From 1, the smallest the participant's documentation tabulates.
 */
export const MIN_REPORT_EPSILON = 1;
const MAX_REPORT_EPSILON = 100;
const PRIVATE_STATE_FILE = 'community.json';
const PRIVATE_STATE_VERSION = 1;
const MAX_PRIVATE_STATE_BYTES = 64 * 1024; // 64 KiB
/** Largest stats.json read back (one is ~5 KB). */
export const MAX_STATS_BYTES = 1024 * 1024; // 1 MiB
/** A Laplace draw beyond this many scales has probability e^-14 (8e-7): such a value is refused as forged. */
const MAX_NOISE_SCALES = 14;
const SCALE_REL_TOLERANCE = 1e-9;

export interface Estimate {
  /** Point estimate. */
  value: number;
  /** Standard error of the noise. */
  se: number;
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
  /** The count a show must exceed to be listed (see estimateShowCounts): about how many participants must play it most. */
  detectableCount: number;
  /** Shows whose count exceeds detectableCount, largest first; empty when none does. */
  topShows: ShowCount[];
  nothingWatched: { count: number; se: number };
  trend: TrendPoint[];
  distribution: { participants: number; bands: Band[] };
}

export type CommunityEstimates = Omit<CommunityStats, 'format' | 'formatVersion' | 'createdAt' | 'vocabHash'>;

/** A parsed report with its bits decoded. */
export interface DecodedReport {
  report: CommunityReport;
  bits: Uint8Array;
}

const WEEK_RE = /^\d{4}-W\d{2}$/;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Check a report against the format and the aggregator's catalogue; returns the problem, or the decoded report. */
export function decodeCommunityReport(value: unknown, expect: { items: number; vocabHash: string }): DecodedReport | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const r = value as Partial<CommunityReport>;
  if (r.format !== COMMUNITY_FORMAT || r.formatVersion !== COMMUNITY_FORMAT_VERSION) return `format ${String(r.format)} version ${String(r.formatVersion)} is not ${COMMUNITY_FORMAT} version ${COMMUNITY_FORMAT_VERSION}`;
  if (r.vocabHash !== expect.vocabHash || r.items !== expect.items) return 'made for another catalogue';
  if (typeof r.week !== 'string' || !WEEK_RE.test(r.week)) return 'week is not an ISO week';
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

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

export interface ShowCounts {
  /** Debiased counts per position: item ids, then `items` = no matched show. */
  counts: Float64Array;
  /** Standard error of one position's count. */
  se(position: number): number;
  /** Standard error of a count whose true share of the participants is `share`. */
  seAt(share: number): number;
  /** The count a show nobody played most exceeds with probability at most DETECTION_ALPHA / items (see estimateShowCounts). */
  detectableCount: number;
}

/**
 * OUE counts of the reports' shows: count_j = Σ_i (b_ij − q_i)/(p − q_i).
 *
 * Which shows to list: ranking by raw estimates would list the luckiest noise
 * (the largest of 8,807 pure-noise counts is about 3.9 standard errors), so a
 * show is listed only when its count exceeds `detectableCount`, the level a
 * show nobody played most exceeds with probability at most
 * DETECTION_ALPHA / items; by the union bound, the chance of listing any such
 * show is below DETECTION_ALPHA. Under "nobody", each term X_i = (b_ij − q_i)/(p − q_i)
 * has mean 0, variance q_i(1 − q_i)/(p − q_i)² and |X_i| ≤ M = max 1/(p − q_i),
 * so Bernstein's inequality P(ΣX ≥ t) ≤ exp(−t² / (2σ² + 2Mt/3)) gives
 * t = ML/3 + √((ML/3)² + 2σ²L), L = ln(items / DETECTION_ALPHA). (A normal
 * approximation is not safe here: with small q the bit sums are Poisson-like
 * and their upper tail is much heavier than the normal's.)
 */
export function estimateShowCounts(reports: readonly DecodedReport[], items: number): ShowCounts {
  const positions = items + 1;
  const counts = new Float64Array(positions);
  const unary = reports.map((d) => unaryProbabilities(d.report.epsilon.show));
  reports.forEach(({ bits }, i) => {
    const { p, q } = unary[i];
    for (let j = 0; j < positions; j++) counts[j] += (bits[j] - q) / (p - q);
  });
  const n = reports.length;
  let nullVariance = 0;
  let bound = 0;
  for (const { p, q } of unary) {
    nullVariance += (q * (1 - q)) / (p - q) ** 2;
    bound = Math.max(bound, 1 / (p - q));
  }
  const logTerm = Math.log(items / DETECTION_ALPHA);
  const linear = (bound * logTerm) / 3;
  const detectableCount = linear + Math.sqrt(linear ** 2 + 2 * nullVariance * logTerm);
  const seAt = (share: number): number => {
    let variance = 0;
    for (const { p, q } of unary) {
      const pi = q + (p - q) * clamp01(share);
      variance += (pi * (1 - pi)) / (p - q) ** 2;
    }
    return Math.sqrt(variance);
  };
  return { counts, seAt, se: (position) => seAt(counts[position] / n), detectableCount };
}

/**
 * Debiased community figures from decoded reports (pure). Top shows and the
 * distribution use the reports of the newest week that MIN_PARTICIPANTS
 * reported on (else of the newest week: the caller then waits), so a lone
 * report from a skewed clock cannot hold the figures back; the trend uses every
 * report's weekly values.
 */
export function estimateCommunity(decoded: readonly DecodedReport[], options: { items: number; minParticipants: number }): CommunityEstimates | null {
  if (decoded.length === 0) return null;
  const perWeek = new Map<string, number>();
  for (const d of decoded) perWeek.set(d.report.week, (perWeek.get(d.report.week) ?? 0) + 1);
  const weeks = [...perWeek.keys()].sort().reverse();
  const week = weeks.find((w) => perWeek.get(w)! >= options.minParticipants) ?? weeks[0];
  const current = decoded.filter((d) => d.report.week === week);
  const n = current.length;
  const epsilons = current.map((d) => d.report.epsilon.total);

  const shows = estimateShowCounts(current, options.items);
  const { detectableCount } = shows;
  const detected: ShowCount[] = [];
  for (let item = 0; item < options.items; item++) {
    if (shows.counts[item] > detectableCount) detected.push({ item, count: shows.counts[item], se: shows.se(item) });
  }
  const topShows = detected.sort((a, b) => b.count - a.count || a.item - b.item).slice(0, TOP_COMMUNITY_SHOWS);

  // K-ary RR band shares
  const bands = WEEKLY_BUCKETS.length;
  const rr = current.map((d) => bandProbabilities(d.report.epsilon.bucket, bands));
  const shareOf = (inSet: (band: number) => boolean, size: number): { share: number; se: number } => {
    if (size === 0) return { share: 0, se: 0 };
    let sum = 0;
    current.forEach((d, i) => {
      const { p, q } = rr[i];
      sum += ((inSet(d.report.bucket.report) ? 1 : 0) - size * q) / (p - q);
    });
    const share = sum / n;
    let variance = 0;
    for (const { p, q } of rr) {
      const pi = clamp01(size * q + (p - q) * clamp01(share));
      variance += (pi * (1 - pi)) / (p - q) ** 2;
    }
    return { share, se: Math.sqrt(variance) / n };
  };
  const distribution = WEEKLY_BUCKETS.map((min, k): Band => {
    const own = shareOf((b) => b === k, 1);
    const below = shareOf((b) => b < k, k);
    return { min, max: k + 1 < bands ? WEEKLY_BUCKETS[k + 1] - 1 : null, share: own.share, se: own.se, below: below.share, belowSe: below.se };
  });

  // Laplace trend
  const trend: TrendPoint[] = [];
  for (let back = TREND_WEEKS - 1; back >= 0; back--) {
    const label = shiftWeekLabel(week, -back);
    let sum = 0;
    let noiseVariance = 0;
    let count = 0;
    for (const { report } of decoded) {
      const value = report.weekly.values.find((v) => v.week === label);
      if (!value || value.plays === null || value.scale === null) continue;
      sum += value.plays;
      noiseVariance += 2 * value.scale ** 2;
      count++;
    }
    const enough = count >= options.minParticipants && count > 0;
    trend.push({ week: label, participants: count, mean: enough ? sum / count : null, se: enough ? Math.sqrt(noiseVariance) / count : null });
  }

  return {
    week,
    participants: n,
    epsilon: { min: Math.min(...epsilons), max: Math.max(...epsilons) },
    detectableCount,
    topShows,
    nothingWatched: { count: shows.counts[options.items], se: shows.se(options.items) },
    trend,
    distribution: { participants: n, bands: distribution },
  };
}

export interface AggregateCommunityOptions {
  /** App folder whose reports are read; defaults to the workspace's. */
  appName?: string;
  /** Whose aggregator folder receives stats.json; defaults to the workspace's own datasite. */
  aggregatorEmail?: string;
  catalog: Catalog;
  minParticipants: number;
  now: () => Date;
  logger: Logger;
}

export type CommunityResult =
  | { status: 'published'; week: string; participants: number; statsFile: string; publicFile: string }
  | { status: 'unchanged'; week: string; participants: number }
  | { status: 'waiting'; week: string | null; participants: number };

/** Folder of the community outputs inside the aggregator's shared folder. */
export function communityDir(ws: Workspace, aggregatorEmail: string = ws.email): string {
  return path.join(ws.aggregatorDir(aggregatorEmail), COMMUNITY_DIR);
}

/**
 * Read every readable community report, and once MIN_PARTICIPANTS reported on
 * the newest week, write stats.json and the public index.html (only when the
 * reports changed since the last write). Unreadable or malformed reports are
 * skipped with a log line naming the file.
 */
export async function aggregateCommunity(ws: Workspace, options: AggregateCommunityOptions): Promise<CommunityResult> {
  const { catalog, logger } = options;
  const view = options.appName && options.appName !== ws.appName ? new Workspace(ws, options.appName) : ws;
  const aggregator = options.aggregatorEmail ?? view.email;
  const expect = { items: catalog.items.length, vocabHash: catalog.hash };
  const decoded: DecodedReport[] = [];
  const hash = createHash('sha256').update(JSON.stringify({ minParticipants: options.minParticipants, vocab: catalog.hash }));
  for (const { email, profile } of await discoverProfiles(view, logger)) {
    const file = view.communityStats(profile, email);
    try {
      if (!(await canRead(view.datasitesDir, view.email, file))) continue;
      const value = await readJsonFile(file, { maxBytes: MAX_COMMUNITY_BYTES });
      if (value === null) continue;
      const result = decodeCommunityReport(value, expect);
      if (typeof result === 'string') {
        logger.warn({ file, problem: result }, 'skipped a community report');
        continue;
      }
      decoded.push(result);
      hash.update(`${email}/${profile}\u0000${JSON.stringify(value)}\n`);
    } catch (err) {
      logger.warn({ file, err: formatError(err) }, 'skipped a community report');
    }
  }
  const thisWeek = isoWeek(options.now().toISOString().slice(0, 10));
  const future = decoded.filter((d) => d.report.week > thisWeek).length;
  if (future > 0) logger.warn({ reports: future, thisWeek }, 'skipped community reports about weeks that have not happened yet (a participant\'s clock is wrong)');
  const timely = decoded.filter((d) => d.report.week <= thisWeek);
  const estimates = estimateCommunity(timely, { items: expect.items, minParticipants: options.minParticipants });
  if (estimates === null || estimates.participants < options.minParticipants) {
    logger.info({ week: estimates?.week ?? null, participants: estimates?.participants ?? 0, needed: options.minParticipants }, 'too few community reports to publish statistics');
    return { status: 'waiting', week: estimates?.week ?? null, participants: estimates?.participants ?? 0 };
  }

  const inputsSha256 = hash.digest('hex');
  const stateFile = path.join(view.aggregatorPrivateDir(), PRIVATE_STATE_FILE);
  const statsFile = path.join(communityDir(view, aggregator), STATS_FILE);
  const publicFile = path.join(view.publicDir(aggregator), PUBLIC_PAGE);
  const state = (await readJsonFile(stateFile, { maxBytes: MAX_PRIVATE_STATE_BYTES }).catch(() => null)) as { inputsSha256?: string } | null;
  const existing = await readJsonFile(statsFile, { maxBytes: MAX_STATS_BYTES }).catch(() => null);
  if (state?.inputsSha256 === inputsSha256 && existing !== null) return { status: 'unchanged', week: estimates.week, participants: estimates.participants };

  const stats: CommunityStats = {
    format: COMMUNITY_STATS_FORMAT,
    formatVersion: COMMUNITY_STATS_VERSION,
    createdAt: options.now().toISOString(),
    vocabHash: catalog.hash,
    ...estimates,
  };
  await writeJsonAtomic(statsFile, stats);
  await writeFileAtomic(publicFile, renderCommunityHtml(stats, catalog));
  await writeJsonAtomic(stateFile, { formatVersion: PRIVATE_STATE_VERSION, inputsSha256 }, { private: true });
  logger.info({ week: stats.week, participants: stats.participants }, 'published community statistics');
  return { status: 'published', week: stats.week, participants: stats.participants, statsFile, publicFile };
}

/**
 * The community statistics a participant may read: `stats.json` in the
 * aggregator's folder, once synced here and readable by this datasite, for
 * this catalogue; null otherwise (not published yet, not granted, another
 * catalogue, malformed: the last two are logged).
 */
export async function readCommunityStats(ws: Workspace, aggregatorEmail: string, catalog: Catalog, logger: Logger): Promise<CommunityStats | null> {
  const file = path.join(communityDir(ws, aggregatorEmail), STATS_FILE);
  try {
    if (!(await canRead(ws.datasitesDir, ws.email, file))) return null;
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
    logger.warn({ file, err: formatError(err) }, 'cannot read the community statistics');
    return null;
  }
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** The public page: the community's top shows of the week, each with its uncertainty. */
export function renderCommunityHtml(stats: CommunityStats, catalog: Catalog): string {
  const n = stats.participants;
  const rows = stats.topShows.slice(0, PUBLIC_TOP_SHOWS).map((show, i) => {
    const item = catalog.items[show.item];
    const meta = [item.kind === 'series' ? 'Series' : 'Film', item.year, item.genres.slice(0, 2).join(', ')].filter((x) => x !== null && x !== '').join(' · ');
    return `<tr><td>${i + 1}</td><td><strong>${escapeHtml(item.title)}</strong><br><span class="meta">${escapeHtml(meta)}</span></td><td>${percent(show.count / n)}</td><td>± ${percent(show.se / n)}</td></tr>`;
  });
  const table =
    rows.length > 0
      ? `<table>\n<thead><tr><th>#</th><th>Show</th><th>Share</th><th>Std. error</th></tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`
      : `<p><strong>No show stands out from the noise yet.</strong> With ${n} participants a show must be the most-played of about ${Math.ceil(stats.detectableCount)} of them to be listed; more participants (or a larger ε) make that fewer.</p>`;
  const last = stats.trend.at(-1);
  const mean = last?.mean != null && last.se != null ? `<p>Average plays per participant that week: <strong>${last.mean.toFixed(1)}</strong> ± ${last.se.toFixed(1)} (counted up to ${WEEKLY_CLIP}).</p>` : '';
  const eps = stats.epsilon.min === stats.epsilon.max ? `ε = ${stats.epsilon.min}` : `ε from ${stats.epsilon.min} to ${stats.epsilon.max}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Community top shows, ${escapeHtml(stats.week)}</title>
<style>
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d24; background: #f6f5f2; margin: 0; }
  main { max-width: 760px; margin: 0 auto; padding: 32px 20px 48px; }
  h1 { font-size: 1.6rem; margin: 0 0 4px; }
  .meta { color: #66656e; font-size: .9rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 6px; overflow: hidden; margin-top: 16px; }
  th, td { text-align: right; padding: 8px 12px; border-bottom: 1px solid #ecebe6; font-variant-numeric: tabular-nums; vertical-align: top; }
  th:nth-child(2), td:nth-child(2) { text-align: left; }
  thead th { background: #efeee9; font-weight: 600; }
</style>
</head>
<body>
<main>
<h1>What the community watched in ${escapeHtml(stats.week)}</h1>
<p class="meta">Updated ${escapeHtml(stats.createdAt)} · ${n} participants · locally differentially private reports (${escapeHtml(eps)} per weekly report)</p>
<p>Each participant's app sent only a randomized report of the show it played most that week; nobody, the aggregator included, saw anyone's viewing. The shares below are debiased estimates of the share of participants whose most-played show it was, with one standard error of the randomization. A show is listed only when its estimate exceeds ${stats.detectableCount.toFixed(1)} participants, a level that noise alone reaches for any show with a probability below ${DETECTION_ALPHA * 100}%.</p>
${table}
${mean}
</main>
</body>
</html>
`;
}
