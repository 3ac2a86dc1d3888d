import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadCatalog } from '../shared/catalog';
import { loadConfig, requireValue } from '../shared/config';
import { acquireLock } from '../shared/lock';
import { moduleLogger, rootLogger } from '../shared/log';
import { abortOnSignals } from '../shared/shutdown';
import { resolveIdentity, Workspace } from '../shared/workspace';
import { createRoundContext, runAggregator } from '../aggregator/node';
import { publishAggregatorReports } from '../aggregator/reports';
import { createParticipantContext } from '../participant/context';
import { afterParticipantPass } from '../participant/extras';
import { runParticipant } from '../participant/node';
import { profileSources } from '../participant/profiles';
import { buildApp, startServer } from '../participant/server/app';
import { parseOptions, type Command } from './command';

export const command: Command = {
  summary: 'the SyftBox app process that run.sh starts: aggregator and/or participant loops and the page',
  usage: `
usage: ./run.sh   (or: npm run -s cli -- app)

Reads the SyftBox client config (SYFTBOX_CLIENT_CONFIG_PATH, else
~/.syftbox/config.json, else the embedded local root) and .env, then runs:
  - the aggregator loop, when your email equals AGGREGATOR_DATASITE;
  - the participant loop and the page on SYFTBOX_ASSIGNED_PORT (else WEB_PORT),
    when you are not the aggregator, or when the aggregator also has a history.
Logs go to stdout (SyftBox keeps them in apps/<app>/logs/app.log). SIGTERM stops
everything cleanly. A second start while one runs exits at once.
`,
  async run(argv) {
    parseOptions(argv, {});
    const config = loadConfig();
    const root = rootLogger(config.LOG_LEVEL);
    const logger = moduleLogger('app', root);
    for (const key of config.unknownDotenvKeys) logger.warn({ key }, `.env sets ${key}, which this app does not use (typo?); see .env.example`);
    const aggregator = requireValue(config, 'AGGREGATOR_DATASITE', 'every node must know which datasite aggregates');
    const identity = resolveIdentity(config);
    const ws = new Workspace(identity, config.APP_NAME);
    const isAggregator = ws.email === aggregator;
    const hasHistory = profileSources(config).some((s) => existsSync(s.file));
    const isParticipant = !isAggregator || hasHistory;

    const lock = await acquireLock(path.join(ws.privateRoot(), 'app.lock'));
    if (!lock.acquired) {
      logger.info({ pid: lock.holderPid }, `already running (pid ${lock.holderPid}); this start does nothing`);
      return 0;
    }
    const signal = abortOnSignals();
    const tasks: Promise<void>[] = [];
    let close = async (): Promise<void> => undefined;
    try {
      logger.info({ email: ws.email, dataDir: ws.dataDir, aggregator: isAggregator, participant: isParticipant, embedded: identity.embedded }, 'starting');
      if (!isAggregator && !existsSync(ws.datasite(aggregator))) {
        logger.warn({ aggregator }, `no datasite ${aggregator} is synced here yet: if this persists, check AGGREGATOR_DATASITE for a typo`);
      }
      if (isParticipant) {
        const ctx = await createParticipantContext(config, ws, moduleLogger('participant', root));
        const app = buildApp({ config, workspace: ws, catalog: ctx.catalog, profile: profileSources(config)[0].folder, logger: moduleLogger('web', root) });
        const url = await startServer(app, { host: config.WEB_HOST, port: config.port, allowRemote: config.WEB_ALLOW_REMOTE, logger });
        logger.info({ url }, `page at ${url}`);
        close = () => app.close();
        tasks.push(runParticipant(ctx, { signal, onPass: (result) => void afterParticipantPass(ctx, result) }));
      }
      if (isAggregator) {
        const round = await createRoundContext(config, ws, moduleLogger('aggregator', root));
        const catalog = await loadCatalog(config.CATALOG_PATH);
        const reports = () => publishAggregatorReports(round, config, catalog);
        // Community reports arrive weekly whether or not deltas do: refresh on a timer too.
        const timer = setInterval(() => void reports(), config.ROUND_INTERVAL_MS);
        tasks.push(
          runAggregator({
            round,
            minParticipants: config.MIN_PARTICIPANTS,
            roundIntervalMs: config.ROUND_INTERVAL_MS,
            debounceMs: config.WATCH_DEBOUNCE_MS,
            signal,
            onRound: () => void reports(),
          }).finally(() => clearInterval(timer)),
        );
      }
      await Promise.all(tasks);
      logger.info('stopped');
      return 0;
    } finally {
      await close();
      await lock.lock.release();
    }
  },
};
