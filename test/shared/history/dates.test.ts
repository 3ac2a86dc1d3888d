import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/shared/errors';
import { readHistory } from '../../../src/shared/history';
import { DateColumn, isoDate } from '../../../src/shared/history/dates';

const NOW = new Date('2024-06-01T12:00:00Z');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'history-dates-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A NetflixViewingHistory.csv with these date cells, one episode each. */
async function simpleExport(name: string, dates: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, ['Title,Date', ...dates.map((d, i) => `"Show: Season 1: Episode ${i}","${d}"`)].join('\n'));
  return file;
}

const column = (dates: string[]) => {
  const c = new DateColumn();
  for (const d of dates) c.push(d);
  return c;
};
const rowOf = (i: number) => i + 2;

describe('date formats of the simple export', () => {
  // The same three days (2021-03-04, 2021-11-23, 2022-01-09) in every format Netflix writes.
  it.each([
    ['M/D/YY', ['3/4/21', '11/23/21', '1/9/22']],
    ['DD/MM/YYYY', ['04/03/2021', '23/11/2021', '09/01/2022']],
    ['DD/MM/YY', ['04/03/21', '23/11/21', '09/01/22']],
    ['DD.MM.YYYY', ['04.03.2021', '23.11.2021', '09.01.2022']],
    ['D.M.YYYY', ['4.3.2021', '23.11.2021', '9.1.2022']],
    ['DD-MM-YY', ['04-03-21', '23-11-21', '09-01-22']],
    ['D-M-YYYY', ['4-3-2021', '23-11-2021', '9-1-2022']],
    ['YYYY/MM/DD', ['2021/03/04', '2021/11/23', '2022/01/09']],
    ['YYYY-MM-DD', ['2021-03-04', '2021-11-23', '2022-01-09']],
    ['YYYY/M/D', ['2021/3/4', '2021/11/23', '2022/1/9']],
    ['YYYY. MM. DD.', ['2021. 03. 04.', '2021. 11. 23.', '2022. 01. 09.']],
    ['MM/DD/YYYY', ['03/04/2021', '11/23/2021', '01/09/2022']],
  ])('reads %s', async (format, dates) => {
    const parsed = await readHistory(await simpleExport(`${format.replace(/\W/g, '_')}.csv`, dates), { now: NOW });
    expect(parsed.dateFormat).toBe(format);
    expect(parsed.events.map((e) => e.date)).toEqual(['2021-03-04', '2021-11-23', '2022-01-09']);
    expect(parsed.firstDate).toBe('2021-03-04');
    expect(parsed.lastDate).toBe('2022-01-09');
  });

  it('decides the order from all rows, not the first ones', async () => {
    const ambiguous = Array.from({ length: 500 }, (_, i) => `${1 + (i % 12)}/${1 + (i % 12)}/20`);
    const parsed = await readHistory(await simpleExport('late-evidence.csv', [...ambiguous, '5/25/20']), { now: NOW });
    expect(parsed.dateFormat).toBe('M/D/YY');
    expect(parsed.events.at(-1)!.date).toBe('2020-05-25');
  });

  it('refuses an ambiguous file, naming DATE_ORDER and --date-order, and reads it with an override', async () => {
    const file = await simpleExport('ambiguous.csv', ['01/02/2021', '03/04/2021', '12/11/2021']);
    const err = await readHistory(file, { now: NOW }).catch((e: unknown) => e);
    expect(isAppError(err, 'ERR_HISTORY_DATE_AMBIGUOUS')).toBe(true);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('DATE_ORDER');
    expect((err as Error).message).toContain('--date-order');
    expect((await readHistory(file, { now: NOW, dateOrder: 'dmy' })).events.map((e) => e.date)).toEqual(['2021-02-01', '2021-04-03', '2021-11-12']);
    expect((await readHistory(file, { now: NOW, dateOrder: 'mdy' })).events.map((e) => e.date)).toEqual(['2021-01-02', '2021-03-04', '2021-12-11']);
  });

  it('refuses a file that mixes day-first and month-first dates, naming both rows', async () => {
    const file = await simpleExport('mixed.csv', ['01/02/2021', '25/02/2021', '02/26/2021']);
    const err = await readHistory(file, { now: NOW }).catch((e: unknown) => e);
    expect(isAppError(err, 'ERR_HISTORY_DATE')).toBe(true);
    expect((err as Error).message).toMatch(/row 3 and row 4/);
    // With the order forced, the rows of the other format are skipped as bad dates.
    const forced = await readHistory(file, { now: NOW, dateOrder: 'dmy' });
    expect(forced.events).toHaveLength(2);
    expect(forced.skipped).toEqual({ bad_date: 1 });
  });

  it('refuses year-first and year-last dates in one file', async () => {
    const err = await readHistory(await simpleExport('mixed-year.csv', ['2021-02-25', '25-02-2021']), { now: NOW }).catch((e: unknown) => e);
    expect(isAppError(err, 'ERR_HISTORY_DATE')).toBe(true);
  });

  it('reads two-digit years as 20YY', async () => {
    const parsed = await readHistory(await simpleExport('yy.csv', ['31/12/99', '01/01/00', '15/06/07']), { now: new Date('2100-01-01') });
    expect(parsed.events.map((e) => e.date)).toEqual(['2099-12-31', '2000-01-01', '2007-06-15']);
  });
});

