import type { Readable } from 'node:stream';
import Papa from 'papaparse';
import { AppError } from '../errors';
import type { Logger } from '../log';
import { DateColumn, isoDate, type DateOrderOption } from './dates';
import { decomposeTitle, type DecomposedTitle } from './titles';

/**
 * The two Netflix export shapes -> viewing events, parsed from a text stream with
 * papaparse's chunk callback: rows are turned into compact events as they arrive,
 * so the file's text is never held whole next to its parsed rows.
 *
 * - `NetflixViewingHistory.csv`: `Title,Date`, one row per episode or film, dates
 *   in the account's locale (see `dates.ts`), no profile name (`profile: null`).
 * - `ViewingActivity.csv`: `Profile Name,Start Time,Duration,Attributes,Title,
 *   Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country`; every
 *   profile of the account; `Start Time` is `YYYY-MM-DD HH:MM:SS` UTC, `Duration`
 *   `HH:MM:SS`. Rows with a Supplemental Video Type (HOOK, TRAILER, RECAP...) are
 *   previews, not viewing.
 *
 * Row numbers in messages count CSV records with the header as row 1: the line
 * number, unless a quoted field spans lines. Blank lines are ignored.
 */

export interface ViewingEvent {
  /** Netflix profile name (ViewingActivity only; it never leaves the machine). */
  profile: string | null;
  /** The title as written in the export. */
  title: string;
  show: string;
  kind: 'series' | 'film';
  season: string | null;
  episode: string | null;
  /** `YYYY-MM-DD`: the account's local date (simple export) or the UTC date of Start Time. */
  date: string;
  /** ISO `YYYY-MM-DDTHH:MM:SS.000Z` (ViewingActivity only). */
  startTime: string | null;
  durationSec: number | null;
}

export interface ParsedHistory {
  file: string;
  shape: 'NetflixViewingHistory' | 'ViewingActivity';
  /** Data rows read (header and blank lines excluded), kept or skipped. */
  rows: number;
  /** Rows not turned into events, by reason (see `SkipReason`). */
  skipped: Record<string, number>;
  /** Profiles in order of first appearance with their kept events; one unnamed entry for the simple export. */
  profiles: { name: string | null; rows: number }[];
  /** How the file writes dates, e.g. `M/D/YY`, `DD/MM/YYYY`, `YYYY-MM-DD HH:MM:SS`. */
  dateFormat: string;
  firstDate: string | null;
  lastDate: string | null;
  /** In file order. */
  events: ViewingEvent[];
}

/**
 * Why a row was skipped: `blank_title`; `bad_date` (not a date in the file's
 * format); `future` (after `now`); `supplemental` (a trailer, hook or recap);
 * `bad_duration` (Duration not `HH:MM:SS`); `bad_row` (too few fields).
 */
export type SkipReason = 'blank_title' | 'bad_date' | 'future' | 'supplemental' | 'bad_duration' | 'bad_row';

interface ParseOptions {
  dateOrder: DateOrderOption;
  now: Date;
  log: Logger;
}

const SIMPLE_COLUMNS = ['Title', 'Date'] as const;
const ACTIVITY_COLUMNS = [
  'Profile Name', 'Start Time', 'Duration', 'Attributes', 'Title', 'Supplemental Video Type', 'Device Type', 'Bookmark', 'Latest Bookmark', 'Country',
] as const;
/** The ViewingActivity columns this parser reads; the others may be absent. */
const ACTIVITY_REQUIRED = ['Profile Name', 'Start Time', 'Duration', 'Title', 'Supplemental Video Type'] as const;
const ACTIVITY_DATE_FORMAT = 'YYYY-MM-DD HH:MM:SS';

/**
 * Data rows accepted. A heavy account's ViewingActivity.csv holds about 100,000
 * sessions; ten times that is not a Netflix export, and reading on would keep
 * millions of events (and their cache) in memory. Checked as the file streams by.
 */
export const MAX_HISTORY_ROWS = 1_000_000;
/** A quoted field longer than this is an unterminated quote, not a title (and would make papaparse rescan the rest of the file per chunk). */
const MAX_RECORD_CHARS = 1024 * 1024; // 1 Mi characters
/** Local dates of the simple export may run ahead of UTC by the earliest time zone. */
const MAX_ZONE_AHEAD_MS = 14 * 3600 * 1000; // UTC+14
const ISO_DATE_LENGTH = 'YYYY-MM-DD'.length;
/** Rows named in the log per skip reason. */
const LOGGED_ROWS = 5;

