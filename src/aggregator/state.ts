import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AppError } from '../shared/errors';
import { GLOBAL_MANIFEST, initialItemFactors, listGlobalVersions, readLatestGlobal, writeGlobalVersion, type GlobalExpect } from '../shared/global-model';
import { appendLedgerEntry, createLedgerEntry, readLedger, verifyLedger, type LedgerEntry } from '../shared/ledger';
import type { Logger } from '../shared/log';
import type { Workspace } from '../shared/workspace';
import { grantContributors } from './grant';
import { entryExists } from './discover';
import { ledgerFields, listRoundRecords, readRoundRecord, removeRoundRecord, writeRoundRecord, type RoundRecord } from './record';

/**
 * The aggregator's committed state and crash recovery.
 *
 * The newest complete Global_V version (its `Global_V.json` present and the
 * payload matching it) is the one source of truth. A round commits in this order:
 *   1. private round record `rounds/v<N>.json` (who was accepted, weights, params);
 *   2. `global/v<N>/Global_V.npy`, then `Global_V.json`: the commit point;
 *   3. `reconcile`: ledger line for N, read permissions, pruning.
 * Killed before 2 completes, the round never happened (its record is overwritten by
 * the next round, a manifest-less version folder is deleted). Killed after, the
 * next start runs `reconcile`, which redoes step 3 from the record: each step
 * checks first, so running it twice changes nothing. The set of applied delta
 * hashes is read from the ledger, which therefore always covers every committed
 * version before a new round is planned: a delta is merged at most once.
 * One aggregator process per datasite is assumed.
 */
export interface CommittedState {
  /** Newest committed Global_V version; 0 = nothing merged yet (the initialization). */
  version: number;
  values: Float32Array;
  /** sha256 of the committed `Global_V.npy`; null for version 0. */
  globalSha256: string | null;
  ledger: LedgerEntry[];
  /** Delta content hashes merged in any committed version. */
  applied: Set<string>;
  /** Emails of every participant ever accepted, sorted. */
  contributors: string[];
  /** Record of the committed version (null for version 0). */
  record: RoundRecord | null;
}

interface StateContext {
  ws: Workspace;
  model: GlobalExpect;
  /** SEED of the version-0 initialization. */
  seed: number;
  /** Versions older than MAX_STALENESS + 1 behind the newest are pruned (MAX_STALENESS + 2 are kept). */
  maxStaleness: number;
  logger: Logger;
}

/**
 * Steps 1 and 2 of a commit: the round record, then the Global_V version it names (the
 * commit point). `contributors` is how many contributions the version merges; the caller
 * then runs `reconcile` (step 3).
 */
export async function commitVersion(ws: Workspace, model: GlobalExpect, record: RoundRecord, values: Float32Array, contributors: number, createdAt: string): Promise<void> {
  await writeRoundRecord(ws.aggregatorPrivateDir(), record);
  await writeGlobalVersion(ws.globalDir(ws.email), values, {
    version: record.version,
    round: record.version,
    items: model.items,
    rank: model.rank,
    vocabHash: model.vocabHash,
    contributors,
    createdAt,
  });
}

/** Load the committed state and bring the ledger, read permissions and pruning in line with it. Idempotent. */
export async function reconcile(ctx: StateContext): Promise<CommittedState> {
  const { ws, model, logger } = ctx;
  const me = ws.email;
  const latest = await readLatestGlobal(ws.globalDir(me), model);
  const version = latest?.manifest.version ?? 0;
  const record = latest ? await readRoundRecord(ws.aggregatorPrivateDir(), version) : null;
  const ledger = await reconcileLedger(ws.ledgerFile(me), version, latest?.manifest.sha256 ?? null, record, logger);
  const contributors = record?.contributors ?? [];
  if (await grantContributors(ws.aggregatorDir(me), contributors)) logger.info({ contributors: contributors.length }, 'read permissions updated');
  await prune(ctx, version);
  const applied = new Set<string>();
  for (const entry of ledger) for (const accepted of entry.accepted) applied.add(accepted.deltaSha256);
  return {
    version,
    values: latest?.values ?? initialItemFactors(model.items, model.rank, ctx.seed),
    globalSha256: latest?.manifest.sha256 ?? null,
    ledger,
    applied,
    contributors,
    record,
  };
}

async function reconcileLedger(file: string, version: number, globalSha256: string | null, record: RoundRecord | null, logger: Logger): Promise<LedgerEntry[]> {
  const entries = await readLedger(file);
  const check = verifyLedger(entries);
  if (!check.ok) throw new AppError('ERR_LEDGER_BROKEN', `${file}: ${check.reason}. The ledger must not be edited: restore it from a backup`, { file });
  const head = check.head;
  const headVersion = head?.version ?? 0;
  if (headVersion === version) {
    if (head && head.globalSha256 !== globalSha256) {
      throw new AppError('ERR_LEDGER_BROKEN', `${file}: the last line names Global_V version ${version} with sha256 ${head.globalSha256.slice(0, 16)}…, the committed payload has ${globalSha256?.slice(0, 16)}…`, { file });
    }
    return entries;
  }
  if (record && globalSha256 && headVersion === record.previousVersion) {
    const entry = createLedgerEntry(ledgerFields(record, globalSha256), head);
    await appendLedgerEntry(file, entry);
    logger.info({ version, accepted: record.accepted.length }, 'ledger entry written');
    return [...entries, entry];
  }
  throw new AppError(
    'ERR_LEDGER_BROKEN',
    `${file} ends at version ${headVersion}, but the newest committed Global_V is version ${version}${record ? ` (built on ${record.previousVersion})` : ''}: the ledger and the global/ folder belong to different histories; move both away to start over`,
    { file },
  );
}

/** Keep the newest MAX_STALENESS + 2 versions (and their records); delete older ones and manifest-less leftovers of abandoned rounds. */
async function prune(ctx: StateContext, version: number): Promise<void> {
  const { ws, logger } = ctx;
  const oldestKept = version - ctx.maxStaleness - 1;
  const globalDir = ws.globalDir(ws.email);
  for (const v of await listGlobalVersions(globalDir)) {
    const dir = ws.globalVersionDir(ws.email, v);
    const abandoned = v > version && !(await entryExists(path.join(dir, GLOBAL_MANIFEST)));
    if (v < oldestKept || abandoned) {
      await fs.rm(dir, { recursive: true, force: true });
      logger.debug({ version: v, abandoned }, 'removed Global_V version');
    }
  }
  for (const v of await listRoundRecords(ws.aggregatorPrivateDir())) {
    if (v < oldestKept) await removeRoundRecord(ws.aggregatorPrivateDir(), v);
  }
}
