import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../shared/atomic';
import { matchEvents } from '../shared/catalog';
import { readClickLog, type Arm } from '../shared/clicks';
import { buildCommunityContribution, COMMUNITY_CLIP_NORM, communityLayout, communityNoise, communitySpend, type WeekSummary } from '../shared/community-sum';
import { canSpend, configuredBudget } from '../shared/privacy';
import { lastCompleteWeek } from '../shared/weeks';
import { isProfileName, secureRoundsView } from '../shared/workspace';
import { weekTruth } from './community';
import type { ParticipantContext } from './node';
import { playsOf } from './insights';
import { readAssignments } from './profiles';
import { respondToSecureRound, type MemberContext, type MemberPurpose, type MemberStep } from './secagg';
import { readHistoryCache, readPrivacyLedger } from './state';

/**
 * Community statistics under secure aggregation, member side: answer the
 * aggregator's community round (`secagg/community/`, the same protocol as a
 * model round) with this datasite's week vector (`src/shared/community-sum.ts`):
 * the mean over its profiles of (plays, band, most-played show) of the last
 * complete ISO week before the round opened, and of the clicks per arm their
 * private click logs gained since the last round joined (the click log never
 * leaves the machine with secure aggregation: the experiment gets these counts only). Its Skellam share and ledger entry
 * (kind `community`, in every profile it speaks for) are the protocol's; this
 * module decides what to send, and refuses a round whose noise is below what
 * INSIGHTS_EPSILON asks, whose layout is not this catalogue's, or beyond
 * COMMUNITY_JOINS_PER_WEEK rounds in one week (a round that aborted may be
 * retried once, at a second spend).
 */
export const COMMUNITY_JOINS_PER_WEEK = 2;
const WEEKS_FILE = 'weeks.json';
const WEEKS_VERSION = 1;
const MAX_WEEKS_BYTES = 4096;
/** A round's noise may fall short of what INSIGHTS_EPSILON asks by this much (calibration rounding). */
const NOISE_TOLERANCE = 1e-9;

/** A member's context plus the catalogue matcher the week summaries need. */
export type CommunityMemberContext = MemberContext & Pick<ParticipantContext, 'matcher'>;

interface JoinedWeeks {
  formatVersion: typeof WEEKS_VERSION;
  week: string;
  joined: number;
  /** Rows of each profile's private click log already counted in a round. */
  clickRows: Record<string, number>;
}

/** Clicks per arm in the rows of a private click log after the first `from`, and the rows now counted. */
async function clicksSince(file: string, from: number): Promise<{ clicks: Record<Arm, number>; rows: number }> {
  const rows = (await readClickLog(file))?.rows ?? [];
  const start = rows.length < from ? 0 : from;
  const clicks = { local: 0, global: 0 };
  for (const row of rows.slice(start)) if (row.type === 'click') clicks[row.arm]++;
  return { clicks, rows: rows.length };
}

/** Answer whatever the community round in progress asks of this datasite. */
export async function respondToCommunityRound(ctx: CommunityMemberContext): Promise<MemberStep[]> {
  return respondToSecureRound(communityMemberContext(ctx));
}

/** The member context of community rounds: their own folders, and the community contribution. */
export function communityMemberContext(ctx: CommunityMemberContext): MemberContext {
  const ws = secureRoundsView(ctx.ws, 'community');
  const { config, catalog } = ctx;
  const items = catalog.items.length;
  const purpose: MemberPurpose = {
    spend: communitySpend,
    prepare: async (round, encoding) => {
      if (config.INSIGHTS_EPSILON <= 0) return { decline: 'INSIGHTS_EPSILON is 0: this datasite sends no community statistics' };
      if (JSON.stringify(round.layout) !== JSON.stringify(communityLayout(items))) return { decline: 'the round\'s layout is not this catalogue\'s community vector' };
      if (Math.abs(encoding.clipNorm - COMMUNITY_CLIP_NORM) > 1e-12) return { decline: `the round's clipNorm ${encoding.clipNorm} is not ${COMMUNITY_CLIP_NORM}` };
      const wanted = communityNoise(encoding, config.INSIGHTS_EPSILON, config.DP_DELTA);
      if (round.params.noise.mechanism !== 'skellam' || round.params.noise.sigma < wanted.sigma * (1 - NOISE_TOLERANCE)) {
        return { decline: `the round adds noise of sigma ${round.params.noise.sigma.toFixed(1)}, less than INSIGHTS_EPSILON=${config.INSIGHTS_EPSILON} asks (${wanted.sigma.toFixed(1)})` };
      }
      const week = lastCompleteWeek(new Date(round.createdAt));
      const weeksFile = path.join(ws.secaggPrivateDir(), WEEKS_FILE);
      const before = (await readJsonFile(weeksFile, { maxBytes: MAX_WEEKS_BYTES })) as JoinedWeeks | null;
      const known = before?.formatVersion === WEEKS_VERSION ? before : null;
      const joined = known?.week === week ? known.joined : 0;
      const clickRows = { ...known?.clickRows };
      if (joined >= COMMUNITY_JOINS_PER_WEEK) return { decline: `already joined ${joined} community rounds for ${week}` };

      const spend = communitySpend(ctx.now().toISOString(), encoding, round.params.noise)!;
      const budget = configuredBudget(config);
      const profiles: string[] = [];
      const summaries: WeekSummary[] = [];
      let blocked = 0;
      for (const profile of [...new Set((await readAssignments(ws.privateRoot())).map((a) => a.profile))].filter(isProfileName).sort()) {
        const dir = ws.privateDir(profile);
        const events = (await readHistoryCache(dir))?.events;
        if (!events) continue;
        if (!canSpend(await readPrivacyLedger(dir), spend, budget, ctx.now())) {
          blocked++;
          continue;
        }
        const matched = matchEvents(events, ctx.matcher);
        const counted = await clicksSince(ws.privateClickLog(profile), clickRows[profile] ?? 0);
        clickRows[profile] = counted.rows;
        summaries.push({ ...weekTruth(playsOf(matched.events), week, matched.itemOf), clicks: counted.clicks });
        profiles.push(profile);
      }
      if (profiles.length === 0) {
        return blocked > 0 ? { decline: `privacy budget spent (PRIVACY_BUDGET_EPSILON=${config.PRIVACY_BUDGET_EPSILON}): no community statistics` } : { wait: 'no profile has a parsed history yet' };
      }
      await writeJsonAtomic(weeksFile, { formatVersion: WEEKS_VERSION, week, joined: joined + 1, clickRows } satisfies JoinedWeeks, { private: true });
      return { x: buildCommunityContribution(summaries, items), profiles };
    },
  };
  return { ...ctx, ws, purpose };
}
