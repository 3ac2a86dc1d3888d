import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_EXPORT } from '../helpers/data';
import { runCli } from '../helpers/process';

const REPORT_KEYS = ['rows', 'skipped', 'profiles', 'dateFormat', 'firstDate', 'lastDate', 'shows', 'matched', 'unmatched', 'reasons', 'unmatchedSample'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ingest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ingest = (...args: string[]) => runCli(['ingest', ...args], { ...process.env, LOG_LEVEL: 'silent', CATALOG_PATH: '', DATE_ORDER: 'auto' });

describe('cli ingest', () => {
  it('prints one JSON object with exactly the report keys for the real export', async () => {
    const { code, stdout } = await ingest('--history', REAL_EXPORT, '--json');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]);
    expect(Object.keys(report).sort()).toEqual([...REPORT_KEYS].sort());
    expect(report).toMatchObject({
      rows: 2677,
      skipped: { blank_title: 2 },
      profiles: [{ name: '', rows: 2675 }],
      dateFormat: 'DD/MM/YYYY',
      firstDate: '2015-02-11',
      lastDate: '2020-10-20',
      shows: 335,
    });
    expect(report.matched + report.unmatched).toBe(report.shows);
    expect(Object.values(report.reasons as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(report.shows);
    expect(report.reasons).toMatchObject({ 'rejected-kind': 4, ambiguous: 1 });
    expect(report.matched).toBeGreaterThan(150);
    expect(report.unmatchedSample).toHaveLength(20);
    expect(report.unmatchedSample).toContain('Venner');
  });

  it('with --matches lists every distinct show once with its catalogue title, score and reason', async () => {
    const { code, stdout } = await ingest('--history', REAL_EXPORT, '--json', '--matches');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(Object.keys(report).sort()).toEqual([...REPORT_KEYS, 'matches'].sort());
    expect(report.matches).toHaveLength(report.shows);
    for (const m of report.matches) expect(Object.keys(m).sort()).toEqual(['candidates', 'episodes', 'kind', 'reason', 'score', 'show', 'title', 'year']);
    expect(report.matches.reduce((n: number, m: { episodes: number }) => n + m.episodes, 0)).toBe(2675);
    expect(report.matches).toContainEqual({ show: 'Lucifer', kind: 'series', episodes: 75, title: 'Lucifer', year: 2021, score: 1, reason: 'exact', candidates: [] });
    expect(report.matches).toContainEqual({ show: 'Venner', kind: 'series', episodes: 235, title: null, year: null, score: 0, reason: 'not-found', candidates: [] });
    expect(report.matches).toContainEqual({ show: 'Pokémon – serien: Indigo League', kind: 'series', episodes: 3, title: 'Pokémon: Indigo League', year: 2000, score: 0.863, reason: 'fuzzy', candidates: [] });
    // the film of 2012, which the catalogue does not have; it has the TV series
    expect(report.matches).toContainEqual({ show: 'Hotel Transylvania', kind: 'film', episodes: 1, title: null, year: null, score: 0, reason: 'rejected-kind', candidates: ['Hotel Transylvania (2017, series)'] });
    expect(report.matches).toContainEqual({ show: 'Verónica', kind: 'film', episodes: 1, title: null, year: null, score: 0, reason: 'ambiguous', candidates: ['Veronica (2017, film)', 'Verónica (2017, film)'] });
    expect(report.matches.filter((m: { title: string | null }) => m.title !== null)).toHaveLength(report.matched);
  });

  it('reads a ViewingActivity.csv against a catalogue given on the command line', async () => {
    const history = path.join(dir, 'ViewingActivity.csv');
    await writeFile(
      history,
      'Profile Name,Start Time,Duration,Attributes,Title,Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country\n' +
        'Alice,2021-03-04 20:15:33,00:45:12,,"Lucifer: Season 1: Pilot",,TV,00:45:00,00:45:00,DK (Denmark)\n' +
        'Bob,2021-03-05 20:15:33,00:00:40,,"Lucifer: Season 1 (Trailer)",TRAILER,TV,00:00:40,00:00:40,DK (Denmark)\n',
    );
    const catalog = path.join(dir, 'titles.csv');
    await writeFile(catalog, 'show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description\ns1,TV Show,Lucifer,,,,,2016,TV-14,6 Seasons,TV Dramas,A devil.\n');
    const { code, stdout } = await ingest('--history', history, '--catalog', catalog, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      rows: 2,
      skipped: { supplemental: 1 },
      profiles: [{ name: 'Alice', rows: 1 }, { name: 'Bob', rows: 0 }],
      dateFormat: 'YYYY-MM-DD HH:MM:SS',
      firstDate: '2021-03-04',
      lastDate: '2021-03-04',
      shows: 1,
      matched: 1,
      unmatched: 0,
      reasons: { exact: 1 },
      unmatchedSample: [],
    });
  });

  it('prints a human summary without --json', async () => {
    const { code, stdout } = await ingest('--history', REAL_EXPORT);
    expect(code).toBe(0);
    expect(stdout).toContain('2677');
    expect(stdout).toContain('335 distinct shows and films');
    expect(stdout).toMatch(/reasons +not in the catalogue \d+, exact \d+/);
    const listed = (await ingest('--history', REAL_EXPORT, '--matches')).stdout.split('\n');
    expect(listed).toContain('     75  series  Lucifer  ->  Lucifer (2021)  exact 1');
    expect(listed).toContain('      1  film    Hotel Transylvania  ->  rejected for kind: Hotel Transylvania (2017, series)');
    expect(listed).toContain("      1  film    Charlie's Angels: Uden hæmninger  ->  Charlie's Angels: Full Throttle (2003)  partial title 0.9, over Charlie's Angels (2000, film)");
  });

  it('exits 1 with one line naming the file when the dates are ambiguous, and 0 with --date-order', async () => {
    const history = path.join(dir, 'ambiguous.csv');
    await writeFile(history, 'Title,Date\nInception,01/02/2021\nLucifer: Season 1: Pilot,03/04/2021\n');
    const failed = await ingest('--history', history, '--json');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
    expect(failed.stderr).toContain('ERR_HISTORY_DATE_AMBIGUOUS');
    expect(failed.stderr).toContain(history);
    expect(failed.stderr).toContain('--date-order');
    const forced = await ingest('--history', history, '--json', '--date-order', 'mdy');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ dateFormat: 'MM/DD/YYYY', firstDate: '2021-01-02', lastDate: '2021-03-04' });
  });

  it('exits 1 naming file and row when no date parses', async () => {
    const history = path.join(dir, 'nodates.csv');
    await writeFile(history, 'Title,Date\nInception,someday\n');
    const { code, stderr } = await ingest('--history', history);
    expect(code).toBe(1);
    expect(stderr).toContain(`ERR_HISTORY_DATE: ${history} row 2`);
  });

  it('exits 2 on usage errors: no --history, no value, a bad --date-order, an unknown option', async () => {
    const runs = await Promise.all([[], ['--history'], ['--history', REAL_EXPORT, '--date-order', 'dym'], ['--history', REAL_EXPORT, '--bogus']].map((args) => ingest(...args)));
    for (const { code, stderr } of runs) {
      expect(code).toBe(2);
      expect(stderr).toMatch(/^error: ERR_USAGE: /);
    }
    expect(runs[2].stderr).toContain('--date-order dym');
  });
});
