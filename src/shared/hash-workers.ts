import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * sha256 on worker threads, for bytes in shared memory: the aggregator hashes one
 * delta while its main thread checks and adds others, so a round uses every core
 * (hashing is most of a round's CPU time). The bytes are never copied: a worker
 * reads them from the SharedArrayBuffer they live in, so they must not change until
 * the hash resolves.
 *
 * The workers start on first use (a few tens of ms), then stay for the life of the
 * process, keeping it alive only while a hash is in flight. Their code is inline, so it runs the
 * same from the sources (tsx) and from the bundled build.
 */

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, buffer, offset, length }) => {
  parentPort.postMessage({ id, hex: createHash('sha256').update(new Uint8Array(buffer, offset, length)).digest('hex') });
});
`;

interface Pending {
  resolve: (hex: string) => void;
  reject: (err: unknown) => void;
}

interface HashWorker {
  worker: Worker;
  busy: number;
}

let workers: HashWorker[] | null = null;
const pending = new Map<number, Pending>();
let nextId = 0;

/** A round hashes at most READ_AHEAD (4) payloads at once: more workers would only idle (each costs a few MB). */
const MAX_WORKERS = 4;

function start(): HashWorker[] {
  const count = Math.min(MAX_WORKERS, Math.max(1, availableParallelism()));
  return Array.from({ length: count }, () => {
    const entry: HashWorker = { worker: new Worker(WORKER_SOURCE, { eval: true, execArgv: [] }), busy: 0 };
    // unref() before the thread is up does not hold (Node 20): once more when it is, unless a hash is already in flight
    entry.worker.unref();
    entry.worker.once('online', () => {
      if (entry.busy === 0) entry.worker.unref();
    });
    entry.worker.on('message', ({ id, hex }: { id: number; hex: string }) => {
      if (--entry.busy === 0) entry.worker.unref();
      const job = pending.get(id);
      pending.delete(id);
      job?.resolve(hex);
    });
    entry.worker.on('error', (err) => fail(err));
    entry.worker.on('exit', (code) => fail(new Error(`a hash worker exited (code ${code})`)));
    return entry;
  });
}

/** A worker died: every hash in flight fails, and the next call starts new workers. */
function fail(err: unknown): void {
  const dead = workers;
  workers = null;
  for (const w of dead ?? []) void w.worker.terminate();
  for (const job of pending.values()) job.reject(err);
  pending.clear();
}

/** True when `bytes` can be hashed by `sha256Shared` (they live in a SharedArrayBuffer). */
export function isShared(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof SharedArrayBuffer;
}

/** The sha256 (hex) of `bytes`, which must live in a SharedArrayBuffer, computed on the least busy worker thread. */
export function sha256Shared(bytes: Uint8Array): Promise<string> {
  if (!isShared(bytes)) throw new TypeError('sha256Shared needs bytes in a SharedArrayBuffer');
  workers ??= start();
  const target = workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  const id = nextId++;
  return new Promise<string>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    if (target.busy++ === 0) target.worker.ref(); // a hash in flight keeps the process alive
    target.worker.postMessage({ id, buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.byteLength });
  });
}
