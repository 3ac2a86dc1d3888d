import path from 'node:path';
import { createMatcher, loadCatalog, matchEvents, type Catalog, type Matcher, type MatchReason } from '../shared/catalog';
import { loadConfig } from '../shared/config';
import { AppError } from '../shared/errors';
import { readHistory, type DateOrderOption, type ParsedHistory } from '../shared/history';
import { moduleLogger, silentLogger } from '../shared/log';
import { parseOptions, type Command } from './command';

/** Titles listed in `unmatchedSample`. */
const UNMATCHED_SAMPLE = 20;
const DATE_ORDERS: readonly DateOrderOption[] = ['auto', 'dmy', 'mdy', 'ymd'];
const SCORE_DIGITS = 1000;

/** How each reason reads in the human summary. */
const REASON_TEXT: Record<MatchReason, string> = {
  exact: 'exact',
  normalized: 'normalized',
  fuzzy: 'fuzzy',
  partial: 'partial title',
  'rejected-kind': 'rejected for kind',
  'rejected-date': 'rejected for date',
  'rejected-seasons': 'rejected for seasons',
  'rejected-confidence': 'rejected, too doubtful',
  ambiguous: 'ambiguous',
  'not-found': 'not in the catalogue',
};

interface ShowMatch {
  show: string;
  kind: 'series' | 'film';
  episodes: number;
  title: string | null;
  year: number | null;
  score: number;
  reason: MatchReason;
  /** `Title (year, kind)` of the items the reason is about (rejected, rivals). */
  candidates: string[];
}

/** What `ingest --json` prints: exactly these keys (`matches` only with --matches). */
interface IngestReport {
  rows: number;
  skipped: Record<string, number>;
  profiles: { name: string; rows: number }[];
  dateFormat: string;
  firstDate: string | null;
  lastDate: string | null;
  shows: number;
  matched: number;
  unmatched: number;
  /** Shows per reason (see `MatchReason` in src/shared/matching.ts). */
  reasons: Partial<Record<MatchReason, number>>;
  unmatchedSample: string[];
  matches?: ShowMatch[];
}

const describe = (catalog: Catalog, id: number) => `${catalog.items[id].title} (${catalog.items[id].year ?? 'year unknown'}, ${catalog.items[id].kind})`;

/** Distinct shows and films of a history, most watched first, each matched once with the evidence of the whole history. */
function matchShows(history: ParsedHistory, catalog: Catalog, matcher: Matcher): ShowMatch[] {
  return matchEvents(history.events, matcher).shows.map((s) => ({
    show: s.show,
    kind: s.kind,
    episodes: s.events,
    title: s.title,
    year: s.item === null ? null : catalog.items[s.item].year,
    score: Math.round(s.score * SCORE_DIGITS) / SCORE_DIGITS,
    reason: s.reason,
    candidates: s.candidates.map((id) => describe(catalog, id)),
  }));
}

/** The report of one ingested history against a catalogue. */
function ingestReport(history: ParsedHistory, catalog: Catalog, matcher: Matcher, withMatches: boolean): IngestReport {
  const shows = matchShows(history, catalog, matcher);
  const unmatched = shows.filter((s) => s.title === null);
  const reasons: Partial<Record<MatchReason, number>> = {};
  for (const s of shows) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
  return {
    rows: history.rows,
    skipped: history.skipped,
    profiles: history.profiles.map((p) => ({ name: p.name ?? '', rows: p.rows })),
    dateFormat: history.dateFormat,
    firstDate: history.firstDate,
    lastDate: history.lastDate,
    shows: shows.length,
    matched: shows.length - unmatched.length,
    unmatched: unmatched.length,
    reasons,
    unmatchedSample: unmatched.slice(0, UNMATCHED_SAMPLE).map((s) => s.show),
    ...(withMatches ? { matches: shows } : {}),
  };
}

function humanSummary(file: string, r: IngestReport): string {
  const skipped = Object.entries(r.skipped).map(([reason, n]) => `${reason} ${n}`).join(', ') || 'none';
  const lines = [
    `${file}`,
    `  rows       ${r.rows} (skipped: ${skipped})`,
    `  profiles   ${r.profiles.map((p) => `${p.name || '(unnamed)'}: ${p.rows}`).join(', ')}`,
    `  dates      ${r.firstDate ?? '-'} .. ${r.lastDate ?? '-'} (format ${r.dateFormat})`,
    `  shows      ${r.shows} distinct shows and films; ${r.matched} matched the catalogue, ${r.unmatched} not`,
  ];
  if (r.unmatchedSample.length > 0) lines.push(`  unmatched  ${r.unmatchedSample.join(' | ')}`);
  lines.push(`  reasons    ${Object.entries(r.reasons).map(([reason, n]) => `${REASON_TEXT[reason as MatchReason]} ${n}`).join(', ')}`);
  for (const m of r.matches ?? []) {
    const match = m.title === null ? REASON_TEXT[m.reason] : `${m.title} (${m.year ?? 'year unknown'})  ${REASON_TEXT[m.reason]} ${m.score}`;
    const others = m.candidates.length === 0 ? '' : `${m.title === null ? ': ' : ', over '}${m.candidates.join(' | ')}`;
    lines.push(`  ${String(m.episodes).padStart(5)}  ${m.kind.padEnd(6)}  ${m.show}  ->  ${match}${others}`);
  }
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  usage: `
usage: npm run -s cli -- ingest --history <file> [--catalog <file>] [--date-order dmy|mdy|ymd] [--matches] [--json]

Reads a NetflixViewingHistory.csv or ViewingActivity.csv and matches its shows
against the catalogue. Nothing is written or published.

  --history <file>     the export to read (required)
  --catalog <file>     catalogue .json or netflix_titles.csv / MovieLens movies.csv
                       (default: CATALOG_PATH, else the shipped data/catalog.json)
  --date-order <o>     day/month order of the dates: auto, dmy, mdy or ymd
                       (default: DATE_ORDER, auto = detect from the file)
  --matches            also list every show with its match: score and reason
                       (exact, normalized, fuzzy, partial title; or rejected for
                       kind, date, seasons, too doubtful; ambiguous; not in the
                       catalogue) and the catalogue items the reason is about
  --json               print one JSON object: rows, skipped, profiles, dateFormat,
                       firstDate, lastDate, shows, matched, unmatched, reasons,
                       unmatchedSample (and matches with --matches)
`,
  async run(argv) {
    const { values } = parseOptions(argv, {
      history: { type: 'string' },
      catalog: { type: 'string' },
      'date-order': { type: 'string' },
      matches: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
    if (!values.history) throw new AppError('ERR_USAGE', 'ingest needs --history <file>: the NetflixViewingHistory.csv or ViewingActivity.csv to read');
    const dateOrder = values['date-order'];
    if (dateOrder !== undefined && !DATE_ORDERS.includes(dateOrder as DateOrderOption)) {
      throw new AppError('ERR_USAGE', `--date-order ${dateOrder}: expected one of ${DATE_ORDERS.join(', ')}`);
    }
    const config = loadConfig();
    const file = path.resolve(values.history);
    // --json keeps stdout to the one object; the root logger writes to stdout.
    const log = values.json ? silentLogger : moduleLogger('ingest');
    const history = await readHistory(file, { dateOrder: (dateOrder as DateOrderOption | undefined) ?? config.DATE_ORDER, now: new Date(), log });
    const catalog = await loadCatalog(values.catalog === undefined ? config.CATALOG_PATH : path.resolve(values.catalog));
    const report = ingestReport(history, catalog, createMatcher(catalog), values.matches);
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : humanSummary(file, report));
    return 0;
  },
};
