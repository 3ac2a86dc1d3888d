import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Catalog, Matcher } from '../shared/catalog';
import { decomposeTitle, readHistory } from '../shared/history';
import type { Interaction } from '../shared/model/feedback';
import { matchHistory } from '../participant/train';
import { netflixExportText, type ExportRow, type RatingTable } from './movielens';

/**
 * MovieLens users -> participants: each user's training ratings are written as a
 * Netflix export in the user's private folder, then read back through the
 * participant pipeline (`readHistory` -> `matchHistory`, which matches each title
 * with the catalogue matcher and computes the implicit feedback). The result is
 * what a participant would train on. For the explicit protocol each matched item
 * gets the user's rating of that item as its preference; an item the matcher
 * mapped to a film the user did not rate has no rating and is dropped (counted).
 *
 * The match rate is measured per title with the same functions the pipeline uses
 * (`decomposeTitle`, `Matcher.match`): a rating is `exact` when its title maps
 * back to its own movie, `wrong` when it maps to another movie (for example a
 * remake with the same title: the export has no year), `unmatched` otherwise.
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
  /** Training ratings carrying this title. */
  ratings: number;
  /** The movie it matched instead, or null when unmatched. */
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
  /** Distinct titles written, and how many of them map back exactly. */
  titles: number;
  exactTitles: number;
  /** Ratings whose movieId is not in movies.csv (not exported). */
  unknownMovies: number;
  /** Explicit protocol: matched items without a rating of the user (dropped). */
  droppedWithoutRating: number;
  /** Titles that do not map back, most-rated first (at most `MAX_LISTED_FAILURES`). */
  failures: TitleFailure[];
  failureCount: number;
}

const MAX_LISTED_FAILURES = 100;
const MS_PER_SECOND = 1000;

/** What the matcher makes of every catalogue item's export title (catalogue id or null), as the pipeline would. */
function matchTitles(catalog: Catalog, matcher: Matcher, titles: readonly string[]): (number | null)[] {
  return catalog.items.map((item) => {
    const decomposed = decomposeTitle(titles[item.id]);
    return matcher.match(decomposed.show, decomposed.kind).item;
  });
}

/**
 * Write and read back the export of every user with training rows, one user at a
 * time; `onUser` receives each participant (the caller keeps what it needs).
 */
export async function ingestParticipants(settings: IngestSettings, onUser: (participant: Participant) => void): Promise<MatchReport> {
  const { table, isTrain, catalog, matcher, titles, index } = settings;
  const matchOf = matchTitles(catalog, matcher, titles);
  const ratingsOfItem = new Int32Array(catalog.items.length);
  const report: MatchReport = {
    ratings: 0, exact: 0, wrong: 0, unmatched: 0, rate: 0, titles: 0, exactTitles: 0, unknownMovies: 0, droppedWithoutRating: 0, failures: [], failureCount: 0,
  };
  for (let u = 0; u < table.userCount; u++) {
    const rows: ExportRow[] = [];
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
      ratingOf.set(item, table.rating[r]);
      ratingsOfItem[item]++;
      newest = Math.max(newest, table.timestamp[r]);
      const matched = matchOf[item];
      if (matched === item) report.exact++;
      else if (matched === null) report.unmatched++;
      else report.wrong++;
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
    const matched = matchHistory(parsed.events, matcher, { now, halfLifeDays: settings.halfLifeDays, mode: 'implicit' });
    let train = matched.interactions;
    if (settings.protocol === 'explicit') {
      const rated: Interaction[] = [];
      for (const { item } of train) {
        const rating = ratingOf.get(item);
        if (rating === undefined) report.droppedWithoutRating++;
        else rated.push({ item, preference: rating, confidence: 1 });
      }
      train = rated;
    }
    onUser({ userId, train });
  }
  report.rate = report.ratings === 0 ? 0 : report.exact / report.ratings;
  const failures: TitleFailure[] = [];
  for (const item of catalog.items) {
    if (ratingsOfItem[item.id] === 0) continue;
    report.titles++;
    const matched = matchOf[item.id];
    if (matched === item.id) {
      report.exactTitles++;
      continue;
    }
    failures.push({
      movieId: Number(item.showId),
      title: titles[item.id],
      ratings: ratingsOfItem[item.id],
      matched: matched === null ? null : { movieId: Number(catalog.items[matched].showId), title: catalog.items[matched].title },
    });
  }
  failures.sort((a, b) => b.ratings - a.ratings || a.movieId - b.movieId);
  report.failureCount = failures.length;
  report.failures = failures.slice(0, MAX_LISTED_FAILURES);
  return report;
}
