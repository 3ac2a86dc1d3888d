import { promises as fs } from 'node:fs';
import path from 'node:path';
import { jsonFileText, parseJsonDocument, readJsonFile, readRegularFile, writeFileAtomic, writeFilesAtomic, writeJsonAtomic } from '../shared/atomic';
import { requireValue } from '../shared/config';
import { AppError, formatError, isAppError } from '../shared/errors';
import { decodeNpy, encodeNpy } from '../shared/npy';
import { readableHere } from '../shared/permissions';
import { canSpend, configuredBudget, recordSpend, type PrivacyEntry } from '../shared/privacy';
import type { Interaction } from '../shared/model/feedback';
import { mechanism } from '../shared/model/mechanism';
import { DP_COUNT_SHARE } from '../shared/model/subspace';
import { buildContribution, contributionBound, contributionLayout, roundSpend, runRoundNoise, subspaceRunLengths } from '../shared/secagg/contribution';
import { encodeContribution, toModular, type Encoding } from '../shared/secagg/encoding';
import {
  COHORT_FILE,
  header,
  inboxFile,
  KEYS_FILE,
  layoutLength,
  MAX_LIST_FILE_BYTES,
  MAX_SMALL_FILE_BYTES,
  parseCohortFile,
  parseInboxFile,
  parseResultFile,
  parseRoundFile,
  parseUnmaskFile,
  readPhaseFile,
  RESULT_FILE,
  REVEAL_FILE,
  ROUND_FILE,
  SHARES_FILE,
  UNMASK_FILE,
  fromBase64,
  toBase64,
  writeMaskedInput,
  writePhaseFile,
  type CohortFile,
  type KeysFile,
  type ResultFile,
  type RevealFile,
  type RoundFile,
  type RoundNoise,
  type SharesFile,
} from '../shared/secagg/files';
import { skellamShares } from '../shared/secagg/noise';
import { createMemberSecrets, makeShares, maskInput, openInbox, revealFor, type CohortView, type MemberSecrets, type UnmaskRequest } from '../shared/secagg/protocol';
import { assertRoundId, isProfileName, isRoundId, type Workspace } from '../shared/workspace';
import type { ParticipantContext } from './node';
import { readAssignments } from './profiles';
import { readGrantedGlobal } from './recommendations';
import { profileInteractions, readPrivacyLedger, readProfileModel, writePrivacyLedger } from './state';

/**
 * The member's side of a secure round: react to the aggregator's round files,
 * answer each phase once, keep the round's secrets privately. Called after every
 * participant pass (and by the in-process driver); each call does whatever the
 * files on disk now allow, so a restarted process picks up where it stopped.
 *
 * 1. `round.json` (invited): join when every profile of this datasite has trained
 *    from the round's base version: the contribution is the round's mechanism's
 *    (`../shared/model/mechanism.ts`: the federated optimizer's statistics of its
 *    profiles, each solved against the base, within one bound), members 1.
 *    A datasite that may not read any Global_V yet joins with the zero vector and
 *    members 0 (the round grants it Global_V; it adds nothing). Lagging behind the
 *    base (sync) means waiting until `keysBy`. Secrets and the encoded contribution
 *    are stored privately BEFORE `keys.json` is written.
 * 2. `cohort.json`: find our index by our public keys, check the thresholds (t is a
 *    strict majority of our neighbourhood, T at least our own minimum), write `shares.json`.
 * 3. `inbox/<index>.json`: open the neighbours' shares, add our noise share, store the
 *    input privately, then publish the masked input.
 * 4. `unmask.json`: reveal b-shares of survivors and s-shares of dropped members,
 *    never both; the answered lists are persisted BEFORE `reveal.json` is written,
 *    and any later request that differs is refused.
 * 5. `result.json` (or the deadlines long past): record the outcome in
 *    `secagg/status.json`, delete the round's private state and our published round
 *    files except the masked input of the newest round we were counted in (what
 *    `verify` and `audit` look at).
 *
 * Private state, `private/<app>/<email>/secagg/`:
 *   `status.json`         MemberStatus: the mode, the round in progress, the last outcome
 *   `r000007/state.json`  MemberRoundState   `r000007/secrets.json` key pairs and self-mask seed
 *   `r000007/encoded.npy` the encoded contribution (int32)   `r000007/input.npy` plus noise (uint32)
 */

const MEMBER_STATE_VERSION = 1;
const STATUS_FILE = 'status.json';
const ROUND_STATE_FILE = 'state.json';
const SECRETS_FILE = 'secrets.json';
const ENCODED_FILE = 'encoded.npy';
const INPUT_FILE = 'input.npy';
const MAX_PRIVATE_JSON_BYTES = 8 * 1024 * 1024; // 8 MiB: lists of cohort indices
const NPY_HEADER_SLACK_BYTES = 4096;
/** Steps one call may take (one per phase, with room for a catch-up after a restart). */
const MAX_STEPS_PER_CALL = 6;
/** A round's noise may fall short of what this datasite's DP_EPSILON asks by this much (float rounding). */
const NOISE_TOLERANCE = 1e-9;

