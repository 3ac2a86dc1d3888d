import { createRoundContext, runAggregator, runOneSecureRound, secureParamsOf } from '../aggregator/node';
import type { SecureParams, SecureRoundSummary } from '../aggregator/secagg';
import { runRound, type RoundResult } from '../aggregator/round';
import { loadConfig } from '../shared/config';
import { moduleLogger, rootLogger } from '../shared/log';
import { abortOnSignals } from '../shared/shutdown';
import { resolveIdentity, Workspace } from '../shared/workspace';
import { parseOptions, type Command } from './command';

export const command: Command = {
  usage: `
usage: npm run -s cli -- aggregator [--once] [--json]

Runs on the datasite named by AGGREGATOR_DATASITE.
With SECURE_AGGREGATION=on (the default) it runs secure rounds over files in
aggregator/secagg/r<id>/: members advertise keys, exchange encrypted shares
through it, publish masked contributions, and survivors reveal just the shares
needed to unmask the SUM, which becomes the next Global_V (each phase ends when
every member answered or after SECAGG_PHASE_MS). It never sees one contribution.
With SECURE_AGGREGATION=off it reads every participant's published delta
(datasites/*/app_data/APP_NAME/profile_<n>/), validates it and merges the accepted
ones (weighted FedAvg, or MERGE_MODE) when MIN_PARTICIPANTS wait or
ROUND_INTERVAL_MS passed with at least one waiting; status with per-participant
rejection reasons: private/APP_NAME/<email>/aggregator/status.json.
Either way it appends the hash-chained ledger and grants read access to the
contributors; no Global_V comes from fewer than MIN_DATASITES datasites.
SIGTERM stops it.

  --once   run one round and exit 0 (secure: waits for it to end, or resumes the
           round in progress; plain: also when no new delta waits)
  --json   with --once, print the round summary as JSON (it names participants: keep it private)
`,
  async run(argv) {
    const { values } = parseOptions(argv, { once: { type: 'boolean' }, json: { type: 'boolean' } });
    const config = loadConfig();
    const logger = moduleLogger('aggregator', rootLogger(config.LOG_LEVEL));
    const ws = new Workspace(resolveIdentity(config), config.APP_NAME);
    const round = await createRoundContext(config, ws, logger);
    const secure = secureParamsOf(config, round);
    const signal = abortOnSignals();
    if (!values.once) {
      await runAggregator({
        round,
        secure,
        signal,
        minParticipants: config.MIN_PARTICIPANTS,
        roundIntervalMs: config.ROUND_INTERVAL_MS,
        debounceMs: config.WATCH_DEBOUNCE_MS,
      });
      return 0;
    }
    if (secure) {
      let summary: SecureRoundSummary | null;
      try {
        summary = await runOneSecureRound({ ...round, signal, secure }, Math.min(MAX_POLL_MS, secure.phaseMs / POLLS_PER_PHASE));
      } catch (err) {
        if (!signal.aborted) throw err;
        process.stdout.write('stopped in the middle of a secure round; it resumes at the next start\n');
        return 0;
      }
      process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : describeSecure(summary, secure));
      return 0;
    }
    let result: RoundResult;
    try {
      result = await runRound({ ...round, signal });
    } catch (err) {
      if (!signal.aborted) throw err;
      process.stdout.write('stopped before the round was committed; nothing changed\n');
      return 0;
    }
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : describe(result));
    return 0;
  },
};

/** `--once` looks at a secure round's files this often: a fraction of a phase, at most every MAX_POLL_MS. */
const POLLS_PER_PHASE = 20;
const MAX_POLL_MS = 1000;

function describeSecure(s: SecureRoundSummary | null, params: SecureParams): string {
  if (s === null) return `no secure round could open: fewer than ${params.minParticipants} datasites take part (MIN_PARTICIPANTS, SECAGG_MIN_SURVIVORS, MIN_DATASITES)\n`;
  const shape = s.k === null ? '' : ` (k=${s.k}, t=${s.t}, T=${s.minSurvivors})`;
  return s.outcome === 'merged'
    ? `secure round ${s.roundId}: merged the sum of ${s.survivors.length} of ${s.cohort} members${shape}, ${s.dropped} dropped -> Global_V v${s.version}\n`
    : `secure round ${s.roundId}: aborted (${s.reason}); nobody was unmasked, Global_V stays at v${s.version}\n`;
}

function describe(r: RoundResult): string {
  const { accepted, rejected, replayed, waiting } = r.counts;
  const others = `${rejected} rejected, ${replayed} already merged, ${waiting} not ready`;
  const lines =
    r.outcome === 'merged'
      ? [`round ${r.version}: merged ${accepted} delta${accepted === 1 ? '' : 's'} (${others}) -> Global_V v${r.version} (sha256 ${r.globalSha256?.slice(0, 16)}…)`]
      : [`${r.outcome === 'nothing-new' ? 'no new deltas waiting' : 'no delta accepted'} (${others}): Global_V stays at v${r.version}`];
  for (const d of r.rejected) lines.push(`  rejected ${d.email}/${d.profile}: ${d.code}: ${d.message}`);
  return `${lines.join('\n')}\n`;
}
