import { appendFile, mkdir, mkdtemp, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError, type ErrorCode } from '../../../src/shared/errors';
import { MAX_HISTORY_BYTES, readHistory, type ParsedHistory } from '../../../src/shared/history';
import type { Logger } from '../../../src/shared/log';
import { REAL_EXPORT } from '../../helpers/data';

const NOW = new Date('2024-06-01T12:00:00Z');
const ACTIVITY_HEADER = 'Profile Name,Start Time,Duration,Attributes,Title,Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'history-parse-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fixture(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

/** The AppError readHistory rejects with; fails the test if it resolves. */
async function failure(file: string, code: ErrorCode, options: Parameters<typeof readHistory>[1] = { now: NOW }): Promise<Error & { row?: number; file?: string }> {
  const err = await readHistory(file, options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(isAppError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  return err as Error;
}

const summary = (p: ParsedHistory) => ({ rows: p.rows, skipped: p.skipped, events: p.events.length, profiles: p.profiles });

describe('NetflixViewingHistory.csv', () => {
  it('reads the real Danish export: every row, DD/MM/YYYY, two blank titles', async () => {
    const parsed = await readHistory(REAL_EXPORT, { now: NOW });
    expect(parsed.shape).toBe('NetflixViewingHistory');
    expect(summary(parsed)).toEqual({ rows: 2677, skipped: { blank_title: 2 }, events: 2675, profiles: [{ name: null, rows: 2675 }] });
    expect(parsed.dateFormat).toBe('DD/MM/YYYY');
    expect([parsed.firstDate, parsed.lastDate]).toEqual(['2015-02-11', '2020-10-20']);
    expect(parsed.events[0]).toEqual({
      profile: null,
      title: 'Lucifer: Sæson 5: Spoiler Alert',
      show: 'Lucifer',
      kind: 'series',
      season: 'Sæson 5',
      episode: 'Spoiler Alert',
      date: '2020-10-20',
      startTime: null,
      durationSec: null,
    });
  });

  it('handles a BOM, CRLF line ends, quoted commas and quotes, unquoted cells and blank lines', async () => {
    const file = await fixture(
      'crlf.csv',
      '\ufeffTitle,Date\r\n"Love, Death & Robots: Volume 1: Sonnie\'s Edge","25/03/2021"\r\n\r\n"The ""Best"" Film",26/03/2021\r\n',
    );
    const parsed = await readHistory(file, { now: NOW });
    expect(summary(parsed)).toEqual({ rows: 2, skipped: {}, events: 2, profiles: [{ name: null, rows: 2 }] });
    expect(parsed.events.map((e) => [e.show, e.kind, e.date])).toEqual([
      ['Love, Death & Robots', 'series', '2021-03-25'],
      ['The "Best" Film', 'film', '2021-03-26'],
    ]);
  });

  it('accepts the columns in another order and with other letter case', async () => {
    const parsed = await readHistory(await fixture('swapped.csv', 'date,title\n25/03/2021,Inception\n'), { now: NOW });
    expect(parsed.events.map((e) => [e.title, e.date])).toEqual([['Inception', '2021-03-25']]);
  });

  it('skips and counts blank titles, bad dates, future dates and short rows, logging the first rows', async () => {
    const warnings: unknown[] = [];
    const log = { warn: (obj: unknown) => warnings.push(obj), info: () => undefined } as unknown as Logger;
    const file = await fixture(
      'skips.csv',
      ['Title,Date', 'A,25/03/2021', '" ",25/03/2021', '\u00a0\u200b,25/03/2021', 'B,31/02/2021', 'C,soon', 'D,25/03/2031', 'E', 'F,02/06/2024', 'G,03/06/2024'].join('\n'),
    );
    const parsed = await readHistory(file, { now: NOW, log });
    // 2024-06-02 is still "today" somewhere (UTC+14 at 12:00 UTC); 2024-06-03 is not.
    expect(parsed.events.map((e) => e.title)).toEqual(['A', 'F']);
    expect(parsed.rows).toBe(9);
    expect(parsed.skipped).toEqual({ blank_title: 2, bad_date: 2, future: 2, bad_row: 1 });
    expect(warnings).toContainEqual({ file, reason: 'bad_date', count: 2, rows: [5, 6] });
    expect(warnings).toContainEqual({ file, reason: 'future', count: 2, rows: [7, 10] });
  });

  it('fails naming file and row when no date parses', async () => {
    const file = await fixture('nodates.csv', 'Title,Date\nA,\nB,yesterday\nC,31/02/2021\n');
    const err = await failure(file, 'ERR_HISTORY_DATE');
    expect(err.message).toContain(file);
    expect(err.message).toContain('row 2');
    expect(err.row).toBe(2);
  });

  it('returns no events, without error, when every title is blank', async () => {
    const parsed = await readHistory(await fixture('blank.csv', 'Title,Date\n"",25/03/2021\n'), { now: NOW });
    expect(summary(parsed)).toEqual({ rows: 1, skipped: { blank_title: 1 }, events: 0, profiles: [{ name: null, rows: 0 }] });
    expect([parsed.firstDate, parsed.lastDate]).toEqual([null, null]);
  });
});

describe('ViewingActivity.csv', () => {
  const row = (profile: string, start: string, duration: string, title: string, supplemental = '') =>
    `${profile},${start},${duration},,"${title}",${supplemental},Chrome PC (Cadmium),00:10:00,00:10:00,DK (Denmark)`;

  it('keeps every profile by name, converts start times and durations, drops previews', async () => {
    const file = await fixture(
      'ViewingActivity.csv',
      [
        ACTIVITY_HEADER,
        row('Alice', '2021-03-04 20:15:33', '00:45:12', 'The Crown: Season 4: Gold Stick'),
        row('Bob', '2021-03-05 08:00:00', '01:58:00', 'Inception'),
        row('Alice', '2021-03-05 09:00:00', '00:00:30', 'Squid Game: Season 1 (Trailer)', 'TRAILER'),
        row('Carol', '2021-03-05 09:00:00', '00:00:30', 'Squid Game', 'HOOK'),
        row('Alice', '2021-03-06 23:59:59', '00:50:00', 'The Crown: Season 4: Fairytale'),
        row('Bob', '2021-03-07 25:00:00', '00:50:00', 'Inception'),
        row('Bob', '2021-03-07 10:00:00', '50 min', 'Inception'),
        row('Bob', '2030-01-01 10:00:00', '00:10:00', 'Inception'),
        row('Bob', '2021-03-07 10:00:00', '00:10:00', ' '),
      ].join('\n'),
    );
    const parsed = await readHistory(file, { now: NOW });
    expect(parsed.shape).toBe('ViewingActivity');
    expect(parsed.dateFormat).toBe('YYYY-MM-DD HH:MM:SS');
    expect(parsed.rows).toBe(9);
    expect(parsed.skipped).toEqual({ supplemental: 2, bad_date: 1, bad_duration: 1, future: 1, blank_title: 1 });
    expect(parsed.profiles).toEqual([
      { name: 'Alice', rows: 2 },
      { name: 'Bob', rows: 1 },
      { name: 'Carol', rows: 0 },
    ]);
    expect(parsed.events[0]).toEqual({
      profile: 'Alice',
      title: 'The Crown: Season 4: Gold Stick',
      show: 'The Crown',
      kind: 'series',
      season: 'Season 4',
      episode: 'Gold Stick',
      date: '2021-03-04',
      startTime: '2021-03-04T20:15:33.000Z',
      durationSec: 45 * 60 + 12,
    });
    expect(parsed.events.map((e) => [e.profile, e.show, e.kind, e.date, e.durationSec])).toEqual([
      ['Alice', 'The Crown', 'series', '2021-03-04', 2712],
      ['Bob', 'Inception', 'film', '2021-03-05', 7080],
      ['Alice', 'The Crown', 'series', '2021-03-06', 3000],
    ]);
    expect([parsed.firstDate, parsed.lastDate]).toEqual(['2021-03-04', '2021-03-06']);
  });

  it('needs only the columns it reads', async () => {
    const parsed = await readHistory(await fixture('narrow.csv', 'Title,Profile Name,Start Time,Duration,Supplemental Video Type\nInception,Dana,2021-01-02 03:04:05,00:01:00,\n'), { now: NOW });
    expect(parsed.shape).toBe('ViewingActivity');
    expect(parsed.events.map((e) => [e.profile, e.title, e.durationSec])).toEqual([['Dana', 'Inception', 60]]);
  });

  it('fails naming file and row when no start time parses', async () => {
    const file = await fixture('activity-nodates.csv', [ACTIVITY_HEADER, row('A', '04/03/2021 20:15', '00:45:12', 'X')].join('\n'));
    const err = await failure(file, 'ERR_HISTORY_DATE');
    expect(err.message).toMatch(new RegExp(`${file} row 2`));
  });
});

describe('files that are not a Netflix export', () => {
  it.each([
    ['an empty file', 'empty.csv', ''],
    ['only blank lines', 'blank-lines.csv', '\n\r\n  \n'],
    ['a header only', 'header-only.csv', 'Title,Date\n'],
    ['an activity header only', 'activity-header-only.csv', `${ACTIVITY_HEADER}\r\n\r\n`],
  ])('%s is ERR_HISTORY_EMPTY naming the file', async (_what, name, content) => {
    const file = await fixture(name, content);
    expect((await failure(file, 'ERR_HISTORY_EMPTY')).message).toContain(file);
  });

  it.each([
    ['NUL bytes', Buffer.from([0x54, 0x69, 0x00, 0x74, 0x6c, 0x65, 0x2c, 0x44])],
    ['invalid UTF-8', Buffer.concat([Buffer.from('Title,Date\n'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(',01/01/2021\n')])],
    ['UTF-16', Buffer.from('\ufeffTitle,Date\nA,25/03/2021\n', 'utf16le')],
    ['a zip archive', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00])],
  ])('%s is ERR_HISTORY_BINARY', async (what, bytes) => {
    const file = await fixture(`binary-${what.replace(/\W/g, '')}.csv`, bytes);
    expect((await failure(file, 'ERR_HISTORY_BINARY')).message).toContain(file);
  });

  it('a multi-byte character cut by the 1 KiB sample is still text', async () => {
    const parsed = await readHistory(await fixture('cut.csv', `Title,Date\n"${'x'.repeat(1011)}Sæson",25/03/2021\n`), { now: NOW });
    expect(parsed.events).toHaveLength(1);
  });

  it('other columns are ERR_HISTORY_COLUMNS listing both expected headers', async () => {
    const file = await fixture('ratings.csv', 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n');
    const err = await failure(file, 'ERR_HISTORY_COLUMNS');
    expect(err.message).toContain(file);
    expect(err.message).toContain('row 1');
    expect(err.message).toContain('Title,Date');
    expect(err.message).toContain(ACTIVITY_HEADER);
  });

  it('an unterminated quote is ERR_HISTORY_CSV naming its row', async () => {
    const file = await fixture('quote.csv', 'Title,Date\nA,25/03/2021\n"B,26/03/2021\nC,27/03/2021\n');
    const err = await failure(file, 'ERR_HISTORY_CSV');
    expect(err.message).toContain(`${file} row 3`);
  });

  it('an unterminated quote early in a large file fails once the field passes the record limit, not at the end', async () => {
    const rows = Array.from({ length: 60_000 }, (_, i) => `Show ${i},25/03/2021`);
    const file = await fixture('quote-large.csv', `Title,Date\n"oops,25/03/2021\n${rows.join('\n')}\n`);
    const err = await failure(file, 'ERR_HISTORY_CSV');
    expect(err.message).toContain('row 2');
  });
});

describe('the file itself', () => {
  it('a missing file is ERR_FILE_NOT_FOUND', async () => {
    await failure(path.join(dir, 'nope.csv'), 'ERR_FILE_NOT_FOUND');
  });

  it('a symlink is refused, even to a good export', async () => {
    const link = path.join(dir, 'link.csv');
    await symlink(REAL_EXPORT, link);
    expect((await failure(link, 'ERR_FILE_NOT_REGULAR')).message).toContain(link);
  });

  it('a folder is refused', async () => {
    const folder = path.join(dir, 'folder.csv');
    await mkdir(folder);
    await failure(folder, 'ERR_FILE_NOT_REGULAR');
  });

  it(`a file over ${MAX_HISTORY_BYTES} bytes is refused before reading`, async () => {
    const file = await fixture('huge.csv', 'Title,Date\n');
    await truncate(file, MAX_HISTORY_BYTES + 1); // sparse: no disk used
    await failure(file, 'ERR_FILE_TOO_LARGE');
  });

  /** Start reading `file`, and keep `change` going until the read settles. */
  async function readWhileChanging(file: string, change: (i: number) => Promise<void>): Promise<unknown> {
    let settled = false;
    const reading = readHistory(file, { now: NOW }).then(
      () => null,
      (e: unknown) => e,
    ).finally(() => {
      settled = true;
    });
    for (let i = 0; !settled; i++) await change(i);
    return reading;
  }

  const bigExport = (rows: number) => ['Title,Date', ...Array.from({ length: rows }, (_, i) => `Show ${i}: Season 1: Episode ${i},25/03/2021`)].join('\n');

  it('a file that grows while being read is ERR_HISTORY_CHANGED', async () => {
    const file = await fixture('growing.csv', bigExport(50_000));
    const err = await readWhileChanging(file, (i) => appendFile(file, `\nLate ${i},26/03/2021`));
    expect(isAppError(err, 'ERR_HISTORY_CHANGED'), String(err)).toBe(true);
    expect((err as Error).message).toContain(file);
  });

  it('a file replaced while being read is ERR_HISTORY_CHANGED', async () => {
    const file = await fixture('replaced.csv', bigExport(50_000));
    const err = await readWhileChanging(file, async (i) => {
      const next = path.join(dir, `replacement-${i}.csv`);
      await writeFile(next, 'Title,Date\nOther,25/03/2021\n');
      await rename(next, file);
    });
    expect(isAppError(err, 'ERR_HISTORY_CHANGED'), String(err)).toBe(true);
  });
});