export type MemberPhase = 'keys' | 'shares' | 'masked' | 'revealed';

interface MemberRoundState {
  formatVersion: typeof MEMBER_STATE_VERSION;
  roundId: string;
  baseVersion: number;
  phase: MemberPhase;
  /** 1: a real contribution; 0: joined without a model (to be granted Global_V). */
  weight: 0 | 1;
  /** Profiles whose models make up the contribution. */
  profiles: string[];
  index: number | null;
  u2: number[] | null;
  /** The unmask request answered; persisted before the reveal is published. */
  answered: UnmaskRequest | null;
  maskedSha256: string | null;
  joinedAt: string;
}

interface StoredSecrets {
  cPk: string;
  cSk: string;
  sPk: string;
  sSk: string;
  selfSeed: string;
}

export type RoundOutcome = 'merged' | 'aborted' | 'left' | 'expired';

export interface FinishedRound {
  roundId: string;
  outcome: RoundOutcome;
  /** Counted among the survivors of a merged round: its contribution is in that Global_V. */
  counted: boolean;
  reason: string | null;
  weight: 0 | 1;
  maskedSha256: string | null;
  /** Global_V version the round produced (merged only). */
  version: number | null;
  endedAt: string;
}

/**
 * What this datasite's page and `verify` need to know about its secure
 * aggregation: the mode its contributions leave in, the round in progress, the
 * last round it took part in, and the last one it was counted in.
 */
export interface MemberStatus {
  formatVersion: typeof MEMBER_STATE_VERSION;
  /** 'secure': contributions leave only masked; the aggregator sees the round's sum. 'plain': deltas are published as they are. */
  mode: 'secure' | 'plain';
  current: { roundId: string; phase: MemberPhase; weight: 0 | 1 } | null;
  /** The newest round this datasite chose not to join, and why (logged once). */
  declined: { roundId: string; reason: string } | null;
  lastRound: FinishedRound | null;
  lastCounted: FinishedRound | null;
  updatedAt: string;
}

export type MemberStep =
  | { action: 'joined' | 'shared' | 'masked' | 'revealed'; roundId: string }
  | { action: 'waiting'; roundId: string; reason: string }
  | { action: 'finished'; roundId: string; round: FinishedRound }
  | { action: 'idle'; reason: string };

/**
 * What a member contributes to a round that is not a model round (the community
 * statistics, `community-round.ts`); the context's workspace is then a
 * `secureRoundsView`, so those rounds have their own folders and status.
 */
export interface MemberPurpose {
  /** This datasite's contribution to `round` (within `encoding.clipNorm`) and the profiles it speaks for, or why it waits or declines. */
  prepare(round: RoundFile, encoding: Encoding): Promise<{ x: Float64Array; profiles: string[] } | { wait: string } | { decline: string }>;
  /** The ledger entry of contributing with `noise`, recorded in each of those profiles' ledgers (null: nothing to record). */
  spend(at: string, encoding: Encoding, noise: RoundNoise): PrivacyEntry | null;
}

export type MemberContext = Pick<ParticipantContext, 'config' | 'ws' | 'catalog' | 'logger' | 'now' | 'noiseRandom'> & { purpose?: MemberPurpose };

/** Answer every phase of the newest secure round that the files on disk now allow; returns the steps taken. */
export async function respondToSecureRound(ctx: MemberContext): Promise<MemberStep[]> {
  const steps: MemberStep[] = [];
  for (let i = 0; i < MAX_STEPS_PER_CALL; i++) {
    const step = await stepOnce(ctx);
    steps.push(step);
    if (step.action === 'idle' || step.action === 'waiting' || step.action === 'finished') break;
  }
  return steps;
}

/** The member's status file; null before it ever ran. */
export async function readMemberStatus(ws: Workspace): Promise<MemberStatus | null> {
  const raw = (await readJsonFile(path.join(ws.secaggPrivateDir(), STATUS_FILE), { maxBytes: MAX_PRIVATE_JSON_BYTES })) as MemberStatus | null;
  return raw?.formatVersion === MEMBER_STATE_VERSION ? raw : null;
}

async function writeMemberStatus(ctx: MemberContext, change: Partial<Omit<MemberStatus, 'formatVersion' | 'updatedAt'>>): Promise<void> {
  const before = await readMemberStatus(ctx.ws);
  const status: MemberStatus = {
    formatVersion: MEMBER_STATE_VERSION,
    mode: 'secure',
    current: null,
    declined: null,
    lastRound: null,
    lastCounted: null,
    ...before,
    ...change,
    updatedAt: ctx.now().toISOString(),
  };
  await writeJsonAtomic(path.join(ctx.ws.secaggPrivateDir(), STATUS_FILE), status, { private: true });
}

/** Record the mode this datasite runs in (the page shows what protects its contributions). */
export async function recordContributionMode(ctx: MemberContext): Promise<void> {
  const mode = ctx.config.SECURE_AGGREGATION === 'on' ? 'secure' : 'plain';
  if ((await readMemberStatus(ctx.ws))?.mode !== mode) await writeMemberStatus(ctx, { mode });
}

