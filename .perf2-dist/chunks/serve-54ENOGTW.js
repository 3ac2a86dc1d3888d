import {
  buildApp,
  startServer
} from "./chunk-47ZIHZ2E.js";
import "./chunk-RSHDQWJH.js";
import "./chunk-ZSCXCAKP.js";
import "./chunk-IEFLLXFA.js";
import {
  abortOnSignals
} from "./chunk-D7NTF5ZX.js";
import {
  untilAborted
} from "./chunk-GPRVVA7K.js";
import "./chunk-NT3X3JSI.js";
import "./chunk-JKMSQLTA.js";
import "./chunk-OPHXPK3N.js";
import "./chunk-TBES3XCL.js";
import {
  loadCatalog
} from "./chunk-FC2Z3HKA.js";
import {
  moduleLogger,
  rootLogger
} from "./chunk-TL5FSXBU.js";
import {
  Workspace,
  parseOptions,
  profileOption,
  resolveIdentity
} from "./chunk-GYULMU4S.js";
import {
  loadConfig
} from "./chunk-3L2Z3EX5.js";

// src/commands/serve.ts
var command = {
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
    const { values } = parseOptions(argv, { profile: { type: "string" } });
    const config = loadConfig();
    const profile = profileOption(values.profile, config);
    const logger = moduleLogger("page", rootLogger(config.LOG_LEVEL));
    const ws = new Workspace(resolveIdentity(config), config.APP_NAME);
    const catalog = await loadCatalog(config.CATALOG_PATH);
    const app = buildApp({ config, workspace: ws, catalog, profile, logger });
    const url = await startServer(app, { host: config.WEB_HOST, port: config.port, allowRemote: config.WEB_ALLOW_REMOTE, logger });
    process.stdout.write(`${url}
`);
    logger.info({ url, profile }, "serving the recommendation page");
    const signal = abortOnSignals();
    await untilAborted(signal);
    await app.close();
    return 0;
  }
};
export {
  command
};
//# sourceMappingURL=serve-54ENOGTW.js.map
