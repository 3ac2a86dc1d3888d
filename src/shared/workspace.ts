import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from './config';
import { AppError } from './errors';

/**
 * Identity (which datasite am I, where is the SyftBox root) and every path the
 * project uses. No other module builds paths into the SyftBox tree.
 *
 * ```
 * <data_dir>/
 *   datasites/<participant>/app_data/<app>/
 *     syft.pub.yaml                    read: [AGGREGATOR_DATASITE]
 *     profile_<n>/delta.npy            item-factor delta (float32, items x rank)
 *     profile_<n>/delta.json           its manifest
 *     profile_<n>/click-counts.json    noised weekly clicks per arm (plain mode; the log itself stays private)
 *     profile_<n>/community.json       locally-private weekly statistics
 *     blend/syft.pub.yaml              read: [the friend] (only while both consent)
 *     blend/<profile>.json             blend taste summary for the friend
 *   datasites/<aggregator>/app_data/<app>/aggregator/
 *     syft.pub.yaml                    read: exactly the accepted contributors
 *     global/v<version>/Global_V.npy   global item factors (float32, items x rank)
 *     global/v<version>/Global_V.json  manifest; written last, so its presence commits the version
 *     ledger.jsonl                     hash-chained round ledger
 *     experiment/ community/           reports for participants
 *   datasites/<aggregator>/public/index.html   community top shows (public)
 *   private/<app>/<email>/<profile>/   participant private state (never synced)
 *   private/<app>/<email>/aggregator/  aggregator private state
 * ```
 * The private tree has an `<email>` level so that several datasites may share
 * one data_dir (tests, the demo, the simulator) without mixing their state.
 */

export interface Identity {
  email: string;
  dataDir: string;
  /** The client config file this identity came from. */
  configPath: string;
  /**
   * True for a root where every datasite shares one disk (the embedded local
   * root, the demo, tests): no SyftBox client decides what is here. False for
   * a root a SyftBox client syncs.
   */
  embedded: boolean;
}

/** Name of the embedded root's config file for the datasite `LOCAL_EMAIL`. */
const EMBEDDED_CONFIG_NAME = 'config.json';
const MAX_CLIENT_CONFIG_BYTES = 1024 * 1024; // 1 MiB

/** Where the SyftBox client keeps its config, in the order the app looks (after SYFTBOX_CLIENT_CONFIG_PATH). */
export function clientConfigCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || os.homedir();
  return [path.join(home, '.syftbox', 'config.json'), path.join(home, '.config', 'syftbox', 'config.json')];
}

/** True when the SyftBox client started this process (it sets SYFTBOX_APP_ID for every app). */
export function isUnderSyftBox(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.SYFTBOX_APP_ID);
}

/**
 * Resolve who we are: `SYFTBOX_CLIENT_CONFIG_PATH` if set (it must exist), else
 * `~/.syftbox/config.json`, else `~/.config/syftbox/config.json`, else the
 * embedded local root (created on first use with the same layout and its own
 * config file). Started by the SyftBox client, the app never falls back to the
 * embedded root: no config found is an error naming every place it looked.
 */
export function resolveIdentity(config: Config, env: NodeJS.ProcessEnv = process.env): Identity {
  if (config.SYFTBOX_CLIENT_CONFIG_PATH) return readClientConfig(config.SYFTBOX_CLIENT_CONFIG_PATH, false);
  const candidates = clientConfigCandidates(env);
  const found = candidates.find((file) => existsSync(file));
  if (found !== undefined) return readClientConfig(found, false);
  if (isUnderSyftBox(env)) {
    throw new AppError(
      'ERR_SYFTBOX_CONFIG',
      `no SyftBox client config found: SYFTBOX_CLIENT_CONFIG_PATH is not set, and neither ${candidates.join(' nor ')} exists. Log in to SyftBox (syftbox login), or set SYFTBOX_CLIENT_CONFIG_PATH in .env to the client's config.json`,
    );
  }
  const configPath = path.join(config.LOCAL_ROOT, EMBEDDED_CONFIG_NAME);
  if (!existsSync(configPath)) createEmbeddedDatasite(config.LOCAL_ROOT, config.LOCAL_EMAIL, configPath);
  return readClientConfig(configPath, true);
}

