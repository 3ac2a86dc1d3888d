import { promises as fs } from 'node:fs';
import { benchPage } from './src/bench/page';
import { benchParticipant } from './src/bench/participant';
import { loadCatalog } from './src/shared/catalog';
const catalog = await loadCatalog(null);
const p = await benchParticipant(catalog, console.log);
try { await benchPage({ ...p, catalog }, 3, console.log); } finally { await fs.rm(p.root, { recursive: true, force: true }); }
