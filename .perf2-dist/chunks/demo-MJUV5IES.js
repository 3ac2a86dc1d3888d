import {
  runSecureRoundInProcess
} from "./chunk-L5R43TGV.js";
import {
  publishAggregatorReports
} from "./chunk-E3J6VXQL.js";
import {
  buildApp,
  startServer
} from "./chunk-47ZIHZ2E.js";
import "./chunk-FKFBVTOU.js";
import {
  afterParticipantPass,
  logProtection,
  runParticipantCycle
} from "./chunk-VO35YDG3.js";
import "./chunk-RSHDQWJH.js";
import {
  TREND_WEEKS,
  publishAllCommunityStats
} from "./chunk-ZSCXCAKP.js";
import "./chunk-PW473JHD.js";
import "./chunk-IEFLLXFA.js";
import {
  abortOnSignals
} from "./chunk-D7NTF5ZX.js";
import {
  secureParamsOf
} from "./chunk-WGELUT3Z.js";
import {
  untilAborted
} from "./chunk-GPRVVA7K.js";
import "./chunk-XAGHYWDG.js";
import "./chunk-65BIV6JN.js";
import "./chunk-EZ7ZEITT.js";
import "./chunk-NT3X3JSI.js";
import "./chunk-JKMSQLTA.js";
import {
  loadCommittedState,
  roundParams,
  runRound
} from "./chunk-IYQIEVDU.js";
import "./chunk-KB4S5H5D.js";
import {
  cryptoRandom
} from "./chunk-OPHXPK3N.js";
import "./chunk-TBES3XCL.js";
import {
  readHistory
} from "./chunk-VD4GDXTX.js";
import {
  createMatcher,
  loadCatalog
} from "./chunk-FC2Z3HKA.js";
import {
  moduleLogger,
  rootLogger,
  writeFileAtomic
} from "./chunk-TL5FSXBU.js";
import {
  Workspace,
  createEmbeddedDatasite,
  intOption,
  parseOptions
} from "./chunk-GYULMU4S.js";
import {
  PROJECT_ROOT,
  loadConfig,
  withOverrides
} from "./chunk-3L2Z3EX5.js";

// src/commands/demo.ts
import path2 from "node:path";

