/**
 * Builds the shipped demo histories in data/demo/ (run: `npx tsx scripts/build-demo-data.ts`).
 *
 * Each persona is a synthetic viewer whose taste is a set of catalogue genres; its
 * history is drawn (seeded) from the CC0 catalogue in the NetflixViewingHistory.csv
 * format, with a different date locale per persona so the demo also exercises
 * locale detection. The real CC0 export of ../shared/data/netflix-history is copied
 * beside them (see data/ATTRIBUTION.md).
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCatalog, type CatalogItem } from '../src/shared/catalog';
import { PROJECT_ROOT } from '../src/shared/config';
import { createRandom, deriveSeed, type Random } from '../src/shared/random';

interface Persona {
  name: string;
  genres: string[];
  dateFormat: (d: Date) => string;
  titles: number;
}

const pad = (n: number) => String(n).padStart(2, '0');
const PERSONAS: Persona[] = [
  { name: 'crime-and-thrillers', genres: ['Crime TV Shows', 'TV Thrillers', 'Thrillers', 'TV Mysteries'], dateFormat: (d) => `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${String(d.getUTCFullYear()).slice(2)}`, titles: 24 },
  { name: 'family-and-anime', genres: ["Kids' TV", 'Children & Family Movies', 'Anime Series', 'Anime Features'], dateFormat: (d) => `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`, titles: 22 },
  { name: 'docs-and-comedy', genres: ['Documentaries', 'Docuseries', 'Stand-Up Comedy', 'Stand-Up Comedy & Talk Shows'], dateFormat: (d) => `${pad(d.getUTCDate())}.${pad(d.getUTCMonth() + 1)}.${d.getUTCFullYear()}`, titles: 26 },
  { name: 'romance-and-drama', genres: ['Romantic TV Shows', 'Romantic Movies', 'TV Dramas', 'Korean TV Shows'], dateFormat: (d) => `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}`, titles: 22 },
];
/** Demo histories end on this day, so the shipped files never change between builds. */
const END_DATE = Date.UTC(2021, 8, 30);
const SPAN_DAYS = 270;
const DAY_MS = 86_400_000;
const SEED = 7;

function pick<T>(list: T[], count: number, random: Random): T[] {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

function csvField(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function historyOf(persona: Persona, catalog: CatalogItem[], random: Random): string {
  const liked = catalog.filter((item) => item.genres.some((g) => persona.genres.includes(g)));
  const rows: { date: number; title: string }[] = [];
  for (const item of pick(liked, persona.titles, random)) {
    const start = END_DATE - random.int(SPAN_DAYS) * DAY_MS;
    if (item.kind === 'film') {
      rows.push({ date: start, title: item.title });
      continue;
    }
    const episodes = 2 + random.int(10);
    for (let e = 1; e <= episodes; e++) {
      rows.push({ date: Math.min(END_DATE, start + Math.floor(e / 3) * DAY_MS), title: `${item.title}: Season 1: Episode ${e}` });
    }
  }
  rows.sort((a, b) => b.date - a.date);
  return `Title,Date\n${rows.map((r) => `${csvField(r.title)},${csvField(persona.dateFormat(new Date(r.date)))}`).join('\n')}\n`;
}

async function main(): Promise<void> {
  const catalog = await loadCatalog(null);
  const outDir = path.join(PROJECT_ROOT, 'data', 'demo');
  mkdirSync(outDir, { recursive: true });
  for (const persona of PERSONAS) {
    const text = historyOf(persona, catalog.items, createRandom(deriveSeed(SEED, persona.name)));
    writeFileSync(path.join(outDir, `${persona.name}.csv`), text);
    process.stdout.write(`wrote data/demo/${persona.name}.csv (${text.split('\n').length - 2} rows)\n`);
  }
  const real = path.join(PROJECT_ROOT, '..', 'shared', 'data', 'netflix-history', 'nsteenholdt_NetflixViewingHistory.csv');
  if (existsSync(real)) {
    copyFileSync(real, path.join(outDir, 'nsteenholdt-cc0.csv'));
    process.stdout.write('copied the CC0 export to data/demo/nsteenholdt-cc0.csv\n');
  }
}

await main();
