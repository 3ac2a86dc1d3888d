import { readJsonFile } from '../shared/atomic';
import type { Catalog } from '../shared/catalog';
import { communityStatsFile, COMMUNITY_STATS_FORMAT, COMMUNITY_STATS_VERSION, MAX_STATS_BYTES, TREND_WEEKS, type CommunityStats, type ShowCount, type TrendPoint } from '../shared/community';
import { COMMUNITY_CLIP_NORM, communityEncoding, communityLayout, communityNoise, estimateFromSum, MAX_CLICKS_PER_ARM } from '../shared/community-sum';
import type { Config } from '../shared/config';
import { lastCompleteWeek, shiftWeekLabel } from '../shared/weeks';
import { secureRoundsView } from '../shared/workspace';
import { writeCommunityStats } from './community';
import { finishedSecureRounds, type RoundPurpose, type SecureContext, type SummedRound } from './secagg';

/**
 * Community statistics under secure aggregation, aggregator side: once per ISO
 * week a secure round of its own (`secagg/community/`, the same state machine
 * as model rounds) sums every member's week vector (`src/shared/community-sum.ts`)
 * with Skellam noise calibrated so that the sum over any ≥ T survivors is
 * (INSIGHTS_EPSILON, DP_DELTA)-DP per datasite. The decoded sum becomes
 * `stats.json` (format version 2, mechanism `secure-sum`) and the public page.
 * The trend is post-processing: earlier weeks come from the previous stats.json.
 */
/** Community rounds opened per week at most (a round that aborts may be retried once). */
export const COMMUNITY_ROUNDS_PER_WEEK = 2;
/** Shows listed in stats.json (at most). */
const TOP_COMMUNITY_SHOWS = 20;

/** The context of community rounds: the aggregator's secure context with the community's folders, noise and purpose. */
export function communityRoundContext<C extends SecureContext>(ctx: C, config: Pick<Config, 'INSIGHTS_EPSILON' | 'DP_DELTA' | 'SECAGG_SCALE_BITS'>, catalog: Catalog): C {
  const ws = secureRoundsView(ctx.ws, 'community');
  const encoding = communityEncoding(catalog.items.length, config.SECAGG_SCALE_BITS);
  const secure = { ...ctx.secure, scaleBits: config.SECAGG_SCALE_BITS };
  const rounds = { ...ctx, ws, secure };
  const purpose: RoundPurpose = {
    layout: communityLayout(catalog.items.length),
    clipNorm: COMMUNITY_CLIP_NORM,
    weightScale: COMMUNITY_CLIP_NORM,
    noise: communityNoise(encoding, config.INSIGHTS_EPSILON, config.DP_DELTA),
    holdBack: async (now) => {
      if (config.INSIGHTS_EPSILON <= 0) return 'INSIGHTS_EPSILON is 0: no community statistics';
      const week = lastCompleteWeek(now);
      const published = await readPublished(ctx.ws, catalog);
      if (published?.week === week && published.mechanism === 'secure-sum') return `the community statistics of ${week} are published`;
      const tries = (await finishedSecureRounds(rounds)).filter((r) => lastCompleteWeek(new Date(r.openedAt)) === week).length;
      return tries >= COMMUNITY_ROUNDS_PER_WEEK ? `${tries} community rounds ran for ${week} without a result; the next opens next week` : null;
    },
    commit: async (sum, round) => {
      const stats = communityStatsFromSum(sum, round, { catalog, epsilon: config.INSIGHTS_EPSILON, delta: config.DP_DELTA, previous: await readPublished(ctx.ws, catalog), createdAt: ctx.now().toISOString() });
      await writeCommunityStats(ctx.ws, ctx.ws.email, stats, catalog);
      ctx.logger.info({ roundId: round.roundId, week: stats.week, participants: stats.participants, topShows: stats.topShows.length }, 'published community statistics');
      return null;
    },
  };
  return { ...rounds, purpose };
}

async function readPublished(ws: SecureContext['ws'], catalog: Catalog): Promise<CommunityStats | null> {
  const value = (await readJsonFile(communityStatsFile(ws), { maxBytes: MAX_STATS_BYTES }).catch(() => null)) as CommunityStats | null;
  return value?.formatVersion === COMMUNITY_STATS_VERSION && value.vocabHash === catalog.hash ? value : null;
}

interface FromSumOptions {
  catalog: Catalog;
  epsilon: number;
  delta: number;
  /** The last published statistics: the trend's earlier weeks come from there. */
  previous: CommunityStats | null;
  createdAt: string;
}

/** The statistics of the week the round was opened after (pure). */
export function communityStatsFromSum(sum: Float64Array, round: SummedRound, options: FromSumOptions): CommunityStats {
  const week = lastCompleteWeek(new Date(round.createdAt));
  const items = options.catalog.items.length;
  const est = estimateFromSum(sum, round.survivors, round.encoding, { noise: round.noise, minSurvivors: round.minSurvivors });
  const topShows: ShowCount[] = [];
  for (let item = 0; item < items; item++) if (est.showCounts[item] > est.detectableCount) topShows.push({ item, count: est.showCounts[item], se: est.showSe });
  topShows.sort((a, b) => b.count - a.count || a.item - b.item);
  const earlier = new Map((options.previous?.mechanism === 'secure-sum' ? options.previous.trend : []).map((t) => [t.week, t]));
  const trend: TrendPoint[] = [];
  for (let back = TREND_WEEKS - 1; back >= 1; back--) {
    const label = shiftWeekLabel(week, -back);
    trend.push(earlier.get(label) ?? { week: label, participants: 0, mean: null, se: null });
  }
  trend.push({ week, participants: est.participants, mean: est.mean, se: est.meanSe });
  return {
    format: COMMUNITY_STATS_FORMAT,
    formatVersion: COMMUNITY_STATS_VERSION,
    createdAt: options.createdAt,
    week,
    participants: est.participants,
    vocabHash: options.catalog.hash,
    mechanism: 'secure-sum',
    epsilon: { min: options.epsilon, max: options.epsilon },
    delta: options.delta,
    detectableCount: est.detectableCount,
    topShows: topShows.slice(0, TOP_COMMUNITY_SHOWS),
    nothingWatched: { count: est.showCounts[items], se: est.showSe },
    trend,
    distribution: { participants: est.participants, bands: est.bands },
    clicks: { maxPerArm: MAX_CLICKS_PER_ARM, local: { count: est.clicks.local, se: est.clicksSe }, global: { count: est.clicks.global, se: est.clicksSe } },
  };
}
