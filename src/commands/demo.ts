import path from 'node:path';
import { loadCatalog } from '../shared/catalog';
import { loadConfig, PROJECT_ROOT, type Config } from '../shared/config';
import { moduleLogger, rootLogger, type Logger } from '../shared/log';
import { untilAborted } from '../shared/serial';
import { abortOnSignals } from '../shared/shutdown';
import { acquireLock } from '../shared/lock';
import { publishAggregatorReports } from '../aggregator/reports';
import { runParticipantCycle } from '../participant/node';
import { logProtection } from '../participant/protection';
import { loadCommittedState } from '../aggregator/round';
import { buildApp, startServer } from '../participant/server/app';
import { buildDemoRoot, publishDemoExtras, runDemoRounds, type DemoRound } from '../demo/embedded';
import { intOption, parseOptions, type Command } from './command';

/** How often the running demo refreshes the experiment report and community statistics. */
const REPORT_INTERVAL_MS = 15_000;

export const command: Command = {
  usage: `
usage: npm run demo [-- --reset] [-- --rounds N] [-- --no-serve]

Builds (or reuses) an embedded SyftBox-layout root at LOCAL_ROOT (default
./local-syftbox) with one aggregator and one participant per shipped demo history
in data/demo/ (moved forward in time so the newest viewing is today), runs
federated rounds with the real participant and aggregator code (secure
aggregation, unless SECURE_AGGREGATION=off) until Global_V exists and every
participant trains from it, publishes the community reports of the last weeks
as if the demo had run weekly, then serves
your participant's page at http://127.0.0.1:<WEB_PORT>. Put your own export at
OUTPUT_DIR/profile_0/NETFLIX_CSV and it replaces the first participant's.

  --reset       delete the embedded root and start over
  --rounds N    run at least N rounds (default 2)
  --no-serve    stop after the rounds instead of serving the page
  --verbose     show every component's log lines (LOG_LEVEL), not only warnings
`,
  async run(argv) {
    const { values } = parseOptions(argv, { reset: { type: 'boolean' }, rounds: { type: 'string' }, 'no-serve': { type: 'boolean' }, verbose: { type: 'boolean' } });
    const minRounds = intOption('rounds', values.rounds, 2);
    const config = loadConfig();
    // The demo prints its own progress lines; component logs would drown them unless asked for.
    const logger = moduleLogger('demo', rootLogger(values.verbose ? config.LOG_LEVEL : 'warn'));
    const log = (line: string) => process.stdout.write(`${line}\n`);
    // one demo per root: two copies would answer each other's rounds and remove each other's files. As for the app
    // (lock.ts), the newest start wins: a demo still running on this root (serving its page) is stopped first.
    const lock = await acquireLock(demoLockFile(config.LOCAL_ROOT));
    if (!lock.acquired) {
      log(`a newer demo is running on ${config.LOCAL_ROOT} (pid ${lock.holderPid}); this one stops`);
      return 0;
    }
    try {
      if (lock.replaced) log(`stopped the demo that was running on ${config.LOCAL_ROOT} (pid ${lock.replaced.pid})`);
      return await runDemo(config, logger, log, { reset: values.reset === true, minRounds, serve: !values['no-serve'] });
    } finally {
      await lock.lock.release();
    }
  },
};

/** Where the demo's lock for the root `localRoot` is: beside it, so that --reset, which deletes the root, keeps it. */
function demoLockFile(localRoot: string): string {
  return path.join(path.dirname(localRoot), `.${path.basename(localRoot)}.demo.lock`);
}

async function runDemo(config: Config, logger: Logger, log: (line: string) => void, options: { reset: boolean; minRounds: number; serve: boolean }): Promise<number> {
  const { minRounds } = options;
  const catalog = await loadCatalog(config.CATALOG_PATH);
  const root = await buildDemoRoot(config, catalog, logger, { reset: options.reset });
  logProtection(config, logger);
  const me = root.participants[0];
  log(`demo root: ${path.relative(PROJECT_ROOT, root.dataDir) || root.dataDir} (aggregator ${root.aggregator.ws.email}, ${root.participants.length} participants)`);
  for (const p of root.participants) log(`  participant ${p.email} <- ${p.source}`);

  const rounds = await runDemoRounds(root, {
    minRounds,
    maxRounds: minRounds + 3,
    onRound: ({ round, passes, outcome, durationMs }) => {
      const trained = passes.flatMap((p) => p.profiles).filter((o) => o.status === 'published' || o.status === 'trained').length;
      const granted = passes.filter((p) => p.profiles.every((o) => o.access === 'granted')).length;
      const contributions = `${trained} ${outcome.mode === 'secure' ? 'profiles trained' : 'deltas published'}, ${granted}/${passes.length} participants trained from Global_V`;
      log(`round ${round}: ${contributions}; ${describeOutcome(outcome)} (${durationMs} ms)`);
    },
  });
  const last = rounds.at(-1)!;
  await publishDemoExtras(root, last, config, catalog);
  // one more cycle each: every local model starts from the newest Global_V, and both blend friends see each other's consent
  for (const p of root.participants) await runParticipantCycle(p.ctx);
  const reports = () => publishAggregatorReports(root.aggregator, config, catalog);
  await reports();
  const committed = await loadCommittedState(root.aggregator);
  if (!options.serve) {
    log(`done: Global_V v${committed.version}, ${committed.contributors.length} contributors`);
    return 0;
  }

  const app = buildApp({ config: me.ctx.config, workspace: me.ctx.ws, catalog, profile: 'profile_0', logger: moduleLogger('web', logger) });
  const url = await startServer(app, { host: config.WEB_HOST, port: config.port, allowRemote: config.WEB_ALLOW_REMOTE, logger });
  log(`\nopen ${url} to compare local and global recommendations (Ctrl-C to stop)`);
  const timer = setInterval(() => void reports(), REPORT_INTERVAL_MS);
  const signal = abortOnSignals();
  await untilAborted(signal);
  clearInterval(timer);
  await app.close();
  await reports();
  return 0;
}

function describeOutcome(outcome: DemoRound['outcome']): string {
  if (outcome.mode === 'plain') {
    const r = outcome.result;
    return `aggregator ${r.outcome} -> Global_V v${r.version} (${r.counts.accepted} accepted, ${r.counts.rejected} rejected)`;
  }
  const s = outcome.summary;
  if (s === null) return `no secure round opened: ${outcome.idle}`;
  return s.outcome === 'merged'
    ? `secure round ${s.roundId} merged the masked sum of ${s.survivors.length}/${s.cohort} participants -> Global_V v${s.version}`
    : `secure round ${s.roundId} aborted (${s.reason}); Global_V stays at v${s.version}`;
}
