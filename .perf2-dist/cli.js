import {
  AppError,
  formatError,
  loadConfig
} from "./chunks/chunk-3L2Z3EX5.js";

// src/commands/index.ts
var COMMANDS = [
  { name: "aggregator", summary: "merge participants' deltas into Global_V (daemon, or --once)", load: async () => (await import("./chunks/aggregator-OKBF5DIX.js")).command },
  { name: "app", summary: "the SyftBox app process that run.sh starts: aggregator and/or participant loops and the page", load: async () => (await import("./chunks/app-HKEMDK7G.js")).command },
  { name: "audit", summary: "list who can read/write every published file; exit 1 on a privacy violation", load: async () => (await import("./chunks/audit-FNGR6YN7.js")).command },
  { name: "demo", summary: "run the embedded demo: an aggregator and five participants in a local SyftBox-layout folder", load: async () => (await import("./chunks/demo-MJUV5IES.js")).command },
  { name: "eval", summary: "evaluate the federated model on a MovieLens-format folder (metrics, baselines, DP, charts)", load: async () => (await import("./chunks/eval-PI2SG4PX.js")).command },
  { name: "ingest", summary: "read a Netflix export and report its rows, dates, shows and catalogue matches", load: async () => (await import("./chunks/ingest-PD4NIGAW.js")).command },
  { name: "participant", summary: "train on your private history and contribute to the aggregator's rounds (watch mode, or --once)", load: async () => (await import("./chunks/participant-5F6MIREV.js")).command },
  { name: "recommend", summary: "print the local and global recommendations of a profile", load: async () => (await import("./chunks/recommend-BNP6LXVO.js")).command },
  { name: "serve", summary: "serve the two-column recommendation page (click experiment) for one profile", load: async () => (await import("./chunks/serve-54ENOGTW.js")).command },
  { name: "simulate", summary: "closed-loop simulation: P participants with hidden tastes train, publish, merge, see both lists and click, week by week", load: async () => (await import("./chunks/simulate-7Z6G5NCS.js")).command },
  { name: "verify", summary: "check the aggregator's ledger: hash chain, your Global_V copies, your latest contribution merged (and counted)", load: async () => (await import("./chunks/verify-3XO5FT2B.js")).command }
];

// src/cli.ts
var MIN_NODE_MAJOR = 20;
function printHelp() {
  const lines = ["usage: npm run -s cli -- <command> [options]", "", "commands:"];
  for (const { name, summary } of COMMANDS) lines.push(`  ${name.padEnd(12)} ${summary}`);
  lines.push("", "Run `npm run -s cli -- <command> --help` for the options of one command.");
  process.stdout.write(`${lines.join("\n")}
`);
}
function warnUnknownDotenvKeys() {
  let keys;
  try {
    keys = loadConfig().unknownDotenvKeys;
  } catch {
    return;
  }
  for (const key of keys) process.stderr.write(`warning: .env sets ${key}, which this app does not use (typo?); see .env.example
`);
}
async function main(argv) {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    throw new AppError("ERR_NODE_VERSION", `Node.js ${process.versions.node} is too old: install Node ${MIN_NODE_MAJOR} or newer`);
  }
  const [name, ...rest] = argv;
  if (name === void 0 || name === "--help" || name === "-h" || name === "help") {
    printHelp();
    return name === void 0 ? 2 : 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new AppError("ERR_USAGE", `unknown command "${name}"; run with --help to list commands`);
  const cmd = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${cmd.usage.trim()}
`);
    return 0;
  }
  if (name !== "app") warnUnknownDotenvKeys();
  return cmd.run(rest);
}
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`error: ${formatError(err)}
`);
    if (!(err instanceof AppError) && process.env.DEBUG) process.stderr.write(`${err.stack}
`);
    process.exitCode = err instanceof AppError ? err.exitCode : 1;
  }
);
//# sourceMappingURL=cli.js.map
