import { createHash } from 'node:crypto';
import path from 'node:path';
import Papa from 'papaparse';
import { readRegularFile } from './atomic';
import { PROJECT_ROOT } from './config';
import { AppError } from './errors';
import { isoDate } from './history/dates';
import { cleanText } from './history/titles';

/**
 * The catalogue: the item vocabulary of the model (row i of Global_V is item i),
 * and (re-exported from `matching.ts`) the matching of history shows against it.
 *
 * Sources, told apart by extension and header:
 * - `data/catalog.json`, the shipped compact catalogue (built by
 *   `scripts/build-catalog.ts` from Kaggle's netflix_titles.csv, CC0 1.0; see
 *   data/ATTRIBUTION.md). Format, one item per line:
 *   ```json
 *   { "format": "syftbox-netflix-svd/catalog", "version": 2, "source": "...",
 *     "columns": ["showId","title","kind","year","genres","countries","description","rating","duration","image","dateAdded"],
 *     "items": [
 *       ["s1","Dick Johnson Is Dead","film",2020,["Documentaries"],["United States"],"As her father...","PG-13","90 min",null,"2021-09-25"],
 *       ...
 *     ] }
 *   ```
 *   Item id = position in `items`. Version 1 files (without `dateAdded`) are
 *   refused with a request to rebuild: the vocabulary hash does not change.
 * - a `netflix_titles.csv` (show_id,type,title,...,listed_in,description): items
 *   ordered by the number in show_id (`s1`, `s2`, ... `s8807`), so ids are stable
 *   for a given file; file order if some show_id has no number.
 * - a MovieLens `movies.csv` (movieId,title,genres), for the evaluation harness:
 *   file order, films only, `Toy Story (1995)` -> title `Toy Story`, year 1995.
 *
 * The vocabulary hash names the vocabulary version: sha256 (hex) of the lines
 * `${id}\t${title}\t${kind}\n` in id order. Models built on one vocabulary are
 * refused on another.
 */

export interface CatalogItem {
  id: number;
  showId: string;
  title: string;
  kind: 'series' | 'film';
  year: number | null;
  genres: string[];
  countries: string[];
  description: string;
  rating: string | null;
  duration: string | null;
  /** Poster URL when the source has one (netflix_titles.csv has none). */
  image: string | null;
  /**
   * `YYYY-MM-DD` the title was added to Netflix (netflix_titles.csv `date_added`:
   * the US catalogue, and for a series the date of its latest season); null when
   * unknown. Absent in catalogues built by hand (tests).
   */
  dateAdded?: string | null;
}

export interface Catalog {
  /** items[i].id === i */
  items: CatalogItem[];
  /** Vocabulary hash (see the module comment). */
  hash: string;
  /** Where the items came from. */
  source: string;
}

export const CATALOG_FORMAT = 'syftbox-netflix-svd/catalog';
export const CATALOG_FORMAT_VERSION = 2;
export const SHIPPED_CATALOG = path.join(PROJECT_ROOT, 'data', 'catalog.json');
const MAX_CATALOG_BYTES = 64 * 1024 * 1024; // 64 MiB: netflix_titles.csv is 3.4 MB
const COLUMNS = ['showId', 'title', 'kind', 'year', 'genres', 'countries', 'description', 'rating', 'duration', 'image', 'dateAdded'] as const;
const NETFLIX_HEADER = ['show_id', 'type', 'title', 'country', 'release_year', 'rating', 'duration', 'listed_in', 'description'];
const MOVIELENS_HEADER = ['movieId', 'title', 'genres'];

type ItemFields = Omit<CatalogItem, 'id'>;

export {
  BEFORE_ADDED_CONFIDENCE,
  createMatcher,
  FOREIGN_CONFIDENCE,
  FUZZY_MARGIN,
  FUZZY_THRESHOLD,
  matchEvents,
  normalizeTitle,
  PARTIAL_SCORE,
  seasonCount,
  type HistoryMatches,
  type Kind,
  type Matcher,
  type MatchReason,
  type ShowEvidence,
  type ShowMatch,
  type TitleMatch,
} from './matching';

