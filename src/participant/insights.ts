import type { Catalog, HistoryMatches } from '../shared/catalog';
import type { ViewingEvent } from '../shared/history';
import { dateOfDay, DAY_MS, dayNumber, isoWeek, lastCompleteWeek, weekStart } from '../shared/weeks';

/**
 * Personal insights: what the page at /insights shows the local user about
 * their own viewing, computed from the private parsed-history cache. Pure: the
 * events, the catalogue (for genres) and the current time are passed in, and
 * nothing here is ever published.
 *
 * Definitions the page relies on:
 * - a *play* is one distinct (date, title) pair: ViewingActivity.csv writes a row
 *   per session, so an episode paused and resumed on the same day counts once;
 *   the simple export has one row per title and day anyway;
 * - *hours* sum every row's Duration; they are null when the export has no
 *   durations (NetflixViewingHistory.csv);
 * - weeks are ISO 8601 weeks (`src/shared/weeks.ts`);
 * - a *binge day* is a day with at least BINGE_MIN_EPISODES distinct episodes
 *   of one series; consecutive binge days of the same series form one *binge
 *   session* (so a weekend marathon is one session of two days);
 * - genres over time split each matched play evenly over its catalogue genres
 *   (a play of a "Crime TV Shows, Dramas" series adds 0.5 to each), so a
 *   month's genre values add up to its matched plays.
 */

const BINGE_MIN_EPISODES = 3;
/** Shows listed in "top shows". */
const TOP_SHOWS = 10;
/** Genres drawn separately in "genres over time"; the rest are summed as OTHER_GENRE. */
const TOP_GENRES = 8;
export const OTHER_GENRE = 'Other';
/** Binge sessions listed (the longest first). */
const TOP_BINGES = 10;

function monthsBetween(first: string, last: string): string[] {
  const out: string[] = [];
  let [y, m] = first.split('-').map(Number);
  const [ly, lm] = last.split('-').map(Number);
  while (y < ly || (y === ly && m <= lm)) {
    out.push(`${y}-${String(m).padStart(2, '0')}`);
    if (++m > 12) [y, m] = [y + 1, 1];
  }
  return out;
}

/** One play: a distinct (date, title), with the hours of all its rows. */
export interface Play {
  date: string;
  show: string;
  kind: 'series' | 'film';
  title: string;
  hours: number | null;
}

