import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { createRandom, type Random } from '../shared/random';
import { MOVIES_FILE, RATINGS_FILE } from './movielens';

/**
 * A synthetic MovieLens-format folder from a seeded low-rank model, for tests and
 * the scale runs (6,000 users) that no real data set here covers.
 *
 * Model: user factors x_u ~ N(0, I), item factors y_j ~ N(0, I/rank); item j has
 * popularity weight 1 / (j + POPULARITY_OFFSET)^POPULARITY_EXPONENT (a long tail).
 * A user rates n_u = minRatings + Exp(meanExtraRatings) distinct items, drawn with
 * probability ∝ popularity_j · exp(AFFINITY · x_u·y_j); the rating is
 * 3.5 + x_u·y_j + N(0, 0.5²), rounded to half stars in [0.5, 5]. Timestamps
 * increase per user from a start in 2000–2018. Titles are three-word names plus a
 * year of 1950–1999, distinct once the year is stripped (as the catalogue strips
 * it); no film is rated before its year (the matcher would rightly refuse it).
 * Written streaming: memory O(items · rank), whatever the number of users.
 */

export interface SyntheticOptions {
  users: number;
  items: number;
  seed: number;
  rank?: number;
  minRatings?: number;
  meanExtraRatings?: number;
}

const WORDS_A = ['Silent', 'Golden', 'Broken', 'Hidden', 'Crimson', 'Electric', 'Frozen', 'Wild', 'Last', 'Secret', 'Distant', 'Burning', 'Midnight', 'Northern', 'Quiet', 'Savage', 'Paper', 'Iron', 'Velvet', 'Hollow'];
const WORDS_B = ['River', 'Empire', 'Garden', 'Harbor', 'Mountain', 'Circus', 'Station', 'Forest', 'Kingdom', 'Island', 'Valley', 'Desert', 'Engine', 'Lantern', 'Mirror', 'Orchard', 'Compass', 'Canyon', 'Meadow', 'Tower'];
const WORDS_C = ['Blues', 'Saga', 'Affair', 'Legacy', 'Promise', 'Escape', 'Reunion', 'Mystery', 'Journey', 'Protocol', 'Rebellion', 'Diaries', 'Chronicle', 'Vendetta', 'Gambit', 'Requiem', 'Odyssey', 'Paradox', 'Horizon', 'Covenant'];
const GENRES = ['Action', 'Adventure', 'Comedy', 'Drama', 'Romance', 'Thriller', 'Sci-Fi', 'Documentary'];
const DEFAULT_RANK = 8;
const DEFAULT_MIN_RATINGS = 20;
const DEFAULT_MEAN_EXTRA_RATINGS = 40;
const POPULARITY_OFFSET = 10;
const POPULARITY_EXPONENT = 0.8;
const AFFINITY = 1.5;
const RATING_CENTER = 3.5;
const RATING_NOISE = 0.5;
const FIRST_START = Date.UTC(2000, 0, 1) / 1000;
const START_SPAN_SECONDS = 18 * 365 * 86400;
const MAX_GAP_SECONDS = 3 * 86400;
const FIRST_YEAR = 1950;
const YEARS = 50;

/** Distinct title of item j (j < 8000 with these word lists). */
function syntheticTitle(j: number): string {
  const a = WORDS_A[j % WORDS_A.length];
  const b = WORDS_B[Math.floor(j / WORDS_A.length) % WORDS_B.length];
  const c = WORDS_C[Math.floor(j / (WORDS_A.length * WORDS_B.length)) % WORDS_C.length];
  const n = Math.floor(j / (WORDS_A.length * WORDS_B.length * WORDS_C.length));
  return `${a} ${b} ${c}${n > 0 ? ` ${n + 1}` : ''} (${FIRST_YEAR + (j % YEARS)})`;
}

function normals(random: Random, n: number, scale: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = random.normal() * scale;
  return out;
}

/** Write `ratings.csv` and `movies.csv` (LF line endings) into `dir`; returns the number of ratings. */
export async function writeSyntheticMovieLens(dir: string, options: SyntheticOptions): Promise<number> {
  const rank = options.rank ?? DEFAULT_RANK;
  const minRatings = options.minRatings ?? DEFAULT_MIN_RATINGS;
  const meanExtra = options.meanExtraRatings ?? DEFAULT_MEAN_EXTRA_RATINGS;
  const { items, users } = options;
  const random = createRandom(options.seed);
  await fs.mkdir(dir, { recursive: true });

  const movies = ['movieId,title,genres'];
  for (let j = 0; j < items; j++) {
    const title = syntheticTitle(j);
    movies.push(`${j + 1},${title.includes(',') ? `"${title}"` : title},${GENRES[j % GENRES.length]}|${GENRES[(j * 7 + 3) % GENRES.length]}`);
  }
  await fs.writeFile(path.join(dir, MOVIES_FILE), `${movies.join('\n')}\n`);

  const Y = normals(random, items * rank, 1 / Math.sqrt(rank));
  const popularity = new Float64Array(items);
  for (let j = 0; j < items; j++) popularity[j] = 1 / (j + POPULARITY_OFFSET) ** POPULARITY_EXPONENT;
  const affinity = new Float64Array(items);
  const cdf = new Float64Array(items);
  const out = createWriteStream(path.join(dir, RATINGS_FILE));
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('userId,movieId,rating,timestamp\n');
  let total = 0;
  for (let u = 0; u < users; u++) {
    const x = normals(random, rank, 1);
    let sum = 0;
    for (let j = 0; j < items; j++) {
      let s = 0;
      for (let a = 0; a < rank; a++) s += x[a] * Y[j * rank + a];
      affinity[j] = s;
      sum += popularity[j] * Math.exp(AFFINITY * s);
      cdf[j] = sum;
    }
    const want = Math.min(items, minRatings + Math.floor(-meanExtra * Math.log(1 - random.next())));
    const chosen = new Set<number>();
    while (chosen.size < want) {
      const target = random.next() * sum;
      let lo = 0;
      let hi = items - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid] < target) lo = mid + 1;
        else hi = mid;
      }
      chosen.add(lo);
    }
    let time = FIRST_START + Math.floor(random.next() * START_SPAN_SECONDS);
    const lines: string[] = [];
    for (const j of chosen) {
      time += 1 + Math.floor(random.next() * MAX_GAP_SECONDS);
      const raw = RATING_CENTER + affinity[j] + RATING_NOISE * random.normal();
      const rating = Math.min(5, Math.max(0.5, Math.round(raw * 2) / 2));
      lines.push(`${u + 1},${j + 1},${rating.toFixed(1)},${time}\n`);
    }
    total += lines.length;
    await write(lines.join(''));
  }
  out.end();
  await once(out, 'finish');
  return total;
}
