import { AppError } from '../errors';

/**
 * Dates of the simple export (`NetflixViewingHistory.csv`). Netflix writes them in
 * the account's locale: `M/D/YY` (US), `DD/MM/YYYY`, `DD/MM/YY`, `DD.MM.YYYY`,
 * `DD-MM-YY`, `D-M-YYYY`, `YYYY/MM/DD`, `YYYY-MM-DD`, `YYYY. MM. DD.` (Korean,
 * Hungarian)... Three numbers with one repeated separator (`/`, `.`, `-`, `. `, space),
 * optionally a trailing dot.
 *
 * A file is one locale, so the day/month order is decided once from ALL its rows:
 * a first field of four digits means year first (ymd); a first field above 12
 * anywhere means dmy; a second field above 12 anywhere means mdy; both means the
 * file mixes formats (error). A file whose fields all stay <= 12 is ambiguous:
 * the caller must say (DATE_ORDER / `--date-order`).
 *
 * Two-digit years are 20YY (Netflix streaming began in 2007, so 19YY never occurs).
 * A two-digit year written first (`YY. MM. DD.`) looks like a day: such files need
 * `--date-order ymd`.
 */

type DateOrder = 'dmy' | 'mdy' | 'ymd';
export type DateOrderOption = 'auto' | DateOrder;

const DATE_RE = /^(\d{1,4})(\s*[./-]\s*|\s+)(\d{1,2})\2(\d{1,4})(\.?)$/;
const TWO_DIGIT_YEAR_BASE = 2000;
const MIN_YEAR = 1970;
const MAX_MONTH = 12;
const INITIAL_CAPACITY = 1024;
/** Digit counts of a row's three fields, packed as d1 | d2 << 3 | d3 << 6; 0 = unreadable. */
const UNREADABLE = 0;
const DIGIT_SHIFT = [0, 3, 6];
const DIGIT_MASK = 0b111;
const digitsOf = (packed: number, field: 0 | 1 | 2) => (packed >> DIGIT_SHIFT[field]) & DIGIT_MASK;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
}

/** `YYYY-MM-DD` from numbers, or null when they are not a calendar date. */
export function isoDate(year: number, month: number, day: number): string | null {
  if (year < MIN_YEAR || month < 1 || month > MAX_MONTH || day < 1 || day > daysInMonth(year, month)) return null;
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** A year as written: one or two digits are 20YY. */
const yearOf = (value: number, digits: number) => (digits <= 2 ? TWO_DIGIT_YEAR_BASE + value : value);

/**
 * The date column of one file: every row's three numbers kept in typed arrays while
 * the file streams by, resolved to ISO dates once the order is known.
 */
export class DateColumn {
  private fields = new Uint16Array(3 * INITIAL_CAPACITY);
  private digits = new Uint16Array(INITIAL_CAPACITY);
  private count = 0;
  /** The separator and trailing dot of the first readable date, for `format`. */
  private separator: string | null = null;
  private trailing = '';
  private readonly isoOf = new Map<number, string | null>();

  get length(): number {
    return this.count;
  }

  /** Record one row's date text; returns its index. */
  push(text: string): number {
    if (this.count === this.digits.length) this.grow();
    const i = this.count++;
    const m = DATE_RE.exec(text.trim());
    const d1 = m ? m[1].length : 0;
    const d3 = m ? m[4].length : 0;
    if (!m || d1 === 3 || d3 === 3 || (d1 === 4 && d3 === 4)) {
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
    this.digits[i] = d1 | (m[3].length << 3) | (d3 << 6);
    return i;
  }

  private grow(): void {
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
  decideOrder(requested: DateOrderOption, file: string, rowOf: (i: number) => number): DateOrder {
    if (requested !== 'auto') return requested;
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
    const mixed = (a: number, b: number, what: string): never => {
      throw new AppError(
        'ERR_HISTORY_DATE',
        `${file} mixes date formats: row ${rowOf(a)} and row ${rowOf(b)} ${what}; export the history again, or set DATE_ORDER (or --date-order dmy|mdy|ymd) to keep the rows of one format`,
        { file, row: rowOf(b) },
      );
    };
    if (yearFirst >= 0 && yearLast >= 0) mixed(yearFirst, yearLast, 'put the year first and last');
    if (yearFirst >= 0) return 'ymd';
    if (firstAbove12 >= 0 && secondAbove12 >= 0) mixed(firstAbove12, secondAbove12, 'have a day first and second');
    if (firstAbove12 >= 0) return 'dmy';
    if (secondAbove12 >= 0) return 'mdy';
    if (yearLast < 0) return 'dmy'; // no readable date at all: the caller reports every row as bad
    throw new AppError(
      'ERR_HISTORY_DATE_AMBIGUOUS',
      `${file}: no date has a day above 12, so the day/month order cannot be told; set DATE_ORDER=dmy or DATE_ORDER=mdy in .env, or pass --date-order dmy|mdy`,
      { file },
    );
  }

  /** Row i as `YYYY-MM-DD` in `order`, or null when it does not fit the order or the calendar. */
  dateAt(i: number, order: DateOrder): string | null {
    const packed = this.digits[i];
    if (packed === UNREADABLE) return null;
    const a = this.fields[3 * i];
    const b = this.fields[3 * i + 1];
    const c = this.fields[3 * i + 2];
    if (order === 'ymd') return digitsOf(packed, 2) > 2 ? null : this.iso(yearOf(a, digitsOf(packed, 0)), b, c);
    if (digitsOf(packed, 0) > 2) return null;
    const year = yearOf(c, digitsOf(packed, 2));
    return order === 'dmy' ? this.iso(year, b, a) : this.iso(year, a, b);
  }

  /** `isoDate`, with one string per distinct day: a history repeats its days many times. */
  private iso(year: number, month: number, day: number): string | null {
    const key = (year * 100 + month) * 100 + day;
    let date = this.isoOf.get(key);
    if (date === undefined) {
      date = isoDate(year, month, day);
      this.isoOf.set(key, date);
    }
    return date;
  }

  /** How the file writes dates in `order`, e.g. `M/D/YY`, `DD.MM.YYYY`, `YYYY-MM-DD`. */
  format(order: DateOrder): string {
    if (this.separator === null) return 'unknown';
    const min = [4, 4, 4];
    const max = [0, 0, 0];
    for (let i = 0; i < this.count; i++) {
      const packed = this.digits[i];
      if (packed === UNREADABLE) continue;
      for (const f of [0, 1, 2] as const) {
        min[f] = Math.min(min[f], digitsOf(packed, f));
        max[f] = Math.max(max[f], digitsOf(packed, f));
      }
    }
    const day = (f: number) => (min[f] >= 2 ? 'DD' : 'D');
    const month = (f: number) => (min[f] >= 2 ? 'MM' : 'M');
    const year = (f: number) => (max[f] === 4 ? 'YYYY' : 'YY');
    const fields =
      order === 'ymd' ? [year(0), month(1), day(2)] : order === 'dmy' ? [day(0), month(1), year(2)] : [month(0), day(1), year(2)];
    return fields.join(this.separator) + this.trailing;
  }
}
