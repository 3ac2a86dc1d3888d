import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseDotenv } from 'dotenv';
import { AppError } from './errors';

/**
 * Configuration: `.env` (in the app folder) overlaid by the process environment,
 * resolved once into one validated, frozen object. Every variable is declared in
 * `VARIABLES` below with its default and what it accepts; `.env.example` documents
 * the same list (a test keeps the two in step). A bad value stops the process with
 * one line naming the variable, the value and what was expected.
 */

type Kind =
  | { type: 'string' }
  | { type: 'email' }
  | { type: 'path' }
  | { type: 'int'; min: number; max: number }
  | { type: 'number'; min: number; max: number }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'list' }
  | { type: 'bool' };

interface Variable {
  kind: Kind;
  /** Default as it would be written in `.env`; '' means "not set". */
  default: string;
  doc: string;
}

export const VARIABLES = {
  // identity and folders
  APP_NAME: { kind: { type: 'string' }, default: 'syftbox-netflix-svd', doc: 'app folder name under apps/, app_data/ and private/' },
  AGGREGATOR_DATASITE: { kind: { type: 'email' }, default: '', doc: 'email of the datasite that runs the aggregator (required for participant and aggregator roles)' },
  SYFTBOX_CLIENT_CONFIG_PATH: { kind: { type: 'path' }, default: '', doc: 'SyftBox client config (JSON with email, data_dir); SyftBox sets it for apps; else ~/.syftbox/config.json, else the embedded local root' },
  LOCAL_ROOT: { kind: { type: 'path' }, default: 'local-syftbox', doc: 'embedded SyftBox-layout root used when no SyftBox client config exists (relative to the app folder)' },
  LOCAL_EMAIL: { kind: { type: 'email' }, default: 'me@local.syftbox', doc: 'email of your datasite in the embedded local root' },
  OUTPUT_DIR: { kind: { type: 'path' }, default: 'netflix_data', doc: 'folder holding profile_<n>/<NETFLIX_CSV> (relative to the app folder)' },
  NETFLIX_CSV: { kind: { type: 'string' }, default: 'NetflixViewingHistory.csv', doc: 'file name of the export inside each profile folder (NetflixViewingHistory.csv or ViewingActivity.csv)' },
  NETFLIX_PROFILES: { kind: { type: 'list' }, default: 'profile_0', doc: 'comma-separated profile folders under OUTPUT_DIR' },
  DATE_ORDER: { kind: { type: 'enum', values: ['auto', 'dmy', 'mdy', 'ymd'] }, default: 'auto', doc: 'day/month order of NetflixViewingHistory.csv dates; auto detects it per file' },
  CATALOG_PATH: { kind: { type: 'path' }, default: '', doc: 'catalogue CSV (netflix_titles.csv columns); empty = the shipped compact catalogue' },
  // web page
  WEB_HOST: { kind: { type: 'string' }, default: '127.0.0.1', doc: 'address the page binds to' },
  WEB_ALLOW_REMOTE: { kind: { type: 'bool' }, default: 'false', doc: 'allow a WEB_HOST other machines can reach (the page shows your recommendations and viewing insights and has no login); warned about on every start' },
  WEB_PORT: { kind: { type: 'int', min: 0, max: 65535 }, default: '8081', doc: 'page port when SYFTBOX_ASSIGNED_PORT is not set' },
  RECS_PER_COLUMN: { kind: { type: 'int', min: 1, max: 50 }, default: '5', doc: 'shows per column on the page' },
  DIVERSITY: { kind: { type: 'number', min: 0, max: 1 }, default: '0', doc: 'MMR diversity weight for re-ranking (0 = off)' },
  // logging
  LOG_LEVEL: { kind: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, default: 'info', doc: 'pino log level' },
  // model
  MODEL_RANK: { kind: { type: 'int', min: 1, max: 256 }, default: '32', doc: 'rank of the item and user factors' },
  SEED: { kind: { type: 'int', min: 0, max: 2 ** 31 - 1 }, default: '42', doc: 'seed for the deterministic initialization and sampling' },
  ALS_REG: { kind: { type: 'number', min: 0, max: 1000 }, default: '3', doc: 'L2 regularization (lambda) of user and item factors; 3 from the validation splits of five data sets (docs/eval)' },
  ALS_ALPHA: { kind: { type: 'number', min: 0, max: 10000 }, default: '2', doc: 'confidence scale: c = 1 + alpha * confidence; 2 from the validation splits of five data sets (docs/eval)' },
  LOCAL_EPOCHS: { kind: { type: 'int', min: 1, max: 1000 }, default: '1', doc: 'local passes over the item factors per training' },
  LOCAL_LR: { kind: { type: 'number', min: 0, max: 1000 }, default: '100', doc: 'largest local step of the item-factor update; the step is capped where the loss is guaranteed to fall, so a large value means "always the safe step"' },
  FEEDBACK_MODE: { kind: { type: 'enum', values: ['implicit', 'stars'] }, default: 'implicit', doc: 'implicit confidence, or the original app\'s 1-5 star rules' },
  RECENCY_HALF_LIFE_DAYS: { kind: { type: 'number', min: 1, max: 100000 }, default: '180', doc: 'half-life of the recency weight in the confidence' },
  // privacy of deltas
  DELTA_CLIP_NORM: { kind: { type: 'number', min: 0.000001, max: 1e6 }, default: '1', doc: 'L2 bound every plain delta is clipped to (SECURE_AGGREGATION=off)' },
  DP_EPSILON: { kind: { type: 'number', min: 0, max: 1000 }, default: '8', doc: 'user-level epsilon at DP_DELTA (add/remove one datasite; 0 = no noise). SECURE_AGGREGATION=on: of one whole training run, the two rounds of the DP PureSVD mechanism (docs/eval/privacy.md) composed by the ledger\'s RDP accounting; the members\' noise shares make the sum over any T survivors carry it, each member refuses a round with less noise than its own value asks, and the aggregator starts one run per PRIVACY_PERIOD_DAYS; 0 runs the non-private federated optimizer instead. SECURE_AGGREGATION=off: of the Gaussian noise on each published delta (local DP)' },
  DP_DELTA: { kind: { type: 'number', min: 0, max: 0.1 }, default: '0.00001', doc: 'delta of the differential-privacy guarantees (of a training run, a community week and the budget); below 1/(number of datasites)' },
  PRIVACY_BUDGET_EPSILON: { kind: { type: 'number', min: 0, max: 100000 }, default: '13.28', doc: 'epsilon at DP_DELTA a profile may spend within any PRIVACY_PERIOD_DAYS window, all its releases composed by the ledger (RDP); a round or week that would exceed it is sat out. 13.28 admits one training run at DP_EPSILON=8 and 53 weeks of community statistics at INSIGHTS_EPSILON=1' },
  PRIVACY_PERIOD_DAYS: { kind: { type: 'int', min: 0, max: 36500 }, default: '365', doc: 'the window of PRIVACY_BUDGET_EPSILON in days, and the least time from the start of one DP training run to the next (0 = the budget never renews and the aggregator runs one training run only)' },
  // secure aggregation
  SECURE_AGGREGATION: { kind: { type: 'enum', values: ['on', 'off'] }, default: 'on', doc: 'on: each datasite sends the federated optimizer\'s statistics inside a masked sum (SecAgg+ over SyftBox files), the aggregator learns only the round\'s sum and accepts no plain delta; off: plain FedAvg deltas (needed for MERGE_MODE trimmed or median; the optimizer cannot run in plain mode, its per-item sums would be readable)' },
  CONTRIBUTION_CLIP_NORM: { kind: { type: 'number', min: 0.000001, max: 1e6 }, default: '100', doc: 'L2 bound of one datasite\'s contribution to a secure round of the federated optimizer (DP_EPSILON=0; its statistics, score units; docs/eval); the contributions to a DP training run have L2 norm 1 by construction' },
  SECAGG_PHASE_MS: { kind: { type: 'int', min: 1000, max: 86400000 }, default: '120000', doc: 'deadline of each secure-aggregation phase (keys, shares, masked input, reveal); long enough for SyftBox sync' },
  SECAGG_SCALE_BITS: { kind: { type: 'int', min: 4, max: 24 }, default: '16', doc: 'coarsest fixed-point precision: a contribution at the clip bound becomes 2^bits quantization steps; each round takes the finest precision (up to 30 bits) at which its cohort\'s sum, noise included, fits 32 bits' },
  SECAGG_MIN_SURVIVORS: { kind: { type: 'int', min: 3, max: 1000000 }, default: '3', doc: 'fewest members whose masked input must arrive for a secure round to complete' },
  SECAGG_SURVIVOR_FRACTION: { kind: { type: 'number', min: 0.5, max: 1 }, default: '0.7', doc: 'share of the cohort that must survive to the end of a secure round' },
  SECAGG_DROPOUT_RATE: { kind: { type: 'number', min: 0, max: 0.5 }, default: '0.1', doc: 'least dropout rate a large cohort\'s neighbour graph is sized for; the aggregator sizes it for 1.5x the worst rate of its last rounds (an aborted round: all it may lose), at most 1 - SECAGG_SURVIVOR_FRACTION' },
  SECAGG_FULL_GRAPH_MAX: { kind: { type: 'int', min: 3, max: 255 }, default: '16', doc: 'cohorts up to this size share with every member; larger ones use a random k-regular neighbour graph (SecAgg+)' },
  MIN_DATASITES: { kind: { type: 'int', min: 1, max: 1000000 }, default: '3', doc: 'no Global_V is published from fewer distinct datasites (one datasite counts as one person, whatever its profiles); also the smallest secure cohort' },
  // participant loop
  WATCH_DEBOUNCE_MS: { kind: { type: 'int', min: 0, max: 600000 }, default: '2000', doc: 'quiet time after a change before retraining' },
  PARTICIPANT_INTERVAL_MS: { kind: { type: 'int', min: 1000, max: 86400000 }, default: '60000', doc: 'how often the participant re-checks for a new Global_V even without file events' },
  // aggregator
  MIN_PARTICIPANTS: { kind: { type: 'int', min: 1, max: 1000000 }, default: '2', doc: 'new deltas that trigger a round; also the minimum for community statistics' },
  ROUND_INTERVAL_MS: { kind: { type: 'int', min: 1000, max: 86400000 }, default: '300000', doc: 'a round runs after this long even with fewer new deltas (if any wait)' },
  SERVER_LR: { kind: { type: 'number', min: 0, max: 1000 }, default: '8', doc: 'server learning rate applied to the merged delta (SECURE_AGGREGATION=off; secure rounds take the optimizer\'s own step)' },
  MAX_STALENESS: { kind: { type: 'int', min: 0, max: 1000 }, default: '3', doc: 'deltas based on a Global_V more than this many versions old are rejected' },
  STALE_DECAY: { kind: { type: 'number', min: 0, max: 1 }, default: '0.5', doc: 'weight multiplier per version of staleness within the limit' },
  MERGE_MODE: { kind: { type: 'enum', values: ['fedavg', 'trimmed', 'median'] }, default: 'fedavg', doc: 'weighted mean, coordinate-wise trimmed mean, or median' },
  TRIM_FRACTION: { kind: { type: 'number', min: 0, max: 0.49 }, default: '0.1', doc: 'share trimmed from each end in trimmed mode' },
  SERVER_CLIP_NORM: { kind: { type: 'number', min: 0, max: 1e6 }, default: '0', doc: 'server-side clip of each delta before merging (0 = off)' },
  SERVER_NOISE_STD: { kind: { type: 'number', min: 0, max: 1e6 }, default: '0', doc: 'std of Gaussian noise added to the merged delta (0 = off)' },
  NOISE_TOLERANCE: { kind: { type: 'number', min: 3, max: 10 }, default: '6', doc: 'how far (in standard deviations of its norm) a noised delta may look from its declared Gaussian noise, in total and per row; an honest delta is refused with probability 3·e^(-t²/2)' },
  // insights and blend
  INSIGHTS_EPSILON: { kind: { type: 'number', min: 0, max: 100 }, default: '1', doc: 'epsilon per ISO week of the community statistics (0 = send none): of the secure community round at DP_DELTA with SECURE_AGGREGATION=on, of the local report in plain mode (the aggregator refuses reports below 1); counted in PRIVACY_BUDGET_EPSILON' },
  BLEND_WITH: { kind: { type: 'email' }, default: '', doc: 'email of a friend to blend with (both must name each other)' },
  BLEND_EPSILON: { kind: { type: 'number', min: 0, max: 100 }, default: '1', doc: 'epsilon per show of the taste summary the blend shares with the friend (Gaussian, at DP_DELTA; a new summary only when the watched shows changed, at most every 28 days); counted in PRIVACY_BUDGET_EPSILON; 0 = the blend shares nothing' },
} as const satisfies Record<string, Variable>;

