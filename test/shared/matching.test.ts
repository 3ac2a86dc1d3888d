import { describe, expect, it } from 'vitest';
import {
  BEFORE_ADDED_CONFIDENCE,
  createMatcher,
  FOREIGN_CONFIDENCE,
  FUZZY_THRESHOLD,
  loadCatalog,
  matchEvents,
  normalizeTitle,
  PARTIAL_SCORE,
  type Catalog,
  type CatalogItem,
} from '../../src/shared/catalog';
import { decomposeTitle, type ViewingEvent } from '../../src/shared/history';

type Entry = [string, 'series' | 'film', Partial<Omit<CatalogItem, 'id' | 'title' | 'kind'>>?];

/** A small catalogue built in memory: (title, kind, other fields) in id order. */
function catalogOf(entries: Entry[]): Catalog {
  const items: CatalogItem[] = entries.map(([title, kind, more], id) => ({
    id, showId: `s${id + 1}`, title, kind, year: null, genres: [], countries: [], description: '', rating: null, duration: null, image: null, dateAdded: null, ...more,
  }));
  return { items, hash: 'test', source: 'test' };
}

/** The events of a history written as (title, date) rows, decomposed as the parser does. */
function eventsOf(rows: [string, string][]): ViewingEvent[] {
  return rows.map(([title, date]) => ({ profile: null, title, ...decomposeTitle(title), date, startTime: null, durationSec: null }));
}

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

describe('createMatcher: titles', () => {
  const catalog = catalogOf([
    ['Amélie', 'film'],
    ['Lucifer', 'series'],
    ['Death Note', 'series'],
    ['Death Note', 'film'],
    ['The Office (U.S.)', 'series'],
    ['Black Mirror', 'series'],
    ['Black Mirror: Bandersnatch', 'film'],
    ['Hotel Transylvania', 'series'],
    ['Pokémon: Indigo League', 'series'],
    ['The Knight Before Christmas', 'film'],
    ['Narcos', 'series'],
    ['Narcos: Mexico', 'series'],
    ['American Horror Story', 'series'],
    ['Our Planet', 'series'],
    ['Our Planet', 'series'],
    ['The Crown', 'film'],
  ]);
  const matcher = createMatcher(catalog);
  const idOf = (show: string, kind: 'series' | 'film') => matcher.match(show, kind).item;

  it('matches across case, accents, full-width forms, NBSP and zero-width characters, and says whether the title was exact', () => {
    for (const show of ['AMÉLIE', 'Ame\u0301lie', 'Am\u200bélie', ' Amélie\u00a0']) {
      expect(matcher.match(show, 'film'), show).toEqual({ item: 0, score: 1, title: 'Amélie', reason: 'exact', candidates: [] });
    }
    for (const show of ['amelie', 'Ａｍｅｌｉｅ']) expect(matcher.match(show, 'film'), show).toMatchObject({ item: 0, score: 1, reason: 'normalized' });
    expect(idOf('Lucifer\u00a0', 'series')).toBe(1);
  });

  it('keeps series and films apart when the catalogue has both', () => {
    expect(idOf('Death Note', 'series')).toBe(2);
    expect(idOf('Death Note', 'film')).toBe(3);
  });

  it('never matches a series entry to a film, exactly or fuzzily', () => {
    expect(matcher.match('The Crown', 'series')).toEqual({ item: null, score: 0, title: null, reason: 'rejected-kind', candidates: [15] });
    expect(idOf('Amelie', 'series')).toBeNull();
    expect(idOf('The Knight Before Christmas', 'series')).toBeNull();
  });

  it('matches a single-part title to a series only with evidence: the history has episodes of that series', () => {
    expect(matcher.match('Hotel Transylvania', 'film')).toEqual({ item: null, score: 0, title: null, reason: 'rejected-kind', candidates: [7] });
    expect(matcher.match('Hotel Transylvania', 'film', { seriesInHistory: true })).toMatchObject({ item: 7, reason: 'exact' });
    // a film entry with parts of its own may be a series' special
    expect(matcher.match('Narcos: Mexico', 'film')).toMatchObject({ item: 11, reason: 'exact' });
    // ...but never fuzzily across kinds
    expect(idOf('Hotel Transylvanias', 'film')).toBeNull();
  });

  it('takes a near miss above the threshold and rejects a different title below it', () => {
    const near = matcher.match('Pokémon – serien: Indigo League', 'series');
    expect(near).toMatchObject({ item: 8, reason: 'fuzzy' });
    expect(near.score).toBeGreaterThanOrEqual(FUZZY_THRESHOLD);
    expect(near.score).toBeLessThan(1);
    expect(idOf('Lucifr', 'series')).toBeNull(); // too short for a typo to stay above 0.85
    expect(matcher.match('The Office (US)', 'series')).toMatchObject({ item: 4, score: 1, title: 'The Office (U.S.)', reason: 'normalized' });
    const wrong = createMatcher(catalog, { threshold: 0 }).match('The Nightmare Before Christmas', 'film');
    expect(wrong.item).toBe(9); // the best candidate...
    expect(wrong.score).toBeLessThan(FUZZY_THRESHOLD); // ...is rejected at the default threshold
    expect(matcher.match('The Nightmare Before Christmas', 'film')).toMatchObject({ item: null, reason: 'not-found' });
  });

  it('falls back from "Show: Name" to the series Show only when the whole name matched nothing', () => {
    expect(idOf('Black Mirror: Bandersnatch', 'film')).toBe(6);
    expect(matcher.match('Black Mirror: Striking Vipers', 'film')).toMatchObject({ item: 5, score: PARTIAL_SCORE, reason: 'partial' });
    expect(matcher.match('American Horror Story: Murder House', 'series')).toMatchObject({ item: 12, reason: 'partial' });
    expect(idOf('Narcos: Mexico', 'series')).toBe(11);
    // one word after the show is an edition, not an episode
    expect(idOf('Lucifer: Bloopers', 'film')).toBeNull();
    expect(idOf('Lucifer: The Bloopers', 'film')).toBe(1);
  });

  it('counts two listings of one work once, and reports an unmatched show with its reason', () => {
    expect(matcher.match('Our Planet', 'series')).toMatchObject({ item: 13, reason: 'exact', candidates: [] });
    expect(matcher.match('Venner', 'series')).toEqual({ item: null, score: 0, title: null, reason: 'not-found', candidates: [] });
    expect(matcher.match('   ', 'film').item).toBeNull();
  });

  it('matches 5,000 distinct shows against the shipped catalogue, each to an item of its own kind or not at all', async () => {
    const shipped = await loadCatalog();
    const big = createMatcher(shipped);
    const shows = shipped.items.slice(0, 5000).map((i) => ({ show: `${i.title}x`, kind: i.kind }));
    const results = shows.map(({ show, kind }) => big.match(show, kind));
    expect(results).toHaveLength(5000);
    expect(results.every((r, i) => r.item === null || shipped.items[r.item].kind === shows[i].kind)).toBe(true);
  });
});

