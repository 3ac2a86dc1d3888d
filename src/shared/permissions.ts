import { lstatSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { compileTemplate, isTemplate, templateData } from './acl-template';
import { contentKey, readRegularFileSync, writeFileAtomic } from './atomic';
import { globMatch, hasGlobSyntax } from './doublestar';
import { AppError, isAppError } from './errors';
import { moduleLogger } from './log';

/**
 * SyftBox permissions: write `syft.pub.yaml`, read it (and the legacy
 * `syftperm.yaml`), and decide who may read or write a file the way the
 * SyftBox server does. Semantics were read from OpenMined/syftbox (Go, HEAD
 * 39a282bb): `internal/aclspec/*.go` (format), `internal/server/acl/{acl,tree,
 * rule,utils,matcher}.go` (evaluation), `handlers/blob/blob_handler_upload_acl.go`.
 * Example:
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
 * - Owner: a user owns every path that STARTS WITH their email (Go's `isOwner`
 *   is `strings.HasPrefix(path, user)`), so `bob@x.co` owns `bob@x.com/...`; an
 *   owner has admin.
 * - Only the NEAREST permission file at or above the target's folder applies (no
 *   inheritance). Walking down from the datasite root, a `terminal: true` file
 *   stops the walk (`ACLTree.GetNearestNode`). A file the server never has does
 *   not count, so its parent governs: an empty (0-byte) file (never synced), a
 *   symlink (never synced), a file that does not parse (the server skips it).
 * - Rules are tried in order of specificity (`calculateGlobSpecificity`, ported
 *   below); the first whose pattern matches decides; no match = deny. Go sorts
 *   with an unstable sort, so rules of equal specificity have no defined order:
 *   here the most permissive of the tied matching rules decides.
 * - A rule's pattern is joined to its folder (`<folder>/<pattern>`) and matched
 *   against the whole path: a template when it holds `{{` and `}}` (see
 *   `acl-template.ts`: `{{.UserEmail}}`, `{{.UserHash}}`, `{{.Year}}`,
 *   `{{.Month}}`, `{{.Date}}`, `sha2`, `upper`, `lower`), a glob when it holds
 *   `*`, `?` or `[` (`doublestar.ts`, a port of the server's matcher: `[!a]`
 *   classes, `{a,b}`, `x/**` matching `x` itself), else compared exactly. A rule
 *   whose template does not parse is dropped, as the server drops it.
 * - Access lists: `*` is everyone. `USER` is the requesting user, so with a plain
 *   pattern it grants every user, exactly like `*`; it isolates users only
 *   together with a template pattern such as `'{{.UserEmail}}/**'`. Entries
 *   containing `* ? [ ]` are globs matched against the user's email.
 * - The public pseudo-user: the server's public web view asks as user `*`
 *   (EVERYONE here). Templates resolve with `*` as the email, so
 *   `{{.UserEmail}}/**` becomes the glob `*` + `/**` and matches every user's
 *   folder, and `USER` becomes `*`: what such a rule grants its own user, it
 *   grants the public too.
 * - admin ⊇ write ⊇ read. Writing a `syft.pub.yaml` needs admin (`CanAccess`
 *   raises write to admin for ACL files), so a writer of the folder only reads it.
 * - Parsing follows Go's yaml.v3 decoding: unknown keys are ignored (and
 *   reported to `onUnknownKeys`), only the first YAML document counts, scalars
 *   in string places become strings, `terminal` also takes yes/no/on/off. A
 *   missing or empty `rules` means owner-only; a rule without `pattern` or
 *   `access` makes the whole file invalid, as in `aclspec.setDefaults`.
 * - The current server reads only `syft.pub.yaml`. For the legacy Python client's
 *   `syftperm.yaml` see `parseLegacyPermissions`; when a folder holds both, the
 *   `syft.pub.yaml` is the one that applies (`readPermissionFolder` can also be
 *   told to ignore legacy files, as the server does).
 *
 * Date templates make access depend on the clock: `evaluate` takes `now`.
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
const LEGACY_PERMISSION_FILE = 'syftperm.yaml';
/** Access-list token for every user; also the pseudo-user "anyone at all" for `evaluate`. */
export const EVERYONE = '*';
/** Access-list token replaced by the requesting user. */
export const USER_TOKEN = 'USER';

const MAX_PERMISSION_FILE_BYTES = 1024 * 1024; // 1 MiB
const LEVEL_RANK: Record<AccessLevel, number> = { none: 0, read: 1, write: 2, admin: 3 };
const ACCESS_KEYS = ['read', 'write', 'admin'] as const;
const USER_GLOB_CHARS_RE = /[*?[\]]/;
/** yaml.v3 decodes these YAML 1.1 words into a bool field (`terminal`). */
const YAML11_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON']);
const YAML11_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);