export type VariableName = keyof typeof VARIABLES;

type ValueOf<K extends Kind> = K extends { type: 'int' | 'number' }
  ? number
  : K extends { type: 'list' }
    ? readonly string[]
    : K extends { type: 'bool' }
      ? boolean
      : K extends { type: 'enum'; values: readonly (infer V)[] }
        ? V
        : string;

export type Config = {
  readonly [N in VariableName]: (typeof VARIABLES)[N]['default'] extends ''
    ? ValueOf<(typeof VARIABLES)[N]['kind']> | null
    : ValueOf<(typeof VARIABLES)[N]['kind']>;
} & {
  /** Folder the app runs from (where `.env`, `ui/` and `data/` are). */
  readonly appDir: string;
  /** Port from SYFTBOX_ASSIGNED_PORT when SyftBox assigned one, else WEB_PORT. */
  readonly port: number;
  /** Variables in `.env` that the project does not know (probably typos). */
  readonly unknownDotenvKeys: readonly string[];
};

interface LoadConfigOptions {
  /** Folder holding `.env`; defaults to the project root. */
  appDir?: string;
  /** Environment to read; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Skip reading `.env` (tests). */
  dotenv?: boolean;
}

/** The folder of package.json above this module: the same from `src/shared/` and from the bundle in `dist/`. */
export const PROJECT_ROOT = projectRoot(path.dirname(fileURLToPath(import.meta.url)));