/** Read a SyftBox client config (`email`, `data_dir`; other keys ignored). */
export function readClientConfig(configPath: string, embedded = false): Identity {
  let parsed: unknown;
  try {
    const text = readFileSync(configPath);
    if (text.length > MAX_CLIENT_CONFIG_BYTES) throw new Error(`larger than ${MAX_CLIENT_CONFIG_BYTES} bytes`);
    parsed = JSON.parse(text.toString('utf8'));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    throw new AppError(
      'ERR_SYFTBOX_CONFIG',
      `SyftBox client config ${configPath} ${reason}: install and log in to SyftBox, or point SYFTBOX_CLIENT_CONFIG_PATH at its config.json (without it the app looks in ${clientConfigCandidates().join(', ')}, then uses the embedded local root)`,
      { file: configPath },
    );
  }
  const record = (parsed ?? {}) as Record<string, unknown>;
  const email = record.email;
  const dataDir = record.data_dir;
  if (typeof email !== 'string' || !email.includes('@') || typeof dataDir !== 'string' || dataDir === '') {
    throw new AppError('ERR_SYFTBOX_CONFIG', `SyftBox client config ${configPath} must have "email" and "data_dir" strings`, { file: configPath });
  }
  const resolvedDataDir = path.resolve(path.dirname(configPath), dataDir.startsWith('~/') ? path.join(os.homedir(), dataDir.slice(2)) : dataDir);
  return { email: email.toLowerCase(), dataDir: resolvedDataDir, configPath, embedded };
}

/** Write a client config file for a datasite (the embedded root, tests, the demo). */
export function writeClientConfig(configPath: string, email: string, dataDir: string): void {
  mkdirSync(path.dirname(configPath), { recursive: true });
  writeFileSync(configPath, `${JSON.stringify({ email, data_dir: dataDir }, null, 2)}\n`);
}

const OWNER_ONLY_PERMISSIONS = "rules:\n  - pattern: '**'\n    access:\n      read: []\n      write: []\n      admin: []\n";
const PUBLIC_READ_PERMISSIONS = "rules:\n  - pattern: '**'\n    access:\n      read: ['*']\n      write: []\n      admin: []\n";

/**
 * Create a datasite in a SyftBox-layout root the way the client does: the
 * datasite folder with an owner-only `syft.pub.yaml`, and `public/` readable by all.
 * Idempotent. Writes the config file when `configPath` is given.
 */
export function createEmbeddedDatasite(dataDir: string, email: string, configPath?: string): Identity {
  const site = path.join(dataDir, 'datasites', email);
  mkdirSync(path.join(site, 'public'), { recursive: true });
  mkdirSync(path.join(dataDir, 'apps'), { recursive: true });
  mkdirSync(path.join(dataDir, 'private'), { recursive: true });
  const own = path.join(site, 'syft.pub.yaml');
  if (!existsSync(own)) writeFileSync(own, OWNER_ONLY_PERMISSIONS);
  const pub = path.join(site, 'public', 'syft.pub.yaml');
  if (!existsSync(pub)) writeFileSync(pub, PUBLIC_READ_PERMISSIONS);
  const file = configPath ?? path.join(dataDir, '.configs', `${email}.json`);
  writeClientConfig(file, email, dataDir);
  return { email, dataDir, configPath: file, embedded: true };
}

/** Every path of one datasite's view of the SyftBox root, for one app. */
export class Workspace {
  readonly email: string;
  readonly dataDir: string;
  readonly appName: string;
  /**
   * Whether every datasite shares this disk (see `Identity.embedded`). Readers
   * of other datasites' files ask `readableHere` (src/shared/permissions.ts):
   * under a SyftBox client, presence is the server's decision; on a shared
   * disk, the permission files stand in for it. A Workspace built from an
   * email and data_dir alone (the demo, tests, the simulator) is embedded.
   */
  readonly embedded: boolean;