/** Load a catalogue: null/undefined -> the shipped data/catalog.json; else a .json of that format or a CSV (see the module comment). */
export async function loadCatalog(file?: string | null): Promise<Catalog> {
  const target = file ?? SHIPPED_CATALOG;
  const bytes = await readRegularFile(target, { maxBytes: MAX_CATALOG_BYTES });
  if (bytes === null) throw new AppError('ERR_FILE_NOT_FOUND', `catalogue ${target} does not exist; set CATALOG_PATH to a netflix_titles.csv, or leave it empty for the shipped catalogue`, { file: target });
  const text = bytes.toString('utf8');
  if (target.toLowerCase().endsWith('.json')) return fromJson(text, target);
  return catalogOf(fromCsv(text, target), path.basename(target));
}

function catalogOf(fields: ItemFields[], source: string): Catalog {
  const items = fields.map((f, id) => ({ id, ...f }));
  const hash = createHash('sha256');
  for (const item of items) hash.update(`${item.id}\t${item.title}\t${item.kind}\n`);
  return { items, hash: hash.digest('hex'), source };
}

/** The compact JSON of a catalogue (the format above), one item per line. */
export function serializeCatalog(catalog: Catalog): string {
  const head = JSON.stringify({ format: CATALOG_FORMAT, version: CATALOG_FORMAT_VERSION, source: catalog.source, columns: COLUMNS });
  const rows = catalog.items.map((item) => `    ${JSON.stringify(COLUMNS.map((c) => item[c] ?? null))}`);
  return `${head.slice(0, -1)},\n  "items": [\n${rows.join(',\n')}\n  ]\n}\n`;
}

function fromJson(text: string, file: string): Catalog {
  const bad = (what: string): never => {
    throw new AppError('ERR_CATALOG_FORMAT', `catalogue ${file}: ${what}; rebuild it with \`npm run catalog\``, { file });
  };
  let doc: { format?: unknown; version?: unknown; source?: unknown; columns?: unknown; items?: unknown };
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return bad(`not valid JSON (${(err as Error).message})`);
  }
  if (doc.format !== CATALOG_FORMAT || doc.version !== CATALOG_FORMAT_VERSION) bad(`format ${String(doc.format)} version ${String(doc.version)} is not ${CATALOG_FORMAT} version ${CATALOG_FORMAT_VERSION}`);
  if (JSON.stringify(doc.columns) !== JSON.stringify(COLUMNS)) bad(`columns must be ${COLUMNS.join(',')}`);
  if (!Array.isArray(doc.items) || doc.items.length === 0) bad('items must be a non-empty array');
  const items = (doc.items as unknown[]).map((row, i) => {
    const [showId, title, kind, year, genres, countries, description, rating, duration, image, dateAdded] = Array.isArray(row) ? row : [];
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
    const optional = (v: unknown) => v === null || typeof v === 'string';
    const ok =
      Array.isArray(row) && row.length === COLUMNS.length &&
      typeof showId === 'string' && typeof title === 'string' && title.length > 0 && (kind === 'series' || kind === 'film') &&
      (year === null || Number.isInteger(year)) && strings(genres) && strings(countries) && typeof description === 'string' &&
      optional(rating) && optional(duration) && optional(image) && (dateAdded === null || (typeof dateAdded === 'string' && ISO_DATE.test(dateAdded)));
    if (!ok) bad(`item ${i} is not [${COLUMNS.join(', ')}] with the right types`);
    return { showId, title, kind, year, genres, countries, description, rating, duration, image, dateAdded } as ItemFields;
  });
  return catalogOf(items, typeof doc.source === 'string' ? doc.source : path.basename(file));
}

function fromCsv(text: string, file: string): ItemFields[] {
  const { data } = Papa.parse<string[]>(text, { skipEmptyLines: 'greedy' });
  const header = (data[0] ?? []).map((h) => h.trim());
  const rows = data.slice(1);
  const column = (name: string) => header.indexOf(name);
  const bad = (row: number, what: string): never => {
    throw new AppError('ERR_CATALOG_FORMAT', `catalogue ${file} row ${row}: ${what}`, { file, row });
  };
  if (rows.length === 0) bad(1, 'no items');
  if (NETFLIX_HEADER.every((c) => column(c) >= 0)) return netflixItems(rows, column, bad);
  if (MOVIELENS_HEADER.every((c) => column(c) >= 0)) return movieLensItems(rows, column, bad);
  return bad(1, `columns ${header.join(',')} are neither netflix_titles.csv (${NETFLIX_HEADER.join(',')}) nor MovieLens movies.csv (${MOVIELENS_HEADER.join(',')})`);
}

