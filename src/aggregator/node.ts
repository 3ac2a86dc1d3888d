import path from 'node:path';
import { watch } from 'chokidar';
import { loadCatalog } from '../shared/catalog';
import { requireValue, type Config } from '../shared/config';
import { DELTA_MANIFEST_NAME } from '../shared/delta';
import { AppError, formatError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { cryptoRandom } from '../shared/random';
import { startFileWorkers } from '../shared/hash-workers';
import { startMaskWorkers } from '../shared/secagg/mask-workers';
import { coalesce, untilAborted } from '../shared/serial';
import { isEmailFolder, isProfileName, isRoundId, type Workspace } from '../shared/workspace';
import { advanceSecureRound, secureParams, type SecureContext, type SecureParams, type SecureRoundSummary } from './secagg';
import { findNewDeltas, loadCommittedState, roundParams, runRound, type RoundContext, type RoundResult } from './round';

/**
 * The aggregator process. With SECURE_AGGREGATION=on (`secure` set) it runs secure
 * rounds one after the other (see secagg.ts): a round opens when enough datasites
 * take part, and moves on when every member answered a phase or its deadline
 * passed. Plain deltas are never read. With it off, a plain round runs when
 * MIN_PARTICIPANTS new deltas wait, or when ROUND_INTERVAL_MS has passed since the
 * last round and at least one waits. Members' files are noticed by watching
 * `datasites/*\/app_data/<app>/` (profile deltas, secure-round answers; debounced)
 * and by a periodic rescan (sync tools do not always raise file events). Aborting
 * `signal` (SIGTERM) abandons a step in progress before its commit (safe: see
 * state.ts and secagg.ts), closes the watcher and resolves.
 */
interface AggregatorOptions {
  /** Everything a round needs except the signal. */
  round: Omit<RoundContext, 'signal'>;
  /** Secure-aggregation parameters; null = plain rounds (SECURE_AGGREGATION=off). */
  secure: SecureParams | null;
  minParticipants: number;
  roundIntervalMs: number;
  /** Quiet time after a file event before looking (WATCH_DEBOUNCE_MS). */
  debounceMs: number;
  /** How often to look without file events; defaults to RESCAN_INTERVAL_MS (or the round interval if shorter). */
  rescanIntervalMs?: number;
  signal: AbortSignal;
  /** Called after each plain round (tests and the demo wait on it). */
  onRound?: (result: RoundResult) => void;
  /** Called after each secure round, merged or aborted. */
  onSecureRound?: (summary: SecureRoundSummary) => void;
  /** With secure rounds: the context of the community rounds run beside them (`communityRoundContext`), if any. */
  communityRounds?: (ctx: SecureContext) => SecureContext;
}

const RESCAN_INTERVAL_MS = 30_000;

/**
 * Resolve what a round needs from the configuration: the model shape from the
 * catalogue and MODEL_RANK, the merge parameters, the OS CSPRNG for server noise.
 * The workspace must be the aggregator's own (AGGREGATOR_DATASITE).
 */
export async function createRoundContext(config: Config, ws: Workspace, logger: Logger): Promise<Omit<RoundContext, 'signal'>> {
  const aggregator = requireValue(config, 'AGGREGATOR_DATASITE', 'the aggregator runs on the datasite it names');
  if (aggregator !== ws.email) {
    throw new AppError('ERR_CONFIG_INVALID', `AGGREGATOR_DATASITE=${aggregator} but this SyftBox client is ${ws.email}: run the aggregator on the datasite AGGREGATOR_DATASITE names`);
  }
  const catalog = await loadCatalog(config.CATALOG_PATH);
  return {
    ws,
    model: { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash },
    params: roundParams(config),
    random: cryptoRandom(),
    now: () => new Date(),
    logger,
  };
}
/** Secure rounds are looked at this many times per phase without file events (deadlines are kept to about this precision). */
const CHECKS_PER_PHASE = 8;

/** Resolve the secure-round parameters when SECURE_AGGREGATION=on, else null. */
export function secureParamsOf(config: Config, round: Pick<RoundContext, 'model'>): SecureParams | null {
  if (config.SECURE_AGGREGATION === 'off') return null;
  if (config.SERVER_CLIP_NORM > 0) throw new AppError('ERR_CONFIG_INVALID', `SERVER_CLIP_NORM=${config.SERVER_CLIP_NORM} clips each delta, which SECURE_AGGREGATION=on never shows the aggregator: participants clip to DELTA_CLIP_NORM; set SERVER_CLIP_NORM=0, or SECURE_AGGREGATION=off`);
  return secureParams(config, round.model);
}

export async function runAggregator(options: AggregatorOptions): Promise<void> {
  const { round, signal, secure } = options;
  const { ws, logger } = round;
  void startFileWorkers(); // rounds read and hash their inputs on these threads: up once, for every round
  if (secure) void startMaskWorkers(); // secure rounds unmask on these: up and warm once, for every round
  const state = await loadCommittedState(round);
  /** Content hashes a round has already decided about (merged or refused). */
  const known = new Set(state.applied);
  let lastRoundAt = round.now().getTime();
  const lookPlain = async (): Promise<void> => {
    const fresh = await findNewDeltas(ws, known, logger);
    if (!roundDue(fresh.length, round.now().getTime() - lastRoundAt, options)) {
      if (fresh.length > 0) logger.debug({ waiting: fresh.length }, 'waiting for more deltas');
      return;
    }
    lastRoundAt = round.now().getTime();
    const result = await runRound({ ...round, signal });
    for (const d of [...result.accepted, ...result.rejected, ...result.replayed]) if (d.deltaSha256) known.add(d.deltaSha256);
    options.onRound?.(result);
  };
  const advance = async (ctx: SecureContext, onFinished?: (summary: SecureRoundSummary) => void): Promise<void> => {
    // one transition after another until the round waits (a round that ends lets the next one open at once)
    for (;;) {
      signal.throwIfAborted();
      const step = await advanceSecureRound(ctx);
      if (step.action === 'finished') onFinished?.(step.summary);
      if (step.action === 'idle' || step.action === 'waiting') {
        logger.debug(step, 'secure round waits');
        return;
      }
    }
  };
  const lookSecure = async (params: SecureParams): Promise<void> => {
    const ctx: SecureContext = { ...round, signal, secure: params };
    await advance(ctx, options.onSecureRound);
    if (options.communityRounds) await advance(options.communityRounds(ctx));
  };
  const look = secure ? () => lookSecure(secure) : lookPlain;

  const check = coalesce(look, {
    signal,
    onError: (err) => logger.error({ code: err instanceof AppError ? err.code : undefined, err }, formatError(err)),
  });

  let debounce: NodeJS.Timeout | undefined;
  const watcher = watch(ws.datasitesDir, {
    ignoreInitial: true,
    followSymlinks: false,
    depth: 4,
    ignored: (p: string) => !isWatchedPath(path.relative(ws.datasitesDir, p), ws.appName, secure !== null),
  });
  watcher.on('all', (event, changed) => {
    logger.debug({ event, file: changed }, 'participant folder changed');
    clearTimeout(debounce);
    debounce = setTimeout(() => void check(), options.debounceMs);
  });
  watcher.on('error', (err) => logger.warn({ err }, 'file watcher error'));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));

  const interval = secure ? secure.phaseMs / CHECKS_PER_PHASE : options.roundIntervalMs;
  const timer = setInterval(() => void check(), Math.min(options.rescanIntervalMs ?? RESCAN_INTERVAL_MS, interval));
  logger.info({ aggregator: ws.email, version: state.version, contributors: state.contributors.length, secureAggregation: secure !== null }, 'aggregator started');
  await check();
  await untilAborted(signal);
  clearInterval(timer);
  clearTimeout(debounce);
  await watcher.close();
  await check.idle();
  logger.info('aggregator stopped');
}