interface RoundView {
  roundId: string;
  dir: string;
  round: RoundFile;
}

/** Round ids in `dir`, newest first. */
async function roundIds(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.filter(isRoundId).sort((a, b) => roundNumber(b) - roundNumber(a));
}

function roundNumber(roundId: string): number {
  return Number(roundId.slice(1));
}

/** True when `file` is here and this datasite may use it: under a SyftBox client presence is the server's decision (`readableHere`). */
async function readable(ws: Workspace, file: string): Promise<boolean> {
  try {
    return (await fs.lstat(file)).isFile() && (await readableHere(ws, file));
  } catch {
    return false;
  }
}

/** Read a phase file of the aggregator's if this datasite may read it; null otherwise. */
async function readShared<T>(ws: Workspace, file: string, maxBytes: number, parse: (value: unknown, file: string) => T): Promise<T | null> {
  if (!(await readable(ws, file))) return null;
  return readPhaseFile(file, maxBytes, parse);
}

async function stepOnce(ctx: MemberContext): Promise<MemberStep> {
  const { ws, logger } = ctx;
  const aggregator = requireValue(ctx.config, 'AGGREGATOR_DATASITE', 'secure rounds are run by the aggregator');
  const status = await readMemberStatus(ws);
  await expireOldRounds(ctx);
  const [roundId] = await roundIds(ws.secaggDir(aggregator));
  if (roundId === undefined) return { action: 'idle', reason: 'no secure round has been opened' };
  if (status?.lastRound && roundNumber(status.lastRound.roundId) >= roundNumber(roundId)) return { action: 'idle', reason: `round ${roundId} is over for this datasite` };
  if (status?.declined?.roundId === roundId) return { action: 'idle', reason: status.declined.reason };
  const dir = ws.secaggRoundDir(aggregator, roundId);
  let round: RoundFile | null;
  try {
    round = await readShared(ws, path.join(dir, ROUND_FILE), MAX_SMALL_FILE_BYTES, (v, f) => parseRoundFile(v, f, { roundId }));
  } catch (err) {
    if (!isAppError(err)) throw err;
    logger.error({ roundId, file: err.file, code: err.code }, formatError(err));
    return rememberDeclined(ctx, roundId, formatError(err));
  }
  if (round === null) return { action: 'idle', reason: `round ${roundId} is not readable by this datasite` };
  const view: RoundView = { roundId, dir, round };
  const state = await readRoundState(ws, roundId);
  try {
    const result = await readShared(ws, path.join(dir, RESULT_FILE), MAX_LIST_FILE_BYTES, (v, f) => parseResultFile(v, f, { roundId }));
    if (result !== null) return state ? await finish(ctx, view, state, resultOutcome(result, state)) : { action: 'idle', reason: `round ${roundId} ended before this datasite joined` };
    if (state === null) return await join(ctx, view);
    if (ctx.now().getTime() > expiresAt(round)) return await finish(ctx, view, state, { outcome: 'expired', reason: 'the round passed its deadlines without a result' });
    switch (state.phase) {
      case 'keys':
        return await share(ctx, view, state);
      case 'shares':
        return await mask(ctx, view, state);
      case 'masked':
      case 'revealed':
        return await reveal(ctx, view, state);
    }
  } catch (err) {
    if (!isAppError(err)) throw err;
    logger.error({ roundId, file: err.file, code: err.code }, formatError(err));
    // A round this datasite cannot take part in safely: it sits it out and joins the next.
    return state ? finish(ctx, view, state, { outcome: 'left', reason: formatError(err) }) : rememberDeclined(ctx, roundId, formatError(err));
  }
}

/** A round abandoned without a result (the aggregator crashed, or moved on) is dropped one phase after its last deadline. */
function expiresAt(round: RoundFile): number {
  const { maskedBy, revealBy } = round.params.deadlines;
  return Date.parse(revealBy) + Math.max(0, Date.parse(revealBy) - Date.parse(maskedBy));
}

function resultOutcome(result: ResultFile, state: MemberRoundState): { outcome: RoundOutcome; reason: string | null; version?: number | null; counted?: boolean } {
  const counted = result.outcome === 'merged' && state.index !== null && result.survivors.includes(state.index) && state.maskedSha256 !== null;
  return { outcome: result.outcome, reason: result.reason, version: result.version, counted };
}

// ---------------------------------------------------------------- phase 1: join

interface Contribution {
  weight: 0 | 1;
  profiles: string[];
  /** The base Global_V the profiles trained from (null with weight 0). */
  base: Float32Array | null;
  /** Each profile's interactions, in the order of `profiles`. */
  interactions: Interaction[][];
}

