import path from 'node:path';
import { watch } from 'chokidar';
import { loadCatalog } from '../shared/catalog';
import { requireValue, type Config } from '../shared/config';
import { DELTA_MANIFEST_NAME } from '../shared/delta';
import { AppError, formatError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { cryptoRandom } from '../shared/random';
import { coalesce, untilAborted } from '../shared/serial';
import { isEmailFolder, isProfileName, type Workspace } from '../shared/workspace';
import { findNewDeltas, loadCommittedState, roundParams, runRound, type RoundContext, type RoundResult } from './round';

/**
 * The aggregator process: a round runs when MIN_PARTICIPANTS new deltas wait, or
 * when ROUND_INTERVAL_MS has passed since the last round and at least one waits.
 * New deltas are noticed by watching `datasites/*\/app_data/<app>/profile_<n>/`
 * (debounced) and by a periodic rescan (sync tools do not always raise file
 * events). Aborting `signal` (SIGTERM) abandons a round in progress before its
 * commit (safe: see state.ts), closes the watcher and resolves.
 */
interface AggregatorOptions {
  /** Everything a round needs except the signal. */
  round: Omit<RoundContext, 'signal'>;
  minParticipants: number;
  roundIntervalMs: number;
  /** Quiet time after a file event before looking (WATCH_DEBOUNCE_MS). */
  debounceMs: number;
  /** How often to look without file events; defaults to RESCAN_INTERVAL_MS (or the round interval if shorter). */
  rescanIntervalMs?: number;
  signal: AbortSignal;
  /** Called after each round (tests and the demo wait on it). */
  onRound?: (result: RoundResult) => void;
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
const PAYLOAD_RE = /^delta-[0-9a-f]{16}\.npy$/;

export async function runAggregator(options: AggregatorOptions): Promise<void> {
  const { round, signal } = options;
  const { ws, logger } = round;
  const state = await loadCommittedState(round);
  /** Content hashes a round has already decided about (merged or refused). */
  const known = new Set(state.applied);
  let lastRoundAt = round.now().getTime();
  const look = async (): Promise<void> => {
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

  const check = coalesce(look, {
    signal,
    onError: (err) => logger.error({ code: err instanceof AppError ? err.code : undefined, err }, formatError(err)),
  });

  let debounce: NodeJS.Timeout | undefined;
  const watcher = watch(ws.datasitesDir, {
    ignoreInitial: true,
    followSymlinks: false,
    depth: 4,
    ignored: (p: string) => !isDeltaPath(path.relative(ws.datasitesDir, p), ws.appName),
  });
  watcher.on('all', (event, changed) => {
    logger.debug({ event, file: changed }, 'participant folder changed');
    clearTimeout(debounce);
    debounce = setTimeout(() => void check(), options.debounceMs);
  });
  watcher.on('error', (err) => logger.warn({ err }, 'file watcher error'));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));

  const timer = setInterval(() => void check(), Math.min(options.rescanIntervalMs ?? RESCAN_INTERVAL_MS, options.roundIntervalMs));
  logger.info({ aggregator: ws.email, version: state.version, contributors: state.contributors.length }, 'aggregator started');
  await check();
  await untilAborted(signal);
  clearInterval(timer);
  clearTimeout(debounce);
  await watcher.close();
  await check.idle();
  logger.info('aggregator stopped');
}

/** A round is due when MIN_PARTICIPANTS new deltas wait, or one does and ROUND_INTERVAL_MS passed since the last round. */
export function roundDue(waiting: number, sinceLastRoundMs: number, limits: { minParticipants: number; roundIntervalMs: number }): boolean {
  return waiting >= limits.minParticipants || (waiting > 0 && sinceLastRoundMs >= limits.roundIntervalMs);
}

/** True for the folders on the way to a delta and for its files (relative to datasites/). */
function isDeltaPath(rel: string, appName: string): boolean {
  if (rel === '') return true;
  if (rel.startsWith('..') || path.isAbsolute(rel)) return false;
  const s = rel.split(path.sep);
  const checks = [
    () => isEmailFolder(s[0]),
    () => s[1] === 'app_data',
    () => s[2] === appName,
    () => isProfileName(s[3]),
    () => s[4] === DELTA_MANIFEST_NAME || PAYLOAD_RE.test(s[4]),
  ];
  return s.length <= checks.length && s.every((_, i) => checks[i]());
}