// src/demo/embedded.ts
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import Papa from "papaparse";
import { performance } from "node:perf_hooks";
var DEMO_AGGREGATOR = "aggregator@demo.local";
var DEMO_DIR = path.join(PROJECT_ROOT, "data", "demo");
var YOUR_DEMO_HISTORY = "romance-and-drama.csv";
var DAY_MS = 864e5;
function demoHistories() {
  return readdirSync(DEMO_DIR).filter((f) => f.endsWith(".csv")).sort((a, b) => Number(b === YOUR_DEMO_HISTORY) - Number(a === YOUR_DEMO_HISTORY) || a.localeCompare(b)).map((f) => path.join(DEMO_DIR, f));
}
function shiftToToday(events, today) {
  const newest = events.reduce((max, e) => e.date > max ? e.date : max, "");
  if (newest === "") return [];
  const offsetMs = Date.parse(today) - Date.parse(newest);
  return events.map((e) => ({ title: e.title, date: new Date(Date.parse(e.date) + offsetMs).toISOString().slice(0, 10) }));
}
async function writeCurrentHistory(source, target, now) {
  const { events } = await readHistory(source, { now });
  const rows = shiftToToday(events, now.toISOString().slice(0, 10)).map((e) => [e.title, e.date]);
  await writeFileAtomic(target, `${Papa.unparse({ fields: ["Title", "Date"], data: rows }, { quotes: true, newline: "\n" })}
`);
}
async function buildDemoRoot(config, catalog, logger, { reset = false, now = () => /* @__PURE__ */ new Date() } = {}) {
  const dataDir = config.LOCAL_ROOT;
  if (reset) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const demoConfig = (overrides) => withOverrides(config, { AGGREGATOR_DATASITE: DEMO_AGGREGATOR, NETFLIX_PROFILES: "profile_0", NETFLIX_CSV: "NetflixViewingHistory.csv", ...overrides });
  createEmbeddedDatasite(dataDir, DEMO_AGGREGATOR);
  const aggregatorConfig = demoConfig({});
  const aggregatorWs = new Workspace({ email: DEMO_AGGREGATOR, dataDir }, config.APP_NAME);
  const aggregator = {
    ws: aggregatorWs,
    model: { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash },
    params: roundParams(aggregatorConfig),
    random: cryptoRandom(),
    now,
    logger: logger.child({ datasite: DEMO_AGGREGATOR })
  };
  const secure = secureParamsOf(aggregatorConfig, aggregator);
  const ownExport = path.join(config.OUTPUT_DIR, "profile_0", config.NETFLIX_CSV);
  const matcher = createMatcher(catalog);
  const files = demoHistories();
  const emails = files.map((file, index) => index === 0 ? config.LOCAL_EMAIL : `${path.basename(file, ".csv")}@demo.local`);
  const blendWith = (index) => index === 0 ? emails[1] : index === 1 ? emails[0] : "";
  const participants = [];
  for (const [index, file] of files.entries()) {
    const email = emails[index];
    const useOwn = index === 0 && existsSync(ownExport);
    const csvName = useOwn ? config.NETFLIX_CSV : "NetflixViewingHistory.csv";
    const exportsDir = path.join(dataDir, "exports", email);
    const target = path.join(exportsDir, "profile_0", csvName);
    mkdirSync(path.dirname(target), { recursive: true });
    if (useOwn) copyFileSync(ownExport, target);
    else await writeCurrentHistory(file, target, now());
    createEmbeddedDatasite(dataDir, email, index === 0 ? path.join(dataDir, "config.json") : void 0);
    const participantConfig = demoConfig({ OUTPUT_DIR: exportsDir, NETFLIX_CSV: csvName, DATE_ORDER: useOwn ? config.DATE_ORDER : "auto", BLEND_WITH: blendWith(index) });
    participants.push({
      email,
      source: useOwn ? ownExport : path.relative(PROJECT_ROOT, file),
      ctx: {
        config: participantConfig,
        ws: new Workspace({ email, dataDir }, config.APP_NAME),
        catalog,
        matcher,
        logger: logger.child({ datasite: email }),
        now,
        noiseRandom: cryptoRandom
      }
    });
  }
  return { dataDir, aggregator, secure, participants };
}
async function publishPastCommunityReports(root, passes) {
  for (let weeksAgo = TREND_WEEKS - 1; weeksAgo >= 0; weeksAgo--) {
    for (const [i, { ctx }] of root.participants.entries()) {
      const then = new Date(ctx.now().getTime() - weeksAgo * 7 * DAY_MS);
      await publishAllCommunityStats({ ...ctx, now: () => then }, passes[i].profiles.map((p) => p.profile));
    }
  }
}
async function publishDemoExtras(root, last, config, catalog) {
  await publishPastCommunityReports(root, last.passes);
  for (let pass = 0; pass < 2; pass++) {
    for (const [i, p] of root.participants.entries()) await afterParticipantPass(p.ctx, last.passes[i]);
  }
  await publishAggregatorReports(root.aggregator, config, catalog);
}
async function runDemoRounds(root, { minRounds, maxRounds, onRound }) {
  const rounds = [];
  for (let round = 1; round <= maxRounds; round++) {
    const passes = [];
    for (const p of root.participants) passes.push((await runParticipantCycle(p.ctx)).pass);
    const t0 = performance.now();
    const outcome = root.secure ? { mode: "secure", summary: await runSecureRoundInProcess({ ...root.aggregator, secure: root.secure }, root.participants.map((p) => p.ctx)) } : { mode: "plain", result: await runRound(root.aggregator) };
    const entry = { round, passes, outcome, durationMs: Math.round(performance.now() - t0) };
    rounds.push(entry);
    onRound?.(entry);
    const everyoneGranted = passes.every((p) => p.profiles.length > 0 && p.profiles.every((o) => o.access === "granted"));
    if (round >= minRounds && everyoneGranted) break;
  }
  return rounds;
}