type Column = (name: string) => number;
type Bad = (row: number, what: string) => never;

const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
const orNull = (s: string) => (s.trim() === '' ? null : s.trim());
const SHOW_ID_NUMBER = /(\d+)$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
/** netflix_titles.csv `date_added`: `September 25, 2021` (some with a leading space). */
const DATE_ADDED = /^([A-Za-z]+) (\d{1,2}), (\d{4})$/;

/** `September 25, 2021` -> `2021-09-25`; null when empty or not such a date. */
function dateAddedOf(text: string): string | null {
  const m = DATE_ADDED.exec(text);
  return m ? isoDate(Number(m[3]), MONTHS.indexOf(m[1].toLowerCase()) + 1, Number(m[2])) : null;
}
/** A duration found in the rating column (three rows of netflix_titles.csv are shifted so). */
const DURATION_IN_RATING = /^\d+ min$/;

function netflixItems(rows: string[][], column: Column, bad: Bad): ItemFields[] {
  const at = (row: string[], name: string) => (row[column(name)] ?? '').trim();
  const seen = new Set<string>();
  const items = rows.map((row, i) => {
    const showId = at(row, 'show_id');
    const title = cleanText(at(row, 'title'));
    const type = at(row, 'type');
    if (showId === '' || seen.has(showId)) bad(i + 2, `show_id ${JSON.stringify(showId)} is empty or repeated`);
    seen.add(showId);
    if (title === '') bad(i + 2, 'empty title');
    if (type !== 'Movie' && type !== 'TV Show') bad(i + 2, `type ${JSON.stringify(type)} is neither Movie nor TV Show`);
    const year = Number.parseInt(at(row, 'release_year'), 10);
    let rating = orNull(at(row, 'rating'));
    let duration = orNull(at(row, 'duration'));
    if (duration === null && rating !== null && DURATION_IN_RATING.test(rating)) [rating, duration] = [null, rating];
    return {
      showId,
      title,
      kind: type === 'TV Show' ? 'series' : 'film',
      year: Number.isInteger(year) ? year : null,
      genres: list(at(row, 'listed_in')),
      countries: list(at(row, 'country')),
      description: at(row, 'description'),
      rating,
      duration,
      image: null,
      dateAdded: dateAddedOf(at(row, 'date_added')),
    } satisfies ItemFields;
  });
  const numbers = items.map((item) => SHOW_ID_NUMBER.exec(item.showId));
  if (numbers.some((m) => m === null)) return items;
  const order = items.map((item, i) => ({ item, n: Number(numbers[i]![1]) }));
  return order.sort((a, b) => a.n - b.n).map((o) => o.item);
}

const MOVIELENS_YEAR = /^(.*?)\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$/;
/** MovieLens moves leading articles to the end: `Usual Suspects, The` -> `The Usual Suspects`. */
const TRAILING_ARTICLE = /^(.*?), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los|Las)( \(.*\))?$/;

function movieLensItems(rows: string[][], column: Column, bad: Bad): ItemFields[] {
  return rows.map((row, i) => {
    const raw = cleanText(row[column('title')] ?? '');
    if (raw === '') bad(i + 2, 'empty title');
    const m = MOVIELENS_YEAR.exec(raw);
    const bare = m ? m[1] : raw;
    const a = TRAILING_ARTICLE.exec(bare);
    const title = a ? `${a[2]}${a[2].endsWith("'") ? '' : ' '}${a[1]}${a[3] ?? ''}` : bare;
    const genres = (row[column('genres')] ?? '').split('|').map((g) => g.trim()).filter((g) => g !== '' && g !== '(no genres listed)');
    return {
      showId: (row[column('movieId')] ?? '').trim(),
      title,
      kind: 'film',
      year: m ? Number(m[2]) : null,
      genres,
      countries: [],
      description: '',
      rating: null,
      duration: null,
      image: null,
      dateAdded: null,
    } satisfies ItemFields;
  });
}
