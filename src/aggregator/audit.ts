import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AppError, isAppError } from '../shared/errors';
import {
  EVERYONE,
  ancestorFolders,
  evaluate,
  grants,
  namedPrincipals,
  readPermissionFolder,
  toDatasitesRelative,
  type AccessLevel,
  type PermissionFile,
} from '../shared/permissions';
import { Workspace, isEmailFolder, isProfileName } from '../shared/workspace';

/**
 * Permission audit of one app in a SyftBox root: for every published file under
 * `datasites/<site>/app_data/<app>/`, who may read and write it, and whether that
 * breaks the project's privacy contract:
 *
 * - profile files (`<participant>/app_data/<app>/profile_<n>/...`) are readable
 *   only by their owner and the aggregator;
 * - blend files (`<participant>/app_data/<app>/blend/...`) additionally by ONE
 *   other user, the friend its `blend/syft.pub.yaml` names (a second reader, or
 *   '*', is a violation; which friend is not checked: consent lives with the owner);
 * - Global_V (`<aggregator>/app_data/<app>/aggregator/global/...`) only by the
 *   aggregator and contributors, i.e. datasites with a published
 *   `profile_<n>/delta.json` (the ledger names participants only by salted hash);
 * - no file is writable by '*', an email glob, or more than one user besides its
 *   owner and the aggregator (write implies read: co-writers see each other's data).
 *
 * Readers and writers are the datasites in the root, every email or glob named
 * in a permission file found (so outsiders are reported too), and '*' when any
 * user at all has the access. Files SyftBox does not sync are skipped (symlinks,
 * `*.tmp`, `*.log`, 0-byte files). A malformed permission file is a violation
 * and is otherwise skipped, as the server skips a ruleset it cannot parse.
 */

export type FileKind = 'profile' | 'blend' | 'global' | 'aggregator' | 'other';

export interface AuditedFile {
  /** Relative to `datasites/`, '/'-separated. */
  path: string;
  owner: string;
  readers: string[];
  writers: string[];
  kind: FileKind;
}

export interface Violation {
  path: string;
  problem: string;
}

export interface AuditReport {
  files: AuditedFile[];
  violations: Violation[];
  /** Unknown keys ignored in permission files. */
  warnings: string[];
  ok: boolean;
}

export interface AuditOptions {
  dataDir: string;
  appName: string;
  aggregator: string;
}

const NOT_SYNCED_SUFFIXES = ['.tmp', '.log'];

/** Scan a SyftBox root and judge every published file of the app. */
export async function auditRoot({ dataDir, appName, aggregator }: AuditOptions): Promise<AuditReport> {
  const ws = new Workspace({ email: aggregator, dataDir }, appName);
  const sites = await listDatasites(ws.datasitesDir);
  const published: { abs: string; rel: string; owner: string }[] = [];
  for (const owner of sites) {
    for (const abs of await listSyncedFiles(ws.appData(owner))) published.push({ abs, rel: toDatasitesRelative(ws.datasitesDir, abs), owner });
  }

  const violations: Violation[] = [];
  const warnings: string[] = [];
  const permissions = new Map<string, PermissionFile>();
  const folders = [...new Set(published.flatMap(({ rel }) => ancestorFolders(rel)))].sort();
  for (const folder of folders) {
    try {
      const file = await readPermissionFolder(ws.datasitesDir, folder, ({ file: name, keys }) => {
        warnings.push(`${toDatasitesRelative(ws.datasitesDir, name)}: unknown keys ignored: ${keys.join(', ')}`);
      });
      if (file !== null) permissions.set(folder, file);
    } catch (err) {
      if (!isAppError(err, 'ERR_PERMISSION_FILE') || err.file === undefined) throw err;
      violations.push({ path: toDatasitesRelative(ws.datasitesDir, err.file), problem: `malformed permission file (ignored): ${err.message}` });
    }
  }

  const contributors = new Set(published.filter(({ abs, owner }) => isDeltaManifest(ws, abs, owner)).map(({ owner }) => owner));
  const principals = [...new Set([...sites, ...namedPrincipals(permissions.values())])].sort();
  const holders = (rel: string, needed: AccessLevel): string[] => {
    const named = principals.filter((p) => grants(evaluate(permissions, p, rel), needed));
    return grants(evaluate(permissions, EVERYONE, rel), needed) ? [...named, EVERYONE] : named;
  };

  const files = published.map(({ abs, rel, owner }): AuditedFile => ({
    path: rel,
    owner,
    readers: holders(rel, 'read'),
    writers: holders(rel, 'write'),
    kind: classify(ws, abs, owner),
  }));
  for (const file of files) {
    for (const problem of judge(file, aggregator, contributors)) violations.push({ path: file.path, problem });
  }
  return { files, violations, warnings, ok: violations.length === 0 };
}

/** The privacy problems of one file (empty when it is fine). */
function judge(file: AuditedFile, aggregator: string, contributors: Set<string>): string[] {
  const problems: string[] = [];
  const others = (list: string[], allowed: string[]) => list.filter((p) => !allowed.includes(p));
  const extraReaders = others(file.readers, [file.owner, aggregator]);
  if (file.kind === 'profile' && extraReaders.length > 0) {
    problems.push(`participant file readable by ${extraReaders.join(', ')}: only its owner and the aggregator may read it`);
  }
  if (file.kind === 'blend' && (extraReaders.length > 1 || extraReaders.includes(EVERYONE))) {
    problems.push(`blend file readable by ${extraReaders.join(', ')}: only its owner, the aggregator and one friend may read it`);
  }
  if (file.kind === 'global') {
    const outsiders = others(file.readers, [aggregator, ...contributors]);
    if (outsiders.length > 0) problems.push(`global model readable by ${outsiders.join(', ')}, who never published a delta`);
  }
  const coWriters = others(file.writers, [file.owner, aggregator]);
  if (coWriters.length > 1 || coWriters.some(isGroup)) {
    problems.push(`writable by ${coWriters.join(', ')}: write implies read, so co-writers receive each other's data`);
  }
  return problems;
}

/** A principal that may stand for several users: '*' or an email glob. */
function isGroup(principal: string): boolean {
  return /[*?[\]]/.test(principal);
}

function classify(ws: Workspace, abs: string, owner: string): FileKind {
  if (owner === ws.email && isInside(abs, ws.globalDir(owner))) return 'global';
  if (owner === ws.email && isInside(abs, ws.aggregatorDir(owner))) return 'aggregator';
  if (isInside(abs, ws.blendDir(owner))) return 'blend';
  const [first, ...rest] = path.relative(ws.appData(owner), abs).split(path.sep);
  return isProfileName(first) && rest.length > 0 ? 'profile' : 'other';
}

function isDeltaManifest(ws: Workspace, abs: string, owner: string): boolean {
  const [first] = path.relative(ws.appData(owner), abs).split(path.sep);
  return isProfileName(first) && abs === ws.deltaManifest(first, owner);
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

async function listDatasites(datasitesDir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(datasitesDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new AppError('ERR_FILE_NOT_FOUND', `${datasitesDir} does not exist: pass --root <SyftBox data_dir>`, { file: datasitesDir });
  }
  return entries.filter((e) => e.isDirectory() && isEmailFolder(e.name)).map((e) => e.name).sort();
}

/** Regular files below `dir` that SyftBox would sync; [] when `dir` does not exist. */
async function listSyncedFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listSyncedFiles(full)));
    else if (entry.isFile() && !NOT_SYNCED_SUFFIXES.some((s) => entry.name.endsWith(s)) && (await fs.stat(full)).size > 0) found.push(full);
  }
  return found;
}
