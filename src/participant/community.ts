import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../shared/atomic';
import type { Config } from '../shared/config';
import { AppError, formatError } from '../shared/errors';
import { canSpend, laplaceNoise, recordSpend } from '../shared/privacy';
import type { Random } from '../shared/random';
import type { CommunityStats } from '../aggregator/community';
import type { ParticipantContext } from './node';
import { readHistoryCache, readPrivacyLedger, writePrivacyLedger } from './state';
import { isoWeek, lastCompleteWeek, playsOf, shiftWeek, showMatcher, type Play } from './insights';

/**
 * Community statistics, participant side: once per ISO week each profile
 * publishes `app_data/<app>/profile_<n>/community.json`, readable by the
 * aggregator only (the app folder's `syft.pub.yaml`). Everything in it is
 * locally differentially private: the aggregator (or anyone who obtains the
 * file) learns about this profile's viewing only what an ε-DP release allows,
 * ε = INSIGHTS_EPSILON per weekly report, recorded in the profile's privacy
 * ledger (`privacy.json`, kind 'community') before the file is written.
 *
 * The report is about the last complete ISO week W before `now` and has three
 * parts, each with a share of ε (basic composition: the shares add up to ε):
 *
 * 1. `weekly` (EPSILON_SHARES.weekly · ε): plays in W, clipped to [0, WEEKLY_CLIP],
 *    plus Laplace(WEEKLY_CLIP / ε_weekly) noise. Each week's value is noised once,
 *    when it is first reported, stored privately, and re-published unchanged in
 *    the next TREND_WEEKS − 1 reports (re-publishing a released value is
 *    post-processing and costs nothing), so the aggregator gets a trend of
 *    TREND_WEEKS weeks for the price of one. Weeks before the profile's first
 *    report are null (that depends only on when the profile joined, never on
 *    its viewing).
 * 2. `bucket` (EPSILON_SHARES.bucket · ε): which band of WEEKLY_BUCKETS the plays
 *    in W fall in, by K-ary randomized response: the true band with probability
 *    e^ε/(e^ε + K − 1), each other band with 1/(e^ε + K − 1). This gives the
 *    community distribution of weekly viewing (a debiased histogram), which
 *    Laplace-noised totals cannot give at these noise levels.
 * 3. `show` (EPSILON_SHARES.show · ε): the catalogue item this profile played
 *    most in W (ties: the lowest id; index `items` = "no matched show"), one-hot
 *    over items + 1 positions and sent by optimized unary encoding (OUE, Wang et
 *    al. 2017): the true position is 1 with probability 1/2, every other one
 *    with probability 1/(e^ε + 1). A dense bit vector, packed LSB-first and
 *    base64-encoded (~1.5 KB for 8,807 items), so the true show is hidden among
 *    ~items/(e^ε + 1) random ones. OUE has the smallest variance of the
 *    standard frequency oracles (4e^ε/(e^ε − 1)² per participant and item,
 *    independent of the catalogue size); one show per profile rather than the
 *    set watched keeps that variance (a set of k would cost k² times more).
 *
 * What that buys for 200 participants (standard errors from the formulas
 * above; the aggregator publishes each figure with its own):
 *
 * | ε per report | mean weekly plays | a band's share | a show's count (at 0) | listed from |
 * |---|---|---|---|---|
 * | 1 | ±8.4  | ±0.53 | ±56 | never (310) |
 * | 2 | ±4.2  | ±0.25 | ±27 | 152 (76%) |
 * | 4 | ±2.1  | ±0.11 | ±12 | 71 (35%) |
 * | 8 | ±1.05 | ±0.05 | ±3.9 | 29 (15%) |
 *
 * ("listed from": how many participants must play a show most before the
 * aggregator lists it, see `estimateShowCounts`.) Errors fall as 1/√n. Local
 * DP is this costly: at the default ε = 1 the figures are honest but mostly
 * noise until there are thousands of participants.
 *
 * Example (abridged):
 * ```json
 * { "format": "syftbox-netflix-svd/community", "formatVersion": 1,
 *   "vocabHash": "5d41…", "items": 8807, "week": "2026-W46",
 *   "epsilon": { "total": 1, "weekly": 0.25, "bucket": 0.25, "show": 0.5 },
 *   "weekly": { "clip": 21, "values": [{ "week": "2026-W39", "plays": null, "scale": null }, …,
 *                                      { "week": "2026-W46", "plays": 131.7, "scale": 84 }] },
 *   "bucket": { "edges": [0, 1, 4, 10, 21], "report": 2 },
 *   "show": { "encoding": "oue-lsb-base64", "bits": "AAQAgA…" } }
 * ```
 * No titles, no dates beyond the ISO week, no counts per title.
 */
export const COMMUNITY_FORMAT = 'syftbox-netflix-svd/community';
export const COMMUNITY_FORMAT_VERSION = 1;
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
export const PRIVACY_KIND = 'community';

const PRIVATE_STATE_FILE = 'community.json';
const PRIVATE_STATE_VERSION = 1;

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

// ---------------------------------------------------------------- mechanisms (shared with the aggregator)

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

