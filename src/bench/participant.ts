import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AGGREGATOR_EMAIL, createTempRoot } from '../eval/federated';
import { createParticipantContext } from '../participant/context';
import { runParticipantPass } from '../participant/node';
import type { Catalog } from '../shared/catalog';
import { initialItemFactors, writeGlobalVersion } from '../shared/global-model';
import { writePermissions } from '../shared/permissions';
import { loadConfig, withOverrides, type Config } from '../shared/config';
import { silentLogger } from '../shared/log';
import { createRandom, type Random } from '../shared/random';
import { createEmbeddedDatasite, Workspace } from '../shared/workspace';

/**
 * One participant pass on a generated ViewingActivity.csv of three profiles in a
 * temporary embedded root: the first pass (parse, train, publish) and an
 * unchanged one. The trained root is handed back for the page benchmark.
 */

const SEED = 7;
const ACTIVITY_ROWS = 15_000;
const ACTIVITY_PROFILES = ['Alex', 'Sam', 'Kids'];
const SERIES_USED = 300;
const FILMS_USED = 600;
const SERIES_SHARE = 0.7;
const PREVIEW_SHARE = 0.05;
const MAX_GAP_MS = 4 * 3600 * 1000;
const BYTES_PER_ROOT_ROUND = 32 * 4 * 8;

interface ParticipantBench {
  result: { rows: number; profiles: number; published: number; rank: number; items: number; firstPassMs: number; unchangedPassMs: number; unchangedStatuses: string[] };
  /** The temporary root (the caller deletes it), with the trained participant in it. */
  root: string;
  config: Config;
  ws: Workspace;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A ViewingActivity.csv of `rows` rows: three profiles, series episodes and films from the catalogue, 5% previews. */
function viewingActivity(catalog: Catalog, rows: number, random: Random): string {
  const series = catalog.items.filter((i) => i.kind === 'series').slice(0, SERIES_USED);
  const films = catalog.items.filter((i) => i.kind === 'film').slice(0, FILMS_USED);
  const lines = ['Profile Name,Start Time,Duration,Attributes,Title,Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country'];
  let time = Date.UTC(2021, 0, 1);
  for (let r = 0; r < rows; r++) {
    time += Math.floor(random.next() * MAX_GAP_MS);
    const start = new Date(time).toISOString().replace('T', ' ').slice(0, 19);
    const profile = ACTIVITY_PROFILES[random.int(ACTIVITY_PROFILES.length)];
    const seconds = 300 + random.int(3000);
    const duration = `${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:${pad2(seconds % 60)}`;
    const title =
      random.next() < SERIES_SHARE
        ? `${series[random.int(series.length)].title}: Season ${1 + random.int(3)}: Episode ${1 + random.int(10)}`
        : films[random.int(films.length)].title;
    const supplemental = random.next() < PREVIEW_SHARE ? 'TRAILER' : '';
    lines.push([profile, start, duration, '', title, supplemental, 'Chrome PC', duration, duration, 'US (United States)'].map((f) => `"${f.replace(/"/g, '""')}"`).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export async function benchParticipant(catalog: Catalog, log: (line: string) => void): Promise<ParticipantBench> {
  const root = await createTempRoot(catalog.items.length * BYTES_PER_ROOT_ROUND, 'bench-participant-');
  const dataDir = path.join(root, 'SyftBox');
  createEmbeddedDatasite(dataDir, AGGREGATOR_EMAIL);
  const identity = createEmbeddedDatasite(dataDir, 'me@bench.local');
  const outputDir = path.join(root, 'netflix_data');
  await fs.mkdir(path.join(outputDir, 'profile_0'), { recursive: true });
  await fs.writeFile(path.join(outputDir, 'profile_0', 'ViewingActivity.csv'), viewingActivity(catalog, ACTIVITY_ROWS, createRandom(SEED)));
  const config = withOverrides(loadConfig({ dotenv: false, env: {} }), {
    AGGREGATOR_DATASITE: AGGREGATOR_EMAIL,
    OUTPUT_DIR: outputDir,
    NETFLIX_CSV: 'ViewingActivity.csv',
    NETFLIX_PROFILES: 'profile_0',
    LOG_LEVEL: 'silent',
  });
  const ws = new Workspace(identity, config.APP_NAME);
  const ctx = await createParticipantContext(config, ws, silentLogger);
  let t = performance.now();
  const first = await runParticipantPass(ctx);
  const firstPassMs = performance.now() - t;
  t = performance.now();
  const second = await runParticipantPass(ctx);
  const secondPassMs = performance.now() - t;
  const result = {
    rows: ACTIVITY_ROWS,
    profiles: first.profiles.length,
    published: first.profiles.filter((p) => p.status === 'published').length,
    rank: config.MODEL_RANK,
    items: catalog.items.length,
    firstPassMs: Math.round(firstPassMs),
    unchangedPassMs: Math.round(secondPassMs),
    unchangedStatuses: second.profiles.map((p) => p.status),
  };
  log(`participant pass: ${ACTIVITY_ROWS} ViewingActivity rows, ${result.profiles} profiles: first pass ${result.firstPassMs} ms, unchanged pass ${result.unchangedPassMs} ms`);
  // A Global_V the participant may read, and one more pass against it: the page then shows both columns (the page bench clicks them).
  const aggregator = new Workspace({ email: AGGREGATOR_EMAIL, dataDir }, config.APP_NAME);
  const values = initialItemFactors(catalog.items.length, config.MODEL_RANK, SEED);
  await writeGlobalVersion(aggregator.globalDir(AGGREGATOR_EMAIL), values, { version: 1, round: 1, items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash, contributors: 3, createdAt: new Date().toISOString() });
  await writePermissions(aggregator.aggregatorDir(AGGREGATOR_EMAIL), { rules: [{ pattern: '**', access: { read: [identity.email] } }] });
  await runParticipantPass(ctx);
  return { result, root, config, ws };
}
