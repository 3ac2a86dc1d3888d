import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/shared/config';

/** Takeover of the app lock, with real processes (test/app/fixtures/lock-holder.ts). */

const HOLDER = path.join(PROJECT_ROOT, 'test', 'app', 'fixtures', 'lock-holder.ts');
const WAIT_MS = 240_000; // generous: the machine may be loaded (see install.test.ts)

interface Proc {
  child: ChildProcess;
  /** The holder's JSON line. */
  result: Promise<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: ChildProcess[] = [];
afterEach(() => {
  for (const child of procs.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function start(args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(child);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no result from pid ${child.pid} within ${WAIT_MS} ms`)), WAIT_MS);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
  });
  return { child, result, exit };
}

/** A live process that has nothing to do with the app. */
function bystander(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  procs.push(child);
  return child;
}

const lockFile = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'lock-')), 'app.lock');
const holderPid = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the app lock', () => {
  it('a new start asks a live earlier copy to stop, waits, and takes the lock', async () => {
    const file = lockFile();
    const first = start([file, 'stop-on-term']);
    expect(await first.result).toEqual({ acquired: true, replaced: null });
    const second = start([file, 'stop-on-term']);
    expect(await second.result).toEqual({ acquired: true, replaced: { pid: first.child.pid, how: 'stopped' } });
    expect(await first.exit).toEqual({ code: 0, signal: null });
    expect(holderPid(file)).toBe(second.child.pid);
  }, 600_000);

  it('kills an earlier copy that does not stop after SIGTERM', async () => {
    const file = lockFile();
    const first = start([file, 'ignore-term']);
    await first.result;
    const second = start([file, 'stop-on-term', '500']);
    expect(await second.result).toEqual({ acquired: true, replaced: { pid: first.child.pid, how: 'killed' } });
    expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });
  }, 600_000);

  it('takes a lock left by a dead process at once', async () => {
    const file = lockFile();
    const dead = spawn(process.execPath, ['-e', '']);
    const deadPid = dead.pid!;
    await new Promise((resolve) => dead.on('exit', resolve));
    writeFileSync(file, `${JSON.stringify({ pid: deadPid, startedAt: 0, startToken: null })}\n`);
    const next = start([file, 'stop-on-term']);
    expect(await next.result).toEqual({ acquired: true, replaced: { pid: deadPid, how: 'stale' } });
  }, 600_000);

  it('leaves alone a process that reuses the pid of a lock holder', async () => {
    const file = lockFile();
    const other = bystander();
    writeFileSync(file, `${JSON.stringify({ pid: other.pid, startedAt: 0, startToken: 'started at another time' })}\n`);
    const next = start([file, 'stop-on-term']);
    expect(await next.result).toEqual({ acquired: true, replaced: { pid: other.pid, how: 'stale' } });
    expect(alive(other.pid!)).toBe(true);
  }, 600_000);

  it('a copy that finds a newer copy holding the lock stops instead', async () => {
    const file = lockFile();
    const newer = start([file, 'stop-on-term']);
    await newer.result;
    const older = start([file, 'stop-on-term', '', '1']); // started "in 1970"
    expect(await older.result).toEqual({ acquired: false, holderPid: newer.child.pid });
    expect(alive(newer.child.pid!)).toBe(true);
    expect(holderPid(file)).toBe(newer.child.pid);
  }, 600_000);
});