interface ShapeReader {
  add(fields: string[], row: number): void;
  finish(): ParsedHistory;
}

/** Parse one export from a UTF-8 text stream. Throws AppError(ERR_HISTORY_*) naming the file and row. */
export function parseHistory(input: Readable, file: string, options: ParseOptions): Promise<ParsedHistory> {
  return new Promise((resolve, reject) => {
    let reader: ShapeReader | null = null;
    let record = 0;
    let charsFed = 0;
    input.on('data', (chunk: string) => {
      charsFed += chunk.length;
    });
    Papa.parse<string[]>(input, {
      delimiter: ',',
      beforeFirstChunk: (chunk) => (chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk),
      chunk(results) {
        const quoteError = results.errors.find((e) => e.code === 'MissingQuotes');
        if (quoteError || charsFed - results.meta.cursor > MAX_RECORD_CHARS) {
          const row = record + (quoteError?.row ?? results.data.length) + 1;
          throw new AppError('ERR_HISTORY_CSV', `${file} row ${row}: a quoted field is never closed (a stray " in a title?); export the history again`, { file, row });
        }
        for (const fields of results.data) {
          record++;
          if (record - 1 > MAX_HISTORY_ROWS) {
            throw new AppError('ERR_FILE_TOO_LARGE', `${file} row ${record}: more than ${MAX_HISTORY_ROWS} data rows; a Netflix export has far fewer: is this the right file?`, { file, row: record });
          }
          if (fields.length === 1 && fields[0].trim() === '') continue;
          if (reader) reader.add(fields, record);
          else reader = readerFor(fields, file, record, options);
        }
      },
      complete() {
        try {
          resolve(finish(reader, file));
        } catch (err) {
          reject(err);
        }
      },
      error: (err: Error) => reject(err),
    });
  });
}

function finish(reader: ShapeReader | null, file: string): ParsedHistory {
  if (!reader) throw new AppError('ERR_HISTORY_EMPTY', `${file} has no header row; export the history again from Netflix`, { file });
  const parsed = reader.finish();
  if (parsed.rows === 0) throw new AppError('ERR_HISTORY_EMPTY', `${file} has a header but no data rows: nothing was watched, or the download was cut short`, { file });
  return parsed;
}

function readerFor(header: string[], file: string, row: number, options: ParseOptions): ShapeReader {
  const names = header.map((h) => h.trim().toLowerCase());
  const columnOf = (name: string) => names.indexOf(name.toLowerCase());
  if (ACTIVITY_REQUIRED.every((c) => columnOf(c) >= 0)) {
    return new ActivityReader(file, options, {
      profile: columnOf('Profile Name'),
      start: columnOf('Start Time'),
      duration: columnOf('Duration'),
      title: columnOf('Title'),
      supplemental: columnOf('Supplemental Video Type'),
    });
  }
  if (SIMPLE_COLUMNS.every((c) => columnOf(c) >= 0)) {
    return new SimpleReader(file, options, { title: columnOf('Title'), date: columnOf('Date') });
  }
  throw new AppError(
    'ERR_HISTORY_COLUMNS',
    `${file} row ${row}: columns ${JSON.stringify(header.join(','))} are not a Netflix export; expected ${SIMPLE_COLUMNS.join(',')} (NetflixViewingHistory.csv) or ${ACTIVITY_COLUMNS.join(',')} (ViewingActivity.csv)`,
    { file, row },
  );
}

/** Counts of skipped rows by reason, and the first few row numbers of each for the log. */
class Skips {
  readonly counts: Record<string, number> = {};
  private readonly firstRows = new Map<SkipReason, number[]>();

