/**
 * Builds the shipped compact catalogue `data/catalog.json` from Kaggle's
 * netflix_titles.csv (CC0 1.0; see data/ATTRIBUTION.md), so the app runs without
 * the source data. Run: `npm run catalog [-- <netflix_titles.csv> [<out.json>]]`.
 * Item ids follow the number in show_id (see `src/shared/catalog.ts`), so a rebuild
 * from the same source gives the same file and the same vocabulary hash.
 */
import path from 'node:path';
import { writeFileAtomic } from '../src/shared/atomic';
import { loadCatalog, serializeCatalog, SHIPPED_CATALOG } from '../src/shared/catalog';
import { PROJECT_ROOT } from '../src/shared/config';

const DEFAULT_SOURCE = path.resolve(PROJECT_ROOT, '..', 'shared', 'data', 'catalog', 'netflix_titles.csv');
const SOURCE_NOTE = 'netflix_titles.csv: Kaggle "Netflix Movies and TV Shows" by Shivam Bansal, CC0 1.0';

async function main(): Promise<void> {
  const [source = DEFAULT_SOURCE, out = SHIPPED_CATALOG] = process.argv.slice(2);
  const catalog = await loadCatalog(source);
  await writeFileAtomic(out, serializeCatalog({ ...catalog, source: SOURCE_NOTE }));
  const series = catalog.items.filter((i) => i.kind === 'series').length;
  process.stdout.write(`${out}: ${catalog.items.length} items (${series} series, ${catalog.items.length - series} films), vocabulary ${catalog.hash}\n`);
}

await main();
