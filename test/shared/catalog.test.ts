import { readFile } from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMatcher,
  FUZZY_THRESHOLD,
  loadCatalog,
  normalizeTitle,
  serializeCatalog,
  SHIPPED_CATALOG,
} from '../../src/shared/catalog';
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
    expect(catalog.hash).toMatch(/^[0-9a-f]{64}$/);
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
    });
    expect(catalog.items.filter((i) => i.kind === 'series')).toHaveLength(2676);
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
      { id: 0, showId: 's2', title: 'Inception', kind: 'film', year: 2010, genres: ['Action & Adventure', 'Sci-Fi'], countries: ['United States', 'United Kingdom'], description: 'A thief.', rating: 'PG-13', duration: '148 min', image: null },
      { id: 1, showId: 's10', title: 'Blood & Water', kind: 'series', year: 2021, genres: ['International TV Shows', 'TV Dramas'], countries: ['South Africa'], description: 'Line one,\nline two.', rating: 'TV-MA', duration: '2 Seasons', image: null },
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
    const v2 = await loadCatalog(await fixture('v2.json', JSON.stringify({ ...shipped, version: 2 }))).catch((e: unknown) => e);
    expect((v2 as Error).message).toContain('version 2');
    const badItem = await loadCatalog(await fixture('item.json', JSON.stringify({ ...shipped, items: [shipped.items[0], ['s2', 'B', 'show']] }))).catch((e: unknown) => e);
    expect((badItem as Error).message).toContain('item 1');
    expect(isAppError(await loadCatalog(path.join(dir, 'none.json')).catch((e: unknown) => e), 'ERR_FILE_NOT_FOUND')).toBe(true);
  });
});

describe('normalizeTitle', () => {
  it.each([
    ['Amélie', 'amelie'],
    ['Pokémon: Indigo League', 'pokemon indigo league'],
    ['Ｌｕｃｉｆｅｒ', 'lucifer'],
    ['Brooklyn\u00a0Nine-Nine', 'brooklyn nine nine'],
    ['Dead\u200bto\u200d Me', 'deadto me'],
    ['RuPaul’s Drag Race', 'rupauls drag race'],
    ["RuPaul's  DRAG race!", 'rupauls drag race'],
    ['Love, Death & Robots', 'love death and robots'],
    ['Sæson', 'saeson'],
    ['Ørnen', 'ornen'],
    ['Straße', 'strasse'],
    ['The Office (U.S.)', 'the office us'],
    ['3%', '3'],
    ['?!', ''],
  ])('%s -> %s', (title, key) => {
    expect(normalizeTitle(title)).toBe(key);
  });
});

describe('createMatcher', () => {
  const catalog = catalogOf([
    { title: 'Amélie', kind: 'film' },
    { title: 'Lucifer', kind: 'series' },
    { title: 'Death Note', kind: 'series' },
    { title: 'Death Note', kind: 'film' },
    { title: 'The Office (U.S.)', kind: 'series' },
    { title: 'Black Mirror', kind: 'series' },
    { title: 'Black Mirror: Bandersnatch', kind: 'film' },
    { title: 'Hotel Transylvania', kind: 'series' },
    { title: 'Pokémon: Indigo League', kind: 'series' },
    { title: 'The Knight Before Christmas', kind: 'film' },
    { title: 'Narcos', kind: 'series' },
    { title: 'Narcos: Mexico', kind: 'series' },
    { title: 'American Horror Story', kind: 'series' },
    { title: 'Our Planet', kind: 'series' },
    { title: 'Our Planet', kind: 'series' },
    { title: 'The Crown', kind: 'film' },
  ]);
  const matcher = createMatcher(catalog);
  const idOf = (show: string, kind: 'series' | 'film') => matcher.match(show, kind).item;

  it('matches exactly across case, accents, full-width forms, NBSP and zero-width characters', () => {
    for (const show of ['amelie', 'AMÉLIE', 'Ａｍｅｌｉｅ', 'Ame\u0301lie', 'Am\u200bélie', ' Amélie\u00a0']) {
      expect(matcher.match(show, 'film'), show).toEqual({ item: 0, score: 1, title: 'Amélie' });
    }
    expect(idOf('Lucifer\u00a0', 'series')).toBe(1);
  });

  it('keeps series and films apart when the catalogue has both', () => {
    expect(idOf('Death Note', 'series')).toBe(2);
    expect(idOf('Death Note', 'film')).toBe(3);
  });

  it('never matches a series entry to a film, exactly or fuzzily', () => {
    expect(matcher.match('The Crown', 'series')).toEqual({ item: null, score: 0, title: null });
    expect(matcher.match('Amelie', 'series').item).toBeNull();
    expect(matcher.match('The Knight Before Christmas', 'series').item).toBeNull();
  });

  it('lets an entry without season marker match a series of exactly that name when no film has it', () => {
    expect(idOf('Hotel Transylvania', 'film')).toBe(7);
    // ...but never fuzzily across kinds
    expect(idOf('Hotel Transylvanias', 'film')).toBeNull();
  });

  it('takes a near miss above the threshold and rejects a different title below it', () => {
    const near = matcher.match('Pokémon – serien: Indigo League', 'series');
    expect(near.item).toBe(8);
    expect(near.score).toBeGreaterThanOrEqual(FUZZY_THRESHOLD);
    expect(near.score).toBeLessThan(1);
    expect(idOf('Lucifr', 'series')).toBeNull(); // too short for a typo to stay above 0.85
    const office = matcher.match('The Office (US)', 'series');
    expect(office).toEqual({ item: 4, score: 1, title: 'The Office (U.S.)' });
    const wrong = createMatcher(catalog, { threshold: 0 }).match('The Nightmare Before Christmas', 'film');
    expect(wrong.item).toBe(9); // the best candidate...
    expect(wrong.score).toBeLessThan(FUZZY_THRESHOLD); // ...is rejected at the default threshold
    expect(idOf('The Nightmare Before Christmas', 'film')).toBeNull();
  });

  it('falls back from "Show: Name" to the series Show only when the whole name matched nothing', () => {
    expect(idOf('Black Mirror: Bandersnatch', 'film')).toBe(6);
    expect(idOf('Black Mirror: Striking Vipers', 'film')).toBe(5);
    expect(idOf('American Horror Story: Murder House', 'series')).toBe(12);
    expect(idOf('Narcos: Mexico', 'series')).toBe(11);
  });

  it('picks the lowest id among equal titles and reports unmatched shows as null', () => {
    expect(idOf('Our Planet', 'series')).toBe(13);
    expect(matcher.match('Venner', 'series')).toEqual({ item: null, score: 0, title: null });
    expect(matcher.match('   ', 'film').item).toBeNull();
  });

  it('matches 5,000 distinct shows against the shipped catalogue', async () => {
    const shipped = await loadCatalog();
    const big = createMatcher(shipped);
    const shows = shipped.items.slice(0, 5000).map((i) => ({ show: `${i.title}x`, kind: i.kind }));
    const results = shows.map(({ show, kind }) => big.match(show, kind));
    expect(results).toHaveLength(5000);
    // Every entry is either unmatched or matched to an item of its own kind.
    expect(results.every((r, i) => r.item === null || shipped.items[r.item].kind === shows[i].kind)).toBe(true);
  });
});