  add(reason: SkipReason, row: number): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    const rows = this.firstRows.get(reason) ?? [];
    if (rows.length < LOGGED_ROWS) this.firstRows.set(reason, [...rows, row]);
  }

  count(reason: SkipReason): number {
    return this.counts[reason] ?? 0;
  }

  firstRow(reason: SkipReason): number | undefined {
    return this.firstRows.get(reason)?.[0];
  }

  /** Previews and blank titles are normal in an export (info); the other reasons mean damaged rows (warn). */
  log(log: Logger, file: string): void {
    for (const [reason, rows] of this.firstRows) {
      const details = { file, reason, count: this.counts[reason], rows };
      if (reason === 'supplemental' || reason === 'blank_title') log.info(details, 'skipped history rows');
      else log.warn(details, 'skipped history rows');
    }
  }
}

/**
 * A copy of a field that does not point into papaparse's chunk text. V8 keeps a
 * substring as a slice of its parent, so keeping one field of every row would keep
 * the whole file's text (ignored columns included) alive. A JSON round trip is the
 * fastest exact way to get a fresh flat string.
 */
const detach = (field: string): string => JSON.parse(JSON.stringify(field));

/** A title as kept: the export's text (detached) and its decomposition. */
type KeptTitle = { title: string } & DecomposedTitle;

/** One decomposition per distinct title: rewatches and the many sessions of one episode (ViewingActivity) share it. */
class TitleCache {
  private readonly byTitle = new Map<string, KeptTitle>();

  get(raw: string): KeptTitle {
    let kept = this.byTitle.get(raw);
    if (!kept) {
      const title = detach(raw);
      const { show, kind, season, episode } = decomposeTitle(title);
      kept = { title, show, kind, season, episode };
      this.byTitle.set(title, kept);
    }
    return kept;
  }
}

/** Built property by property: same shape for every event, no spread copies (100,000 events add up). */
function eventOf(profile: string | null, kept: KeptTitle, date: string, startTime: string | null, durationSec: number | null): ViewingEvent {
  return { profile, title: kept.title, show: kept.show, kind: kept.kind, season: kept.season, episode: kept.episode, date, startTime, durationSec };
}

function dateRange(events: ViewingEvent[]): { firstDate: string | null; lastDate: string | null } {
  let firstDate: string | null = null;
  let lastDate: string | null = null;
  for (const { date } of events) {
    if (firstDate === null || date < firstDate) firstDate = date;
    if (lastDate === null || date > lastDate) lastDate = date;
  }
  return { firstDate, lastDate };
}

/** Nothing but spaces (any kind) and invisible characters. */
const BLANK = /^[\s\u200B-\u200D\u2060\u00AD]*$/;
const isBlank = (title: string) => BLANK.test(title);

function noDateParses(file: string, row: number | undefined, expected: string): never {
  throw new AppError(
    'ERR_HISTORY_DATE',
    `${file} row ${row}: no row has a readable date (expected ${expected}); is this an unmodified Netflix export?`,
    { file, row },
  );
}

/** `NetflixViewingHistory.csv`: dates are resolved at the end, once the file's day/month order is known. */
class SimpleReader implements ShapeReader {
  private rows = 0;
  private readonly skips = new Skips();
  private readonly titles: KeptTitle[] = [];
  private readonly cache = new TitleCache();
  private records = new Uint32Array(1024);
  private readonly dates = new DateColumn();

  constructor(
    private readonly file: string,
    private readonly options: ParseOptions,
    private readonly col: { title: number; date: number },
  ) {}

  add(fields: string[], row: number): void {
    this.rows++;
    if (fields.length <= Math.max(this.col.title, this.col.date)) return this.skips.add('bad_row', row);
    const title = fields[this.col.title].trim();
    if (isBlank(title)) return this.skips.add('blank_title', row);
    const i = this.dates.push(fields[this.col.date]);
    if (i === this.records.length) {
      const grown = new Uint32Array(2 * i);
      grown.set(this.records);
      this.records = grown;
    }
    this.records[i] = row;
    this.titles.push(this.cache.get(title));
  }

