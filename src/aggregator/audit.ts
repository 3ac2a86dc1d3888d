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
  uncheckedPatterns,
  type AccessLevel,
  type PermissionFile,
} from '../shared/permissions';
import { INBOX_DIR, MASKED_MANIFEST } from '../shared/secagg/files';
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
 * - secure-round answers (`<participant>/app_data/<app>/secagg/...`) only by their
 *   owner and the aggregator; the aggregator's round files (`aggregator/secagg/...`)
 *   never by everyone, and each inbox (`inbox/<i>.json`, shares sealed for one
 *   member) by ONE member at most;
 * - Global_V (`<aggregator>/app_data/<app>/aggregator/global/...`) only by the
 *   aggregator and contributors, i.e. datasites with a published
 *   `profile_<n>/delta.json` or secure-round `masked.json` (the ledger names
 *   participants only by salted hash);
 * - no file is writable by '*', an email glob, or more than one user besides its
 *   owner and the aggregator (write implies read: co-writers see each other's data).
 *
 * Readers and writers are the datasites in the root, every email or glob named
 * in a permission file found (so outsiders are reported too), and '*' when the
 * server's public pseudo-user has the access. Access is decided as the SyftBox
 * server decides it (`src/shared/permissions.ts`: ownership by email prefix,
 * templates, doublestar globs, empty and unparsable permission files ignored),
 * and where the answer is uncertain the audit reports the more readable one:
 * rules of equal specificity count with the most permissive; a legacy
 * `syftperm.yaml` counts both ways (the current server ignores it, the old
 * Python one applied it) and the readers of both are reported; date templates
 * are resolved at `now`. Files SyftBox does not sync are skipped (symlinks,
 * `*.tmp`, `*.log`, 0-byte files). A malformed permission file is a violation
 * and is otherwise skipped, as the server skips it; so is a rule whose template
 * this audit cannot evaluate (the server may still apply it).
 */

export type FileKind = 'profile' | 'blend' | 'global' | 'secagg' | 'secagg-round' | 'aggregator' | 'other';

interface AuditedFile {
  /** Relative to `datasites/`, '/'-separated. */
  path: string;
  owner: string;
  readers: string[];
  writers: string[];
  kind: FileKind;
}

interface Violation {
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

interface AuditOptions {
  dataDir: string;
  appName: string;
  aggregator: string;
  /** Clock for date templates (default: now). */
  now?: Date;
}

const NOT_SYNCED_SUFFIXES = ['.tmp', '.log'];

/** Scan a SyftBox root and judge every published file of the app. */
export async function auditRoot({ dataDir, appName, aggregator, now = new Date() }: AuditOptions): Promise<AuditReport> {
  const ws = new Workspace({ email: aggregator, dataDir }, appName);
  const sites = await listDatasites(ws.datasitesDir);
  const published: { abs: string; rel: string; owner: string }[] = [];
  for (const owner of sites) {
    for (const abs of await listSyncedFiles(ws.appData(owner))) published.push({ abs, rel: toDatasitesRelative(ws.datasitesDir, abs), owner });
  }

  const violations: Violation[] = [];
  const warnings: string[] = [];
  const folders = [...new Set(published.flatMap(({ rel }) => ancestorFolders(rel)))].sort();
  const views = await Promise.all(
    [false, true].map(async (legacy) => {
      const permissions = new Map<string, PermissionFile>();
      for (const folder of folders) {
        try {
          const file = await readPermissionFolder(ws.datasitesDir, folder, {
            legacy,
            onUnknownKeys: ({ file: name, keys }) => warnings.push(`${toDatasitesRelative(ws.datasitesDir, name)}: unknown keys ignored: ${keys.join(', ')}`),
          });
          if (file !== null) permissions.set(folder, file);
        } catch (err) {
          if (!isAppError(err, 'ERR_PERMISSION_FILE') || err.file === undefined) throw err;
          const problem = `malformed permission file (ignored): ${err.message}`;
          const where = toDatasitesRelative(ws.datasitesDir, err.file);
          if (!violations.some((v) => v.path === where)) violations.push({ path: where, problem });
        }
      }
      return permissions;
    }),
  );
  for (const [folder, file] of views[0]) {
    for (const pattern of uncheckedPatterns(file, folder)) {
      violations.push({ path: `${folder}/syft.pub.yaml`, problem: `rule "${pattern}" uses template syntax this audit cannot evaluate; the server may apply it: check who it grants by hand` });
    }
  }

  const contributors = new Set(published.filter(({ abs, owner }) => isContribution(ws, abs, owner)).map(({ owner }) => owner));
  const principals = [...new Set([...sites, ...views.flatMap((files) => namedPrincipals(files.values()))])].sort();
  const holders = (rel: string, needed: AccessLevel): string[] => {
    const has = (user: string) => views.some((permissions) => grants(evaluate(permissions, user, rel, now), needed));
    const named = principals.filter(has);
    return has(EVERYONE) ? [...named, EVERYONE] : named;
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
  return { files, violations, warnings: [...new Set(warnings)], ok: violations.length === 0 };
}

/** The privacy problems of one file (empty when it is fine). */
function judge(file: AuditedFile, aggregator: string, contributors: Set<string>): string[] {
  const problems: string[] = [];
  const others = (list: string[], allowed: string[]) => list.filter((p) => !allowed.includes(p));
  const extraReaders = others(file.readers, [file.owner, aggregator]);
  if ((file.kind === 'profile' || file.kind === 'secagg') && extraReaders.length > 0) {
    problems.push(`participant file readable by ${extraReaders.join(', ')}: only its owner and the aggregator may read it`);
  }
  if (file.kind === 'secagg-round' && extraReaders.includes(EVERYONE)) {
    problems.push('secure-round file readable by everyone: only the round\'s members may read it');
  }
  if (file.kind === 'secagg-round' && path.posix.basename(path.posix.dirname(file.path)) === INBOX_DIR && extraReaders.length > 1) {
    problems.push(`inbox readable by ${extraReaders.join(', ')}: only the member it is sealed for may read it`);
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
  if (owner === ws.email && isInside(abs, ws.secaggDir(owner))) return 'secagg-round';
  if (isInside(abs, ws.secaggAnswersRoot(owner))) return 'secagg';
  if (owner === ws.email && isInside(abs, ws.aggregatorDir(owner))) return 'aggregator';
  if (isInside(abs, ws.blendDir(owner))) return 'blend';
  const [first, ...rest] = path.relative(ws.appData(owner), abs).split(path.sep);
  return isProfileName(first) && rest.length > 0 ? 'profile' : 'other';
}

/** A published delta manifest, or a secure round's masked-input manifest: its owner contributed. */
function isContribution(ws: Workspace, abs: string, owner: string): boolean {
  const [first] = path.relative(ws.appData(owner), abs).split(path.sep);
  if (isProfileName(first)) return abs === ws.deltaManifest(first, owner);
  return isInside(abs, ws.secaggAnswersRoot(owner)) && path.basename(abs) === MASKED_MANIFEST;
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
