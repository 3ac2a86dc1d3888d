import type { Catalog, CatalogItem } from './catalog';
import type { ViewingEvent } from './history/parse';
import { cleanText, decomposeTitle, parseSeason, type DecomposedTitle } from './history/titles';

/**
 * History shows -> catalogue items. A wrong match trains the model on the wrong
 * show and puts a wrong title on the insights page, so a show is matched only when
 * its title finds one catalogue work and nothing in the history speaks against it;
 * anything else stays unmatched, with its reason.
 *
 * Candidates come from the title; the first step that finds any is used:
 * 1. exact: items of the same kind with the same normalized title (`normalizeTitle`);
 * 2. a film entry whose title only a series has: a title without season or episode
 *    parts is a film or a one-off, so it matches a series only with evidence, namely
 *    that it has parts of its own (`13 Reasons Why: Beyond the Reasons`) or that the
 *    history has episodes of that series; otherwise `rejected-kind`. A series entry
 *    never matches a film;
 * 3. fuzzy: trigram Dice >= the threshold within the same kind (a typo, a changed
 *    separator); those within FUZZY_MARGIN of the best are rivals;
 * 4. partial, for `Show: More` or `Show – More` where More has two words or more
 *    (one word is an edition: `The Circle – USA`, `Narcos: Mexico`): the series
 *    named Show (an episode of a season-less series: `Black Mirror: Striking
 *    Vipers`); for a film entry also the film named Show with a subtitle added
 *    (`Bee Movie: Det store honningkomplot`), together with every film titled
 *    `Show: Other` (sequels make it ambiguous); for a series entry of an export
 *    that is not in English, also the series titled `Show: Other`, the subtitle
 *    being a translation (`Tiger King – mord, kaos og galskab`); in an export
 *    not in English, for a film entry whose Show ends in an instalment number
 *    also every film titled `Show: Other` (the subtitle translated: `Madagascar
 *    3: Efterlyst i hele Europa`; the number, not the subtitle, tells the
 *    sequels apart), ambiguous when there are several;
 * 5. edition, for `Show – X` where the one word X names a country in the
 *    export's language or in English (`The Circle – USA`, `The Circle –
 *    Brasilien`, by the country names of `Intl.DisplayNames`): the item titled
 *    `Show X` with X's English name (`The Circle Brazil`), or titled Show with X
 *    among its countries.
 *
 * The history's evidence then rejects candidates:
 * - date: a film or a one-season series first viewed in a year before its release
 *   year (`rejected-date`; a series of several seasons carries the year of its
 *   latest season, which proves nothing);
 * - seasons: a season number above the item's number of seasons (`rejected-seasons`);
 * and weighs the others, in an export in English only: the catalogue is the US
 * one, so there a title means what it means in the catalogue, while other
 * countries get titles at other dates and often under other names:
 * - date added: a film or one-season series first viewed before its `date_added`
 *   (confidence × BEFORE_ADDED_CONFIDENCE);
 * - locale: an item from no English-speaking country (× FOREIGN_CONFIDENCE);
 * A match needs title score × confidence >= the threshold (`rejected-confidence`):
 * one doubt leaves an exact match standing, two do not.
 * Two listings of one work (same title, kind, year and duration) count once. When
 * several works are left, the one that alone fits the locale (the countries of
 * the export's language) wins, else the one that alone was on Netflix when first
 * viewed, else none (`ambiguous`).
 *
 * The catalogue source has no episode titles, so episodes are evidence only through
 * their season numbers.
 */

export type Kind = CatalogItem['kind'];

/** How a show was matched, or why it was not. */
export type MatchReason =
  | 'exact'
  | 'normalized'
  | 'fuzzy'
  | 'partial'
  | 'edition'
  | 'rejected-kind'
  | 'rejected-date'
  | 'rejected-seasons'
  | 'rejected-confidence'
  | 'ambiguous'
  | 'not-found';

export interface TitleMatch {
  /** Catalogue id, or null when nothing matched. */
  item: number | null;
  /** Title score (1 exact, trigram Dice, PARTIAL_SCORE) times the evidence's confidence; 0 when unmatched. */
  score: number;
  /** The catalogue title matched. */
  title: string | null;
  reason: MatchReason;
  /** Catalogue ids the reason is about: those rejected, the ambiguous rivals, or the rivals a match won over. */
  candidates: number[];
}

