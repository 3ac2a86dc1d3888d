import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Catalog, Matcher } from '../shared/catalog';
import { requireValue, type Config } from '../shared/config';
import { writeDelta, type DeltaManifest } from '../shared/delta';
import { AppError, formatError, isAppError } from '../shared/errors';
import { initialItemFactors } from '../shared/global-model';
import { hashHistory, readHistory, type ParsedHistory, type ViewingEvent } from '../shared/history';
import type { Logger } from '../shared/log';
import { trainLocal } from '../shared/model/factorize';
import { canSpend, deltaNoiseSigma, gaussianSpend, privacySpent, recordSpend, configuredBudget } from '../shared/privacy';
import type { Random } from '../shared/random';
import { coalesce, untilAborted } from '../shared/serial';
import type { Workspace } from '../shared/workspace';
import { assignProfiles, groupByProfileName, profileSources, readAssignments, type ProfileSource } from './profiles';
import {
  readHistoryCache,
  readPrivacyLedger,
  readProfileState,
  STATE_FORMAT_VERSION,
  writeHistoryCache,
  writePrivacyLedger,
  writeProfileModel,
  type AccessState,
  type ProfileState,
} from './state';
import { logProtection } from './protection';
import { ensurePublishPermissions } from './publish';
import { readGrantedGlobal } from './recommendations';
import { afterParticipantPass } from './extras';
import { respondToCommunityRound } from './community-round';
import { recordContributionMode, respondToSecureRound, type MemberStep } from './secagg';
import { matchHistory, privatizeDelta } from './train';
import { watchTargets } from './watch';

/**
 * The participant: for every configured profile, read the private export, train
 * from the newest Global_V this datasite may read (or the documented
 * initialization before access is granted), keep U and the local item factors
 * private. Under secure aggregation (the default) nothing model-related is
 * published here: the next secure round takes the profile's watched shows and the
 * base it trained from into the datasite's masked contribution (the federated
 * optimizer's statistics, `secagg.ts`); the local fine-tuning serves the page's
 * local list. In plain mode, publish a clipped, optionally noised item-factor delta
 * (FedAvg: the optimizer's per-item sums would be readable there).
 */

export interface ParticipantContext {
  config: Config;
  ws: Workspace;
  catalog: Catalog;
  matcher: Matcher;
  logger: Logger;
  now: () => Date;
  /** Source of DP noise; cryptoRandom() outside tests. */
  noiseRandom: () => Random;
  /** Called as each step of the pass ends (the benchmark times the steps with it). */
  onStep?: (step: PassStep) => void;
}

/** The steps of a pass: an export parsed, a profile trained, its delta published. */
export type PassStep = 'history' | 'training' | 'delta';

/**
 * `published`: a plain delta went out (SECURE_AGGREGATION=off). `trained`: the model
 * was retrained and waits privately for the next secure round, which builds the
 * datasite's masked contribution from its state (SECURE_AGGREGATION=on). `unchanged`: nothing
 * new to train on. `blocked`: the privacy budget is spent.
 */
export type ProfileOutcome =
  | { profile: string; status: 'published'; manifest: DeltaManifest; access: AccessState; baseVersion: number }
  | { profile: string; status: 'trained' | 'unchanged' | 'blocked'; access: AccessState; baseVersion: number; reason?: string };

export interface PassResult {
  profiles: ProfileOutcome[];
  /** Export files that are configured but absent (normal before the user exports). */
  missing: string[];
  /** Export files that failed to parse: file -> one-line reason. */
  failed: { file: string; error: string }[];
}


interface Base {
  version: number;
  values: Float32Array;
  access: AccessState;
}

/** The Global_V to train from: the newest complete version this datasite may read, else version 0. */
async function loadBase(ctx: ParticipantContext): Promise<Base> {
  const { config, ws, catalog } = ctx;
  const aggregator = requireValue(config, 'AGGREGATOR_DATASITE', 'the participant needs to know whose Global_V to read');
  const expect = { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash };
  const model = await readGrantedGlobal(ws, aggregator, expect, ctx.logger);
  if (model) return { version: model.manifest.version, values: model.values, access: 'granted' };
  return { version: 0, values: initialItemFactors(expect.items, expect.rank, config.SEED), access: 'waiting' };
}