function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}: the app's files are incomplete`);
  }
}

const EMAIL_RE = /^[^\s@/\\]+@[^\s@/\\]+\.[^\s@/\\]+$/;

/** The `.env` the app reads: in SYFTBOX_APP_DIR when SyftBox started it, else in the project folder. */
export function dotenvPath(appDir?: string): string {
  return path.join(path.resolve(appDir ?? process.env.SYFTBOX_APP_DIR ?? PROJECT_ROOT), '.env');
}

/** Load, validate and freeze the configuration. Throws AppError(ERR_CONFIG_INVALID) naming the variable. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const dotenvFile = dotenvPath(options.appDir);
  const appDir = path.dirname(dotenvFile);
  const env = options.env ?? process.env;
  const fromFile = options.dotenv !== false && existsSync(dotenvFile) ? parseDotenv(readFileSync(dotenvFile)) : {};
  const unknownDotenvKeys = Object.keys(fromFile).filter((k) => !(k in VARIABLES) && !k.startsWith('SYFTBOX_'));

  const out: Record<string, unknown> = { appDir, unknownDotenvKeys };
  for (const [name, spec] of Object.entries(VARIABLES) as [VariableName, Variable][]) {
    const raw = env[name] ?? fromFile[name] ?? spec.default;
    out[name] = parseValue(name, raw.trim(), spec.kind, appDir);
  }
  checkCombinations(out);
  const assigned = env.SYFTBOX_ASSIGNED_PORT ?? env.SYFTBOX_APP_PORT;
  out.port = assigned ? parseValue('SYFTBOX_ASSIGNED_PORT', assigned, VARIABLES.WEB_PORT.kind, appDir) : out.WEB_PORT;
  return Object.freeze(out) as Config;
}

/** Values that are valid alone but not together. */
function checkCombinations(values: Record<string, unknown>): void {
  if (values.SECURE_AGGREGATION === 'on' && values.MERGE_MODE !== 'fedavg') {
    throw new AppError(
      'ERR_CONFIG_INVALID',
      `MERGE_MODE=${values.MERGE_MODE} needs every delta in the clear, but SECURE_AGGREGATION=on shows the aggregator only their sum: set SECURE_AGGREGATION=off to use it, or MERGE_MODE=fedavg`,
    );
  }
}