  constructor(identity: Pick<Identity, 'email' | 'dataDir'> & Partial<Pick<Identity, 'embedded'>>, appName: string) {
    this.email = identity.email;
    this.dataDir = identity.dataDir;
    this.appName = appName;
    this.embedded = identity.embedded ?? true;
  }

  get datasitesDir(): string {
    return path.join(this.dataDir, 'datasites');
  }

  /** `datasites/<email>` for any datasite (default: mine). */
  datasite(email: string = this.email): string {
    return path.join(this.datasitesDir, email);
  }

  /** `datasites/<email>/app_data/<app>` (default: mine). */
  appData(email: string = this.email): string {
    return path.join(this.datasite(email), 'app_data', this.appName);
  }

  /** Published folder of one of my profiles: `app_data/<app>/<profile>`. */
  profileDir(profile: string, email: string = this.email): string {
    assertProfileName(profile);
    return path.join(this.appData(email), profile);
  }

  deltaPayload(profile: string, email?: string): string {
    return path.join(this.profileDir(profile, email), 'delta.npy');
  }

  deltaManifest(profile: string, email?: string): string {
    return path.join(this.profileDir(profile, email), 'delta.json');
  }

  /** Where versions before the click counts published the raw click log (deleted when found). */
  clickLog(profile: string, email?: string): string {
    return path.join(this.profileDir(profile, email), 'clicks.jsonl');
  }

  /** The noised weekly clicks per arm, for the aggregator (plain mode; `shared/click-counts.ts`). */
  clickCounts(profile: string, email?: string): string {
    return path.join(this.profileDir(profile, email), 'click-counts.json');
  }

  /** The click log, kept on this machine: only its per-arm counts leave (noised, or in the secure community round). */
  privateClickLog(profile: string): string {
    return path.join(this.privateDir(profile), 'clicks.jsonl');
  }

  communityStats(profile: string, email?: string): string {
    return path.join(this.profileDir(profile, email), 'community.json');
  }

  blendDir(email: string = this.email): string {
    return path.join(this.appData(email), 'blend');
  }

  /** The aggregator's shared folder: `datasites/<aggregator>/app_data/<app>/aggregator`. */
  aggregatorDir(aggregatorEmail: string): string {
    return path.join(this.appData(aggregatorEmail), 'aggregator');
  }

  globalDir(aggregatorEmail: string): string {
    return path.join(this.aggregatorDir(aggregatorEmail), 'global');
  }

  /** Folder of one Global_V version: `global/v000012`. */
  globalVersionDir(aggregatorEmail: string, version: number): string {
    return path.join(this.globalDir(aggregatorEmail), `v${String(version).padStart(6, '0')}`);
  }

  ledgerFile(aggregatorEmail: string): string {
    return path.join(this.aggregatorDir(aggregatorEmail), 'ledger.jsonl');
  }

  publicDir(email: string = this.email): string {
    return path.join(this.datasite(email), 'public');
  }

  /** Private state of the app for this datasite: `<data_dir>/private/<app>/<email>`, never synced. */
  privateRoot(): string {
    return path.join(this.dataDir, 'private', this.appName, this.email);
  }

  /** Private state of one profile (U, local V, history cache, privacy ledger). */
  privateDir(profile: string): string {
    assertProfileName(profile);
    return path.join(this.privateRoot(), profile);
  }

  /** Private state of the aggregator (applied-delta index, status). */
  aggregatorPrivateDir(): string {
    return path.join(this.privateRoot(), 'aggregator');
  }

  /** True when `file` is inside the datasites tree (i.e. may be synced to others). */
  isPublished(file: string): boolean {
    const rel = path.relative(this.datasitesDir, path.resolve(file));
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  }

  // Secure aggregation (file formats: src/shared/secagg/files.ts).

