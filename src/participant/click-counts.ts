import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../shared/atomic';
import { CLICK_COUNTS_FORMAT, CLICK_COUNTS_MECHANISM, CLICK_COUNTS_VERSION, MAX_CLICK_COUNTS_BYTES, MAX_CLICK_WEEKS, type ClickCountsFile } from '../shared/click-counts';
import { readClickLog, type Arm } from '../shared/clicks';
import { MAX_CLICKS_PER_ARM } from '../shared/community-sum';
import type { Config } from '../shared/config';
import { forEachProfile } from './profiles';
import type { Logger } from '../shared/log';
import { canSpend, discreteLaplaceNoise, privacySpent, pureDpSpend, recordSpend, configuredBudget } from '../shared/privacy';
import type { Random } from '../shared/random';
import { lastCompleteWeek } from '../shared/weeks';
import type { Workspace } from '../shared/workspace';
import { readPrivacyLedger, writePrivacyLedger } from './state';

/**
 * Plain mode (SECURE_AGGREGATION=off): once per ISO week, each profile
 * publishes the clicks per arm its private click log gained since the last
 * week it published, clipped and noised (format and mechanism:
 * `src/shared/click-counts.ts`), after recording the spend (kind `clicks`,
 * ε = INSIGHTS_EPSILON) in its privacy ledger. The published file is the
 * private copy's `published`, re-written as it is within the week (no new
 * spend). A raw click log an older version published is deleted.
 */
export const CLICKS_PRIVACY_KIND = 'clicks';
const PRIVATE_FILE = 'click-counts.json';
const PRIVATE_VERSION = 1;

interface PrivateClickCounts {
  formatVersion: typeof PRIVATE_VERSION;
  /** Rows of the private click log already counted. */
  countedRows: number;
  published: ClickCountsFile;
}

export interface ClickCountsContext {
  config: Pick<Config, 'SECURE_AGGREGATION' | 'INSIGHTS_EPSILON' | 'PRIVACY_BUDGET_EPSILON' | 'PRIVACY_PERIOD_DAYS' | 'DP_DELTA'>;
  ws: Workspace;
  logger: Logger;
  now: () => Date;
  noiseRandom: () => Random;
}

type ClickCountsOutcome = { profile: string; status: 'published' | 'unchanged'; week: string } | { profile: string; status: 'skipped'; reason: string };

/** Clicks per arm in the log rows after the first `from` (all rows when the log is shorter: it was reset), and the rows now counted. */
async function clicksSince(file: string, from: number): Promise<{ clicks: Record<Arm, number>; rows: number }> {
  const rows = (await readClickLog(file))?.rows ?? [];
  const clicks = { local: 0, global: 0 };
  for (const row of rows.slice(rows.length < from ? 0 : from)) if (row.type === 'click') clicks[row.arm]++;
  return { clicks, rows: rows.length };
}

/** Publish this week's noised click counts of `profile` (plain mode; see the module comment). */
export async function publishClickCounts(ctx: ClickCountsContext, profile: string): Promise<ClickCountsOutcome> {
  const { config, ws, logger } = ctx;
  await fs.rm(ws.clickLog(profile), { force: true });
  if (config.SECURE_AGGREGATION === 'on') return { profile, status: 'skipped', reason: 'SECURE_AGGREGATION=on: the counts go in the community round' };
  const epsilon = config.INSIGHTS_EPSILON;
  if (epsilon <= 0) return { profile, status: 'skipped', reason: 'INSIGHTS_EPSILON is 0' };
  const now = ctx.now();
  const week = lastCompleteWeek(now);
  const dir = ws.privateDir(profile);
  const stateFile = path.join(dir, PRIVATE_FILE);
  const stored = (await readJsonFile(stateFile, { maxBytes: MAX_CLICK_COUNTS_BYTES })) as PrivateClickCounts | null;
  const previous = stored?.formatVersion === PRIVATE_VERSION ? stored : null;
  if (previous?.published.weeks.at(-1)?.week === week) {
    await writeJsonAtomic(ws.clickCounts(profile), previous.published);
    return { profile, status: 'unchanged', week };
  }
  let ledger = await readPrivacyLedger(dir);
  const budget = configuredBudget(config);
  const spend = pureDpSpend(now.toISOString(), CLICKS_PRIVACY_KIND, CLICK_COUNTS_MECHANISM, epsilon);
  if (!canSpend(ledger, spend, budget, now)) {
    const epsilonSpent = privacySpent(ledger, budget, now).epsilon;
    logger.warn({ profile, epsilonSpent, budget: config.PRIVACY_BUDGET_EPSILON }, 'privacy budget reached: no click counts this week');
    return { profile, status: 'skipped', reason: `privacy budget spent: ${epsilonSpent.toFixed(2)} of ${config.PRIVACY_BUDGET_EPSILON}` };
  }
  const counted = await clicksSince(ws.privateClickLog(profile), previous?.countedRows ?? 0);
  const random = ctx.noiseRandom();
  // One profile's week moves (local, global) by at most MAX_CLICKS_PER_ARM each: L1 sensitivity 2·MAX_CLICKS_PER_ARM.
  const scale = (2 * MAX_CLICKS_PER_ARM) / epsilon;
  const noised = (n: number) => Math.min(n, MAX_CLICKS_PER_ARM) + discreteLaplaceNoise(scale, random);
  const published: ClickCountsFile = {
    format: CLICK_COUNTS_FORMAT,
    formatVersion: CLICK_COUNTS_VERSION,
    mechanism: CLICK_COUNTS_MECHANISM,
    maxPerArm: MAX_CLICKS_PER_ARM,
    weeks: [...(previous?.published.weeks ?? []), { week, epsilon, local: noised(counted.clicks.local), global: noised(counted.clicks.global) }].slice(-MAX_CLICK_WEEKS),
  };
  // Recorded before anything is kept or published: a crash in between wastes budget, never hides a spend.
  ledger = recordSpend(ledger, spend);
  await writePrivacyLedger(dir, ledger);
  await writeJsonAtomic(stateFile, { formatVersion: PRIVATE_VERSION, countedRows: counted.rows, published } satisfies PrivateClickCounts, { private: true });
  await writeJsonAtomic(ws.clickCounts(profile), published);
  logger.info({ profile, week, epsilon, epsilonSpent: privacySpent(ledger, budget, now).epsilon }, 'published noised click counts');
  return { profile, status: 'published', week };
}

/** publishClickCounts for several profiles; one profile's failure is logged and does not stop the others. */
export async function publishAllClickCounts(ctx: ClickCountsContext, profiles: readonly string[]): Promise<ClickCountsOutcome[]> {
  return forEachProfile(profiles, ctx.logger, (profile) => publishClickCounts(ctx, profile), (profile, reason) => ({ profile, status: 'skipped', reason }));
}
