import path from 'node:path';
import type { Config } from '../shared/config';
import { readJsonFile, writeJsonAtomic } from '../shared/atomic';
import { AppError, formatError } from '../shared/errors';
import type { Logger } from '../shared/log';
import type { ViewingEvent } from '../shared/history';
import { isProfileName } from '../shared/workspace';

/**
 * Which history file feeds which `profile_<n>`.
 *
 * Each folder listed in `NETFLIX_PROFILES` (under `OUTPUT_DIR`) holds one export.
 * A `NetflixViewingHistory.csv` is one profile: the folder's. A `ViewingActivity.csv`
 * holds every profile of the account: its first profile (by name) takes the
 * folder's number and each further one gets the next free `profile_<n>`. The
 * assignment is remembered in the private `profiles.json` so that numbers stay
 * stable when profiles are added; profile names never leave the private folder.
 */
export interface ProfileSource {
  /** Folder under OUTPUT_DIR, e.g. profile_0. */
  folder: string;
  /** Absolute path of the export file. */
  file: string;
}

interface ProfileAssignment {
  folder: string;
  /** Netflix profile name inside a ViewingActivity.csv; null for the simple export. */
  name: string | null;
  profile: string;
}

interface AssignmentFile {
  formatVersion: 1;
  assignments: ProfileAssignment[];
}

const ASSIGNMENTS_FILE = 'profiles.json';
const MAX_ASSIGNMENTS_BYTES = 1024 * 1024; // 1 MiB

/** The configured export files, one per folder in NETFLIX_PROFILES. */
export function profileSources(config: Config): ProfileSource[] {
  return config.NETFLIX_PROFILES.map((folder) => {
    if (!isProfileName(folder)) {
      throw new AppError('ERR_CONFIG_INVALID', `NETFLIX_PROFILES=${config.NETFLIX_PROFILES.join(',')} is invalid: expected folder names like profile_0,profile_1 (got ${JSON.stringify(folder)})`);
    }
    return { folder, file: path.join(config.OUTPUT_DIR, folder, config.NETFLIX_CSV) };
  });
}

/** Split a parsed export into its Netflix profiles: name (null for the simple export) -> events. */
export function groupByProfileName(events: ViewingEvent[]): Map<string | null, ViewingEvent[]> {
  const groups = new Map<string | null, ViewingEvent[]>();
  for (const event of events) {
    const list = groups.get(event.profile);
    if (list) list.push(event);
    else groups.set(event.profile, [event]);
  }
  return groups;
}

/** Every assignment made so far (empty before the first pass). */
export async function readAssignments(privateRoot: string): Promise<ProfileAssignment[]> {
  const stored = (await readJsonFile(path.join(privateRoot, ASSIGNMENTS_FILE), { maxBytes: MAX_ASSIGNMENTS_BYTES })) as AssignmentFile | null;
  return stored ? [...stored.assignments] : [];
}

/**
 * Assign a `profile_<n>` to every (folder, profile name) pair, keeping earlier
 * assignments. Persists the result in `<privateRoot>/profiles.json`.
 */
export async function assignProfiles(privateRoot: string, folder: string, names: (string | null)[], reserved: readonly string[]): Promise<ProfileAssignment[]> {
  const assignments = await readAssignments(privateRoot);
  const taken = new Set([...reserved, ...assignments.map((a) => a.profile)]);
  const sorted = [...names].sort((a, b) => (a ?? '').localeCompare(b ?? ''));
  let changed = false;
  sorted.forEach((name, index) => {
    if (assignments.some((a) => a.folder === folder && a.name === name)) return;
    let profile = folder;
    if (index > 0 || assignments.some((a) => a.profile === folder && !(a.folder === folder && a.name === name))) {
      let n = 0;
      while (taken.has(`profile_${n}`)) n++;
      profile = `profile_${n}`;
    }
    taken.add(profile);
    assignments.push({ folder, name, profile });
    changed = true;
  });
  if (changed) await writeJsonAtomic(path.join(privateRoot, ASSIGNMENTS_FILE), { formatVersion: 1, assignments } satisfies AssignmentFile, { private: true });
  return assignments.filter((a) => a.folder === folder && names.includes(a.name));
}

/**
 * `publish` for each profile in turn; a profile whose publication fails with an
 * AppError is logged and reported as `skipped` with the error's text, and the
 * others go on. Any other error is a bug and propagates.
 */
export async function forEachProfile<T>(profiles: readonly string[], logger: Logger, publish: (profile: string) => Promise<T>, skipped: (profile: string, reason: string) => T): Promise<T[]> {
  const out: T[] = [];
  for (const profile of profiles) {
    try {
      out.push(await publish(profile));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      logger.error({ profile, code: err.code }, formatError(err));
      out.push(skipped(profile, formatError(err)));
    }
  }
  return out;
}
