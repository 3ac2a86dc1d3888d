import {
  readRegularFile
} from "./chunk-TL5FSXBU.js";
import {
  AppError,
  PROJECT_ROOT
} from "./chunk-3L2Z3EX5.js";

// src/shared/history/titles.ts
var SPACE_LIKE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
var INVISIBLE = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;
var FULLWIDTH_COLON = /\uFF1A/g;
var NEEDS_CLEANING = /[^\x21-\x7E ]| {2}/;
function cleanText(s) {
  if (!NEEDS_CLEANING.test(s)) return s.trim();
  return s.replace(INVISIBLE, "").replace(FULLWIDTH_COLON, ": ").replace(SPACE_LIKE, " ").normalize("NFKC").replace(/\s+/g, " ").trim();
}
var NUMBER_WORDS = [
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
  "ten",
  "eleven",
  "twelve",
  "thirteen",
  "fourteen",
  "fifteen",
  "sixteen",
  "seventeen",
  "eighteen",
  "nineteen",
  "twenty"
];
var NUMBER = `(?:\\d{1,4}|[ivxl]{1,6}|${NUMBER_WORDS.join("|")})`;
var ORDINAL = "(?:\\.|\xAA|\xBA|\xB0|st|nd|rd|th|re|er|e|\u03B7)?";
var SEASON_WORDS = {
  en: ["season", "series"],
  es: ["temporada"],
  fr: ["saison"],
  de: ["staffel"],
  pl: ["sezon"],
  hr: ["sezona"],
  ro: ["sezonul"],
  cs: ["sez\xF3na", "s\xE9ria"],
  nl: ["seizoen"],
  da: ["s\xE6son"],
  sv: ["s\xE4song"],
  no: ["sesong"],
  it: ["stagione"],
  fi: ["kausi"],
  hu: ["\xE9vad"],
  ru: ["\u0441\u0435\u0437\u043E\u043D", "\u0441\u0435\u0437\u043E\u043D\u0430"],
  tr: ["mevsim"],
  id: ["musim"],
  vi: ["ph\u1EA7n"],
  el: ["\u03C3\u03B5\u03B6\u03CC\u03BD", "\u03BA\u03CD\u03BA\u03BB\u03BF\u03C2"],
  he: ["\u05E2\u05D5\u05E0\u05D4"],
  ar: ["\u0627\u0644\u0645\u0648\u0633\u0645"],
  th: ["\u0E0B\u0E35\u0E0B\u0E31\u0E48\u0E19"],
  hi: ["\u0938\u0940\u091C\u093C\u0928"],
  ja: ["\u30B7\u30FC\u30BA\u30F3"],
  ko: ["\uC2DC\uC98C"]
};
var SHARED_SEASON_WORDS = ["s\xE9rie", "serie"];
var ALL_SEASON_WORDS = [...Object.values(SEASON_WORDS).flat(), ...SHARED_SEASON_WORDS];
var LANGUAGE_OF_WORD = new Map(Object.entries(SEASON_WORDS).flatMap(([language, words]) => words.map((w) => [w, language])));
var LIMITED_SERIES = [
  "limited series",
  "miniseries",
  "mini-series",
  "mini series",
  "miniserie",
  "minis\xE9rie",
  "miniserien",
  "miniseria",
  "miniserial",
  "serie limitada",
  "s\xE9rie limit\xE9e",
  "serie limitata",
  "limitierte serie",
  "begr\xE6nset serie",
  "begr\xE4nsad serie",
  "begrenset serie",
  "\u043C\u0438\u043D\u0438-\u0441\u0435\u0440\u0438\u0430\u043B",
  "\u30EA\u30DF\u30C6\u30C3\u30C9\u30B7\u30EA\u30FC\u30BA",
  "\uB9AC\uBBF8\uD2F0\uB4DC \uC2DC\uB9AC\uC988"
];
var PART_WORDS = [
  "part",
  "parte",
  "partie",
  "teil",
  "del",
  "deel",
  "cz\u0119\u015B\u0107",
  "osa",
  "r\xE9sz",
  "\u010D\xE1st",
  "\u0447\u0430\u0441\u0442\u044C",
  "\u30D1\u30FC\u30C8",
  "volume",
  "vol\\.?",
  "volumen",
  "bind",
  "tome",
  "tomo",
  "book",
  "bog",
  "bok",
  "boek",
  "buch",
  "libro",
  "livre",
  "ksi\u0119ga",
  "kirja",
  "collection"
];
var EPISODE_WORDS = [
  "chapter",
  "chapitre",
  "kapitel",
  "kap\\.?",
  "cap\xEDtulo",
  "capitulo",
  "capitolo",
  "hoofdstuk",
  "rozdzia\u0142",
  "luku",
  "fejezet",
  "kapitola",
  "\u0433\u043B\u0430\u0432\u0430",
  "episode",
  "\xE9pisode",
  "episodio",
  "epis\xF3dio",
  "folge",
  "afsnit",
  "aflevering",
  "avsnitt",
  "jakso",
  "odcinek",
  "epiz\xF3d",
  "epizoda",
  "\u0441\u0435\u0440\u0438\u044F",
  "\u044D\u043F\u0438\u0437\u043E\u0434",
  "\uC5D0\uD53C\uC18C\uB4DC",
  "\u30A8\u30D4\u30BD\u30FC\u30C9"
];
function numbered(words) {
  const alt = words.join("|");
  return `(?:(?:${alt})\\s*${NUMBER}|${NUMBER}${ORDINAL}\\s*(?:${alt}))(?:\\s*\\(.*\\))?`;
}
var whole = (body) => new RegExp(`^(?:${body})$`, "iu");
var SEASON_RE = whole(`${numbered(ALL_SEASON_WORDS)}|\u7B2C\\s*${NUMBER}\\s*[\u5B63\u671F\u90E8]|${LIMITED_SERIES.join("|")}`);
var PART_RE = whole(`${numbered(PART_WORDS)}|collection|.+\\s[-\u2013\u2014]\\s(?:${numbered([...ALL_SEASON_WORDS, ...PART_WORDS])})`);
var EPISODE_RE = whole(`${numbered(EPISODE_WORDS)}|\u7B2C\\s*${NUMBER}\\s*[\u8A71\u8BDD\u96C6\u56DE]`);
var PART_SEPARATOR = /\s*:\s+/g;
function partSpans(text) {
  const spans = [];
  let start = 0;
  for (const m of text.matchAll(PART_SEPARATOR)) {
    if (m.index > start) spans.push([start, m.index]);
    start = m.index + m[0].length;
  }
  if (start < text.length) spans.push([start, text.length]);
  return spans;
}
var SEASON_NUMBERED = new RegExp(
  `^(?:(${ALL_SEASON_WORDS.join("|")})\\s*(${NUMBER})|(${NUMBER})${ORDINAL}\\s*(${ALL_SEASON_WORDS.join("|")})|\u7B2C\\s*(${NUMBER})\\s*([\u5B63\u671F\u90E8]))(?:\\s*\\(.*\\))?$`,
  "iu"
);
var LIMITED_RE = whole(LIMITED_SERIES.join("|"));
var ROMAN_DIGITS = { i: 1, v: 5, x: 10, l: 50 };
function numberOf(token) {
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
function parseSeason(label) {
  if (label === null) return null;
  if (LIMITED_RE.test(label)) return { number: 1, language: null };
  const m = SEASON_NUMBERED.exec(label);
  if (m === null) return null;
  const word = (m[1] ?? m[4])?.toLowerCase();
  const language = word === void 0 ? m[6] === "\u5B63" ? "zh" : null : LANGUAGE_OF_WORD.get(word) ?? null;
  return { number: numberOf(m[2] ?? m[3] ?? m[5]), language };
}
var isSeasonPart = (part, partCount) => SEASON_RE.test(part) || partCount >= 3 && PART_RE.test(part);
function decomposeTitle(title) {
  const text = cleanText(title);
  const spans = partSpans(text);
  const parts = spans.map(([start, end]) => text.slice(start, end));
  const n = parts.length;
  const series = (showEnd, season, episodeStart) => ({
    show: text.slice(0, spans[showEnd - 1][1]),
    kind: "series",
    season,
    episode: episodeStart < n ? text.slice(spans[episodeStart][0]) : null
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
  return { show: text, kind: "film", season: null, episode: null };
}

// src/shared/matching.ts
var FUZZY_THRESHOLD = 0.85;
var FUZZY_MARGIN = 0.02;
var PARTIAL_SCORE = 0.9;
var BEFORE_ADDED_CONFIDENCE = 0.9;
var FOREIGN_CONFIDENCE = 0.9;
var LANGUAGE_COUNTRIES = {
  en: ["United States", "United Kingdom", "Canada", "Australia", "Ireland", "New Zealand"],
  es: ["Spain", "Mexico", "Argentina", "Colombia", "Chile", "Peru", "Uruguay", "Venezuela", "Ecuador", "Guatemala", "Paraguay", "Brazil", "Portugal"],
  fr: ["France", "Belgium", "Switzerland", "Luxembourg"],
  de: ["Germany", "West Germany", "East Germany", "Austria", "Switzerland", "Liechtenstein"],
  pl: ["Poland", "Turkey"],
  hr: ["Croatia", "Serbia", "Slovenia", "Montenegro"],
  ro: ["Romania"],
  cs: ["Czech Republic", "Slovakia"],
  nl: ["Netherlands", "Belgium"],
  da: ["Denmark"],
  sv: ["Sweden"],
  no: ["Norway"],
  it: ["Italy"],
  fi: ["Finland"],
  hu: ["Hungary"],
  ru: ["Russia", "Soviet Union", "Ukraine", "Bulgaria", "Belarus", "Kazakhstan"],
  tr: ["Turkey"],
  id: ["Indonesia", "Malaysia"],
  vi: ["Vietnam"],
  el: ["Greece", "Cyprus"],
  he: ["Israel"],
  ar: ["Egypt", "Saudi Arabia", "United Arab Emirates", "Lebanon", "Jordan", "Kuwait", "Qatar", "Syria", "Iraq", "Morocco", "Algeria", "Palestine"],
  th: ["Thailand"],
  hi: ["India"],
  ja: ["Japan"],
  ko: ["South Korea"],
  zh: ["China", "Taiwan", "Hong Kong", "Singapore"]
};
var ENGLISH = "en";
var LETTER_FOLDS = { \u00E6: "ae", \u00F8: "o", \u0153: "oe", \u00DF: "ss", \u0142: "l", \u0111: "d", \u00F0: "d", \u00FE: "th", \u0131: "i" };
function normalizeTitle(s) {
  return cleanText(s).normalize("NFKD").replace(new RegExp("\\p{M}", "gu"), "").toLowerCase().replace(/[æøœßłđðþı]/g, (c) => LETTER_FOLDS[c]).replace(/&/g, " and ").replace(/['’ʼ`´.]/g, "").replace(/[\p{P}\p{S}]+/gu, " ").replace(/\s+/g, " ").trim();
}
var HEAD_SEPARATOR = /\s*:\s+|\s+[-–—]\s+/;
function headOf(text) {
  const m = HEAD_SEPARATOR.exec(text);
  if (m === null || m.index === 0) return null;
  const tail = text.slice(m.index + m[0].length).trim();
  return tail === "" ? null : { head: text.slice(0, m.index), tail };
}
var wordCount = (s) => normalizeTitle(s).split(" ").filter((w) => w !== "").length;
var SEASONS = /^(\d+) Seasons?$/;
function seasonCount(item) {
  const m = item.duration === null ? null : SEASONS.exec(item.duration);
  return m === null ? null : Number(m[1]);
}
function trigramsOf(norm) {
  const padded = `  ${norm} `;
  const grams = /* @__PURE__ */ new Set();
  for (let i = 0; i + 3 <= padded.length; i++) grams.add(padded.slice(i, i + 3));
  return grams;
}
var TrigramIndex = class {
  postings = /* @__PURE__ */ new Map();
  gramCount;
  shared;
  constructor(size) {
    this.gramCount = new Int32Array(size);
    this.shared = new Int32Array(size);
  }
  add(id, norm) {
    const grams = trigramsOf(norm);
    this.gramCount[id] = grams.size;
    for (const g of grams) {
      const list2 = this.postings.get(g);
      if (list2) list2.push(id);
      else this.postings.set(g, [id]);
    }
  }
  /** Titles with Dice similarity >= minScore, most similar first (ties: lowest id). */
  near(norm, minScore) {
    const grams = trigramsOf(norm);
    const touched = [];
    for (const g of grams) {
      for (const id of this.postings.get(g) ?? []) {
        if (this.shared[id]++ === 0) touched.push(id);
      }
    }
    const found = [];
    for (const id of touched) {
      const score = 2 * this.shared[id] / (grams.size + this.gramCount[id]);
      if (score >= minScore) found.push({ id, score });
      this.shared[id] = 0;
    }
    return found.sort((a, b) => b.score - a.score || a.id - b.id);
  }
};
var NO_EVIDENCE = Object.freeze({ firstDate: null, maxSeason: null, seriesInHistory: false, language: null });
var push = (map, key, id) => {
  const list2 = map.get(key);
  if (list2) list2.push(id);
  else map.set(key, [id]);
};
var union = (...lists) => [...new Set(lists.flat())].sort((a, b) => a - b);
function createMatcher(catalog, options = {}) {
  const threshold = options.threshold ?? FUZZY_THRESHOLD;
  const { items } = catalog;
  const exact = { series: /* @__PURE__ */ new Map(), film: /* @__PURE__ */ new Map() };
  const heads = { series: /* @__PURE__ */ new Map(), film: /* @__PURE__ */ new Map() };
  const fuzzy = { series: new TrigramIndex(items.length), film: new TrigramIndex(items.length) };
  const seasons = items.map(seasonCount);
  const work = [];
  for (const item of items) {
    const norm = normalizeTitle(item.title);
    work.push(`${norm}\0${item.kind}\0${item.year}\0${item.duration}`);
    if (norm === "") continue;
    push(exact[item.kind], norm, item.id);
    fuzzy[item.kind].add(item.id, norm);
    const split = headOf(cleanText(item.title));
    const head = split === null ? "" : normalizeTitle(split.head);
    if (head !== "") push(heads[item.kind], head, item.id);
  }
  const titled = (ids, text) => ids.map((id) => ({ id, score: 1, reason: cleanText(items[id].title).toLowerCase() === text.toLowerCase() ? "exact" : "normalized" }));
  const unmatched = (reason, candidates) => ({ item: null, score: 0, title: null, reason, candidates: [...candidates] });
  const yearBinds = (id) => items[id].kind === "film" || seasons[id] === 1;
  const fitsLocale = (id, language) => items[id].countries.some((c) => LANGUAGE_COUNTRIES[language]?.includes(c) ?? false);
  const addedOn = (id) => items[id].dateAdded ?? null;
  const addedBy = (id, date) => addedOn(id) !== null && addedOn(id) <= date;
  const addedAfter = (id, date) => addedOn(id) !== null && addedOn(id) > date;
  function partial(text, kind, language) {
    const split = headOf(text);
    if (split === null || wordCount(split.tail) < 2) return [];
    const head = normalizeTitle(split.head);
    if (head === "") return [];
    const series = exact.series.get(head) ?? [];
    if (kind === "series") return union(series, language !== null && language !== ENGLISH ? heads.series.get(head) ?? [] : []);
    const films = exact.film.get(head) ?? [];
    return union(series, films, films.length > 0 ? heads.film.get(head) ?? [] : []);
  }
  function alone(candidates, test, rejects) {
    const passing = candidates.filter((c) => test(c.id));
    return passing.length === 1 && candidates.every((c) => c === passing[0] || rejects(c.id)) ? passing[0] : null;
  }
  function tieBreak(candidates, { language, firstDate }) {
    const byLocale = language === null ? null : alone(candidates, (id) => fitsLocale(id, language), (id) => !fitsLocale(id, language));
    return byLocale ?? (firstDate === null ? null : alone(candidates, (id) => addedBy(id, firstDate), (id) => addedAfter(id, firstDate)));
  }
  function decide(candidates, ev) {
    const firstYear = ev.firstDate === null ? null : Number(ev.firstDate.slice(0, 4));
    const byDate = [];
    const bySeasons = [];
    const english = ev.language === ENGLISH;
    const scored = [];
    for (const c of candidates) {
      const item = items[c.id];
      if (firstYear !== null && item.year !== null && yearBinds(c.id) && firstYear < item.year) byDate.push(c.id);
      else if (ev.maxSeason !== null && seasons[c.id] !== null && ev.maxSeason > seasons[c.id]) bySeasons.push(c.id);
      else {
        const late = english && ev.firstDate !== null && yearBinds(c.id) && addedAfter(c.id, ev.firstDate);
        const foreign = english && item.countries.length > 0 && !fitsLocale(c.id, ENGLISH);
        scored.push({ candidate: c, score: c.score * (late ? BEFORE_ADDED_CONFIDENCE : 1) * (foreign ? FOREIGN_CONFIDENCE : 1) });
      }
    }
    if (scored.length === 0) return unmatched(byDate.length > 0 ? "rejected-date" : "rejected-seasons", [...byDate, ...bySeasons]);
    const sure = scored.filter((s) => s.score >= threshold);
    if (sure.length === 0) return unmatched("rejected-confidence", scored.map((s) => s.candidate.id));
    const works = /* @__PURE__ */ new Map();
    for (const s of [...sure].sort((a, b) => a.candidate.id - b.candidate.id)) if (!works.has(work[s.candidate.id])) works.set(work[s.candidate.id], s);
    const left = [...works.values()];
    const leftCandidates = left.map((s) => s.candidate);
    const chosen = left.length === 1 ? left[0].candidate : tieBreak(leftCandidates, ev);
    if (chosen === null) return unmatched("ambiguous", leftCandidates.map((c) => c.id));
    return {
      item: chosen.id,
      score: left.find((s) => s.candidate === chosen).score,
      title: items[chosen.id].title,
      reason: chosen.reason,
      candidates: leftCandidates.filter((c) => c !== chosen).map((c) => c.id)
    };
  }
  return {
    match(show, kind, evidence = {}) {
      const ev = { ...NO_EVIDENCE, ...evidence };
      const text = cleanText(show);
      const norm = normalizeTitle(text);
      if (norm === "") return unmatched("not-found", []);
      const same = exact[kind].get(norm);
      if (same !== void 0) return decide(titled(same, text), ev);
      const series = kind === "film" ? exact.series.get(norm) : void 0;
      if (series !== void 0) {
        return headOf(text) !== null || ev.seriesInHistory ? decide(titled(series, text), ev) : unmatched("rejected-kind", series);
      }
      const near = fuzzy[kind].near(norm, threshold);
      if (near.length > 0) {
        const rivals = near.filter((n) => n.score >= near[0].score - FUZZY_MARGIN);
        return decide(rivals.map((n) => ({ id: n.id, score: n.score, reason: "fuzzy" })), ev);
      }
      const parts = partial(text, kind, ev.language);
      if (parts.length > 0) return decide(parts.map((id) => ({ id, score: PARTIAL_SCORE, reason: "partial" })), ev);
      const films = kind === "series" ? exact.film.get(norm) : void 0;
      return films === void 0 ? unmatched("not-found", []) : unmatched("rejected-kind", films);
    },
    decompose(title) {
      const split = decomposeTitle(title);
      if (split.kind === "film" || parseSeason(split.season) !== null) return split;
      const text = cleanText(title);
      return exact.film.has(normalizeTitle(text)) ? { show: text, kind: "film", season: null, episode: null } : split;
    }
  };
}
function matchEvents(events, matcher) {
  const titles = /* @__PURE__ */ new Map();
  const languages = /* @__PURE__ */ new Map();
  const groups = /* @__PURE__ */ new Map();
  const resolved = events.map((event) => {
    let title = titles.get(event.title);
    if (title === void 0) {
      const split2 = matcher.decompose(event.title);
      const season2 = parseSeason(split2.season);
      if (season2?.language) languages.set(season2.language, (languages.get(season2.language) ?? 0) + 1);
      titles.set(event.title, title = { split: split2, season: season2?.number ?? null });
    }
    const { split, season } = title;
    const key = `${split.kind}\0${split.show}`;
    const group = groups.get(key);
    if (group === void 0) {
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
  const seriesNames = new Set([...groups.values()].filter((g) => g.kind === "series").map((g) => normalizeTitle(g.show)));
  const byKey = /* @__PURE__ */ new Map();
  for (const [key, g] of groups) {
    const evidence = { firstDate: g.firstDate, maxSeason: g.maxSeason, seriesInHistory: g.kind === "film" && seriesNames.has(normalizeTitle(g.show)), language };
    byKey.set(key, { show: g.show, kind: g.kind, events: g.events, firstDate: g.firstDate, lastDate: g.lastDate, ...matcher.match(g.show, g.kind, evidence) });
  }
  return {
    events: resolved,
    shows: [...byKey.values()].sort((a, b) => b.events - a.events || a.show.localeCompare(b.show)),
    itemOf: (show, kind) => byKey.get(`${kind}\0${show}`)?.item ?? null
  };
}

// src/shared/catalog.ts
import { createHash } from "node:crypto";
import path from "node:path";
import Papa from "papaparse";

// src/shared/history/dates.ts
var DATE_RE = /^(\d{1,4})(\s*[./-]\s*|\s+)(\d{1,2})\2(\d{1,4})(\.?)$/;
var TWO_DIGIT_YEAR_BASE = 2e3;
var MIN_YEAR = 1970;
var MAX_MONTH = 12;
var INITIAL_CAPACITY = 1024;
var UNREADABLE = 0;
var DIGIT_SHIFT = [0, 3, 6];
var DIGIT_MASK = 7;
var digitsOf = (packed, field) => packed >> DIGIT_SHIFT[field] & DIGIT_MASK;
var DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
var isLeapYear = (year) => year % 4 === 0 && year % 100 !== 0 || year % 400 === 0;
function daysInMonth(year, month) {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
}
function isoDate(year, month, day) {
  if (year < MIN_YEAR || month < 1 || month > MAX_MONTH || day < 1 || day > daysInMonth(year, month)) return null;
  return `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}
var yearOf = (value, digits) => digits <= 2 ? TWO_DIGIT_YEAR_BASE + value : value;
var DateColumn = class {
  fields = new Uint16Array(3 * INITIAL_CAPACITY);
  digits = new Uint16Array(INITIAL_CAPACITY);
  count = 0;
  /** The separator and trailing dot of the first readable date, for `format`. */
  separator = null;
  trailing = "";
  isoOf = /* @__PURE__ */ new Map();
  get length() {
    return this.count;
  }
  /** Record one row's date text; returns its index. */
  push(text) {
    if (this.count === this.digits.length) this.grow();
    const i = this.count++;
    const m = DATE_RE.exec(text.trim());
    const d1 = m ? m[1].length : 0;
    const d3 = m ? m[4].length : 0;
    if (!m || d1 === 3 || d3 === 3 || d1 === 4 && d3 === 4) {
      this.digits[i] = UNREADABLE;
      return i;
    }
    if (this.separator === null) {
      this.separator = m[2];
      this.trailing = m[5];
    }
    this.fields[3 * i] = Number(m[1]);
    this.fields[3 * i + 1] = Number(m[3]);
    this.fields[3 * i + 2] = Number(m[4]);
    this.digits[i] = d1 | m[3].length << 3 | d3 << 6;
    return i;
  }
  grow() {
    const fields = new Uint16Array(this.fields.length * 2);
    fields.set(this.fields);
    const digits = new Uint16Array(this.digits.length * 2);
    digits.set(this.digits);
    this.fields = fields;
    this.digits = digits;
  }
  /**
   * The file's order: `requested` unless 'auto', else detected from every row.
   * `rowOf(i)` gives the file row of index i, for messages.
   */
  decideOrder(requested, file, rowOf) {
    if (requested !== "auto") return requested;
    let yearFirst = -1;
    let yearLast = -1;
    let firstAbove12 = -1;
    let secondAbove12 = -1;
    for (let i = 0; i < this.count; i++) {
      const packed = this.digits[i];
      if (packed === UNREADABLE) continue;
      if (digitsOf(packed, 0) === 4) {
        if (yearFirst < 0) yearFirst = i;
        continue;
      }
      if (yearLast < 0) yearLast = i;
      if (firstAbove12 < 0 && this.fields[3 * i] > MAX_MONTH) firstAbove12 = i;
      if (secondAbove12 < 0 && this.fields[3 * i + 1] > MAX_MONTH) secondAbove12 = i;
    }
    const mixed = (a, b, what) => {
      throw new AppError(
        "ERR_HISTORY_DATE",
        `${file} mixes date formats: row ${rowOf(a)} and row ${rowOf(b)} ${what}; export the history again, or set DATE_ORDER (or --date-order dmy|mdy|ymd) to keep the rows of one format`,
        { file, row: rowOf(b) }
      );
    };
    if (yearFirst >= 0 && yearLast >= 0) mixed(yearFirst, yearLast, "put the year first and last");
    if (yearFirst >= 0) return "ymd";
    if (firstAbove12 >= 0 && secondAbove12 >= 0) mixed(firstAbove12, secondAbove12, "have a day first and second");
    if (firstAbove12 >= 0) return "dmy";
    if (secondAbove12 >= 0) return "mdy";
    if (yearLast < 0) return "dmy";
    throw new AppError(
      "ERR_HISTORY_DATE_AMBIGUOUS",
      `${file}: no date has a day above 12, so the day/month order cannot be told; set DATE_ORDER=dmy or DATE_ORDER=mdy in .env, or pass --date-order dmy|mdy`,
      { file }
    );
  }
  /** Row i as `YYYY-MM-DD` in `order`, or null when it does not fit the order or the calendar. */
  dateAt(i, order) {
    const packed = this.digits[i];
    if (packed === UNREADABLE) return null;
    const a = this.fields[3 * i];
    const b = this.fields[3 * i + 1];
    const c = this.fields[3 * i + 2];
    if (order === "ymd") return digitsOf(packed, 2) > 2 ? null : this.iso(yearOf(a, digitsOf(packed, 0)), b, c);
    if (digitsOf(packed, 0) > 2) return null;
    const year = yearOf(c, digitsOf(packed, 2));
    return order === "dmy" ? this.iso(year, b, a) : this.iso(year, a, b);
  }
  /** `isoDate`, with one string per distinct day: a history repeats its days many times. */
  iso(year, month, day) {
    const key = (year * 100 + month) * 100 + day;
    let date = this.isoOf.get(key);
    if (date === void 0) {
      date = isoDate(year, month, day);
      this.isoOf.set(key, date);
    }
    return date;
  }
  /** How the file writes dates in `order`, e.g. `M/D/YY`, `DD.MM.YYYY`, `YYYY-MM-DD`. */
  format(order) {
    if (this.separator === null) return "unknown";
    const min = [4, 4, 4];
    const max = [0, 0, 0];
    for (let i = 0; i < this.count; i++) {
      const packed = this.digits[i];
      if (packed === UNREADABLE) continue;
      for (const f of [0, 1, 2]) {
        min[f] = Math.min(min[f], digitsOf(packed, f));
        max[f] = Math.max(max[f], digitsOf(packed, f));
      }
    }
    const day = (f) => min[f] >= 2 ? "DD" : "D";
    const month = (f) => min[f] >= 2 ? "MM" : "M";
    const year = (f) => max[f] === 4 ? "YYYY" : "YY";
    const fields = order === "ymd" ? [year(0), month(1), day(2)] : order === "dmy" ? [day(0), month(1), year(2)] : [month(0), day(1), year(2)];
    return fields.join(this.separator) + this.trailing;
  }
};

// src/shared/catalog.ts
var CATALOG_FORMAT = "syftbox-netflix-svd/catalog";
var CATALOG_FORMAT_VERSION = 2;
var SHIPPED_CATALOG = path.join(PROJECT_ROOT, "data", "catalog.json");
var MAX_CATALOG_BYTES = 64 * 1024 * 1024;
var COLUMNS = ["showId", "title", "kind", "year", "genres", "countries", "description", "rating", "duration", "image", "dateAdded"];
var NETFLIX_HEADER = ["show_id", "type", "title", "country", "release_year", "rating", "duration", "listed_in", "description"];
var MOVIELENS_HEADER = ["movieId", "title", "genres"];
async function loadCatalog(file) {
  const target = file ?? SHIPPED_CATALOG;
  const bytes = await readRegularFile(target, { maxBytes: MAX_CATALOG_BYTES });
  if (bytes === null) throw new AppError("ERR_FILE_NOT_FOUND", `catalogue ${target} does not exist; set CATALOG_PATH to a netflix_titles.csv, or leave it empty for the shipped catalogue`, { file: target });
  const text = bytes.toString("utf8");
  if (target.toLowerCase().endsWith(".json")) return fromJson(text, target);
  return catalogOf(fromCsv(text, target), path.basename(target));
}
function catalogOf(fields, source) {
  const items = fields.map((f, id) => ({ id, ...f }));
  const hash = createHash("sha256");
  for (const item of items) hash.update(`${item.id}	${item.title}	${item.kind}
`);
  return { items, hash: hash.digest("hex"), source };
}
function fromJson(text, file) {
  const bad = (what) => {
    throw new AppError("ERR_CATALOG_FORMAT", `catalogue ${file}: ${what}; rebuild it with \`npm run catalog\``, { file });
  };
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return bad(`not valid JSON (${err.message})`);
  }
  if (doc.format !== CATALOG_FORMAT || doc.version !== CATALOG_FORMAT_VERSION) bad(`format ${String(doc.format)} version ${String(doc.version)} is not ${CATALOG_FORMAT} version ${CATALOG_FORMAT_VERSION}`);
  if (JSON.stringify(doc.columns) !== JSON.stringify(COLUMNS)) bad(`columns must be ${COLUMNS.join(",")}`);
  if (!Array.isArray(doc.items) || doc.items.length === 0) bad("items must be a non-empty array");
  const items = doc.items.map((row, i) => {
    const [showId, title, kind, year, genres, countries, description, rating, duration, image, dateAdded] = Array.isArray(row) ? row : [];
    const strings = (v) => Array.isArray(v) && v.every((s) => typeof s === "string");
    const optional = (v) => v === null || typeof v === "string";
    const ok = Array.isArray(row) && row.length === COLUMNS.length && typeof showId === "string" && typeof title === "string" && title.length > 0 && (kind === "series" || kind === "film") && (year === null || Number.isInteger(year)) && strings(genres) && strings(countries) && typeof description === "string" && optional(rating) && optional(duration) && optional(image) && (dateAdded === null || typeof dateAdded === "string" && ISO_DATE.test(dateAdded));
    if (!ok) bad(`item ${i} is not [${COLUMNS.join(", ")}] with the right types`);
    return { showId, title, kind, year, genres, countries, description, rating, duration, image, dateAdded };
  });
  return catalogOf(items, typeof doc.source === "string" ? doc.source : path.basename(file));
}
function fromCsv(text, file) {
  const { data } = Papa.parse(text, { skipEmptyLines: "greedy" });
  const header = (data[0] ?? []).map((h) => h.trim());
  const rows = data.slice(1);
  const column = (name) => header.indexOf(name);
  const bad = (row, what) => {
    throw new AppError("ERR_CATALOG_FORMAT", `catalogue ${file} row ${row}: ${what}`, { file, row });
  };
  if (rows.length === 0) bad(1, "no items");
  if (NETFLIX_HEADER.every((c) => column(c) >= 0)) return netflixItems(rows, column, bad);
  if (MOVIELENS_HEADER.every((c) => column(c) >= 0)) return movieLensItems(rows, column, bad);
  return bad(1, `columns ${header.join(",")} are neither netflix_titles.csv (${NETFLIX_HEADER.join(",")}) nor MovieLens movies.csv (${MOVIELENS_HEADER.join(",")})`);
}
var list = (s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0);
var orNull = (s) => s.trim() === "" ? null : s.trim();
var SHOW_ID_NUMBER = /(\d+)$/;
var ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
var MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
var DATE_ADDED = /^([A-Za-z]+) (\d{1,2}), (\d{4})$/;
function dateAddedOf(text) {
  const m = DATE_ADDED.exec(text);
  return m ? isoDate(Number(m[3]), MONTHS.indexOf(m[1].toLowerCase()) + 1, Number(m[2])) : null;
}
var DURATION_IN_RATING = /^\d+ min$/;
function netflixItems(rows, column, bad) {
  const at = (row, name) => (row[column(name)] ?? "").trim();
  const seen = /* @__PURE__ */ new Set();
  const items = rows.map((row, i) => {
    const showId = at(row, "show_id");
    const title = cleanText(at(row, "title"));
    const type = at(row, "type");
    if (showId === "" || seen.has(showId)) bad(i + 2, `show_id ${JSON.stringify(showId)} is empty or repeated`);
    seen.add(showId);
    if (title === "") bad(i + 2, "empty title");
    if (type !== "Movie" && type !== "TV Show") bad(i + 2, `type ${JSON.stringify(type)} is neither Movie nor TV Show`);
    const year = Number.parseInt(at(row, "release_year"), 10);
    let rating = orNull(at(row, "rating"));
    let duration = orNull(at(row, "duration"));
    if (duration === null && rating !== null && DURATION_IN_RATING.test(rating)) [rating, duration] = [null, rating];
    return {
      showId,
      title,
      kind: type === "TV Show" ? "series" : "film",
      year: Number.isInteger(year) ? year : null,
      genres: list(at(row, "listed_in")),
      countries: list(at(row, "country")),
      description: at(row, "description"),
      rating,
      duration,
      image: null,
      dateAdded: dateAddedOf(at(row, "date_added"))
    };
  });
  const numbers = items.map((item) => SHOW_ID_NUMBER.exec(item.showId));
  if (numbers.some((m) => m === null)) return items;
  const order = items.map((item, i) => ({ item, n: Number(numbers[i][1]) }));
  return order.sort((a, b) => a.n - b.n).map((o) => o.item);
}
var MOVIELENS_YEAR = /^(.*?)\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$/;
var TRAILING_ARTICLE = /^(.*?), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los|Las)( \(.*\))?$/;
function movieLensItems(rows, column, bad) {
  return rows.map((row, i) => {
    const raw = cleanText(row[column("title")] ?? "");
    if (raw === "") bad(i + 2, "empty title");
    const m = MOVIELENS_YEAR.exec(raw);
    const bare = m ? m[1] : raw;
    const a = TRAILING_ARTICLE.exec(bare);
    const title = a ? `${a[2]}${a[2].endsWith("'") ? "" : " "}${a[1]}${a[3] ?? ""}` : bare;
    const genres = (row[column("genres")] ?? "").split("|").map((g) => g.trim()).filter((g) => g !== "" && g !== "(no genres listed)");
    return {
      showId: (row[column("movieId")] ?? "").trim(),
      title,
      kind: "film",
      year: m ? Number(m[2]) : null,
      genres,
      countries: [],
      description: "",
      rating: null,
      duration: null,
      image: null,
      dateAdded: null
    };
  });
}

export {
  isoDate,
  DateColumn,
  decomposeTitle,
  seasonCount,
  createMatcher,
  matchEvents,
  loadCatalog
};
//# sourceMappingURL=chunk-FC2Z3HKA.js.map