/** What this datasite can contribute from `baseVersion`, or why it must wait (null = never this round). */
async function contributionFor(ctx: MemberContext, baseVersion: number): Promise<Contribution | { wait: string } | { decline: string }> {
  const { config, ws, catalog, logger } = ctx;
  const expect = { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash };
  const granted = await readGrantedGlobal(ws, config.AGGREGATOR_DATASITE, expect, logger);
  const readableVersion = granted?.manifest.version ?? null;
  if (readableVersion !== null && readableVersion > baseVersion) return { decline: `the round starts from v${baseVersion}, this datasite already holds v${readableVersion}` };
  const profiles = [...new Set((await readAssignments(ws.privateRoot())).map((a) => a.profile))].filter(isProfileName).sort();
  const trained: { profile: string; interactions: Interaction[]; vGlobal: Float32Array; base: number }[] = [];
  for (const profile of profiles) {
    const model = await readProfileModel(ws.privateDir(profile)).catch(() => null);
    if (model === null || model.state.vocabHash !== catalog.hash || model.state.rank !== config.MODEL_RANK) continue;
    trained.push({ profile, interactions: profileInteractions(model.state), vGlobal: model.vGlobal, base: model.state.baseVersion });
  }
  if (trained.length === 0) return { wait: 'no profile has trained yet' };
  if (readableVersion === null && baseVersion > 0) return { weight: 0, profiles: [], base: null, interactions: [] };
  if (readableVersion !== null && readableVersion < baseVersion) return { wait: `Global_V v${baseVersion} is not synced here yet (newest readable: v${readableVersion})` };
  const fromBase = trained.filter((t) => t.base === baseVersion);
  if (fromBase.length === 0) return { wait: `no profile has trained from v${baseVersion} yet` };
  return { weight: 1, profiles: fromBase.map((t) => t.profile), base: fromBase[0].vGlobal, interactions: fromBase.map((t) => t.interactions) };
}

async function join(ctx: MemberContext, { roundId, round }: RoundView): Promise<MemberStep> {
  const { config, ws, catalog, logger } = ctx;
  const now = ctx.now();
  if (now.getTime() > Date.parse(round.params.deadlines.keysBy)) return { action: 'idle', reason: `round ${roundId} closed its keys phase before this datasite could join` };
  if (ctx.purpose) {
    const encoding: Encoding = { length: layoutLength(round.layout), clipNorm: round.params.clipNorm, scaleBits: round.params.scaleBits };
    const prepared = await ctx.purpose.prepare(round, encoding);
    if ('wait' in prepared) return { action: 'waiting', roundId, reason: prepared.wait };
    if ('decline' in prepared) return decline(ctx, roundId, prepared.decline);
    const random = ctx.noiseRandom();
    return enterRound(ctx, { roundId, round }, { weight: 1, profiles: prepared.profiles, encoded: encodeContribution(prepared.x, encoding, () => random.next()) });
  }
  const items = catalog.items.length;
  const rank = config.MODEL_RANK;
  const aggregation = mechanism(round.mechanism);
  const expected = contributionLayout(aggregation, items, rank);
  if (JSON.stringify(round.layout) !== JSON.stringify(expected)) {
    return { action: 'idle', reason: `round ${roundId} expects a contribution of ${layoutLength(round.layout)} values, this model makes ${layoutLength(expected)} (check MODEL_RANK and the catalogue)` };
  }
  const { clipNorm, weightScale, scaleBits } = round.params;
  if (Math.abs(weightScale - aggregation.membersScale) > 1e-12 * aggregation.membersScale) return { action: 'idle', reason: `round ${roundId}: weightScale ${weightScale} is not the mechanism's members scale ${aggregation.membersScale}` };
  const bound = contributionBound(aggregation.bound, weightScale);
  if (clipNorm < bound * (1 - 1e-12)) return { action: 'idle', reason: `round ${roundId}: clipNorm ${clipNorm} is below the contribution bound ${bound}` };
  const found = await contributionFor(ctx, round.baseVersion);
  if ('wait' in found) return { action: 'waiting', roundId, reason: found.wait };
  if ('decline' in found) return decline(ctx, roundId, found.decline);
  const encoding: Encoding = { length: layoutLength(round.layout), clipNorm, scaleBits };
  const tooLittle = noiseProblem(config, round, encoding, { items, rank });
  if (tooLittle !== null) return decline(ctx, roundId, tooLittle);
  const affordable = await withinBudget(ctx, found, roundSpend(now.toISOString(), encoding, round.params.noise));
  if (affordable.weight === 1 && affordable.profiles.length === 0) {
    return decline(ctx, roundId, `its privacy budget cannot pay for this round (PRIVACY_BUDGET_EPSILON=${config.PRIVACY_BUDGET_EPSILON} per ${config.PRIVACY_PERIOD_DAYS} days): this datasite sits it out`);
  }

  const x = affordable.base === null ? new Float64Array(layoutLength(round.layout)) : buildContribution(aggregation, affordable.base, affordable.interactions, round.layout, { items, rank, weightScale });
  const random = ctx.noiseRandom();
  return enterRound(ctx, { roundId, round }, { weight: affordable.weight, profiles: affordable.profiles, encoded: encodeContribution(x, encoding, () => random.next()) });
}

/**
 * Why this datasite refuses the noise of a model round, or null. The floor comes
 * from its own configuration, never from the round file: with DP_EPSILON > 0 it
 * joins only the rounds of a DP training run (`subspace`), each with at least the
 * noise its own (DP_EPSILON, DP_DELTA) gives that round in a run of the round's
 * mechanism on this model (`runRoundNoise`).
 */
