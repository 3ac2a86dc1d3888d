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
import type { SecureRoundSummary } from '../../src/aggregator/secagg';
import { canRead } from '../../src/shared/permissions';
import { runSecureRoundInProcess } from '../../src/simulate/secure-round';

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
 * Participant-side DP noise at ε = 8 (issue 20's protected run), for the
 * attacks that need plain deltas (with PLAIN_DELTAS) and for the blend. The
 * defaults themselves (secure aggregation) are attacked in secure.test.ts. With
 * plain deltas each delta spends ε = 8: the budget is the earlier 50, so that
 * several rounds run (the default budget admits one DP training run a year).
 */
export const PROTECTED: Settings = { DP_EPSILON: '8', PRIVACY_BUDGET_EPSILON: '50' };
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

/**
 * One secure round at the root's settings, every participant retrained from
 * the newest Global_V first, watched as the aggregator would watch it: after
 * every step, every file in the round folders (the aggregator's own, and each
 * member's answers) that the permission files let the aggregator read is
 * copied to `archive` (members delete their keys, shares and reveals when the
 * round ends; a curious aggregator keeps them). Each member's private round
 * folder (secrets, plain contribution) is copied to `privateCopies/<email>/`:
 * ground truth for the controls, never read by an attack.
 */
export interface WatchedSecureRound {
  summary: SecureRoundSummary | null;
  /** Mirrors datasites/: paths relative to it. */
  archive: string;
  privateCopies: string;
}

export async function watchSecureRound(root: AttackRoot, who: readonly DemoParticipant[] = root.demo.participants): Promise<WatchedSecureRound> {
  const secure = root.demo.secure;
  if (secure === null) throw new Error('the root runs plain rounds (SECURE_AGGREGATION=off)');
  const ws = root.demo.aggregator.ws;
  const base = path.dirname(root.dataDir);
  const archive = path.join(base, 'aggregator-archive');
  const privateCopies = path.join(base, 'member-private');
  const roundFolders = [ws.secaggDir(ws.email), ...root.demo.participants.map((p) => ws.secaggAnswersRoot(p.email))];
  const copy = async () => {
    for (const folder of roundFolders) {
      for (const file of await filesUnder(folder)) {
        if (await canRead(ws.datasitesDir, ws.email, file)) await copyInto(file, path.join(archive, path.relative(ws.datasitesDir, file)));
      }
    }
    for (const p of root.demo.participants) {
      const dir = p.ctx.ws.secaggPrivateDir();
      for (const file of await filesUnder(dir)) await copyInto(file, path.join(privateCopies, p.email, path.relative(dir, file)));
    }
  };
  for (const p of who) await runParticipantPass(p.ctx);
  const summary = await runSecureRoundInProcess({ ...root.demo.aggregator, secure }, root.demo.participants.map((p) => p.ctx), { afterStep: copy });
  return { summary, archive, privateCopies };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function copyInto(file: string, target: string): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.copyFile(file, target);
}
