import {
  createParticipantContext
} from "./chunk-PTAEYJPJ.js";
import {
  publishAggregatorReports
} from "./chunk-E3J6VXQL.js";
import {
  buildApp,
  startServer
} from "./chunk-47ZIHZ2E.js";
import "./chunk-FKFBVTOU.js";
import {
  runParticipant
} from "./chunk-VO35YDG3.js";
import "./chunk-RSHDQWJH.js";
import "./chunk-ZSCXCAKP.js";
import {
  profileSources
} from "./chunk-PW473JHD.js";
import "./chunk-IEFLLXFA.js";
import {
  abortOnSignals
} from "./chunk-D7NTF5ZX.js";
import {
  createRoundContext,
  runAggregator,
  secureParamsOf
} from "./chunk-WGELUT3Z.js";
import "./chunk-GPRVVA7K.js";
import "./chunk-XAGHYWDG.js";
import "./chunk-65BIV6JN.js";
import "./chunk-EZ7ZEITT.js";
import "./chunk-NT3X3JSI.js";
import "./chunk-JKMSQLTA.js";
import "./chunk-IYQIEVDU.js";
import "./chunk-KB4S5H5D.js";
import "./chunk-OPHXPK3N.js";
import "./chunk-TBES3XCL.js";
import "./chunk-VD4GDXTX.js";
import {
  loadCatalog
} from "./chunk-FC2Z3HKA.js";
import {
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  moduleLogger,
  rootLogger
} from "./chunk-TL5FSXBU.js";
import {
  Workspace,
  clientConfigCandidates,
  isUnderSyftBox,
  parseOptions,
  resolveIdentity
} from "./chunk-GYULMU4S.js";
import {
  VARIABLES,
  dotenvPath,
  isAppError,
  loadConfig,
  requireValue
} from "./chunk-3L2Z3EX5.js";

// src/commands/app.ts
import { existsSync, promises as fs2 } from "node:fs";
import path2 from "node:path";

