import { createHash } from 'node:crypto';
import { promises as fs, constants as fsc, type Stats } from 'node:fs';
import { AppError } from '../errors';
import { silentLogger, type Logger } from '../log';
import type { DateOrderOption } from './dates';
import { parseHistory, type ParsedHistory } from './parse';

/**
 * Reading a Netflix export from disk: exports -> viewing events. The file is
 * opened once without following symlinks, checked (regular, size, text), streamed
 * through the parser, and checked again: if it was replaced, grew or shrank while
 * being read, the result would mix two files, so it is refused.
 */

export { decomposeTitle, cleanText, parseSeason, type DecomposedTitle, type SeasonLabel } from './titles';
export type { DateOrder, DateOrderOption } from './dates';
export { MAX_HISTORY_ROWS, type ParsedHistory, type SkipReason, type ViewingEvent } from './parse';

/** Largest export accepted. A ViewingActivity.csv of 100,000 sessions is about 20 MiB. */
export const MAX_HISTORY_BYTES = 256 * 1024 * 1024; // 256 MiB
/** Bytes checked for NUL and invalid UTF-8 before parsing. */
const SNIFF_BYTES = 1024; // 1 KiB

interface ReadHistoryOptions {
  /** Day/month order of the simple export's dates; 'auto' (default) detects it per file. */
  dateOrder?: DateOrderOption;
  /** Rows dated after this are skipped as `future`; defaults to the current time. */
  now?: Date;
  /** Receives warnings about skipped rows (with row numbers); defaults to silent. */
  log?: Logger;
}

/** Read and parse a NetflixViewingHistory.csv or ViewingActivity.csv. Throws AppError naming the file (and row). */
export async function readHistory(file: string, options: ReadHistoryOptions = {}): Promise<ParsedHistory> {
  const handle = await openHistory(file);
  try {
    const before = await statHistory(handle, file);
    if (before.size === 0) throw new AppError('ERR_HISTORY_EMPTY', `${file} is empty; export the history again from Netflix`, { file });
    await assertText(handle, file);
    // Reading up to one byte past the size seen at open makes growth visible in bytesRead.
    const stream = handle.createReadStream({ encoding: 'utf8', start: 0, end: before.size, autoClose: false });
    try {
      const parsed = await parseHistory(stream, file, {
        dateOrder: options.dateOrder ?? 'auto',
        now: options.now ?? new Date(),
        log: options.log ?? silentLogger,
      });
      await assertUnchanged(handle, file, before, stream.bytesRead);
      return parsed;
    } catch (err) {
      // A file rewritten mid-read can look malformed: say what really happened.
      if (!(err instanceof AppError && err.code === 'ERR_HISTORY_CHANGED')) await assertUnchanged(handle, file, before, null);
      throw err;
    } finally {
      stream.destroy();
    }
  } finally {
    await handle.close();
  }
}

/**
 * sha256 (hex) of an export's bytes, opened and checked as `readHistory` does it
 * (no symlink, FIFO or folder, at most MAX_HISTORY_BYTES); null when the file does
 * not exist (normal before the user exports).
 */
export async function hashHistory(file: string): Promise<string | null> {
  let handle: fs.FileHandle;
  try {
    handle = await openHistory(file);
  } catch (err) {
    if (err instanceof AppError && err.code === 'ERR_FILE_NOT_FOUND') return null;
    throw err;
  }
  try {
    await statHistory(handle, file);
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

/** The open export's stats; throws unless it is a regular file within MAX_HISTORY_BYTES. */
async function statHistory(handle: fs.FileHandle, file: string): Promise<Stats> {
  const stats = await handle.stat();
  if (!stats.isFile()) throw new AppError('ERR_FILE_NOT_REGULAR', `${file} is not a regular file`, { file });
  if (stats.size > MAX_HISTORY_BYTES) {
    throw new AppError('ERR_FILE_TOO_LARGE', `${file} is ${stats.size} bytes; a viewing history may be at most ${MAX_HISTORY_BYTES} bytes`, { file });
  }
  return stats;
}

async function openHistory(file: string): Promise<fs.FileHandle> {
  try {
    // O_NONBLOCK: a FIFO in place of the export must not block the open; it is then refused as not regular.
    return await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('ERR_FILE_NOT_FOUND', `${file} does not exist; download your viewing history from Netflix and save it there`, { file });
    if (code === 'ELOOP') throw new AppError('ERR_FILE_NOT_REGULAR', `${file} is a symlink; copy the export itself there`, { file });
    throw err;
  }
}

async function assertText(handle: fs.FileHandle, file: string): Promise<void> {
  const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(SNIFF_BYTES), position: 0 });
  const head = buffer.subarray(0, bytesRead);
  let text = head.indexOf(0) < 0;
  if (text) {
    try {
      // stream: a multi-byte character cut at the end of the sample is not an error
      new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    } catch {
      text = false;
    }
  }
  if (!text) {
    throw new AppError('ERR_HISTORY_BINARY', `${file} is not UTF-8 text (NUL bytes or invalid UTF-8 in its first ${SNIFF_BYTES} bytes); give the .csv file Netflix sent, unmodified`, { file });
  }
}

/** Throw ERR_HISTORY_CHANGED if the file at `file` is no longer the one opened, or its size or mtime moved. */
async function assertUnchanged(handle: fs.FileHandle, file: string, before: Stats, bytesRead: number | null): Promise<void> {
  const after = await handle.stat();
  const current = await fs.lstat(file).catch(() => null);
  const same =
    after.size === before.size &&
    after.mtimeMs === before.mtimeMs &&
    (bytesRead === null || bytesRead === before.size) &&
    current !== null &&
    current.ino === before.ino &&
    current.dev === before.dev;
  if (!same) {
    throw new AppError('ERR_HISTORY_CHANGED', `${file} changed while it was being read; wait until the download or copy has finished, then run again`, { file });
  }
}
