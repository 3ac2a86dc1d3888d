import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Catalog } from '../../src/shared/catalog';
import { loadConfig, type Config } from '../../src/shared/config';
import { writeGlobalVersion } from '../../src/shared/global-model';
import { writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { STATE_FORMAT_VERSION, writeProfileModel, type ProfileState } from '../../src/participant/state';
import { catalogOf } from './data';

/** A participant and an aggregator in one temporary SyftBox-layout root, with state files written directly. */

export const APP = 'syftbox-netflix-svd';
export const AGGREGATOR = 'aggregator@example.org';
export const PARTICIPANT = 'alice@example.org';
export const PROFILE = 'profile_0';
export const RANK = 4;
export const WATCHED = [0, 1, 2];
export const GLOBAL_VERSION = 3;

const GENRES = ['Dramas', 'Comedies', 'Documentaries', 'Thrillers', 'International TV Shows', 'Kids\' TV', 'Sci-Fi & Fantasy', 'Romantic Movies'];
const WORDS = ['Midnight', 'Harbor', 'Garden', 'Signal', 'Echoes', 'Summer', 'Paper', 'Kingdom', 'River', 'Glass', 'Lanterns', 'North'];

/** A small catalogue; item 5 has a poster URL that cannot load offline. */
export function testCatalog(size = 60): Catalog {
  return catalogOf(
    Array.from({ length: size }, (_, id) => ({
      title: `${WORDS[id % WORDS.length]} ${WORDS[(id * 7 + 3) % WORDS.length]}${id >= WORDS.length ? ` ${Math.floor(id / WORDS.length) + 1}` : ''}`,
      kind: id % 3 === 0 ? 'series' : 'film',
      year: 1990 + (id % 33),
      genres: [GENRES[id % GENRES.length], GENRES[(id + 3) % GENRES.length]],
      countries: ['Denmark'],
      description: `A story about ${WORDS[(id + 5) % WORDS.length].toLowerCase()} and ${WORDS[(id + 9) % WORDS.length].toLowerCase()}, told over one long night.`,
      rating: 'TV-14',
      duration: id % 3 === 0 ? '2 Seasons' : '98 min',
      image: id === 5 ? 'https://posters.invalid/s6.jpg' : null,
    })),
    'test-vocabulary-hash',
  );
}

export interface Fixture {
  dir: string;
  config: Config;
  ws: Workspace;
  aggregatorWs: Workspace;
  catalog: Catalog;
  cleanup(): Promise<void>;
}

export interface FixtureOptions {
  /** Write the participant's trained state (default true). */
  trained?: boolean;
  /** Publish a Global_V (default true). */
  global?: boolean;
  /** Let the participant read the Global_V (default true). */
  granted?: boolean;
  /** How different the global item factors are from the local ones (0 = identical lists). */
  globalShift?: number;
  configOverrides?: Record<string, string>;
  /** Catalogue to train on (default: the small test catalogue). */
  catalog?: Catalog;
}

function factors(rows: number, seed: number): Float32Array {
  const random = createRandom(seed);
  const out = new Float32Array(rows * RANK);
  for (let i = 0; i < out.length; i++) out[i] = random.normal();
  return out;
}

export async function createFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'server-'));
  const config = loadConfig({ env: { AGGREGATOR_DATASITE: AGGREGATOR, LOG_LEVEL: 'silent', ...options.configOverrides }, dotenv: false });
  createEmbeddedDatasite(dir, AGGREGATOR);
  createEmbeddedDatasite(dir, PARTICIPANT);
  const ws = new Workspace({ email: PARTICIPANT, dataDir: dir }, APP);
  const aggregatorWs = new Workspace({ email: AGGREGATOR, dataDir: dir }, APP);
  const catalog = options.catalog ?? testCatalog();
  const items = catalog.items.length;
  const vLocal = factors(items, 1);
  if (options.trained !== false) {
    const state: ProfileState = {
      formatVersion: STATE_FORMAT_VERSION,
      profile: PROFILE,
      rank: RANK,
      items,
      vocabHash: catalog.hash,
      baseVersion: GLOBAL_VERSION,
      access: 'granted',
      trainedAt: '2026-11-21T15:00:00.000Z',
      watched: WATCHED,
      confidence: WATCHED.map(() => 1),
      lastDeltaSha256: null,
      lastPublishedBase: null,
      publishBlocked: null,
      inputsSha256: 'test-inputs',
    };
    await writeProfileModel(ws.privateDir(PROFILE), { state, u: new Float32Array([1, 0.5, -0.25, 0.75]), vLocal, vGlobal: vLocal });
  }
  if (options.global !== false) {
    const shift = options.globalShift ?? 1;
    const noise = factors(items, 2);
    const values = vLocal.map((v, i) => v + shift * noise[i]);
    await writeGlobalVersion(aggregatorWs.globalDir(AGGREGATOR), values, {
      version: GLOBAL_VERSION,
      round: GLOBAL_VERSION,
      items,
      rank: RANK,
      vocabHash: catalog.hash,
      contributors: 2,
      createdAt: '2026-11-21T14:00:00.000Z',
    });
    if (options.granted !== false) {
      await writePermissions(aggregatorWs.aggregatorDir(AGGREGATOR), { rules: [{ pattern: '**', access: { read: [PARTICIPANT] } }] });
    }
  }
  return { dir, config, ws, aggregatorWs, catalog, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** Environment for a CLI child acting as the fixture's participant (its own config file and HOME). */
export function participantEnv(f: Fixture, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: f.dir,
    SYFTBOX_CLIENT_CONFIG_PATH: path.join(f.dir, '.configs', `${PARTICIPANT}.json`),
    AGGREGATOR_DATASITE: AGGREGATOR,
    LOG_LEVEL: 'silent',
    NETFLIX_PROFILES: PROFILE,
    ...extra,
  };
}
