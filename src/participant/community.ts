import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../shared/atomic';
import { matchEvents } from '../shared/catalog';
import {
  bandOf,
  bandProbabilities,
  COMMUNITY_FORMAT,
  COMMUNITY_FORMAT_VERSION,
  EPSILON_SHARES,
  MAX_COMMUNITY_BYTES,
  packBits,
  SHOW_ENCODING,
  TREND_WEEKS,
  unaryProbabilities,
  WEEKLY_BUCKETS,
  WEEKLY_CLIP,
  type CommunityReport,
  type DisplayedCommunity,
  type WeeklyValue,
} from '../shared/community';
import type { Config } from '../shared/config';
import { forEachProfile } from './profiles';
import { canSpend, laplaceNoise, privacySpent, pureDpSpend, recordSpend, configuredBudget } from '../shared/privacy';
import type { Random } from '../shared/random';
import type { BoundedEstimate } from '../shared/stats';
import { isoWeek, lastCompleteWeek, shiftWeekLabel } from '../shared/weeks';
import type { ParticipantContext } from './node';
import { readHistoryCache, readPrivacyLedger, writePrivacyLedger } from './state';
import { playsOf, type Play } from './insights';

/**
 * Community statistics, participant side: once per ISO week each profile
 * publishes a locally differentially private report (format:
 * `src/shared/community.ts`; mechanisms and costs: docs/community.md), its ε
 * recorded in the profile's privacy ledger before the file is written. The
 * page also places this week's exact plays in the community's distribution.
 */
const PRIVACY_KIND = 'community';
const PRIVATE_STATE_FILE = 'community.json';
const PRIVATE_STATE_VERSION = 1;

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

interface ReportOptions {
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

// ---------------------------------------------------------------- "am I watching too much?" (pure)

interface Comparison {
  week: string;
  /** This profile's exact plays in `week`. */
  plays: number;
  /** The band of weekly plays they fall in. */
  band: { min: number; max: number | null };
  /** Share of participants in lower bands (who surely watched less), within [0, 1]. */
  fewer: BoundedEstimate;
  /**
   * 95% interval of the share who watched less: from the low end of `fewer` to
   * the high end of the share below the next band (where in the band the others
   * fall is not reported, so the interval spans the band).
   */
  interval: [number, number];
  /** Community mean weekly plays (clipped to WEEKLY_CLIP), if enough reported. */
  mean: BoundedEstimate | null;
}

/** Place `plays` (exact, local) in the community's noised distribution of weekly plays. */
export function compareWithCommunity(plays: number, shown: Pick<DisplayedCommunity, 'week' | 'bands' | 'trend'>): Comparison {
  const k = bandOf(plays);
  const here = shown.bands[k];
  const next = shown.bands[k + 1];
  const low = here.below.low;
  const high = next === undefined ? 1 : next.below.high;
  return {
    week: shown.week,
    plays,
    band: { min: here.min, max: here.max },
    fewer: here.below,
    interval: [low, Math.max(low, high)],
    mean: shown.trend.find((t) => t.week === shown.week)?.mean ?? null,
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
  config: Pick<Config, 'INSIGHTS_EPSILON' | 'PRIVACY_BUDGET_EPSILON' | 'PRIVACY_PERIOD_DAYS' | 'DP_DELTA'>;
};

type CommunityOutcome =
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
  const budget = configuredBudget(config);
  const spend = pureDpSpend(ctx.now().toISOString(), PRIVACY_KIND, 'pure-dp', epsilon);
  if (!canSpend(ledger, spend, budget, ctx.now())) {
    const epsilonSpent = privacySpent(ledger, budget, ctx.now()).epsilon;
    logger.warn({ profile, epsilonSpent, budget: config.PRIVACY_BUDGET_EPSILON }, 'privacy budget reached: no community statistics this week');
    return { profile, status: 'skipped', reason: `privacy budget spent: ${epsilonSpent.toFixed(2)} of ${config.PRIVACY_BUDGET_EPSILON}` };
  }

  const earlier = new Map((previous?.weekly.values ?? []).filter((v) => v.plays !== null).map((v) => [v.week, v]));
  const matched = matchEvents(events, ctx.matcher);
  const truth = weekTruth(playsOf(matched.events), week, matched.itemOf);
  const report = buildCommunityReport(truth, { epsilon, items: catalog.items.length, vocabHash: catalog.hash, random: ctx.noiseRandom(), earlier });

  ledger = recordSpend(ledger, spend);
  await writePrivacyLedger(dir, ledger);
  await writeJsonAtomic(stateFile, { formatVersion: PRIVATE_STATE_VERSION, lastReport: report } satisfies PrivateCommunityState, { private: true });
  await writeJsonAtomic(published, report);
  logger.info({ profile, week, epsilon, epsilonSpent: privacySpent(ledger, budget, ctx.now()).epsilon }, 'published community statistics');
  return { profile, status: 'published', week, epsilon };
}

/** publishCommunityStats for several profiles; one profile's failure is logged and does not stop the others. */
export async function publishAllCommunityStats(ctx: CommunityContext, profiles: readonly string[]): Promise<CommunityOutcome[]> {
  return forEachProfile(profiles, ctx.logger, (profile) => publishCommunityStats(ctx, profile), (profile, reason) => ({ profile, status: 'skipped', reason }));
}
