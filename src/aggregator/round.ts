import { performance } from 'node:perf_hooks';
import type { Config } from '../shared/config';
import { clipL2, maxPayloadBytes } from '../shared/delta';
import type { ErrorCode } from '../shared/errors';
import type { GlobalExpect } from '../shared/global-model';
import { forgetShared, startFileWorkers } from '../shared/hash-workers';
import { KernelMemory } from '../shared/kernels';
import type { Logger } from '../shared/log';
import type { Random } from '../shared/random';
import type { Workspace } from '../shared/workspace';
import { discoverProfiles, discoverSites, type ProfileRef } from './discover';
import { applyServerUpdate, createMerger, type MergeMode, type Merger } from './merge';
import { inOrder } from './pipeline';
import { ROUND_RECORD_FORMAT_VERSION, loadLedgerSecret, participantTag, type AcceptedRecord, type RoundRecord } from './record';
import { commitVersion, reconcile, type CommittedState } from './state';
import { writeStatus, type RejectedDelta, type RoundSummary, type SkippedDelta } from './status';
import { peekManifest, validateProfile, type Validation, type ValidationPolicy } from './validate';

/**
 * One aggregation round: reconcile the committed state, stream every participant's
 * delta (validate, then add to the running sum), and commit a new Global_V version
 * when at least one delta was accepted (see `state.ts` for the commit order and
 * crash recovery). Used by the daemon, `aggregator --once`, and in-process by the
 * evaluation and the simulator.
 *
 * Throughput: READ_AHEAD deltas are read, hashed and scanned (on worker threads)
 * while the current one is added, each into one of READ_AHEAD + 1 read buffers,
 * reused for the whole round (memory: those buffers, never all deltas); datasites
 * are discovered while the first deltas are read. The buffers and the sum share
 * one WebAssembly memory, where a SIMD kernel adds values in place.
 * Deltas are still added one at a time in the discovery order (email, then
 * profile), so the float additions happen in a fixed order and Global_V is
 * bit-identical for the same inputs, whatever the concurrency.
 */
export interface RoundParams extends ValidationPolicy {
  /** SEED: the version-0 initialization. */
  seed: number;
  serverLr: number;
  mergeMode: MergeMode;
  trimFraction: number;
  /** SERVER_CLIP_NORM: each accepted delta is clipped to this L2 norm before merging (0 = off). */
  serverClipNorm: number;
  /** SERVER_NOISE_STD: Gaussian noise std added to each value of the merged delta (0 = off). */
  serverNoiseStd: number;
  /** MIN_DATASITES: no version is committed from fewer distinct datasites. */
  minDatasites: number;
}

export function roundParams(config: Config): RoundParams {
  return {
    seed: config.SEED,
    serverLr: config.SERVER_LR,
    mergeMode: config.MERGE_MODE,
    trimFraction: config.TRIM_FRACTION,
    serverClipNorm: config.SERVER_CLIP_NORM,
    serverNoiseStd: config.SERVER_NOISE_STD,
    minDatasites: config.MIN_DATASITES,
    clipNorm: config.DELTA_CLIP_NORM,
    noiseTolerance: config.NOISE_TOLERANCE,
    maxStaleness: config.MAX_STALENESS,
    staleDecay: config.STALE_DECAY,
  };
}

export interface RoundContext {
  /** The aggregator's workspace: `ws.email` is the aggregator's datasite. */
  ws: Workspace;
  /** items (catalogue size), rank (MODEL_RANK) and vocabHash (catalogue hash) of the model. */
  model: GlobalExpect;
  params: RoundParams;
  /** Source of the server noise (the OS CSPRNG outside tests). */
  random: Random;
  now: () => Date;
  logger: Logger;
  /** Aborting abandons the round before its commit (safe at any point: see state.ts). */
  signal?: AbortSignal;
  /** Deltas read ahead (default READ_AHEAD); the result is the same for any value. */
  readAhead?: number;
}

export type RoundResult = RoundSummary;

/** Deltas read and checked ahead while the current one is added (memory: one read buffer more than this). */
export const READ_AHEAD = 8;