/** What a history says about one of its shows (every field may be unknown). */
export interface ShowEvidence {
  /** First viewing, `YYYY-MM-DD`. */
  firstDate: string | null;
  /** Highest season number viewed. */
  maxSeason: number | null;
  /** The history has episodes of a series of this name. */
  seriesInHistory: boolean;
  /** Language of the export's season words (`parseSeason`). */
  language: string | null;
}

export interface Matcher {
  /** Match one show of a history. */
  match(show: string, kind: Kind, evidence?: Partial<ShowEvidence>): TitleMatch;
  /**
   * `decomposeTitle`, except where a title split into a series without a season
   * marker is read by the catalogue: it stays whole when the catalogue has it as
   * a film (`Star Wars: Episode VIII: The Last Jedi`), and its show takes two
   * parts when the catalogue has a series of exactly the first two (`LEGO
   * Ninjago: Masters of Spinjitzu: Possession: Ghost Story`, though `LEGO
   * Ninjago` is a series too), or of a near title and none of the first part
   * (`Ninjago: Masters of Spinjitzu: Elementernes turnering: Fjender`).
   */
  decompose(title: string): DecomposedTitle;
}

/**
 * Least trigram Dice similarity for a fuzzy match, and least score × confidence
 * for any match. At 0.85 a typo, a dropped article or a changed separator passes
 * (`Pokémon – serien: Indigo League` -> `Pokémon: Indigo League`, 0.86); a
 * different title sharing most words does not (`The Nightmare Before Christmas`
 * vs `The Knight Before Christmas`, 0.81).
 */
export const FUZZY_THRESHOLD = 0.85;
/** Fuzzy candidates this close to the best one are its rivals. */
export const FUZZY_MARGIN = 0.02;
/** Title score of a partial match (the title before its subtitle). */
export const PARTIAL_SCORE = 0.9;
/** Confidence left when an English export first viewed a film or one-season series before its date_added. */
export const BEFORE_ADDED_CONFIDENCE = 0.9;
/** Confidence left when an English export matches an item from no English-speaking country. */
export const FOREIGN_CONFIDENCE = 0.9;

/**
 * Countries (as the catalogue names them) whose viewers' exports write the season
 * words of each language of `SEASON_WORDS` in titles.ts.
 */
const LANGUAGE_COUNTRIES: Readonly<Record<string, readonly string[]>> = {
  en: ['United States', 'United Kingdom', 'Canada', 'Australia', 'Ireland', 'New Zealand'],
  es: ['Spain', 'Mexico', 'Argentina', 'Colombia', 'Chile', 'Peru', 'Uruguay', 'Venezuela', 'Ecuador', 'Guatemala', 'Paraguay', 'Brazil', 'Portugal'],
  fr: ['France', 'Belgium', 'Switzerland', 'Luxembourg'],
  de: ['Germany', 'West Germany', 'East Germany', 'Austria', 'Switzerland', 'Liechtenstein'],
  pl: ['Poland', 'Turkey'],
  hr: ['Croatia', 'Serbia', 'Slovenia', 'Montenegro'],
  ro: ['Romania'],
  cs: ['Czech Republic', 'Slovakia'],
  nl: ['Netherlands', 'Belgium'],
  da: ['Denmark'],
  sv: ['Sweden'],
  no: ['Norway'],
  it: ['Italy'],
  fi: ['Finland'],
  hu: ['Hungary'],
  ru: ['Russia', 'Soviet Union', 'Ukraine', 'Bulgaria', 'Belarus', 'Kazakhstan'],
  tr: ['Turkey'],
  id: ['Indonesia', 'Malaysia'],
  vi: ['Vietnam'],
  el: ['Greece', 'Cyprus'],
  he: ['Israel'],
  ar: ['Egypt', 'Saudi Arabia', 'United Arab Emirates', 'Lebanon', 'Jordan', 'Kuwait', 'Qatar', 'Syria', 'Iraq', 'Morocco', 'Algeria', 'Palestine'],
  th: ['Thailand'],
  hi: ['India'],
  ja: ['Japan'],
  ko: ['South Korea'],
  zh: ['China', 'Taiwan', 'Hong Kong', 'Singapore'],
};
const ENGLISH = 'en';