describe('createMatcher: evidence', () => {
  const catalog = catalogOf([
    /* 0 */ ['Suits', 'series', { year: 2018, duration: '1 Season', countries: ['South Korea'], dateAdded: '2019-12-01' }],
    /* 1 */ ['Lucifer', 'series', { year: 2021, duration: '6 Seasons', countries: ['United States'], dateAdded: '2021-09-10' }],
    /* 2 */ ['Hamlet', 'film', { year: 1948, duration: '155 min', countries: ['United Kingdom'], dateAdded: '2015-01-01' }],
    /* 3 */ ['Hamlet', 'film', { year: 1996, duration: '242 min', countries: ['United Kingdom'], dateAdded: '2019-01-01' }],
    /* 4 */ ['Taxi Driver', 'film', { year: 2015, duration: '94 min', countries: ['Nigeria'], dateAdded: '2020-02-26' }],
    /* 5 */ ['Waiting', 'film', { year: 2015, duration: '94 min', countries: ['India'], dateAdded: '2018-05-01' }],
    /* 6 */ ['Waiting', 'film', { year: 2005, duration: '90 min', countries: ['United States'], dateAdded: '2020-09-23' }],
    /* 7 */ ['Tiger King: Murder, Mayhem and Madness', 'series', { year: 2020, duration: '1 Season', countries: ['United States'], dateAdded: '2020-03-20' }],
    /* 8 */ ["Charlie's Angels", 'film', { year: 2000, duration: '98 min' }],
    /* 9 */ ["Charlie's Angels: Full Throttle", 'film', { year: 2003, duration: '106 min' }],
    /* 10 */ ['Bee Movie', 'film', { year: 2007, duration: '92 min' }],
    /* 11 */ ['Star Wars: Episode VIII: The Last Jedi', 'film', { year: 2017, duration: '152 min' }],
    /* 12 */ ['Pokémon: Indigo League', 'series', { year: 2000, duration: '1 Season', countries: ['Japan'], dateAdded: '2018-01-01' }],
    /* 13 */ ['Pokémon: Indigo Leagues', 'series', { year: 2000, duration: '1 Season', countries: ['Japan'] }],
  ]);
  const matcher = createMatcher(catalog);

  it('rejects a film or one-season series first viewed before its year; a longer series carries its latest season year', () => {
    expect(matcher.match('Suits', 'series', { firstDate: '2016-02-01' })).toEqual({ item: null, score: 0, title: null, reason: 'rejected-date', candidates: [0] });
    expect(matcher.match('Suits', 'series', { firstDate: '2020-01-05' }).item).toBe(0);
    expect(matcher.match('Lucifer', 'series', { firstDate: '2016-06-01' }).item).toBe(1);
  });

  it('rejects an item with fewer seasons than the history watched', () => {
    expect(matcher.match('Suits', 'series', { firstDate: '2020-01-05', maxSeason: 5 })).toMatchObject({ item: null, reason: 'rejected-seasons', candidates: [0] });
    expect(matcher.match('Lucifer', 'series', { maxSeason: 6 }).item).toBe(1);
  });

  it('leaves two works of one title unmatched unless the evidence leaves one', () => {
    expect(matcher.match('Hamlet', 'film', { firstDate: '2010-03-01' })).toEqual({ item: null, score: 0, title: null, reason: 'ambiguous', candidates: [2, 3] });
    expect(matcher.match('Hamlet', 'film', { firstDate: '1995-03-01' })).toMatchObject({ item: 2, reason: 'exact', candidates: [] });
    // only one was on Netflix when first viewed
    expect(matcher.match('Hamlet', 'film', { firstDate: '2016-03-01', language: 'da' })).toMatchObject({ item: 2, candidates: [3] });
    // only one comes from a country of the export's language
    expect(matcher.match('Waiting', 'film', { firstDate: '2021-01-10', language: 'en' })).toMatchObject({ item: 6, candidates: [5] });
    expect(matcher.match('Waiting', 'film', { firstDate: '2021-01-10', language: 'hi' })).toMatchObject({ item: 5, candidates: [6] });
  });

  it('in an English export, lowers confidence for a title viewed before it was added and for one from no English-speaking country', () => {
    expect(matcher.match('Suits', 'series', { firstDate: '2020-01-05', language: 'en' })).toMatchObject({ item: 0, score: FOREIGN_CONFIDENCE });
    expect(matcher.match('Lucifer', 'series', { firstDate: '2019-06-01', language: 'en' })).toMatchObject({ item: 1, score: 1 }); // several seasons: date_added is the latest's
    // one doubt leaves an exact match, two do not
    expect(matcher.match('Taxi Driver', 'film', { firstDate: '2020-03-01', language: 'en' })).toMatchObject({ item: 4, score: FOREIGN_CONFIDENCE });
    expect(matcher.match('Taxi Driver', 'film', { firstDate: '2019-05-01', language: 'en' })).toMatchObject({ item: null, reason: 'rejected-confidence', candidates: [4] });
    expect(BEFORE_ADDED_CONFIDENCE * FOREIGN_CONFIDENCE).toBeLessThan(FUZZY_THRESHOLD);
    // other exports get titles at other dates and under other names: no doubt from either
    expect(matcher.match('Taxi Driver', 'film', { firstDate: '2019-05-01', language: 'da' })).toMatchObject({ item: 4, score: 1 });
    // a fuzzy match with one doubt falls below the threshold
    expect(matcher.match('Pokémon – serien: Indigo League', 'series', { firstDate: '2015-09-18', language: 'da' }).item).toBe(12);
    expect(matcher.match('Pokémon – serien: Indigo League', 'series', { firstDate: '2015-09-18', language: 'en' }).reason).toBe('rejected-confidence');
  });

  it('matches a title with a translated subtitle: a film with a subtitle added, a series of a non-English export', () => {
    expect(matcher.match('Bee Movie: Det store honningkomplot', 'film')).toMatchObject({ item: 10, reason: 'partial' });
    expect(matcher.match('Tiger King – mord, kaos og galskab', 'series', { language: 'da' })).toMatchObject({ item: 7, reason: 'partial' });
    // in English a different subtitle is a different work
    expect(matcher.match('Tiger King – The Doc Antle Story', 'series', { language: 'en' }).item).toBeNull();
    expect(matcher.match('Tiger King – mord, kaos og galskab', 'series').item).toBeNull();
    // a film with sequels of the same name is ambiguous
    expect(matcher.match("Charlie's Angels: Uden hæmninger", 'film')).toMatchObject({ item: null, reason: 'ambiguous', candidates: [8, 9] });
  });

  it('matches an edition named by a country in the export\'s language or in English, and nothing else by one word', () => {
    const editions = createMatcher(
      catalogOf([
        /* 0 */ ['The Circle', 'series', { countries: ['United States', 'United Kingdom'] }],
        /* 1 */ ['The Circle Brazil', 'series', { countries: ['Brazil', 'United Kingdom'] }],
        /* 2 */ ['The Circle France', 'series'],
        /* 3 */ ['Big Brother', 'series', { countries: ['Germany'] }],
      ]),
    );
    // Danish: USA, Brasilien, Frankrig
    expect(editions.match('The Circle – USA', 'series', { language: 'da' })).toMatchObject({ item: 0, reason: 'edition', score: PARTIAL_SCORE });
    expect(editions.match('The Circle – Brasilien', 'series', { language: 'da' })).toMatchObject({ item: 1, reason: 'edition' });
    expect(editions.match('The Circle – Frankrig', 'series', { language: 'da' })).toMatchObject({ item: 2, reason: 'edition' });
    // the English name works in any export (a dash and the same words are an exact match already)
    expect(editions.match('Big Brother – Germany', 'series', { language: 'da' })).toMatchObject({ item: 3, reason: 'edition' });
    expect(editions.match('The Circle – France', 'series', { language: 'en' })).toMatchObject({ item: 2, reason: 'normalized' });
    // a country the show's items do not come from, or a word that names no country
    expect(editions.match('The Circle – Tyskland', 'series', { language: 'da' })).toMatchObject({ item: null, reason: 'not-found' });
    expect(editions.match('The Circle – Afterparty', 'series', { language: 'da' })).toMatchObject({ item: null, reason: 'not-found' });
  });

  it('in a non-English export, matches a numbered film with a translated subtitle, never an unnumbered one (the subtitle tells its sequels apart)', () => {
    const films = createMatcher(
      catalogOf([
        ['Madagascar 3: Europe\'s Most Wanted', 'film', { year: 2012 }],
        ['Bring It On: Worldwide Showdown', 'film', { year: 2017 }],
      ]),
    );
    expect(films.match('Madagascar 3: Efterlyst i hele Europa', 'film', { language: 'da', firstDate: '2016-04-06' })).toMatchObject({ item: 0, reason: 'partial' });
    expect(films.match('Madagascar 3: Efterlyst i hele Europa', 'film', { language: 'en' }).item).toBeNull();
    expect(films.match('Bring It On: Fight to the Finish', 'film', { language: 'da' }).item).toBeNull();
  });

  it('keeps a title whole when the catalogue has it as a film, and splits it at a season marker', () => {
    expect(matcher.decompose('Star Wars: Episode VIII: The Last Jedi')).toEqual({ show: 'Star Wars: Episode VIII: The Last Jedi', kind: 'film', season: null, episode: null });
    expect(matcher.decompose('Star Wars: Episode IV: A New Hope')).toEqual(decomposeTitle('Star Wars: Episode IV: A New Hope'));
    expect(matcher.decompose('Lucifer: Season 1: Pilot')).toEqual({ show: 'Lucifer', kind: 'series', season: 'Season 1', episode: 'Pilot' });
  });

  it('takes a show of two parts, before a named season, when the catalogue has exactly that series, or a near one and none of the first part', () => {
    const named = createMatcher(
      catalogOf([
        ['LEGO Ninjago: Masters of Spinjitzu', 'series', { year: 2019, duration: '10 Seasons' }],
        ['LEGO Ninjago', 'series', { year: 2020, duration: '2 Seasons' }],
        ['Stranger Things', 'series', { year: 2019, duration: '3 Seasons' }],
        ['Stranger Things 2', 'series', { year: 2017, duration: '1 Season' }],
        ['Trailer Park Boys: The Animated Series', 'series', { year: 2019, duration: '2 Seasons' }],
      ]),
    );
    const ninjago = named.decompose('Ninjago: Masters of Spinjitzu: Elementernes turnering: Fjender');
    expect(ninjago).toEqual({ show: 'Ninjago: Masters of Spinjitzu', kind: 'series', season: 'Elementernes turnering', episode: 'Fjender' });
    expect(named.match(ninjago.show, 'series')).toMatchObject({ item: 0, reason: 'fuzzy' });
    // the exact longer title wins over a series of the first part
    expect(named.decompose('LEGO Ninjago: Masters of Spinjitzu: Possession: Ghost Story').show).toBe('LEGO Ninjago: Masters of Spinjitzu');
    expect(named.decompose('LEGO Ninjago: Secrets: Ghost Story').show).toBe('LEGO Ninjago');
    // three parts: the show and an episode of a season-less series
    expect(named.decompose('Trailer Park Boys: The Animated Series: Friday Night Nights')).toEqual({
      show: 'Trailer Park Boys: The Animated Series', kind: 'series', season: null, episode: 'Friday Night Nights',
    });
    // the catalogue has a series of the first part: its named season stays a season
    expect(named.decompose('Stranger Things: Stranger Things 2: Chapter One: MADMAX')).toEqual(decomposeTitle('Stranger Things: Stranger Things 2: Chapter One: MADMAX'));
    // neither is in the catalogue: the parser's reading stands
    expect(named.decompose('American Horror Story: Murder House: Pilot')).toEqual(decomposeTitle('American Horror Story: Murder House: Pilot'));
    // a season marker says where the show ends
    expect(named.decompose('Trailer Park Boys: Season 1: Pilot')).toEqual({ show: 'Trailer Park Boys', kind: 'series', season: 'Season 1', episode: 'Pilot' });
  });
});

