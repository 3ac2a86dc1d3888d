import { promises as fs } from 'node:fs';
import path from 'node:path';
import { matchEvents, type Catalog, type Matcher } from '../shared/catalog';
import { readHistory } from '../shared/history';
import type { Interaction } from '../shared/model/feedback';
import { historyFeedback } from '../participant/train';
import { netflixExportText, type ExportRow, type RatingTable } from './movielens';

/**
 * MovieLens users -> participants: each user's training ratings are written as a
 * Netflix export in the user's private folder, then read back through the
 * participant pipeline (`readHistory` -> `matchEvents` -> `historyFeedback`, which
 * matches each show with the catalogue matcher, with the evidence of the user's
 * whole history, and computes the implicit feedback). The result is what a
 * participant would train on. For the explicit protocol each matched item gets
 * the user's rating of that item as its preference; an item the matcher mapped
 * to a film the user did not rate has no rating and is dropped (counted).
 *
 * The match rate is measured per rating on that same matching: a rating is
 * `exact` when its title maps back to its own movie, `wrong` when it maps to
 * another movie, `unmatched` otherwise (for example a remake with the same
 * title, which the export, without years, cannot tell apart unless the rating
 * predates the other film's year).
 */

interface IngestSettings {
  table: RatingTable;
  /** 1 = the row is training data (written to the export). */
  isTrain: Uint8Array;
  catalog: Catalog;
  matcher: Matcher;
  /** Export title of each catalogue id. */
  titles: readonly string[];
  /** movieId -> catalogue id. */
  index: ReadonlyMap<number, number>;
  /** Where the user's export goes (the participant's private folder). */
  exportFile: (userId: number) => string;
  halfLifeDays: number;
  protocol: 'implicit' | 'explicit';
}

export interface Participant {
  /** MovieLens userId. */
  userId: number;
  /** Training interactions (explicit: rating in `preference`). */
  train: Interaction[];
}

interface TitleFailure {
  movieId: number;
  /** The title written to the exports. */
  title: string;
  /** Training ratings of this movie that did not map back to it. */
  ratings: number;
  /** The movie most of them matched instead, or null when they were unmatched. */
  matched: { movieId: number; title: string } | null;
}

export interface MatchReport {
  /** Training ratings written to exports. */
  ratings: number;
  exact: number;
  wrong: number;
  unmatched: number;
  /** exact / ratings. */
  rate: number;
  /** Distinct movies rated, and how many of them map back for every rating. */
  titles: number;
  exactTitles: number;
  /** Ratings whose movieId is not in movies.csv (not exported). */
  unknownMovies: number;
  /** Explicit protocol: matched items without a rating of the user (dropped). */
  droppedWithoutRating: number;
  /** Movies with ratings that do not map back, most such ratings first (at most `MAX_LISTED_FAILURES`). */
  failures: TitleFailure[];
  failureCount: number;
}

const MAX_LISTED_FAILURES = 100;
const MS_PER_SECOND = 1000;

/** Per movie rated: where its ratings that did not map back went (catalogue id, -1 = unmatched) and how many. */
type MovieOutcome = Map<number, number>;

/**
 * Write and read back the export of every user with training rows, one user at a
 * time; `onUser` receives each participant (the caller keeps what it needs).
 */
export async function ingestParticipants(settings: IngestSettings, onUser: (participant: Participant) => void): Promise<MatchReport> {
  const { table, isTrain, catalog, matcher, titles, index } = settings;
  const outcomes = new Map<number, MovieOutcome>();
  const report: MatchReport = {
    ratings: 0, exact: 0, wrong: 0, unmatched: 0, rate: 0, titles: 0, exactTitles: 0, unknownMovies: 0, droppedWithoutRating: 0, failures: [], failureCount: 0,
  };
  for (let u = 0; u < table.userCount; u++) {
    const rows: ExportRow[] = [];
    const rated: number[] = [];
    const ratingOf = new Map<number, number>();
    let newest = -Infinity;
    for (let r = table.userStart[u]; r < table.userStart[u + 1]; r++) {
      if (!isTrain[r]) continue;
      const item = index.get(table.movieId[r]);
      if (item === undefined) {
        report.unknownMovies++;
        continue;
      }
      rows.push({ title: titles[item], timestamp: table.timestamp[r] });
      rated.push(item);
      ratingOf.set(item, table.rating[r]);
      newest = Math.max(newest, table.timestamp[r]);
    }
    if (rows.length === 0) continue;
    report.ratings += rows.length;
    const userId = table.userIds[u];
    const file = settings.exportFile(userId);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, netflixExportText(rows));
    // The user's "today" is the day of their newest training rating: recency is measured from there.
    const now = new Date(newest * MS_PER_SECOND);
    const parsed = await readHistory(file, { dateOrder: 'ymd', now });
    const matches = matchEvents(parsed.events, matcher);
    const itemOfTitle = new Map(matches.events.map((e) => [e.title, matches.itemOf(e.show, e.kind)]));
    for (const item of rated) countOutcome(report, outcomes, item, itemOfTitle.get(titles[item].trim()) ?? null);
    let train = historyFeedback(matches, { now, halfLifeDays: settings.halfLifeDays, mode: 'implicit' }).interactions;
    if (settings.protocol === 'explicit') {
      const withRating: Interaction[] = [];
      for (const { item } of train) {
        const rating = ratingOf.get(item);
        if (rating === undefined) report.droppedWithoutRating++;
        else withRating.push({ item, preference: rating, confidence: 1 });
      }
      train = withRating;
    }
    onUser({ userId, train });
  }
  report.rate = report.ratings === 0 ? 0 : report.exact / report.ratings;
  report.titles = outcomes.size;
  const failures: TitleFailure[] = [];
  for (const [item, outcome] of outcomes) {
    if (outcome.size === 0) {
      report.exactTitles++;
      continue;
    }
    const [target] = [...outcome.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
    failures.push({
      movieId: Number(catalog.items[item].showId),
      title: titles[item],
      ratings: [...outcome.values()].reduce((a, b) => a + b, 0),
      matched: target < 0 ? null : { movieId: Number(catalog.items[target].showId), title: catalog.items[target].title },
    });
  }
  failures.sort((a, b) => b.ratings - a.ratings || a.movieId - b.movieId);
  report.failureCount = failures.length;
  report.failures = failures.slice(0, MAX_LISTED_FAILURES);
  return report;
}

/** Count one training rating of `item` whose title matched `matched`. */
function countOutcome(report: MatchReport, outcomes: Map<number, MovieOutcome>, item: number, matched: number | null): void {
  let outcome = outcomes.get(item);
  if (outcome === undefined) outcomes.set(item, (outcome = new Map()));
  if (matched === item) {
    report.exact++;
    return;
  }
  if (matched === null) report.unmatched++;
  else report.wrong++;
  const target = matched ?? -1;
  outcome.set(target, (outcome.get(target) ?? 0) + 1);
}