  finish(): ParsedHistory {
    const { file, options, dates, skips } = this;
    const order = dates.decideOrder(options.dateOrder, file, (i) => this.records[i]);
    const latest = new Date(options.now.getTime() + MAX_ZONE_AHEAD_MS).toISOString().slice(0, ISO_DATE_LENGTH);
    const events: ViewingEvent[] = [];
    for (let i = 0; i < dates.length; i++) {
      const date = dates.dateAt(i, order);
      if (date === null) skips.add('bad_date', this.records[i]);
      else if (date > latest) skips.add('future', this.records[i]);
      else events.push(eventOf(null, this.titles[i], date, null, null));
    }
    const format = dates.format(order);
    if (dates.length > 0 && skips.count('bad_date') === dates.length) noDateParses(file, skips.firstRow('bad_date'), format === 'unknown' ? 'e.g. 20/10/2020, 10/20/20 or 2020-10-20' : format);
    skips.log(options.log, file);
    return {
      file,
      shape: 'NetflixViewingHistory',
      rows: this.rows,
      skipped: skips.counts,
      profiles: [{ name: null, rows: events.length }],
      dateFormat: format,
      ...dateRange(events),
      events,
    };
  }
}

const START_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})Z?$/;
const DURATION_RE = /^(\d{1,3}):([0-5]\d):([0-5]\d)$/;
const HOURS_PER_DAY = 24;
const MINUTES_PER_HOUR = 60;
const SECONDS_PER_MINUTE = 60;

/** `YYYY-MM-DD HH:MM:SS` (UTC) -> epoch milliseconds, or null. */
function parseStartTime(text: string): number | null {
  const m = START_TIME_RE.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  if (isoDate(year, month, day) === null || hour >= HOURS_PER_DAY || minute >= MINUTES_PER_HOUR || second >= SECONDS_PER_MINUTE) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** `HH:MM:SS` -> seconds, or null. */
function parseDuration(text: string): number | null {
  const m = DURATION_RE.exec(text.trim());
  return m ? (Number(m[1]) * MINUTES_PER_HOUR + Number(m[2])) * SECONDS_PER_MINUTE + Number(m[3]) : null;
}

/** `ViewingActivity.csv`: every row is complete on its own. */
class ActivityReader implements ShapeReader {
  private rows = 0;
  private readonly skips = new Skips();
  private readonly events: ViewingEvent[] = [];
  private readonly profiles = new Map<string, { name: string; rows: number }>();
  private readonly cache = new TitleCache();
  private readonly days = new Map<string, string>();
  private readonly lastWidth: number;
  private readonly nowMs: number;
  private dated = 0;

  constructor(
    private readonly file: string,
    private readonly options: ParseOptions,
    private readonly col: { profile: number; start: number; duration: number; title: number; supplemental: number },
  ) {
    this.lastWidth = Math.max(...Object.values(col));
    this.nowMs = options.now.getTime();
  }

  add(fields: string[], row: number): void {
    this.rows++;
    if (fields.length <= this.lastWidth) return this.skips.add('bad_row', row);
    const name = fields[this.col.profile].trim();
    let profile = this.profiles.get(name);
    if (!profile) {
      profile = { name: detach(name), rows: 0 };
      this.profiles.set(profile.name, profile);
    }
    if (fields[this.col.supplemental].trim() !== '') return this.skips.add('supplemental', row);
    const title = fields[this.col.title].trim();
    if (isBlank(title)) return this.skips.add('blank_title', row);
    this.dated++;
    const startMs = parseStartTime(fields[this.col.start]);
    if (startMs === null) return this.skips.add('bad_date', row);
    if (startMs > this.nowMs) return this.skips.add('future', row);
    const durationSec = parseDuration(fields[this.col.duration]);
    if (durationSec === null) return this.skips.add('bad_duration', row);
    profile.rows++;
    const startTime = new Date(startMs).toISOString();
    this.events.push(eventOf(profile.name, this.cache.get(title), this.day(startTime.slice(0, ISO_DATE_LENGTH)), startTime, durationSec));
  }

  /** One string per distinct day. */
  private day(date: string): string {
    const known = this.days.get(date);
    if (known !== undefined) return known;
    this.days.set(date, date);
    return date;
  }

  finish(): ParsedHistory {
    const { file, skips, events } = this;
    if (this.dated > 0 && skips.count('bad_date') === this.dated) noDateParses(file, skips.firstRow('bad_date'), ACTIVITY_DATE_FORMAT);
    skips.log(this.options.log, file);
    return {
      file,
      shape: 'ViewingActivity',
      rows: this.rows,
      skipped: skips.counts,
      profiles: [...this.profiles.values()],
      dateFormat: ACTIVITY_DATE_FORMAT,
      ...dateRange(events),
      events,
    };
  }
}