/** Collapse events into plays (see the module comment), in date order. */
export function playsOf(events: readonly ViewingEvent[]): Play[] {
  const byKey = new Map<string, Play>();
  for (const event of events) {
    const key = `${event.date}\u0000${event.title}`;
    const hours = event.durationSec === null ? null : event.durationSec / 3600;
    const play = byKey.get(key);
    if (play === undefined) byKey.set(key, { date: event.date, show: event.show, kind: event.kind, title: event.title, hours });
    else if (hours !== null) play.hours = (play.hours ?? 0) + hours;
  }
  return [...byKey.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** Show -> catalogue id, null when the show is not in the catalogue (`HistoryMatches.itemOf`). */
type ShowLookup = HistoryMatches['itemOf'];

interface WeekPoint {
  /** `YYYY-Www` */
  week: string;
  /** Monday of the week, `YYYY-MM-DD`. */
  start: string;
  plays: number;
  /** Null when the export has no durations. */
  hours: number | null;
}

interface ShowTotal {
  show: string;
  kind: 'series' | 'film';
  /** Catalogue id, null when the show is not in the catalogue. */
  item: number | null;
  plays: number;
  hours: number | null;
  firstDate: string;
  lastDate: string;
}

interface GenreSeries {
  /** `YYYY-MM`, oldest first. */
  months: string[];
  /** The TOP_GENRES genres with most plays, then OTHER_GENRE if any play fell outside them. */
  genres: string[];
  /** plays[g][m]: plays of genre g in month m (fractional, see the module comment). */
  plays: number[][];
  /** Plays of shows not in the catalogue (no genres known). */
  unmatchedPlays: number;
}

interface BingeSession {
  show: string;
  item: number | null;
  /** First and last day, `YYYY-MM-DD`. */
  start: string;
  end: string;
  days: number;
  /** Distinct episodes over the session's days. */
  episodes: number;
}

interface BingeSummary {
  minEpisodesPerDay: number;
  sessions: number;
  /** The TOP_BINGES sessions with most episodes (ties: the most recent first). */
  longest: BingeSession[];
  /** Sessions per month, over the same months as the genres. */
  perMonth: { month: string; sessions: number }[];
}

export interface PersonalInsights {
  totals: { plays: number; hours: number | null; shows: number; firstDate: string | null; lastDate: string | null; hasDurations: boolean };
  /** Every ISO week from the first play's to the last play's, zeros included. */
  weekly: WeekPoint[];
  /** The last complete ISO week before `now` and this user's exact plays in it (the community comparison). */
  lastWeek: WeekPoint;
  topShows: ShowTotal[];
  /** Every show the catalogue match left out, most plays first: what the model ignores. */
  notInCatalogue: ShowTotal[];
  genres: GenreSeries;
  binges: BingeSummary;
}

interface InsightOptions {
  catalog: Catalog;
  now: Date;
}

const sum = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : a + b);

/** Everything the insights page charts, from one profile's history matched against the catalogue (`matchEvents`). */
export function computeInsights(history: HistoryMatches, options: InsightOptions): PersonalInsights {
  const { events, itemOf } = history;
  const plays = playsOf(events);
  const hasDurations = events.some((e) => e.durationSec !== null);
  const firstDate = plays[0]?.date ?? null;
  const lastDate = plays.at(-1)?.date ?? null;
  const lastWeekLabel = lastCompleteWeek(options.now);
  const lastWeek: WeekPoint = { week: lastWeekLabel, start: weekStart(shiftDate(options.now, -7)), plays: 0, hours: hasDurations ? 0 : null };

  const weekly = firstDate && lastDate ? weeklyPoints(plays, firstDate, lastDate, hasDurations) : [];
  for (const play of plays) {
    if (isoWeek(play.date) !== lastWeekLabel) continue;
    lastWeek.plays++;
    lastWeek.hours = sum(lastWeek.hours, play.hours);
  }
  const shows = showTotals(plays, itemOf);
  const months = firstDate && lastDate ? monthsBetween(firstDate.slice(0, 7), lastDate.slice(0, 7)) : [];
  return {
    totals: {
      plays: plays.length,
      hours: hasDurations ? plays.reduce((h, p) => h + (p.hours ?? 0), 0) : null,
      shows: shows.length,
      firstDate,
      lastDate,
      hasDurations,
    },
    weekly,
    lastWeek,
    topShows: shows.slice(0, TOP_SHOWS),
    notInCatalogue: shows.filter((s) => s.item === null),
    genres: genreSeries(plays, months, options.catalog, itemOf),
    binges: bingeSummary(plays, months, itemOf),
  };
}

function shiftDate(now: Date, days: number): string {
  return new Date(now.getTime() + days * DAY_MS).toISOString().slice(0, 10);
}

function weeklyPoints(plays: Play[], firstDate: string, lastDate: string, hasDurations: boolean): WeekPoint[] {
  const points = new Map<string, WeekPoint>();
  for (let day = dayNumber(weekStart(firstDate)); day <= dayNumber(lastDate); day += 7) {
    const start = dateOfDay(day);
    points.set(isoWeek(start), { week: isoWeek(start), start, plays: 0, hours: hasDurations ? 0 : null });
  }
  for (const play of plays) {
    const point = points.get(isoWeek(play.date))!;
    point.plays++;
    point.hours = sum(point.hours, play.hours);
  }
  return [...points.values()];
}

function showTotals(plays: Play[], matchShow: ShowLookup): ShowTotal[] {
  const totals = new Map<string, ShowTotal>();
  for (const play of plays) {
    const key = `${play.kind}\u0000${play.show}`;
    let total = totals.get(key);
    if (total === undefined) {
      total = { show: play.show, kind: play.kind, item: matchShow(play.show, play.kind), plays: 0, hours: null, firstDate: play.date, lastDate: play.date };
      totals.set(key, total);
    }
    total.plays++;
    total.hours = sum(total.hours, play.hours);
    total.lastDate = play.date;
  }
  return [...totals.values()].sort((a, b) => b.plays - a.plays || (b.hours ?? 0) - (a.hours ?? 0) || a.show.localeCompare(b.show));
}

function genreSeries(plays: Play[], months: string[], catalog: Catalog, matchShow: ShowLookup): GenreSeries {
  const monthIndex = new Map(months.map((m, i) => [m, i]));
  const byGenre = new Map<string, Float64Array>();
  let unmatchedPlays = 0;
  for (const play of plays) {
    const item = matchShow(play.show, play.kind);
    const genres = item === null ? [] : catalog.items[item].genres;
    if (genres.length === 0) {
      unmatchedPlays += item === null ? 1 : 0;
      continue;
    }
    const m = monthIndex.get(play.date.slice(0, 7))!;
    for (const genre of genres) {
      let row = byGenre.get(genre);
      if (row === undefined) byGenre.set(genre, (row = new Float64Array(months.length)));
      row[m] += 1 / genres.length;
    }
  }
  const total = (row: Float64Array) => row.reduce((a, b) => a + b, 0);
  const ranked = [...byGenre.entries()].sort((a, b) => total(b[1]) - total(a[1]) || a[0].localeCompare(b[0]));
  const kept = ranked.slice(0, TOP_GENRES);
  const rest = ranked.slice(TOP_GENRES);
  const series = kept.map(([genre, row]) => ({ genre, row: [...row] }));
  if (rest.length > 0) {
    const other = new Array<number>(months.length).fill(0);
    for (const [, row] of rest) row.forEach((v, i) => (other[i] += v));
    series.push({ genre: OTHER_GENRE, row: other });
  }
  return { months, genres: series.map((s) => s.genre), plays: series.map((s) => s.row), unmatchedPlays };
}

function bingeSummary(plays: Play[], months: string[], matchShow: ShowLookup): BingeSummary {
  // distinct episodes per series per day
  const episodes = new Map<string, Map<number, Set<string>>>();
  for (const play of plays) {
    if (play.kind !== 'series') continue;
    let days = episodes.get(play.show);
    if (days === undefined) episodes.set(play.show, (days = new Map()));
    const day = dayNumber(play.date);
    let titles = days.get(day);
    if (titles === undefined) days.set(day, (titles = new Set()));
    titles.add(play.title);
  }
  const sessions: BingeSession[] = [];
  for (const [show, days] of episodes) {
    const bingeDays = [...days.entries()].filter(([, t]) => t.size >= BINGE_MIN_EPISODES).sort((a, b) => a[0] - b[0]);
    let current: BingeSession | null = null;
    let lastDay = Number.NEGATIVE_INFINITY;
    for (const [day, titles] of bingeDays) {
      if (current !== null && day === lastDay + 1) {
        current.end = dateOfDay(day);
        current.days++;
        current.episodes += titles.size;
      } else {
        current = { show, item: matchShow(show, 'series'), start: dateOfDay(day), end: dateOfDay(day), days: 1, episodes: titles.size };
        sessions.push(current);
      }
      lastDay = day;
    }
  }
  const perMonth = new Map(months.map((m) => [m, 0]));
  for (const s of sessions) perMonth.set(s.start.slice(0, 7), (perMonth.get(s.start.slice(0, 7)) ?? 0) + 1);
  const longest = [...sessions].sort((a, b) => b.episodes - a.episodes || (a.start < b.start ? 1 : a.start > b.start ? -1 : 0)).slice(0, TOP_BINGES);
  return {
    minEpisodesPerDay: BINGE_MIN_EPISODES,
    sessions: sessions.length,
    longest,
    perMonth: [...perMonth.entries()].map(([month, n]) => ({ month, sessions: n })),
  };
}