// src/shared/lock.ts
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
var DEFAULT_STOP_TIMEOUT_MS = 2e4;
var DEFAULT_POLL_MS = 100;
var KILL_WAIT_MS = 1e4;
var MAX_ATTEMPTS = 5;
var execFileAsync = promisify(execFile);
async function processStartToken(pid) {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    try {
      const { stdout } = await execFileAsync("ps", ["-o", "lstart=", "-p", String(pid)]);
      return stdout.trim() || null;
    } catch {
      return null;
    }
  }
}
function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}
async function isRunning(holder) {
  if (!isAlive(holder.pid)) return false;
  if (holder.startToken === null) return true;
  const now = await processStartToken(holder.pid);
  return now === null || now === holder.startToken;
}
function parseHolder(text) {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed), startedAt: 0, startToken: null };
  try {
    const value = JSON.parse(trimmed);
    if (!Number.isSafeInteger(value.pid) || value.pid <= 0 || typeof value.startedAt !== "number") return null;
    return { pid: value.pid, startedAt: value.startedAt, startToken: typeof value.startToken === "string" ? value.startToken : null };
  } catch {
    return null;
  }
}
function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch (err) {
    if (err.code !== "ESRCH") throw err;
  }
}
var sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitForExit(pid, timeoutMs, pollMs) {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}
async function createExclusive(file, text) {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await fs.writeFile(tmp, text, { mode: PRIVATE_FILE_MODE });
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    if (err.code === "EEXIST") return false;
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
async function removeIfUnchanged(file, expected) {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.old`;
  try {
    await fs.rename(file, aside);
  } catch (err) {
    if (err.code === "ENOENT") return;
    throw err;
  }
  try {
    if (await fs.readFile(aside, "utf8") !== expected) await fs.link(aside, file).catch(() => void 0);
  } finally {
    await fs.rm(aside, { force: true });
  }
}
async function acquireLock(file, options = {}) {
  const startedAt = options.startedAt ?? Math.round(performance.timeOrigin);
  const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  const mine = { pid: process.pid, startedAt, startToken: await processStartToken(process.pid) };
  const text = `${JSON.stringify(mine)}
`;
  let replaced = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createExclusive(file, text)) {
      return {
        acquired: true,
        replaced,
        lock: {
          async release() {
            await removeIfUnchanged(file, text);
          }
        }
      };
    }
    const current = await fs.readFile(file, "utf8").catch(() => "");
    const holder = parseHolder(current);
    if (holder !== null && holder.pid !== process.pid && await isRunning(holder)) {
      const newer = holder.startedAt > startedAt || holder.startedAt === startedAt && holder.pid > process.pid;
      if (newer) return { acquired: false, holderPid: holder.pid };
      signal(holder.pid, "SIGTERM");
      let how = "stopped";
      if (!await waitForExit(holder.pid, stopTimeoutMs, pollMs)) {
        how = "killed";
        signal(holder.pid, "SIGKILL");
        await waitForExit(holder.pid, KILL_WAIT_MS, pollMs);
      }
      replaced = { pid: holder.pid, how };
    } else if (holder !== null && holder.pid !== process.pid) {
      replaced = { pid: holder.pid, how: "stale" };
    }
    await removeIfUnchanged(file, current);
  }
  throw new Error(`could not take the lock ${file} after ${MAX_ATTEMPTS} attempts (other copies keep starting?)`);
}

// src/commands/app.ts
var CONFIG_POLL_MS = 2e3;
var CONFIG_ERRORS = ["ERR_CONFIG_INVALID", "ERR_CONFIG_MISSING", "ERR_SYFTBOX_CONFIG"];
function loadSetup() {
  const config = loadConfig();
  const aggregator = requireValue(config, "AGGREGATOR_DATASITE", "every node must know which datasite aggregates");
  return { config, aggregator, identity: resolveIdentity(config) };
}
function configFiles(env) {
  return [dotenvPath(), ...env.SYFTBOX_CLIENT_CONFIG_PATH ? [path2.resolve(env.SYFTBOX_CLIENT_CONFIG_PATH)] : [], ...clientConfigCandidates(env)];
}
async function fingerprint(files) {
  const parts = await Promise.all(files.map((f) => fs2.stat(f).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`, () => "-")));
  return parts.join("|");
}
async function untilChanged(files, signal2) {
  const before = await fingerprint(files);
  while (!signal2.aborted && await fingerprint(files) === before) {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, CONFIG_POLL_MS);
      signal2.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
}
async function waitForSetup(logger, signal2, env) {
  let reported = "";
  for (; ; ) {
    try {
      return loadSetup();
    } catch (err) {
      if (!isUnderSyftBox(env) || !CONFIG_ERRORS.some((code) => isAppError(err, code))) throw err;
      const message = err.message;
      if (message !== reported) logger.warn({ code: err.code }, `${message} Waiting: the app starts by itself when ${dotenvPath()} or the SyftBox client config changes.`);
      reported = message;
    }
    await untilChanged(configFiles(env), signal2);
    if (signal2.aborted) return null;
  }
}
function describeTakeover(replaced) {
  switch (replaced.how) {
    case "stopped":
      return `stopped an earlier copy of the app (pid ${replaced.pid}) and took over`;
    case "killed":
      return `an earlier copy of the app (pid ${replaced.pid}) did not stop after SIGTERM; killed it and took over`;
    case "stale":
      return `took over the lock of an earlier copy (pid ${replaced.pid}) that is no longer running`;
  }
}
var command = {
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
    const signal2 = abortOnSignals();
    const levels = VARIABLES.LOG_LEVEL.kind.values;
    const root = rootLogger(levels.includes(process.env.LOG_LEVEL ?? "") ? process.env.LOG_LEVEL : "info");
    const logger = moduleLogger("app", root);
    const setup = await waitForSetup(logger, signal2, process.env);
    if (setup === null) return 0;
    const { config, aggregator, identity } = setup;
    root.level = config.LOG_LEVEL;
    for (const key of config.unknownDotenvKeys) logger.warn({ key }, `.env sets ${key}, which this app does not use (typo?); see .env.example`);
    const ws = new Workspace(identity, config.APP_NAME);
    const isAggregator = ws.email === aggregator;
    const hasHistory = profileSources(config).some((s) => existsSync(s.file));
    const isParticipant = !isAggregator || hasHistory;
    const lock = await acquireLock(path2.join(ws.privateRoot(), "app.lock"));
    if (!lock.acquired) {
      logger.info({ pid: lock.holderPid }, `a newer copy of the app is running (pid ${lock.holderPid}); this one stops`);
      return 0;
    }
    if (lock.replaced) logger.info({ pid: lock.replaced.pid, how: lock.replaced.how }, describeTakeover(lock.replaced));
    const tasks = [];
    let close = async () => void 0;
    try {
      logger.info({ email: ws.email, dataDir: ws.dataDir, aggregator: isAggregator, participant: isParticipant, embedded: identity.embedded }, "starting");
      if (!isAggregator && !existsSync(ws.datasite(aggregator))) {
        logger.warn({ aggregator }, `no datasite ${aggregator} is synced here yet: if this persists, check AGGREGATOR_DATASITE for a typo`);
      }
      if (isParticipant) {
        const ctx = await createParticipantContext(config, ws, moduleLogger("participant", root));
        const app = buildApp({ config, workspace: ws, catalog: ctx.catalog, profile: profileSources(config)[0].folder, logger: moduleLogger("web", root) });
        const url = await startServer(app, { host: config.WEB_HOST, port: config.port, allowRemote: config.WEB_ALLOW_REMOTE, logger });
        logger.info({ url }, `page at ${url}`);
        close = () => app.close();
        tasks.push(runParticipant(ctx, { signal: signal2 }));
      }
      if (isAggregator) {
        const round = await createRoundContext(config, ws, moduleLogger("aggregator", root));
        const catalog = await loadCatalog(config.CATALOG_PATH);
        const reports = () => publishAggregatorReports(round, config, catalog);
        const timer = setInterval(() => void reports(), config.ROUND_INTERVAL_MS);
        tasks.push(
          runAggregator({
            round,
            secure: secureParamsOf(config, round),
            minParticipants: config.MIN_PARTICIPANTS,
            roundIntervalMs: config.ROUND_INTERVAL_MS,
            debounceMs: config.WATCH_DEBOUNCE_MS,
            signal: signal2,
            onRound: () => void reports(),
            onSecureRound: () => void reports()
          }).finally(() => clearInterval(timer))
        );
      }
      await Promise.all(tasks);
      logger.info("stopped");
      return 0;
    } finally {
      await close();
      await lock.lock.release();
    }
  }
};
export {
  command
};
//# sourceMappingURL=app-HKEMDK7G.js.map
