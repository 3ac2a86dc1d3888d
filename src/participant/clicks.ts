import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { readRegularFile, writeFileAtomic } from '../shared/atomic';
import { isAppError } from '../shared/errors';
import type { Logger } from '../shared/log';

/**
 * The click-experiment log of one profile: `app_data/<app>/profile_<n>/clicks.jsonl`
 * in the participant's own datasite (readable by the aggregator only, through the
 * app folder's `syft.pub.yaml`). One JSON object per line, two kinds of rows:
 *
 * ```json
 * {"v":2,"type":"view","pageView":"k3J9…","left":"global","shown":{"local":5,"global":5},"versions":{"global":4,"localBase":4}}
 * {"v":2,"type":"click","pageView":"k3J9…","side":"right","arm":"local","rank":2}
 * ```
 * A view row is written when a page's two lists are served (which arm is on
 * the left, how many shows each column held, the model versions behind them);
 * a click row names the page view, the column, its arm and the 1-based rank
 * of the show in that column.
 *
 * What it leaves out, and why (issue 20): the experiment needs only which list
 * got the click, so rows carry no show ids and no times. Version 1 rows held
 * both lists' item ids and millisecond timestamps: the aggregator read every
 * page view's two top-N lists (the local one is a ranking of the private
 * model) and when the page was used. `ClickLog` rewrites a log that still
 * holds version-1 rows to version 2 before its first append. Titles were never
 * written. What remains visible: how many page views and clicks, in which
 * order, and (from when the synced file changes) roughly when.
 *
 * Why append-only, not temp + rename like every other published file: the log
 * only grows, and rewriting it whole per click would cost O(size) per click and
 * race with itself. Appends keep the guarantee readers need instead: every row
 * is one `write()` of a complete line ending in `\n` through `O_APPEND` (whole
 * small appends do not interleave, even across processes on a local disk), a
 * batch is fsynced before the request is answered, and a reader ignores a final
 * line without `\n`, so a crash or a sync caught mid-append costs at most that
 * one unfinished row.
 */
export const CLICK_LOG_VERSION = 2;
const LEGACY_CLICK_LOG_VERSION = 1;

export type Arm = 'local' | 'global';
export type Side = 'left' | 'right';
export const ARMS: readonly Arm[] = ['local', 'global'];

export function otherArm(arm: Arm): Arm {
  return arm === 'local' ? 'global' : 'local';
}

/** The arm shown in column `side` of a page view whose left column is `left`. */
export function armOnSide(left: Arm, side: Side): Arm {
  return side === 'left' ? left : otherArm(left);
}

export interface PageViewRow {
  v: typeof CLICK_LOG_VERSION;
  type: 'view';
  pageView: string;
  /** Arm shown in the left column; the other is on the right. */
  left: Arm;
  /** How many shows each arm's column held. */
  shown: Record<Arm, number>;
  /** Global_V version of the global list; Global_V version the local model was trained from. */
  versions: { global: number; localBase: number };
}

export interface ClickRow {
  v: typeof CLICK_LOG_VERSION;
  type: 'click';
  pageView: string;
  side: Side;
  arm: Arm;
  /** 1-based position in its column. */
  rank: number;
}

export type ClickLogRow = PageViewRow | ClickRow;

/** Longest list a view row may carry (RECS_PER_COLUMN allows at most 50). */
const MAX_LIST_LENGTH = 50;
const PAGE_VIEW_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;
const MAX_ITEM_ID = 10_000_000;

function isItemList(value: unknown): value is number[] {
  return Array.isArray(value) && value.length <= MAX_LIST_LENGTH && value.every((v) => Number.isInteger(v) && v >= 0 && v < MAX_ITEM_ID);
}

function isListLength(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_LIST_LENGTH;
}

function isRank(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_LIST_LENGTH;
}

function isVersion(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isArm(value: unknown): value is Arm {
  return value === 'local' || value === 'global';
}

function isSide(value: unknown): value is Side {
  return value === 'left' || value === 'right';
}

function versionsOf(value: unknown): PageViewRow['versions'] | null {
  const versions = value as Record<string, unknown> | null;
  if (typeof versions !== 'object' || versions === null || !isVersion(versions.global) || !isVersion(versions.localBase)) return null;
  return { global: versions.global, localBase: versions.localBase };
}

/** Validate one parsed line (untrusted when it comes from another datasite); null when it is not a version-2 row. */
export function parseClickLogRow(value: unknown): ClickLogRow | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  if (r.v !== CLICK_LOG_VERSION || typeof r.pageView !== 'string' || !PAGE_VIEW_ID_RE.test(r.pageView)) return null;
  if (r.type === 'view') {
    const shown = r.shown as Record<string, unknown> | null;
    const versions = versionsOf(r.versions);
    if (!isArm(r.left) || typeof shown !== 'object' || shown === null || !isListLength(shown.local) || !isListLength(shown.global) || versions === null) return null;
    return { v: CLICK_LOG_VERSION, type: 'view', pageView: r.pageView, left: r.left, shown: { local: shown.local, global: shown.global }, versions };
  }
  if (r.type === 'click') {
    if (!isSide(r.side) || !isArm(r.arm) || !isRank(r.rank)) return null;
    return { v: CLICK_LOG_VERSION, type: 'click', pageView: r.pageView, side: r.side, arm: r.arm, rank: r.rank };
  }
  return null;
}

