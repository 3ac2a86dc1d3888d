import { KernelMemory, kernelModule } from '../kernels';
import { WorkerPool, type PoolThread } from '../worker-pool';
import { addMask, addMod, CHUNK_WORDS, SEED_BYTES } from './prg';

/**
 * Many masks added at once, expanded on worker threads: the aggregator's unmasking (a
 * self-mask per survivor, the pair masks of every dropped member) spread over the cores.
 * Each worker adds its share of the masks into a partial sum of its own, in one shared
 * WebAssembly memory, with the SIMD kernel; the partial sums are then added into the
 * caller's vector. Addition mod 2^32 does not depend on order, so the result is the
 * same words as `addMask` for each term in turn (a test checks it).
 *
 * Each worker also keeps the keystream's memory warm. `cipher.update` returns a fresh
 * buffer for every chunk, freed only when the garbage collector next runs, and V8 runs
 * it after tens of MB of such buffers: until then every chunk lands on pages the process
 * never touched, and the first touch of a page costs ~12 µs on a Firecracker VM (hundreds
 * of times a re-touch), several times the AES of its 4 KB. A worker collects its young generation
 * (a few objects: microseconds) after each MB of keystream, so the next chunks reuse the
 * last ones' memory, as numpy's loop does with its reference counting. A function to
 * collect is only handed out while the `--expose-gc` flag is on, so the worker turns it
 * on, takes it and turns it off again; the flag is the process's, so a thread whose
 * sibling turned it off meanwhile goes without (slower, the same words).
 *
 * The workers start on first use (a few tens of ms), then stay for the life of the
 * process, keeping it alive only while a job is in flight. Their code is inline, so it
 * runs the same from the sources (tsx) and from the bundled build; its keystream is
 * prg.ts's, written again in plain JavaScript. A worker that dies fails every job in
 * flight (the caller's promise rejects; nothing hangs) and the next call starts new ones.
 */

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
const v8 = require('node:v8');
const vm = require('node:vm');

// The flag is the process's: threads starting together may turn it off under each other. A thread
// that misses the function then just does not collect (slower, the same words).
let collect = null;
try {
  v8.setFlagsFromString('--expose-gc');
  collect = vm.runInNewContext('gc');
} catch {
  collect = null;
} finally {
  v8.setFlagsFromString('--no-expose-gc');
}

const { module, chunkWords, seedBytes, collectBytes } = workerData;
let uncollected = 0;
const ZERO_IV = Buffer.alloc(16);
const ZERO_CHUNK = Buffer.alloc(chunkWords * 4);

// acc (words at byte offset job.acc) ← Σ sign·PRG(seed) over the job's masks; job.scratch: one chunk of room.
function expand(job) {
  const kernels = new WebAssembly.Instance(module, { env: { memory: job.memory } }).exports;
  const bytes = new Uint8Array(job.memory.buffer);
  bytes.fill(0, job.acc, job.acc + job.length * 4);
  for (let m = 0; m < job.signs.length; m++) {
    const cipher = createCipheriv('aes-256-ctr', job.seeds.subarray(m * seedBytes, (m + 1) * seedBytes), ZERO_IV);
    const add = job.signs[m] === 1 ? kernels.addWords : kernels.subWords;
    for (let offset = 0; offset < job.length; offset += chunkWords) {
      const words = Math.min(chunkWords, job.length - offset);
      bytes.set(cipher.update(ZERO_CHUNK.subarray(0, words * 4)), job.scratch);
      add(job.acc + offset * 4, job.scratch, words);
      uncollected += words * 4;
      if (uncollected >= collectBytes) {
        if (collect) collect({ type: 'minor' });
        uncollected = 0;
      }
    }
  }
}

