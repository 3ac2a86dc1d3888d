import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import type { ClickLogRow } from '../shared/clicks';
import type { Logger } from '../shared/log';

/**
 * The writer of a profile's click log (format: `src/shared/clicks.ts`).
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

interface PendingRow {
  line: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ClickLogOptions {
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