export function noiseProblem(config: Pick<MemberContext['config'], 'DP_EPSILON' | 'DP_DELTA'>, round: Pick<RoundFile, 'mechanism' | 'params'>, encoding: Encoding, { items, rank }: { items: number; rank: number }): string | null {
  if (config.DP_EPSILON <= 0) return null;
  if (round.mechanism.name !== 'subspace') return `DP_EPSILON=${config.DP_EPSILON}: this datasite joins only the rounds of a differentially private training run, and this round runs the ${round.mechanism.name} mechanism`;
  const { phase, ...params } = round.mechanism.params;
  const wanted = runRoundNoise(encoding, { epsilon: config.DP_EPSILON, delta: config.DP_DELTA, countShare: DP_COUNT_SHARE }, subspaceRunLengths(params, items, rank), phase);
  const { noise } = round.params;
  if (noise.mechanism === 'skellam' && noise.sigma >= wanted.sigma * (1 - NOISE_TOLERANCE)) return null;
  return `the ${phase} round adds noise of sigma ${noise.sigma.toFixed(1)}, less than DP_EPSILON=${config.DP_EPSILON} asks (${wanted.sigma.toFixed(1)})`;
}

/** Keep the encoded contribution and fresh secrets privately, then publish `keys.json`: this datasite is in the round. */
async function enterRound(ctx: MemberContext, { roundId, round }: Pick<RoundView, 'roundId' | 'round'>, entry: { weight: 0 | 1; profiles: string[]; encoded: Int32Array }): Promise<MemberStep> {
  const { ws, logger } = ctx;
  const now = ctx.now();
  const { encoded } = entry;
  const secrets = createMemberSecrets();
  const state: MemberRoundState = {
    formatVersion: MEMBER_STATE_VERSION,
    roundId,
    baseVersion: round.baseVersion,
    phase: 'keys',
    weight: entry.weight,
    profiles: entry.profiles,
    index: null,
    u2: null,
    answered: null,
    maskedSha256: null,
    joinedAt: now.toISOString(),
  };
  // the round's private files together (one folder, synced once), all before keys.json
  await writeFilesAtomic(
    roundPrivateDir(ws, roundId),
    [
      { name: ENCODED_FILE, data: encodeNpy(encoded, [encoded.length]) },
      { name: SECRETS_FILE, data: jsonFileText(storeSecrets(secrets)) },
      { name: ROUND_STATE_FILE, data: jsonFileText(state) },
    ],
    { private: true },
  );
  const keys: KeysFile = {
    ...header('keys'),
    roundId,
    cPk: toBase64(secrets.c.publicKey),
    sPk: toBase64(secrets.s.publicKey),
    baseVersion: round.baseVersion,
    createdAt: now.toISOString(),
  };
  await writePhaseFile(path.join(ws.secaggAnswersDir(roundId), KEYS_FILE), keys);
  await writeMemberStatus(ctx, { mode: 'secure', current: { roundId, phase: 'keys', weight: entry.weight } });
  logger.info({ roundId, baseVersion: round.baseVersion, profiles: entry.profiles.length, weight: entry.weight }, 'joined secure round');
  return { action: 'joined', roundId };
}

/** Decline a round once: remembered in the status (so the reason is logged once), never retried. */
async function decline(ctx: MemberContext, roundId: string, reason: string): Promise<MemberStep> {
  ctx.logger.info({ roundId }, `not joining secure round ${roundId}: ${reason}`);
  return rememberDeclined(ctx, roundId, reason);
}

async function rememberDeclined(ctx: MemberContext, roundId: string, reason: string): Promise<MemberStep> {
  await writeMemberStatus(ctx, { declined: { roundId, reason } });
  return { action: 'idle', reason };
}

/** The contribution without the profiles whose privacy budget cannot pay for `spend` (null: the round adds no noise, nothing to pay). */
async function withinBudget(ctx: MemberContext, found: Contribution, spend: PrivacyEntry | null): Promise<Contribution> {
  if (spend === null || found.weight === 0) return found;
  const budget = configuredBudget(ctx.config);
  const kept: Contribution = { weight: 1, profiles: [], base: found.base, interactions: [] };
  for (const [i, profile] of found.profiles.entries()) {
    if (!canSpend(await readPrivacyLedger(ctx.ws.privateDir(profile)), spend, budget, ctx.now())) continue;
    kept.profiles.push(profile);
    kept.interactions.push(found.interactions[i]);
  }
  return kept;
}

// ---------------------------------------------------------------- phase 2: shares

function cohortView(cohort: CohortFile): CohortView {
  return {
    roundId: cohort.roundId,
    members: cohort.members.map((m) => ({ index: m.index, cPk: fromBase64(m.cPk), sPk: fromBase64(m.sPk) })),
    neighbours: cohort.neighbours,
    t: cohort.t,
    minSurvivors: cohort.minSurvivors,
  };
}

interface Cohort {
  file: CohortFile;
  view: CohortView;
}

