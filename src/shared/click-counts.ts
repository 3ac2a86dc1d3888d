import type { Arm } from './clicks';

/**
 * The click experiment's only published input in plain mode
 * (SECURE_AGGREGATION=off): `app_data/<app>/profile_<n>/click-counts.json`,
 * readable by the aggregator only, one entry per ISO week with the clicks per
 * arm the profile's private click log gained since the previous entry, each
 * clipped to MAX_CLICKS_PER_ARM and noised with discrete Laplace noise of scale
 * 2·MAX_CLICKS_PER_ARM/ε (the whole week of one profile is the unit: both arms
 * together move by at most 2·MAX_CLICKS_PER_ARM in L1), ε = INSIGHTS_EPSILON,
 * recorded in the profile's privacy ledger (kind `clicks`) before it is written.
 * Counts may be negative: noise, left as drawn so that sums stay unbiased.
 *
 * ```json
 * { "format": "syftbox-netflix-svd/click-counts", "formatVersion": 1,
 *   "mechanism": "discrete-laplace", "maxPerArm": 5,
 *   "weeks": [ { "week": "2026-W47", "epsilon": 1, "local": 2, "global": -3 } ] }
 * ```
 * No show ids, no times, no page views: the raw log (`src/shared/clicks.ts`)
 * stays in the private folder. With secure aggregation the same per-arm counts
 * leave only inside the community round's noised sum (`community-sum.ts`).
 */
export const CLICK_COUNTS_FORMAT = 'syftbox-netflix-svd/click-counts';
export const CLICK_COUNTS_VERSION = 1;
export const CLICK_COUNTS_MECHANISM = 'discrete-laplace';
/** Weeks a file keeps (two years); older ones are dropped. */
export const MAX_CLICK_WEEKS = 104;
export const MAX_CLICK_COUNTS_BYTES = 64 * 1024; // 64 KiB: 104 weeks are ~7 KB
const WEEK_RE = /^\d{4}-W\d{2}$/;
const MAX_COUNT = 1e9;

export interface WeekClicks extends Record<Arm, number> {
  week: string;
  epsilon: number;
}

export interface ClickCountsFile {
  format: typeof CLICK_COUNTS_FORMAT;
  formatVersion: typeof CLICK_COUNTS_VERSION;
  mechanism: typeof CLICK_COUNTS_MECHANISM;
  maxPerArm: number;
  weeks: WeekClicks[];
}

/** A click-counts file checked (untrusted: it comes from another datasite), or the reason it cannot be used. */
export function parseClickCounts(value: unknown): ClickCountsFile | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const v = value as Partial<ClickCountsFile>;
  if (v.format !== CLICK_COUNTS_FORMAT || v.formatVersion !== CLICK_COUNTS_VERSION) return `not ${CLICK_COUNTS_FORMAT} version ${CLICK_COUNTS_VERSION}`;
  if (v.mechanism !== CLICK_COUNTS_MECHANISM || !Number.isInteger(v.maxPerArm) || (v.maxPerArm as number) < 1) return 'mechanism or maxPerArm missing';
  if (!Array.isArray(v.weeks) || v.weeks.length > MAX_CLICK_WEEKS) return `weeks is not a list of at most ${MAX_CLICK_WEEKS}`;
  const count = (x: unknown) => Number.isInteger(x) && Math.abs(x as number) <= MAX_COUNT;
  for (const w of v.weeks as unknown[]) {
    const week = w as Partial<WeekClicks> | null;
    if (typeof week !== 'object' || week === null || typeof week.week !== 'string' || !WEEK_RE.test(week.week) || !count(week.local) || !count(week.global) || !(typeof week.epsilon === 'number' && week.epsilon > 0)) {
      return 'a week needs week (2026-W47), epsilon > 0 and integer local and global';
    }
  }
  return v as ClickCountsFile;
}
