import { fileTooLarge, notRegularFile } from './atomic';
import { kernelMemoryOf, kernelModule } from './kernels';
import { WorkerPool, type PoolThread } from './worker-pool';

/**
 * File reads and sha256 on worker threads, into shared memory: the aggregator reads,
 * hashes and scans one delta on a worker while its main thread adds others, so a
 * round uses every core (hashing is most of a round's CPU time). The bytes are
 * never copied: a worker reads the file into the SharedArrayBuffer the caller owns
 * and hashes it there, so the caller must not touch that range until the job resolves.
 *
 * The workers start on first use (a few tens of ms), then stay for the life of the
 * process, keeping it alive only while a job is in flight. Their code is inline, so
 * it runs the same from the sources (tsx) and from the bundled build; its row scan
 * is `scanRows` of delta.ts, written again in plain JavaScript and run by the SIMD kernel (kernels.wat
 * `scanRows`) when the buffer is a kernel memory (tests keep all three equal).
 */

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

function sha256(view) {
  return createHash('sha256').update(view).digest('hex');
}

// The float32 rows of an .npy file of rows of 'rank' (its header is checked again by the caller): norms and first
// non-finite value; by the SIMD kernel when the buffer is a kernel memory ('kernels'), else in JavaScript.
function scanNpy(buffer, kernels, offset, length, rank) {
  if (length < 12 || rank <= 0) return null;
  const bytes = new Uint8Array(buffer, offset, length);
  if (bytes[0] !== 0x93 || bytes[1] !== 0x4e) return null;
  const major = bytes[6];
  const headerLen = major === 1 ? bytes[8] | (bytes[9] << 8) : (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 16777216;
  const dataOffset = (major === 1 ? 10 : 12) + headerLen;
  const dataBytes = length - dataOffset;
  if (dataBytes <= 0 || (offset + dataOffset) % 4 !== 0 || dataBytes % (4 * rank) !== 0) return null;
  const values = new Float32Array(buffer, offset + dataOffset, dataBytes / 4);
  if (kernels) {
    const [total, worstSq, worstRow] = kernels.scanRows(offset + dataOffset, values.length, rank);
    return { dataOffset, nonFinite: Number.isFinite(total) ? -1 : values.findIndex((v) => !Number.isFinite(v)), total, worstRow, worstSq };
  }
  let total = 0, worstRow = 0, worstSq = 0;
  const whole = rank & ~3;
  for (let off = 0, row = 0; off < values.length; off += rank, row++) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, a = 0;
    for (; a < whole; a += 4) {
      const x0 = values[off + a], x1 = values[off + a + 1], x2 = values[off + a + 2], x3 = values[off + a + 3];
      s0 += x0 * x0; s1 += x1 * x1; s2 += x2 * x2; s3 += x3 * x3;
    }
    for (; a < rank; a++) s0 += values[off + a] * values[off + a];
    const sq = s0 + s1 + (s2 + s3);
    total += sq;
    if (sq > worstSq) { worstSq = sq; worstRow = row; }
  }
  let nonFinite = -1;
  if (!Number.isFinite(total)) nonFinite = values.findIndex((v) => !Number.isFinite(v));
  return { dataOffset, nonFinite, total, worstRow, worstSq };
}

function readInto(file, buffer, offset, capacity) {
  let fd;
  try {
    // O_NONBLOCK: a FIFO put in a file's place must not hang the open; it is refused below.
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ELOOP') return { refused: err.code };
    throw err;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return { refused: 'not-regular' };
    if (stat.size > capacity) return { refused: 'too-large', size: stat.size };
    const view = new Uint8Array(buffer, offset, capacity);
    let filled = 0;
    while (filled < stat.size) {
      const n = fs.readSync(fd, view, filled, stat.size - filled, filled);
      if (n === 0) break; // truncated meanwhile: the caller's checks (hash, shape) see the short read
      filled += n;
    }
    return { length: filled };
  } finally {
    fs.closeSync(fd);
  }
}

// The shared buffers this thread has been sent, by id: the caller sends a buffer once and then
// its id (posting a SharedArrayBuffer costs a fraction of a millisecond). Both sides keep the
// same BUFFER_CACHE most recent ids, updated in message order, so they agree on what is cached.
// A buffer that is a kernel memory comes as the memory and the kernels' module: the row scan runs there in SIMD.
const buffers = new Map();
function bufferOf(job) {
  let entry = buffers.get(job.bufferId);
  if (job.buffer) entry = { buffer: job.buffer, kernels: null };
  else if (job.memory) entry = { buffer: job.memory.buffer, kernels: new WebAssembly.Instance(job.module, { env: { memory: job.memory } }).exports };
  buffers.delete(job.bufferId);
  buffers.set(job.bufferId, entry);
  if (buffers.size > job.cacheSize) buffers.delete(buffers.keys().next().value);
  return entry;
}