/** Events per assigned profile for one export file, from the private cache when the file is unchanged. */
async function eventsOfSource(ctx: ParticipantContext, source: ProfileSource, sourceSha256: string, reserved: readonly string[]): Promise<Map<string, ViewingEvent[]>> {
  const { ws } = ctx;
  const mine = (await readAssignments(ws.privateRoot())).filter((a) => a.folder === source.folder);
  if (mine.length > 0) {
    const out = new Map<string, ViewingEvent[]>();
    for (const { profile } of mine) {
      const cache = await readHistoryCache(ws.privateDir(profile)).catch(() => null);
      if (!cache || cache.sourceSha256 !== sourceSha256) break;
      out.set(profile, cache.events);
    }
    if (out.size === mine.length) return out;
  }
  const parsed: ParsedHistory = await readHistory(source.file, { dateOrder: ctx.config.DATE_ORDER, now: ctx.now(), log: ctx.logger });
  if (parsed.events.length === 0) {
    const skipped = Object.entries(parsed.skipped).map(([reason, n]) => `${n} ${reason}`).join(', ');
    throw new AppError('ERR_HISTORY_EMPTY', `${source.file}: no usable row (${parsed.rows} rows, skipped: ${skipped}); export the history again from Netflix`, { file: source.file });
  }
  const groups = groupByProfileName(parsed.events);
  const assignments = await assignProfiles(ws.privateRoot(), source.folder, [...groups.keys()], reserved);
  const out = new Map<string, ViewingEvent[]>();
  for (const a of assignments) {
    const events = groups.get(a.name) ?? [];
    out.set(a.profile, events);
    await writeHistoryCache(ws.privateDir(a.profile), sourceSha256, events);
  }
  const skipped = Object.entries(parsed.skipped).filter(([, n]) => n > 0);
  ctx.logger.info({ folder: source.folder, rows: parsed.rows, profiles: assignments.length, skipped: Object.fromEntries(skipped) }, 'read viewing history');
  ctx.onStep?.('history');
  return out;
}