/** Run one round. Resolves with what it did; rejects only on the aggregator's own failures (I/O, broken ledger) or an abort. */
export async function runRound(ctx: RoundContext): Promise<RoundResult> {
  const { ws, model, params, logger, signal } = ctx;
  const startedAt = ctx.now();
  const t0 = performance.now();
  void startFileWorkers(); // the threads come up while the state is reconciled
  const state = await reconcile(stateContext(ctx));
  // inOrder runs task i + readAhead only once item i was consumed, so item i's buffer is free again by then.
  const readAhead = ctx.readAhead ?? READ_AHEAD;
  const size = model.items * model.rank;
  const payloadBytes = maxPayloadBytes(model);
  // the sum and the read buffers share one memory, where the SIMD kernel adds values in place
  const kernels = roundMemory(size * 8 + (readAhead + 1) * payloadBytes + (readAhead + 2) * 16);
  const merger = createMerger(params.mergeMode, size, params.trimFraction, kernels);
  const buffers = Array.from({ length: readAhead + 1 }, () => kernels.bytes(payloadBytes));
  const applied = new Set(state.applied);
  const accepted: Omit<AcceptedRecord, 'participant'>[] = [];
  const rejected: RejectedDelta[] = [];
  const replayed: SkippedDelta[] = [];
  const waiting: SkippedDelta[] = [];

  // One datasite counts as one person: its profiles' deltas are merged into one (see `addDatasite`).
  let siteEmail: string | null = null;
  let siteDeltas: AcceptedDelta[] = [];
  const flush = () => {
    if (siteDeltas.length === 0) return;
    const share = addDatasite(merger, siteDeltas);
    // the ledger lists each delta with the weight it really had in the mean
    for (const a of accepted.slice(-siteDeltas.length)) a.weight *= share;
    siteDeltas = [];
  };
  const validate = (job: RoundJob) => validateProfile(job.ref.dir, model, params, { currentVersion: state.version, applied }, buffers[job.i % buffers.length]);
  try {
    for await (const [{ ref, lastOfSite }, result] of inOrder(roundJobs(discoverSites(ws, logger)), validate, readAhead)) {
      signal?.throwIfAborted();
      const who = { email: ref.email, profile: ref.profile };
      if (!result.ok) {
        logger.warn({ ...who, err: result.error }, 'could not read the delta; trying again next round');
        waiting.push({ ...who, deltaSha256: null, reason: (result.error as Error).message });
        continue;
      }
      const outcome = result.value;
      // deltas are read ahead concurrently: a copy of one accepted a moment ago may still arrive as 'accepted'
      const v: Validation = outcome.kind === 'accepted' && applied.has(outcome.delta.manifest.sha256) ? { kind: 'replay', sha256: outcome.delta.manifest.sha256 } : outcome;
      switch (v.kind) {
        case 'accepted': {
          const { delta, weight, staleness, norm } = v;
          if (params.serverClipNorm > 0) clipL2(delta.values, params.serverClipNorm);
          if (siteEmail !== ref.email) flush();
          siteEmail = ref.email;
          // values live in a read buffer reused a few deltas later: add them now, or keep a copy until the datasite's last profile
          siteDeltas.push({ values: lastOfSite && siteDeltas.length === 0 ? delta.values : delta.values.slice(), weight });
          applied.add(delta.manifest.sha256);
          accepted.push({ ...who, deltaSha256: delta.manifest.sha256, weight, staleness });
          if (lastOfSite) flush();
          logger.debug({ ...who, weight, staleness, norm }, 'delta accepted');
          break;
        }
        case 'rejected':
          rejected.push({ ...who, deltaSha256: v.sha256, code: v.code, message: v.message });
          logger.warn({ ...who, code: v.code }, v.message);
          break;
        case 'replay':
          replayed.push({ ...who, deltaSha256: v.sha256, reason: 'ERR_DELTA_REPLAY: already merged' });
          logger.debug({ ...who, code: 'ERR_DELTA_REPLAY' }, 'delta already merged');
          break;
        case 'waiting':
          waiting.push({ ...who, deltaSha256: null, reason: v.reason });
          logger.debug({ ...who, reason: v.reason }, 'delta not ready');
          break;
      }
    }
  } finally {
    keepForNextRound(kernels);
  }
  flush();

  const datasites = new Set(accepted.map((a) => a.email)).size;
  if (merger.count > 0 && datasites < params.minDatasites) {
    // Too few people to hide one in the mean: keep the deltas for a later round.
    for (const a of accepted.splice(0)) waiting.push({ email: a.email, profile: a.profile, deltaSha256: null, reason: `only ${datasites} datasites have a new delta; a round needs ${params.minDatasites} (MIN_DATASITES)` });
    logger.info({ datasites, minDatasites: params.minDatasites }, 'too few datasites for a round: the deltas wait for more');
  }
  const commit = accepted.length > 0;

  const ledgerParams = publicParams(params);
  let after: CommittedState = state;
  let records: AcceptedRecord[] = [];
  if (commit) {
    const version = state.version + 1;
    const secret = await loadLedgerSecret(ws.aggregatorPrivateDir());
    records = accepted.map((a) => ({ ...a, participant: participantTag(secret, version, a.email, a.profile) }));
    const values = applyServerUpdate(state.values, merger.result(), { serverLr: params.serverLr, noiseStd: params.serverNoiseStd, random: ctx.random });
    const record: RoundRecord = {
      formatVersion: ROUND_RECORD_FORMAT_VERSION,
      version,
      round: version,
      previousVersion: state.version,
      createdAt: startedAt.toISOString(),
      params: ledgerParams,
      accepted: records,
      rejectedCount: rejected.length,
      contributors: [...new Set([...state.contributors, ...accepted.map((a) => a.email)])].sort(),
    };
    signal?.throwIfAborted();
    await commitVersion(ws, model, record, values, records.length, startedAt.toISOString());
    after = await reconcile(stateContext(ctx));
  }

  const rejectedByCode: Partial<Record<ErrorCode, number>> = {};
  for (const r of rejected) rejectedByCode[r.code] = (rejectedByCode[r.code] ?? 0) + 1;
  const summary: RoundSummary = {
    outcome: commit ? 'merged' : datasites > 0 ? 'too-few-datasites' : rejected.length > 0 ? 'none-accepted' : 'nothing-new',
    version: after.version,
    previousVersion: state.version,
    globalSha256: after.globalSha256,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    counts: { accepted: records.length, rejected: rejected.length, replayed: replayed.length, waiting: waiting.length },
    rejectedByCode,
    accepted: records,
    rejected,
    replayed,
    waiting,
    contributors: after.contributors.length,
    params: ledgerParams,
  };
  await writeStatus(ws.aggregatorPrivateDir(), summary, ctx.now());
  logger.info({ outcome: summary.outcome, version: summary.version, ...summary.counts, durationMs: summary.durationMs }, 'round finished');
  return summary;
}

