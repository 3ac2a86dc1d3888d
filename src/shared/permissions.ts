import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { parseDocument, stringify } from 'yaml';
import { readRegularFile, writeFileAtomic } from './atomic';
import { AppError } from './errors';
import { moduleLogger } from './log';

/**
 * SyftBox permissions: write `syft.pub.yaml`, read it (and the legacy
 * `syftperm.yaml`), and decide who may read or write a file, the way the
 * SyftBox server does. Semantics were read from OpenMined/syftbox (Go, v0.8.x):
 * `internal/aclspec/*.go` (format), `internal/server/acl/{tree,rule,utils,matcher,acl}.go`
 * (evaluation). Example:
 *
 * ```yaml
 * terminal: false
 * rules:
 *   - pattern: 'delta/**'               # doublestar glob relative to this file's folder
 *     access:
 *       read: ['aggregator@example.org'] # emails, '*', 'USER', email globs ('*@example.org')
 *       write: []
 *       admin: []
 * ```
 *
 * - The datasite owner (first path segment) always has admin.
 * - Only the NEAREST permission file at or above the target's folder applies (no
 *   inheritance). Walking down from the datasite root, a `terminal: true` file
 *   stops the walk: files below it are ignored (`ACLTree.GetNearestNode`).
 * - Rules are tried in order of specificity (`calculateGlobSpecificity`, ported
 *   below); the first whose pattern matches decides; no match = deny. Go sorts
 *   with an unstable sort; here ties keep file order.
 * - A pattern without `*`, `?` or `[` is compared exactly (so `{a,b}` alone is
 *   literal, as in Go); otherwise it is a glob (picomatch with `dot` so `*`
 *   matches dot files like doublestar; no `!` negation, no extglobs).
 * - Access lists: `*` is everyone. `USER` is replaced by the requesting user
 *   before the check (`ACLRule.resolveAccessList`), so with a plain pattern it
 *   grants every user, exactly like `*`; it isolates users only together with a
 *   template pattern such as `'{{.UserEmail}}/**'` (each user matches only their
 *   own folder). Templates `{{.UserEmail}}` and `{{.UserHash}}` (first 8 bytes of
 *   sha256(email), 16 hex chars) are supported; Go's date templates
 *   (`{{.Year}}`...) depend on the clock and are rejected as ERR_PERMISSION_FILE.
 *   Entries containing `* ? [ ]` are globs matched against the user's email.
 * - admin ⊇ write ⊇ read. Writing a `syft.pub.yaml` needs admin (`CanAccess`
 *   raises write to admin for ACL files), so a writer of the folder only reads it.
 * - Parsing follows Go's yaml.v3 decoding: unknown keys are IGNORED (yaml.v3 is
 *   not strict), and reported to `onUnknownKeys` (a warning log by default). A
 *   missing or empty `rules` means owner-only; a rule without `pattern` or
 *   `access` is an error, as in `aclspec.setDefaults`.
 * - The current server reads only `syft.pub.yaml`. For the legacy Python client's
 *   `syftperm.yaml` see `parseLegacyPermissions`; when a folder holds both, the
 *   `syft.pub.yaml` is the one that applies. The legacy file name gets no special
 *   write protection (the Go server treats it as an ordinary file).
 *
 * Deliberate difference: Go's `isOwner` tests `strings.HasPrefix(path, user)`;
 * here the owner is the exact first path segment.
 */

export type AccessLevel = 'none' | 'read' | 'write' | 'admin';
export interface PermissionRule {
  pattern: string;
  access: { read?: string[]; write?: string[]; admin?: string[] };
}
export interface PermissionFile {
  terminal?: boolean;
  rules: PermissionRule[];
}

export const PERMISSION_FILE = 'syft.pub.yaml';
export const LEGACY_PERMISSION_FILE = 'syftperm.yaml';
/** Access-list token for every user; also the pseudo-user "anyone at all" for `evaluate`. */
export const EVERYONE = '*';
/** Access-list token replaced by the requesting user. */
export const USER_TOKEN = 'USER';