/** True when `level` includes `needed` (admin ⊇ write ⊇ read). */
export function grants(level: AccessLevel, needed: AccessLevel): boolean {
  return LEVEL_RANK[level] >= LEVEL_RANK[needed];
}

// ---------------------------------------------------------------- writing

/** Write <dir>/syft.pub.yaml atomically. Refuses (RangeError) a rule granting write or admin to '*' (or plain-pattern 'USER', which means the same). */
export async function writePermissions(dir: string, file: PermissionFile): Promise<void> {
  await writeFileAtomic(path.join(dir, PERMISSION_FILE), formatPermissions(file, path.join(dir, PERMISSION_FILE)));
}

/** Texts formatted lately, by their rules as JSON: a folder's rules are formatted (and checked) once, not on every look. */
const formatted = new Map<string, string>();
const FORMATTED_KEPT = 16;

/**
 * The text of a permission file saying `file` (what `writePermissions` writes), checked to parse back as the
 * server parses it; `target` names the file in errors. Refuses (RangeError) write or admin for everyone.
 */
export function formatPermissions(file: PermissionFile, target: string): string {
  for (const rule of file.rules) {
    const everyone = [EVERYONE, ...(isTemplate(rule.pattern) ? [] : [USER_TOKEN])];
    for (const key of ['write', 'admin'] as const) {
      const open = (rule.access[key] ?? []).find((entry) => everyone.includes(entry));
      if (open !== undefined) {
        throw new RangeError(`refusing to write ${target}: rule "${rule.pattern}" grants ${key} to "${open}" (everyone); name the users instead`);
      }
    }
  }
  const normalized = {
    terminal: file.terminal ?? false,
    rules: file.rules.map((rule) => ({
      pattern: rule.pattern,
      access: { read: rule.access.read ?? [], write: rule.access.write ?? [], admin: rule.access.admin ?? [] },
    })),
  };
  const key = JSON.stringify(normalized);
  const known = formatted.get(key);
  if (known !== undefined) return known;
  const text = stringify(normalized);
  // what we publish must be what the server accepts: checked by parsing it back, unless every string is
  // made of characters YAML gives no meaning inside a scalar (emails, the app's patterns), the case of
  // the aggregator's file, whose thousands of contributors would take tens of milliseconds to parse back
  if (!file.rules.every(isPlainRule)) parsePermissions(text, target);
  if (formatted.size >= FORMATTED_KEPT) formatted.delete(formatted.keys().next().value!);
  formatted.set(key, text);
  return text;
}

/** Characters of an email or a glob that need no escaping in YAML (the formatter quotes a leading '*' itself). */
const PLAIN_STRING = /^[A-Za-z0-9_*][A-Za-z0-9_.+@*\/-]*$/;

function isPlainRule(rule: PermissionRule): boolean {
  const { read = [], write = [], admin = [] } = rule.access;
  return PLAIN_STRING.test(rule.pattern) && [read, write, admin].every((list) => list.every((entry) => PLAIN_STRING.test(entry)));
}

/** True when `text` is one `formatPermissions` returned lately (so it parses to the rules it was formatted from). */
export function isFormattedText(text: string): boolean {
  for (const known of formatted.values()) if (known === text) return true;
  return false;
}

// ---------------------------------------------------------------- parsing

type UnknownKeysHandler = (info: { file: string; keys: string[] }) => void;

const logUnknownKeys: UnknownKeysHandler = ({ file, keys }) => {
  moduleLogger('permissions').warn({ file, keys }, 'unknown keys in permission file ignored');
};

/**
 * Parse YAML text of syft.pub.yaml as the server's yaml.v3 decoding does;
 * AppError ERR_PERMISSION_FILE naming the file where the server would fail too.
 * Unknown keys are ignored and reported.
 */