parentPort.on('message', (job) => {
  if (job.forget !== undefined) {
    buffers.delete(job.forget);
    return;
  }
  const { buffer, kernels } = bufferOf(job);
  try {
    const read = readInto(job.file, buffer, job.offset, job.length);
    if (read.refused) {
      parentPort.postMessage({ id: job.id, refused: read.refused, size: read.size });
      return;
    }
    const hex = sha256(new Uint8Array(buffer, job.offset, read.length));
    parentPort.postMessage({ id: job.id, length: read.length, hex, scan: scanNpy(buffer, kernels, job.offset, read.length, job.rank) });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: { message: String(err && err.message), code: err && err.code } });
  }
});
`;

/** What a worker sends back. */
interface Reply {
  id: number;
  hex?: string;
  length?: number;
  scan?: NpyRowScan | null;
  refused?: 'ENOENT' | 'ELOOP' | 'not-regular' | 'too-large';
  size?: number;
  error?: { message: string; code?: string };
}

/** Shared buffers a worker keeps (a round reads into one memory, and lets go of it when it is over). */
const BUFFER_CACHE = 4;
const bufferIds = new WeakMap<SharedArrayBuffer, number>();
let nextBufferId = 0;

/** One thread per core, at most 4: a round has READ_AHEAD (8) jobs in flight (each thread costs a few MB; more than the cores only contend). */
const pool = new WorkerPool<Reply>(WORKER_SOURCE, { name: 'file worker', maxThreads: 4 });

/** Ids of the buffers each thread holds, least recently used first (the thread keeps the same list). */
const cachedBy = new WeakMap<PoolThread, Map<number, true>>();
const cachedOn = (thread: PoolThread) => {
  let cached = cachedBy.get(thread);
  if (cached === undefined) cachedBy.set(thread, (cached = new Map()));
  return cached;
};

/**
 * Start the file workers now rather than on the first read (a thread takes tens of
 * milliseconds to come up, more on a busy machine): the aggregator calls it when it
 * starts, and a round when it begins, so that the threads come up while it reconciles
 * its state. Resolves once they are up; they never keep the process alive while idle.
 */
export function startFileWorkers(): Promise<void> {
  return pool.started();
}

function submit(buffer: SharedArrayBuffer, job: Record<string, unknown>): Promise<Reply> {
  const target = pool.leastBusy();
  let bufferId = bufferIds.get(buffer);
  if (bufferId === undefined) bufferIds.set(buffer, (bufferId = nextBufferId++));
  const cached = cachedOn(target);
  const known = cached.delete(bufferId);
  cached.set(bufferId, true);
  if (cached.size > BUFFER_CACHE) cached.delete(cached.keys().next().value!);
  const memory = known ? undefined : kernelMemoryOf(buffer);
  const first = known ? {} : memory ? { memory, module: kernelModule() } : { buffer };
  return pool.submit(target, { ...job, bufferId, cacheSize: BUFFER_CACHE, ...first });
}

/**
 * The workers let go of `buffer` (a round's memory, once the round is over), so that
 * they hold no memory of past rounds; without it they keep the BUFFER_CACHE most recent.
 */
export function forgetShared(buffer: SharedArrayBuffer): void {
  const id = bufferIds.get(buffer);
  if (id === undefined) return;
  for (const thread of pool.current()) if (cachedOn(thread).delete(id)) thread.worker.postMessage({ forget: id });
}

/** True when `bytes` can be handed to the workers (they live in a SharedArrayBuffer). */
export function isShared(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof SharedArrayBuffer;
}

/** Norms of an .npy file's float32 rows and its first non-finite value, as `scanRows` gives them; `dataOffset` is where the values start. */
export interface NpyRowScan {
  dataOffset: number;
  nonFinite: number;
  total: number;
  worstRow: number;
  worstSq: number;
}

export interface SharedRead {
  /** The view of `target` holding the file's bytes. */
  bytes: Buffer;
  sha256: string;
  /** The row scan of the values when the bytes look like an .npy file of rows of `rank` float32s (the caller checks the header), else null. */
  scan: NpyRowScan | null;
}

/**
 * `readRegularFileInto` on a worker thread, hashing the bytes there and scanning
 * them as rows of `rank` float32s (`rank` 0: no scan): null when the file does not
 * exist; the same errors for symlinks, non-regular files and files larger than `target`.
 */
export async function readIntoShared(file: string, target: Buffer, rank: number): Promise<SharedRead | null> {
  if (!isShared(target)) throw new TypeError('readIntoShared needs a buffer in a SharedArrayBuffer');
  const reply = await submit(target.buffer as SharedArrayBuffer, { file, offset: target.byteOffset, length: target.byteLength, rank });
  if (reply.error) throw Object.assign(new Error(`${file}: ${reply.error.message}`), { code: reply.error.code });
  if (reply.refused === 'ENOENT') return null;
  if (reply.refused === 'ELOOP') throw notRegularFile(file, 'symlink');
  if (reply.refused === 'not-regular') throw notRegularFile(file, 'other');
  if (reply.refused === 'too-large') throw fileTooLarge(file, reply.size!, target.byteLength);
  return { bytes: target.subarray(0, reply.length), sha256: reply.hex!, scan: reply.scan ?? null };
}