/**
 * The cohort file parsed last, by its bytes: a member reads it in three phases, and a round
 * run in one process (evaluation, demo, simulator) has hundreds of members reading the same
 * file. Equal bytes of the same round parse to the same value, so it is handed out again
 * (read-only: nothing changes a parsed cohort).
 */
let lastCohort: (Cohort & { roundId: string; bytes: Buffer }) | null = null;

async function readCohort(ws: Workspace, { dir, roundId }: RoundView): Promise<Cohort | null> {
  const file = path.join(dir, COHORT_FILE);
  if (!(await readable(ws, file))) return null;
  const bytes = await readRegularFile(file, { maxBytes: MAX_LIST_FILE_BYTES });
  if (bytes === null) return null;
  if (lastCohort?.roundId !== roundId || !lastCohort.bytes.equals(bytes)) {
    const parsed = parseCohortFile(parseJsonDocument(bytes, file), file, { roundId });
    lastCohort = { roundId, bytes, file: parsed, view: cohortView(parsed) };
  }
  return lastCohort;
}

async function share(ctx: MemberContext, view: RoundView, state: MemberRoundState): Promise<MemberStep> {
  const { config, ws, logger } = ctx;
  const found = await readCohort(ws, view);
  if (found === null) return { action: 'waiting', roundId: view.roundId, reason: 'the cohort is not fixed yet' };
  const { file: cohort, view: cv } = found;
  const file = path.join(view.dir, COHORT_FILE);
  const secrets = await readSecrets(ws, view.roundId);
  const cPk = toBase64(secrets.c.publicKey);
  const sPk = toBase64(secrets.s.publicKey);
  const me = cohort.members.findIndex((m) => m.cPk === cPk && m.sPk === sPk);
  if (me < 0) return finish(ctx, view, state, { outcome: 'left', reason: 'not in the cohort (too late, or the cohort was capped)' });
  const mine = cohort.neighbours[me].length;
  const ownMinimum = Math.max(config.SECAGG_MIN_SURVIVORS, config.MIN_DATASITES);
  if (2 * cohort.t <= mine) throw new AppError('ERR_SECAGG_FILE', `${file}: t = ${cohort.t} is not a strict majority of this member's ${mine} neighbours, so its shares could unmask it; refusing the round`, { file });
  if (cohort.minSurvivors < ownMinimum) throw new AppError('ERR_SECAGG_FILE', `${file}: minSurvivors ${cohort.minSurvivors} is below this datasite's minimum of ${ownMinimum} (SECAGG_MIN_SURVIVORS, MIN_DATASITES); refusing the round`, { file });
  const sealed = await makeShares(me, secrets, cv);
  const shares: SharesFile = { ...header('shares'), roundId: view.roundId, from: me, shares: sealed.map(({ to, nonce, ciphertext, tag }) => ({ to, nonce, ciphertext, tag })) };
  await writeRoundState(ws, { ...state, phase: 'shares', index: me });
  await writePhaseFile(path.join(ws.secaggAnswersDir(view.roundId), SHARES_FILE), shares);
  await writeMemberStatus(ctx, { current: { roundId: view.roundId, phase: 'shares', weight: state.weight } });
  logger.info({ roundId: view.roundId, index: me, neighbours: mine, t: cohort.t }, 'sent secure-aggregation shares');
  return { action: 'shared', roundId: view.roundId };
}

// ---------------------------------------------------------------- phase 3: masked input

async function readInbox(ws: Workspace, view: RoundView, cohort: Cohort, me: number) {
  const file = inboxFile(view.dir, me);
  return readShared(ws, file, MAX_LIST_FILE_BYTES, (v, f) => parseInboxFile(v, f, { roundId: view.roundId, n: cohort.file.members.length, to: me }));
}

async function mask(ctx: MemberContext, view: RoundView, state: MemberRoundState): Promise<MemberStep> {
  const { ws, logger } = ctx;
  const me = state.index!;
  const cohort = await readCohort(ws, view);
  const inbox = cohort && (await readInbox(ws, view, cohort, me));
  if (!cohort || !inbox) return { action: 'waiting', roundId: view.roundId, reason: 'the shares have not been routed yet' };
  if (!inbox.u2.includes(me)) return finish(ctx, view, state, { outcome: 'left', reason: 'this datasite\'s shares did not arrive in time' });
  const secrets = await readSecrets(ws, view.roundId);
  // opening proves every routed share authentic before anything is masked
  openInbox(me, secrets, cohort.view, inbox.shares.map((s) => ({ ...s, to: me })));
  const input = await memberInput(ctx, view, state, cohort.file.minSurvivors);
  const masked = await maskInput(me, input, secrets, cohort.view, inbox.u2);
  const manifest = await writeMaskedInput(ws.secaggAnswersDir(view.roundId), view.roundId, masked, ctx.now().toISOString());
  await writeRoundState(ws, { ...state, phase: 'masked', u2: inbox.u2, maskedSha256: manifest.sha256 });
  await writeMemberStatus(ctx, { current: { roundId: view.roundId, phase: 'masked', weight: state.weight } });
  logger.info({ roundId: view.roundId, index: me, u2: inbox.u2.length, sha256: manifest.sha256 }, 'published masked input');
  return { action: 'masked', roundId: view.roundId };
}

