import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
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
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (bytes.byteLength === 0) throw new RangeError(`refusing to write an empty file: ${file}`);
  const dir = path.dirname(file);
  if (options.private) {
    await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    await fs.chmod(dir, PRIVATE_DIR_MODE);
  } else {
    await fs.mkdir(dir, { recursive: true });
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'w', options.private ? PRIVATE_FILE_MODE : SHARED_FILE_MODE);
  try {
    await handle.writeFile(bytes);
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
  await syncDir(dir);
}

/** JSON with a trailing newline, written atomically. */
export async function writeJsonAtomic(file: string, value: unknown, options: WriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, options);
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
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: a FIFO put in a file's place must not hang the open (and the process); it is refused below.
    handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new AppError('ERR_FILE_NOT_REGULAR', `${file} is a symlink; only regular files are read`, { file });
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new AppError('ERR_FILE_NOT_REGULAR', `${file} is not a regular file`, { file });
    if (stat.size > maxBytes) {
      throw new AppError('ERR_FILE_TOO_LARGE', `${file} is ${stat.size} bytes; the limit is ${maxBytes}`, { file });
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Read and parse a JSON file with a size limit; null when absent (and only then: a file holding `null` is an error). */
export async function readJsonFile(file: string, limits: ReadLimits): Promise<unknown | null> {
  const bytes = await readRegularFile(file, limits);
  if (bytes === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new AppError('ERR_JSON_FORMAT', `${file} is not valid JSON (${(err as Error).message})`, { file, cause: err });
  }
  if (value === null) throw new AppError('ERR_JSON_FORMAT', `${file} holds JSON null, not a document`, { file });
  return value;
}
