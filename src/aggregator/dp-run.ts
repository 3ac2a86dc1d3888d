import { readJsonFile, writeJsonAtomic } from '../shared/atomic';
import { AppError } from '../shared/errors';
import type { SubspacePhase } from '../shared/model/subspace';
import type { Logger } from '../shared/log';
import type { Workspace } from '../shared/workspace';
import type { CommittedState } from './state';

/**
 * The aggregator's differentially private training runs (DP_EPSILON > 0 with
 * SECURE_AGGREGATION=on). A run is two secure rounds of the `subspace`
 * mechanism: `count`, then `gram` from the Global_V the count round made; the
 * two share the run's ε (DP_EPSILON at DP_DELTA). After a complete run the
 * next one starts when PRIVACY_PERIOD_DAYS have passed since it started (0:
 * never), so the members' budgets (one run and a year of community statistics,
 * PRIVACY_BUDGET_EPSILON) are spent as planned; community rounds go on meanwhile.
 *
 * Which round comes next is decided from this private file and the committed
 * Global_V's round record (the commit is the truth, so a crash at any point
 * leads to the same decision): a count round that did not merge starts the
 * run again, a gram round that did not merge is opened again from the count
 * round's Global_V.
 *
 * `private/<app>/aggregator/dp-run.json` (never synced):
 * ```json
 * { "formatVersion": 1, "startedAt": "2026-11-21T16:00:00.000Z", "countRoundId": "r000007",
 *   "gramRoundId": "r000008", "completedAt": "2026-11-21T16:20:00.000Z", "nextRunAt": "2027-11-21T16:00:00.000Z" }
 * ```
 * `nextRunAt` is null while the run is under way, and after it when
 * PRIVACY_PERIOD_DAYS=0 (no further run).
 */
const DP_RUN_FORMAT_VERSION = 1;
const MAX_DP_RUN_BYTES = 4096;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface DpRun {
  formatVersion: typeof DP_RUN_FORMAT_VERSION;
  /** When the run's count round opened (the budget window of the members starts about then). */
  startedAt: string;
  countRoundId: string;
  gramRoundId: string | null;
  completedAt: string | null;
  nextRunAt: string | null;
}

export type DpPlan = { phase: SubspacePhase } | { idle: string };

interface PlanContext {
  ws: Workspace;
  logger: Logger;
  now: () => Date;
}

/** The run record, or null before the first run. */
export async function readDpRun(ws: Workspace): Promise<DpRun | null> {
  const file = ws.aggregatorDpRunFile();
  const raw = (await readJsonFile(file, { maxBytes: MAX_DP_RUN_BYTES })) as DpRun | null;
  if (raw === null) return null;
  if (raw.formatVersion !== DP_RUN_FORMAT_VERSION || typeof raw.startedAt !== 'string' || typeof raw.countRoundId !== 'string') {
    throw new AppError('ERR_AGGREGATOR_STATE', `${file} is not a DP run record: restore it from a backup (deleting it lets a new training run start at once, before the members' privacy period has passed)`, { file });
  }
  return raw;
}

/**
 * The run record, marked complete (and the next run's date logged, once) when
 * the committed Global_V is its gram round's. Called after every model commit
 * and before every opening, so the record says so as soon as the run is done.
 */
export async function settleDpRun(ctx: PlanContext, committed: Pick<CommittedState, 'record'>, periodDays: number): Promise<DpRun | null> {
  const run = await readDpRun(ctx.ws);
  if (run === null || run.completedAt !== null || run.gramRoundId === null || committed.record?.secagg?.roundId !== run.gramRoundId) return run;
  const nextRunAt = periodDays > 0 ? new Date(Date.parse(run.startedAt) + periodDays * DAY_MS).toISOString() : null;
  const done: DpRun = { ...run, completedAt: ctx.now().toISOString(), nextRunAt };
  await writeJsonAtomic(ctx.ws.aggregatorDpRunFile(), done, { private: true });
  ctx.logger.info({ startedAt: run.startedAt, nextRunAt }, nextRunAt ? `DP training run complete; the next one is due at ${nextRunAt} (PRIVACY_PERIOD_DAYS=${periodDays})` : 'DP training run complete; PRIVACY_PERIOD_DAYS=0, so no further run');
  return done;
}

/** Which round of the DP run opens next, or why none does now. */
export async function planDpRound(ctx: PlanContext, committed: Pick<CommittedState, 'record'>, periodDays: number): Promise<DpPlan> {
  const run = await settleDpRun(ctx, committed, periodDays);
  if (run === null) return { phase: 'count' };
  if (run.completedAt === null) return { phase: committed.record?.secagg?.roundId === run.countRoundId ? 'gram' : 'count' };
  if (run.nextRunAt === null) return { idle: `the DP training run of ${run.startedAt} is complete and PRIVACY_PERIOD_DAYS=0: no further run` };
  if (ctx.now().getTime() < Date.parse(run.nextRunAt)) return { idle: `the DP training run of ${run.startedAt} is complete; the next one is due at ${run.nextRunAt} (PRIVACY_PERIOD_DAYS=${periodDays})` };
  return { phase: 'count' };
}

/** Record that round `roundId` of `phase` opened (written before its round file is published). */
export async function recordDpRoundOpened(ctx: PlanContext, phase: SubspacePhase, roundId: string): Promise<void> {
  const before = await readDpRun(ctx.ws);
  const run: DpRun =
    phase === 'count'
      ? { formatVersion: DP_RUN_FORMAT_VERSION, startedAt: ctx.now().toISOString(), countRoundId: roundId, gramRoundId: null, completedAt: null, nextRunAt: null }
      : { ...before!, gramRoundId: roundId };
  await writeJsonAtomic(ctx.ws.aggregatorDpRunFile(), run, { private: true });
}