/** A version-1 row (item ids and times) as the version-2 row it becomes; null when it is not one. */
export function upgradeLegacyRow(value: unknown): ClickLogRow | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  if (r.v !== LEGACY_CLICK_LOG_VERSION) return null;
  if (r.type === 'view' && isItemList(r.local) && isItemList(r.global)) {
    return parseClickLogRow({ v: CLICK_LOG_VERSION, type: 'view', pageView: r.pageView, left: r.left, shown: { local: r.local.length, global: r.global.length }, versions: r.versions });
  }
  if (r.type === 'click') return parseClickLogRow({ v: CLICK_LOG_VERSION, type: 'click', pageView: r.pageView, side: r.side, arm: r.arm, rank: r.rank });
  return null;
}

export interface ParsedClickLog {
  rows: ClickLogRow[];
  /** Complete lines that are not valid rows (junk, other versions). */
  rejected: number;
  /** True when the text ends in an unfinished line (ignored). */
  torn: boolean;
}

/** Parse the log's text: complete lines only; junk lines are counted, not fatal. */
export function parseClickLog(text: string): ParsedClickLog {
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const rows: ClickLogRow[] = [];
  let rejected = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      rejected++;
      continue;
    }
    const row = parseClickLogRow(parsed);
    if (row) rows.push(row);
    else rejected++;
  }
  return { rows, rejected, torn: tail !== '' };
}

/** A click log is capped well below SyftBox's 10 MB file limit (~30,000 page views). */
export const MAX_CLICK_LOG_BYTES = 8 * 1024 * 1024; // 8 MiB

/** Read and parse a click log; null when it does not exist. Throws ERR_FILE_TOO_LARGE / ERR_FILE_NOT_REGULAR. */
export async function readClickLog(file: string, maxBytes: number = MAX_CLICK_LOG_BYTES): Promise<ParsedClickLog | null> {
  const bytes = await readRegularFile(file, { maxBytes });
  return bytes === null ? null : parseClickLog(bytes.toString('utf8'));
}

interface PendingRow {
  line: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface ClickLogOptions {
  logger: Logger;
  /** Runs once before the first write (e.g. make sure the folder's syft.pub.yaml exists). */
  prepare?: () => Promise<void>;
}

/** Read-write so the first batch can check the last byte; O_APPEND puts every write at the end. */
const APPEND_FLAGS = fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW;
const NEWLINE = 0x0a;

/**
 * The writer of one click log. Every append in this process goes through one
 * queue: rows that arrive while a batch is being written form the next batch;
 * each row is one `write()` of a whole line, each batch ends with an fsync, and
 * `append` resolves only after its batch is on disk.
 */
export class ClickLog {
  readonly file: string;
  private readonly logger: Logger;
  private readonly prepare?: () => Promise<void>;
  private pending: PendingRow[] = [];
  private draining: Promise<void> | null = null;
  private prepared = false;

  constructor(file: string, options: ClickLogOptions) {
    this.file = file;
    this.logger = options.logger;
    this.prepare = options.prepare;
  }

  /** Append one row; resolves when it is fsynced. */
  append(row: ClickLogRow): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(row)}\n`, 'utf8');
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Resolves when every row appended so far is written (or has failed). */
  async flushed(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.writeBatch(batch.map((p) => p.line));
          for (const p of batch) p.resolve();
        } catch (err) {
          this.logger.error({ err, file: this.file, rows: batch.length }, 'cannot append to the click log');
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      // Synchronous with the last emptiness check: an append after this starts a new drain.
      this.draining = null;
    }
  }

  private async writeBatch(lines: Buffer[]): Promise<void> {
    if (!this.prepared) {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await this.prepare?.();
      await upgradeLegacyLog(this.file);
    }
    const handle = await fs.open(this.file, APPEND_FLAGS, 0o644);
    try {
      if (!this.prepared) {
        await terminateTornTail(handle);
        this.prepared = true;
      }
      for (const line of lines) await writeWhole(handle, line);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/**
 * Rewrite (atomically) a log that still holds version-1 rows, which published
 * show ids and times, as version-2 rows; other lines are kept as they are.
 */
async function upgradeLegacyLog(file: string): Promise<void> {
  const bytes = await readRegularFile(file, { maxBytes: MAX_CLICK_LOG_BYTES }).catch((err: unknown) => {
    // an oversized log is not read by the aggregator anyway; appends go on
    if (isAppError(err, 'ERR_FILE_TOO_LARGE')) return null;
    throw err;
  });
  if (bytes === null) return;
  let upgraded = false;
  const lines = bytes.toString('utf8').split('\n').map((line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return line;
    }
    const row = upgradeLegacyRow(parsed);
    if (row === null) return line;
    upgraded = true;
    return JSON.stringify(row);
  });
  if (upgraded) await writeFileAtomic(file, lines.join('\n'));
}

/** A previous process may have died mid-row: end that fragment so the next row starts on its own line. */
async function terminateTornTail(handle: fs.FileHandle): Promise<void> {
  const { size } = await handle.stat();
  if (size === 0) return;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  if (last[0] !== NEWLINE) await writeWhole(handle, Buffer.from('\n'));
}

/** One write() for a line; loops only if the kernel accepted part of it (not expected for regular files). */
async function writeWhole(handle: fs.FileHandle, line: Buffer): Promise<void> {
  let offset = 0;
  while (offset < line.length) {
    const { bytesWritten } = await handle.write(line, offset, line.length - offset);
    offset += bytesWritten;
  }
}
