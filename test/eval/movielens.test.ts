import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ingestParticipants, type Participant } from '../../src/eval/ingest';
import { exportTitles, movieIndex, netflixExportText, readRatings } from '../../src/eval/movielens';
import { leaveLastOut } from '../../src/eval/split';
import { createMatcher, loadCatalog } from '../../src/shared/catalog';
import { isAppError } from '../../src/shared/errors';
import { readHistory } from '../../src/shared/history';
import { matchHistory } from '../../src/participant/train';

const CRLF = '\r\n';
/** Titles as MovieLens writes them: years, trailing articles, commas, quotes, colons, accents. */
const MOVIES = [
  'movieId,title,genres',
  '1,Toy Story (1995),Adventure|Animation|Children',
  '2,"American President, The (1995)",Comedy|Drama|Romance',
  '3,Star Wars: Episode IV - A New Hope (1977),Action|Adventure|Sci-Fi',
  '4,"Shawshank Redemption, The (1994)",Crime|Drama',
  '5,Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964),Comedy|War',
  '6,"""Great Performances"" Cats (1998)",Musical',
  '7,Léon: The Professional (a.k.a. The Professional) (Léon) (1994),Action|Crime|Drama',
  '8,Wallace & Gromit: The Wrong Trousers (1993),Animation|Children|Comedy',
  '9,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama|Fantasy',
  '10,Seven (a.k.a. Se7en) (1995),Mystery|Thriller',
].join(CRLF);

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eval-movielens-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('readRatings', () => {
  it('reads CRLF files into per-user rows sorted by time', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ratings.csv');
    writeFileSync(file, ['userId,movieId,rating,timestamp', '2,5,3.5,300', '1,3,4.0,200', '1,1,5.0,100', ''].join(CRLF));
    const t = await readRatings(file);
    expect(t.rows).toBe(3);
    expect(Array.from(t.userIds)).toEqual([1, 2]);
    expect(Array.from(t.movieId)).toEqual([1, 3, 5]);
    expect(Array.from(t.rating)).toEqual([5, 4, 3.5]);
  });

  it('names the file and row of a malformed line', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ratings.csv');
    writeFileSync(file, 'userId,movieId,rating,timestamp\n1,2,4,100\n1,x,4,100\n');
    const err = await readRatings(file).catch((e: unknown) => e);
    expect(isAppError(err, 'ERR_RATINGS_FORMAT')).toBe(true);
    expect((err as Error).message).toContain('row 3');
  });
});

describe('Netflix-style export', () => {
  it('writes Title,Date newest first with quoted titles', () => {
    const text = netflixExportText([
      { title: 'Toy Story', timestamp: 86400 * 3 },
      { title: 'The "Great" One, Part 2', timestamp: 86400 * 10 },
    ]);
    expect(text).toBe('Title,Date\n"The ""Great"" One, Part 2","1970-01-11"\n"Toy Story","1970-01-04"\n');
  });

  it('round-trips through readHistory and the matcher to the same movies (100% on this fixture)', async () => {
    const dir = tempDir();
    const movies = path.join(dir, 'movies.csv');
    writeFileSync(movies, MOVIES);
    const catalog = await loadCatalog(movies);
    const matcher = createMatcher(catalog);
    const titles = await exportTitles(catalog, movies, 'catalog');
    expect(titles[1]).toBe('The American President');
    const file = path.join(dir, 'NetflixViewingHistory.csv');
    // one row per movie, on distinct days from 1999 on (years before 2000 must survive the date format; no film before its year)
    writeFileSync(file, netflixExportText(catalog.items.map((item) => ({ title: titles[item.id], timestamp: 915148800 + item.id * 86400 * 40 }))));
    const now = new Date(Date.UTC(2000, 0, 1));
    const parsed = await readHistory(file, { dateOrder: 'ymd', now });
    expect(parsed.events).toHaveLength(catalog.items.length);
    expect(parsed.events.at(-1)!.date).toBe('1999-01-01');
    const matched = matchHistory(parsed.events, matcher, { now, halfLifeDays: 1e5, mode: 'implicit' });
    expect(matched.unmatchedShows).toBe(0);
    expect(matched.watched).toEqual(catalog.items.map((i) => i.id));
  });
});

describe('ingestParticipants', () => {
  it('turns each user into pipeline interactions and reports titles that do not map back', async () => {
    const dir = tempDir();
    const movies = path.join(dir, 'movies.csv');
    // 11, 12: the same title, two films (the export has no year); 13: colons and parentheses, kept whole as a catalogue film
    writeFileSync(movies, [MOVIES, '11,Hamlet (1948),Drama', '12,Hamlet (1996),Drama', '13,Three Colors: Red (Trois couleurs: Rouge) (1994),Drama'].join(CRLF));
    const ratings = path.join(dir, 'ratings.csv');
    writeFileSync(
      ratings,
      [
        'userId,movieId,rating,timestamp',
        // 1998: either Hamlet could be meant, so neither is guessed
        '1,1,4,900000000', '1,12,5,900100000', '1,13,3,900200000', '1,4,2,900300000',
        '2,11,4,900000000', '2,2,3,900000001',
        // 1994: only the 1948 Hamlet existed
        '3,11,5,780000000',
        // a rating dated before its film's year (MovieLens has a few): the date points to the other Hamlet
        '4,12,2,790000000',
      ].join(CRLF),
    );
    const catalog = await loadCatalog(movies);
    const table = await readRatings(ratings);
    const isTrain = new Uint8Array(table.rows).fill(1);
    isTrain[leaveLastOut(table)[0]] = 0; // user 1's movie 4 is held out
    const participants: Participant[] = [];
    const report = await ingestParticipants(
      {
        table, isTrain, catalog, matcher: createMatcher(catalog), titles: await exportTitles(catalog, movies, 'catalog'), index: movieIndex(catalog),
        exportFile: (id) => path.join(dir, `user${id}`, 'NetflixViewingHistory.csv'), halfLifeDays: 30, protocol: 'explicit',
      },
      (p) => participants.push(p),
    );
    expect(report).toMatchObject({ ratings: 7, exact: 4, wrong: 1, unmatched: 2, titles: 5, exactTitles: 3, droppedWithoutRating: 1, failureCount: 2 });
    expect(report.rate).toBeCloseTo(4 / 7, 12);
    expect(report.failures.map((f) => [f.movieId, f.ratings, f.matched?.movieId ?? null])).toEqual([
      [12, 2, null],
      [11, 1, null],
    ]);
    const idOf = movieIndex(catalog);
    const trained = (p: Participant) => p.train.map((i) => [i.item, i.preference]).sort((a, b) => a[0]! - b[0]!);
    expect(participants.map((p) => p.userId)).toEqual([1, 2, 3, 4]);
    expect(trained(participants[0])).toEqual([[idOf.get(1), 4], [idOf.get(13), 3]]);
    expect(trained(participants[1])).toEqual([[idOf.get(2), 3]]);
    expect(trained(participants[2])).toEqual([[idOf.get(11), 5]]);
    // user 4's Hamlet matched the 1948 film, which user 4 did not rate: dropped
    expect(participants[3].train).toEqual([]);
  });
});
