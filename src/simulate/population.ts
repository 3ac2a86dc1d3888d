import { seasonCount, type Catalog, type Matcher } from '../shared/catalog';
import { createRandom, deriveSeed, type Random } from '../shared/random';

/**
 * The simulated world: hidden tastes over the catalogue and the viewing
 * histories drawn from them, written in the Netflix `NetflixViewingHistory.csv`
 * shape (`Title,Date`, newest first, US `M/D/YY` dates). Pure: randomness and
 * dates are passed in; the loop writes the files. The model and its constants
 * are explained in docs/simulate/model.md.
 */

const LATENT_DIMS = 8;
const GENRE_NOISE = 0.5;
const FAVOURITE_GENRES = 3;
const FAVOURITE_BOOST = 2;
const QUALITY_WEIGHT = 0.5;
const UTILITY_THRESHOLD = 3;
const HISTORY_MEDIAN_SHOWS = 20;
const HISTORY_SPREAD = 0.5;
const HISTORY_MIN_SHOWS = 5;
const HISTORY_MAX_SHOWS = 80;
const HISTORY_SHARPNESS = 2;
const HISTORY_DAYS = 182;
const SERIES_MEAN_EPISODES = 4;
/** Most episodes of one series in an initial history (four seasons). */
const MAX_HISTORY_EPISODES = 40;
/** Most episodes one choice brings (a series chosen in a week is watched for a few episodes). */
const MAX_EPISODES_PER_CHOICE = 4;
/** New shows each participant finds by itself every week, besides the page (so every export changes weekly). */
const ORGANIC_SHOWS_PER_WEEK = 1;
export const DAYS_PER_WEEK = 7;
const EPISODES_PER_SEASON = 10;
export const MS_PER_DAY = 86_400_000;

/** Item side of the hidden model, shared by every participant of one seed. */
export interface World {
  items: number;
  genres: string[];
  /** Genre ids of item j: genreIds[genreStart[j] .. genreStart[j + 1]). */
  genreStart: Int32Array;
  genreIds: Int32Array;
  /** items x LATENT_DIMS. */
  latent: Float32Array;
  quality: Float32Array;
}

interface Taste {
  /** Affinity per genre of `World.genres`. */
  genre: Float32Array;
  latent: Float32Array;
}

/** One row of a Netflix history export. */
export interface HistoryRow {
  title: string;
  /** YYYY-MM-DD (UTC day). */
  date: string;
}

export interface SimParticipant {
  index: number;
  email: string;
  taste: Taste;
  /** The global list is replaced by the shows this participant likes least (`--degrade-global`). */
  degraded: boolean;
  history: HistoryRow[];
  /** Every catalogue item in the history (the ground truth, whatever the title matcher makes of it). */
  seen: Set<number>;
  /** Episodes watched so far per series, so that later episodes continue the numbering. */
  episodes: Map<number, number>;
}

/** The world of one seed, from the catalogue's genres. */
export function createWorld(catalog: Catalog, seed: number): World {
  const random = createRandom(deriveSeed(seed, 'world'));
  const genreIndex = new Map<string, number>();
  const genreStart = new Int32Array(catalog.items.length + 1);
  const ids: number[] = [];
  catalog.items.forEach((item, j) => {
    genreStart[j] = ids.length;
    for (const g of item.genres) {
      if (!genreIndex.has(g)) genreIndex.set(g, genreIndex.size);
      ids.push(genreIndex.get(g)!);
    }
  });
  genreStart[catalog.items.length] = ids.length;
  const items = catalog.items.length;
  const latent = new Float32Array(items * LATENT_DIMS);
  const scale = 1 / Math.sqrt(LATENT_DIMS);
  for (let i = 0; i < latent.length; i++) latent[i] = random.normal() * scale;
  const quality = new Float32Array(items);
  for (let j = 0; j < items; j++) quality[j] = random.normal();
  return { items, genres: [...genreIndex.keys()], genreStart, genreIds: Int32Array.from(ids), latent, quality };
}

