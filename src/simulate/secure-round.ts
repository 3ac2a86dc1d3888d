import { advanceSecureRound, type ActivePhase, type SecureContext, type SecureRoundSummary, type SecureStep } from '../aggregator/secagg';
import { respondToSecureRound, type MemberContext } from '../participant/secagg';

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
}

/** Steps one round takes at most: open, four phase transitions, each possibly forced, with slack. */
const MAX_STEPS = 16;

export async function runSecureRoundInProcess(aggregator: SecureContext, members: readonly MemberContext[], options: InProcessOptions = {}): Promise<SecureRoundSummary | null> {
  const dropped = new Set<number>();
  let step: SecureStep = await advanceSecureRound(aggregator);
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
      await respondToSecureRound(member);
    }
    if (step.action === 'finished') return step.summary;
    step = await advanceSecureRound(aggregator);
    // every member still in has answered what it could: close the phase now, as its deadline would
    if (step.action === 'waiting') step = await advanceSecureRound(aggregator, { force: true });
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
