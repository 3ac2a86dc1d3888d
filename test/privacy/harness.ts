import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig, type Config, type VariableName } from '../../src/shared/config';
import { readDelta, type Delta } from '../../src/shared/delta';
import { readGlobalVersion, type GlobalExpect } from '../../src/shared/global-model';
import { silentLogger } from '../../src/shared/log';
import { createRandom, deriveSeed } from '../../src/shared/random';
import { buildDemoRoot, runDemoRounds, type DemoParticipant, type DemoRoot } from '../../src/demo/embedded';
import { runParticipantPass } from '../../src/participant/node';
import { readHistoryCache, readProfileState } from '../../src/participant/state';
import { matchHistory } from '../../src/participant/train';
import { runRound, type RoundResult } from '../../src/aggregator/round';

/**
 * The attacks' victims: the embedded demo root (one aggregator, five
 * participants with the shipped demo histories, the real participant and
 * aggregator code, real files and permission files) in a temporary folder,
 * built under given settings. Ground truth (each participant's watched set and
 * confidence weights) is read from the participants' private folders, which
 * only the scoring uses, never an attack.
 */

export type Settings = Partial<Record<VariableName, string>>;

/**
 * The settings each attack must fail under. Today: DP noise at ε = 8 (issue
 * 20's protected run), under the default SECURE_AGGREGATION=on. Once the
 * defaults protect on their own: make this `{}`.
 */
export const PROTECTED: Settings = { DP_EPSILON: '8' };
/**
 * Plain per-participant deltas, for the attacks that read one participant's
 * delta (issue 20 (b)) or a round that merged one delta alone. Under secure
 * aggregation there is no per-participant delta to attack: the aggregator
 * learns only the round's sum, and no Global_V comes from fewer than
 * MIN_DATASITES datasites. Attack (a) on consecutive Global_V versions still
 * applies under the secure default (the sum of a round is what it reads), so
 * runs that only read Global_V keep SECURE_AGGREGATION=on.
 */
export const PLAIN_DELTAS: Settings = { SECURE_AGGREGATION: 'off', MIN_DATASITES: '1' };
/** The control: every protection off (plain deltas, no noise), so each attack shows that it works. */
export const UNPROTECTED: Settings = { DP_EPSILON: '0', SERVER_NOISE_STD: '0', ...PLAIN_DELTAS };
/** Smaller than the default 32 to keep each test file fast; no attack depends on the rank. */
export const TEST_RANK = '8';
const PARTICIPANT = 'profile_0';

export interface Victim {
  email: string;
  participant: DemoParticipant;
  /** Catalogue ids the participant's history matched (what it watched). */
  watched: Set<number>;
  /** c = 1 + ALS_ALPHA·confidence of each watched id. */
  weights: Map<number, number>;
}

export interface AttackRoot {
  dataDir: string;
  config: Config;
  catalog: Catalog;
  demo: DemoRoot;
  model: GlobalExpect;
  cleanup(): Promise<void>;
}

let catalogPromise: Promise<Catalog> | null = null;

/** A demo root in a temporary folder under `settings`; DP noise comes from a seeded stream per participant and pass. */
export async function createAttackRoot(settings: Settings, seed: number): Promise<AttackRoot> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'privacy-'));
  const config = loadConfig({
    dotenv: false,
    env: { LOCAL_ROOT: path.join(dataDir, 'root'), OUTPUT_DIR: path.join(dataDir, 'no-own-export'), MODEL_RANK: TEST_RANK, WEB_PORT: '0', ...settings },
  });
  catalogPromise ??= loadCatalog(null);
  const catalog = await catalogPromise;
  const demo = await buildDemoRoot(config, catalog, silentLogger);
  for (const p of demo.participants) {
    let pass = 0;
    p.ctx.noiseRandom = () => createRandom(deriveSeed(seed, `${p.email}#${pass++}`));
  }
  demo.aggregator.random = createRandom(deriveSeed(seed, 'aggregator'));
  return {
    dataDir: config.LOCAL_ROOT,
    config,
    catalog,
    demo,
    model: demo.aggregator.model,
    cleanup: () => fs.rm(dataDir, { recursive: true, force: true }),
  };
}

/** Rounds until every participant trains from Global_V (the demo's own stopping rule). */
export async function runUntilGranted(root: AttackRoot, minRounds = 2): Promise<void> {
  await runDemoRounds(root.demo, { minRounds, maxRounds: minRounds + 3 });
}

/** One participant publishes (from the newest Global_V it may read), then a round merges whatever waits. */
export async function roundWith(root: AttackRoot, who: readonly DemoParticipant[]): Promise<RoundResult> {
  for (const p of who) await runParticipantPass(p.ctx);
  return runRound(root.demo.aggregator);
}

/** The ground truth of every participant (after its first pass). */
export async function victims(root: AttackRoot): Promise<Victim[]> {
  const out: Victim[] = [];
  for (const participant of root.demo.participants) {
    const dir = participant.ctx.ws.privateDir(PARTICIPANT);
    const state = await readProfileState(dir);
    const cache = await readHistoryCache(dir);
    if (state === null || cache === null) throw new Error(`${participant.email} has not trained yet`);
    const { config } = participant.ctx;
    const matched = matchHistory(cache.events, participant.ctx.matcher, { now: new Date(state.trainedAt), halfLifeDays: config.RECENCY_HALF_LIFE_DAYS, mode: config.FEEDBACK_MODE });
    const weights = new Map(matched.interactions.map((i) => [i.item, 1 + config.ALS_ALPHA * i.confidence]));
    out.push({ email: participant.email, participant, watched: new Set(state.watched), weights });
  }
  return out;
}

/** The delta a participant published, as the aggregator reads it. */
export async function publishedDelta(root: AttackRoot, participant: DemoParticipant): Promise<Delta> {
  const delta = await readDelta(participant.ctx.ws.profileDir(PARTICIPANT), root.model);
  if (delta === null) throw new Error(`${participant.email} has published no delta`);
  return delta;
}

/** A Global_V version as a contributor reads it (0: the documented initialization is not a file; use the participant's base instead). */
export async function globalVersion(root: AttackRoot, version: number): Promise<Float32Array> {
  const ws = root.demo.aggregator.ws;
  const model = await readGlobalVersion(ws.globalVersionDir(ws.email, version), root.model);
  if (model === null) throw new Error(`Global_V v${version} does not exist`);
  return model.values;
}

/** values[i] − base[i], in float64. */
export function difference(next: Float32Array, base: Float32Array): Float64Array {
  return Float64Array.from(next, (v, i) => v - base[i]);
}
