import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, promises as fs, constants as fsc, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from './errors';

/**
 * Atomic file writes: data goes to a temporary name in the same folder (ending in
 * `.tmp`, which SyftBox never syncs), is fsynced, then renamed over the target.
 * A reader (or a crash) sees the old complete file or the new complete file.
 * Empty payloads are refused: SyftBox does not sync 0-byte files and a reader
 * must never mistake "empty" for "valid".
 *
 * Private state (histories, models, the privacy ledger, the blend and ledger
 * secrets) is written with `{ private: true }`: the file is 0600 and its folder
 * 0700 (created so, or tightened if an older version made it 0755), so another
 * account on the same machine can read neither. Published files are 0644: the
 * SyftBox client syncs them, and the permission files decide who reads them.
 */
export interface WriteOptions {
  /** Readable by this account only: file PRIVATE_FILE_MODE, folder PRIVATE_DIR_MODE. */
  private?: boolean;
}

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
const SHARED_FILE_MODE = 0o644;

export async function writeFileAtomic(file: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
  await writeFilesAtomic(path.dirname(file), [{ name: path.basename(file), data }], options);
}

/**
 * Several files of one folder, each written atomically (as `writeFileAtomic`), with the
 * folder created and fsynced once for all of them: when this resolves, every rename is
 * durable. A crash part-way leaves each file old or new, never torn.
 */
export async function writeFilesAtomic(dir: string, files: readonly { name: string; data: string | Uint8Array }[], options: WriteOptions = {}): Promise<void> {
  const entries = files.map(({ name, data }) => ({ file: path.join(dir, name), data }));
  for (const { file, data } of entries) checkNotEmpty(file, data);
  if (entries.length === 0) return;
  await makeFolder(dir, options);
  for (const { file, data } of entries) {
    const tmp = temporaryName(file);
    const handle = await fs.open(tmp, 'w', fileMode(options));
    try {
      await writeAll(handle, data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }
  await syncDir(dir);
}

/**
 * `writeFilesAtomic` with synchronous I/O, for batches of small files (a large secure round's inbox files, one per
 * member): an asynchronous call costs a thread-pool round trip per system call, measured at
 * 0.3–0.6 ms of CPU a file on the development VM against 0.03 ms synchronously. The event loop
 * waits for the batch's fsyncs (milliseconds each on a disk, nothing on tmpfs); only the
 * aggregator, which serves no page, writes such batches.
 */
export function writeFilesAtomicSync(dir: string, files: readonly { name: string; data: string | Uint8Array }[], options: WriteOptions = {}): void {
  const entries = files.map(({ name, data }) => ({ file: path.join(dir, name), data }));
  for (const { file, data } of entries) checkNotEmpty(file, data);
  if (entries.length === 0) return;
  mkdirSync(dir, { recursive: true, mode: options.private ? PRIVATE_DIR_MODE : undefined });
  if (options.private) chmodSync(dir, PRIVATE_DIR_MODE);
  for (const { file, data } of entries) {
    const tmp = temporaryName(file);
    const fd = openSync(tmp, 'w', fileMode(options));
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }
  try {
    const fd = openSync(dir, fsc.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // as syncDir: some filesystems refuse fsync on directories
  }
}

function checkNotEmpty(file: string, data: string | Uint8Array): void {
  if (data.length === 0) throw new RangeError(`refusing to write an empty file: ${file}`);
}

async function makeFolder(dir: string, options: WriteOptions): Promise<void> {
  if (options.private) {
    await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    await fs.chmod(dir, PRIVATE_DIR_MODE);
  } else {
    await fs.mkdir(dir, { recursive: true });
  }
}

function fileMode(options: WriteOptions): number {
  return options.private ? PRIVATE_FILE_MODE : SHARED_FILE_MODE;
}

/** A hidden temporary name next to `file`, ending in `.tmp` (never synced), unique per process and call. */
function temporaryName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * All of `data` into a file just opened. A string is written as it is (UTF-8): Node encodes it into
 * memory it frees once the write is done, where Buffer.from would leave each buffer to the garbage
 * collector and the next on fresh pages.
 */
async function writeAll(handle: fs.FileHandle, data: string | Uint8Array): Promise<void> {
  if (typeof data !== 'string') return handle.writeFile(data);
  const { bytesWritten } = await handle.write(data, null, 'utf8');
  // a short write (not seen on regular files): the rest, from where the first stopped
  if (bytesWritten < Buffer.byteLength(data, 'utf8')) await handle.writeFile(Buffer.from(data, 'utf8').subarray(bytesWritten));
}

/** JSON with a trailing newline, written atomically. */
export async function writeJsonAtomic(file: string, value: unknown, options: WriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, jsonFileText(value), options);
}

/** The text `writeJsonAtomic` writes: indented JSON with a trailing newline. */
export function jsonFileText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** fsync a directory so a rename survives power loss (best effort: not every fs allows it). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, fsc.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}

interface ReadLimits {
  /** Largest file accepted, in bytes. */
  maxBytes: number;
}

/**
 * Read a regular file (never through a symlink, never a FIFO or device) up to `maxBytes`.
 * Returns null when the file does not exist: for synced files, absence is normal.
 */
export async function readRegularFile(file: string, { maxBytes }: ReadLimits): Promise<Buffer | null> {
  return withRegularFile(file, maxBytes, (handle) => handle.readFile());
}

/**
 * `readRegularFile` into `target`, a buffer the caller reuses from file to file (no
 * allocation, no copy per file): resolves to the view of `target` holding the file's
 * bytes, valid until the caller reads the next file into it. The file may be at most
 * `target.length` bytes (else ERR_FILE_TOO_LARGE).
 */
export async function readRegularFileInto(file: string, target: Buffer): Promise<Buffer | null> {
  return withRegularFile(file, target.length, async (handle, size) => {
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(target, filled, size - filled, filled);
      if (bytesRead === 0) break; // truncated meanwhile: the caller's checks (hash, shape) see the short read
      filled += bytesRead;
    }
    return target.subarray(0, filled);
  });
}

