import { createHash } from 'node:crypto';
import path from 'node:path';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import type { Catalog } from '../shared/catalog';
import {
  bandProbabilities,
  communityStatsFile,
  COMMUNITY_STATS_FORMAT,
  COMMUNITY_STATS_VERSION,
  decodeCommunityReport,
  displayedCommunity,
  MAX_COMMUNITY_BYTES,
  MAX_STATS_BYTES,
  TREND_WEEKS,
  unaryProbabilities,
  WEEKLY_BUCKETS,
  WEEKLY_CLIP,
  type Band,
  type CommunityStats,
  type DecodedReport,
  type ShowCount,
  type TrendPoint,
} from '../shared/community';
import { formatError, isAppError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { readableHere } from '../shared/permissions';
import { isoWeek, shiftWeekLabel } from '../shared/weeks';
import { Workspace } from '../shared/workspace';
import { discoverProfiles } from './discover';

/**
 * Community statistics, aggregator side: every readable participant report
 * (found as `discoverProfiles` finds profiles) debiased into community figures
 * with their standard errors, once at least MIN_PARTICIPANTS profiles reported
 * on the same ISO week. Writes `aggregator/community/stats.json` (format:
 * `src/shared/community.ts`) and the public `index.html` of top shows (titles
 * are safe there: every figure aggregates ε-LDP reports). The estimators and
 * their errors are derived in docs/community.md.
 */
/** Chance, over the whole catalogue, of listing a show that no participant played most. */
const DETECTION_ALPHA = 0.05;
/** Shows listed in stats.json (at most). */
const TOP_COMMUNITY_SHOWS = 20;
/** Shows listed on the public page. */
const PUBLIC_TOP_SHOWS = 10;
const PUBLIC_PAGE = 'index.html';
const PRIVATE_STATE_FILE = 'community.json';
const PRIVATE_STATE_VERSION = 1;
const MAX_PRIVATE_STATE_BYTES = 64 * 1024; // 64 KiB

type CommunityEstimates = Omit<CommunityStats, 'format' | 'formatVersion' | 'createdAt' | 'vocabHash'>;

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

interface ShowCounts {
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

interface AggregateCommunityOptions {
  /** App folder whose reports are read; defaults to the workspace's. */
  appName?: string;
  /** Whose aggregator folder receives stats.json; defaults to the workspace's own datasite. */
  aggregatorEmail?: string;
  catalog: Catalog;
  minParticipants: number;
  now: () => Date;
  logger: Logger;
}

type CommunityResult =
  | { status: 'published'; week: string; participants: number; statsFile: string; publicFile: string }
  | { status: 'unchanged'; week: string; participants: number }
  | { status: 'waiting'; week: string | null; participants: number };

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
  for (const { email, profile } of await discoverProfiles(view, logger, path.basename(view.communityStats('profile_0')))) {
    const file = view.communityStats(profile, email);
    try {
      if (!(await readableHere(view, file))) continue;
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
      // Not JSON (yet): still being written; read again next time.
      if (isAppError(err, 'ERR_JSON_FORMAT')) logger.debug({ file }, 'a community report is not complete yet');
      else logger.warn({ file, err: formatError(err) }, 'skipped a community report');
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
  const statsFile = communityStatsFile(view, aggregator);
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

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** The public page: the community's top shows of the week, each with its uncertainty. */
export function renderCommunityHtml(stats: CommunityStats, catalog: Catalog): string {
  const n = stats.participants;
  const shown = displayedCommunity(stats);
  const rows = shown.topShows.slice(0, PUBLIC_TOP_SHOWS).map(({ item: id, count }, i) => {
    const item = catalog.items[id];
    const meta = [item.kind === 'series' ? 'Series' : 'Film', item.year, item.genres.slice(0, 2).join(', ')].filter((x) => x !== null && x !== '').join(' · ');
    const share = `${percent(count.value / n)}${count.clipped ? '*' : ''}`;
    return `<tr><td>${i + 1}</td><td><strong>${escapeHtml(item.title)}</strong><br><span class="meta">${escapeHtml(meta)}</span></td><td>${share}</td><td>${percent(count.low / n)} to ${percent(count.high / n)}</td></tr>`;
  });
  const clipped = shown.topShows.slice(0, PUBLIC_TOP_SHOWS).some((s) => s.count.clipped)
    ? `<p class="meta">* The noisy estimate came out above 100%; it is shown as 100%.</p>`
    : '';
  const table =
    rows.length > 0
      ? `<table>\n<thead><tr><th>#</th><th>Show</th><th>Share</th><th>95% interval</th></tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>\n${clipped}`
      : `<p><strong>No show stands out from the noise yet.</strong> With ${n} participants a show must be the most-played of about ${Math.ceil(stats.detectableCount)} of them to be listed; more participants (or a larger ε) make that fewer.</p>`;
  const mean = shown.trend.at(-1)?.mean;
  const meanText = mean ? `<p>Average plays per participant that week: <strong>${mean.value.toFixed(1)}</strong> (95% interval ${mean.low.toFixed(1)} to ${mean.high.toFixed(1)}; plays counted up to ${WEEKLY_CLIP}${mean.clipped ? '; the noisy estimate came out below 0 and is shown as 0' : ''}).</p>` : '';
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
<p>Each participant's app sent only a randomized report of the show it played most that week; nobody, the aggregator included, saw anyone's viewing. The shares below are debiased estimates of the share of participants whose most-played show it was, with the 95% interval of the randomization (kept within 0% to 100%). A show is listed only when its estimate exceeds ${stats.detectableCount.toFixed(1)} participants, a level that noise alone reaches for any show with a probability below ${DETECTION_ALPHA * 100}%.</p>
${table}
${meanText}
</main>
</body>
</html>
`;
}
