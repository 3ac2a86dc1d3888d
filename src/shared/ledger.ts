import { createHash } from 'node:crypto';
import path from 'node:path';
import { readJsonFile, readRegularFile, writeFileAtomic } from './atomic';
import { sha256Hex } from './delta';
import { AppError } from './errors';
import { GLOBAL_MANIFEST, GLOBAL_PAYLOAD, listGlobalVersions, parseGlobalManifest, versionDirName } from './global-model';

/**
 * The round ledger: `aggregator/ledger.jsonl`, one JSON object per line, one line
 * per merged round (= per Global_V version), hash-chained. Readers are the
 * contributors (to check that their delta was merged once and that the Global_V
 * they hold is the one the aggregator committed to) and the tests.
 *
 * Example line (keys sorted, no spaces; wrapped here):
 * ```json
 * {"accepted":[{"deltaSha256":"3f2a…","participant":"9c41…","weight":1}],
 *  "createdAt":"2026-11-21T16:00:00.000Z","formatVersion":1,"globalSha256":"e0b3…",
 *  "hash":"77d0…","params":{"mergeMode":"fedavg","serverLr":1,…},
 *  "prevHash":"0000…","rejectedCount":0,"round":1,"version":1}
 * ```
 * - `hash` = sha256 of the canonical JSON (keys sorted recursively, no spaces) of
 *   the entry without `hash`; `prevHash` = the previous line's `hash`, or 64 zeros
 *   for the first line. Editing, dropping or reordering a line breaks the chain.
 * - `participant` is a keyed hash (HMAC-SHA256 under a secret only the aggregator
 *   holds, over version, email and profile), so readers cannot tell who took part,
 *   nor link one participant across rounds. A participant recognises its own
 *   entry by `deltaSha256`, the sha256 of the delta payload it published.
 * - `globalSha256` is the sha256 of the version's `Global_V.npy` bytes.
 * - Every `deltaSha256` appears at most once in the whole ledger (exactly-once).
 *
 * A round merged under secure aggregation also carries `secagg` (see `SecaggRecord`):
 * the protocol and its parameters, the cohort size, how many survived and dropped,
 * the thresholds. Its `accepted` entries are the survivors' masked inputs: `deltaSha256`
 * is the sha256 of the member's `masked-<hash>.npy` (what it published; the aggregator
 * never saw its contribution alone), `weight` 1 (a datasite counts once; its real
 * weight is inside the sum). Example `secagg`:
 * ```json
 * {"aggregation":"preconditioned","cohort":5,"dropped":1,"k":4,"minSurvivors":4,"modulusBits":32,
 *  "noise":{"mechanism":"skellam","sigma":41000},"protocol":"secagg+","roundId":"r000007",
 *  "scaleBits":16,"survivors":4,"t":3}
 * ```
 *
 * The file only grows: each write keeps every earlier line byte for byte and adds
 * one line (the whole file is rewritten atomically so that a crash never leaves a
 * half line).
 */
const LEDGER_FORMAT_VERSION = 1;
export const GENESIS_HASH = '0'.repeat(64);
/** Far above a long deployment's ledger (about 170 bytes per accepted delta). */
const MAX_LEDGER_BYTES = 256 * 1024 * 1024; // 256 MiB
const SHA256_RE = /^[0-9a-f]{64}$/;

interface LedgerAccepted {
  /** Keyed hash of the contributing participant profile (never the email). */
  participant: string;
  deltaSha256: string;
  /** Weight the delta had in the weighted mean (manifest weight times staleness decay). */
  weight: number;
}

export interface LedgerEntry {
  formatVersion: typeof LEDGER_FORMAT_VERSION;
  round: number;
  version: number;
  prevHash: string;
  globalSha256: string;
  accepted: LedgerAccepted[];
  rejectedCount: number;
  /** The merge parameters of the round (server learning rate, merge mode, bounds...). */
  params: Record<string, string | number>;
  createdAt: string;
  /** Present when the round ran under secure aggregation. */
  secagg?: SecaggRecord;
  hash: string;
}

/** How a secure round ran: enough for a reader to judge what the sum hides, naming no one. */
export interface SecaggRecord {
  protocol: 'secagg+';
  roundId: string;
  modulusBits: number;
  scaleBits: number;
  /** Neighbours per member, Shamir threshold within a neighbourhood, fewest survivors allowed (T). */
  k: number;
  t: number;
  minSurvivors: number;
  noise: { mechanism: 'skellam' | 'none'; sigma: number };
  /** The aggregation mechanism of the round (`../model/mechanism.ts`); absent in rounds that merged FedAvg deltas. */
  aggregation?: string;
  /** Members in the cohort, survivors (masked input arrived), dropped after sharing. */
  cohort: number;
  survivors: number;
  dropped: number;
}

export type LedgerFields = Omit<LedgerEntry, 'formatVersion' | 'prevHash' | 'hash'>;