parentPort.on('message', (job) => {
  try {
    expand(job);
    parentPort.postMessage({ id: job.id });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: String((err && err.message) || err) });
  }
});
`;

export interface MaskTerm {
  seed: Uint8Array;
  sign: 1 | -1;
}

interface Reply {
  id: number;
  error?: string;
}

/** Masks worth a worker each: fewer words than this in all are expanded on the calling thread. */
const MIN_PARALLEL_WORDS = 4 * CHUNK_WORDS;
/** Keystream bytes between two collections of a worker's young generation (the memory it keeps warm). */
const COLLECT_BYTES = 1 << 20;
/** Slack for the 16-byte alignment of each region of the memory. */
const ALIGN_SLACK = 16;

/** One thread per core, at most 4 (each holds a partial sum; more than the cores only contend). */
const pool = new WorkerPool<Reply>(WORKER_SOURCE, {
  name: 'mask worker',
  maxThreads: 4,
  workerData: () => ({ module: kernelModule(), chunkWords: CHUNK_WORDS, seedBytes: SEED_BYTES, collectBytes: COLLECT_BYTES }),
});

/** The last job's memory, reused by the next job of the same shape (a round's unmasking, the benchmark's loop). */
let reused: Regions | null = null;

interface Regions {
  key: string;
  memory: KernelMemory;
  partials: Uint32Array[];
  scratch: Uint32Array[];
  inUse: boolean;
}

/** A partial sum and a chunk of scratch per worker: the last job's when it has the same shape and is done, else new. */
function regionsFor(length: number, count: number): Regions {
  const key = `${length}/${count}`;
  if (reused?.key === key && !reused.inUse) return reused;
  const memory = new KernelMemory(count * (length + CHUNK_WORDS) * 4 + 2 * count * ALIGN_SLACK);
  const regions = { key, memory, partials: Array.from({ length: count }, () => memory.uint32(length)), scratch: Array.from({ length: count }, () => memory.uint32(CHUNK_WORDS)), inUse: false };
  if (!reused?.inUse) reused = regions;
  return regions;
}

/**
 * acc ← acc + Σ sign·PRG(seed) (mod 2^32), in place: the same words as `addMask(acc, seed, sign)`
 * for each term in turn, the masks expanded on worker threads (few or short masks: on this one).
 */
export async function addMasks(acc: Uint32Array, terms: readonly MaskTerm[]): Promise<void> {
  for (const { seed } of terms) {
    if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) throw new RangeError(`a mask seed must be ${SEED_BYTES} bytes, got ${seed?.length ?? typeof seed}`);
  }
  if (terms.length < 2 || terms.length * acc.length < MIN_PARALLEL_WORDS) {
    for (const { seed, sign } of terms) addMask(acc, seed, sign);
    return;
  }
  const threads = pool.running().slice(0, terms.length);
  const regions = regionsFor(acc.length, threads.length);
  const { memory, partials } = regions;
  regions.inUse = true;
  try {
    await expandOn(threads, regions, acc.length, terms);
  } catch (err) {
    if (reused === regions) reused = null; // a worker of the failed job may still be writing there
    throw err;
  } finally {
    regions.inUse = false;
  }
  for (const partial of partials.slice(1)) memory.addWords(partials[0], partial, 1);
  addMod(acc, partials[0]);
}

async function expandOn(threads: PoolThread[], { memory, partials, scratch }: Regions, length: number, terms: readonly MaskTerm[]): Promise<void> {
  const jobs = threads.map((target, w) => {
    // contiguous shares of the terms, as even as they divide
    const mine = terms.slice(Math.floor((w * terms.length) / threads.length), Math.floor(((w + 1) * terms.length) / threads.length));
    const seeds = new Uint8Array(mine.length * SEED_BYTES);
    mine.forEach((t, i) => seeds.set(t.seed, i * SEED_BYTES));
    return pool.submit(target, { memory: memory.memory, acc: partials[w].byteOffset, scratch: scratch[w].byteOffset, length, seeds, signs: Int8Array.from(mine, (t) => t.sign) });
  });
  const replies = await Promise.all(jobs);
  const failed = replies.find((r) => r.error !== undefined);
  if (failed) throw new Error(`a mask worker could not expand its masks: ${failed.error}`);
}

/** Start the worker threads now and wait until they run (they start on first use otherwise): the caller times what follows without their start-up. */
export function startMaskWorkers(): Promise<void> {
  return pool.started();
}

/** End the worker threads (a job in flight fails); the next call starts new ones. */
export function stopMaskWorkers(): Promise<void> {
  return pool.stop();
}