const PAYLOAD_RE = /^delta-[0-9a-f]{16}\.npy$/;

/**
 * Run one secure round to its end (or resume the one in progress), looking at the
 * files every `pollMs`: `aggregator --once`. Null when no round can open (too few
 * datasites), with the reason logged.
 */
export async function runOneSecureRound(ctx: SecureContext & { signal: AbortSignal }, pollMs: number): Promise<SecureRoundSummary | null> {
  for (;;) {
    ctx.signal.throwIfAborted();
    const step = await advanceSecureRound(ctx);
    if (step.action === 'finished') return step.summary;
    if (step.action === 'idle') {
      ctx.logger.info({ reason: step.reason }, 'no secure round can open');
      return null;
    }
    if (step.action === 'waiting') await sleep(pollMs, ctx.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A round is due when MIN_PARTICIPANTS new deltas wait, or one does and ROUND_INTERVAL_MS passed since the last round. */
export function roundDue(waiting: number, sinceLastRoundMs: number, limits: { minParticipants: number; roundIntervalMs: number }): boolean {
  return waiting >= limits.minParticipants || (waiting > 0 && sinceLastRoundMs >= limits.roundIntervalMs);
}

/**
 * True for the folders on the way to what the aggregator reads, and those files
 * (relative to datasites/): a profile's delta (plain), or a member's round answers
 * `secagg/r<id>/*` (secure).
 */
function isWatchedPath(rel: string, appName: string, secure: boolean): boolean {
  if (rel === '') return true;
  if (rel.startsWith('..') || path.isAbsolute(rel)) return false;
  const s = rel.split(path.sep);
  const common = [() => isEmailFolder(s[0]), () => s[1] === 'app_data', () => s[2] === appName];
  const checks = secure
    ? [...common, () => s[3] === 'secagg', () => isRoundId(s[4]), () => !s[5].endsWith('.tmp')]
    : [...common, () => isProfileName(s[3]), () => s[4] === DELTA_MANIFEST_NAME || PAYLOAD_RE.test(s[4])];
  return s.length <= checks.length && s.every((_, i) => checks[i]());
}
