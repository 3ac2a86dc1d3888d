import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './atomic';

/**
 * The app's pid lock: one running copy per datasite. The newest start wins:
 *
 * - SyftBox starts run.sh once and never again, but when the client itself
 *   crashes its apps keep running, and the next client start launches a new
 *   copy; the old one writes to a log the client has deleted. So a start that
 *   finds a live EARLIER copy asks it to stop (SIGTERM, then waits; SIGKILL
 *   if it has not stopped after `stopTimeoutMs`) and takes the lock.
 * - A lock left by a process that is gone is taken at once. A pid that was
 *   reused by an unrelated process is recognised by its start time, which the
 *   lock records, and that process is left alone.
 * - A copy that finds a NEWER copy holding the lock (it was slower to get
 *   here, e.g. it waited for its configuration) stops instead.
 *
 * The lock file is JSON `{ "pid": 123, "startedAt": 1767225600000, "startToken": "…" }`,
 * written under a temporary name and hard-linked into place, so it is never
 * seen half-written.
 */
interface Lock {
  release(): Promise<void>;
}

export interface LockHolder {
  pid: number;
  /** When the process started (ms since the epoch): orders copies. */
  startedAt: number;
  /** The OS's start time of `pid` when the lock was taken (null where unknown): tells a reused pid apart. */
  startToken: string | null;
}

export type LockResult =
  | { acquired: true; lock: Lock; replaced: { pid: number; how: 'stopped' | 'killed' | 'stale' } | null }
  | { acquired: false; holderPid: number };

export interface LockOptions {
  /** This process's start time (default: when Node started it). */
  startedAt?: number;
  /** How long an earlier copy may take to stop after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  /** How often to look whether it has stopped. */
  pollMs?: number;
}

const DEFAULT_STOP_TIMEOUT_MS = 20_000; // SyftBox itself allows 3 s; an earlier copy mid-round may need longer
const DEFAULT_POLL_MS = 100;
const KILL_WAIT_MS = 10_000;
const MAX_ATTEMPTS = 5;

const execFileAsync = promisify(execFile);

/** The OS's start time of `pid`, as a comparable string; null where it cannot be read. */
export async function processStartToken(pid: number): Promise<string | null> {
  try {
    // Linux: field 22 of /proc/<pid>/stat, after the command name in parentheses.
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    try {
      const { stdout } = await execFileAsync('ps', ['-o', 'lstart=', '-p', String(pid)]);
      return stdout.trim() || null;
    } catch {
      return null;
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `holder` still runs as the very process that took the lock. */
async function isRunning(holder: LockHolder): Promise<boolean> {
  if (!isAlive(holder.pid)) return false;
  if (holder.startToken === null) return true;
  const now = await processStartToken(holder.pid);
  return now === null || now === holder.startToken;
}

function parseHolder(text: string): LockHolder | null {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed), startedAt: 0, startToken: null }; // the earlier plain-pid format
  try {
    const value = JSON.parse(trimmed) as Partial<LockHolder>;
    if (!Number.isSafeInteger(value.pid) || (value.pid as number) <= 0 || typeof value.startedAt !== 'number') return null;
    return { pid: value.pid as number, startedAt: value.startedAt, startToken: typeof value.startToken === 'string' ? value.startToken : null };
  } catch {
    return null;
  }
}

/** Send a signal; a process that is already gone is fine. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForExit(pid: number, timeoutMs: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/** Create `file` holding `text` only if it does not exist (no half-written state is ever visible). */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, text, { mode: PRIVATE_FILE_MODE });
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** Remove `file` if it still holds `expected`; a lock someone took meanwhile is put back. */
async function removeIfUnchanged(file: string, expected: string): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.old`;
  try {
    await fs.rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    if ((await fs.readFile(aside, 'utf8')) !== expected) await fs.link(aside, file).catch(() => undefined);
  } finally {
    await fs.rm(aside, { force: true });
  }
}

/** Take the lock at `file`, stopping an earlier copy of the app if one holds it (see the module comment). */
export async function acquireLock(file: string, options: LockOptions = {}): Promise<LockResult> {
  const startedAt = options.startedAt ?? Math.round(performance.timeOrigin);
  const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  const mine: LockHolder = { pid: process.pid, startedAt, startToken: await processStartToken(process.pid) };
  const text = `${JSON.stringify(mine)}\n`;
  let replaced: { pid: number; how: 'stopped' | 'killed' | 'stale' } | null = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createExclusive(file, text)) {
      return {
        acquired: true,
        replaced,
        lock: {
          async release() {
            await removeIfUnchanged(file, text);
          },
        },
      };
    }
    const current = await fs.readFile(file, 'utf8').catch(() => '');
    const holder = parseHolder(current);
    if (holder !== null && holder.pid !== process.pid && (await isRunning(holder))) {
      const newer = holder.startedAt > startedAt || (holder.startedAt === startedAt && holder.pid > process.pid);
      if (newer) return { acquired: false, holderPid: holder.pid };
      signal(holder.pid, 'SIGTERM');
      let how: 'stopped' | 'killed' = 'stopped';
      if (!(await waitForExit(holder.pid, stopTimeoutMs, pollMs))) {
        how = 'killed';
        signal(holder.pid, 'SIGKILL');
        await waitForExit(holder.pid, KILL_WAIT_MS, pollMs);
      }
      replaced = { pid: holder.pid, how };
    } else if (holder !== null && holder.pid !== process.pid) {
      replaced = { pid: holder.pid, how: 'stale' };
    }
    await removeIfUnchanged(file, current);
  }
  throw new Error(`could not take the lock ${file} after ${MAX_ATTEMPTS} attempts (other copies keep starting?)`);
}
