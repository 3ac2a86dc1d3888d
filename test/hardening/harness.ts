import { promises as fs } from 'node:fs';
import path from 'node:path';
import Papa from 'papaparse';
import type { Catalog } from '../../src/shared/catalog';
import { createRandom, type Random } from '../../src/shared/random';
import { PROJECT_ROOT } from '../aggregator/fixtures';

/**
 * Test data for the hardening suite (the SyftBox root, processes and deltas come
 * from `test/aggregator/fixtures.ts`): a small catalogue cut from the real
 * netflix_titles.csv, viewing histories that match it, and helpers to read what
 * a CLI child logged.
 */

const NETFLIX_TITLES = path.resolve(PROJECT_ROOT, '..', 'shared', 'data', 'catalog', 'netflix_titles.csv');
/** Titles a history can quote plainly and the matcher finds exactly. */
const PLAIN_TITLE = /^[A-Za-z][A-Za-z ]{3,38}[A-Za-z]$/;

/** The first `items` plain-titled rows of the real netflix_titles.csv, written as a catalogue CSV in the same format. */
export async function writeSmallCatalog(file: string, items: number): Promise<string> {
  const text = await fs.readFile(NETFLIX_TITLES, 'utf8');
  const { data } = Papa.parse<string[]>(text, { skipEmptyLines: 'greedy' });
  const [header, ...rows] = data;
  const title = header.indexOf('title');
  const kept = rows.filter((row) => PLAIN_TITLE.test(row[title])).slice(0, items);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, Papa.unparse([header, ...kept]));
  return file;
}

/**
 * A NetflixViewingHistory.csv (Title,Date; DD/MM/YYYY with days above 12, so the
 * order is detected) of `rows` viewings of catalogue titles chosen by `random`:
 * episodes `Title: Season 1: Episode n` of series, films by their title.
 */
export function viewingHistory(catalog: Catalog, random: Random, rows: number): string {
  const plain = catalog.items.filter((item) => PLAIN_TITLE.test(item.title));
  const lines = ['Title,Date'];
  for (let i = 0; i < rows; i++) {
    const item = plain[random.int(plain.length)];
    const day = 13 + random.int(15);
    const month = 1 + random.int(12);
    const title = item.kind === 'series' ? `${item.title}: Season 1: Episode ${1 + random.int(8)}` : item.title;
    lines.push(`"${title}",${day}/${String(month).padStart(2, '0')}/2021`);
  }
  return `${lines.join('\n')}\n`;
}

/** Seeded history text for participant `index` (different shows per participant). */
export function historyFor(catalog: Catalog, index: number, rows = 24): string {
  return viewingHistory(catalog, createRandom(1000 + index), rows);
}

/** Write `content` at `file`, creating its folder. */
export async function put(file: string, content: string | Uint8Array): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
  return file;
}

/** Write `chunk` `times` times after `head`: a large file in a fraction of a second. */
export async function writeRepeated(file: string, head: string, chunk: string, times: number): Promise<number> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const handle = await fs.open(file, 'w');
  try {
    await handle.write(head);
    const bytes = Buffer.from(chunk);
    for (let i = 0; i < times; i++) await handle.write(bytes);
  } finally {
    await handle.close();
  }
  return (await fs.stat(file)).size;
}

/** The pino JSON lines a CLI child wrote to stdout (other lines are skipped). */
export function logLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** True while the process `pid` exists. */
export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
