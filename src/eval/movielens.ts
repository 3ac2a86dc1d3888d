import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Papa from 'papaparse';
import { readRegularFile } from '../shared/atomic';
import type { Catalog } from '../shared/catalog';
import { AppError } from '../shared/errors';

/**
 * A MovieLens-format folder (`ratings.csv`: userId,movieId,rating,timestamp;
 * `movies.csv`: movieId,title,genres; CRLF or LF line endings) and its conversion
 * to Netflix-style exports, one per user.
 *
 * Ratings are held columnar (typed arrays, 20 bytes a row: 1,000,000 ratings take
 * 20 MB), rows grouped by user in ascending userId, each user's rows sorted by
 * timestamp, then movieId.
 *
 * Export: `NetflixViewingHistory.csv` (`Title,Date`, newest first) with one row per
 * rating, the date being the UTC day of the timestamp as `YYYY-MM-DD` (Netflix's
 * `M/D/YY` cannot hold MovieLens' 1990s years: two-digit years read as 20YY).
 * The title is, by default, the catalogue's display title (`Toy Story (1995)` ->
 * `Toy Story`, `Usual Suspects, The (1995)` -> `The Usual Suspects`), which is how
 * Netflix writes titles; `titles: 'movielens'` writes the movies.csv title verbatim.
 */

export const RATINGS_FILE = 'ratings.csv';
export const MOVIES_FILE = 'movies.csv';
export const NETFLIX_EXPORT_FILE = 'NetflixViewingHistory.csv';
const RATINGS_HEADER = ['userId', 'movieId', 'rating', 'timestamp'];
const MAX_MOVIES_BYTES = 64 * 1024 * 1024; // 64 MiB
const INITIAL_ROWS = 1 << 16;
const MS_PER_SECOND = 1000;

export interface RatingTable {
  /** Rows (ratings). */
  rows: number;
  /** Distinct users. */
  userCount: number;
  /** MovieLens userId of each user index, ascending. */
  userIds: Int32Array;
  /** Rows of user u are userStart[u] .. userStart[u+1] − 1 (length userCount + 1). */
  userStart: Int32Array;
  movieId: Int32Array;
  rating: Float32Array;
  /** Unix seconds. */
  timestamp: Float64Array;
}

/** Paths of the two files of a MovieLens-format folder; ERR_FILE_NOT_FOUND naming the missing one. */
export async function movieLensFiles(dir: string): Promise<{ ratings: string; movies: string }> {
  const ratings = path.join(dir, RATINGS_FILE);
  const movies = path.join(dir, MOVIES_FILE);
  for (const file of [ratings, movies]) {
    try {
      await fs.access(file);
    } catch {
      throw new AppError('ERR_FILE_NOT_FOUND', `${file} does not exist: --ratings must name a MovieLens-format folder holding ${RATINGS_FILE} and ${MOVIES_FILE}`, { file });
    }
  }
  return { ratings, movies };
}

/** Read `ratings.csv` line by line into a `RatingTable`. Throws ERR_RATINGS_FORMAT naming the row. */
export async function readRatings(file: string): Promise<RatingTable> {
  let capacity = INITIAL_ROWS;
  let user = new Int32Array(capacity);
  let movie = new Int32Array(capacity);
  let rating = new Float32Array(capacity);
  let timestamp = new Float64Array(capacity);
  let n = 0;
  let line = 0;
  const bad = (what: string): never => {
    throw new AppError('ERR_RATINGS_FORMAT', `${file} row ${line}: ${what}`, { file, row: line });
  };
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const raw of lines) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, '').trim() : raw.trim();
    if (text === '') continue;
    const fields = text.split(',');
    if (line === 1) {
      if (RATINGS_HEADER.some((name, i) => fields[i]?.trim() !== name)) bad(`header must start with ${RATINGS_HEADER.join(',')}`);
      continue;
    }
    if (fields.length < RATINGS_HEADER.length) bad(`expected ${RATINGS_HEADER.length} fields, found ${fields.length}`);
    const u = Number(fields[0]);
    const m = Number(fields[1]);
    const r = Number(fields[2]);
    const t = Number(fields[3]);
    if (!Number.isSafeInteger(u) || !Number.isSafeInteger(m) || u < 0 || m < 0 || u > 2 ** 31 - 1 || m > 2 ** 31 - 1) bad('userId and movieId must be non-negative integers');
    if (!Number.isFinite(r)) bad(`rating ${JSON.stringify(fields[2])} is not a number`);
    if (!Number.isFinite(t) || t < 0) bad(`timestamp ${JSON.stringify(fields[3])} is not Unix seconds`);
    if (n === capacity) {
      capacity *= 2;
      user = grow(user, capacity);
      movie = grow(movie, capacity);
      rating = grow(rating, capacity);
      timestamp = grow(timestamp, capacity);
    }
    user[n] = u;
    movie[n] = m;
    rating[n] = r;
    timestamp[n] = t;
    n++;
  }
  if (n === 0) throw new AppError('ERR_RATINGS_FORMAT', `${file} has no ratings`, { file });
  return tableOf(user.subarray(0, n), movie.subarray(0, n), rating.subarray(0, n), timestamp.subarray(0, n));
}

