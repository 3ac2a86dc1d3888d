import { promises as fs, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { roundParams, runRound, type RoundResult } from '../aggregator/round';
import { secureParams, type SecureContext, type SecureRoundSummary } from '../aggregator/secagg';
import type { Catalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import { AppError } from '../shared/errors';
import { writeDelta } from '../shared/delta';
import { GLOBAL_MANIFEST, initialItemFactors, readLatestGlobal, type GlobalExpect } from '../shared/global-model';
import type { Logger } from '../shared/log';
import { gramian, solveUser } from '../shared/model/factorize';
import type { Interaction } from '../shared/model/feedback';
import { canRead } from '../shared/permissions';
import { createRandom, deriveSeed } from '../shared/random';
import { createEmbeddedDatasite, Workspace } from '../shared/workspace';
import { assignProfiles } from '../participant/profiles';
import { ensurePublishPermissions } from '../participant/publish';
import type { MemberContext } from '../participant/secagg';
import { STATE_FORMAT_VERSION, writeProfileModel } from '../participant/state';
import { privatizeDelta } from '../participant/train';
import { runSecureRoundInProcess } from '../simulate/secure-round';
import type { LocalTrainer, LocalUpdate } from './training';

/**
 * The FedAvg baseline of the evaluation (the optimizer the participant and the
 * aggregator run in plain mode today), through the production code and files: a
 * SyftBox-layout root with one datasite per user (`user<id>@eval.local`) and one
 * for the aggregator. Every round, each participant
 *   1. reads the newest Global_V it may read (`canRead`: the permission files
 *      decide, as in a shared local root; before the first grant: the version-0
 *      initialization),
 *   2. trains locally (`trainLocal`),
 *   3. clips (and, with local DP, noises) the delta (`privatizeDelta`),
 *   4. publishes it with `writeDelta` into `datasites/<me>/app_data/<app>/profile_0/`
 *      under a `syft.pub.yaml` that lets only the aggregator read it;
 * then the aggregator runs `runRound` (discovery, validation, FedAvg, server
 * update and noise, Global_V version, ledger, read grants).
 *
 * Differences from a deployed participant, for speed (documented in the report):
 * the participant's private state (U.npy, V_local.npy, V_global.npy, history
 * cache, privacy ledger) is kept in memory instead of being written each round;
 * the Global_V file is read once per round for all participants (each one's
 * permission is still checked); VᵀV of the base is computed once per round; the
 * DP noise is drawn from seeded generators so runs are reproducible.
 */

export const EVAL_APP_NAME = 'syftbox-netflix-svd';
export const AGGREGATOR_EMAIL = 'aggregator@eval.local';
export const PROFILE = 'profile_0';
const SHM_DIR = '/dev/shm';
/** Use /dev/shm only when one round of deltas fills at most this share of it (it is RAM). */
const SHM_MAX_SHARE = 0.5;
/** Room for the Global_V versions, manifests and exports on top of the deltas. */
const ROOT_OVERHEAD = 1.25;

/**
 * Members taking their turn of a secure round at once (`runSecureRoundInProcess`): each turn
 * is mostly small file operations (each a thread-pool round trip) between bursts of computing;
 * several in flight keep the main thread and the mask workers busy.
 */
const SECURE_CONCURRENCY = 8;

export function participantEmail(userId: number): string {
  return `user${userId}@eval.local`;
}

/**
 * A fresh temporary folder for a SyftBox root: under /dev/shm (RAM, so the
 * delta I/O costs no disk) when it exists and one round of deltas
 * (`bytesPerRound`) fits in half of its free space, else under os.tmpdir().
 */
export async function createTempRoot(bytesPerRound: number, prefix = 'syftbox-eval-'): Promise<string> {
  let parent = os.tmpdir();
  try {
    const stat = statfsSync(SHM_DIR);
    if (bytesPerRound * ROOT_OVERHEAD <= stat.bavail * stat.bsize * SHM_MAX_SHARE) parent = SHM_DIR;
  } catch {
    // no /dev/shm (macOS, some containers)
  }
  return fs.mkdtemp(path.join(parent, prefix));
}

export interface FederatedParticipant {
  userId: number;
  train: Interaction[];
}

export interface RoundReport {
  round: number;
  /** The Global_V version the round committed. */
  version: number;
  /** Global_V after the round. */
  values: Float32Array;
  summary: RoundResult;
  /** Wall time of the participants' step and of the aggregator's round. */
  participantsMs: number;
  aggregatorMs: number;
}

interface FederatedSettings {
  dataDir: string;
  /** APP_NAME, MODEL_RANK, SEED, DELTA_CLIP_NORM, DP_EPSILON, DP_DELTA and the aggregator's SERVER_* / MAX_STALENESS values. */
  config: Config;
  catalog: Catalog;
  participants: readonly FederatedParticipant[];
  trainer: LocalTrainer;
  rounds: number;
  logger: Logger;
  /** After each round (evaluation, progress). */
  onRound?: (report: RoundReport) => void | Promise<void>;
}

/** Create the datasites and the participants' publish permissions. */
export async function setUpRoot(dataDir: string, appName: string, participants: readonly FederatedParticipant[]): Promise<void> {
  createEmbeddedDatasite(dataDir, AGGREGATOR_EMAIL);
  for (const p of participants) {
    const email = participantEmail(p.userId);
    createEmbeddedDatasite(dataDir, email);
    await ensurePublishPermissions(new Workspace({ email, dataDir }, appName), AGGREGATOR_EMAIL);
  }
}

/** Run `rounds` federated rounds over the files of `dataDir` (set up by `setUpRoot`). */
export async function runFederated(settings: FederatedSettings): Promise<void> {
  const { dataDir, config, catalog, participants, trainer, logger } = settings;
  const appName = config.APP_NAME;
  const expect: GlobalExpect = { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash };
  const aggregatorWs = new Workspace({ email: AGGREGATOR_EMAIL, dataDir }, appName);
  const params = roundParams(config);
  const serverRandom = createRandom(deriveSeed(config.SEED, 'server-noise'));
  const initial = initialItemFactors(expect.items, expect.rank, config.SEED);
  let trainFromInitial: ((train: Interaction[]) => LocalUpdate) | null = null;

  for (let round = 1; round <= settings.rounds; round++) {
    const t0 = performance.now();
    const latest = await readLatestGlobal(aggregatorWs.globalDir(AGGREGATOR_EMAIL), expect);
    const manifest = latest ? path.join(aggregatorWs.globalVersionDir(AGGREGATOR_EMAIL, latest.manifest.version), GLOBAL_MANIFEST) : null;
    const trainFromLatest = latest ? trainer(latest.values) : null;
    const createdAt = new Date().toISOString();
    for (const p of participants) {
      const email = participantEmail(p.userId);
      const ws = new Workspace({ email, dataDir }, appName);
      const granted = latest !== null && manifest !== null && (await canRead(ws.datasitesDir, email, manifest));
      let update: LocalUpdate;
      if (granted) update = trainFromLatest!(p.train);
      else {
        trainFromInitial ??= trainer(initial);
        update = trainFromInitial(p.train);
      }
      const base = granted ? latest!.values : initial;
      const delta = privatizeDelta(update.V, base, {
        clipNorm: config.DELTA_CLIP_NORM,
        epsilon: config.DP_EPSILON,
        delta: config.DP_DELTA,
        random: createRandom(deriveSeed(config.SEED, `participant-noise:${round}:${email}`)),
      });
      await writeDelta(ws.profileDir(PROFILE), delta.values, {
        items: expect.items,
        rank: expect.rank,
        vocabHash: expect.vocabHash,
        baseVersion: granted ? latest!.manifest.version : 0,
        weight: 1,
        clipNorm: config.DELTA_CLIP_NORM,
        noise: delta.noise,
        createdAt,
      });
    }
    const t1 = performance.now();
    const summary = await runRound({ ws: aggregatorWs, model: expect, params, random: serverRandom, now: () => new Date(), logger });
    const t2 = performance.now();
    const merged = await readLatestGlobal(aggregatorWs.globalDir(AGGREGATOR_EMAIL), expect);
    if (merged === null || summary.outcome !== 'merged') {
      const first = summary.rejected[0];
      throw new AppError(first?.code ?? 'ERR_AGGREGATOR_STATE', `evaluation round ${round} merged nothing (${summary.outcome}, ${summary.counts.rejected} rejected${first ? `; first: ${first.message}` : ''})`);
    }
    await settings.onRound?.({ round, version: merged.manifest.version, values: merged.values, summary, participantsMs: t1 - t0, aggregatorMs: t2 - t1 });
  }
}

export interface SecureRoundReport {
  round: number;
  version: number;
  values: Float32Array;
  summary: SecureRoundSummary;
  participantsMs: number;
  aggregatorMs: number;
}

interface SecureSettings extends Omit<FederatedSettings, 'trainer' | 'onRound'> {
  onRound?: (report: SecureRoundReport) => void | Promise<void>;
  /** Progress within a round of a large cohort: a few lines per phase (`runSecureRoundInProcess`). */
  progress?: (round: number, line: string) => void;
}

/**
 * The federated optimizer through the real secure-aggregation protocol, in
 * process (`runSecureRoundInProcess`): every round, each participant
 *   1. reads the newest Global_V it may read (else version 0, the initialization),
 *   2. records its profile's private state as the participant does after a pass
 *      (`writeProfileModel`: watched items, confidences, the base it starts from),
 * then the aggregator and every member run one secure round through the files
 * (round, keys, shares, masked inputs, reveals): each member builds its
 * contribution with the round's mechanism, encodes, masks and publishes it; the
 * aggregator unmasks the sum and applies the mechanism, committing Global_V.
 * Differences from a deployed participant: no local fine-tuning (V_local is the
 * base: the rounds use only the interactions and the base), and seeded noise
 * and rounding generators (reproducible runs). SECURE_AGGREGATION, the
 * mechanism's settings (ALS_REG, ALS_ALPHA, CONTRIBUTION_CLIP_NORM), SECAGG_* and
 * DP_EPSILON come from `config`.
 */
export async function runSecureFederated(settings: SecureSettings): Promise<void> {
  const { dataDir, config, catalog, participants, logger } = settings;
  const appName = config.APP_NAME;
  const expect: GlobalExpect = { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash };
  const aggregatorWs = new Workspace({ email: AGGREGATOR_EMAIL, dataDir }, appName);
  const aggregator: SecureContext = {
    ws: aggregatorWs,
    model: expect,
    params: roundParams(config),
    random: createRandom(deriveSeed(config.SEED, 'secure-aggregator')),
    now: () => new Date(),
    logger,
    secure: secureParams(config, expect),
  };
  const members: MemberContext[] = [];
  for (const p of participants) {
    const email = participantEmail(p.userId);
    const ws = new Workspace({ email, dataDir }, appName);
    await assignProfiles(ws.privateRoot(), PROFILE, [null], []);
    members.push({ config, ws, catalog, logger, now: () => new Date(), noiseRandom: () => createRandom(deriveSeed(config.SEED, `member-noise:${email}`)) });
  }
  const initial = initialItemFactors(expect.items, expect.rank, config.SEED);
  const model = { rank: expect.rank, reg: config.ALS_REG, alpha: config.ALS_ALPHA };
  for (let round = 1; round <= settings.rounds; round++) {
    const t0 = performance.now();
    const latest = await readLatestGlobal(aggregatorWs.globalDir(AGGREGATOR_EMAIL), expect);
    const manifest = latest ? path.join(aggregatorWs.globalVersionDir(AGGREGATOR_EMAIL, latest.manifest.version), GLOBAL_MANIFEST) : null;
    const trainedAt = new Date().toISOString();
    // VᵀV of each base once a round (the participant's pass computes it for its own solve)
    const grams = new Map<Float32Array, Float64Array>();
    for (const [i, p] of participants.entries()) {
      const ws = members[i].ws;
      const granted = latest !== null && manifest !== null && (await canRead(ws.datasitesDir, ws.email, manifest));
      const base = granted ? latest!.values : initial;
      if (!grams.has(base)) grams.set(base, gramian(base, expect.items, expect.rank));
      const sorted = [...p.train].sort((a, b) => a.item - b.item);
      await writeProfileModel(ws.privateDir(PROFILE), {
        state: {
          formatVersion: STATE_FORMAT_VERSION,
          profile: PROFILE,
          rank: expect.rank,
          items: expect.items,
          vocabHash: expect.vocabHash,
          baseVersion: granted ? latest!.manifest.version : 0,
          access: granted ? 'granted' : 'waiting',
          trainedAt,
          watched: sorted.map((x) => x.item),
          confidence: sorted.map((x) => x.confidence),
          lastDeltaSha256: null,
          lastPublishedBase: null,
          publishBlocked: null,
          inputsSha256: `eval-round-${round}`,
        },
        u: solveUser(base, expect.rank, sorted, model, grams.get(base)),
        vLocal: base,
        vGlobal: base,
      });
    }
    const t1 = performance.now();
    const summary = await runSecureRoundInProcess(aggregator, members, { concurrency: SECURE_CONCURRENCY, progress: settings.progress && ((line) => settings.progress!(round, line)) });
    const t2 = performance.now();
    const merged = await readLatestGlobal(aggregatorWs.globalDir(AGGREGATOR_EMAIL), expect);
    if (merged === null || summary?.outcome !== 'merged') {
      throw new AppError('ERR_AGGREGATOR_STATE', `evaluation secure round ${round} merged nothing (${summary ? `${summary.outcome}: ${summary.reason}` : 'no round could open'})`);
    }
    await settings.onRound?.({ round, version: merged.manifest.version, values: merged.values, summary, participantsMs: t1 - t0, aggregatorMs: t2 - t1 });
  }
}
