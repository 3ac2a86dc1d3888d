/**
 * Netflix history titles -> show, season, episode.
 *
 * The simple export writes one title per episode, joining the show, a season label
 * and the episode name with ": " in the account's language:
 * `Lucifer: Sæson 5: Spoiler Alert`, `Narcos: Mexico: Season 1: Camelot`,
 * `Stranger Things: Stranger Things 2: Chapter One: MADMAX`. Films are one title:
 * `Mission: Impossible`, `Star Wars: The Rise of Skywalker`.
 *
 * How the kind is decided (a heuristic: the title alone cannot always tell):
 * 1. The first part after the first that is a season marker (`Season 2`, `Sæson 2`,
 *    `1. évad`, `シーズン2`, `Limited Series`, ...; in titles of three or more parts
 *    also `Part 2`, `Volume 1`, `Book 1`, `Collection`, or `<name> – Book 1`, except
 *    in the last part, which is the episode's name: `American Horror Story: Murder
 *    House: Halloween – Part 1` is the episode `Halloween – Part 1` of the season
 *    `Murder House`) splits the title: before it the show, after it the episode. Series.
 * 2. Else, in three or more parts, an episode marker (`Chapter 3`, `Kap. 3`,
 *    `Episode 3`): the part before it is the season label, everything earlier the show.
 * 3. Else, three or more parts are `Show: Season label: Episode`: show = first part.
 * 4. Else, two parts whose second is an episode marker: series.
 * 5. Else a film, the whole title. Two-part titles (`Show: Episode name` or a film
 *    with a subtitle) land here: the catalogue match decides (see `matching.ts`).
 * Rules 2 to 4 also split a film of three or more parts (`Naruto Shippuden: The
 * Movie: The Lost Tower`, `Star Wars: Episode VIII: The Last Jedi`); the text
 * cannot tell it from an episode, so `Matcher.decompose` in `matching.ts` keeps
 * such a title whole when the catalogue has it as a film.
 */

export interface DecomposedTitle {
  show: string;
  kind: 'series' | 'film';
  season: string | null;
  episode: string | null;
}

/** Space characters that are not U+0020 (no-break, thin, ideographic...). */
const SPACE_LIKE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
/** Characters that render as nothing: zero-width spaces and joiners, BOM, soft hyphen. */
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;
const FULLWIDTH_COLON = /\uFF1A/g;
/** Plain ASCII with single spaces (most titles) is already clean: NFKC leaves it as is. */
const NEEDS_CLEANING = /[^\x21-\x7E ]| {2}/;

/**
 * Clean a title for display and splitting: invisible characters removed, odd spaces
 * made plain, full-width forms folded (NFKC), whitespace collapsed. Case and
 * accents are kept; `normalizeTitle` in `catalog.ts` goes further for matching.
 */
export function cleanText(s: string): string {
  if (!NEEDS_CLEANING.test(s)) return s.trim();
  return s
    .replace(INVISIBLE, '')
    .replace(FULLWIDTH_COLON, ': ')
    .replace(SPACE_LIKE, ' ')
    .normalize('NFKC')
    .replace(/\s+/g, ' ')
    .trim();
}

const NUMBER_WORDS = [
  'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty',
];
const NUMBER = `(?:\\d{1,4}|[ivxl]{1,6}|${NUMBER_WORDS.join('|')})`;
/** Ordinal endings between a number and the word: `1.`, `1ª`, `2nd`, `1re`, `1er`. */
const ORDINAL = '(?:\\.|ª|º|°|st|nd|rd|th|re|er|e|η)?';

/**
 * Words for a season, by the language of the exports that write them. A few are
 * shared: `temporada` (Spanish and Portuguese), `sezon` (Polish and Turkish),
 * `sezona` (Croatian, Serbian, Slovenian), `сезон` (Russian, Ukrainian,
 * Bulgarian). `serie` and `série` mean a season in several languages, so they
 * name none.
 */