/**
 * The encoded contribution plus this member's noise share, mod 2^32. Stored
 * before it is masked, so a restart masks the same input again (and publishes
 * the same bytes) instead of drawing new noise.
 */
async function memberInput(ctx: MemberContext, view: RoundView, state: MemberRoundState, minSurvivors: number): Promise<Uint32Array> {
  const dir = roundPrivateDir(ctx.ws, view.roundId);
  const length = layoutLength(view.round.layout);
  const stored = await readPrivateVector(path.join(dir, INPUT_FILE), length, '<u4');
  if (stored) return stored as Uint32Array;
  const encoded = (await readPrivateVector(path.join(dir, ENCODED_FILE), length, '<i4')) as Int32Array | null;
  if (encoded === null) throw new AppError('ERR_FILE_NOT_FOUND', `${path.join(dir, ENCODED_FILE)} is missing: this round's contribution is lost; the datasite sits the round out`, { file: path.join(dir, ENCODED_FILE) });
  const { mechanism, sigma } = view.round.params.noise;
  const random = ctx.noiseRandom();
  // Sk(λ) per member with 2λ = σ²/T: any T survivors together add noise of variance ≥ σ².
  const noise = mechanism === 'skellam' && sigma > 0 ? skellamShares(length, (sigma * sigma) / (2 * minSurvivors), () => random.next()) : undefined;
  const input = toModular(encoded, noise);
  const { clipNorm, scaleBits } = view.round.params;
  const spend = state.weight === 1 ? (ctx.purpose?.spend ?? roundSpend)(ctx.now().toISOString(), { length, clipNorm, scaleBits }, view.round.params.noise) : null;
  if (spend !== null) {
    // Recorded before the input exists, so before anything derived from it is published: a crash wastes budget, never hides a spend.
    for (const profile of state.profiles) {
      const profileDir = ctx.ws.privateDir(profile);
      await writePrivacyLedger(profileDir, recordSpend(await readPrivacyLedger(profileDir), spend));
    }
  }
  await writeFileAtomic(path.join(dir, INPUT_FILE), encodeNpy(input, [length]), { private: true });
  return input;
}

// ---------------------------------------------------------------- phase 4: reveal

async function reveal(ctx: MemberContext, view: RoundView, state: MemberRoundState): Promise<MemberStep> {
  const { ws, logger } = ctx;
  const me = state.index!;
  const cohort = await readCohort(ws, view);
  const request = cohort && (await readShared(ws, path.join(view.dir, UNMASK_FILE), MAX_LIST_FILE_BYTES, (v, f) => parseUnmaskFile(v, f, { roundId: view.roundId, n: cohort.file.members.length })));
  const revealFile = path.join(ws.secaggAnswersDir(view.roundId), REVEAL_FILE);
  if (!cohort || !request) return { action: 'waiting', roundId: view.roundId, reason: 'waiting for the survivors list' };
  if (state.phase === 'revealed' && (await readable(ws, revealFile))) return { action: 'waiting', roundId: view.roundId, reason: 'revealed; waiting for the result' };
  const inbox = await readInbox(ws, view, cohort, me);
  if (!inbox || JSON.stringify(inbox.u2) !== JSON.stringify(state.u2)) {
    throw new AppError('ERR_SECAGG_REFUSED', `${inboxFile(view.dir, me)}: the inbox changed (or vanished) after this member masked; refusing to reveal`, { file: inboxFile(view.dir, me) });
  }
  const secrets = await readSecrets(ws, view.roundId);
  const opened = openInbox(me, secrets, cohort.view, inbox.shares.map((s) => ({ ...s, to: me })));
  const asked: UnmaskRequest = { survivors: request.survivors, dropped: request.dropped };
  const answer = revealFor(me, opened, cohort.view, state.u2!, asked, state.answered);
  // Persisted first: after a crash the same request is answered again, any other one refused.
  await writeRoundState(ws, { ...state, phase: 'revealed', answered: asked });
  const file: RevealFile = {
    ...header('reveal'),
    roundId: view.roundId,
    from: me,
    bShares: answer.bShares.map((s) => ({ of: s.of, share: toBase64(s.share) })),
    sShares: answer.sShares.map((s) => ({ of: s.of, share: toBase64(s.share) })),
  };
  await writePhaseFile(revealFile, file);
  await writeMemberStatus(ctx, { current: { roundId: view.roundId, phase: 'revealed', weight: state.weight } });
  logger.info({ roundId: view.roundId, index: me, survivors: asked.survivors.length, dropped: asked.dropped.length }, 'revealed shares for unmasking');
  return { action: 'revealed', roundId: view.roundId };
}

// ---------------------------------------------------------------- the end of a round