/** Letters NFKD does not decompose into a base letter plus marks. */
const LETTER_FOLDS: Record<string, string> = { æ: 'ae', ø: 'o', œ: 'oe', ß: 'ss', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i' };

/**
 * The comparison key of a title: NFKC (full-width forms), invisible characters and
 * odd spaces removed, accents stripped (NFKD minus marks), lower case, `&` -> and,
 * apostrophes and dots dropped (`RuPaul's`, `U.S.`), other punctuation and symbols
 * -> space.
 */
export function normalizeTitle(s: string): string {
  return cleanText(s)
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[æøœßłđðþı]/g, (c) => LETTER_FOLDS[c])
    .replace(/&/g, ' and ')
    .replace(/['’ʼ`´.]/g, '')
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** ISO 3166 region codes, as `Intl.DisplayNames` knows them. */
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const REGION_CODES = [...LETTERS].flatMap((a) => [...LETTERS].map((b) => a + b));
/** Per language: normalized country name -> its English name (how the catalogue names countries). */
const countryNames = new Map<string, Map<string, string>>();

function countryNamesIn(language: string): Map<string, string> {
  let names = countryNames.get(language);
  if (names === undefined) {
    const english = new Intl.DisplayNames([ENGLISH], { type: 'region', fallback: 'none' });
    const local = new Intl.DisplayNames([language], { type: 'region', fallback: 'none' });
    names = new Map();
    for (const code of REGION_CODES) {
      const name = english.of(code);
      const localName = local.of(code);
      if (name !== undefined && localName !== undefined) names.set(normalizeTitle(localName), name);
    }
    countryNames.set(language, names);
  }
  return names;
}

/** The English name of the country `word` names in `language` or in English; null when it names none. */
function countryNamed(word: string, language: string | null): string | null {
  const norm = normalizeTitle(word);
  return (language !== null ? countryNamesIn(language).get(norm) : undefined) ?? countryNamesIn(ENGLISH).get(norm) ?? null;
}

/** `Show: More` or `Show – More` (the first `: ` or spaced dash) -> its two sides; null when there is neither. */
const HEAD_SEPARATOR = /\s*:\s+|\s+[-–—]\s+/;

function headOf(text: string): { head: string; tail: string } | null {
  const m = HEAD_SEPARATOR.exec(text);
  if (m === null || m.index === 0) return null;
  const tail = text.slice(m.index + m[0].length).trim();
  return tail === '' ? null : { head: text.slice(0, m.index), tail };
}

/** A normalized head that ends in an instalment number (`madagascar 3`). */
const INSTALMENT = /\s\d{1,2}$/;

const wordCount = (s: string) => normalizeTitle(s).split(' ').filter((w) => w !== '').length;

/** `3 Seasons` -> 3, `1 Season` -> 1 (netflix_titles.csv `duration` of a series). */
const SEASONS = /^(\d+) Seasons?$/;

/** How many seasons the catalogue lists for a series; null for films and when its duration does not say. */
export function seasonCount(item: CatalogItem): number | null {
  const m = item.duration === null ? null : SEASONS.exec(item.duration);
  return m === null ? null : Number(m[1]);
}

/** Trigrams of a normalized title, padded so that word starts count. */
function trigramsOf(norm: string): Set<string> {
  const padded = `  ${norm} `;
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= padded.length; i++) grams.add(padded.slice(i, i + 3));
  return grams;
}

/** An inverted trigram index over the titles of one kind. */
class TrigramIndex {
  private readonly postings = new Map<string, number[]>();
  private readonly gramCount: Int32Array;
  private readonly shared: Int32Array;

  constructor(size: number) {
    this.gramCount = new Int32Array(size);
    this.shared = new Int32Array(size);
  }

  add(id: number, norm: string): void {
    const grams = trigramsOf(norm);
    this.gramCount[id] = grams.size;
    for (const g of grams) {
      const list = this.postings.get(g);
      if (list) list.push(id);
      else this.postings.set(g, [id]);
    }
  }

  /** Titles with Dice similarity >= minScore, most similar first (ties: lowest id). */
  near(norm: string, minScore: number): { id: number; score: number }[] {
    const grams = trigramsOf(norm);
    const touched: number[] = [];
    for (const g of grams) {
      for (const id of this.postings.get(g) ?? []) {
        if (this.shared[id]++ === 0) touched.push(id);
      }
    }
    const found: { id: number; score: number }[] = [];
    for (const id of touched) {
      const score = (2 * this.shared[id]) / (grams.size + this.gramCount[id]);
      if (score >= minScore) found.push({ id, score });
      this.shared[id] = 0;
    }
    return found.sort((a, b) => b.score - a.score || a.id - b.id);
  }
}

interface Candidate {
  id: number;
  /** Title score. */
  score: number;
  reason: 'exact' | 'normalized' | 'fuzzy' | 'partial' | 'edition';
}

const NO_EVIDENCE: ShowEvidence = Object.freeze({ firstDate: null, maxSeason: null, seriesInHistory: false, language: null });

const push = (map: Map<string, number[]>, key: string, id: number) => {
  const list = map.get(key);
  if (list) list.push(id);
  else map.set(key, [id]);
};
const union = (...lists: (readonly number[])[]) => [...new Set(lists.flat())].sort((a, b) => a - b);

/** Build a matcher over a catalogue (indexes built once; see the module comment). */
export function createMatcher(catalog: Catalog, options: { threshold?: number } = {}): Matcher {
  const threshold = options.threshold ?? FUZZY_THRESHOLD;
  const { items } = catalog;
  const exact = { series: new Map<string, number[]>(), film: new Map<string, number[]>() };
  const heads = { series: new Map<string, number[]>(), film: new Map<string, number[]>() };
  const fuzzy = { series: new TrigramIndex(items.length), film: new TrigramIndex(items.length) };
  const seasons = items.map(seasonCount);
  const work: string[] = [];
  for (const item of items) {
    const norm = normalizeTitle(item.title);
    work.push(`${norm}\u0000${item.kind}\u0000${item.year}\u0000${item.duration}`);
    if (norm === '') continue;
    push(exact[item.kind], norm, item.id);
    fuzzy[item.kind].add(item.id, norm);
    const split = headOf(cleanText(item.title));
    const head = split === null ? '' : normalizeTitle(split.head);
    if (head !== '') push(heads[item.kind], head, item.id);
  }

  const titled = (ids: readonly number[], text: string): Candidate[] =>
    ids.map((id) => ({ id, score: 1, reason: cleanText(items[id].title).toLowerCase() === text.toLowerCase() ? 'exact' : 'normalized' }));
  const unmatched = (reason: MatchReason, candidates: readonly number[]): TitleMatch => ({ item: null, score: 0, title: null, reason, candidates: [...candidates] });
  /** Dates bound films and one-season series only: a longer series carries its latest season's year. */
  const yearBinds = (id: number) => items[id].kind === 'film' || seasons[id] === 1;
  const fitsLocale = (id: number, language: string) => items[id].countries.some((c) => LANGUAGE_COUNTRIES[language]?.includes(c) ?? false);
  const addedOn = (id: number) => items[id].dateAdded ?? null;
  const addedBy = (id: number, date: string) => addedOn(id) !== null && addedOn(id)! <= date;
  const addedAfter = (id: number, date: string) => addedOn(id) !== null && addedOn(id)! > date;

  function partial(text: string, kind: Kind, language: string | null): number[] {
    const split = headOf(text);
    if (split === null || wordCount(split.tail) < 2) return [];
    const head = normalizeTitle(split.head);
    if (head === '') return [];
    const series = exact.series.get(head) ?? [];
    const translated = language !== null && language !== ENGLISH;
    if (kind === 'series') return union(series, translated ? (heads.series.get(head) ?? []) : []);
    const films = exact.film.get(head) ?? [];
    // A numbered head names the instalment, so a translated subtitle can be let go; otherwise the subtitle is what tells sequels apart.
    return union(series, films, films.length > 0 || (translated && INSTALMENT.test(head)) ? (heads.film.get(head) ?? []) : []);
  }

  function edition(text: string, kind: Kind, language: string | null): number[] {
    const split = headOf(text);
    if (split === null || wordCount(split.tail) !== 1) return [];
    const country = countryNamed(split.tail, language);
    const head = normalizeTitle(split.head);
    if (country === null || head === '') return [];
    const named = exact[kind].get(`${head} ${normalizeTitle(country)}`) ?? [];
    const from = (exact[kind].get(head) ?? []).filter((id) => items[id].countries.includes(country));
    return union(named, from);
  }

  /** The only candidate that `test` accepts, when every other one fails `rejects`. */
  function alone(candidates: Candidate[], test: (id: number) => boolean, rejects: (id: number) => boolean): Candidate | null {
    const passing = candidates.filter((c) => test(c.id));
    return passing.length === 1 && candidates.every((c) => c === passing[0] || rejects(c.id)) ? passing[0] : null;
  }

  /** Among several works: the one that alone fits the locale, else the one that alone was on Netflix when first viewed, else null. */
  function tieBreak(candidates: Candidate[], { language, firstDate }: ShowEvidence): Candidate | null {
    const byLocale = language === null ? null : alone(candidates, (id) => fitsLocale(id, language), (id) => !fitsLocale(id, language));
    return byLocale ?? (firstDate === null ? null : alone(candidates, (id) => addedBy(id, firstDate), (id) => addedAfter(id, firstDate)));
  }

  function decide(candidates: Candidate[], ev: ShowEvidence): TitleMatch {
    const firstYear = ev.firstDate === null ? null : Number(ev.firstDate.slice(0, 4));
    const byDate: number[] = [];
    const bySeasons: number[] = [];
    const english = ev.language === ENGLISH;
    const scored: { candidate: Candidate; score: number }[] = [];
    for (const c of candidates) {
      const item = items[c.id];
      if (firstYear !== null && item.year !== null && yearBinds(c.id) && firstYear < item.year) byDate.push(c.id);
      else if (ev.maxSeason !== null && seasons[c.id] !== null && ev.maxSeason > seasons[c.id]!) bySeasons.push(c.id);
      else {
        const late = english && ev.firstDate !== null && yearBinds(c.id) && addedAfter(c.id, ev.firstDate);
        const foreign = english && item.countries.length > 0 && !fitsLocale(c.id, ENGLISH);
        scored.push({ candidate: c, score: c.score * (late ? BEFORE_ADDED_CONFIDENCE : 1) * (foreign ? FOREIGN_CONFIDENCE : 1) });
      }
    }
    if (scored.length === 0) return unmatched(byDate.length > 0 ? 'rejected-date' : 'rejected-seasons', [...byDate, ...bySeasons]);
    const sure = scored.filter((s) => s.score >= threshold);
    if (sure.length === 0) return unmatched('rejected-confidence', scored.map((s) => s.candidate.id));
    const works = new Map<string, { candidate: Candidate; score: number }>();
    for (const s of [...sure].sort((a, b) => a.candidate.id - b.candidate.id)) if (!works.has(work[s.candidate.id])) works.set(work[s.candidate.id], s);
    const left = [...works.values()];
    const leftCandidates = left.map((s) => s.candidate);
    const chosen = left.length === 1 ? left[0].candidate : tieBreak(leftCandidates, ev);
    if (chosen === null) return unmatched('ambiguous', leftCandidates.map((c) => c.id));
    return {
      item: chosen.id,
      score: left.find((s) => s.candidate === chosen)!.score,
      title: items[chosen.id].title,
      reason: chosen.reason,
      candidates: leftCandidates.filter((c) => c !== chosen).map((c) => c.id),
    };
  }

  return {
    match(show, kind, evidence = {}) {
      const ev: ShowEvidence = { ...NO_EVIDENCE, ...evidence };
      const text = cleanText(show);
      const norm = normalizeTitle(text);
      if (norm === '') return unmatched('not-found', []);
      const same = exact[kind].get(norm);
      if (same !== undefined) return decide(titled(same, text), ev);
      const series = kind === 'film' ? exact.series.get(norm) : undefined;
      if (series !== undefined) {
        return headOf(text) !== null || ev.seriesInHistory ? decide(titled(series, text), ev) : unmatched('rejected-kind', series);
      }
      const near = fuzzy[kind].near(norm, threshold);
      if (near.length > 0) {
        const rivals = near.filter((n) => n.score >= near[0].score - FUZZY_MARGIN);
        return decide(rivals.map((n) => ({ id: n.id, score: n.score, reason: 'fuzzy' })), ev);
      }
      const parts = partial(text, kind, ev.language);
      if (parts.length > 0) return decide(parts.map((id) => ({ id, score: PARTIAL_SCORE, reason: 'partial' })), ev);
      const editions = edition(text, kind, ev.language);
      if (editions.length > 0) return decide(editions.map((id) => ({ id, score: PARTIAL_SCORE, reason: 'edition' })), ev);
      const films = kind === 'series' ? exact.film.get(norm) : undefined;
      return films === undefined ? unmatched('not-found', []) : unmatched('rejected-kind', films);
    },

    decompose(title) {
      const split = decomposeTitle(title);
      if (split.kind === 'film' || parseSeason(split.season) !== null) return split;
      const text = cleanText(title);
      if (exact.film.has(normalizeTitle(text))) return { show: text, kind: 'film', season: null, episode: null };
      const longer = decomposeTitle(text, 2);
      if (longer.show === split.show) return split;
      // A series listed under the longer title is the more specific work; a near title only when the first part is no series.
      const norm = normalizeTitle(longer.show);
      const takesTwo = exact.series.has(norm) || (!exact.series.has(normalizeTitle(split.show)) && fuzzy.series.near(norm, threshold).length > 0);
      return takesTwo ? longer : split;
    },
  };
}

/** One show of a history with its match. */
export interface ShowMatch extends TitleMatch {
  show: string;
  kind: Kind;
  /** History rows of the show. */
  events: number;
  /** First and last viewing, `YYYY-MM-DD`. */
  firstDate: string;
  lastDate: string;
}

export interface HistoryMatches {
  /** The events, with show, kind, season and episode as `Matcher.decompose` splits their titles. */
  events: ViewingEvent[];
  /** Every distinct show of `events` once, most rows first. */
  shows: ShowMatch[];
  /** Catalogue id of a show of `events`; null when unmatched or not in the history. */
  itemOf(show: string, kind: Kind): number | null;
}

interface ShowGroup {
  show: string;
  kind: Kind;
  events: number;
  firstDate: string;
  lastDate: string;
  maxSeason: number | null;
}

/**
 * Match every distinct show of one history once, with the evidence of all its
 * events: first viewing, highest season, whether the history has episodes of a
 * series of the same name, and the export's language (the most frequent language
 * of the season words of its distinct titles).
 */
export function matchEvents(events: readonly ViewingEvent[], matcher: Matcher): HistoryMatches {
  const titles = new Map<string, { split: DecomposedTitle; season: number | null }>();
  const languages = new Map<string, number>();
  const groups = new Map<string, ShowGroup>();
  const resolved = events.map((event) => {
    let title = titles.get(event.title);
    if (title === undefined) {
      const split = matcher.decompose(event.title);
      const season = parseSeason(split.season);
      if (season?.language) languages.set(season.language, (languages.get(season.language) ?? 0) + 1);
      titles.set(event.title, (title = { split, season: season?.number ?? null }));
    }
    const { split, season } = title;
    const key = `${split.kind}\u0000${split.show}`;
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, { show: split.show, kind: split.kind, events: 1, firstDate: event.date, lastDate: event.date, maxSeason: season });
    } else {
      group.events++;
      if (event.date < group.firstDate) group.firstDate = event.date;
      if (event.date > group.lastDate) group.lastDate = event.date;
      if (season !== null && (group.maxSeason === null || season > group.maxSeason)) group.maxSeason = season;
    }
    return split.show === event.show && split.kind === event.kind ? event : { ...event, show: split.show, kind: split.kind, season: split.season, episode: split.episode };
  });
  const language = [...languages.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? null;
  const seriesNames = new Set([...groups.values()].filter((g) => g.kind === 'series').map((g) => normalizeTitle(g.show)));
  const byKey = new Map<string, ShowMatch>();
  for (const [key, g] of groups) {
    const evidence = { firstDate: g.firstDate, maxSeason: g.maxSeason, seriesInHistory: g.kind === 'film' && seriesNames.has(normalizeTitle(g.show)), language };
    byKey.set(key, { show: g.show, kind: g.kind, events: g.events, firstDate: g.firstDate, lastDate: g.lastDate, ...matcher.match(g.show, g.kind, evidence) });
  }
  return {
    events: resolved,
    shows: [...byKey.values()].sort((a, b) => b.events - a.events || a.show.localeCompare(b.show)),
    itemOf: (show, kind) => byKey.get(`${kind}\u0000${show}`)?.item ?? null,
  };
}