const SEASON_WORDS: Readonly<Record<string, readonly string[]>> = {
  en: ['season', 'series'],
  es: ['temporada'],
  fr: ['saison'],
  de: ['staffel'],
  pl: ['sezon'],
  hr: ['sezona'],
  ro: ['sezonul'],
  cs: ['sezóna', 'séria'],
  nl: ['seizoen'],
  da: ['sæson'],
  sv: ['säsong'],
  no: ['sesong'],
  it: ['stagione'],
  fi: ['kausi'],
  hu: ['évad'],
  ru: ['сезон', 'сезона'],
  tr: ['mevsim'],
  id: ['musim'],
  vi: ['phần'],
  el: ['σεζόν', 'κύκλος'],
  he: ['עונה'],
  ar: ['الموسم'],
  th: ['ซีซั่น'],
  hi: ['सीज़न'],
  ja: ['シーズン'],
  ko: ['시즌'],
};
const SHARED_SEASON_WORDS = ['série', 'serie'];
const ALL_SEASON_WORDS = [...Object.values(SEASON_WORDS).flat(), ...SHARED_SEASON_WORDS];
const LANGUAGE_OF_WORD = new Map(Object.entries(SEASON_WORDS).flatMap(([language, words]) => words.map((w) => [w, language] as const)));
/** Season labels without a number (one-season shows). */
const LIMITED_SERIES = [
  'limited series', 'miniseries', 'mini-series', 'mini series', 'miniserie', 'minisérie', 'miniserien', 'miniseria', 'miniserial',
  'serie limitada', 'série limitée', 'serie limitata', 'limitierte serie', 'begrænset serie', 'begränsad serie', 'begrenset serie',
  'мини-сериал', 'リミテッドシリーズ', '리미티드 시리즈',
];
/** Words for a part of a season-less show: only season-like in titles of three or more parts. */
const PART_WORDS = [
  'part', 'parte', 'partie', 'teil', 'del', 'deel', 'część', 'osa', 'rész', 'část', 'часть', 'パート', 'volume', 'vol\\.?',
  'volumen', 'bind', 'tome', 'tomo', 'book', 'bog', 'bok', 'boek', 'buch', 'libro', 'livre', 'księga', 'kirja', 'collection',
];
/** Words for an episode or chapter. */
const EPISODE_WORDS = [
  'chapter', 'chapitre', 'kapitel', 'kap\\.?', 'capítulo', 'capitulo', 'capitolo', 'hoofdstuk', 'rozdział', 'luku', 'fejezet',
  'kapitola', 'глава', 'episode', 'épisode', 'episodio', 'episódio', 'folge', 'afsnit', 'aflevering', 'avsnitt', 'jakso',
  'odcinek', 'epizód', 'epizoda', 'серия', 'эпизод', '에피소드', 'エピソード',
];

/** `Word 2`, `2. Word`, `2nd Word`, optionally followed by a parenthesis. */
function numbered(words: string[]): string {
  const alt = words.join('|');
  return `(?:(?:${alt})\\s*${NUMBER}|${NUMBER}${ORDINAL}\\s*(?:${alt}))(?:\\s*\\(.*\\))?`;
}

const whole = (body: string) => new RegExp(`^(?:${body})$`, 'iu');
const SEASON_RE = whole(`${numbered(ALL_SEASON_WORDS)}|第\\s*${NUMBER}\\s*[季期部]|${LIMITED_SERIES.join('|')}`);
const PART_RE = whole(`${numbered(PART_WORDS)}|collection|.+\\s[-–—]\\s(?:${numbered([...ALL_SEASON_WORDS, ...PART_WORDS])})`);
const EPISODE_RE = whole(`${numbered(EPISODE_WORDS)}|第\\s*${NUMBER}\\s*[話话集回]`);
/** ": " (or " : ", French) separates the parts; a colon inside a word (`Re:Zero`) does not. */
const PART_SEPARATOR = /\s*:\s+/g;

/** Start and end offsets of the non-empty ": "-separated parts of a cleaned title. */
function partSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let start = 0;
  for (const m of text.matchAll(PART_SEPARATOR)) {
    if (m.index > start) spans.push([start, m.index]);
    start = m.index + m[0].length;
  }
  if (start < text.length) spans.push([start, text.length]);
  return spans;
}

/** The ": "-separated parts of a cleaned title. */
export function splitTitle(text: string): string[] {
  return partSpans(text).map(([start, end]) => text.slice(start, end));
}

