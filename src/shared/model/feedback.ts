/**
 * Implicit feedback: viewing events → one (preference, confidence) pair per
 * watched item, the input of the confidence-weighted factorization in
 * `factorize.ts`. Pure: `now` is passed in.
 *
 * Implicit mode (the default). For an item with events E:
 * ```
 * episodes = number of distinct episodeKey values in E (null, i.e. a film, counts as one key)
 * weeks    = number of distinct ISO weeks (Monday to Sunday) among the dates in E
 * hours    = sum of durationSec / 3600 over the events of E that have a duration (0 if none do)
 * ageDays  = max(0, whole days from the newest date in E to `now` (UTC))
 * recency  = 2 ^ (-ageDays / halfLifeDays)
 * confidence = recency * (ln(1 + episodes) + ln(1 + weeks) + ln(1 + hours))
 * preference = 1
 * ```
 * Example: a series with 10 distinct episodes over 3 weeks, 5.5 hours in total,
 * last watched 90 days before `now`, halfLifeDays = 180:
 * 2^-0.5 * (ln 11 + ln 4 + ln 6.5) = 0.7071 * (2.3979 + 1.3863 + 1.8718) = 3.9994.
 * A film watched once today from a `Title,Date` export (no durations):
 * ln 2 + ln 2 = 1.3863. Each term is logarithmic so one binge cannot dominate,
 * and the three measure different things: breadth (episodes), persistence
 * (weeks), time spent (hours). The factorization turns this into c = 1 + alpha * confidence.
 *
 * Stars mode reproduces the original app's 1–5 star rules (no recency). Per item,
 * views(w) = number of distinct viewing units in ISO week w, a unit being the
 * episodeKey, or the date for a film (so a film watched on two days counts 2):
 * ```
 * 5 stars: at least 2 weeks with views > 3
 * 5 stars: 3 consecutive weeks each with views > 1
 * 4 stars: some week with views > 4
 * 3 stars: at least 2 weeks with views and more than 4 views in total
 * 2 stars: more than 3 views in total
 * 1 star : otherwise
 * ```
 * and preference = 1, confidence = stars. (The rules follow the original's stated
 * intent; its code also gave 5 stars to any show seen in 3 weeks, a bug not kept.)
 */

export interface WatchEvent {
  item: number;
  /** YYYY-MM-DD. */
  date: string;
  durationSec: number | null;
  /** Season + episode, or null for films. */
  episodeKey: string | null;
}

export interface Interaction {
  item: number;
  /** 1 for watched (implicit), or a rating (explicit variant). */
  preference: number;
  /** >= 0, before alpha: the factorization uses c = 1 + alpha * confidence. */
  confidence: number;
}

interface FeedbackOptions {
  now: Date;
  halfLifeDays: number;
  mode: 'implicit' | 'stars';
}

const MS_PER_DAY = 86_400_000;
const SECONDS_PER_HOUR = 3600;
const DAYS_PER_WEEK = 7;
/** Day 0 (1970-01-01) is a Thursday: shifting by 3 makes weeks start on Monday. */
const EPOCH_WEEKDAY_SHIFT = 3;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** One Interaction per distinct item of `events`, sorted by item. */
export function implicitFeedback(events: WatchEvent[], options: FeedbackOptions): Interaction[] {
  if (!(options.halfLifeDays > 0)) throw new RangeError(`halfLifeDays must be > 0, got ${options.halfLifeDays}`);
  const byItem = new Map<number, WatchEvent[]>();
  for (const event of events) {
    const list = byItem.get(event.item);
    if (list) list.push(event);
    else byItem.set(event.item, [event]);
  }
  const today = Math.floor(options.now.getTime() / MS_PER_DAY);
  return [...byItem.entries()]
    .sort(([a], [b]) => a - b)
    .map(([item, itemEvents]) => ({
      item,
      preference: 1,
      confidence: options.mode === 'stars' ? starRating(itemEvents) : implicitConfidence(itemEvents, today, options.halfLifeDays),
    }));
}

function implicitConfidence(events: WatchEvent[], today: number, halfLifeDays: number): number {
  const episodes = new Set<string>();
  const weeks = new Set<number>();
  let seconds = 0;
  let newestDay = -Infinity;
  for (const event of events) {
    const day = dayNumber(event.date);
    episodes.add(event.episodeKey ?? '');
    weeks.add(weekNumber(day));
    if (event.durationSec !== null && event.durationSec > 0) seconds += event.durationSec;
    newestDay = Math.max(newestDay, day);
  }
  const ageDays = Math.max(0, today - newestDay);
  const recency = 2 ** (-ageDays / halfLifeDays);
  return recency * (Math.log1p(episodes.size) + Math.log1p(weeks.size) + Math.log1p(seconds / SECONDS_PER_HOUR));
}

/** The original app's star rules; see the module comment. */
export function starRating(events: WatchEvent[]): 1 | 2 | 3 | 4 | 5 {
  const unitsByWeek = new Map<number, Set<string>>();
  for (const event of events) {
    const week = weekNumber(dayNumber(event.date));
    const units = unitsByWeek.get(week) ?? new Set<string>();
    units.add(event.episodeKey ?? `date:${event.date}`);
    unitsByWeek.set(week, units);
  }
  const views = new Map([...unitsByWeek].map(([week, units]) => [week, units.size]));
  const counts = [...views.values()];
  const total = counts.reduce((sum, n) => sum + n, 0);
  const busyWeeks = new Set([...views].filter(([, n]) => n > 1).map(([week]) => week));
  const hasThreeConsecutive = [...busyWeeks].some((week) => busyWeeks.has(week + 1) && busyWeeks.has(week + 2));

  if (counts.filter((n) => n > 3).length >= 2) return 5;
  if (hasThreeConsecutive) return 5;
  if (counts.some((n) => n > 4)) return 4;
  if (counts.length >= 2 && total > 4) return 3;
  if (total > 3) return 2;
  return 1;
}

function dayNumber(date: string): number {
  const m = DATE_RE.exec(date);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).getUTCDate() !== Number(m[3])) {
    throw new RangeError(`watch event date ${JSON.stringify(date)} is not a valid YYYY-MM-DD date`);
  }
  return ms / MS_PER_DAY;
}

/** Consecutive integers for consecutive ISO (Monday-first) weeks. */
function weekNumber(day: number): number {
  return Math.floor((day + EPOCH_WEEKDAY_SHIFT) / DAYS_PER_WEEK);
}
