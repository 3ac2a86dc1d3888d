import { cpuUsage } from 'node:process';
import { advanceSecureRound, type ActivePhase, type SecureContext, type SecureRoundSummary, type SecureStep } from '../aggregator/secagg';
import { respondToSecureRound, type MemberContext, type MemberStep } from '../participant/secagg';
import { progressTicker } from '../shared/progress';
import { startMaskWorkers } from '../shared/secagg/mask-workers';

/**
 * One complete secure round, in one process, through the real round files: the
 * aggregator and every member take turns (aggregator step, then each member
 * answers what it can) and a phase ends as soon as every member answered it, so
 * nothing waits for a deadline (the round runs on a clock of its own that moves a
 * millisecond a turn); at the end every member still in reads the result. A member that `drops` stops answering from that
 * phase on; the aggregator then closes the phase at once (as its deadline would).
 * Used by the embedded demo, the simulator and the evaluation harness; the members
 * must have trained first (`runParticipantPass`, which also writes the permission
 * file that makes a datasite discoverable).
 *
 * ```ts
 * for (const m of members) await runParticipantPass(m);
 * const summary = await runSecureRoundInProcess(
 *   { ...roundContext, secure: secureParams(config, roundContext.model) },
 *   members,
 * );
 * // summary: { outcome: 'merged' | 'aborted', version, survivors, dropped, … } or null (no round could open)
 * ```
 */
export interface InProcessOptions {
  /** True when member `index` stops answering at `phase` (simulated dropouts); default: nobody drops. */
  drops?: (index: number, phase: ActivePhase) => boolean;
  /** Called after every aggregator step and every member's answer, while the round's files are all on disk (the privacy tests copy what the aggregator can read). */
  afterStep?: () => Promise<void>;
  /**
   * After each member's turn: what it did and the CPU time it took (user + system, µs). The benchmark
   * measures through it; the poisoning experiment rewrites a malicious member's masked input here.
   */
  afterMember?: (turn: { index: number; steps: MemberStep[]; cpuMicros: number }) => Promise<void> | void;
  /** After each aggregator step, with its CPU time (µs). */
  afterAggregator?: (turn: { step: SecureStep; cpuMicros: number }) => Promise<void> | void;
  /** Where a large cohort's progress goes: a few lines per phase, "mask 250/1000 (… ms each), ETA …". */
  progress?: (line: string) => void;
  /**
   * Members taking their turn at once (default 1: one after another). Each member still
   * does all of its own work; several in flight overlap one's file I/O with another's
   * computing and keep the mask workers busy. The round's result is the same (a test
   * checks Global_V bit for bit). With more than one, `afterMember`'s CPU time is the
   * process's during the turn (overlapping turns included), and `afterStep` is refused (it
   * copies the files between steps, which only a turn at a time guarantees are whole).
   */
  concurrency?: number;
}

/** The member phase a turn's steps belong to, if any (its progress and CPU are counted by phase). */
export type MemberPhaseName = 'join' | 'share' | 'mask' | 'reveal';
const PHASE_OF: Partial<Record<MemberStep['action'], MemberPhaseName>> = { joined: 'join', shared: 'share', masked: 'mask', revealed: 'reveal' };
export function memberPhaseOf(steps: readonly MemberStep[]): MemberPhaseName | undefined {
  return steps.map((s) => PHASE_OF[s.action]).find((p) => p !== undefined);
}

const cpuMicrosSince = (start: NodeJS.CpuUsage) => {
  const used = cpuUsage(start);
  return used.user + used.system;
};

/** Steps one round takes at most: open, four phase transitions, each possibly forced, with slack. */
const MAX_STEPS = 16;

export async function runSecureRoundInProcess(outside: SecureContext, memberContexts: readonly MemberContext[], options: InProcessOptions = {}): Promise<SecureRoundSummary | null> {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  if (concurrency > 1 && options.afterStep) throw new RangeError('afterStep needs the members one at a time (concurrency 1)');
  // The round's own clock: the aggregator's time at the start, one millisecond more at each turn. No
  // deadline passes while hundreds of members take their turns in one process, however slow the
  // machine (on the wall clock, 610 members on a busy machine outran the masked phase's deadline);
  // phases close when every member still in has answered, or by force for those who dropped.
  // The members' masks are expanded on the mask workers: started (and warm) before the first member's turn. Their
  // start-up also raises malloc's thresholds for the process (mask-workers.ts), so the megabytes each member's
  // vectors take are reused turn after turn instead of unmapped and faulted in again.
  await startMaskWorkers();
  const origin = outside.now().getTime();
  let ticks = 0;
  const now = () => new Date(origin + ticks);
  const aggregator: SecureContext = { ...outside, now };
  const members = memberContexts.map((member) => ({ ...member, now }));
  const dropped = new Set<number>();
  const tickers = new Map<MemberPhaseName, { tick: (done: number) => void; done: number }>();
  const advance = async (force: boolean): Promise<SecureStep> => {
    ticks++;
    const start = cpuUsage();
    const next = await advanceSecureRound(aggregator, { force });
    await options.afterAggregator?.({ step: next, cpuMicros: cpuMicrosSince(start) });
    await options.afterStep?.();
    return next;
  };
  let step: SecureStep = await advance(false);
  if (step.action === 'idle') {
    aggregator.logger.info({ reason: step.reason }, 'no secure round could open');
    return null;
  }
  for (let i = 0; i < MAX_STEPS; i++) {
    const phase = step.action === 'finished' ? null : step.action === 'waiting' ? step.phase : phaseAfter(step.action);
    const turns: number[] = [];
    for (const index of members.keys()) {
      if (dropped.has(index) || (phase !== null && options.drops?.(index, phase))) dropped.add(index);
      else turns.push(index);
    }
    // after the end, each member reads the result (its status, and the clean-up of its round files)
    const turn = async (index: number): Promise<void> => {
      ticks++;
      const start = cpuUsage();
      const steps = await respondToSecureRound(members[index]);
      const cpuMicros = cpuMicrosSince(start);
      const answered = memberPhaseOf(steps);
      if (answered !== undefined && options.progress) {
        if (!tickers.has(answered)) tickers.set(answered, { tick: progressTicker(options.progress, answered, members.length), done: 0 });
        const ticker = tickers.get(answered)!;
        ticker.tick(++ticker.done);
      }
      await options.afterMember?.({ index, steps, cpuMicros });
      await options.afterStep?.();
    };
    // lanes take the next member in line; after a failure no new turn starts, and the first failure is thrown once all stopped
    let next = 0;
    const failures: unknown[] = [];
    const lane = async (): Promise<void> => {
      while (next < turns.length && failures.length === 0) {
        try {
          await turn(turns[next++]);
        } catch (err) {
          failures.push(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, turns.length) }, lane));
    if (failures.length > 0) throw failures[0];
    if (step.action === 'finished') return step.summary;
    step = await advance(false);
    // every member still in has answered what it could: close the phase now, as its deadline would
    if (step.action === 'waiting') step = await advance(true);
  }
  throw new Error(`the secure round did not finish within ${MAX_STEPS} steps (last: ${JSON.stringify(step)})`);
}

/** The phase the members answer after the aggregator took `action`. */
function phaseAfter(action: 'opened' | 'cohort' | 'routed' | 'unmask' | 'idle'): ActivePhase {
  switch (action) {
    case 'opened':
    case 'idle':
      return 'keys';
    case 'cohort':
      return 'shares';
    case 'routed':
      return 'masked';
    case 'unmask':
      return 'reveal';
  }
}