/** A season label's parts: the season word or CJK counter, and its number. */
const SEASON_NUMBERED = new RegExp(
  `^(?:(${ALL_SEASON_WORDS.join('|')})\\s*(${NUMBER})|(${NUMBER})${ORDINAL}\\s*(${ALL_SEASON_WORDS.join('|')})|第\\s*(${NUMBER})\\s*([季期部]))(?:\\s*\\(.*\\))?$`,
  'iu',
);
const LIMITED_RE = whole(LIMITED_SERIES.join('|'));
const ROMAN_DIGITS: Readonly<Record<string, number>> = { i: 1, v: 5, x: 10, l: 50 };

/** `12`, `twelve` or `xii` -> 12. */
function numberOf(token: string): number {
  const lower = token.toLowerCase();
  if (/^\d+$/.test(lower)) return Number(lower);
  const word = NUMBER_WORDS.indexOf(lower);
  if (word >= 0) return word + 1;
  let total = 0;
  for (let i = 0; i < lower.length; i++) {
    const digit = ROMAN_DIGITS[lower[i]];
    total += digit < (ROMAN_DIGITS[lower[i + 1]] ?? 0) ? -digit : digit;
  }
  return total;
}

export interface SeasonLabel {
  /** The season's number; 1 for a limited series. */
  number: number;
  /** Language of the season word (a key of SEASON_WORDS, `zh` for 第N季), null when the word is shared or absent. */
  language: string | null;
}

/**
 * What a season label says: `Sæson 5` -> 5, `da`; `2. évad` -> 2, `hu`; `Limited
 * Series` -> 1, null. Null when the label is not a season (`Part 2`, `Book 1`, a
 * named season such as `Murder House`, or no label).
 */
export function parseSeason(label: string | null): SeasonLabel | null {
  if (label === null) return null;
  if (LIMITED_RE.test(label)) return { number: 1, language: null };
  const m = SEASON_NUMBERED.exec(label);
  if (m === null) return null;
  const word = (m[1] ?? m[4])?.toLowerCase();
  const language = word === undefined ? (m[6] === '季' ? 'zh' : null) : (LANGUAGE_OF_WORD.get(word) ?? null);
  return { number: numberOf(m[2] ?? m[3] ?? m[5]), language };
}

/** Part `index` of `partCount` is a season label; `Part 2` and the like only in three parts or more, and never in the last (the episode's name). */
const isSeasonPart = (part: string, index: number, partCount: number) =>
  SEASON_RE.test(part) || (partCount >= 3 && index < partCount - 1 && PART_RE.test(part));

/**
 * Split a Netflix history title into show, kind, season and episode (see the module
 * comment). Show and episode are slices of the title, not copies: a large history
 * holds each title's text once.
 *
 * `showParts` is how many parts the show's own title takes in rules 2 and 3, where
 * no season marker says where the show ends: 1 by default; 2 reads `Ninjago:
 * Masters of Spinjitzu: Elementernes turnering: Fjender` as the show `Ninjago:
 * Masters of Spinjitzu`, its named season and the episode, and a title of three
 * parts as the show and the episode. The text cannot tell; `Matcher.decompose`
 * passes 2 when the catalogue has the longer show.
 */
export function decomposeTitle(title: string, showParts: 1 | 2 = 1): DecomposedTitle {
  const text = cleanText(title);
  const spans = partSpans(text);
  const parts = spans.map(([start, end]) => text.slice(start, end));
  const n = parts.length;
  const series = (showEnd: number, season: string | null, episodeStart: number): DecomposedTitle => ({
    show: text.slice(0, spans[showEnd - 1][1]),
    kind: 'series',
    season,
    episode: episodeStart < n ? text.slice(spans[episodeStart][0]) : null,
  });
  const s = parts.findIndex((p, i) => i >= 1 && isSeasonPart(p, i, n));
  if (s >= 1) return series(s, parts[s], s + 1);
  const e = parts.findIndex((p, i) => i >= 1 && EPISODE_RE.test(p));
  if (n >= 3) {
    if (e === 1) return series(1, null, 1);
    if (e > showParts) return series(e - 1, parts[e - 1], e);
    if (e === showParts || n === showParts + 1) return series(showParts, null, showParts);
    return series(showParts, parts[showParts], showParts + 1);
  }
  if (e === 1) return series(1, null, 1);
  return { show: text, kind: 'film', season: null, episode: null };
}
