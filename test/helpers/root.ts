import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RoundContext, RoundParams } from '../../src/aggregator/round';
import { writeJsonAtomic } from '../../src/shared/atomic';
import { DELTA_FORMAT, DELTA_FORMAT_VERSION, sha256Hex, writeDelta, type DeltaManifest } from '../../src/shared/delta';
import type { GlobalExpect } from '../../src/shared/global-model';
import { silentLogger } from '../../src/shared/log';
import { writePermissions } from '../../src/shared/permissions';
import { createRandom, type Random } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';

/** A SyftBox-layout root in a temporary folder, with an aggregator and participants that publish deltas. */
export const APP = 'fedsvd-test';
export const AGGREGATOR = 'agg@example.org';
export const MODEL: GlobalExpect = { items: 40, rank: 3, vocabHash: 'ab'.repeat(32) };

export const PARAMS: RoundParams = {
  seed: 7,
  serverLr: 1,
  mergeMode: 'fedavg',
  trimFraction: 0.1,
  serverClipNorm: 0,
  serverNoiseStd: 0,
  // the round tests publish from one or two datasites; MIN_DATASITES has its own tests
  minDatasites: 1,
  clipNorm: 1,
  noiseTolerance: 4,
  maxStaleness: 3,
  staleDecay: 0.5,
};

export interface TestRoot {
  dataDir: string;
  /** The aggregator's workspace. */
  ws: Workspace;
  cleanup(): Promise<void>;
}

export async function createRoot(): Promise<TestRoot> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'agg-test-'));
  createEmbeddedDatasite(dataDir, AGGREGATOR);
  return { dataDir, ws: new Workspace({ email: AGGREGATOR, dataDir }, APP), cleanup: () => fs.rm(dataDir, { recursive: true, force: true }) };
}

/** A participant datasite whose app folder is readable by the aggregator (what the participant writes). */
export async function addParticipant(root: TestRoot, email: string): Promise<Workspace> {
  createEmbeddedDatasite(root.dataDir, email);
  const ws = new Workspace({ email, dataDir: root.dataDir }, APP);
  await writePermissions(ws.appData(), { rules: [{ pattern: '**', access: { read: [AGGREGATOR] } }] });
  return ws;
}

/** Values with a given L2 norm, drawn from `random`. */
export function randomDelta(random: Random, norm = 0.5, size = MODEL.items * MODEL.rank): Float32Array {
  const out = new Float32Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    out[i] = random.normal();
    sum += out[i] * out[i];
  }
  const scale = norm / Math.sqrt(sum);
  for (let i = 0; i < size; i++) out[i] *= scale;
  return out;
}

export type DeltaFields = Omit<DeltaManifest, 'format' | 'formatVersion' | 'payload' | 'sha256'>;

export function deltaFields(overrides: Partial<DeltaFields> = {}): DeltaFields {
  return {
    items: MODEL.items,
    rank: MODEL.rank,
    vocabHash: MODEL.vocabHash,
    baseVersion: 0,
    weight: 1,
    clipNorm: 1,
    noise: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** Publish a delta the way the participant does (`writeDelta`). */
export async function publish(ws: Workspace, profile: string, values: Float32Array, overrides: Partial<DeltaFields> = {}): Promise<DeltaManifest> {
  const fields = deltaFields(overrides);
  return writeDelta(ws.profileDir(profile), values, fields);
}

/** Publish arbitrary payload bytes under a manifest whose sha256 and name match them (a hostile or broken participant). */
export async function publishRaw(dir: string, bytes: Uint8Array, overrides: Partial<DeltaFields> = {}): Promise<DeltaManifest> {
  const sha256 = sha256Hex(bytes);
  const manifest: DeltaManifest = { format: DELTA_FORMAT, formatVersion: DELTA_FORMAT_VERSION, payload: `delta-${sha256.slice(0, 16)}.npy`, sha256, ...deltaFields(overrides) };
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, manifest.payload), bytes);
  await writeJsonAtomic(path.join(dir, 'delta.json'), manifest);
  return manifest;
}

export function roundContext(root: TestRoot, params: Partial<RoundParams> = {}, model: GlobalExpect = MODEL): RoundContext {
  let tick = Date.parse('2026-02-01T00:00:00.000Z');
  return {
    ws: root.ws,
    model,
    params: { ...PARAMS, ...params },
    random: createRandom(11),
    now: () => new Date((tick += 1000)),
    logger: silentLogger,
  };
}

/** A MovieLens-shaped catalogue of `items` films in the root (small models for process tests). */
export async function writeCatalog(root: TestRoot, items: number): Promise<string> {
  const file = path.join(root.dataDir, 'movies.csv');
  const rows = Array.from({ length: items }, (_, i) => `${i + 1},Film ${i + 1} (2000),Drama`);
  await fs.writeFile(file, `movieId,title,genres\n${rows.join('\n')}\n`);
  return file;
}

/** Environment for a CLI child acting as `email` in the root (config file per datasite). */
export function cliEnv(root: TestRoot, email: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const configPath = path.join(root.dataDir, '.configs', `${email}.json`);
  createEmbeddedDatasite(root.dataDir, email, configPath);
  return {
    PATH: process.env.PATH,
    HOME: root.dataDir,
    SYFTBOX_CLIENT_CONFIG_PATH: configPath,
    AGGREGATOR_DATASITE: AGGREGATOR,
    APP_NAME: APP,
    LOG_LEVEL: 'silent',
    // the CLI tests built on these fixtures are about plain deltas, often from one or two datasites;
    // secure rounds between processes: secagg-process.test.ts; MIN_DATASITES: round.test.ts
    SECURE_AGGREGATION: 'off',
    MIN_DATASITES: '1',
    ...extra,
  };
}