/** Participant `index`'s hidden taste: depends only on (seed, index). */
export function createTaste(world: World, seed: number, index: number): Taste {
  const random = createRandom(deriveSeed(seed, `taste/${index}`));
  const genre = new Float32Array(world.genres.length);
  for (let g = 0; g < genre.length; g++) genre[g] = random.normal() * GENRE_NOISE;
  // favourites drawn ∝ how many items carry the genre, so that favourites are watchable
  const sizes = new Float64Array(genre.length);
  for (const g of world.genreIds) sizes[g]++;
  for (let f = 0; f < Math.min(FAVOURITE_GENRES, genre.length); f++) {
    const g = drawProportional(sizes, random);
    genre[g] += FAVOURITE_BOOST;
    sizes[g] = 0;
  }
  const latent = new Float32Array(LATENT_DIMS);
  for (let a = 0; a < LATENT_DIMS; a++) latent[a] = random.normal();
  return { genre, latent };
}

function drawProportional(weights: Float64Array, random: Random): number {
  let total = 0;
  for (const w of weights) total += w;
  let x = random.next() * total;
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i];
    if (x < 0) return i;
  }
  return weights.length - 1;
}

const logistic = (x: number) => 1 / (1 + Math.exp(-x));

/** u_pj for every item (see the module comment). */
export function utilities(world: World, taste: Taste): Float32Array {
  const out = new Float32Array(world.items);
  for (let j = 0; j < world.items; j++) {
    const start = world.genreStart[j];
    const end = world.genreStart[j + 1];
    let genre = 0;
    for (let k = start; k < end; k++) genre += taste.genre[world.genreIds[k]];
    if (end > start) genre /= end - start;
    let latent = 0;
    for (let a = 0, off = j * LATENT_DIMS; a < LATENT_DIMS; a++) latent += taste.latent[a] * world.latent[off + a];
    out[j] = logistic(genre + latent + QUALITY_WEIGHT * world.quality[j] - UTILITY_THRESHOLD);
  }
  return out;
}

/** The k items of highest value (e.g. utility: the NDCG's ideal list) among those not in `exclude`, best first; ties to the lower id. */
export function bestItems(utility: ArrayLike<number>, k: number, exclude: ReadonlySet<number>): number[] {
  const best: number[] = [];
  for (let j = 0; j < utility.length; j++) {
    if (exclude.has(j)) continue;
    if (best.length === k && utility[j] <= utility[best[k - 1]]) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && utility[best[at - 1]] < utility[j]) at--;
    best.splice(at, 0, j);
    if (best.length > k) best.pop();
  }
  return best;
}

/** `YYYY-MM-DD` of a UTC time. */
function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Netflix US style: `M/D/YY`. */
function usDate(isoDate: string): string {
  const [y, m, d] = isoDate.split('-').map(Number);
  return `${m}/${d}/${String(y % 100).padStart(2, '0')}`;
}

/** The export title of one viewing: the film's title, or `Show: Season s: Episode e`. */
export function historyTitle(catalog: Catalog, item: number, episode: number): string {
  const { title, kind } = catalog.items[item];
  if (kind === 'film') return title;
  // never a season the catalogue does not list: the matcher would rightly refuse it
  const season = Math.min(Math.ceil(episode / EPISODES_PER_SEASON), seasonCount(catalog.items[item]) ?? Infinity);
  return `${title}: Season ${season}: Episode ${episode - (season - 1) * EPISODES_PER_SEASON}`;
}

/**
 * Rows for watching `item` starting on day `startMs`: one for a film, `count`
 * consecutive episodes (one a day, never past `lastMs`) for a series.
 */
function watchRows(catalog: Catalog, participant: SimParticipant, item: number, count: number, startMs: number, lastMs: number): HistoryRow[] {
  participant.seen.add(item);
  if (catalog.items[item].kind === 'film') return [{ title: historyTitle(catalog, item, 1), date: isoDay(startMs) }];
  const done = participant.episodes.get(item) ?? 0;
  const rows: HistoryRow[] = [];
  for (let e = 1; e <= count; e++) rows.push({ title: historyTitle(catalog, item, done + e), date: isoDay(Math.min(startMs + (e - 1) * MS_PER_DAY, lastMs)) });
  participant.episodes.set(item, done + count);
  return rows;
}

/** 1 + Geometric(mean − 1) episodes, capped. */
function episodeCount(random: Random, mean: number, cap: number): number {
  let n = 1;
  while (n < cap && random.next() > 1 / mean) n++;
  return n;
}

interface PopulationOptions {
  participants: number;
  seed: number;
  /** Share of participants whose global list is replaced by the shows they like least. */
  degradeGlobal: number;
  /** First day of week 1 (UTC midnight); the initial histories end the day before. */
  startMs: number;
  /** Datasite of participant i. */
  email: (index: number) => string;
}