describe('matchEvents', () => {
  const catalog = catalogOf([
    ['Suits', 'series', { year: 2018, duration: '1 Season', countries: ['South Korea'], dateAdded: '2019-12-01' }],
    ['Star Wars: Episode VIII: The Last Jedi', 'film', { year: 2017, duration: '152 min', countries: ['United States'] }],
    ['Hotel Transylvania', 'series', { year: 2017, duration: '1 Season', countries: ['United States'] }],
    ['Tiger King: Murder, Mayhem and Madness', 'series', { year: 2020, duration: '1 Season', countries: ['United States'] }],
  ]);
  const matcher = createMatcher(catalog);

  it('matches each show once with the evidence of all its events', () => {
    const history = matchEvents(
      eventsOf([
        ['Suits: Season 9: Words', '2019-09-20'],
        ['Suits: Season 1: Pilot', '2015-06-01'],
        ['Star Wars: Episode VIII: The Last Jedi', '2018-06-01'],
        ['Hotel Transylvania', '2019-01-10'],
      ]),
      matcher,
    );
    expect(history.shows.map((s) => [s.show, s.kind, s.events, s.firstDate, s.lastDate, s.item, s.reason])).toEqual([
      ['Suits', 'series', 2, '2015-06-01', '2019-09-20', null, 'rejected-date'],
      ['Hotel Transylvania', 'film', 1, '2019-01-10', '2019-01-10', null, 'rejected-kind'],
      ['Star Wars: Episode VIII: The Last Jedi', 'film', 1, '2018-06-01', '2018-06-01', 1, 'exact'],
    ]);
    // the events as the catalogue splits them; the others are the same objects
    expect(history.events[2]).toMatchObject({ show: 'Star Wars: Episode VIII: The Last Jedi', kind: 'film', season: null, episode: null });
    expect(history.itemOf('Star Wars: Episode VIII: The Last Jedi', 'film')).toBe(1);
    expect(history.itemOf('Star Wars', 'series')).toBeNull();
    expect(history.itemOf('Not watched', 'film')).toBeNull();
  });

  it('takes the export language from the season words of most titles, and episodes of a series as evidence for a bare title', () => {
    const history = matchEvents(
      eventsOf([
        ['Hotel Transylvania: Sæson 1: Afsnit 1', '2019-01-10'],
        ['Hotel Transylvania: Sæson 1: Afsnit 2', '2019-01-11'],
        ['Hotel Transylvania', '2019-02-01'],
        ['Tiger King – mord, kaos og galskab: Miniserie: Ikke din almindelige Joe', '2020-03-25'],
        ['Suits: Season 1: Episode 1', '2020-01-05'],
      ]),
      matcher,
    );
    const shows = new Map(history.shows.map((s) => [`${s.kind} ${s.show}`, s]));
    expect(shows.get('series Hotel Transylvania')).toMatchObject({ item: 2, events: 2 });
    expect(shows.get('film Hotel Transylvania')).toMatchObject({ item: 2, reason: 'exact' });
    // Danish (two titles against one English one): a translated subtitle is allowed
    expect(shows.get('series Tiger King – mord, kaos og galskab')).toMatchObject({ item: 3, reason: 'partial' });
    // and no English-export doubt on the Korean Suits
    expect(shows.get('series Suits')).toMatchObject({ item: 0, score: 1 });
  });
});
