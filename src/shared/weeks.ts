/**
 * Calendar days and ISO 8601 weeks (Monday to Sunday; week 1 holds the year's
 * first Thursday), written `2021-W01`: 2021-01-03 belongs to `2020-W53`. The
 * participant's insights and community reports and the aggregator's statistics
 * all count by these weeks, so both sides use this one module. Dates are UTC
 * `YYYY-MM-DD` strings.
 */

export const DAY_MS = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const WEEK_RE = /^(\d{4})-W(\d{2})$/;

/** Days since 1970-01-01 of a `YYYY-MM-DD` date. */
export function dayNumber(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m) throw new RangeError(`${JSON.stringify(date)} is not a YYYY-MM-DD date`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS;
}

/** The `YYYY-MM-DD` date of a day number. */
export function dateOfDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The ISO week of a `YYYY-MM-DD` date: `2020-12-31` -> `2020-W53`, `2021-01-04` -> `2021-W01`. */
export function isoWeek(date: string): string {
  const day = dayNumber(date);
  const weekday = (new Date(day * DAY_MS).getUTCDay() + 6) % 7; // Monday = 0
  const thursday = day - weekday + 3;
  const year = new Date(thursday * DAY_MS).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1) / DAY_MS) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** The Monday (`YYYY-MM-DD`) that starts the ISO week of `date`. */
export function weekStart(date: string): string {
  const day = dayNumber(date);
  return dateOfDay(day - ((new Date(day * DAY_MS).getUTCDay() + 6) % 7));
}

/** The ISO week `offset` weeks after the week of `date` (negative: before). */
export function shiftWeek(date: string, offset: number): string {
  return isoWeek(dateOfDay(dayNumber(weekStart(date)) + 7 * offset));
}

/** The last complete ISO week before `now` (UTC): on any day of 2021-W02, `2021-W01`. */
export function lastCompleteWeek(now: Date): string {
  return shiftWeek(now.toISOString().slice(0, 10), -1);
}

/** `2021-W01` shifted by `offset` weeks (`-1` -> `2020-W53`). */
export function shiftWeekLabel(week: string, offset: number): string {
  const m = WEEK_RE.exec(week);
  if (!m) throw new RangeError(`${JSON.stringify(week)} is not an ISO week like 2021-W01`);
  // January 4th is always in week 1; its week's Monday + 7·(week − 1) days is the week's Monday.
  const jan4 = `${m[1]}-01-04`;
  return shiftWeek(jan4, Number(m[2]) - 1 + offset);
}