// src/commands/demo.ts
var REPORT_INTERVAL_MS = 15e3;
var command = {
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
    const { values } = parseOptions(argv, { reset: { type: "boolean" }, rounds: { type: "string" }, "no-serve": { type: "boolean" }, verbose: { type: "boolean" } });
    const minRounds = intOption("rounds", values.rounds, 2);
    const config = loadConfig();
    const logger = moduleLogger("demo", rootLogger(values.verbose ? config.LOG_LEVEL : "warn"));
    const catalog = await loadCatalog(config.CATALOG_PATH);
    const root = await buildDemoRoot(config, catalog, logger, { reset: values.reset });
    logProtection(config, logger);
    const me = root.participants[0];
    const log = (line) => process.stdout.write(`${line}
`);
    log(`demo root: ${path2.relative(PROJECT_ROOT, root.dataDir) || root.dataDir} (aggregator ${root.aggregator.ws.email}, ${root.participants.length} participants)`);
    for (const p of root.participants) log(`  participant ${p.email} <- ${p.source}`);
    const rounds = await runDemoRounds(root, {
      minRounds,
      maxRounds: minRounds + 3,
      onRound: ({ round, passes, outcome, durationMs }) => {
        const trained = passes.flatMap((p) => p.profiles).filter((o) => o.status === "published" || o.status === "trained").length;
        const granted = passes.filter((p) => p.profiles.every((o) => o.access === "granted")).length;
        const contributions = `${trained} ${outcome.mode === "secure" ? "profiles trained" : "deltas published"}, ${granted}/${passes.length} participants trained from Global_V`;
        log(`round ${round}: ${contributions}; ${describeOutcome(outcome)} (${durationMs} ms)`);
      }
    });
    const last = rounds.at(-1);
    await publishDemoExtras(root, last, config, catalog);
    for (const p of root.participants) await runParticipantCycle(p.ctx);
    const reports = () => publishAggregatorReports(root.aggregator, config, catalog);
    await reports();
    const committed = await loadCommittedState(root.aggregator);
    if (values["no-serve"]) {
      log(`done: Global_V v${committed.version}, ${committed.contributors.length} contributors`);
      return 0;
    }
    const app = buildApp({ config: me.ctx.config, workspace: me.ctx.ws, catalog, profile: "profile_0", logger: moduleLogger("web", logger) });
    const url = await startServer(app, { host: config.WEB_HOST, port: config.port, allowRemote: config.WEB_ALLOW_REMOTE, logger });
    log(`
open ${url} to compare local and global recommendations (Ctrl-C to stop)`);
    const timer = setInterval(() => void reports(), REPORT_INTERVAL_MS);
    const signal = abortOnSignals();
    await untilAborted(signal);
    clearInterval(timer);
    await app.close();
    await reports();
    return 0;
  }
};
function describeOutcome(outcome) {
  if (outcome.mode === "plain") {
    const r = outcome.result;
    return `aggregator ${r.outcome} -> Global_V v${r.version} (${r.counts.accepted} accepted, ${r.counts.rejected} rejected)`;
  }
  const s = outcome.summary;
  if (s === null) return "no secure round could open (too few participants)";
  return s.outcome === "merged" ? `secure round ${s.roundId} merged the masked sum of ${s.survivors.length}/${s.cohort} participants -> Global_V v${s.version}` : `secure round ${s.roundId} aborted (${s.reason}); Global_V stays at v${s.version}`;
}
export {
  command
};
//# sourceMappingURL=demo-MJUV5IES.js.map
