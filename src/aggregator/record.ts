import { createHmac, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, readRegularFile, writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import { AppError } from '../shared/errors';
import { versionDirName } from '../shared/global-model';
import type { LedgerFields, SecaggRecord } from '../shared/ledger';

/**
 * The round record: everything a committed Global_V version needs to redo the
 * round's side effects (ledger line, read permissions) after a crash. Private
 * (`<aggregator private dir>/rounds/v000012.json`), because it names
 * participants by email. It is written BEFORE the version's `Global_V.json`, so a
 * committed version always has its record; a record without a committed version
 * is an abandoned round and is deleted.
 *
 * Example:
 * ```json
 * { "formatVersion": 1, "version": 12, "round": 12, "previousVersion": 11,
 *   "createdAt": "2026-11-21T16:00:00.000Z",
 *   "params": { "serverLr": 1, "mergeMode": "fedavg", … },
 *   "accepted": [{ "email": "a@x.org", "profile": "profile_0", "participant": "9c41…",
 *                  "deltaSha256": "3f2a…", "weight": 0.5, "staleness": 1 }],
 *   "rejectedCount": 2, "contributors": ["a@x.org", "b@y.org"] }
 * ```
 * `contributors` is cumulative: every email ever accepted, through this version.
 */
export const ROUND_RECORD_FORMAT_VERSION = 1;
const MAX_RECORD_BYTES = 64 * 1024 * 1024; // 64 MiB
const RECORD_RE = /^v(\d{6,})\.json$/;
const SECRET_FILE = 'ledger-secret';
const SECRET_BYTES = 32;

export interface AcceptedRecord {
  email: string;
  profile: string;
  /** Keyed hash naming this participant profile in the ledger (see `participantTag`). */
  participant: string;
  deltaSha256: string;
  weight: number;
  staleness: number;
}

export interface RoundRecord {
  formatVersion: typeof ROUND_RECORD_FORMAT_VERSION;
  version: number;
  round: number;
  /** The Global_V version this round started from (0 = the initialization). */
  previousVersion: number;
  createdAt: string;
  params: Record<string, string | number>;
  accepted: AcceptedRecord[];
  rejectedCount: number;
  contributors: string[];
  /** Secure rounds: how the round ran (goes to the ledger line as is). */
  secagg?: SecaggRecord;
}

function roundsDir(privateDir: string): string {
  return path.join(privateDir, 'rounds');
}

function recordFile(privateDir: string, version: number): string {
  return path.join(roundsDir(privateDir), `${versionDirName(version)}.json`);
}

export async function writeRoundRecord(privateDir: string, record: RoundRecord): Promise<void> {
  await writeJsonAtomic(recordFile(privateDir, record.version), record, { private: true });
}

/** The record of a committed version; ERR_AGGREGATOR_STATE when it is missing or not a record. */
export async function readRoundRecord(privateDir: string, version: number): Promise<RoundRecord> {
  const file = recordFile(privateDir, version);
  const raw = (await readJsonFile(file, { maxBytes: MAX_RECORD_BYTES })) as RoundRecord | null;
  if (raw === null || raw.formatVersion !== ROUND_RECORD_FORMAT_VERSION || raw.version !== version || !Array.isArray(raw.accepted) || !Array.isArray(raw.contributors)) {
    throw new AppError(
      'ERR_AGGREGATOR_STATE',
      `${file} is ${raw === null ? 'missing' : 'not a round record'}, but Global_V version ${version} is committed: restore the aggregator's private folder, or move that Global_V version away`,
      { file },
    );
  }
  return raw;
}

/** Versions that have a record file, ascending. */
export async function listRoundRecords(privateDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(roundsDir(privateDir));
  } catch {
    return [];
  }
  return names
    .map((n) => RECORD_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export async function removeRoundRecord(privateDir: string, version: number): Promise<void> {
  await fs.rm(recordFile(privateDir, version), { force: true });
}

/** The ledger line of a committed version: the record's public part plus the Global_V payload hash. */
export function ledgerFields(record: RoundRecord, globalSha256: string): LedgerFields {
  return {
    round: record.round,
    version: record.version,
    globalSha256,
    accepted: record.accepted.map(({ participant, deltaSha256, weight }) => ({ participant, deltaSha256, weight })),
    rejectedCount: record.rejectedCount,
    params: record.params,
    createdAt: record.createdAt,
    ...(record.secagg ? { secagg: record.secagg } : {}),
  };
}

/**
 * The secret key of the participant tags, created on first use (random, 32 bytes,
 * hex) in the aggregator's private folder. Losing it changes nothing already
 * written: tags are only compared, never recomputed.
 */
export async function loadLedgerSecret(privateDir: string): Promise<Buffer> {
  const file = path.join(privateDir, SECRET_FILE);
  const text = await readRegularFile(file, { maxBytes: 1024 });
  if (text !== null && /^[0-9a-f]{64}\s*$/.test(text.toString('utf8'))) return Buffer.from(text.toString('utf8').trim(), 'hex');
  const secret = randomBytes(SECRET_BYTES);
  await writeFileAtomic(file, `${secret.toString('hex')}\n`, { private: true });
  return secret;
}

/**
 * How the ledger names a participant profile: HMAC-SHA256(secret, version, email,
 * profile). Without the secret nobody can tell who it is, and the version in the
 * input makes the tags of one profile differ from round to round (unlinkable).
 */
export function participantTag(secret: Buffer, version: number, email: string, profile: string): string {
  return createHmac('sha256', secret).update(`${version}\n${email}\n${profile}`).digest('hex');
}