  /** The aggregator's secure rounds: `aggregator/secagg`. */
  secaggDir(aggregatorEmail: string): string {
    return path.join(this.aggregatorDir(aggregatorEmail), 'secagg');
  }

  /** One round on the aggregator's datasite: `aggregator/secagg/r000007`. */
  secaggRoundDir(aggregatorEmail: string, roundId: string): string {
    assertRoundId(roundId);
    return path.join(this.secaggDir(aggregatorEmail), roundId);
  }

  /** A member's answers to all rounds: `app_data/<app>/secagg` (default: mine). */
  secaggAnswersRoot(email: string = this.email): string {
    return path.join(this.appData(email), 'secagg');
  }

  /** A member's answers to one round: `app_data/<app>/secagg/r000007` (default: mine). */
  secaggAnswersDir(roundId: string, email: string = this.email): string {
    assertRoundId(roundId);
    return path.join(this.secaggAnswersRoot(email), roundId);
  }

  /** The member's private round state (keys, self-mask seed, its input, what it answered). */
  secaggPrivateDir(): string {
    return path.join(this.privateRoot(), 'secagg');
  }

  /** The aggregator's private round state (cohort with emails, phase, deadlines). */
  aggregatorSecaggPrivateDir(): string {
    return path.join(this.aggregatorPrivateDir(), 'secagg');
  }

  /** The aggregator's record of its differentially private training runs (`dp-run.ts`), private. */
  aggregatorDpRunFile(): string {
    return path.join(this.aggregatorPrivateDir(), 'dp-run.json');
  }
}

/** Secure rounds that sum something other than the model: their own round folders, beside the model's. */
export type RoundPurpose = 'community';

/**
 * The same workspace with every secure-round path one level down, in
 * `secagg/<purpose>/` (aggregator rounds, member answers, both private states):
 * the round machinery runs unchanged for another purpose, and its rounds never
 * mix with the model's (those ids sit in `secagg/` itself). The folders inherit
 * the permission files that cover `secagg/`.
 */
export function secureRoundsView(ws: Workspace, purpose: RoundPurpose): Workspace {
  return new PurposeWorkspace(ws, purpose);
}

class PurposeWorkspace extends Workspace {
  constructor(
    base: Workspace,
    private readonly purpose: RoundPurpose,
  ) {
    super(base, base.appName);
  }

  override secaggDir(aggregatorEmail: string): string {
    return path.join(super.secaggDir(aggregatorEmail), this.purpose);
  }

  override secaggAnswersRoot(email: string = this.email): string {
    return path.join(super.secaggAnswersRoot(email), this.purpose);
  }

  override secaggPrivateDir(): string {
    return path.join(super.secaggPrivateDir(), this.purpose);
  }

  override aggregatorSecaggPrivateDir(): string {
    return path.join(super.aggregatorSecaggPrivateDir(), this.purpose);
  }
}

const PROFILE_RE = /^profile_\d{1,4}$/;

/** Profile folder names are `profile_<n>`: never a user's profile name, never a path. */
export function assertProfileName(profile: string): void {
  if (!PROFILE_RE.test(profile)) throw new AppError('ERR_USAGE', `profile ${JSON.stringify(profile)} is not of the form profile_<n>`);
}

export function isProfileName(name: string): boolean {
  return PROFILE_RE.test(name);
}

const ROUND_ID_RE = /^r\d{6,}$/;

/** Secure round ids are `r` and a zero-padded counter (`r000007`): never a path. */
export function assertRoundId(roundId: string): void {
  if (!isRoundId(roundId)) throw new AppError('ERR_USAGE', `round id ${JSON.stringify(roundId)} is not of the form r000007`);
}

export function isRoundId(name: string): boolean {
  return ROUND_ID_RE.test(name);
}

const EMAIL_FOLDER_RE = /^[^\s@/\\]+@[^\s@/\\]+\.[^\s@/\\]+$/;

/** Datasite folder names are emails; anything else under datasites/ is ignored. */
export function isEmailFolder(name: string): boolean {
  return EMAIL_FOLDER_RE.test(name) && !name.includes('..');
}
