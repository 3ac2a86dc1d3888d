import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './atomic';

/**
 * A pid lock file, so that a second start of the app (SyftBox's old client ran
 * run.sh repeatedly; a user may also start it by hand) does not run two loops
 * over the same state. A lock whose process is gone is taken over.
 */
export interface Lock {
  release(): Promise<void>;
}

export type LockResult = { acquired: true; lock: Lock } | { acquired: false; holderPid: number };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireLock(file: string): Promise<LockResult> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(file, 'wx', PRIVATE_FILE_MODE);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        acquired: true,
        lock: {
          async release() {
            const holder = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
            if (holder === process.pid) await fs.rm(file, { force: true });
          },
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holderPid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holderPid) && holderPid > 0 && holderPid !== process.pid && isAlive(holderPid)) return { acquired: false, holderPid };
      await fs.rm(file, { force: true });
    }
  }
  throw new Error(`could not take the lock ${file}`);
}