export function parsePermissions(text: string, file: string, onUnknownKeys: UnknownKeysHandler = logUnknownKeys): PermissionFile {
  const root = parseYaml(text, file);
  if (root === null) return { terminal: false, rules: [] };
  if (!isRecord(root)) throw malformed(file, 'must be a mapping with "rules" (and optionally "terminal")');
  const unknown = unknownKeys(root, ['terminal', 'rules'], '');
  const terminal = decodeBool(root.terminal);
  if (terminal === null) throw malformed(file, '"terminal" must be true or false');
  const rawRules = root.rules ?? [];
  if (!Array.isArray(rawRules)) throw malformed(file, '"rules" must be a list of {pattern, access} entries');
  const rules = rawRules.map((raw: unknown, i): PermissionRule => {
    const where = `rules[${i}]`;
    if (!isRecord(raw)) throw malformed(file, `${where} must be a mapping with "pattern" and "access"`);
    unknown.push(...unknownKeys(raw, ['pattern', 'access'], `${where}.`));
    const pattern = decodeString(raw.pattern);
    if (pattern === null || pattern === '') throw malformed(file, `${where}.pattern must be a non-empty string`);
    if (!isRecord(raw.access)) throw malformed(file, `${where}.access must be a mapping with read/write/admin lists`);
    unknown.push(...unknownKeys(raw.access, ACCESS_KEYS, `${where}.access.`));
    const access: Required<PermissionRule['access']> = { read: [], write: [], admin: [] };
    for (const key of ACCESS_KEYS) {
      const list = raw.access[key] ?? [];
      const entries = Array.isArray(list) ? list.map(decodeString) : null;
      if (entries === null || entries.includes(null)) {
        throw malformed(file, `${where}.access.${key} must be a list of emails, "*", "USER" or email globs`);
      }
      access[key] = entries as string[];
    }
    return { pattern, access };
  });
  if (unknown.length > 0) onUnknownKeys({ file, keys: unknown });
  return { terminal, rules };
}

/** A YAML scalar decoded into a Go string: any scalar's text, null as ''; null for a list or mapping. */
function decodeString(value: unknown): string | null {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return null;
}

/** A YAML value decoded into a Go bool (yaml.v3 also takes YAML 1.1's yes/no/on/off); null when it cannot be. */
function decodeBool(value: unknown): boolean | null {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && YAML11_TRUE.has(value)) return true;
  if (typeof value === 'string' && YAML11_FALSE.has(value)) return false;
  return null;
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

