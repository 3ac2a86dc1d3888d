import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { readRegularFile, writeFileAtomic } from '../shared/atomic';
import { MAX_CLICK_LOG_BYTES, upgradeLegacyRow, type ClickLogRow } from '../shared/clicks';
import { isAppError } from '../shared/errors';
import type { Logger } from '../shared/log';
import type { Workspace } from '../shared/workspace';

/**
 * The writer of a profile's click log (format: `src/shared/clicks.ts`). A log
 * that still holds version-1 rows (show ids, times) is rewritten to version 2
 * before the first append.
 *
 * Why append-only, not temp + rename like every other published file: the log
 * only grows, and rewriting it whole per click would cost O(size) per click and
 * race with itself. Appends keep the guarantee readers need instead: every batch
 * of rows is one `write()` of complete lines ending in `\n` through `O_APPEND`
 * (whole appends do not interleave, even across processes on a local disk), and a
 * reader ignores a final line without `\n`, so a crash or a sync caught
 * mid-append costs at most that one unfinished row.
 *
 * Durability policy: a row is acknowledged once its `write()` returned. The bytes
 * are then in the kernel's page cache, which outlives the process: a crash or
 * kill -9 after the answer loses nothing. Only a power cut or kernel crash could,
 * and for that the file is fsynced at most FSYNC_INTERVAL_MS after any write, so
 * such a loss is bounded to that window (the cost an fsync per request would put
 * on every click: tens of ms of latency each on a busy disk).
 */

/**
 * Where a profile's click log is written: always on this machine, owner-only.
 * Only per-arm counts leave: summed in the secure community round
 * (`community-round.ts`), or noised weekly in plain mode (`click-counts.ts`).
 */
export function clickLogFile(ws: Workspace, profile: string): string {
  return ws.privateClickLog(profile);
}

interface PendingRow {
  line: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ClickLogOptions {
  logger: Logger;
  /** Runs once before the first write (e.g. make sure the folder's syft.pub.yaml exists). */
  prepare?: () => Promise<void>;
  /** A log that never leaves the machine: file 0600 in a 0700 folder. */
  private?: boolean;
}

/** Read-write so the first batch can check the last byte; O_APPEND puts every write at the end. */
const APPEND_FLAGS = fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW;
const SYNC_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW;
const NEWLINE = 0x0a;
/** The longest a written row waits for its fsync. */
const FSYNC_INTERVAL_MS = 200;
const PUBLISHED_FILE_MODE = 0o644;
const PUBLISHED_DIR_MODE = 0o755;
const PRIVATE_FILE_MODE = 0o600;
const PRIVATE_DIR_MODE = 0o700;

/**
 * The writer of one click log. Every append in this process goes through one
 * queue: rows that arrive while a batch is being written form the next batch,
 * and each batch is one `write()` of whole lines; `append` resolves once its row
 * is written. An fsync follows within FSYNC_INTERVAL_MS.
 */
export class ClickLog {
  readonly file: string;
  private readonly logger: Logger;
  private readonly prepare?: () => Promise<void>;
  private readonly fileMode: number;
  private readonly dirMode: number;
  private pending: PendingRow[] = [];
  private draining: Promise<void> | null = null;
  private prepared = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;

  constructor(file: string, options: ClickLogOptions) {
    this.file = file;
    this.logger = options.logger;
    this.prepare = options.prepare;
    this.fileMode = options.private ? PRIVATE_FILE_MODE : PUBLISHED_FILE_MODE;
    this.dirMode = options.private ? PRIVATE_DIR_MODE : PUBLISHED_DIR_MODE;
  }

  /** Append one row; resolves when it is written (in the page cache, safe from a crash of this process). */
  append(row: ClickLogRow): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(row)}\n`, 'utf8');
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Resolves when every row appended so far is written and fsynced (or has failed). */
  async flushed(): Promise<void> {
    while (this.draining) await this.draining;
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = null;
      this.syncing = this.sync();
    }
    await this.syncing;
  }

  /** After a write: one fsync within FSYNC_INTERVAL_MS covers every row written until it starts. */
  private scheduleSync(): void {
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = null;
      this.syncing = this.sync();
    }, FSYNC_INTERVAL_MS);
  }

  private async sync(): Promise<void> {
    try {
      // never creates the file: a log removed meanwhile (a reset, a mode change) has nothing left to make durable
      const handle = await fs.open(this.file, SYNC_FLAGS);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.logger.error({ err, file: this.file }, 'cannot fsync the click log');
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.writeBatch(batch.map((p) => p.line));
          this.scheduleSync();
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
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: this.dirMode });
      await this.prepare?.();
      await upgradeLegacyLog(this.file);
    }
    const handle = await fs.open(this.file, APPEND_FLAGS, this.fileMode);
    try {
      if (!this.prepared) {
        await terminateTornTail(handle);
        this.prepared = true;
      }
      await writeWhole(handle, lines.length === 1 ? lines[0] : Buffer.concat(lines));
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
