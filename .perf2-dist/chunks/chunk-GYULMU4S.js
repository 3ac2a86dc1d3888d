import {
  AppError
} from "./chunk-3L2Z3EX5.js";

// src/shared/workspace.ts
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
var EMBEDDED_CONFIG_NAME = "config.json";
var MAX_CLIENT_CONFIG_BYTES = 1024 * 1024;
function clientConfigCandidates(env = process.env) {
  const home = env.HOME || os.homedir();
  return [path.join(home, ".syftbox", "config.json"), path.join(home, ".config", "syftbox", "config.json")];
}
function isUnderSyftBox(env = process.env) {
  return Boolean(env.SYFTBOX_APP_ID);
}
function resolveIdentity(config, env = process.env) {
  if (config.SYFTBOX_CLIENT_CONFIG_PATH) return readClientConfig(config.SYFTBOX_CLIENT_CONFIG_PATH, false);
  const candidates = clientConfigCandidates(env);
  const found = candidates.find((file) => existsSync(file));
  if (found !== void 0) return readClientConfig(found, false);
  if (isUnderSyftBox(env)) {
    throw new AppError(
      "ERR_SYFTBOX_CONFIG",
      `no SyftBox client config found: SYFTBOX_CLIENT_CONFIG_PATH is not set, and neither ${candidates.join(" nor ")} exists. Log in to SyftBox (syftbox login), or set SYFTBOX_CLIENT_CONFIG_PATH in .env to the client's config.json`
    );
  }
  const configPath = path.join(config.LOCAL_ROOT, EMBEDDED_CONFIG_NAME);
  if (!existsSync(configPath)) createEmbeddedDatasite(config.LOCAL_ROOT, config.LOCAL_EMAIL, configPath);
  return readClientConfig(configPath, true);
}
function readClientConfig(configPath, embedded = false) {
  let parsed;
  try {
    const text = readFileSync(configPath);
    if (text.length > MAX_CLIENT_CONFIG_BYTES) throw new Error(`larger than ${MAX_CLIENT_CONFIG_BYTES} bytes`);
    parsed = JSON.parse(text.toString("utf8"));
  } catch (err) {
    const reason = err.code === "ENOENT" ? "does not exist" : `cannot be read (${err.message})`;
    throw new AppError(
      "ERR_SYFTBOX_CONFIG",
      `SyftBox client config ${configPath} ${reason}: install and log in to SyftBox, or point SYFTBOX_CLIENT_CONFIG_PATH at its config.json (without it the app looks in ${clientConfigCandidates().join(", ")}, then uses the embedded local root)`,
      { file: configPath }
    );
  }
  const record = parsed ?? {};
  const email = record.email;
  const dataDir = record.data_dir;
  if (typeof email !== "string" || !email.includes("@") || typeof dataDir !== "string" || dataDir === "") {
    throw new AppError("ERR_SYFTBOX_CONFIG", `SyftBox client config ${configPath} must have "email" and "data_dir" strings`, { file: configPath });
  }
  const resolvedDataDir = path.resolve(path.dirname(configPath), dataDir.startsWith("~/") ? path.join(os.homedir(), dataDir.slice(2)) : dataDir);
  return { email: email.toLowerCase(), dataDir: resolvedDataDir, configPath, embedded };
}
function writeClientConfig(configPath, email, dataDir) {
  mkdirSync(path.dirname(configPath), { recursive: true });
  writeFileSync(configPath, `${JSON.stringify({ email, data_dir: dataDir }, null, 2)}
`);
}
var OWNER_ONLY_PERMISSIONS = "rules:\n  - pattern: '**'\n    access:\n      read: []\n      write: []\n      admin: []\n";
var PUBLIC_READ_PERMISSIONS = "rules:\n  - pattern: '**'\n    access:\n      read: ['*']\n      write: []\n      admin: []\n";
function createEmbeddedDatasite(dataDir, email, configPath) {
  const site = path.join(dataDir, "datasites", email);
  mkdirSync(path.join(site, "public"), { recursive: true });
  mkdirSync(path.join(dataDir, "apps"), { recursive: true });
  mkdirSync(path.join(dataDir, "private"), { recursive: true });
  const own = path.join(site, "syft.pub.yaml");
  if (!existsSync(own)) writeFileSync(own, OWNER_ONLY_PERMISSIONS);
  const pub = path.join(site, "public", "syft.pub.yaml");
  if (!existsSync(pub)) writeFileSync(pub, PUBLIC_READ_PERMISSIONS);
  const file = configPath ?? path.join(dataDir, ".configs", `${email}.json`);
  writeClientConfig(file, email, dataDir);
  return { email, dataDir, configPath: file, embedded: true };
}
var Workspace = class {
  email;
  dataDir;
  appName;
  /**
   * Whether every datasite shares this disk (see `Identity.embedded`). Readers
   * of other datasites' files ask `readableHere` (src/shared/permissions.ts):
   * under a SyftBox client, presence is the server's decision; on a shared
   * disk, the permission files stand in for it. A Workspace built from an
   * email and data_dir alone (the demo, tests, the simulator) is embedded.
   */
  embedded;
  constructor(identity, appName) {
    this.email = identity.email;
    this.dataDir = identity.dataDir;
    this.appName = appName;
    this.embedded = identity.embedded ?? true;
  }
  get datasitesDir() {
    return path.join(this.dataDir, "datasites");
  }
  /** `datasites/<email>` for any datasite (default: mine). */
  datasite(email = this.email) {
    return path.join(this.datasitesDir, email);
  }
  /** `datasites/<email>/app_data/<app>` (default: mine). */
  appData(email = this.email) {
    return path.join(this.datasite(email), "app_data", this.appName);
  }
  /** Published folder of one of my profiles: `app_data/<app>/<profile>`. */
  profileDir(profile, email = this.email) {
    assertProfileName(profile);
    return path.join(this.appData(email), profile);
  }
  deltaPayload(profile, email) {
    return path.join(this.profileDir(profile, email), "delta.npy");
  }
  deltaManifest(profile, email) {
    return path.join(this.profileDir(profile, email), "delta.json");
  }
  clickLog(profile, email) {
    return path.join(this.profileDir(profile, email), "clicks.jsonl");
  }
  communityStats(profile, email) {
    return path.join(this.profileDir(profile, email), "community.json");
  }
  blendDir(email = this.email) {
    return path.join(this.appData(email), "blend");
  }
  /** The aggregator's shared folder: `datasites/<aggregator>/app_data/<app>/aggregator`. */
  aggregatorDir(aggregatorEmail) {
    return path.join(this.appData(aggregatorEmail), "aggregator");
  }
  globalDir(aggregatorEmail) {
    return path.join(this.aggregatorDir(aggregatorEmail), "global");
  }
  /** Folder of one Global_V version: `global/v000012`. */
  globalVersionDir(aggregatorEmail, version) {
    return path.join(this.globalDir(aggregatorEmail), `v${String(version).padStart(6, "0")}`);
  }
  ledgerFile(aggregatorEmail) {
    return path.join(this.aggregatorDir(aggregatorEmail), "ledger.jsonl");
  }
  publicDir(email = this.email) {
    return path.join(this.datasite(email), "public");
  }
  /** Private state of the app for this datasite: `<data_dir>/private/<app>/<email>`, never synced. */
  privateRoot() {
    return path.join(this.dataDir, "private", this.appName, this.email);
  }
  /** Private state of one profile (U, local V, history cache, privacy ledger). */
  privateDir(profile) {
    assertProfileName(profile);
    return path.join(this.privateRoot(), profile);
  }
  /** Private state of the aggregator (applied-delta index, status). */
  aggregatorPrivateDir() {
    return path.join(this.privateRoot(), "aggregator");
  }
  /** True when `file` is inside the datasites tree (i.e. may be synced to others). */
  isPublished(file) {
    const rel = path.relative(this.datasitesDir, path.resolve(file));
    return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
  }
  // Secure aggregation (file formats: src/shared/secagg/files.ts).
  /** The aggregator's secure rounds: `aggregator/secagg`. */
  secaggDir(aggregatorEmail) {
    return path.join(this.aggregatorDir(aggregatorEmail), "secagg");
  }
  /** One round on the aggregator's datasite: `aggregator/secagg/r000007`. */
  secaggRoundDir(aggregatorEmail, roundId) {
    assertRoundId(roundId);
    return path.join(this.secaggDir(aggregatorEmail), roundId);
  }
  /** A member's answers to all rounds: `app_data/<app>/secagg` (default: mine). */
  secaggAnswersRoot(email = this.email) {
    return path.join(this.appData(email), "secagg");
  }
  /** A member's answers to one round: `app_data/<app>/secagg/r000007` (default: mine). */
  secaggAnswersDir(roundId, email = this.email) {
    assertRoundId(roundId);
    return path.join(this.secaggAnswersRoot(email), roundId);
  }
  /** The member's private round state (keys, self-mask seed, its input, what it answered). */
  secaggPrivateDir() {
    return path.join(this.privateRoot(), "secagg");
  }
  /** The aggregator's private round state (cohort with emails, phase, deadlines). */
  aggregatorSecaggPrivateDir() {
    return path.join(this.aggregatorPrivateDir(), "secagg");
  }
};
var PROFILE_RE = /^profile_\d{1,4}$/;
function assertProfileName(profile) {
  if (!PROFILE_RE.test(profile)) throw new AppError("ERR_USAGE", `profile ${JSON.stringify(profile)} is not of the form profile_<n>`);
}
function isProfileName(name) {
  return PROFILE_RE.test(name);
}
var ROUND_ID_RE = /^r\d{6,}$/;
function assertRoundId(roundId) {
  if (!isRoundId(roundId)) throw new AppError("ERR_USAGE", `round id ${JSON.stringify(roundId)} is not of the form r000007`);
}
function isRoundId(name) {
  return ROUND_ID_RE.test(name);
}
var EMAIL_FOLDER_RE = /^[^\s@/\\]+@[^\s@/\\]+\.[^\s@/\\]+$/;
function isEmailFolder(name) {
  return EMAIL_FOLDER_RE.test(name) && !name.includes("..");
}

// src/commands/command.ts
import { parseArgs } from "node:util";
function parseOptions(argv, options, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    throw new AppError("ERR_USAGE", err.message);
  }
}
function intOption(name, value, fallback, min = 1) {
  if (value === void 0) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new AppError("ERR_USAGE", `--${name} ${value}: expected an integer >= ${min}`);
  return n;
}
function numberOption(name, value, fallback) {
  if (value === void 0) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new AppError("ERR_USAGE", `--${name} ${value}: expected a number`);
  return n;
}
function profileOption(value, config) {
  const profile = value === void 0 ? config.NETFLIX_PROFILES[0] ?? "profile_0" : /^\d+$/.test(value) ? `profile_${value}` : value;
  assertProfileName(profile);
  return profile;
}

export {
  clientConfigCandidates,
  isUnderSyftBox,
  resolveIdentity,
  createEmbeddedDatasite,
  Workspace,
  assertProfileName,
  isProfileName,
  assertRoundId,
  isRoundId,
  isEmailFolder,
  parseOptions,
  intOption,
  numberOption,
  profileOption
};
//# sourceMappingURL=chunk-GYULMU4S.js.map