// ---------------------------------------------------------------- the report (pure)

/** What the report is computed from: one profile's exact viewing in the report week. */
export interface WeekTruth {
  week: string;
  plays: number;
  /** Most-played catalogue item in the week, or null when no played show matched. */
  topItem: number | null;
}

/** Plays in `week` and its most-played matched item, from a profile's plays. */
export function weekTruth(plays: readonly Play[], week: string, matchShow: (show: string, kind: 'series' | 'film') => number | null): WeekTruth {
  const perItem = new Map<number, number>();
  let count = 0;
  for (const play of plays) {
    if (isoWeek(play.date) !== week) continue;
    count++;
    const item = matchShow(play.show, play.kind);
    if (item !== null) perItem.set(item, (perItem.get(item) ?? 0) + 1);
  }
  let topItem: number | null = null;
  for (const [item, n] of perItem) {
    const best = topItem === null ? 0 : perItem.get(topItem)!;
    if (n > best || (n === best && item < topItem!)) topItem = item;
  }
  return { week, plays: count, topItem };
}

export interface ReportOptions {
  epsilon: number;
  items: number;
  vocabHash: string;
  random: Random;
  /** Values of earlier weeks as published before (re-used unchanged); missing weeks are null. */
  earlier: ReadonlyMap<string, WeeklyValue>;
}

