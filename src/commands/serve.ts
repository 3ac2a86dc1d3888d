import { loadCatalog } from '../shared/catalog';
import { loadConfig } from '../shared/config';
import { moduleLogger, rootLogger } from '../shared/log';
import { untilAborted } from '../shared/serial';
import { abortOnSignals } from '../shared/shutdown';
import { resolveIdentity, Workspace } from '../shared/workspace';
import { buildApp, startServer } from '../participant/server/app';
import { parseOptions, profileOption, type Command } from './command';


export const command: Command = {
  usage: `
usage: npm run -s cli -- serve [--profile profile_0]

Serves the page for one profile of this datasite on WEB_HOST (default 127.0.0.1)
at SYFTBOX_ASSIGNED_PORT, else WEB_PORT (default 8081), and prints its URL. It
does not train: it shows what the participant last trained, with the local list
only until the aggregator grants access to the global model. Clicks go to the
profile's click log (readable by AGGREGATOR_DATASITE only). SIGTERM or Ctrl-C
stops it.

  --profile   profile_<n> or <n> (default: the first of NETFLIX_PROFILES)
`,
  async run(argv) {
    const { values } = parseOptions(argv, { profile: { type: 'string' } });
    const config = loadConfig();
    const profile = profileOption(values.profile, config);
    const logger = moduleLogger('page', rootLogger(config.LOG_LEVEL));
    const ws = new Workspace(resolveIdentity(config), config.APP_NAME);
    const catalog = await loadCatalog(config.CATALOG_PATH);
    const app = buildApp({ config, workspace: ws, catalog, profile, logger });
    const url = await startServer(app, { host: config.WEB_HOST, port: config.port, allowRemote: config.WEB_ALLOW_REMOTE, logger });
    process.stdout.write(`${url}\n`);
    logger.info({ url, profile }, 'serving the recommendation page');
    const signal = abortOnSignals();
    await untilAborted(signal);
    await app.close();
    return 0;
  },
};