function grow<T extends Int32Array | Float32Array | Float64Array>(a: T, capacity: number): T {
  const out = new (a.constructor as new (n: number) => T)(capacity);
  out.set(a);
  return out;
}

/** Sort rows by (user, timestamp, movieId) and index the users. */
export function tableOf(user: Int32Array, movie: Int32Array, rating: Float32Array, timestamp: Float64Array): RatingTable {
  const n = user.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => user[a] - user[b] || timestamp[a] - timestamp[b] || movie[a] - movie[b]);
  const table = {
    rows: n,
    movieId: new Int32Array(n),
    rating: new Float32Array(n),
    timestamp: new Float64Array(n),
  };
  const ids: number[] = [];
  const starts: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = order[i];
    table.movieId[i] = movie[r];
    table.rating[i] = rating[r];
    table.timestamp[i] = timestamp[r];
    if (i === 0 || user[r] !== user[order[i - 1]]) {
      ids.push(user[r]);
      starts.push(i);
    }
  }
  starts.push(n);
  return { ...table, userCount: ids.length, userIds: Int32Array.from(ids), userStart: Int32Array.from(starts) };
}

export type TitleStyle = 'catalog' | 'movielens';

/**
 * The export title of every catalogue item (indexed by catalogue id) in the given
 * style. The catalogue must have been loaded from this folder's movies.csv
 * (`showId` = movieId).
 */
export async function exportTitles(catalog: Catalog, moviesFile: string, style: TitleStyle): Promise<string[]> {
  if (style === 'catalog') return catalog.items.map((item) => item.title);
  const bytes = await readRegularFile(moviesFile, { maxBytes: MAX_MOVIES_BYTES });
  if (bytes === null) throw new AppError('ERR_FILE_NOT_FOUND', `${moviesFile} does not exist`, { file: moviesFile });
  const { data } = Papa.parse<string[]>(bytes.toString('utf8'), { skipEmptyLines: 'greedy' });
  const raw = new Map<string, string>();
  for (const row of data.slice(1)) raw.set((row[0] ?? '').trim(), (row[1] ?? '').trim());
  return catalog.items.map((item) => raw.get(item.showId) ?? item.title);
}

/** Catalogue id of every movieId in the catalogue (built from movies.csv: showId = movieId). */
export function movieIndex(catalog: Catalog): Map<number, number> {
  return new Map(catalog.items.map((item) => [Number(item.showId), item.id]));
}

/** `YYYY-MM-DD` of a Unix timestamp (UTC). */
function isoDay(unixSeconds: number): string {
  return new Date(unixSeconds * MS_PER_SECOND).toISOString().slice(0, 10);
}

/** CSV field, always quoted: titles contain commas and quotes. */
function csvField(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

export interface ExportRow {
  title: string;
  /** Unix seconds. */
  timestamp: number;
}

/** The text of a NetflixViewingHistory.csv for these rows, newest first (stable for equal days). */
export function netflixExportText(rows: readonly ExportRow[]): string {
  const sorted = rows.map((row, i) => ({ row, i })).sort((a, b) => b.row.timestamp - a.row.timestamp || a.i - b.i);
  const lines = ['Title,Date'];
  for (const { row } of sorted) lines.push(`${csvField(row.title)},${csvField(isoDay(row.timestamp))}`);
  return `${lines.join('\n')}\n`;
}

/** The first `count` users of a table (quick runs and tests). */
export function firstUsers(table: RatingTable, count: number): RatingTable {
  if (count >= table.userCount) return table;
  const rows = table.userStart[count];
  return {
    rows,
    userCount: count,
    userIds: table.userIds.subarray(0, count),
    userStart: table.userStart.subarray(0, count + 1),
    movieId: table.movieId.subarray(0, rows),
    rating: table.rating.subarray(0, rows),
    timestamp: table.timestamp.subarray(0, rows),
  };
}