/** Every participant with a hidden taste and an initial history. */
export function createPopulation(catalog: Catalog, world: World, options: PopulationOptions): SimParticipant[] {
  const people: SimParticipant[] = [];
  for (let index = 0; index < options.participants; index++) {
    const taste = createTaste(world, options.seed, index);
    const random = createRandom(deriveSeed(options.seed, `history/${index}`));
    const participant: SimParticipant = {
      index,
      email: options.email(index),
      taste,
      degraded: random.next() < options.degradeGlobal,
      history: [],
      seen: new Set(),
      episodes: new Map(),
    };
    const u = utilities(world, taste);
    const shows = Math.min(HISTORY_MAX_SHOWS, Math.max(HISTORY_MIN_SHOWS, Math.round(Math.exp(Math.log(HISTORY_MEDIAN_SHOWS) + HISTORY_SPREAD * random.normal()))));
    const lastMs = options.startMs - MS_PER_DAY;
    for (const item of drawShows(u, shows, participant.seen, random)) {
      const day = options.startMs - (1 + random.int(HISTORY_DAYS)) * MS_PER_DAY;
      participant.history.push(...watchRows(catalog, participant, item, episodeCount(random, SERIES_MEAN_EPISODES, MAX_HISTORY_EPISODES), day, lastMs));
    }
    people.push(participant);
  }
  return people;
}

/** k distinct shows not in `exclude`, drawn without replacement with probability ∝ u^HISTORY_SHARPNESS (Gumbel top-k). */
function drawShows(u: Float32Array, k: number, exclude: ReadonlySet<number>, random: Random): number[] {
  const keys = new Float64Array(u.length);
  for (let j = 0; j < u.length; j++) {
    let x = 0;
    while (x === 0) x = random.next();
    keys[j] = HISTORY_SHARPNESS * Math.log(u[j]) - Math.log(-Math.log(x));
  }
  return bestItems(keys, k, exclude);
}

/**
 * What a participant watches in a week besides the page's suggestions:
 * ORGANIC_SHOWS_PER_WEEK new shows drawn like the initial history (∝ u^HISTORY_SHARPNESS,
 * unseen only), each from a random day of the week, 1 to MAX_EPISODES_PER_CHOICE episodes.
 */
export function organicViewing(catalog: Catalog, participant: SimParticipant, u: Float32Array, weekStartMs: number, lastMs: number, random: Random): HistoryRow[] {
  return drawShows(u, ORGANIC_SHOWS_PER_WEEK, participant.seen, random).flatMap((item) => watchThisWeek(catalog, participant, item, weekStartMs, lastMs, random));
}

/** Rows for a show chosen this week: from a random day of the week (not after `lastMs`), 1 to MAX_EPISODES_PER_CHOICE episodes of a series. */
export function watchThisWeek(catalog: Catalog, participant: SimParticipant, item: number, weekStartMs: number, lastMs: number, random: Random): HistoryRow[] {
  return watchRows(catalog, participant, item, 1 + random.int(MAX_EPISODES_PER_CHOICE), weekStartMs + random.int(DAYS_PER_WEEK - 1) * MS_PER_DAY, lastMs);
}

/** The rows as a `NetflixViewingHistory.csv`: header, newest first, titles quoted. */
export function formatHistoryCsv(rows: readonly HistoryRow[]): string {
  const sorted = rows.map((row, i) => ({ row, i })).sort((a, b) => (a.row.date === b.row.date ? b.i - a.i : a.row.date < b.row.date ? 1 : -1));
  const lines = sorted.map(({ row }) => `"${row.title.replace(/"/g, '""')}","${usDate(row.date)}"`);
  return `Title,Date\n${lines.join('\n')}\n`;
}

/**
 * Share of distinct (participant, show) pairs of the histories whose export title
 * comes back as the same catalogue item through the matcher's title split
 * (`Matcher.decompose`) and match (the rest are titles the matcher cannot tell apart or split wrongly).
 */
export function titleMatchRate(catalog: Catalog, matcher: Matcher, people: readonly SimParticipant[]): number {
  const cache = new Map<number, boolean>();
  let pairs = 0;
  let matched = 0;
  for (const p of people) {
    for (const item of p.seen) {
      let ok = cache.get(item);
      if (ok === undefined) {
        const title = matcher.decompose(historyTitle(catalog, item, 1));
        ok = matcher.match(title.show, title.kind).item === item;
        cache.set(item, ok);
      }
      pairs++;
      if (ok) matched++;
    }
  }
  return pairs === 0 ? 1 : matched / pairs;
}