/** Train one profile from `base` and publish its delta, unless nothing changed or the budget is spent. */
async function processProfile(ctx: ParticipantContext, profile: string, events: ViewingEvent[], sourceSha256: string, base: Base): Promise<ProfileOutcome> {
  const { config, ws, catalog, logger } = ctx;
  const dir = ws.privateDir(profile);
  const items = catalog.items.length;
  const rank = config.MODEL_RANK;
  const params = {
    rank,
    reg: config.ALS_REG,
    alpha: config.ALS_ALPHA,
    epochs: config.LOCAL_EPOCHS,
    lr: config.LOCAL_LR,
    clip: config.DELTA_CLIP_NORM,
    epsilon: config.DP_EPSILON,
    dpDelta: config.DP_DELTA,
    mode: config.FEEDBACK_MODE,
    halfLife: config.RECENCY_HALF_LIFE_DAYS,
  };
  const inputsSha256 = createHash('sha256').update(JSON.stringify({ sourceSha256, base: base.version, access: base.access, vocab: catalog.hash, params })).digest('hex');
  const secure = config.SECURE_AGGREGATION === 'on';
  // A state of an older format is replaced by this training (the page refuses it until then).
  const previous = await readProfileState(dir).catch((err: unknown) => (isAppError(err, 'ERR_MODEL_VERSION') ? null : Promise.reject(err)));
  // Plain mode retrains until a delta went out; under secure aggregation nothing is published here.
  if (previous && previous.inputsSha256 === inputsSha256 && (secure || previous.lastDeltaSha256 !== null)) {
    return { profile, status: 'unchanged', access: base.access, baseVersion: base.version };
  }

  const matched = matchHistory(events, ctx.matcher, { now: ctx.now(), halfLifeDays: config.RECENCY_HALF_LIFE_DAYS, mode: config.FEEDBACK_MODE });
  const trained = trainLocal(base.values, matched.interactions, { ...params, items });
  const confidenceOf = new Map(matched.interactions.map((i) => [i.item, i.confidence]));
  const state: ProfileState = {
    formatVersion: STATE_FORMAT_VERSION,
    profile,
    rank,
    items,
    vocabHash: catalog.hash,
    baseVersion: base.version,
    access: base.access,
    trainedAt: ctx.now().toISOString(),
    watched: matched.watched,
    confidence: matched.watched.map((item) => confidenceOf.get(item) ?? 0),
    lastDeltaSha256: previous?.lastDeltaSha256 ?? null,
    lastPublishedBase: previous?.lastPublishedBase ?? null,
    publishBlocked: null,
    inputsSha256,
  };
  logger.info(
    { profile, baseVersion: base.version, interactions: matched.interactions.length, unmatchedShows: matched.unmatchedShows, lossBefore: trained.loss[0], lossAfter: trained.loss.at(-1) },
    'trained local model',
  );
  ctx.onStep?.('training');
  if (secure) {
    // Nothing leaves here: the next secure round builds the datasite's masked contribution from this state (see secagg.ts).
    await writeProfileModel(dir, { state, u: trained.u, vLocal: trained.V, vGlobal: base.values });
    ctx.onStep?.('delta');
    logger.info({ profile, baseVersion: base.version }, 'kept the trained model for the next secure round');
    return { profile, status: 'trained', access: base.access, baseVersion: base.version };
  }

  let ledger = await readPrivacyLedger(dir);
  const budget = configuredBudget(config);
  // The delta's noise is a Gaussian on sensitivity 2·clip (see deltaNoiseSigma); its RDP curve is what the ledger composes.
  const spend = config.DP_EPSILON > 0
    ? gaussianSpend(ctx.now().toISOString(), 'delta-local', { l2: 2 * config.DELTA_CLIP_NORM, sigma: deltaNoiseSigma(config.DP_EPSILON, config.DP_DELTA, config.DELTA_CLIP_NORM) })
    : null;
  if (spend !== null && !canSpend(ledger, spend, budget, ctx.now())) {
    const epsilonSpent = privacySpent(ledger, budget, ctx.now()).epsilon;
    state.publishBlocked = `privacy budget spent: ${epsilonSpent.toFixed(2)} of ${config.PRIVACY_BUDGET_EPSILON}`;
    await writeProfileModel(dir, { state, u: trained.u, vLocal: trained.V, vGlobal: base.values });
    logger.warn({ profile, epsilonSpent, budget: config.PRIVACY_BUDGET_EPSILON }, 'privacy budget reached: this profile publishes no more deltas (raise PRIVACY_BUDGET_EPSILON to continue)');
    return { profile, status: 'blocked', access: base.access, baseVersion: base.version, reason: state.publishBlocked };
  }

  const delta = privatizeDelta(trained.V, base.values, { clipNorm: config.DELTA_CLIP_NORM, epsilon: config.DP_EPSILON, delta: config.DP_DELTA, random: ctx.noiseRandom() });
  await writeProfileModel(dir, { state, u: trained.u, vLocal: trained.V, vGlobal: base.values });
  const createdAt = ctx.now().toISOString();
  if (spend !== null) {
    ledger = recordSpend(ledger, { ...spend, at: createdAt });
    // The spend is recorded before the delta is published: a crash in between wastes budget, never overspends it.
    await writePrivacyLedger(dir, ledger);
  }
  const manifest = await writeDelta(ws.profileDir(profile), delta.values, {
    items,
    rank,
    vocabHash: catalog.hash,
    baseVersion: base.version,
    weight: 1,
    clipNorm: config.DELTA_CLIP_NORM,
    noise: delta.noise,
    createdAt,
  });
  await writeProfileModel(dir, { state: { ...state, lastDeltaSha256: manifest.sha256, lastPublishedBase: base.version }, u: trained.u, vLocal: trained.V, vGlobal: base.values });
  logger.info({ profile, baseVersion: base.version, norm: Number(delta.rawNorm.toFixed(4)), clipped: delta.rawNorm > config.DELTA_CLIP_NORM, noise: delta.noise?.sigma ?? 0 }, 'published delta');
  ctx.onStep?.('delta');
  return { profile, status: 'published', manifest, access: base.access, baseVersion: base.version };
}

/**
 * One pass over every configured profile. Missing exports are normal (logged
 * calmly); a broken export is logged with its file and reason, and the other
 * profiles still train.
 */