/** An ε-LDP report of `truth` (see the module comment). Pure given the Random. */
export function buildCommunityReport(truth: WeekTruth, options: ReportOptions): CommunityReport {
  const { epsilon, items, random } = options;
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a positive number, got ${epsilon}`);
  const eps = { total: epsilon, weekly: epsilon * EPSILON_SHARES.weekly, bucket: epsilon * EPSILON_SHARES.bucket, show: epsilon * EPSILON_SHARES.show };

  const scale = WEEKLY_CLIP / eps.weekly;
  const fresh: WeeklyValue = { week: truth.week, plays: Math.min(Math.max(truth.plays, 0), WEEKLY_CLIP) + laplaceNoise(scale, random), scale };
  const values: WeeklyValue[] = [];
  for (let back = TREND_WEEKS - 1; back >= 1; back--) {
    const week = shiftWeekLabel(truth.week, -back);
    values.push(options.earlier.get(week) ?? { week, plays: null, scale: null });
  }
  values.push(fresh);

  const bands = WEEKLY_BUCKETS.length;
  const trueBand = bandOf(truth.plays);
  const band = bandProbabilities(eps.bucket, bands);
  let report = trueBand;
  if (random.next() >= band.p) {
    report = random.int(bands - 1);
    if (report >= trueBand) report++;
  }

  const unary = unaryProbabilities(eps.show);
  const position = truth.topItem ?? items;
  const bits = new Uint8Array(items + 1);
  for (let i = 0; i <= items; i++) bits[i] = random.next() < (i === position ? unary.p : unary.q) ? 1 : 0;

  return {
    format: COMMUNITY_FORMAT,
    formatVersion: COMMUNITY_FORMAT_VERSION,
    vocabHash: options.vocabHash,
    items,
    week: truth.week,
    epsilon: eps,
    weekly: { clip: WEEKLY_CLIP, values },
    bucket: { edges: [...WEEKLY_BUCKETS], report },
    show: { encoding: SHOW_ENCODING, bits: packBits(bits) },
  };
}

const WEEK_RE = /^(\d{4})-W(\d{2})$/;

/** `2021-W01` shifted by `offset` weeks (`-1` -> `2020-W53`). */
export function shiftWeekLabel(week: string, offset: number): string {
  const m = WEEK_RE.exec(week);
  if (!m) throw new RangeError(`${JSON.stringify(week)} is not an ISO week like 2021-W01`);
  // January 4th is always in week 1; its week's Monday + 7·(week − 1) days is the week's Monday.
  const jan4 = `${m[1]}-01-04`;
  return shiftWeek(jan4, Number(m[2]) - 1 + offset);
}

// ---------------------------------------------------------------- "am I watching too much?" (pure)

export interface Comparison {
  week: string;
  /** This profile's exact plays in `week`. */
  plays: number;
  /** The band of weekly plays they fall in. */
  band: { min: number; max: number | null };
  /** Share of participants in lower bands (who surely watched less). */
  fewer: { value: number; se: number };
  /**
   * 95% interval of the share who watched less: from `fewer` − 1.96 SE to the
   * share below the next band + 1.96 SE, within [0, 1] (where in the band the
   * others fall is not reported, so the interval spans the band).
   */
  interval: [number, number];
  /** Community mean weekly plays (clipped to WEEKLY_CLIP), if enough reported. */
  mean: { value: number; se: number } | null;
}

const Z95 = 1.959963984540054;

/** Place `plays` (exact, local) in the community's noised distribution of weekly plays. */
export function compareWithCommunity(plays: number, stats: Pick<CommunityStats, 'week' | 'distribution' | 'trend'>): Comparison {
  const { bands } = stats.distribution;
  const k = bandOf(plays);
  const here = bands[k];
  const next = bands[k + 1];
  const clamp = (x: number) => Math.min(1, Math.max(0, x));
  const low = clamp(here.below - Z95 * here.belowSe);
  const high = next === undefined ? 1 : clamp(next.below + Z95 * next.belowSe);
  const last = stats.trend.find((t) => t.week === stats.week);
  return {
    week: stats.week,
    plays,
    band: { min: here.min, max: here.max },
    fewer: { value: here.below, se: here.belowSe },
    interval: [low, Math.max(low, high)],
    mean: last && last.mean !== null && last.se !== null ? { value: last.mean, se: last.se } : null,
  };
}

// ---------------------------------------------------------------- publishing (I/O)



interface PrivateCommunityState {
  formatVersion: typeof PRIVATE_STATE_VERSION;
  /** The last report published, re-published as is until the next week. */
  lastReport: CommunityReport;
}

/** What a community report needs: the participant's context, with only the privacy settings of its config. */
export type CommunityContext = Pick<ParticipantContext, 'ws' | 'catalog' | 'matcher' | 'logger' | 'now' | 'noiseRandom'> & {
  config: Pick<Config, 'INSIGHTS_EPSILON' | 'PRIVACY_BUDGET_EPSILON'>;
};

export type CommunityOutcome =
  | { profile: string; status: 'published'; week: string; epsilon: number }
  | { profile: string; status: 'unchanged'; week: string }
  | { profile: string; status: 'skipped'; reason: string };

/**
 * Publish this week's report for `profile`, at most once per ISO week: the
 * spend is recorded in `privacy.json` first, then the report is kept privately,
 * then published (a crash in between wastes budget, never publishes an
 * unrecorded release). Called again in the same week it re-publishes the same
 * report (restoring a deleted file) and spends nothing.
 */
export async function publishCommunityStats(ctx: CommunityContext, profile: string): Promise<CommunityOutcome> {
  const { config, ws, catalog, logger } = ctx;
  const epsilon = config.INSIGHTS_EPSILON;
  if (epsilon <= 0) return { profile, status: 'skipped', reason: 'INSIGHTS_EPSILON is 0' };
  const dir = ws.privateDir(profile);
  const stateFile = path.join(dir, PRIVATE_STATE_FILE);
  const published = ws.communityStats(profile);
  const week = lastCompleteWeek(ctx.now());
  const state = (await readJsonFile(stateFile, { maxBytes: MAX_COMMUNITY_BYTES })) as PrivateCommunityState | null;
  const previous = state?.formatVersion === PRIVATE_STATE_VERSION && state.lastReport?.vocabHash === catalog.hash ? state.lastReport : null;

  if (previous?.week === week) {
    const current = await readJsonFile(published, { maxBytes: MAX_COMMUNITY_BYTES }).catch(() => null);
    if (JSON.stringify(current) !== JSON.stringify(previous)) await writeJsonAtomic(published, previous);
    return { profile, status: 'unchanged', week };
  }
  const events = (await readHistoryCache(dir))?.events ?? null;
  if (events === null) return { profile, status: 'skipped', reason: 'no parsed history yet' };

  let ledger = await readPrivacyLedger(dir);
  if (!canSpend(ledger, epsilon, config.PRIVACY_BUDGET_EPSILON)) {
    logger.warn({ profile, epsilonSpent: ledger.epsilonSpent, budget: config.PRIVACY_BUDGET_EPSILON }, 'privacy budget reached: no community statistics this week');
    return { profile, status: 'skipped', reason: `privacy budget spent: ${ledger.epsilonSpent} of ${config.PRIVACY_BUDGET_EPSILON}` };
  }

  const earlier = new Map((previous?.weekly.values ?? []).filter((v) => v.plays !== null).map((v) => [v.week, v]));
  const truth = weekTruth(playsOf(events), week, showMatcher(ctx.matcher));
  const report = buildCommunityReport(truth, { epsilon, items: catalog.items.length, vocabHash: catalog.hash, random: ctx.noiseRandom(), earlier });

  ledger = recordSpend(ledger, { at: ctx.now().toISOString(), kind: PRIVACY_KIND, epsilon, delta: 0 });
  await writePrivacyLedger(dir, ledger);
  await writeJsonAtomic(stateFile, { formatVersion: PRIVATE_STATE_VERSION, lastReport: report } satisfies PrivateCommunityState, { private: true });
  await writeJsonAtomic(published, report);
  logger.info({ profile, week, epsilon, epsilonSpent: ledger.epsilonSpent }, 'published community statistics');
  return { profile, status: 'published', week, epsilon };
}

/** publishCommunityStats for several profiles; one profile's failure is logged and does not stop the others. */
export async function publishAllCommunityStats(ctx: CommunityContext, profiles: readonly string[]): Promise<CommunityOutcome[]> {
  const out: CommunityOutcome[] = [];
  for (const profile of profiles) {
    try {
      out.push(await publishCommunityStats(ctx, profile));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      ctx.logger.error({ profile, code: err.code }, formatError(err));
      out.push({ profile, status: 'skipped', reason: formatError(err) });
    }
  }
  return out;
}