describe('DateColumn', () => {
  it('rejects dates that are not on the calendar in the decided order', () => {
    const c = column(['29/02/2020', '29/02/2021', '31/04/2021', '00/01/2021', '32/01/2021']);
    const order = c.decideOrder('auto', 'f.csv', rowOf);
    expect(order).toBe('dmy');
    expect([0, 1, 2, 3, 4].map((i) => c.dateAt(i, order))).toEqual(['2020-02-29', null, null, null, null]);
  });

  it('marks text that is not three numbers as unreadable without deciding anything from it', () => {
    const c = column(['yesterday', '2021/3', '1/2/3/4', '123/1/2021', '2021-01-2021', '25/12/2021']);
    expect(c.decideOrder('auto', 'f.csv', rowOf)).toBe('dmy');
    expect([0, 1, 2, 3, 4].map((i) => c.dateAt(i, 'dmy'))).toEqual([null, null, null, null, null]);
    expect(c.dateAt(5, 'dmy')).toBe('2021-12-25');
  });

  it('does not read a year-first date in a day-first order or the reverse', () => {
    const c = column(['2021-03-04', '04-03-2021']);
    expect(c.dateAt(0, 'dmy')).toBeNull();
    expect(c.dateAt(1, 'ymd')).toBeNull();
    expect(c.dateAt(0, 'ymd')).toBe('2021-03-04');
    expect(c.dateAt(1, 'dmy')).toBe('2021-03-04');
  });

  it('reads a two-digit year written first only when told (ymd)', () => {
    const c = column(['21. 3. 4.']);
    expect(c.dateAt(0, 'ymd')).toBe('2021-03-04');
    expect(c.format('ymd')).toBe('YY. M. D.');
  });

  it('grows past its initial capacity', () => {
    const dates = Array.from({ length: 5000 }, (_, i) => `${1 + (i % 28)}/${1 + (i % 12)}/2020`);
    const c = column(dates);
    expect(c.length).toBe(5000);
    expect(c.dateAt(4999, 'dmy')).toBe(`2020-${String(1 + (4999 % 12)).padStart(2, '0')}-${String(1 + (4999 % 28)).padStart(2, '0')}`);
  });

  it('isoDate knows leap years', () => {
    expect(isoDate(2000, 2, 29)).toBe('2000-02-29');
    expect(isoDate(1900 + 200, 2, 29)).toBeNull();
    expect(isoDate(2024, 2, 29)).toBe('2024-02-29');
    expect(isoDate(2023, 2, 29)).toBeNull();
    expect(isoDate(1969, 1, 1)).toBeNull();
  });
});
