import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { loadCatalog, serializeCatalog, type Catalog, type CatalogItem } from '../../src/shared/catalog';
import { PROJECT_ROOT } from '../../src/shared/config';
import { createRandom, type Random } from '../../src/shared/random';

/**
 * Test data: small catalogues and viewing histories, files written in a
 * temporary folder, and the one way a test says that something it needs from
 * outside the repository is not here.
 */

/** The shared data beside the project (`../shared/data`): present on a developer's machine, absent in a plain clone. */
export const SHARED_DATA = path.resolve(PROJECT_ROOT, '..', 'shared', 'data');
/** A real Danish NetflixViewingHistory.csv (CC0), shipped in the repository. */
export const REAL_EXPORT = path.join(PROJECT_ROOT, 'data', 'demo', 'nsteenholdt-cc0.csv');
/** Titles a history can quote plainly and the matcher finds exactly. */
const PLAIN_TITLE = /^[A-Za-z][A-Za-z ]{3,38}[A-Za-z]$/;

/**
 * For `it.skipIf` / `describe.skipIf`: true when `resource` (a path, or a name
 * with `available` given) is not on this machine, and then one console line
 * names what is missing, so a skip is never silent.
 */
export function unavailable(resource: string, available: boolean = existsSync(resource)): boolean {
  if (!available) console.warn(`skipped: ${resource} is not available here`);
  return !available;
}

/** True when python3 can import numpy. */
export function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** An in-memory catalogue: one item per entry (a title, or fields), ids in order. */
export function catalogOf(entries: (string | Partial<Omit<CatalogItem, 'id'>>)[], hash = 'test'): Catalog {
  const items: CatalogItem[] = entries.map((entry, id) => ({
    id,
    showId: `s${id + 1}`,
    title: `Show ${id}`,
    kind: 'series',
    year: null,
    genres: [],
    countries: [],
    description: '',
    rating: null,
    duration: null,
    image: null,
    ...(typeof entry === 'string' ? { title: entry } : entry),
  }));
  return { items, hash, source: 'test' };
}

/** The first `items` plain-titled items of the shipped catalogue, written as a catalogue file (`.json`). */
export async function writeSmallCatalog(file: string, items: number): Promise<string> {
  const shipped = await loadCatalog();
  const kept = shipped.items.filter((item) => PLAIN_TITLE.test(item.title)).slice(0, items);
  await put(file, serializeCatalog({ items: kept.map((item, id) => ({ ...item, id })), hash: '', source: 'test' }));
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
