import { lstatSync, readdirSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { DELTA_MANIFEST_NAME } from '../shared/delta';
import type { Logger } from '../shared/log';
import { PERMISSION_FILE, permissionReader, type PermissionReader } from '../shared/permissions';
import { isEmailFolder, isProfileName, type Workspace } from '../shared/workspace';
import { inOrder } from './pipeline';

/**
 * Which participant profiles the aggregator looks at: every
 * `datasites/<email>/app_data/<app>/profile_<n>/` holding a `delta.json`, where
 * each level is a real folder (never a symlink: a symlinked datasite or profile
 * could point anywhere on the aggregator's disk) and the datasite's permission
 * files let the aggregator read the manifest (what the SyftBox server enforces;
 * in the embedded root every file is on disk, so it is checked here), and let
 * no one but its owner write it (else someone else could have written the delta).
 * Everything else (stray files, `*.conflict.*` and `*.rejected.*` copies, the
 * aggregator's own `aggregator/` folder, folders that are not emails) is skipped
 * with a debug log. The aggregator's own datasite takes part like any other.
 * One scan reads each folder's permission file once (`permissionReader`).
 */
export interface ProfileRef {
  email: string;
  profile: string;
  /** Absolute path of the profile folder. */
  dir: string;
}

/** Datasites scanned at once (each scan is a handful of small file-system calls). */
const SCAN_DEPTH = 16;

/**
 * Every readable participant profile holding `fileName` (the delta manifest by
 * default; the community reader asks for `community.json`, which profiles publish
 * under secure aggregation too), sorted by email then profile (rounds are reproducible).
 */
export async function discoverProfiles(ws: Workspace, logger: Logger, fileName: string = DELTA_MANIFEST_NAME): Promise<ProfileRef[]> {
  const found: ProfileRef[] = [];
  for await (const site of discoverSites(ws, logger, fileName)) found.push(...site);
  return found;
}

/**
 * `discoverProfiles` as a stream of datasites (each with at least one profile), so
 * that a round reads the first deltas while it still scans the other datasites.
 */
export async function* discoverSites(ws: Workspace, logger: Logger, fileName: string = DELTA_MANIFEST_NAME): AsyncGenerator<ProfileRef[]> {
  const sites = (await listEntries(ws.datasitesDir))
    .filter((site) => {
      const ok = site.isDirectory() && isEmailFolder(site.name);
      if (!ok) logger.debug({ entry: site.name }, 'skipped: not a datasite folder');
      return ok;
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const permissions = permissionReader(ws.datasitesDir);
  for await (const [site, outcome] of inOrder(sites, (s) => scanDatasite(ws, permissions, s.name, fileName, logger), SCAN_DEPTH)) {
    if (!outcome.ok) logger.debug({ email: site.name, err: outcome.error }, 'skipped: datasite unreadable');
    else if (outcome.value.length > 0) yield outcome.value.sort((a, b) => compareProfiles(a.profile, b.profile));
  }
}

async function scanDatasite(ws: Workspace, permissions: PermissionReader, email: string, fileName: string, logger: Logger): Promise<ProfileRef[]> {
  const appData = ws.appData(email);
  if (!(await isRealFolder(path.dirname(appData))) || !(await isRealFolder(appData))) {
    if (await entryExists(appData)) logger.debug({ email }, 'skipped: app folder is not a real folder (symlink?)');
    return [];
  }
  const found: ProfileRef[] = [];
  for (const entry of await listEntries(appData)) {
    const dir = path.join(appData, entry.name);
    if (!entry.isDirectory() || !isProfileName(entry.name)) {
      logger.debug({ email, entry: entry.name }, 'skipped: not a profile folder');
      continue;
    }
    const manifest = path.join(dir, fileName);
    if (!(await entryExists(manifest))) continue;
    const sharing = await sharingOf(ws, permissions, manifest, logger);
    if (sharing === 'private') {
      logger.debug({ email, profile: entry.name }, 'skipped: the profile is not shared with the aggregator');
      continue;
    }
    if (sharing.length > 0) {
      logger.warn({ email, profile: entry.name, file: manifest, writers: sharing }, `skipped: a syft.pub.yaml lets ${sharing.join(', ')} write this delta, so someone other than its owner could have written it; it is merged once no one but its owner may write it`);
      continue;
    }
    found.push({ email, profile: entry.name, dir });
  }
  return found;
}

/**
 * Datasites that may join a secure round: `app_data/<app>/` is a real folder with
 * the participant's `syft.pub.yaml` (every participant writes it on its first pass),
 * which lets the aggregator read the member's round answers and lets no one but
 * their owner write them. The aggregator's own datasite qualifies only when it runs a
 * participant too (it then has that permission file). Sorted.
 */
export async function discoverMembers(ws: Workspace, logger: Logger): Promise<string[]> {
  const found: string[] = [];
  const permissions = permissionReader(ws.datasitesDir);
  for (const site of await listEntries(ws.datasitesDir)) {
    if (!site.isDirectory() || !isEmailFolder(site.name)) continue;
    const appData = ws.appData(site.name);
    if (!(await isRealFolder(path.dirname(appData))) || !(await isRealFolder(appData)) || !(await entryExists(path.join(appData, PERMISSION_FILE)))) continue;
    const sharing = await sharingOf(ws, permissions, path.join(ws.secaggAnswersRoot(site.name), 'r000000', 'keys.json'), logger);
    if (sharing !== 'private' && sharing.length === 0) found.push(site.name);
    else logger.debug({ email: site.name, sharing }, 'skipped for secure rounds: answers not readable by the aggregator, or writable by someone besides their owner');
  }
  return found.sort();
}

async function listEntries(dir: string): Promise<Dirent[]> {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

// The listing above and the two checks below are synchronous on purpose: a scan makes several per
// datasite, each takes microseconds, an async call costs a thread-pool round trip, and an async
// lstat builds an ENOENT error (with its stack) for each absent file.

/** What is at `file` (not following a symlink); undefined when nothing or unreachable (ENOTDIR, EACCES). */
function lstatOrNone(file: string): Stats | undefined {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** A folder reached without following a symlink. */
async function isRealFolder(dir: string): Promise<boolean> {
  return lstatOrNone(dir)?.isDirectory() ?? false;
}

/** True when something (of any kind, symlinks included) is at `file`. */
export async function entryExists(file: string): Promise<boolean> {
  return lstatOrNone(file) !== undefined;
}

/**
 * How a manifest is shared: `private` (the aggregator may not read it, or the
 * permission files do not parse), else who besides its owner may write it
 * (`writersBesidesOwner`: '*', '*@*', another email...). Shared properly means
 * none: a delta someone else may write proves nothing about its owner.
 */
async function sharingOf(ws: Workspace, permissions: PermissionReader, file: string, logger: Logger): Promise<'private' | string[]> {
  try {
    if (!(await permissions.canRead(ws.email, file))) return 'private';
    return await permissions.writersBesidesOwner(file);
  } catch (err) {
    logger.debug({ file, err }, 'skipped: permission file unreadable');
    return 'private';
  }
}

function compareProfiles(a: string, b: string): number {
  return Number(a.slice('profile_'.length)) - Number(b.slice('profile_'.length));
}
