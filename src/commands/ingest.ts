import path from 'node:path';
import { createMatcher, loadCatalog, type Matcher } from '../shared/catalog';
import { loadConfig } from '../shared/config';
import { AppError } from '../shared/errors';
import { readHistory, type DateOrderOption, type ParsedHistory } from '../shared/history';
import { moduleLogger, silentLogger } from '../shared/log';
import { parseOptions, type Command } from './command';

/** Titles listed in `unmatchedSample`. */
const UNMATCHED_SAMPLE = 20;
const DATE_ORDERS: readonly DateOrderOption[] = ['auto', 'dmy', 'mdy', 'ymd'];

interface ShowMatch {
  show: string;
  kind: 'series' | 'film';
  episodes: number;
  title: string | null;
  score: number;
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
  unmatchedSample: string[];
  matches?: ShowMatch[];
}

/** Distinct shows and films of a history, most watched first, each matched once. */
function matchShows(history: ParsedHistory, matcher: Matcher): ShowMatch[] {
  const byShow = new Map<string, ShowMatch>();
  for (const { show, kind } of history.events) {
    const key = `${kind}\t${show}`;
    const entry = byShow.get(key);
    if (entry) entry.episodes++;
    else byShow.set(key, { show, kind, episodes: 1, title: null, score: 0 });
  }
  const shows = [...byShow.values()].sort((a, b) => b.episodes - a.episodes || a.show.localeCompare(b.show));
  for (const entry of shows) {
    const { title, score } = matcher.match(entry.show, entry.kind);
    entry.title = title;
    entry.score = title === null ? 0 : Math.round(score * 1000) / 1000;
  }
  return shows;
}

/** The report of one ingested history against a catalogue. */
function ingestReport(history: ParsedHistory, matcher: Matcher, withMatches: boolean): IngestReport {
  const shows = matchShows(history, matcher);
  const unmatched = shows.filter((s) => s.title === null);
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
  for (const m of r.matches ?? []) {
    lines.push(`  ${String(m.episodes).padStart(5)}  ${m.kind.padEnd(6)}  ${m.show}  ->  ${m.title === null ? '(no match)' : `${m.title} (${m.score})`}`);
  }
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  summary: 'read a Netflix export and report its rows, dates, shows and catalogue matches',
  usage: `
usage: npm run -s cli -- ingest --history <file> [--catalog <file>] [--date-order dmy|mdy|ymd] [--matches] [--json]

Reads a NetflixViewingHistory.csv or ViewingActivity.csv and matches its shows
against the catalogue. Nothing is written or published.

  --history <file>     the export to read (required)
  --catalog <file>     catalogue .json or netflix_titles.csv / MovieLens movies.csv
                       (default: CATALOG_PATH, else the shipped data/catalog.json)
  --date-order <o>     day/month order of the dates: auto, dmy, mdy or ymd
                       (default: DATE_ORDER, auto = detect from the file)
  --matches            also list every show with its catalogue match
  --json               print one JSON object: rows, skipped, profiles, dateFormat,
                       firstDate, lastDate, shows, matched, unmatched,
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
    const report = ingestReport(history, createMatcher(catalog), values.matches);
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : humanSummary(file, report));
    return 0;
  },
};