/** JSON with object keys sorted recursively and no whitespace: the form that is hashed. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`canonical JSON cannot hold ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

/** The hash an entry must carry: sha256 of its canonical JSON without `hash`. */
export function entryHash(entry: Omit<LedgerEntry, 'hash'> | LedgerEntry): string {
  const { hash: _omit, ...rest } = entry as LedgerEntry;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** Build the entry that follows `previous` (null for the first line). */
export function createLedgerEntry(fields: LedgerFields, previous: LedgerEntry | null): LedgerEntry {
  const body: Omit<LedgerEntry, 'hash'> = { formatVersion: LEDGER_FORMAT_VERSION, ...fields, prevHash: previous ? previous.hash : GENESIS_HASH };
  return { ...body, hash: entryHash(body) };
}

type LedgerCheck =
  | { ok: true; entries: number; head: LedgerEntry | null }
  | { ok: false; entries: number; index: number; reason: string };

/**
 * Verify a whole ledger: every hash, the chain from the genesis hash, strictly
 * increasing rounds and versions, and no delta hash accepted twice.
 */
export function verifyLedger(entries: readonly LedgerEntry[]): LedgerCheck {
  const seen = new Set<string>();
  let prev: LedgerEntry | null = null;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index];
    const fail = (reason: string): LedgerCheck => ({ ok: false, entries: entries.length, index, reason: `line ${index + 1} (version ${entry.version}): ${reason}` });
    if (entry.formatVersion !== LEDGER_FORMAT_VERSION) return fail(`formatVersion ${entry.formatVersion} is not ${LEDGER_FORMAT_VERSION}`);
    if (entry.hash !== entryHash(entry)) return fail('hash does not match the entry (edited?)');
    if (entry.prevHash !== (prev ? prev.hash : GENESIS_HASH)) return fail('prevHash does not match the previous line (line dropped, inserted or reordered?)');
    if (prev && (entry.version <= prev.version || entry.round <= prev.round)) return fail(`version/round do not increase after ${prev.version}/${prev.round}`);
    for (const accepted of entry.accepted) {
      if (seen.has(accepted.deltaSha256)) return fail(`delta ${accepted.deltaSha256.slice(0, 16)} was already accepted in an earlier round`);
      seen.add(accepted.deltaSha256);
    }
    prev = entry;
  }
  return { ok: true, entries: entries.length, head: prev };
}

/** Parse ledger text; each line is checked against the schema (ERR_LEDGER_BROKEN names the line). */
export function parseLedger(text: string, file: string): LedgerEntry[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, i) => {
    const fail = (what: string): never => {
      throw new AppError('ERR_LEDGER_BROKEN', `${file} line ${i + 1}: ${what}`, { file, row: i + 1 });
    };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return fail('is not JSON (truncated or edited?)');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('is not a JSON object');
    const e = value as Record<string, unknown>;
    for (const k of ['round', 'version', 'rejectedCount', 'formatVersion']) {
      if (!Number.isSafeInteger(e[k]) || (e[k] as number) < 0) fail(`${k} must be a non-negative integer`);
    }
    for (const k of ['prevHash', 'globalSha256', 'hash']) {
      if (typeof e[k] !== 'string' || !SHA256_RE.test(e[k] as string)) fail(`${k} must be 64 hex digits`);
    }
    if (typeof e.createdAt !== 'string') fail('createdAt must be a string');
    if (typeof e.params !== 'object' || e.params === null || Array.isArray(e.params)) fail('params must be an object');
    if (!Array.isArray(e.accepted)) fail('accepted must be a list');
    for (const a of e.accepted as unknown[]) {
      const r = a as Record<string, unknown>;
      const ok = typeof r === 'object' && r !== null && typeof r.participant === 'string' && typeof r.deltaSha256 === 'string'
        && SHA256_RE.test(r.deltaSha256) && typeof r.weight === 'number' && Number.isFinite(r.weight);
      if (!ok) fail('accepted entries must be { participant, deltaSha256, weight }');
    }
    if (e.secagg !== undefined) checkSecagg(e.secagg, fail);
    return value as LedgerEntry;
  });
}

function checkSecagg(value: unknown, fail: (what: string) => never): void {
  const r = value as Record<string, unknown>;
  if (typeof r !== 'object' || r === null || Array.isArray(r) || r.protocol !== 'secagg+' || typeof r.roundId !== 'string') fail('secagg must be an object with protocol secagg+ and a roundId');
  for (const k of ['modulusBits', 'scaleBits', 'k', 't', 'minSurvivors', 'cohort', 'survivors', 'dropped']) {
    if (!Number.isSafeInteger(r[k]) || (r[k] as number) < 0) fail(`secagg.${k} must be a non-negative integer`);
  }
  const noise = r.noise as Record<string, unknown>;
  if (typeof noise !== 'object' || noise === null || typeof noise.sigma !== 'number' || !Number.isFinite(noise.sigma) || typeof noise.mechanism !== 'string') {
    fail('secagg.noise must be { mechanism, sigma }');
  }
  if (r.aggregation !== undefined && (typeof r.aggregation !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(r.aggregation))) fail('secagg.aggregation must be a short lowercase name');
}

/** Read and parse the ledger; [] when it does not exist (yet). */
export async function readLedger(file: string): Promise<LedgerEntry[]> {
  const bytes = await readRegularFile(file, { maxBytes: MAX_LEDGER_BYTES });
  return bytes === null ? [] : parseLedger(bytes.toString('utf8'), file);
}