export async function runParticipantPass(ctx: ParticipantContext): Promise<PassResult> {
  const { logger } = ctx;
  const result: PassResult = { profiles: [], missing: [], failed: [] };
  const sources = profileSources(ctx.config);
  await ensurePublishPermissions(ctx.ws, requireValue(ctx.config, 'AGGREGATOR_DATASITE', 'published deltas are readable by the aggregator only'));
  const base = await loadBase(ctx);
  const reserved = sources.map((s) => s.folder);
  for (const source of sources) {
    let events: Map<string, ViewingEvent[]>;
    try {
      const sha = await hashHistory(source.file);
      if (sha === null) {
        result.missing.push(source.file);
        continue;
      }
      events = await eventsOfSource(ctx, source, sha, reserved);
      for (const [profile, list] of events) {
        result.profiles.push(await processProfile(ctx, profile, list, sha, base));
      }
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      logger.error({ file: err.file ?? source.file, code: err.code }, formatError(err));
      result.failed.push({ file: source.file, error: formatError(err) });
    }
  }
  return result;
}

export interface CycleResult {
  pass: PassResult;
  /** What the secure round asked of this datasite (null with SECURE_AGGREGATION=off). */
  secure: MemberStep[] | null;
}

/**
 * One turn of the participant loop, the same from every entry point (`participant`,
 * `app`, the demo): train every profile (and, in plain mode, publish its delta),
 * publish the community report (plain mode) and the blend, then answer whatever
 * the secure rounds in progress (model, then community) ask of this datasite.
 */
export async function runParticipantCycle(ctx: ParticipantContext): Promise<CycleResult> {
  const pass = await runParticipantPass(ctx);
  await afterParticipantPass(ctx, pass);
  await recordContributionMode(ctx);
  const secure = ctx.config.SECURE_AGGREGATION === 'on' ? await respondToSecureRound(ctx) : null;
  if (ctx.config.SECURE_AGGREGATION === 'on') await respondToCommunityRound(ctx);
  return { pass, secure };
}

export interface DaemonOptions {
  signal: AbortSignal;
  /** Called after each pass (tests and the demo wait on it). */
  onPass?: (result: PassResult) => void;
}

/**
 * Watch the exports and the aggregator's folder (Global_V, secure round files);
 * run a cycle (debounced) when either changes, and every PARTICIPANT_INTERVAL_MS
 * in case a change arrived without a file event (sync tools differ). Resolves
 * when `signal` aborts.
 */
export async function runParticipant(ctx: ParticipantContext, { signal, onPass }: DaemonOptions): Promise<void> {
  const { config, ws, logger } = ctx;
  logProtection(config, logger);
  const aggregator = requireValue(config, 'AGGREGATOR_DATASITE', 'the participant needs to know whose Global_V to read');
  let lastAccess: AccessState | null = null;
  const passOnce = async (): Promise<void> => {
    const { pass: result } = await runParticipantCycle(ctx);
    const access = result.profiles[0]?.access ?? lastAccess;
    if (access === 'waiting' && lastAccess !== 'waiting') logger.info({ aggregator }, 'waiting for the aggregator to grant access to the global model');
    if (access === 'granted' && lastAccess !== 'granted') logger.info({ aggregator, version: result.profiles[0]?.baseVersion }, 'the aggregator granted access to the global model');
    lastAccess = access;
    if (result.missing.length > 0 && !existsSync(config.OUTPUT_DIR)) {
      logger.warn({ outputDir: config.OUTPUT_DIR }, `OUTPUT_DIR=${config.OUTPUT_DIR} does not exist: set OUTPUT_DIR in .env to the folder that holds profile_0/${config.NETFLIX_CSV}`);
    } else {
      for (const file of result.missing) logger.info({ file }, 'no viewing history yet: export it from Netflix (Account > Profile > Viewing activity > Download all) and save it here');
    }
    onPass?.(result);
  };
  const pass = coalesce(passOnce, { signal, onError: (err) => logger.error({ code: (err as AppError).code }, formatError(err)) });

  const exports = profileSources(config).map((s) => s.file);
  const watcher = watchTargets([...exports, ws.globalDir(aggregator), ws.aggregatorDir(aggregator)], {
    debounceMs: config.WATCH_DEBOUNCE_MS,
    logger,
    onChange: () => void pass(),
  });
  await watcher.ready;
  const timer = setInterval(() => void pass(), config.PARTICIPANT_INTERVAL_MS);
  await pass();
  await untilAborted(signal);
  clearInterval(timer);
  await watcher.close();
  await pass.idle();
}