/**
 * What identifies a file's content without reading it: inode, size and mtime.
 * Writers replace files by rename (a new inode), so an unchanged key means unchanged bytes.
 */
export function contentKey(stat: { ino: number; size: number; mtimeMs: number }): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

/** Why a read refused `file`: it is a symlink, or something else that is not a regular file. */
export function notRegularFile(file: string, kind: 'symlink' | 'other'): AppError {
  return new AppError('ERR_FILE_NOT_REGULAR', kind === 'symlink' ? `${file} is a symlink; only regular files are read` : `${file} is not a regular file`, { file });
}

export function fileTooLarge(file: string, size: number, maxBytes: number): AppError {
  return new AppError('ERR_FILE_TOO_LARGE', `${file} is ${size} bytes; the limit is ${maxBytes}`, { file });
}

/** An open (O_NOFOLLOW) that failed: null when the file is absent, the refusal for a symlink, else the error itself. */
function openFailed(file: string, err: unknown): null {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return null;
  if (code === 'ELOOP') throw notRegularFile(file, 'symlink');
  throw err;
}

/** Refuse what an opened file must not be: anything but a regular file, or more than `maxBytes`. */
function checkRegular(file: string, stat: { isFile(): boolean; size: number }, maxBytes: number): void {
  if (!stat.isFile()) throw notRegularFile(file, 'other');
  if (stat.size > maxBytes) throw fileTooLarge(file, stat.size, maxBytes);
}

/** Open `file` without following symlinks, check it is a regular file of at most `maxBytes`, and run `read` on it. */
async function withRegularFile<T>(file: string, maxBytes: number, read: (handle: fs.FileHandle, size: number) => Promise<T>): Promise<T | null> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: a FIFO put in a file's place must not hang the open (and the process); it is refused below.
    handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    return openFailed(file, err);
  }
  try {
    const stat = await handle.stat();
    checkRegular(file, stat, maxBytes);
    return await read(handle, stat.size);
  } finally {
    await handle.close();
  }
}

/** Read and parse a JSON file with a size limit; null when absent (and only then: a file holding `null` is an error). */
export async function readJsonFile(file: string, limits: ReadLimits): Promise<unknown | null> {
  const bytes = await readRegularFile(file, limits);
  return bytes === null ? null : parseJsonDocument(bytes, file);
}

/**
 * `readRegularFile` with synchronous I/O, for small files read by the thousand (the
 * delta manifests and permission files of a round): an async read costs a
 * thread-pool round trip per syscall, several times the few microseconds of
 * reading a few hundred bytes.
 */
export function readRegularFileSync(file: string, { maxBytes }: ReadLimits): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    return openFailed(file, err);
  }
  try {
    const stat = fstatSync(fd);
    checkRegular(file, stat, maxBytes);
    const bytes = Buffer.allocUnsafe(stat.size);
    let filled = 0;
    while (filled < stat.size) {
      const n = readSync(fd, bytes, filled, stat.size - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    return bytes.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

/** `readJsonFile` with synchronous I/O (see `readRegularFileSync`). */
export function readJsonFileSync(file: string, limits: ReadLimits): unknown | null {
  const bytes = readRegularFileSync(file, limits);
  return bytes === null ? null : parseJsonDocument(bytes, file);
}

/** The JSON document in `bytes` read from `file` (ERR_JSON_FORMAT, naming the file, when it is not one, or is null). */
export function parseJsonDocument(bytes: Buffer, file: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new AppError('ERR_JSON_FORMAT', `${file} is not valid JSON (${(err as Error).message})`, { file, cause: err });
  }
  if (value === null) throw new AppError('ERR_JSON_FORMAT', `${file} holds JSON null, not a document`, { file });
  return value;
}
