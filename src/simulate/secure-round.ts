import { cpuUsage } from 'node:process';
import { advanceSecureRound, type ActivePhase, type SecureContext, type SecureRoundSummary, type SecureStep } from '../aggregator/secagg';
import { respondToSecureRound, type MemberContext, type MemberStep } from '../participant/secagg';

/**
 * One complete secure round, in one process, through the real round files: the
 * aggregator and every member take turns (aggregator step, then each member
 * answers what it can) and a phase ends as soon as every member answered it, so
 * nothing waits for a deadline; at the end every member still in reads the result. A member that `drops` stops answering from that
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
}

const cpuMicrosSince = (start: NodeJS.CpuUsage) => {
  const used = cpuUsage(start);
  return used.user + used.system;
};

/** Steps one round takes at most: open, four phase transitions, each possibly forced, with slack. */
const MAX_STEPS = 16;

export async function runSecureRoundInProcess(aggregator: SecureContext, members: readonly MemberContext[], options: InProcessOptions = {}): Promise<SecureRoundSummary | null> {
  const dropped = new Set<number>();
  const advance = async (force: boolean): Promise<SecureStep> => {
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
    for (const [index, member] of members.entries()) {
      if (dropped.has(index) || (phase !== null && options.drops?.(index, phase))) {
        dropped.add(index);
        continue;
      }
      // after the end, each member reads the result (its status, and the clean-up of its round files)
      const start = cpuUsage();
      const steps = await respondToSecureRound(member);
      await options.afterMember?.({ index, steps, cpuMicros: cpuMicrosSince(start) });
      await options.afterStep?.();
    }
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