/** The first YAML document (yaml.v3's Unmarshal reads only that one), or null when there is none. */
function parseYaml(text: string, file: string): unknown {
  const [doc] = parseAllDocuments(text, { uniqueKeys: true, merge: true });
  if (doc === undefined) return null;
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

// ---------------------------------------------------------------- evaluation

/**
 * Effective access of `user` to `targetRel` (a path relative to datasites/, e.g.
 * 'a@x.org/app_data/app/profile_0/delta.json'), given the permission files by
 * folder (relative to datasites/, e.g. 'a@x.org/app_data/app'), at time `now`
 * (date templates). Pure. `user` may be EVERYONE: the server's public
 * pseudo-user, i.e. what anyone at all gets.
 */
export function evaluate(files: Map<string, PermissionFile>, user: string, targetRel: string, now: Date = new Date()): AccessLevel {
  const segments = splitRelative(targetRel);
  const rel = segments.join('/');
  if (rel.startsWith(user)) return 'admin';
  const governing = nearestFile(files, segments);
  if (governing === null) return 'none';
  const level = matchingLevel(compiledRules(governing.file, segments.slice(0, governing.depth).join('/')), rel, user, now);
  return level === 'write' && segments[segments.length - 1] === PERMISSION_FILE ? 'read' : level;
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

interface CompiledRule {
  specificity: number;
  access: PermissionRule['access'];
  matches: (rel: string, user: string, now: Date) => boolean;
}

/**
 * The level the first matching rule gives (rules by descending specificity);
 * among matching rules of equal specificity, whose order the server leaves
 * undefined, the most permissive.
 */
function matchingLevel(rules: CompiledRule[], rel: string, user: string, now: Date): AccessLevel {
  let decided: number | null = null;
  let level: AccessLevel = 'none';
  for (const rule of rules) {
    if (decided !== null && rule.specificity < decided) break;
    if (!rule.matches(rel, user, now)) continue;
    decided = rule.specificity;
    const granted = levelOf(rule.access, user);
    if (LEVEL_RANK[granted] > LEVEL_RANK[level]) level = granted;
  }
  return level;
}

const compiledCache = new WeakMap<PermissionFile, Map<string, CompiledRule[]>>();

/** The rules of the file in `folder`, sorted by specificity, with their full-path matchers; rules the server drops are left out. */
function compiledRules(file: PermissionFile, folder: string): CompiledRule[] {
  let byFolder = compiledCache.get(file);
  if (byFolder === undefined) compiledCache.set(file, (byFolder = new Map()));
  let rules = byFolder.get(folder);
  if (rules === undefined) {
    rules = file.rules
      .map((rule): CompiledRule | null => {
        const matches = ruleMatcher(`${folder}/${rule.pattern}`);
        return matches === null ? null : { specificity: specificity(rule.pattern), access: rule.access, matches };
      })
      .filter((rule): rule is CompiledRule => rule !== null)
      .sort((a, b) => b.specificity - a.specificity);
    byFolder.set(folder, rules);
  }
  return rules;
}

/** Go's matcherFromPattern for a rule's full pattern; null when the server drops the rule (a template that does not parse). */
function ruleMatcher(fullPattern: string): CompiledRule['matches'] | null {
  if (!isTemplate(fullPattern)) {
    if (!hasGlobSyntax(fullPattern)) return (rel) => rel === fullPattern;
    return (rel) => globMatch(fullPattern, rel);
  }
  const template = compileTemplate(fullPattern);
  if (template.kind === 'invalid') return null;
  if (template.kind === 'unsupported') return () => false; // reported by uncheckedPatterns
  return (rel, user, now) => {
    const resolved = template.execute(templateData(user, now));
    if (resolved === null) return false;
    return hasGlobSyntax(resolved) ? globMatch(resolved, rel) : resolved === rel;
  };
}

/**
 * Patterns of `file` (in `folder`) whose template uses more of Go's template
 * language than `evaluate` understands: they are valid for the server, but
 * `evaluate` treats them as matching nothing, so an audit must flag them.
 */
export function uncheckedPatterns(file: PermissionFile, folder: string): string[] {
  return file.rules
    .map((rule) => rule.pattern)
    .filter((pattern) => {
      const full = `${folder}/${pattern}`;
      return isTemplate(full) && compileTemplate(full).kind === 'unsupported';
    });
}

/** Port of Go `calculateGlobSpecificity`: 2·length + 10·slashes (+50 for templates), minus wildcard penalties. */
export function specificity(glob: string): number {
  if (glob === '**') return -100;
  if (glob === '**/*') return -99;
  let score = Buffer.byteLength(glob) * 2 + (glob.split('/').length - 1) * 10;
  if (isTemplate(glob)) score += 50;
  [...glob].forEach((c, i) => {
    if (c === '*') score -= i === 0 ? 20 : 10;
    else if ('?![{'.includes(c)) score -= 2;
  });
  return score;
}

/** Go's `hasAccess` after resolving USER to the user: admin, else write, else read, else none. */
function levelOf(access: PermissionRule['access'], user: string): AccessLevel {
  if (listGrants(access.admin, user)) return 'admin';
  if (listGrants(access.write, user)) return 'write';
  if (listGrants(access.read, user)) return 'read';
  return 'none';
}

function listGrants(list: string[] | undefined, user: string): boolean {
  for (const entry of list ?? []) {
    if (entry === EVERYONE || entry === USER_TOKEN || entry === user) return true;
    if (USER_GLOB_CHARS_RE.test(entry) && globMatch(entry, user)) return true;
  }
  return false;
}

// ---------------------------------------------------------------- files on disk

/** A relative path that path.relative would write otherwise: '.' or '..' segments, empty segments, a leading or trailing '/'. */
const NOT_NORMALIZED = /(^|\/)\.{1,2}(\/|$)|\/\/|^\/|\/$/;

/** Path of `target` relative to datasites/, with '/' separators; RangeError when outside. */
export function toDatasitesRelative(datasitesDir: string, target: string): string {
  // the common case, a normalized absolute path under datasitesDir, without resolving both (a round asks for thousands)
  if (path.sep === '/' && path.isAbsolute(datasitesDir) && target.startsWith(datasitesDir) && target[datasitesDir.length] === '/' && !datasitesDir.endsWith('/')) {
    const tail = target.slice(datasitesDir.length + 1);
    if (tail !== '' && !NOT_NORMALIZED.test(tail)) return tail;
  }
  const rel = path.relative(path.resolve(datasitesDir), path.resolve(target));
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) throw new RangeError(`${target} is not inside ${datasitesDir}`);
  return rel.split(path.sep).join('/');
}

/** Folders (relative to datasites/) whose permission files may govern `targetRel`: the datasite root down to its folder. */
export function ancestorFolders(targetRel: string): string[] {
  const segments = splitRelative(targetRel);
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

export interface ReadPermissionOptions {
  onUnknownKeys?: UnknownKeysHandler;
  /** Read a legacy syftperm.yaml where the folder has no syft.pub.yaml (the current server ignores it). Default true. */
  legacy?: boolean;
}

/**
 * The permission file of one folder (relative to datasites/) as the server
 * would have it: syft.pub.yaml, else (with `legacy`) syftperm.yaml, else null.
 * A file the server never receives counts as absent: 0 bytes, or not a regular
 * file (a symlink). A malformed file throws ERR_PERMISSION_FILE naming it.
 */
export async function readPermissionFolder(datasitesDir: string, folderRel: string, options: ReadPermissionOptions = {}): Promise<PermissionFile | null> {
  const folder = path.join(datasitesDir, ...folderRel.split('/'));
  const current = await readCachedPermissions(path.join(folder, PERMISSION_FILE), (text, file) => parseShared(text, file, options.onUnknownKeys));
  if (current !== null || options.legacy === false) return current;
  return readCachedPermissions(path.join(folder, LEGACY_PERMISSION_FILE), parseLegacyPermissions);
}

/**
 * Parsed permission files by text. Every participant's app writes the same few files,
 * so a round over thousands of datasites parses a handful of texts, not one file per
 * folder. Only clean parses are shared: a text with unknown keys is parsed (and
 * reported against its own file) each time. PermissionFile values are never modified.
 */
const sharedParses = new Map<string, PermissionFile>();
const MAX_SHARED_PARSES = 1000;

function parseShared(text: string, file: string, onUnknownKeys: UnknownKeysHandler = logUnknownKeys): PermissionFile {
  const known = sharedParses.get(text);
  if (known !== undefined) return known;
  let clean = true;
  const parsed = parsePermissions(text, file, (info) => {
    clean = false;
    onUnknownKeys(info);
  });
  if (clean) {
    if (sharedParses.size >= MAX_SHARED_PARSES) sharedParses.clear();
    sharedParses.set(text, parsed);
  }
  return parsed;
}

/**
 * Parsed permission files by path, valid while the file's inode, size and mtime
 * are unchanged (writers replace files by rename, which changes the inode).
 * Without it every access check re-parses the aggregator's file, which lists
 * every contributor: quadratic work over a round at thousands of participants.
 * A parse failure is cached too (the same error object while the file is unchanged).
 */
type CachedPermissions = { parsed: PermissionFile | null; error?: undefined } | { parsed?: undefined; error: AppError };
const permissionCache = new Map<string, { key: string; value: CachedPermissions }>();
const MAX_CACHED_PERMISSION_FILES = 10_000;

async function readCachedPermissions(file: string, parse: (text: string, file: string) => PermissionFile): Promise<PermissionFile | null> {
  // Synchronous on purpose: most folders have no permission file, and an async lstat builds an
  // ENOENT error (with its stack) for each; this returns undefined in microseconds.
  const stat = lstatSync(file, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isFile() || stat.size === 0) return null; // a file never synced: the server has no such file
  const key = contentKey(stat);
  let value = permissionCache.get(file)?.key === key ? permissionCache.get(file)?.value : undefined;
  if (value === undefined) {
    value = parseFile(file, parse);
    if (permissionCache.size >= MAX_CACHED_PERMISSION_FILES) permissionCache.clear();
    permissionCache.set(file, { key, value });
  }
  if (value.error) throw value.error;
  return value.parsed;
}

function parseFile(file: string, parse: (text: string, file: string) => PermissionFile): CachedPermissions {
  try {
    // synchronous: a round reads one small file per datasite (see readRegularFileSync)
    const text = readRegularFileSync(file, { maxBytes: MAX_PERMISSION_FILE_BYTES });
    return { parsed: text === null ? null : parse(text.toString('utf8'), file) };
  } catch (err) {
    if (isAppError(err, 'ERR_PERMISSION_FILE')) return { error: err };
    if (isAppError(err, 'ERR_FILE_TOO_LARGE')) return { error: malformed(file, err.message) };
    if (isAppError(err, 'ERR_FILE_NOT_REGULAR')) return { parsed: null };
    throw err;
  }
}

/**
 * Access checks against one snapshot of the permission files on disk: each folder's
 * file is read the first time a check needs it and reused by every later check
 * through the same reader. A round asks two questions (may the aggregator read it,
 * may anyone else write it) about every profile, and profiles share their datasite's
 * upper folders, so one reader per round reads each folder once instead of once per
 * question per profile. A reader made later sees the files as they are then (the
 * parsed files themselves are cached across readers while unchanged, see
 * `readCachedPermissions`). A malformed permission file is skipped (the folder above
 * governs), as the server skips it.
 */
export interface PermissionReader {
  /** Effective access of `user` to `target` (absolute path of a file inside <dataDir>/datasites/<owner>/...). */
  accessOf(user: string, target: string, now?: Date): Promise<AccessLevel>;
  canRead(user: string, target: string): Promise<boolean>;
  /** `otherWriters` of `target`. */
  writersBesidesOwner(target: string): Promise<string[]>;
}

export function permissionReader(datasitesDir: string): PermissionReader {
  const folders = new Map<string, Promise<PermissionFile | null>>();
  const folderFile = (folder: string) => {
    let file = folders.get(folder);
    if (file === undefined) folders.set(folder, (file = readGoverningFolder(datasitesDir, folder)));
    return file;
  };
  /** The permission files that may govern `rel` (relative to datasites/), by folder; the last answer is kept (a round asks twice per file). */
  let last: { rel: string; files: Promise<Map<string, PermissionFile>> } | null = null;
  const governingFiles = (rel: string) => {
    if (last?.rel !== rel) last = { rel, files: collectGoverning(rel) };
    return last.files;
  };
  const collectGoverning = async (rel: string) => {
    const files = new Map<string, PermissionFile>();
    for (const folder of ancestorFolders(rel)) {
      const file = await folderFile(folder);
      if (file !== null) files.set(folder, file);
    }
    return files;
  };
  const reader: PermissionReader = {
    async accessOf(user, target, now = new Date()) {
      const rel = toDatasitesRelative(datasitesDir, target);
      return evaluate(await governingFiles(rel), user, rel, now);
    },
    async canRead(user, target) {
      return grants(await reader.accessOf(user, target), 'read');
    },
    async writersBesidesOwner(target) {
      const rel = toDatasitesRelative(datasitesDir, target);
      return otherWriters(await governingFiles(rel), rel);
    },
  };
  return reader;
}

/** The permission file of a folder as it governs (null when absent, or malformed: logged once per version). */
async function readGoverningFolder(datasitesDir: string, folder: string): Promise<PermissionFile | null> {
  return readPermissionFolder(datasitesDir, folder).catch((err: unknown) => {
    if (!isAppError(err, 'ERR_PERMISSION_FILE')) throw err;
    if (!reportedMalformed.has(err)) {
      reportedMalformed.add(err);
      moduleLogger('permissions').warn({ file: err.file, err: err.message }, 'permission file does not parse; like the server, the folder above governs');
    }
    return null;
  });
}

/** Effective access of `user` to `target` (absolute path of a file inside <dataDir>/datasites/<owner>/...) under the permission files on disk. */
export async function accessOf(datasitesDir: string, user: string, target: string, now: Date = new Date()): Promise<AccessLevel> {
  return permissionReader(datasitesDir).accessOf(user, target, now);
}

/** `otherWriters` of a file on disk. */
export async function writersBesidesOwner(datasitesDir: string, target: string): Promise<string[]> {
  return permissionReader(datasitesDir).writersBesidesOwner(target);
}

/** Parse failures already logged: one line per version of a malformed file (the cache keeps one error object per version). */
const reportedMalformed = new WeakSet<AppError>();

export async function canRead(datasitesDir: string, user: string, target: string): Promise<boolean> {
  return permissionReader(datasitesDir).canRead(user, target);
}

/** Where a reader runs: a Workspace. */
export interface ReaderView {
  datasitesDir: string;
  email: string;
  /** True when every datasite shares this disk (no SyftBox client decides what is here). */
  embedded: boolean;
}

/**
 * May this datasite use `target`, a file of another datasite on its disk?
 * Under a SyftBox client the answer is yes: sync brings a file here only when
 * the server lets this user read it, and the permission file that decided it
 * often stays behind (contributors may not read the aggregator's
 * syft.pub.yaml), so presence is the server's decision and the caller treats
 * absence as "not yet". In an embedded root every datasite shares one disk,
 * so the permission files on it stand in for the server.
 */
export async function readableHere(view: ReaderView, target: string): Promise<boolean> {
  return !view.embedded || canRead(view.datasitesDir, view.email, target);
}