/** Append one entry: it must chain onto the file's last line. The file is rewritten atomically. */
export async function appendLedgerEntry(file: string, entry: LedgerEntry): Promise<void> {
  const bytes = await readRegularFile(file, { maxBytes: MAX_LEDGER_BYTES });
  const text = bytes === null ? '' : bytes.toString('utf8');
  const entries = parseLedger(text, file);
  const last = entries.length > 0 ? entries[entries.length - 1] : null;
  if (entry.prevHash !== (last ? last.hash : GENESIS_HASH) || entry.hash !== entryHash(entry)) {
    throw new AppError('ERR_LEDGER_BROKEN', `${file}: the new entry for version ${entry.version} does not chain onto the last line`, { file });
  }
  await writeFileAtomic(file, `${text}${canonicalJson(entry)}\n`);
}

/** A Global_V version a participant holds: the sha256 of its payload bytes. */
interface GlobalCopy {
  version: number;
  sha256: string;
}

const MAX_GLOBAL_MANIFEST_BYTES = 64 * 1024; // 64 KiB
const NPY_HEADER_SLACK_BYTES = 4096;

/**
 * The Global_V versions held in `globalDir` (manifest and payload both present;
 * a version still syncing is left out), with the sha256 of the payload bytes as
 * they are on disk, newest first.
 */
export async function readGlobalCopies(globalDir: string): Promise<GlobalCopy[]> {
  const copies: GlobalCopy[] = [];
  for (const version of await listGlobalVersions(globalDir)) {
    const dir = path.join(globalDir, versionDirName(version));
    const manifestFile = path.join(dir, GLOBAL_MANIFEST);
    const raw = await readJsonFile(manifestFile, { maxBytes: MAX_GLOBAL_MANIFEST_BYTES }).catch(() => null);
    if (raw === null) continue;
    const manifest = parseGlobalManifest(raw, manifestFile);
    const bytes = await readRegularFile(path.join(dir, GLOBAL_PAYLOAD), { maxBytes: manifest.items * manifest.rank * 4 + NPY_HEADER_SLACK_BYTES }).catch(() => null);
    if (bytes === null) continue;
    copies.push({ version, sha256: sha256Hex(bytes) });
  }
  return copies;
}

/** The participant's latest published delta (from its `delta.json`). */
export interface PublishedDelta {
  sha256: string;
  createdAt: string;
}

export interface ParticipationAudit {
  ok: boolean;
  chain: LedgerCheck;
  /** One line per Global_V the participant holds. `pending` = newer than the ledger it holds (sync lag). */
  globals: { version: number; sha256: string; ledgerSha256: string | null; status: 'match' | 'mismatch' | 'pending' }[];
  /**
   * `included` in a round; `pending` while no round started at least `graceMs` after
   * the delta was published; `missing` once one did (rejected, or never received).
   */
  delta: { sha256: string; status: 'included' | 'pending' | 'missing'; version: number | null } | null;
  problems: string[];
}

/**
 * What a participant can check with what it holds: the chain end to end, that its
 * copies of Global_V are the ones the ledger names, and that its latest delta was
 * merged (once: the chain check rejects a delta hash listed twice).
 */
export function auditParticipation(
  entries: readonly LedgerEntry[],
  held: { globals: readonly GlobalCopy[]; delta: PublishedDelta | null; graceMs: number },
): ParticipationAudit {
  const problems: string[] = [];
  const chain = verifyLedger(entries);
  if (!chain.ok) problems.push(`ledger does not verify: ${chain.reason}`);
  const byVersion = new Map(entries.map((e) => [e.version, e]));
  const headVersion = entries.length > 0 ? entries[entries.length - 1].version : 0;
  const globals = held.globals.map(({ version, sha256 }) => {
    const ledgerSha256 = byVersion.get(version)?.globalSha256 ?? null;
    const status = ledgerSha256 === sha256 ? 'match' : ledgerSha256 === null && version > headVersion ? 'pending' : 'mismatch';
    if (status === 'mismatch') problems.push(`Global_V version ${version} has sha256 ${sha256.slice(0, 16)}…, the ledger names ${ledgerSha256 ? `${ledgerSha256.slice(0, 16)}…` : 'no such version'}`);
    return { version, sha256, ledgerSha256, status } as const;
  });
  let delta: ParticipationAudit['delta'] = null;
  if (held.delta) {
    const { sha256, createdAt } = held.delta;
    const including = entries.find((e) => e.accepted.some((a) => a.deltaSha256 === sha256));
    const due = Date.parse(createdAt) + held.graceMs;
    const later = entries.find((e) => Date.parse(e.createdAt) >= due);
    const status = including ? 'included' : later ? 'missing' : 'pending';
    if (status === 'missing') problems.push(`delta ${sha256.slice(0, 16)}… is not in the ledger, though round ${later!.round} ran after it was published (rejected or not received: see the aggregator)`);
    delta = { sha256, status, version: including ? including.version : null };
  }
  return { ok: problems.length === 0, chain, globals, delta, problems };
}
