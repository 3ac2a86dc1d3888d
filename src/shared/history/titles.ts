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
 *    also `Part 2`, `Volume 1`, `Book 1`, `Collection`, or `<name> – Book 1`) splits
 *    the title: before it the show, after it the episode. Series.
 * 2. Else, in three or more parts, an episode marker (`Chapter 3`, `Kap. 3`,
 *    `Episode 3`): the part before it is the season label, everything earlier the show.
 * 3. Else, three or more parts are `Show: Season label: Episode`: show = first part.
 * 4. Else, two parts whose second is an episode marker: series.
 * 5. Else a film, the whole title. Two-part titles (`Show: Episode name` or a film
 *    with a subtitle) land here: the catalogue match decides (see `catalog.ts`).
 *    Known miss: a film of three or more parts (`Naruto Shippuden: The Movie: The
 *    Lost Tower`) is taken for a series.
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

const NUMBER =
  '(?:\\d{1,4}|[ivxl]{1,6}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty)';
/** Ordinal endings between a number and the word: `1.`, `1ª`, `2nd`, `1re`, `1er`. */
const ORDINAL = '(?:\\.|ª|º|°|st|nd|rd|th|re|er|e|η)?';

/** Words for a season, in the languages Netflix exports use. */
const SEASON_WORDS = [
  'season', 'series', 'temporada', 'saison', 'staffel', 'sezon', 'sezona', 'sezonul', 'sezóna', 'seizoen', 'sæson', 'säsong',
  'sesong', 'stagione', 'kausi', 'évad', 'série', 'séria', 'serie', 'сезон', 'сезона', 'mevsim', 'musim', 'phần', 'σεζόν',
  'κύκλος', 'עונה', 'الموسم', 'ซีซั่น', 'सीज़न', 'シーズン', '시즌',
];
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
const SEASON_RE = whole(`${numbered(SEASON_WORDS)}|第\\s*${NUMBER}\\s*[季期部]|${LIMITED_SERIES.join('|')}`);
const PART_RE = whole(`${numbered(PART_WORDS)}|collection|.+\\s[-–—]\\s(?:${numbered([...SEASON_WORDS, ...PART_WORDS])})`);
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

const isSeasonPart = (part: string, partCount: number) => SEASON_RE.test(part) || (partCount >= 3 && PART_RE.test(part));

/**
 * Split a Netflix history title into show, kind, season and episode (see the module
 * comment). Show and episode are slices of the title, not copies: a large history
 * holds each title's text once.
 */
export function decomposeTitle(title: string): DecomposedTitle {
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
  const s = parts.findIndex((p, i) => i >= 1 && isSeasonPart(p, n));
  if (s >= 1) return series(s, parts[s], s + 1);
  const e = parts.findIndex((p, i) => i >= 1 && EPISODE_RE.test(p));
  if (n >= 3) {
    if (e >= 2) return series(e - 1, parts[e - 1], e);
    if (e === 1) return series(1, null, 1);
    return series(1, parts[1], 2);
  }
  if (e === 1) return series(1, null, 1);
  return { show: text, kind: 'film', season: null, episode: null };
}
