import { createRoundContext, runAggregator } from '../aggregator/node';
import { runRound, type RoundResult } from '../aggregator/round';
import { loadConfig } from '../shared/config';
import { moduleLogger, rootLogger } from '../shared/log';
import { abortOnSignals } from '../shared/shutdown';
import { resolveIdentity, Workspace } from '../shared/workspace';
import { parseOptions, type Command } from './command';

export const command: Command = {
  summary: 'merge participants\' deltas into Global_V (daemon, or --once)',
  usage: `
usage: npm run -s cli -- aggregator [--once] [--json]

Runs on the datasite named by AGGREGATOR_DATASITE. Reads every participant's
published delta (datasites/*/app_data/APP_NAME/profile_<n>/), validates it, merges
the accepted ones into a new Global_V version (weighted FedAvg, or MERGE_MODE),
appends the hash-chained ledger and grants read access to the contributors.
Without --once it watches for new deltas and runs a round when MIN_PARTICIPANTS
wait or ROUND_INTERVAL_MS passed with at least one waiting; SIGTERM stops it.
Status with per-participant rejection reasons: private/APP_NAME/<email>/aggregator/status.json.

  --once   run one round and exit 0 (also when no new delta waits)
  --json   with --once, print the round summary as JSON (it names participants: keep it private)
`,
  async run(argv) {
    const { values } = parseOptions(argv, { once: { type: 'boolean' }, json: { type: 'boolean' } });
    const config = loadConfig();
    const logger = moduleLogger('aggregator', rootLogger(config.LOG_LEVEL));
    const ws = new Workspace(resolveIdentity(config), config.APP_NAME);
    const round = await createRoundContext(config, ws, logger);
    const signal = abortOnSignals();
    if (!values.once) {
      await runAggregator({
        round,
        signal,
        minParticipants: config.MIN_PARTICIPANTS,
        roundIntervalMs: config.ROUND_INTERVAL_MS,
        debounceMs: config.WATCH_DEBOUNCE_MS,
      });
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