/**
 * The last round's memory (its sum and read buffers), which the next round of the same
 * model reuses: the file workers already hold it, and its pages are already touched
 * (a fresh page costs about 10 µs on some virtual machines: 12 MB are 3,000 of them).
 * A round that finds none (the first, or one beside another) makes its own.
 */
let spareMemory: KernelMemory | null = null;

function roundMemory(bytes: number): KernelMemory {
  const spare = spareMemory;
  spareMemory = null;
  if (spare?.bytesAsked === bytes) {
    spare.reset();
    return spare;
  }
  if (spare) forgetShared(spare.buffer);
  return new KernelMemory(bytes);
}

function keepForNextRound(memory: KernelMemory): void {
  if (spareMemory) forgetShared(spareMemory.buffer); // the file workers hold no memory a round will not use
  spareMemory = memory;
}

/**
 * Profiles whose published delta would be new to a round: the manifest parses
 * and its hash is not in `known` (merged or already refused). Cheap: manifests
 * only. Unparseable manifests do not count (a round refuses them again anyway).
 */
export async function findNewDeltas(ws: Workspace, known: ReadonlySet<string>, logger: Logger): Promise<ProfileRef[]> {
  const fresh: ProfileRef[] = [];
  for (const ref of await discoverProfiles(ws, logger)) {
    const manifest = await peekManifest(ref.dir);
    if (manifest && !known.has(manifest.sha256)) fresh.push(ref);
  }
  return fresh;
}

/** The state of the committed versions (runs the same idempotent recovery as a round). */
export async function loadCommittedState(ctx: Omit<RoundContext, 'random' | 'now' | 'signal'>): Promise<CommittedState> {
  return reconcile(stateContext(ctx));
}

function stateContext(ctx: Pick<RoundContext, 'ws' | 'model' | 'params' | 'logger'>) {
  return { ws: ctx.ws, model: ctx.model, seed: ctx.params.seed, maxStaleness: ctx.params.maxStaleness, logger: ctx.logger };
}

interface RoundJob {
  ref: ProfileRef;
  /** Position in the round (which read buffer it uses). */
  i: number;
  /** No later profile of the same datasite follows. */
  lastOfSite: boolean;
}

/** The profiles of a stream of datasites, numbered, each knowing whether it is its datasite's last. */
async function* roundJobs(sites: AsyncIterable<ProfileRef[]>): AsyncGenerator<RoundJob> {
  let i = 0;
  for await (const site of sites) for (let p = 0; p < site.length; p++) yield { ref: site[p], i: i++, lastOfSite: p === site.length - 1 };
}

interface AcceptedDelta {
  values: Float32Array;
  weight: number;
}

/** The most a datasite weighs in a round, however many profiles it has. */
export const MAX_DATASITE_WEIGHT = 1;

/**
 * Add one datasite's accepted deltas to the merger as ONE delta: their weighted
 * mean, with weight min(Σ weights, MAX_DATASITE_WEIGHT). A datasite counts as one
 * person, in the weighted mean and in the robust modes alike. Returns the factor
 * each delta's own weight was multiplied by.
 */
export function addDatasite(merger: Merger, deltas: readonly AcceptedDelta[]): number {
  const total = deltas.reduce((sum, d) => sum + d.weight, 0);
  const weight = Math.min(total, MAX_DATASITE_WEIGHT);
  if (deltas.length === 1) {
    merger.add(deltas[0].values, weight);
  } else {
    const mean = new Float32Array(deltas[0].values.length);
    for (const d of deltas) for (let i = 0; i < mean.length; i++) mean[i] += (d.weight / total) * d.values[i];
    merger.add(mean, weight);
  }
  return weight / total;
}

/** The parameters a round publishes in the ledger (not the seed). */
export function publicParams(p: RoundParams): Record<string, string | number> {
  return {
    serverLr: p.serverLr,
    mergeMode: p.mergeMode,
    ...(p.mergeMode === 'trimmed' ? { trimFraction: p.trimFraction } : {}),
    serverClipNorm: p.serverClipNorm,
    serverNoiseStd: p.serverNoiseStd,
    clipNorm: p.clipNorm,
    noiseTolerance: p.noiseTolerance,
    maxStaleness: p.maxStaleness,
    staleDecay: p.staleDecay,
  };
}
