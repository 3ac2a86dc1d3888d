import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { contentKey } from '../shared/atomic';
import { loadCatalog } from '../shared/catalog';
import { dotenvPath, loadConfig, requireValue, VARIABLES, type Config } from '../shared/config';
import { isAppError, type ErrorCode } from '../shared/errors';
import { acquireLock, type LockResult } from '../shared/lock';
import { moduleLogger, rootLogger, type Logger } from '../shared/log';
import { abortOnSignals } from '../shared/shutdown';
import { clientConfigCandidates, isUnderSyftBox, resolveIdentity, Workspace, type Identity } from '../shared/workspace';
import { createRoundContext, runAggregator, secureParamsOf } from '../aggregator/node';
import { communityRoundContext } from '../aggregator/community-round';
import { publishAggregatorReports } from '../aggregator/reports';
import { createParticipantContext } from '../participant/context';
import { runParticipant } from '../participant/node';
import { profileSources } from '../participant/profiles';
import { buildApp, startServer } from '../participant/server/app';
import { parseOptions, type Command } from './command';

/** How often, while the configuration is missing or invalid, the app looks whether .env (or the client config) changed. */
const CONFIG_POLL_MS = 2_000;
/** Failures a user fixes by editing .env or logging in to SyftBox: under SyftBox the app waits for that instead of exiting. */
const CONFIG_ERRORS: readonly ErrorCode[] = ['ERR_CONFIG_INVALID', 'ERR_CONFIG_MISSING', 'ERR_SYFTBOX_CONFIG'];

interface Setup {
  config: Config;
  aggregator: string;
  identity: Identity;
}

function loadSetup(): Setup {
  const config = loadConfig();
  const aggregator = requireValue(config, 'AGGREGATOR_DATASITE', 'every node must know which datasite aggregates');
  return { config, aggregator, identity: resolveIdentity(config) };
}

/** Files whose change may fix the configuration: .env and where the SyftBox client config may be. */
function configFiles(env: NodeJS.ProcessEnv): string[] {
  return [dotenvPath(), ...(env.SYFTBOX_CLIENT_CONFIG_PATH ? [path.resolve(env.SYFTBOX_CLIENT_CONFIG_PATH)] : []), ...clientConfigCandidates(env)];
}

async function fingerprint(files: string[]): Promise<string> {
  const parts = await Promise.all(files.map((f) => fs.stat(f).then(contentKey, () => '-')));
  return parts.join('|');
}

/** Resolves when one of `files` appears, changes or disappears, or when `signal` aborts. */
async function untilChanged(files: string[], signal: AbortSignal): Promise<void> {
  const before = await fingerprint(files);
  while (!signal.aborted && (await fingerprint(files)) === before) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CONFIG_POLL_MS);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
}

/**
 * The configuration, once it is complete. Started by SyftBox, a missing or
 * invalid one (no .env yet, no AGGREGATOR_DATASITE, a bad value, no client
 * config) is logged in one line and waited out: the client never restarts an
 * app that exits. Started by hand, it is an error as for any command. Null
 * when stopped while waiting.
 */
async function waitForSetup(logger: Logger, signal: AbortSignal, env: NodeJS.ProcessEnv): Promise<Setup | null> {
  let reported = '';
  for (;;) {
    try {
      return loadSetup();
    } catch (err) {
      if (!isUnderSyftBox(env) || !CONFIG_ERRORS.some((code) => isAppError(err, code))) throw err;
      const message = (err as Error).message;
      if (message !== reported) logger.warn({ code: (err as { code: string }).code }, `${message} Waiting: the app starts by itself when ${dotenvPath()} or the SyftBox client config changes.`);
      reported = message;
    }
    await untilChanged(configFiles(env), signal);
    if (signal.aborted) return null;
  }
}

function describeTakeover(replaced: NonNullable<Extract<LockResult, { acquired: true }>['replaced']>): string {
  switch (replaced.how) {
    case 'stopped':
      return `stopped an earlier copy of the app (pid ${replaced.pid}) and took over`;
    case 'killed':
      return `an earlier copy of the app (pid ${replaced.pid}) did not stop after SIGTERM; killed it and took over`;
    case 'stale':
      return `took over the lock of an earlier copy (pid ${replaced.pid}) that is no longer running`;
  }
}

export const command: Command = {
  usage: `
usage: ./run.sh   (or: npm run -s cli -- app)

Reads the SyftBox client config (SYFTBOX_CLIENT_CONFIG_PATH, else
~/.syftbox/config.json, else ~/.config/syftbox/config.json, else the embedded
local root) and .env, then runs:
  - the aggregator loop, when your email equals AGGREGATOR_DATASITE;
  - the participant loop and the page on SYFTBOX_ASSIGNED_PORT (else WEB_PORT),
    when you are not the aggregator, or when the aggregator also has a history.
Logs go to stdout (SyftBox keeps them in apps/<app>/logs/app.log). SIGTERM stops
everything cleanly. Started by SyftBox with a missing or invalid configuration,
it says so in one line and waits for .env to change. A start that finds an
earlier copy running stops it and takes over.
`,
  async run(argv) {
    parseOptions(argv, {});
    const signal = abortOnSignals();
    // The level from the environment if it is one (the configuration, .env included, may not load yet).
    const levels: readonly string[] = VARIABLES.LOG_LEVEL.kind.values;
    const root = rootLogger(levels.includes(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL : 'info');
    const logger = moduleLogger('app', root);
    const setup = await waitForSetup(logger, signal, process.env);
    if (setup === null) return 0;
    const { config, aggregator, identity } = setup;
    root.level = config.LOG_LEVEL;
    for (const key of config.unknownDotenvKeys) logger.warn({ key }, `.env sets ${key}, which this app does not use (typo?); see .env.example`);
    const ws = new Workspace(identity, config.APP_NAME);
    const isAggregator = ws.email === aggregator;
    const hasHistory = profileSources(config).some((s) => existsSync(s.file));
    const isParticipant = !isAggregator || hasHistory;

    const lock = await acquireLock(path.join(ws.privateRoot(), 'app.lock'));
    if (!lock.acquired) {
      logger.info({ pid: lock.holderPid }, `a newer copy of the app is running (pid ${lock.holderPid}); this one stops`);
      return 0;
    }
    if (lock.replaced) logger.info({ pid: lock.replaced.pid, how: lock.replaced.how }, describeTakeover(lock.replaced));
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
        tasks.push(runParticipant(ctx, { signal }));
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
            secure: secureParamsOf(config, round),
            minParticipants: config.MIN_PARTICIPANTS,
            roundIntervalMs: config.ROUND_INTERVAL_MS,
            debounceMs: config.WATCH_DEBOUNCE_MS,
            signal,
            onRound: () => void reports(),
            onSecureRound: () => void reports(),
            communityRounds: (ctx) => communityRoundContext(ctx, config, catalog),
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
