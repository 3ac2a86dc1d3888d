import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../shared/atomic';
import type { ErrorCode } from '../shared/errors';
import type { AcceptedRecord } from './record';

/**
 * `status.json` in the aggregator's private folder (never synced: it names
 * participants and why their deltas were refused), rewritten atomically after
 * every round, merged or not.
 *
 * Example:
 * ```json
 * { "formatVersion": 1, "updatedAt": "2026-11-21T16:00:03.000Z",
 *   "outcome": "merged", "version": 12, "previousVersion": 11, "globalSha256": "e0b3…",
 *   "startedAt": "2026-11-21T16:00:00.000Z", "durationMs": 2950,
 *   "counts": { "accepted": 1, "rejected": 1, "replayed": 40, "waiting": 0 },
 *   "rejectedByCode": { "ERR_DELTA_NORM": 1 },
 *   "accepted": [{ "email": "a@x.org", "profile": "profile_0", "participant": "9c41…",
 *                  "deltaSha256": "3f2a…", "weight": 1, "staleness": 0 }],
 *   "rejected": [{ "email": "b@y.org", "profile": "profile_0", "deltaSha256": "77aa…",
 *                  "code": "ERR_DELTA_NORM", "message": "…: L2 norm 31.6 exceeds the allowed 1.0001 …" }],
 *   "replayed": [{ "email": "c@z.org", "profile": "profile_1", "deltaSha256": "12cd…" }],
 *   "waiting": [], "contributors": 41, "params": { "serverLr": 1, … } }
 * ```
 * `replayed` lists deltas already merged in an earlier round (a participant that
 * has not published since, or a copy of another's delta): not an error.
 * `waiting` lists deltas not decidable yet (payload not synced), retried next round.
 */
const STATUS_FORMAT_VERSION = 1;
const STATUS_FILE = 'status.json';
const MAX_STATUS_BYTES = 64 * 1024 * 1024; // 64 MiB

export interface RejectedDelta {
  email: string;
  profile: string;
  /** Manifest sha256 when the manifest could be read. */
  deltaSha256: string | null;
  code: ErrorCode;
  message: string;
}

export interface SkippedDelta {
  email: string;
  profile: string;
  deltaSha256: string | null;
  reason: string;
}

export type RoundOutcome = 'merged' | 'nothing-new' | 'none-accepted' | 'too-few-datasites';

/** What one round did (also the body of status.json). */
export interface RoundSummary {
  /** merged: a new version; nothing-new: only already-merged deltas; none-accepted: every new delta was rejected; too-few-datasites: valid deltas from fewer than MIN_DATASITES datasites wait. */
  outcome: RoundOutcome;
  /** Global_V version after the round (0 = the initialization). */
  version: number;
  previousVersion: number;
  /** sha256 of the Global_V.npy of `version` (null for version 0). */
  globalSha256: string | null;
  startedAt: string;
  durationMs: number;
  counts: { accepted: number; rejected: number; replayed: number; waiting: number };
  rejectedByCode: Partial<Record<ErrorCode, number>>;
  accepted: AcceptedRecord[];
  rejected: RejectedDelta[];
  replayed: SkippedDelta[];
  waiting: SkippedDelta[];
  /** Participants (emails) ever accepted. */
  contributors: number;
  params: Record<string, string | number>;
}

export interface AggregatorStatus extends RoundSummary {
  formatVersion: typeof STATUS_FORMAT_VERSION;
  updatedAt: string;
}

function statusFile(privateDir: string): string {
  return path.join(privateDir, STATUS_FILE);
}

export async function writeStatus(privateDir: string, summary: RoundSummary, now: Date): Promise<void> {
  const status: AggregatorStatus = { formatVersion: STATUS_FORMAT_VERSION, updatedAt: now.toISOString(), ...summary };
  await writeJsonAtomic(statusFile(privateDir), status, { private: true });
}

/** The last status, or null before the first round. */
export async function readStatus(privateDir: string): Promise<AggregatorStatus | null> {
  return (await readJsonFile(statusFile(privateDir), { maxBytes: MAX_STATUS_BYTES })) as AggregatorStatus | null;
}
