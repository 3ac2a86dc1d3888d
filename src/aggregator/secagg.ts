import { lstatSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { contentKey, readJsonFile, readRegularFile, writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import type { Config } from '../shared/config';
import { AppError, formatError, isAppError } from '../shared/errors';
import type { GlobalExpect } from '../shared/global-model';
import type { SecaggRecord } from '../shared/ledger';
import { forgetShared } from '../shared/hash-workers';
import { KernelMemory } from '../shared/kernels';
import { decodeNpy, encodeNpy } from '../shared/npy';
import { PERMISSION_FILE, type PermissionFile, type PermissionRule } from '../shared/permissions';
import { mechanism, preconditionedSpec, subspaceSpec, SUBSPACE_DEFAULTS, type MechanismSpec } from '../shared/model/mechanism';
import { DP_COUNT_SHARE } from '../shared/model/subspace';
import { sumProblem } from '../shared/secagg/bound';
import { contributionBound, contributionLayout, roundEncoding, runRoundNoise, splitSum, subspaceRunLengths, type RunPrivacy } from '../shared/secagg/contribution';
import { decodeSum, maxCohortSize, scaleOf, type Encoding } from '../shared/secagg/encoding';
import {
  COHORT_FILE,
  fromBase64,
  header,
  INBOX_DIR,
  inboxFile,
  KEYS_FILE,
  layoutLength,
  maskedPayloadBytes,
  MAX_LIST_FILE_BYTES,
  MAX_SMALL_FILE_BYTES,
  MODULUS_BITS,
  parseKeysFile,
  parseRevealFile,
  parseSharesFile,
  readMaskedInput,
  readMaskedManifest,
  readPhaseFile,
  RESULT_FILE,
  REVEAL_FILE,
  ROUND_FILE,
  SHARES_FILE,
  UNMASK_FILE,
  writeInboxFiles,
  writePhaseFile,
  type CohortFile,
  type ContributionLayout,
  type InboxFile,
  type MaskedManifest,
  type ResultFile,
  type RoundFile,
  type RoundNoise,
  type SharesFile,
  type UnmaskFile,
} from '../shared/secagg/files';
import { cohortShape, graphDropout, neighbourGraph } from '../shared/secagg/graph';
import { addMod } from '../shared/secagg/prg';
import { unmaskSum, type CohortView, type Reveal } from '../shared/secagg/protocol';
import { isRoundId } from '../shared/workspace';
import { discoverMembers } from './discover';
import { planDpRound, recordDpRoundOpened, settleDpRun } from './dp-run';
import { ensurePermissions } from './grant';
import { inOrder } from './pipeline';
import { loadLedgerSecret, participantTag, ROUND_RECORD_FORMAT_VERSION, type RoundRecord } from './record';
import { loadCommittedState, publicParams, READ_AHEAD, type RoundContext } from './round';
import { commitVersion } from './state';

/**
 * The aggregator's side of secure aggregation: a state machine over one round at
 * a time, driven by `advanceSecureRound` (the daemon calls it on file events and
 * on a timer; the in-process driver calls it in a loop). Each call looks at the
 * files, and moves the round on when every member has answered the current phase
 * or its deadline passed:
 *
 *   open: ≥ max(MIN_PARTICIPANTS, T) datasites discovered → `round.json` (readable by them)
 *   keys → cohort: ≥ T valid, distinct key pairs (else abort) → `cohort.json`, random order and graph
 *   shares → U2: members whose shares are complete (≥ T, else abort) → `inbox/<i>.json`, one per member
 *   masked → U3: members whose masked input is valid; |U3| < T aborts WITHOUT `unmask.json`;
 *            else the masked sum is kept privately, then `unmask.json`
 *   reveal → unmask (t shares per secret, else abort: nothing unmasks anyone), decode,
 *            Global_V ← the round's mechanism applied to the sum (`mechanism.ts`: with
 *            DP_EPSILON > 0 a round of a DP training run, `dp-run.ts`; else the federated
 *            optimizer's preconditioned step), committed as a plain round is
 *            (round record, then Global_V, then ledger and grants), then `result.json`
 *
 * The mechanism keeps no state between rounds: everything the update needs is in
 * the round file (kept in the private state) and the masked sum file; which DP
 * round comes next is `dp-run.ts`'s decision.
 *
 * Crash safety: the private round state (`private/.../aggregator/secagg/r000007.json`,
 * it names members by email) is written BEFORE the public file of each transition,
 * so a restart republishes the same file and continues; a restart after the deadlines
 * moves on at once (usually to an abort). A commit interrupted after Global_V is
 * recognised by its round record (which names the round) and not made twice.
 * A member whose file is malformed, oversized, of the wrong length, or whose keys
 * duplicate another's is left out with an error naming the file; the round goes on.
 */

const STATE_FORMAT_VERSION = 2;
/** States of the FedAvg-delta rounds (round.json version 1): a round still open in it is abandoned on upgrade. */
const PREVIOUS_STATE_FORMAT_VERSION = 1;
const MAX_STATE_BYTES = 64 * 1024 * 1024; // 64 MiB: a cohort of 100,000 with keys and emails
const NPY_HEADER_SLACK_BYTES = 4096;
/** Finished rounds whose folders are kept (public and private); older ones are deleted. */
const KEEP_FINISHED_ROUNDS = 3;
/** How a secure round names a member in the ledger tag (one tag per datasite and version). */
const LEDGER_PROFILE = 'datasite';

export interface SecureParams {
  /** SECAGG_PHASE_MS: each phase's deadline after the previous one. */
  phaseMs: number;
  scaleBits: number;
  /** T floor: max(SECAGG_MIN_SURVIVORS, MIN_DATASITES). */
  minSurvivors: number;
  survivorFraction: number;
  /** SECAGG_DROPOUT_RATE: the least dropout rate a sparse graph is sized for (`graphDropout`). */
  dropoutFloor: number;
  fullGraphMax: number;
  /** Datasites discovered before a round opens (MIN_PARTICIPANTS, at least T). */
  minParticipants: number;
  minDatasites: number;
  /**
   * DP_EPSILON > 0: model rounds are DP training runs (`dp-run.ts`), two rounds
   * of the `subspace` mechanism whose noise makes the run (epsilon, delta)-DP per
   * datasite (`runRoundNoise`), one run per `periodDays`. Null: no noise.
   */
  dp: (RunPrivacy & { subspace: typeof SUBSPACE_DEFAULTS; periodDays: number }) | null;
  /** Without DP: what the members contribute and how the sum becomes Global_V (the federated optimizer). */
  mechanism: MechanismSpec;
  /** Refuse a sum outside what honest members can add (`sumProblem`); off only to measure an attack without it. */
  checkSum: boolean;
}

/** How many standard deviations of its noise the decoded members count may fall below the MIN_DATASITES floor. */
const MEMBERS_NOISE_SIGMAS = 3;

/**
 * Secure-round parameters from the configuration. DP_EPSILON > 0: DP training
 * runs of the `subspace` mechanism (its defaults, at most MODEL_RANK dimensions),
 * (DP_EPSILON, DP_DELTA)-DP per datasite over each run, one run per
 * PRIVACY_PERIOD_DAYS. DP_EPSILON=0: rounds of the federated optimizer
 * (`preconditioned`, ALS_REG, ALS_ALPHA, CONTRIBUTION_CLIP_NORM) without noise.
 */
export function secureParams(config: Config, model: Pick<GlobalExpect, 'items' | 'rank'>): SecureParams {
  const minSurvivors = Math.max(config.SECAGG_MIN_SURVIVORS, config.MIN_DATASITES);
  const spec = preconditionedSpec({ reg: config.ALS_REG, alpha: config.ALS_ALPHA }, config.CONTRIBUTION_CLIP_NORM);
  const subspace = { ...SUBSPACE_DEFAULTS, dimensions: Math.min(SUBSPACE_DEFAULTS.dimensions, model.rank) };
  return {
    phaseMs: config.SECAGG_PHASE_MS,
    scaleBits: config.SECAGG_SCALE_BITS,
    minSurvivors,
    survivorFraction: config.SECAGG_SURVIVOR_FRACTION,
    dropoutFloor: config.SECAGG_DROPOUT_RATE,
    fullGraphMax: config.SECAGG_FULL_GRAPH_MAX,
    minParticipants: Math.max(config.MIN_PARTICIPANTS, minSurvivors),
    minDatasites: config.MIN_DATASITES,
    dp: config.DP_EPSILON > 0 ? { epsilon: config.DP_EPSILON, delta: config.DP_DELTA, countShare: DP_COUNT_SHARE, subspace, periodDays: config.PRIVACY_PERIOD_DAYS } : null,
    mechanism: spec,
    checkSum: true,
  };
}

/**
 * What a secure round sums when it is not the model delta: the community
 * statistics (`community-round.ts`). It brings its own layout and its own
 * commit, and its context's workspace is a `secureRoundsView`, so its rounds
 * live in their own folders and never mix with the model's. Without a
 * purpose, a round sums model deltas and commits Global_V.
 */
export interface RoundPurpose {
  layout: ContributionLayout;
  /** L2 bound of one contribution (`params.clipNorm`). */
  clipNorm: number;
  /** `params.weightScale`: the purpose's scale of a weight coordinate, if it has one. */
  weightScale: number;
  /** The noise its rounds ask the members for (sigma in quantization steps of the sum, at SECAGG_SCALE_BITS). */
  noise: RoundNoise;
  /** Why no round should open now (e.g. this week's figures are out), or null. */
  holdBack(now: Date): Promise<string | null>;
  /** Use the survivors' decoded sum; a refusal aborts the round. */
  commit(sum: Float64Array, round: SummedRound): Promise<{ refused: string } | null>;
}

/** What a purpose's commit knows about the round besides its sum. */
export interface SummedRound {
  roundId: string;
  createdAt: string;
  survivors: number;
  /** T, the survivors each member's noise share was calibrated for. */
  minSurvivors: number;
  encoding: Encoding;
  noise: RoundNoise;
}

export type SecureContext = RoundContext & { secure: SecureParams; purpose?: RoundPurpose };

export type Phase = 'keys' | 'shares' | 'masked' | 'reveal' | 'finished';
/** The phases in which the round waits for its members. */
export type ActivePhase = Exclude<Phase, 'finished'>;

interface CohortMemberState {
  email: string;
  cPk: string;
  sPk: string;
}

/** The private state of one round (names members by email: never published). */
interface RoundState {
  formatVersion: typeof STATE_FORMAT_VERSION;
  roundId: string;
  phase: Phase;
  round: RoundFile;
  invited: string[];
  cohort: { members: CohortMemberState[]; neighbours: number[][]; k: number; t: number; minSurvivors: number; createdAt: string } | null;
  u2: number[] | null;
  survivors: number[] | null;
  dropped: number[] | null;
  /** sha256 of each survivor's masked input, by survivor (for the ledger). */
  maskedSha256: string[] | null;
  result: ResultFile | null;
  weightSum: number | null;
}

export interface SecureRoundSummary {
  roundId: string;
  outcome: 'merged' | 'aborted';
  reason: string | null;
  baseVersion: number;
  /** The version the round produced (merged), else the base. */
  version: number;
  invited: number;
  cohort: number;
  /** Emails of the survivors (private: the caller must not publish them). */
  survivors: string[];
  dropped: number;
  k: number | null;
  t: number | null;
  minSurvivors: number | null;
  /** Decoded Σ w (merged only). */
  weightSum: number | null;
  openedAt: string;
  endedAt: string;
}

export type SecureStep =
  | { action: 'idle'; reason: string }
  | { action: 'opened' | 'cohort' | 'routed' | 'unmask'; roundId: string }
  | { action: 'waiting'; roundId: string; phase: ActivePhase; answered: number; expected: number }
  | { action: 'finished'; roundId: string; summary: SecureRoundSummary };

export interface AdvanceOptions {
  /** Treat the current phase's deadline as passed (the in-process driver, once nobody else will answer). */
  force?: boolean;
}

/** Move the secure round on as far as the files allow right now (at most one transition). */
export async function advanceSecureRound(ctx: SecureContext, options: AdvanceOptions = {}): Promise<SecureStep> {
  const state = await latestState(ctx);
  // a crash may have cut off the last transition's public files: republish them first
  if (state !== null) await republishOnce(ctx, state);
  if (state === null || state.phase === 'finished') return openRound(ctx, state);
  const due = (deadline: string) => options.force === true || ctx.now().getTime() >= Date.parse(deadline);
  const { deadlines } = state.round.params;
  switch (state.phase) {
    case 'keys':
      return collectKeys(ctx, state, due(deadlines.keysBy));
    case 'shares':
      return collectShares(ctx, state, due(deadlines.sharesBy));
    case 'masked':
      return collectMasked(ctx, state, due(deadlines.maskedBy));
    case 'reveal':
      return collectReveals(ctx, state, due(deadlines.revealBy));
  }
}

/** The round in progress, if any (round id and phase), for logs and the status page. */
export async function currentSecureRound(ctx: Pick<SecureContext, 'ws'>): Promise<{ roundId: string; phase: Phase } | null> {
  const state = await latestState(ctx);
  return state && state.phase !== 'finished' ? { roundId: state.roundId, phase: state.phase } : null;
}

// ---------------------------------------------------------------- opening

async function openRound(ctx: SecureContext, previous: RoundState | null): Promise<SecureStep> {
  const { ws, secure, logger, purpose } = ctx;
  const held = await purpose?.holdBack(ctx.now());
  if (held) return { action: 'idle', reason: held };
  const invited = await discoverMembers(ws, logger);
  if (invited.length < secure.minParticipants) {
    return { action: 'idle', reason: `${invited.length} datasites take part; a secure round needs ${secure.minParticipants} (MIN_PARTICIPANTS, SECAGG_MIN_SURVIVORS, MIN_DATASITES)` };
  }
  const committed = await loadCommittedState(ctx);
  let spec = secure.mechanism;
  let layout: ContributionLayout;
  let weightScale: number;
  let chosen: { encoding: Encoding; noise: RoundNoise } | null;
  const { dp } = secure;
  if (!purpose && dp) {
    const plan = await planDpRound(ctx, committed, dp.periodDays);
    if ('idle' in plan) return { action: 'idle', reason: plan.idle };
    spec = subspaceSpec(plan.phase, dp.subspace);
  }
  if (purpose) {
    // a purpose brings its own layout, bound and noise at the configured precision
    layout = purpose.layout;
    weightScale = purpose.weightScale;
    const encoding: Encoding = { length: layoutLength(layout), clipNorm: purpose.clipNorm, scaleBits: secure.scaleBits };
    chosen = maxCohortSize(encoding, purpose.noise.sigma) >= invited.length ? { encoding, noise: purpose.noise } : null;
  } else {
    const bound = mechanism(spec);
    layout = contributionLayout(bound, ctx.model.items, ctx.model.rank);
    weightScale = bound.membersScale;
    const run = dp && spec.name === 'subspace' ? { privacy: dp, lengths: subspaceRunLengths(spec.params, ctx.model.items, ctx.model.rank), phase: spec.params.phase } : null;
    const noiseAt = (encoding: Encoding): RoundNoise => (run ? runRoundNoise(encoding, run.privacy, run.lengths, run.phase) : { mechanism: 'none', sigma: 0 });
    chosen = roundEncoding({ length: layoutLength(layout), clipNorm: contributionBound(bound.bound, weightScale) }, secure.scaleBits, invited.length, noiseAt);
  }
  if (chosen === null) {
    throw new AppError('ERR_CONFIG_INVALID', `SECAGG_SCALE_BITS=${secure.scaleBits} with the noise the round asks (DP_EPSILON=${dp?.epsilon ?? 0}, or INSIGHTS_EPSILON for community rounds) leaves no room for ${invited.length} members in 32 bits: lower SECAGG_SCALE_BITS`);
  }
  const { encoding, noise } = chosen;
  const roundId = await nextRoundId(ctx, previous);
  const openedAt = ctx.now();
  const at = (phases: number) => new Date(openedAt.getTime() + phases * secure.phaseMs).toISOString();
  const round: RoundFile = {
    ...header('round'),
    roundId,
    baseVersion: committed.version,
    mechanism: spec,
    layout,
    params: {
      modulusBits: MODULUS_BITS,
      scaleBits: encoding.scaleBits,
      clipNorm: encoding.clipNorm,
      weightScale,
      noise,
      deadlines: { keysBy: at(1), sharesBy: at(2), maskedBy: at(3), revealBy: at(4) },
    },
    createdAt: openedAt.toISOString(),
  };
  const state: RoundState = { formatVersion: STATE_FORMAT_VERSION, roundId, phase: 'keys', round, invited, cohort: null, u2: null, survivors: null, dropped: null, maskedSha256: null, result: null, weightSum: null };
  if (!purpose && spec.name === 'subspace') await recordDpRoundOpened(ctx, spec.params.phase, roundId);
  await publishState(ctx, state);
  const phase = spec.name === 'subspace' && !purpose ? spec.params.phase : undefined;
  logger.info({ roundId, baseVersion: round.baseVersion, invited: invited.length, mechanism: purpose ? undefined : spec.name, phase, scaleBits: encoding.scaleBits, noiseSigma: noise.sigma, keysBy: round.params.deadlines.keysBy }, 'opened secure round');
  return { action: 'opened', roundId };
}

async function nextRoundId(ctx: SecureContext, previous: RoundState | null): Promise<string> {
  const published = (await fs.readdir(ctx.ws.secaggDir(ctx.ws.email)).catch(() => [] as string[])).filter(isRoundId);
  const numbers = [...published, ...(previous ? [previous.roundId] : [])].map((id) => Number(id.slice(1)));
  return `r${String(Math.max(0, ...numbers) + 1).padStart(6, '0')}`;
}

// ---------------------------------------------------------------- keys → cohort

/** Where member `email`'s answer `name` for this round is. */
function answerFile(ctx: SecureContext, state: RoundState, email: string, name: string): string {
  return path.join(ctx.ws.secaggAnswersDir(state.roundId, email), name);
}

/** Whether `file` exists (a symlink counts; reading it is refused later). Synchronous: a large round checks thousands of answers a step. */
function exists(file: string): boolean {
  try {
    return lstatSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

async function collectKeys(ctx: SecureContext, state: RoundState, due: boolean): Promise<SecureStep> {
  const { logger, secure } = ctx;
  const files = state.invited.map((email) => answerFile(ctx, state, email, KEYS_FILE));
  const answered = files.filter(exists).length;
  if (!due && answered < state.invited.length) return { action: 'waiting', roundId: state.roundId, phase: 'keys', answered, expected: state.invited.length };

  const keys: CohortMemberState[] = [];
  const fileOf = new Map<string, string>();
  for (const [i, email] of state.invited.entries()) {
    const parsed = readAnswer(ctx, files[i], MAX_SMALL_FILE_BYTES, (v, f) => parseKeysFile(v, f, { roundId: state.roundId }));
    if (parsed === null) continue;
    if (parsed.baseVersion !== state.round.baseVersion) {
      logger.error({ roundId: state.roundId, file: files[i] }, `${files[i]}: baseVersion ${parsed.baseVersion} is not the round's ${state.round.baseVersion}; the member is left out`);
      continue;
    }
    keys.push({ email, cPk: parsed.cPk, sPk: parsed.sPk });
    fileOf.set(email, files[i]);
  }
  // A key seen twice (copied from another member's keys.json) would let one member pose as another: both are left out.
  const uses = new Map<string, number>();
  for (const k of keys) for (const key of [k.cPk, k.sPk]) uses.set(key, (uses.get(key) ?? 0) + 1);
  const distinct = keys.filter((k) => {
    const ok = uses.get(k.cPk) === 1 && uses.get(k.sPk) === 1;
    if (!ok) logger.error({ roundId: state.roundId, file: fileOf.get(k.email) }, `${fileOf.get(k.email)}: a public key also appears in another member's keys.json (duplicate member); both are left out`);
    return ok;
  });

  const maxSize = maxCohortSize({ length: layoutLength(state.round.layout), clipNorm: state.round.params.clipNorm, scaleBits: state.round.params.scaleBits }, state.round.params.noise.sigma);
  const members = shuffle(distinct, ctx).slice(0, maxSize);
  if (members.length < secure.minSurvivors) {
    return abort(ctx, state, `only ${members.length} datasites sent valid keys in time; a secure round needs at least ${secure.minSurvivors}`);
  }
  const recent = (await finishedSecureRounds(ctx)).map((r) => ({ cohort: r.cohort, survivors: r.survivors.length, outcome: r.outcome }));
  const cap = 1 - secure.survivorFraction;
  const dropoutRate = graphDropout(recent, { floor: Math.min(secure.dropoutFloor, cap), cap });
  const shape = cohortShape(members.length, { fullGraphMax: secure.fullGraphMax, minSurvivors: secure.minSurvivors, survivorFraction: secure.survivorFraction, dropoutRate });
  const neighbours = neighbourGraph(members.length, shape.k, (n) => ctx.random.int(n));
  const next: RoundState = { ...state, phase: 'shares', cohort: { members, neighbours, k: shape.k, t: shape.t, minSurvivors: shape.minSurvivors, createdAt: ctx.now().toISOString() } };
  await publishState(ctx, next);
  logger.info({ roundId: state.roundId, cohort: members.length, k: shape.k, t: shape.t, minSurvivors: shape.minSurvivors, graphDropout: dropoutRate }, 'secure round cohort fixed');
  return { action: 'cohort', roundId: state.roundId };
}

/** Fisher-Yates with the round's randomness: cohort positions say nothing about who answered first. */
function shuffle<T>(items: readonly T[], ctx: SecureContext): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = ctx.random.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A member's answer, or null when absent or invalid (invalid: logged with the file, the member is left out). */
function readAnswer<T>(ctx: SecureContext, file: string, maxBytes: number, parse: (value: unknown, file: string) => T): T | null {
  try {
    return readPhaseFile(file, maxBytes, parse);
  } catch (err) {
    if (!isAppError(err)) throw err;
    ctx.logger.error({ file: err.file ?? file, code: err.code }, `${formatError(err)}; the member is left out of this phase`);
    return null;
  }
}

// ---------------------------------------------------------------- shares → inboxes

async function collectShares(ctx: SecureContext, state: RoundState, due: boolean): Promise<SecureStep> {
  const { logger } = ctx;
  const cohort = state.cohort!;
  const n = cohort.members.length;
  const files = cohort.members.map((m) => answerFile(ctx, state, m.email, SHARES_FILE));
  const answered = files.filter(exists).length;
  if (!due && answered < n) return { action: 'waiting', roundId: state.roundId, phase: 'shares', answered, expected: n };

  const valid = new Map<number, SharesFile>();
  for (const [u, file] of files.entries()) {
    const shares = readAnswer(ctx, file, MAX_LIST_FILE_BYTES, (v, f) => parseSharesFile(v, f, { roundId: state.roundId, n }));
    if (shares === null) continue;
    const to = shares.shares.map((s) => s.to).sort((a, b) => a - b);
    if (shares.from !== u || JSON.stringify(to) !== JSON.stringify(cohort.neighbours[u])) {
      logger.error({ roundId: state.roundId, file }, `${file}: shares must come from member ${u} and go to each of its ${cohort.neighbours[u].length} neighbours exactly once; the member is left out`);
      continue;
    }
    valid.set(u, shares);
  }
  const u2 = [...valid.keys()].sort((a, b) => a - b);
  if (u2.length < cohort.minSurvivors) return abort(ctx, state, `only ${u2.length} members sent their shares in time; the round needs ${cohort.minSurvivors}`);
  const next: RoundState = { ...state, phase: 'masked', u2 };
  await publishState(ctx, next, valid);
  logger.info({ roundId: state.roundId, u2: u2.length, cohort: n }, 'secure round shares routed');
  return { action: 'routed', roundId: state.roundId };
}

/** Each parsed shares file's boxes by recipient, the first box for each (a file serves k inboxes: one look-up each, not a scan). */
const boxIndex = new WeakMap<SharesFile, Map<number, SharesFile['shares'][number]>>();

function boxesTo(file: SharesFile): Map<number, SharesFile['shares'][number]> {
  let index = boxIndex.get(file);
  if (index === undefined) {
    index = new Map();
    for (const box of file.shares) if (!index.has(box.to)) index.set(box.to, box);
    boxIndex.set(file, index);
  }
  return index;
}

/**
 * The inbox of member `v`: the sealed shares its neighbours in U2 addressed to it. `sent` keeps each
 * member's parsed shares file for the inboxes built in one pass (each file serves k inboxes); `u2` is state.u2 as a set.
 */
function buildInbox(ctx: SecureContext, state: RoundState, u2: ReadonlySet<number>, v: number, sent: Map<number, SharesFile | null>): InboxFile {
  const cohort = state.cohort!;
  const shares: InboxFile['shares'] = [];
  for (const u of cohort.neighbours[v]) {
    if (!u2.has(u)) continue;
    if (!sent.has(u)) {
      const file = answerFile(ctx, state, cohort.members[u].email, SHARES_FILE);
      sent.set(u, readPhaseFile(file, MAX_LIST_FILE_BYTES, (value, f) => parseSharesFile(value, f, { roundId: state.roundId, n: cohort.members.length })));
    }
    const from = sent.get(u);
    const box = from ? boxesTo(from).get(v) : undefined;
    if (box) shares.push({ from: u, nonce: box.nonce, ciphertext: box.ciphertext, tag: box.tag });
  }
  return { ...header('inbox'), roundId: state.roundId, to: v, u2: state.u2!, shares };
}

// ---------------------------------------------------------------- masked inputs → survivors

function maskedSumFile(ctx: Pick<SecureContext, 'ws'>, roundId: string): string {
  return path.join(ctx.ws.aggregatorSecaggPrivateDir(), `${roundId}.sum.npy`);
}

async function collectMasked(ctx: SecureContext, state: RoundState, due: boolean): Promise<SecureStep> {
  const { logger } = ctx;
  const cohort = state.cohort!;
  const u2 = state.u2!;
  const length = layoutLength(state.round.layout);
  const expect = { roundId: state.roundId, length };
  const dirOf = (u: number) => ctx.ws.secaggAnswersDir(state.roundId, cohort.members[u].email);
  if (!due) {
    // Counting answers reads the small manifests only: the payloads are read (and hashed) once, when the phase closes.
    const answered = u2.filter((u) => maskedInputArrived(dirOf(u), expect)).length;
    if (answered < u2.length) return { action: 'waiting', roundId: state.roundId, phase: 'masked', answered, expected: u2.length };
  }
  const { sum, outcomes } = await sumMaskedInputs(u2.map(dirOf), expect);
  const inputs = new Map<number, { sha256: string }>();
  const invalid: AppError[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    if (isAppError(outcome)) invalid.push(outcome);
    else if (outcome !== null) inputs.set(u2[i], { sha256: outcome.sha256 });
  }
  const answered = inputs.size + invalid.length;
  if (!due && answered < u2.length) return { action: 'waiting', roundId: state.roundId, phase: 'masked', answered, expected: u2.length };
  for (const err of invalid) logger.error({ roundId: state.roundId, file: err.file, code: err.code }, `${formatError(err)}; the member is left out of the sum`);

  const survivors = [...inputs.keys()].sort((a, b) => a - b);
  if (survivors.length < cohort.minSurvivors) {
    // Nothing that unmasks anyone is published: no unmask.json, no request for shares.
    return abort(ctx, state, `only ${survivors.length} masked inputs arrived in time; the round needs ${cohort.minSurvivors} survivors`);
  }
  await writeFileAtomic(maskedSumFile(ctx, state.roundId), encodeNpy(sum, [length]), { private: true });
  const next: RoundState = {
    ...state,
    phase: 'reveal',
    survivors,
    dropped: u2.filter((u) => !inputs.has(u)),
    maskedSha256: survivors.map((u) => inputs.get(u)!.sha256),
  };
  await publishState(ctx, next);
  logger.info({ roundId: state.roundId, survivors: survivors.length, dropped: next.dropped!.length }, 'secure round survivors fixed; unmask requested');
  return { action: 'unmask', roundId: state.roundId };
}

// ---------------------------------------------------------------- reveals → Global_V

function toCohortView(state: RoundState): CohortView {
  const cohort = state.cohort!;
  return {
    roundId: state.roundId,
    members: cohort.members.map((m, index) => ({ index, cPk: fromBase64(m.cPk), sPk: fromBase64(m.sPk) })),
    neighbours: cohort.neighbours,
    t: cohort.t,
    minSurvivors: cohort.minSurvivors,
  };
}

/**
 * Read, check and add up (mod 2^32: exact in any order) the masked inputs in `dirs`. Each
 * outcome is the input's manifest (added), null (absent: nothing to add yet) or the AppError
 * that leaves it out. READ_AHEAD inputs are read and hashed (on worker threads) while the
 * current one is added, each into one of READ_AHEAD + 1 reused buffers: memory stays a few
 * inputs, whatever the cohort.
 */
export async function sumMaskedInputs(dirs: readonly string[], expect: { roundId: string; length: number }): Promise<{ sum: Uint32Array; outcomes: (MaskedManifest | AppError | null)[] }> {
  // the sum and the read buffers share one memory, where the SIMD kernel adds each input in place
  const payloadBytes = maskedPayloadBytes(expect.length);
  const kernels = new KernelMemory(expect.length * 4 + (READ_AHEAD + 1) * payloadBytes + (READ_AHEAD + 2) * 16);
  const sum = kernels.uint32(expect.length);
  const buffers = Array.from({ length: READ_AHEAD + 1 }, () => kernels.bytes(payloadBytes));
  const jobs = dirs.map((dir, i) => ({ dir, buffer: buffers[i % buffers.length] }));
  const outcomes: (MaskedManifest | AppError | null)[] = [];
  try {
    for await (const [, result] of inOrder(jobs, (job) => readMaskedInput(job.dir, expect, job.buffer), READ_AHEAD)) {
      if (!result.ok) {
        if (!isAppError(result.error)) throw result.error;
        outcomes.push(result.error);
      } else if (result.value === null) {
        outcomes.push(null);
      } else {
        if (!kernels.addWords(sum, result.value.values, 1)) addMod(sum, result.value.values);
        outcomes.push(result.value.manifest);
      }
    }
  } finally {
    forgetShared(kernels.buffer);
  }
  return { sum, outcomes };
}

/** True when a member's masked input is there to read: its manifest and the payload it names (or a manifest that is wrong: that answer is final too). */
function maskedInputArrived(dir: string, expect: { roundId: string; length: number }): boolean {
  try {
    const named = readMaskedManifest(dir, expect);
    return named !== null && exists(named.payloadFile);
  } catch (err) {
    if (!isAppError(err)) throw err;
    return true;
  }
}

async function collectReveals(ctx: SecureContext, state: RoundState, due: boolean): Promise<SecureStep> {
  const { logger } = ctx;
  const cohort = state.cohort!;
  const survivors = state.survivors!;
  const dropped = new Set(state.dropped!);
  const surviving = new Set(survivors);
  const files = survivors.map((u) => answerFile(ctx, state, cohort.members[u].email, REVEAL_FILE));
  const answered = files.filter(exists).length;
  if (!due && answered < survivors.length) return { action: 'waiting', roundId: state.roundId, phase: 'reveal', answered, expected: survivors.length };

  const reveals: Reveal[] = [];
  for (const [i, u] of survivors.entries()) {
    const file = files[i];
    const parsed = readAnswer(ctx, file, MAX_LIST_FILE_BYTES, (v, f) => parseRevealFile(v, f, { roundId: state.roundId, n: cohort.members.length }));
    if (parsed === null) continue;
    const neighbours = new Set(cohort.neighbours[u]);
    const wrong =
      parsed.from !== u ||
      parsed.bShares.some((s) => !neighbours.has(s.of) || !surviving.has(s.of)) ||
      parsed.sShares.some((s) => !neighbours.has(s.of) || !dropped.has(s.of));
    if (wrong) {
      logger.error({ roundId: state.roundId, file }, `${file}: shares must come from member ${u}, b-shares only of surviving neighbours, s-shares only of dropped ones; its reveal is ignored`);
      continue;
    }
    reveals.push({
      from: u,
      bShares: parsed.bShares.map((s) => ({ of: s.of, share: fromBase64(s.share) })),
      sShares: parsed.sShares.map((s) => ({ of: s.of, share: fromBase64(s.share) })),
    });
  }
  const masked = await readMaskedSum(ctx, state);
  let sum: Uint32Array;
  try {
    sum = await unmaskSum(masked, toCohortView(state), state.u2!, { survivors, dropped: state.dropped! }, reveals);
  } catch (err) {
    if (!isAppError(err, 'ERR_SECAGG_ABORT')) throw err;
    return abort(ctx, state, err.message);
  }
  return ctx.purpose ? commitPurpose(ctx, ctx.purpose, state, sum) : commit(ctx, state, sum);
}

/** Hand the decoded sum to the round's purpose; its refusal aborts the round. Idempotent after a restart: the same sum again. */
async function commitPurpose(ctx: SecureContext, purpose: RoundPurpose, state: RoundState, sum: Uint32Array): Promise<SecureStep> {
  const { round } = state;
  const encoding: Encoding = { length: sum.length, clipNorm: round.params.clipNorm, scaleBits: round.params.scaleBits };
  const survivors = state.survivors!.length;
  const refused = await purpose.commit(decodeSum(sum, encoding), { roundId: state.roundId, createdAt: round.createdAt, survivors, minSurvivors: state.cohort!.minSurvivors, encoding, noise: round.params.noise });
  if (refused !== null) return abort(ctx, state, refused.refused);
  ctx.logger.info({ roundId: state.roundId, survivors, dropped: state.dropped!.length }, 'secure round summed');
  return finish(ctx, state, { outcome: 'merged', reason: null, version: null });
}

async function readMaskedSum(ctx: SecureContext, state: RoundState): Promise<Uint32Array> {
  const file = maskedSumFile(ctx, state.roundId);
  const length = layoutLength(state.round.layout);
  const bytes = await readRegularFile(file, { maxBytes: length * 4 + NPY_HEADER_SLACK_BYTES });
  if (bytes === null) throw new AppError('ERR_AGGREGATOR_STATE', `${file} is missing, but round ${state.roundId} is waiting for reveals: restore the aggregator's private folder`, { file });
  return decodeNpy(bytes, file, { dtype: '<u4', shape: [length] }).data as Uint32Array;
}

/**
 * Decode the sum and commit it as Global_V version base + 1, in the plain
 * round's commit order (round record, Global_V payload, manifest, then ledger and
 * grants by `reconcile`), then publish `result.json`.
 */
async function commit(ctx: SecureContext, state: RoundState, sum: Uint32Array): Promise<SecureStep> {
  const { ws, model, params, secure, logger } = ctx;
  const { round } = state;
  const cohort = state.cohort!;
  const survivors = state.survivors!;
  const version = round.baseVersion + 1;
  let committed = await loadCommittedState(ctx);
  if (committed.version === version && committed.record?.secagg?.roundId === state.roundId) {
    logger.info({ roundId: state.roundId, version }, 'secure round was committed before a restart; publishing its result');
    return finish(ctx, state, { outcome: 'merged', reason: null, version });
  }
  if (committed.version !== round.baseVersion) return abort(ctx, state, `Global_V moved from v${round.baseVersion} to v${committed.version} during the round`);

  const encoding: Encoding = { length: sum.length, clipNorm: round.params.clipNorm, scaleBits: round.params.scaleBits };
  const decoded = decodeSum(sum, encoding);
  const bounds = { layout: round.layout, encoding, weightScale: round.params.weightScale, partBound: mechanism(round.mechanism).bound, survivors: survivors.length, minSurvivors: cohort.minSurvivors, noiseSigma: round.params.noise.sigma };
  const outOfBounds = secure.checkSum ? sumProblem(decoded, bounds) : null;
  if (outOfBounds !== null) return abort(ctx, state, outOfBounds);
  const { part, members: weight } = splitSum(decoded, round.layout, round.params.weightScale);
  // the noise std of each decoded coordinate: sigma quantization steps of 1/γ each, shares sized for T (S survivors add S/T of the variance)
  const noiseStd = (round.params.noise.mechanism === 'skellam' ? round.params.noise.sigma / scaleOf(encoding) : 0) * Math.sqrt(survivors.length / cohort.minSurvivors);
  // Σ m counts the members that contributed a model (m = 1 each). Under DP noise the count is blurred by the same noise:
  // the floor gives way by MEMBERS_NOISE_SIGMAS of it (every survivor's input is in the sum anyway, and each is DP-protected).
  const membersNoise = noiseStd / round.params.weightScale;
  const minWeight = Math.max(cohort.minSurvivors / 2, secure.minDatasites - 0.5) - MEMBERS_NOISE_SIGMAS * membersNoise;
  if (!(weight >= minWeight)) {
    return abort(ctx, state, `the sum holds the contributions of ${weight.toFixed(2)} datasites; a round needs ${minWeight.toFixed(2)} (MIN_DATASITES${membersNoise > 0 ? ', less the noise' : ''})`);
  }
  const update = mechanism(round.mechanism).apply(committed.values, part, model.items, model.rank, { count: Math.min(Math.max(weight, 1), survivors.length), noiseStd });
  const values = update.V;
  const secret = await loadLedgerSecret(ws.aggregatorPrivateDir());
  const emails = survivors.map((u) => cohort.members[u].email);
  const secagg: SecaggRecord = {
    protocol: 'secagg+',
    roundId: state.roundId,
    modulusBits: round.params.modulusBits,
    scaleBits: round.params.scaleBits,
    k: cohort.k,
    t: cohort.t,
    minSurvivors: cohort.minSurvivors,
    noise: round.params.noise,
    aggregation: round.mechanism.name,
    cohort: cohort.members.length,
    survivors: survivors.length,
    dropped: state.dropped!.length,
  };
  const record: RoundRecord = {
    formatVersion: ROUND_RECORD_FORMAT_VERSION,
    version,
    round: version,
    previousVersion: round.baseVersion,
    createdAt: round.createdAt,
    params: publicParams(params),
    accepted: survivors.map((u, i) => ({
      email: cohort.members[u].email,
      profile: LEDGER_PROFILE,
      participant: participantTag(secret, version, cohort.members[u].email, LEDGER_PROFILE),
      deltaSha256: state.maskedSha256![i],
      weight: 1,
      staleness: 0,
    })),
    rejectedCount: cohort.members.length - survivors.length,
    contributors: [...new Set([...committed.contributors, ...emails])].sort(),
    secagg,
  };
  ctx.signal?.throwIfAborted();
  await commitVersion(ws, model, record, values, survivors.length, round.createdAt);
  committed = await loadCommittedState(ctx);
  if (secure.dp && round.mechanism.name === 'subspace') await settleDpRun(ctx, committed, secure.dp.periodDays);
  logger.info({ roundId: state.roundId, version: committed.version, survivors: survivors.length, dropped: state.dropped!.length, members: Number(weight.toFixed(3)), mechanism: round.mechanism.name, ...update.report }, 'secure round merged');
  return finish(ctx, { ...state, weightSum: weight }, { outcome: 'merged', reason: null, version });
}

// ---------------------------------------------------------------- the end of a round

async function abort(ctx: SecureContext, state: RoundState, reason: string): Promise<SecureStep> {
  ctx.logger.warn({ roundId: state.roundId, phase: state.phase, reason }, 'secure round aborted: nobody is unmasked; the next round starts afresh');
  return finish(ctx, state, { outcome: 'aborted', reason, version: null });
}

async function finish(ctx: SecureContext, state: RoundState, end: Pick<ResultFile, 'outcome' | 'reason' | 'version'>): Promise<SecureStep> {
  const result: ResultFile = {
    ...header('result'),
    roundId: state.roundId,
    ...end,
    survivors: state.survivors ?? [],
    dropped: state.dropped ?? [],
    createdAt: ctx.now().toISOString(),
  };
  const next: RoundState = { ...state, phase: 'finished', result };
  await publishState(ctx, next);
  await pruneRounds(ctx);
  return { action: 'finished', roundId: state.roundId, summary: summarize(next) };
}

function summarize(state: RoundState): SecureRoundSummary {
  const result = state.result!;
  const cohort = state.cohort;
  return {
    roundId: state.roundId,
    outcome: result.outcome,
    reason: result.reason,
    baseVersion: state.round.baseVersion,
    version: result.version ?? state.round.baseVersion,
    invited: state.invited.length,
    cohort: cohort?.members.length ?? 0,
    survivors: (state.survivors ?? []).map((u) => cohort!.members[u].email),
    dropped: state.dropped?.length ?? 0,
    k: cohort?.k ?? null,
    t: cohort?.t ?? null,
    minSurvivors: cohort?.minSurvivors ?? null,
    weightSum: state.weightSum,
    openedAt: state.round.createdAt,
    endedAt: result.createdAt,
  };
}

/** Keep the newest KEEP_FINISHED_ROUNDS finished rounds (folders and private state); delete older ones. */
async function pruneRounds(ctx: SecureContext): Promise<void> {
  const ids = (await listStateIds(ctx)).slice(0, -KEEP_FINISHED_ROUNDS);
  for (const roundId of ids) {
    await fs.rm(ctx.ws.secaggRoundDir(ctx.ws.email, roundId), { recursive: true, force: true });
    ensuredRules.delete(ctx.ws.secaggRoundDir(ctx.ws.email, roundId));
    await fs.rm(stateFile(ctx, roundId), { force: true });
    published.delete(stateFile(ctx, roundId));
    await fs.rm(maskedSumFile(ctx, roundId), { force: true });
  }
}

// ---------------------------------------------------------------- publishing

/**
 * The rules this process last made each round folder's permission file say, and that file's
 * content key then: the rules change once a round (when its cohort is fixed), and formatting and
 * comparing them, one per member, is most of a large round's republishing. The file is checked
 * again when it changed or went (a stat), and after a restart (the map starts empty).
 */
const ensuredRules = new Map<string, { rules: string; file: string | null }>();

/**
 * Make the round's public files say what the state says: the permission file
 * first (each file readable by exactly who needs it), then every phase file the
 * state implies that is missing. Idempotent: a restart republishes what a crash cut off.
 * `sent`: members' shares files already parsed (`collectShares` passes its own), by member.
 */
async function republish(ctx: SecureContext, state: RoundState, sent = new Map<number, SharesFile | null>()): Promise<void> {
  const dir = ctx.ws.secaggRoundDir(ctx.ws.email, state.roundId);
  const permissions = roundPermissions(state);
  const permissionFile = path.join(dir, PERMISSION_FILE);
  const fileKey = () => fs.stat(permissionFile).then(contentKey, () => null);
  const rules = JSON.stringify(permissions);
  const ensured = ensuredRules.get(dir);
  if (ensured?.rules !== rules || ensured.file !== (await fileKey())) {
    await ensurePermissions(dir, permissions);
    ensuredRules.set(dir, { rules, file: await fileKey() });
  }
  const missing = (file: string) => !exists(file);
  if (missing(path.join(dir, ROUND_FILE))) await writePhaseFile(path.join(dir, ROUND_FILE), state.round);
  const { cohort } = state;
  if (cohort && missing(path.join(dir, COHORT_FILE))) {
    const file: CohortFile = {
      ...header('cohort'),
      roundId: state.roundId,
      members: cohort.members.map((m, index) => ({ index, cPk: m.cPk, sPk: m.sPk })),
      neighbours: cohort.neighbours,
      t: cohort.t,
      minSurvivors: cohort.minSurvivors,
      createdAt: cohort.createdAt,
    };
    await writePhaseFile(path.join(dir, COHORT_FILE), file);
  }
  if (state.u2 && state.phase !== 'finished') {
    const inboxes: InboxFile[] = [];
    const u2 = new Set(state.u2);
    for (const v of state.u2) if (missing(inboxFile(dir, v))) inboxes.push(buildInbox(ctx, state, u2, v, sent));
    writeInboxFiles(dir, inboxes);
  }
  if (state.survivors && state.phase !== 'finished' && missing(path.join(dir, UNMASK_FILE))) {
    const unmask: UnmaskFile = { ...header('unmask'), roundId: state.roundId, survivors: state.survivors, dropped: state.dropped! };
    await writePhaseFile(path.join(dir, UNMASK_FILE), unmask);
  }
  if (state.result && missing(path.join(dir, RESULT_FILE))) await writePhaseFile(path.join(dir, RESULT_FILE), state.result);
  if (state.phase === 'finished') await fs.rm(path.join(dir, INBOX_DIR), { recursive: true, force: true });
}

/**
 * Who may read each file of a round: `round.json` every invited datasite (it names
 * nobody); `cohort.json`, `unmask.json` and `result.json` the cohort (the result the
 * invited, when no cohort formed); `inbox/<i>.json` member i alone.
 */
export function roundPermissions(state: Pick<RoundState, 'invited' | 'cohort'>): PermissionFile {
  const members = state.cohort ? [...new Set(state.cohort.members.map((m) => m.email))].sort() : [];
  const read = (pattern: string, readers: string[]): PermissionRule => ({ pattern, access: { read: readers, write: [], admin: [] } });
  const rules = [read(ROUND_FILE, [...state.invited].sort())];
  if (state.cohort) {
    rules.push(read(COHORT_FILE, members), read(UNMASK_FILE, members), read(RESULT_FILE, members));
    for (const [i, m] of state.cohort.members.entries()) rules.push(read(`${INBOX_DIR}/${i}.json`, [m.email]));
  } else {
    rules.push(read(RESULT_FILE, [...state.invited].sort()));
  }
  return { terminal: false, rules };
}

// ---------------------------------------------------------------- private state

function stateFile(ctx: Pick<SecureContext, 'ws'>, roundId: string): string {
  return path.join(ctx.ws.aggregatorSecaggPrivateDir(), `${roundId}.json`);
}

/** Round ids with a private state, oldest first. */
async function listStateIds(ctx: Pick<SecureContext, 'ws'>): Promise<string[]> {
  const names = await fs.readdir(ctx.ws.aggregatorSecaggPrivateDir()).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith('.json') && isRoundId(n.slice(0, -'.json'.length)))
    .map((n) => n.slice(0, -'.json'.length))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

async function latestState(ctx: Pick<SecureContext, 'ws'>): Promise<RoundState | null> {
  const roundId = (await listStateIds(ctx)).at(-1);
  if (roundId === undefined) return null;
  const file = stateFile(ctx, roundId);
  const raw = (await readJsonFile(file, { maxBytes: MAX_STATE_BYTES })) as RoundState | null;
  if ((raw?.formatVersion as number | undefined) === PREVIOUS_STATE_FORMAT_VERSION) return null;
  if (raw === null || raw.formatVersion !== STATE_FORMAT_VERSION || raw.roundId !== roundId) {
    throw new AppError('ERR_AGGREGATOR_STATE', `${file} is not a secure round state: move it away to start a new round`, { file });
  }
  return raw;
}

async function writeState(ctx: Pick<SecureContext, 'ws'>, state: RoundState): Promise<void> {
  await writeJsonAtomic(stateFile(ctx, state.roundId), state, { private: true });
}

/**
 * What this process last published in full, by state file: the content keys of the state file, the
 * round folder, its inbox folder and its permission file then. While none changed, the public files
 * still say the state and a step need not republish them (a check of every inbox file and the
 * permission file of a large round, each step); a file removed or replaced in the round folder
 * changes the folder's key. A restart starts empty, so it republishes.
 */
const published = new Map<string, string>();

async function publishedKey(ctx: Pick<SecureContext, 'ws'>, state: RoundState): Promise<{ file: string; key: string }> {
  const file = stateFile(ctx, state.roundId);
  const dir = ctx.ws.secaggRoundDir(ctx.ws.email, state.roundId);
  const keys = await Promise.all([file, dir, path.join(dir, INBOX_DIR), path.join(dir, PERMISSION_FILE)].map((f) => fs.stat(f).then(contentKey, () => '-')));
  return { file, key: keys.join(' ') };
}

/** A transition: write the new state, then make the public files say it. */
async function publishState(ctx: SecureContext, state: RoundState, sent?: Map<number, SharesFile | null>): Promise<void> {
  await writeState(ctx, state);
  await republish(ctx, state, sent);
  const { file, key } = await publishedKey(ctx, state);
  published.set(file, key);
}

/** `republish`, unless this process published this very state in full already and nothing in the round folder changed since. */
async function republishOnce(ctx: SecureContext, state: RoundState): Promise<void> {
  const { file, key } = await publishedKey(ctx, state);
  if (published.get(file) === key) return;
  await republish(ctx, state);
  published.set(file, (await publishedKey(ctx, state)).key);
}

/** The summaries of the finished rounds still kept, oldest first (status, tests). */
export async function finishedSecureRounds(ctx: Pick<SecureContext, 'ws'>): Promise<SecureRoundSummary[]> {
  const out: SecureRoundSummary[] = [];
  for (const roundId of await listStateIds(ctx)) {
    const raw = (await readJsonFile(stateFile(ctx, roundId), { maxBytes: MAX_STATE_BYTES })) as RoundState | null;
    if (raw?.phase === 'finished') out.push(summarize(raw));
  }
  return out;
}

