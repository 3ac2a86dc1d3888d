import { readFile } from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG_FORMAT_VERSION, loadCatalog, serializeCatalog, SHIPPED_CATALOG } from '../../src/shared/catalog';
import { PROJECT_ROOT } from '../../src/shared/config';
import { isAppError } from '../../src/shared/errors';
import { catalogOf, SHARED_DATA, unavailable } from '../helpers/data';

const NETFLIX_TITLES = path.join(SHARED_DATA, 'catalog', 'netflix_titles.csv');
const MOVIELENS_MOVIES = path.join(SHARED_DATA, 'movielens', 'ml-latest-small', 'movies.csv');
/** Kaggle's netflix_titles.csv, which data/catalog.json is built from: in ../shared, not in the repository. */
const noNetflixTitles = unavailable(NETFLIX_TITLES);
const NETFLIX_HEADER = 'show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'catalog-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fixture(name: string, content: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

describe('the shipped catalogue', () => {
  it('loads from data/catalog.json with ids equal to positions and a sha256 vocabulary hash', async () => {
    const catalog = await loadCatalog();
    expect(catalog.items).toHaveLength(8807);
    expect(catalog.items.every((item, i) => item.id === i)).toBe(true);
    // The vocabulary of every model trained so far: adding dateAdded (format 2) left it as it was.
    expect(catalog.hash).toBe('2f139f83b8372025085d072d0de0cbeb48316314979faa72da00eee6c516bec4');
    expect(catalog.source).toContain('CC0');
    expect(catalog.items[0]).toEqual({
      id: 0,
      showId: 's1',
      title: 'Dick Johnson Is Dead',
      kind: 'film',
      year: 2020,
      genres: ['Documentaries'],
      countries: ['United States'],
      description: expect.stringContaining('filmmaker Kirsten Johnson'),
      rating: 'PG-13',
      duration: '90 min',
      image: null,
      dateAdded: '2021-09-25',
    });
    expect(catalog.items.filter((i) => i.kind === 'series')).toHaveLength(2676);
    expect(catalog.items.filter((i) => i.dateAdded === null).map((i) => i.title)).toContain('Friends'); // 10 rows have no date_added
    expect((await loadCatalog(null)).hash).toBe(catalog.hash);
  });

  it.skipIf(noNetflixTitles)('is exactly what scripts/build-catalog.ts makes from netflix_titles.csv (same items, same hash)', async () => {
    const fromSource = await loadCatalog(NETFLIX_TITLES);
    const shipped = await loadCatalog(SHIPPED_CATALOG);
    expect(fromSource.hash).toBe(shipped.hash);
    expect(fromSource.items).toEqual(shipped.items);
    expect(serializeCatalog({ ...fromSource, source: shipped.source })).toBe(await readFile(SHIPPED_CATALOG, 'utf8'));
  });

  it.skipIf(noNetflixTitles)('orders netflix_titles.csv by the number in show_id and fixes durations found in the rating column', async () => {
    const catalog = await loadCatalog(NETFLIX_TITLES);
    expect(catalog.items.slice(0, 3).map((i) => i.showId)).toEqual(['s1', 's2', 's3']);
    expect(catalog.items[8806].showId).toBe('s8807');
    const shifted = catalog.items.filter((i) => i.rating !== null && /min$/.test(i.rating));
    expect(shifted).toEqual([]);
    expect(catalog.items.find((i) => i.title === 'Louis C.K. 2017')).toMatchObject({ rating: null, duration: '74 min' });
  });
});

describe('catalogue files', () => {
  it('parses quoted commas and line breaks, orders by show_id number, splits genres and countries', async () => {
    const file = await fixture(
      'titles.csv',
      [
        NETFLIX_HEADER,
        's10,TV Show,"Blood & Water",,"A, B",South Africa,"September 24, 2021",2021,TV-MA,2 Seasons,"International TV Shows, TV Dramas","Line one,\nline two."',
        's2,Movie,Inception,Nolan,,"United States, United Kingdom","July 1, 2020",2010,PG-13,148 min,"Action & Adventure, Sci-Fi",A thief.',
        '',
      ].join('\r\n'),
    );
    const catalog = await loadCatalog(file);
    expect(catalog.source).toBe('titles.csv');
    expect(catalog.items).toEqual([
      { id: 0, showId: 's2', title: 'Inception', kind: 'film', year: 2010, genres: ['Action & Adventure', 'Sci-Fi'], countries: ['United States', 'United Kingdom'], description: 'A thief.', rating: 'PG-13', duration: '148 min', image: null, dateAdded: '2020-07-01' },
      { id: 1, showId: 's10', title: 'Blood & Water', kind: 'series', year: 2021, genres: ['International TV Shows', 'TV Dramas'], countries: ['South Africa'], description: 'Line one,\nline two.', rating: 'TV-MA', duration: '2 Seasons', image: null, dateAdded: '2021-09-24' },
    ]);
  });

  it('the vocabulary hash changes with a title, a kind or the order', async () => {
    const base = 's1,Movie,A,,,,,2020,,,,\ns2,TV Show,B,,,,,2020,,,,';
    const hashOf = async (rows: string, name: string) => (await loadCatalog(await fixture(name, `${NETFLIX_HEADER}\n${rows}\n`))).hash;
    const h = await hashOf(base, 'h0.csv');
    expect(await hashOf(base, 'h0-again.csv')).toBe(h);
    expect(await hashOf(base.replace(',B,', ',C,'), 'h1.csv')).not.toBe(h);
    expect(await hashOf(base.replace('TV Show', 'Movie'), 'h2.csv')).not.toBe(h);
    expect(await hashOf('s1,TV Show,B,,,,,2020,,,,\ns2,Movie,A,,,,,2020,,,,', 'h3.csv')).not.toBe(h);
    // ...and with nothing else: dates, countries, years and descriptions may be added or corrected
    expect(await hashOf('s1,Movie,A,,,Denmark,"July 1, 2020",2019,,,,Changed.\ns2,TV Show,B,,,,,2021,,,,', 'h4.csv')).toBe(h);
  });

  it('reads date_added as an ISO date, null when empty or not a date', async () => {
    const rows = ['s1,Movie,A,,,,"February 29, 2021",2020,,,,', 's2,Movie,B,,,," March 1, 2021",2020,,,,', 's3,Movie,C,,,,,2020,,,,'];
    const catalog = await loadCatalog(await fixture('dates.csv', `${NETFLIX_HEADER}\n${rows.join('\n')}\n`));
    expect(catalog.items.map((i) => i.dateAdded)).toEqual([null, '2021-03-01', null]);
  });

  it('reads a MovieLens movies.csv: year out of the title, articles back in front, genres split on |', async () => {
    const file = await fixture(
      'movies.csv',
      'movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation|Children\r\n50,"Usual Suspects, The (1995)",Crime|Mystery|Thriller\r\n' +
        '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Drama\r\n999,Untitled,(no genres listed)\r\n',
    );
    const catalog = await loadCatalog(file);
    expect(catalog.items.map((i) => [i.id, i.showId, i.title, i.year, i.kind, i.genres])).toEqual([
      [0, '1', 'Toy Story', 1995, 'film', ['Adventure', 'Animation', 'Children']],
      [1, '50', 'The Usual Suspects', 1995, 'film', ['Crime', 'Mystery', 'Thriller']],
      [2, '29', 'The City of Lost Children (Cité des enfants perdus, La)', 1995, 'film', ['Drama']],
      [3, '999', 'Untitled', null, 'film', []],
    ]);
  });

  it.skipIf(unavailable(MOVIELENS_MOVIES))('reads the real MovieLens movies.csv', async () => {
    const catalog = await loadCatalog(MOVIELENS_MOVIES);
    expect(catalog.items).toHaveLength(9742);
    expect(catalog.items[0]).toMatchObject({ showId: '1', title: 'Toy Story', year: 1995 });
  });

  it('refuses other CSVs, bad JSON, a wrong format version and a missing file', async () => {
    const csv = await loadCatalog(await fixture('other.csv', 'a,b\n1,2\n')).catch((e: unknown) => e);
    expect(isAppError(csv, 'ERR_CATALOG_FORMAT')).toBe(true);
    expect((csv as Error).message).toContain('show_id');
    const badType = await loadCatalog(await fixture('type.csv', `${NETFLIX_HEADER}\ns1,Podcast,A,,,,,2020,,,,\n`)).catch((e: unknown) => e);
    expect((badType as Error).message).toMatch(/row 2: type "Podcast"/);
    const dup = await loadCatalog(await fixture('dup.csv', `${NETFLIX_HEADER}\ns1,Movie,A,,,,,2020,,,,\ns1,Movie,B,,,,,2020,,,,\n`)).catch((e: unknown) => e);
    expect((dup as Error).message).toMatch(/row 3: show_id "s1"/);
    expect(isAppError(await loadCatalog(await fixture('bad.json', '{')).catch((e: unknown) => e), 'ERR_CATALOG_FORMAT')).toBe(true);
    const shipped = JSON.parse(await readFile(SHIPPED_CATALOG, 'utf8'));
    expect(CATALOG_FORMAT_VERSION).toBe(2);
    const v1Columns = shipped.columns.slice(0, -1);
    const v1 = { ...shipped, version: 1, columns: v1Columns, items: shipped.items.map((row: unknown[]) => row.slice(0, -1)) };
    const old = await loadCatalog(await fixture('v1.json', JSON.stringify(v1))).catch((e: unknown) => e);
    expect(isAppError(old, 'ERR_CATALOG_FORMAT')).toBe(true);
    expect((old as Error).message).toMatch(/version 1 is not .* version 2; rebuild it with `npm run catalog`/);
    const badDate = await loadCatalog(await fixture('date.json', JSON.stringify({ ...shipped, items: [[...shipped.items[0].slice(0, -1), 'September 25, 2021']] }))).catch((e: unknown) => e);
    expect((badDate as Error).message).toContain('item 0');
    const badItem = await loadCatalog(await fixture('item.json', JSON.stringify({ ...shipped, items: [shipped.items[0], ['s2', 'B', 'show']] }))).catch((e: unknown) => e);
    expect((badItem as Error).message).toContain('item 1');
    expect(isAppError(await loadCatalog(path.join(dir, 'none.json')).catch((e: unknown) => e), 'ERR_FILE_NOT_FOUND')).toBe(true);
  });
});