async function finish(
  ctx: MemberContext,
  view: Pick<RoundView, 'roundId'>,
  state: MemberRoundState,
  end: { outcome: RoundOutcome; reason: string | null; version?: number | null; counted?: boolean },
): Promise<MemberStep> {
  const { ws, logger } = ctx;
  const round: FinishedRound = {
    roundId: view.roundId,
    outcome: end.outcome,
    counted: end.counted ?? false,
    reason: end.reason,
    weight: state.weight,
    maskedSha256: state.maskedSha256,
    version: end.version ?? null,
    endedAt: ctx.now().toISOString(),
  };
  const before = await readMemberStatus(ws);
  const lastCounted = round.counted ? round : (before?.lastCounted ?? null);
  await writeMemberStatus(ctx, { current: null, lastRound: round, lastCounted });
  await fs.rm(roundPrivateDir(ws, view.roundId), { recursive: true, force: true });
  await pruneAnswers(ws, lastCounted?.roundId ?? null);
  const log = { roundId: view.roundId, outcome: round.outcome, counted: round.counted, version: round.version, reason: round.reason ?? undefined };
  if (round.outcome === 'merged') logger.info(log, round.counted ? 'secure round merged; this datasite was counted among the survivors' : 'secure round merged without this datasite');
  else logger.warn(log, `secure round ended without this datasite's contribution (${round.outcome})`);
  return { action: 'finished', roundId: view.roundId, round };
}

/**
 * Delete this datasite's published round files, except the masked input (and its
 * manifest) of the newest round it was counted in, and the round in progress.
 */
async function pruneAnswers(ws: Workspace, keepCounted: string | null): Promise<void> {
  for (const roundId of await roundIds(ws.secaggAnswersRoot())) {
    if (await readRoundState(ws, roundId)) continue;
    const dir = ws.secaggAnswersDir(roundId);
    if (roundId !== keepCounted) {
      await fs.rm(dir, { recursive: true, force: true });
      continue;
    }
    for (const name of [KEYS_FILE, SHARES_FILE, REVEAL_FILE]) await fs.rm(path.join(dir, name), { force: true });
  }
}

/** Private states of rounds older than the newest one are of rounds that ended without a result we saw. */
async function expireOldRounds(ctx: MemberContext): Promise<void> {
  const [newest, ...older] = await roundIds(ctx.ws.secaggPrivateDir());
  const aggregator = ctx.config.AGGREGATOR_DATASITE!;
  const [newestRound] = await roundIds(ctx.ws.secaggDir(aggregator));
  const stale = newest !== undefined && newestRound !== undefined && roundNumber(newest) < roundNumber(newestRound) ? [newest, ...older] : older;
  for (const roundId of stale) {
    const state = await readRoundState(ctx.ws, roundId);
    if (state) await finish(ctx, { roundId }, state, { outcome: 'expired', reason: 'a newer round opened before this one reported a result' });
    else await fs.rm(roundPrivateDir(ctx.ws, roundId), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- private files

function roundPrivateDir(ws: Workspace, roundId: string): string {
  assertRoundId(roundId);
  return path.join(ws.secaggPrivateDir(), roundId);
}

async function readRoundState(ws: Workspace, roundId: string): Promise<MemberRoundState | null> {
  const file = path.join(roundPrivateDir(ws, roundId), ROUND_STATE_FILE);
  const raw = (await readJsonFile(file, { maxBytes: MAX_PRIVATE_JSON_BYTES })) as MemberRoundState | null;
  if (raw === null) return null;
  if (raw.formatVersion !== MEMBER_STATE_VERSION || raw.roundId !== roundId) throw new AppError('ERR_JSON_FORMAT', `${file} is not a round state of ${roundId}; delete the folder`, { file });
  return raw;
}

async function writeRoundState(ws: Workspace, state: MemberRoundState): Promise<void> {
  await writeJsonAtomic(path.join(roundPrivateDir(ws, state.roundId), ROUND_STATE_FILE), state, { private: true });
}

function storeSecrets(secrets: MemberSecrets): StoredSecrets {
  return {
    cPk: toBase64(secrets.c.publicKey),
    cSk: toBase64(secrets.c.privateKey),
    sPk: toBase64(secrets.s.publicKey),
    sSk: toBase64(secrets.s.privateKey),
    selfSeed: toBase64(secrets.selfSeed),
  };
}

async function readSecrets(ws: Workspace, roundId: string): Promise<MemberSecrets> {
  const file = path.join(roundPrivateDir(ws, roundId), SECRETS_FILE);
  const raw = (await readJsonFile(file, { maxBytes: MAX_SMALL_FILE_BYTES })) as StoredSecrets | null;
  if (raw === null) throw new AppError('ERR_FILE_NOT_FOUND', `${file} is missing: this round's keys are lost; the datasite sits the round out`, { file });
  return {
    c: { publicKey: fromBase64(raw.cPk), privateKey: fromBase64(raw.cSk) },
    s: { publicKey: fromBase64(raw.sPk), privateKey: fromBase64(raw.sSk) },
    selfSeed: fromBase64(raw.selfSeed),
  };
}

async function readPrivateVector(file: string, length: number, dtype: '<i4' | '<u4'): Promise<Int32Array | Uint32Array | null> {
  const bytes = await readRegularFile(file, { maxBytes: length * 4 + NPY_HEADER_SLACK_BYTES });
  return bytes === null ? null : (decodeNpy(bytes, file, { dtype, shape: [length] }).data as Int32Array | Uint32Array);
}
