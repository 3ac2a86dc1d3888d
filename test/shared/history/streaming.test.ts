import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/shared/config';

/**
 * A 100,000-row export is parsed in streaming fashion: a child process reads it
 * with its V8 old space capped at the file's own size, so holding the file's
 * text even once (as a whole-file parse must) does not fit. The same child doing
 * a whole-file parse under the same cap is the control: it must run out of heap,
 * which shows the cap can catch a non-streaming parser.
 */
const ROWS = 100_000;
const EPISODES = 5_000;
/** Ignored columns padded so the file's text dwarfs the events kept from it. */
const ATTRIBUTES = 'Autoplayed: user action: None; '.repeat(15);
const HISTORY_MODULE = path.join(PROJECT_ROOT, 'src', 'shared', 'history', 'index.ts');

let dir: string;
let file: string;
let fileMiB: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'history-stream-'));
  file = path.join(dir, 'ViewingActivity.csv');
  const rows = ['Profile Name,Start Time,Duration,Attributes,Title,Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country'];
  for (let i = 0; i < ROWS; i++) {
    const e = i % EPISODES;
    const start = `2021-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')} 20:${String(i % 60).padStart(2, '0')}:00`;
    rows.push(`Profile ${i % 4},${start},00:42:10,"${ATTRIBUTES}","Show ${e % 500}: Season ${1 + (e % 10)}: Episode ${e}",,Netflix Windows App - Cadmium Windows Mobile,00:40:00,00:40:00,DK (Denmark)`);
  }
  await writeFile(file, rows.join('\n'));
  fileMiB = Math.floor((await stat(file)).size / 2 ** 20);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run `body` (an ES module snippet) in a node with tsx, --expose-gc and an old-space cap in MiB. */
function runCapped(capMiB: number, body: string) {
  return spawnSync(process.execPath, ['--expose-gc', `--max-old-space-size=${capMiB}`, '--import', 'tsx', '--input-type=module', '-e', body], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: { ...process.env, FILE: file, HISTORY_MODULE },
  });
}

describe('streaming parse of a 100,000-row export', () => {
  it('fits in an old space the size of the file, and keeps far less than the file', () => {
    expect(fileMiB).toBeGreaterThanOrEqual(50);
    const child = runCapped(
      fileMiB,
      `
      const { readHistory } = await import(process.env.HISTORY_MODULE);
      globalThis.gc();
      const base = process.memoryUsage().heapUsed;
      const parsed = await readHistory(process.env.FILE, { now: new Date('2030-01-01T00:00:00Z') });
      globalThis.gc();
      const retained = process.memoryUsage().heapUsed - base;
      console.log(JSON.stringify({ rows: parsed.rows, events: parsed.events.length, profiles: parsed.profiles.length, retained }));
      `,
    );
    expect(child.status, child.stderr.slice(-2000)).toBe(0);
    const out = JSON.parse(child.stdout) as { rows: number; events: number; profiles: number; retained: number };
    expect(out).toMatchObject({ rows: ROWS, events: ROWS, profiles: 4 });
    // The events (with their ISO start times) stay well under half the file's bytes.
    expect(out.retained).toBeLessThan((fileMiB * 2 ** 20) / 2);
  });

  it('control: a whole-file parse under the same cap runs out of heap', () => {
    const child = runCapped(
      fileMiB,
      `
      const { readFileSync } = await import('node:fs');
      const { default: Papa } = await import('papaparse');
      const rows = Papa.parse(readFileSync(process.env.FILE, 'utf8')).data;
      console.log(rows.length);
      `,
    );
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/heap out of memory/i);
  });
});