function parseValue(name: string, raw: string, kind: Kind, appDir: string): unknown {
  const bad = (expected: string): never => {
    throw new AppError('ERR_CONFIG_INVALID', `${name}=${JSON.stringify(raw)} is invalid: expected ${expected}`);
  };
  if (raw === '' && kind.type !== 'list') return null;
  switch (kind.type) {
    case 'string':
      return raw;
    case 'email':
      return EMAIL_RE.test(raw) ? raw.toLowerCase() : bad('an email address such as alice@example.org');
    case 'path':
      return path.resolve(appDir, raw.startsWith('~/') ? path.join(os.homedir(), raw.slice(2)) : raw);
    case 'int': {
      const n = Number(raw);
      return Number.isInteger(n) && n >= kind.min && n <= kind.max ? n : bad(`an integer from ${kind.min} to ${kind.max}`);
    }
    case 'number': {
      const n = Number(raw);
      return Number.isFinite(n) && n >= kind.min && n <= kind.max ? n : bad(`a number from ${kind.min} to ${kind.max}`);
    }
    case 'enum':
      return kind.values.includes(raw) ? raw : bad(`one of ${kind.values.join(', ')}`);
    case 'list':
      return Object.freeze(raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0));
    case 'bool':
      return ['1', 'true', 'yes'].includes(raw.toLowerCase()) ? true : ['0', 'false', 'no'].includes(raw.toLowerCase()) ? false : bad('true or false');
  }
}

/** The value of a variable the caller cannot do without; throws ERR_CONFIG_MISSING naming it. */
export function requireValue<N extends VariableName>(config: Config, name: N, purpose: string): NonNullable<Config[N]> {
  const value = config[name];
  if (value === null || value === undefined) {
    throw new AppError('ERR_CONFIG_MISSING', `${name} is not set: ${purpose}. Set it in .env (see .env.example) or the environment.`);
  }
  return value as NonNullable<Config[N]>;
}

/** A copy of `config` with some values replaced (tests, the demo and the simulator run many datasites). */
export function withOverrides(config: Config, overrides: Partial<Record<VariableName, string>>): Config {
  const env: NodeJS.ProcessEnv = {};
  for (const name of Object.keys(VARIABLES) as VariableName[]) env[name] = serialize(config[name]);
  Object.assign(env, overrides);
  if (overrides.WEB_PORT === undefined) env.SYFTBOX_ASSIGNED_PORT = String(config.port);
  return loadConfig({ appDir: config.appDir, env, dotenv: false });
}

function serialize(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}