const MAX_PERMISSION_FILE_BYTES = 1024 * 1024; // 1 MiB
const LEVEL_RANK: Record<AccessLevel, number> = { none: 0, read: 1, write: 2, admin: 3 };
const ACCESS_KEYS = ['read', 'write', 'admin'] as const;
const TEMPLATE_RE = /\{\{\s*\.(UserEmail|UserHash)\s*\}\}/g;
const GLOB_CHARS_RE = /[*?[]/;
const USER_GLOB_CHARS_RE = /[*?[\]]/;

/** True when `level` includes `needed` (admin ⊇ write ⊇ read). */
export function grants(level: AccessLevel, needed: AccessLevel): boolean {
  return LEVEL_RANK[level] >= LEVEL_RANK[needed];
}

// ---------------------------------------------------------------- writing

/** Write <dir>/syft.pub.yaml atomically. Refuses (RangeError) a rule granting write or admin to '*' (or plain-pattern 'USER', which means the same). */
export async function writePermissions(dir: string, file: PermissionFile): Promise<void> {
  const target = path.join(dir, PERMISSION_FILE);
  for (const rule of file.rules) {
    const everyone = [EVERYONE, ...(hasTemplate(rule.pattern) ? [] : [USER_TOKEN])];
    for (const key of ['write', 'admin'] as const) {
      const open = (rule.access[key] ?? []).find((entry) => everyone.includes(entry));
      if (open !== undefined) {
        throw new RangeError(`refusing to write ${target}: rule "${rule.pattern}" grants ${key} to "${open}" (everyone); name the users instead`);
      }
    }
  }
  const text = stringify({
    terminal: file.terminal ?? false,
    rules: file.rules.map((rule) => ({
      pattern: rule.pattern,
      access: { read: rule.access.read ?? [], write: rule.access.write ?? [], admin: rule.access.admin ?? [] },
    })),
  });
  parsePermissions(text, target); // what we publish must be what the server accepts
  await writeFileAtomic(target, text);
}

// ---------------------------------------------------------------- parsing

export type UnknownKeysHandler = (info: { file: string; keys: string[] }) => void;

const logUnknownKeys: UnknownKeysHandler = ({ file, keys }) => {
  moduleLogger('permissions').warn({ file, keys }, 'unknown keys in permission file ignored');
};

/** Parse YAML text of syft.pub.yaml; AppError ERR_PERMISSION_FILE naming the file when malformed; unknown keys are ignored and reported. */
export function parsePermissions(text: string, file: string, onUnknownKeys: UnknownKeysHandler = logUnknownKeys): PermissionFile {
  const root = parseYaml(text, file);
  if (root === null) return { terminal: false, rules: [] };
  if (!isRecord(root)) throw malformed(file, 'must be a mapping with "rules" (and optionally "terminal")');
  const unknown = unknownKeys(root, ['terminal', 'rules'], '');
  const terminal = root.terminal ?? false;
  if (typeof terminal !== 'boolean') throw malformed(file, '"terminal" must be true or false');
  const rawRules = root.rules ?? [];
  if (!Array.isArray(rawRules)) throw malformed(file, '"rules" must be a list of {pattern, access} entries');
  const rules = rawRules.map((raw: unknown, i): PermissionRule => {
    const where = `rules[${i}]`;
    if (!isRecord(raw)) throw malformed(file, `${where} must be a mapping with "pattern" and "access"`);
    unknown.push(...unknownKeys(raw, ['pattern', 'access'], `${where}.`));
    const pattern = raw.pattern;
    if (typeof pattern !== 'string' || pattern === '') throw malformed(file, `${where}.pattern must be a non-empty string`);
    assertTemplates(pattern, file, where);
    if (!isRecord(raw.access)) throw malformed(file, `${where}.access must be a mapping with read/write/admin lists`);
    unknown.push(...unknownKeys(raw.access, ACCESS_KEYS, `${where}.access.`));
    const access: Required<PermissionRule['access']> = { read: [], write: [], admin: [] };
    for (const key of ACCESS_KEYS) {
      const list = raw.access[key] ?? [];
      if (!Array.isArray(list) || !list.every((entry) => typeof entry === 'string' && entry !== '')) {
        throw malformed(file, `${where}.access.${key} must be a list of emails, "*", "USER" or email globs`);
      }
      access[key] = list as string[];
    }
    return { pattern, access };
  });
  if (unknown.length > 0) onUnknownKeys({ file, keys: unknown });
  return { terminal, rules };
}

type LegacyPermission = 'read' | 'write' | 'create' | 'admin';
const LEGACY_PERMISSIONS: readonly LegacyPermission[] = ['read', 'write', 'create', 'admin'];
interface LegacyEntry {
  pattern: string;
  user: string;
  permissions: LegacyPermission[];
  allow: boolean;
}

/**
 * Parse a legacy syftperm.yaml (Python client ≤ 0.4, `syftbox/lib/permissions.py`):
 * a list of `{path, user, permissions, type: allow|disallow}`, where later entries
 * override earlier ones bit by bit. Translated, per distinct `path`, into one rule
 * whose access is the result of folding (in file order) the entries with that path
 * and the catch-all `**` entries. Effective bits map as Python computes them:
 * admin → admin; read with write or create → write; read → read (write without
 * read gives nothing). `{useremail}` becomes `{{.UserEmail}}`. Not expressible,
 * hence approximated: a `disallow` for one user does not cancel an allow to `*`
 * (the user stays allowed, so readers are over- not under-reported), and the
 * Python client's inheritance from parent folders' files is lost (the nearest
 * file applies, as for syft.pub.yaml). Unknown keys are errors, as in Python.
 */
export function parseLegacyPermissions(text: string, file: string): PermissionFile {
  const root = parseYaml(text, file);
  if (!Array.isArray(root)) throw malformed(file, 'a legacy syftperm.yaml must be a list of {path, user, permissions, type} entries');
  const entries = root.map((raw: unknown, i) => parseLegacyEntry(raw, `[${i}]`, file));
  const patterns = [...new Set(entries.map((entry) => entry.pattern))];
  return { terminal: false, rules: patterns.map((pattern) => foldLegacy(pattern, entries)) };
}

function parseLegacyEntry(raw: unknown, where: string, file: string): LegacyEntry {
  if (!isRecord(raw)) throw malformed(file, `${where} must be a mapping with path, user, permissions`);
  const unknown = unknownKeys(raw, ['path', 'user', 'permissions', 'type'], `${where}.`);
  if (unknown.length > 0) throw malformed(file, `unknown keys ${unknown.join(', ')}; allowed: path, user, permissions, type`);
  const { path: pattern, user, type = 'allow' } = raw;
  if (typeof pattern !== 'string' || pattern === '' || pattern.startsWith('../')) {
    throw malformed(file, `${where}.path must be a glob inside this folder`);
  }
  if (typeof user !== 'string' || (user !== EVERYONE && !/^[^@]+@[^@]+$/.test(user))) {
    throw malformed(file, `${where}.user must be an email or "*"`);
  }
  if (type !== 'allow' && type !== 'disallow') throw malformed(file, `${where}.type must be allow or disallow`);
  const list = typeof raw.permissions === 'string' ? [raw.permissions] : raw.permissions;
  const permissions = Array.isArray(list) ? list.map((p) => (typeof p === 'string' ? p.toLowerCase() : p)) : [];
  if (permissions.length === 0 || !permissions.every((p) => LEGACY_PERMISSIONS.includes(p))) {
    throw malformed(file, `${where}.permissions must be one or a list of ${LEGACY_PERMISSIONS.join(', ')}`);
  }
  const translated = pattern.replaceAll('{useremail}', '{{.UserEmail}}');
  return { pattern: translated, user, permissions: permissions as LegacyPermission[], allow: type === 'allow' };
}

function foldLegacy(pattern: string, entries: LegacyEntry[]): PermissionRule {
  const bits = new Map<string, Set<LegacyPermission>>();
  for (const entry of entries) {
    if (entry.pattern !== pattern && entry.pattern !== '**') continue;
    for (const permission of entry.permissions) {
      if (entry.allow) {
        if (!bits.has(entry.user)) bits.set(entry.user, new Set());
        bits.get(entry.user)?.add(permission);
      } else if (entry.user === EVERYONE) {
        for (const set of bits.values()) set.delete(permission);
      } else {
        bits.get(entry.user)?.delete(permission);
      }
    }
  }
  const access: Required<PermissionRule['access']> = { read: [], write: [], admin: [] };
  for (const [user, set] of bits) {
    if (set.has('admin')) access.admin.push(user);
    else if (set.has('read') && (set.has('write') || set.has('create'))) access.write.push(user);
    else if (set.has('read')) access.read.push(user);
  }
  return { pattern, access };
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw malformed(file, `is not valid YAML (${doc.errors[0].message.split('\n')[0]})`);
  return doc.toJS() ?? null;
}

function malformed(file: string, what: string): AppError {
  return new AppError('ERR_PERMISSION_FILE', `${file}: ${what}. Fix or delete the file (format: docs/syftbox.md)`, { file });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownKeys(record: Record<string, unknown>, known: readonly string[], prefix: string): string[] {
  return Object.keys(record)
    .filter((key) => !known.includes(key))
    .map((key) => `${prefix}${key}`);
}

function hasTemplate(pattern: string): boolean {
  return pattern.includes('{{') && pattern.includes('}}');
}

function assertTemplates(pattern: string, file: string, where: string): void {
  const rest = pattern.replace(TEMPLATE_RE, '');
  if (rest.includes('{{') || rest.includes('}}')) {
    throw malformed(file, `${where}.pattern uses a template other than {{.UserEmail}} or {{.UserHash}}`);
  }
}

// ---------------------------------------------------------------- evaluation

/**
 * Effective access of `user` to `targetRel` (a path relative to datasites/, e.g.
 * 'a@x.org/app_data/app/profile_0/delta.json'), given the permission files by
 * folder (relative to datasites/, e.g. 'a@x.org/app_data/app'). Pure.
 * `user` may be EVERYONE: then only '*' and 'USER' grant (what any user at all gets).
 */
export function evaluate(files: Map<string, PermissionFile>, user: string, targetRel: string): AccessLevel {
  const segments = splitRelative(targetRel);
  if (user === segments[0]) return 'admin';
  const governing = nearestFile(files, segments);
  if (governing === null) return 'none';
  const inFolder = segments.slice(governing.depth).join('/');
  for (const rule of sortedRules(governing.file)) {
    if (!patternMatches(rule.pattern, inFolder, user)) continue;
    const level = levelOf(rule.access, user);
    return level === 'write' && segments[segments.length - 1] === PERMISSION_FILE ? 'read' : level;
  }
  return 'none';
}

/** Emails and email globs named in any access list of `files` (the tokens '*' and 'USER' excluded). */
export function namedPrincipals(files: Iterable<PermissionFile>): string[] {
  const named = new Set<string>();
  for (const file of files) {
    for (const rule of file.rules) for (const key of ACCESS_KEYS) for (const p of rule.access[key] ?? []) if (p !== EVERYONE && p !== USER_TOKEN) named.add(p);
  }
  return [...named].sort();
}

/**
 * Who besides its owner may write `targetRel`: EVERYONE when any user at all
 * may, and each email or email glob named in the files that may (a glob such
 * as '*@*' stands for everyone it matches). Pure; what `audit` and the
 * aggregator both mean by "someone else could have written this".
 */
export function otherWriters(files: Map<string, PermissionFile>, targetRel: string): string[] {
  const owner = splitRelative(targetRel)[0];
  return [...namedPrincipals(files.values()), EVERYONE].filter((p) => p !== owner && grants(evaluate(files, p, targetRel), 'write'));
}

function splitRelative(targetRel: string): string[] {
  const segments = targetRel.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0 || segments.includes('..')) throw new RangeError(`"${targetRel}" is not a path inside datasites/`);
  return segments;
}

/** The permission file that governs a path: the nearest one, unless a terminal file higher up stops the walk. */
function nearestFile(files: Map<string, PermissionFile>, segments: string[]): { file: PermissionFile; depth: number } | null {
  let found: { file: PermissionFile; depth: number } | null = null;
  for (let depth = 1; depth < segments.length; depth++) {
    const file = files.get(segments.slice(0, depth).join('/'));
    if (file === undefined) continue;
    found = { file, depth };
    if (file.terminal) break;
  }
  return found;
}

const sortedCache = new WeakMap<PermissionFile, PermissionRule[]>();

function sortedRules(file: PermissionFile): PermissionRule[] {
  let sorted = sortedCache.get(file);
  if (sorted === undefined) {
    sorted = [...file.rules].sort((a, b) => specificity(b.pattern) - specificity(a.pattern));
    sortedCache.set(file, sorted);
  }
  return sorted;
}

/** Port of Go `calculateGlobSpecificity`: 2·length + 10·slashes (+50 for templates), minus wildcard penalties. */
export function specificity(glob: string): number {
  if (glob === '**') return -100;
  if (glob === '**/*') return -99;
  let score = Buffer.byteLength(glob) * 2 + (glob.split('/').length - 1) * 10;
  if (hasTemplate(glob)) score += 50;
  [...glob].forEach((c, i) => {
    if (c === '*') score -= i === 0 ? 20 : 10;
    else if ('?![{'.includes(c)) score -= 2;
  });
  return score;
}

function patternMatches(pattern: string, inFolder: string, user: string): boolean {
  let resolved = pattern;
  if (hasTemplate(pattern)) {
    // A template names one particular user's paths; "anyone at all" is none of them.
    if (user === EVERYONE) return false;
    resolved = pattern.replace(TEMPLATE_RE, (_, name: string) => (name === 'UserEmail' ? user : userHash(user)));
  }
  return GLOB_CHARS_RE.test(resolved) ? matcher(resolved)(inFolder) : resolved === inFolder;
}

function levelOf(access: PermissionRule['access'], user: string): AccessLevel {
  if (listGrants(access.admin, user)) return 'admin';
  if (listGrants(access.write, user)) return 'write';
  if (listGrants(access.read, user)) return 'read';
  return 'none';
}

function listGrants(list: string[] | undefined, user: string): boolean {
  for (const entry of list ?? []) {
    if (entry === EVERYONE || entry === USER_TOKEN || entry === user) return true;
    if (user !== EVERYONE && USER_GLOB_CHARS_RE.test(entry) && matcher(entry)(user)) return true;
  }
  return false;
}

const matchers = new Map<string, (input: string) => boolean>();

function matcher(glob: string): (input: string) => boolean {
  let match = matchers.get(glob);
  if (match === undefined) {
    match = picomatch(glob, { dot: true, nonegate: true, noextglob: true });
    matchers.set(glob, match);
  }
  return match;
}

function userHash(user: string): string {
  return createHash('sha256').update(user).digest().subarray(0, 8).toString('hex');
}

// ---------------------------------------------------------------- files on disk

/** Path of `target` relative to datasites/, with '/' separators; RangeError when outside. */
export function toDatasitesRelative(datasitesDir: string, target: string): string {
  const rel = path.relative(path.resolve(datasitesDir), path.resolve(target));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new RangeError(`${target} is not inside ${datasitesDir}`);
  return rel.split(path.sep).join('/');
}

/** Folders (relative to datasites/) whose permission files may govern `targetRel`: the datasite root down to its folder. */
export function ancestorFolders(targetRel: string): string[] {
  const segments = splitRelative(targetRel);
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

/** The permission file of one folder (relative to datasites/): syft.pub.yaml, else syftperm.yaml, else null. */
export async function readPermissionFolder(
  datasitesDir: string,
  folderRel: string,
  onUnknownKeys?: UnknownKeysHandler,
): Promise<PermissionFile | null> {
  const folder = path.join(datasitesDir, ...folderRel.split('/'));
  const current = await readCachedPermissions(path.join(folder, PERMISSION_FILE), (text, file) => parsePermissions(text, file, onUnknownKeys));
  if (current !== null) return current;
  return readCachedPermissions(path.join(folder, LEGACY_PERMISSION_FILE), parseLegacyPermissions);
}

/**
 * Parsed permission files by path, valid while the file's inode, size and mtime
 * are unchanged (writers replace files by rename, which changes the inode).
 * Without it every access check re-parses the aggregator's file, which lists
 * every contributor: quadratic work over a round at thousands of participants.
 */
const permissionCache = new Map<string, { key: string; parsed: PermissionFile }>();
const MAX_CACHED_PERMISSION_FILES = 10_000;

async function readCachedPermissions(file: string, parse: (text: string, file: string) => PermissionFile): Promise<PermissionFile | null> {
  let key: string;
  try {
    const stat = await fs.lstat(file);
    key = `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.isFile()}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const cached = permissionCache.get(file);
  if (cached?.key === key) return cached.parsed;
  const text = await readRegularFile(file, { maxBytes: MAX_PERMISSION_FILE_BYTES });
  if (text === null) return null;
  const parsed = parse(text.toString('utf8'), file);
  if (permissionCache.size >= MAX_CACHED_PERMISSION_FILES) permissionCache.clear();
  permissionCache.set(file, { key, parsed });
  return parsed;
}

/** The permission files that may govern `rel` (a path relative to datasites/), by folder. */
async function governingFiles(datasitesDir: string, rel: string): Promise<Map<string, PermissionFile>> {
  const files = new Map<string, PermissionFile>();
  for (const folder of ancestorFolders(rel)) {
    const file = await readPermissionFolder(datasitesDir, folder);
    if (file !== null) files.set(folder, file);
  }
  return files;
}

/** Effective access of `user` to `target` (absolute path of a file inside <dataDir>/datasites/<owner>/...). */
export async function accessOf(datasitesDir: string, user: string, target: string): Promise<AccessLevel> {
  const rel = toDatasitesRelative(datasitesDir, target);
  return evaluate(await governingFiles(datasitesDir, rel), user, rel);
}

/** `otherWriters` of a file on disk. */
export async function writersBesidesOwner(datasitesDir: string, target: string): Promise<string[]> {
  const rel = toDatasitesRelative(datasitesDir, target);
  return otherWriters(await governingFiles(datasitesDir, rel), rel);
}

export async function canRead(datasitesDir: string, user: string, target: string): Promise<boolean> {
  return grants(await accessOf(datasitesDir, user, target), 'read');
}
