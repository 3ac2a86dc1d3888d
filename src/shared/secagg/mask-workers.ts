import { unsharedKernelModule } from '../kernels';
import { WorkerPool } from '../worker-pool';
import { addMask, SEED_BYTES } from './prg';

/**
 * Many masks added at once, expanded on worker threads: the aggregator's unmasking (a
 * self-mask per survivor, the pair masks of every dropped member) spread over the cores.
 * The vector is cut into one slice per worker, and each worker adds every mask's words of
 * its slice with the SIMD kernel: a CTR keystream starts anywhere (the counter block of
 * word w is w / 4), so a worker expands only its part of each mask, and its slice stays
 * in its core's cache. A slice travels as a copy moved (transferred) to the worker and
 * back, and is added in a WebAssembly memory of the worker's own, unshared: V8 copies
 * into shared memory word by word, at a third of memcpy's speed, and each chunk of
 * keystream is copied in. The caller's vector changes only once every slice is back. The
 * result is the same words as `addMask` for each term in turn (a test checks it).
 *
 * What a worker's time goes to, measured on the 2-core Firecracker VM this was tuned on
 * (a page's first touch costs ~11 µs there, several times the AES of its 4 KB):
 * - `cipher.update` returns a fresh buffer for every chunk, freed only when the garbage
 *   collector next runs; V8 runs it after tens of MB of such buffers, each on pages never
 *   touched. A worker collects its young generation every `COLLECT_BYTES` of keystream
 *   (a few objects: the collection's cost is fixed, ~0.1 ms), so the next chunks reuse
 *   the last ones' memory, as numpy's loop does with its reference counting. A function
 *   to collect is only handed out while the `--expose-gc` flag is on, so the worker turns
 *   it on, takes it and turns it off again; the flag is the process's, so a sibling may
 *   turn it off meanwhile: the worker tries again, and goes without after a few tries
 *   (slower, the same words).
 * - glibc's malloc gives the free memory at the top of a heap back to the system once
 *   more than its trim threshold is free (128 KB until the process frees a large block),
 *   so the megabytes a collection frees were unmapped, and the next chunks faulted every
 *   page in again (thousands of faults a job, most of a short job's time). Freeing one
 *   block that malloc had mapped raises the threshold to twice its size, for the whole
 *   process: each worker starts by freeing one of `RETAIN_BYTES`. (The threshold is
 *   malloc's own; other allocators ignore the gesture.)
 * - A fresh worker's first job grew its heap, faulted its memory in and ran in the
 *   interpreter: 2 to 4 times a warm job. Each worker expands `WARM_BYTES` of keystream
 *   (masks of `WARM_SLICE_BYTES`, discarded) without collecting, then frees it all, before
 *   it announces itself ready: its heap has grown to the most a job's chunks hold at once
 *   (a collection's worth, and the last one's not yet freed), its memory holds a slice of
 *   that size, `startMaskWorkers` includes that, and the first job runs warm.
 * - Starting a child process forks this one, which write-protects every page it has: the
 *   next job faults its warm memory in again (a benchmark that starts numpy between the
 *   jobs measures that; an aggregator starts no processes).
 *
 * The workers start on first use, or when the aggregator starts (`startMaskWorkers`), then
 * stay for the life of the process, keeping it alive only while a job is in flight. Their
 * code is inline, so it runs the same from the sources (tsx) and from the bundled build;
 * its keystream is prg.ts's, written again in plain JavaScript. A worker that dies fails
 * every job in flight (the caller's promise rejects; nothing hangs) and the next call
 * starts new ones.
 */

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
const v8 = require('node:v8');
const vm = require('node:vm');

const { module, chunkWords, seedBytes, collectBytes, retainBytes, warmBytes, warmSliceBytes } = workerData;
const GC_TRIES = 5;
const WASM_PAGE = 65536;
const WASM_MAX_PAGES = 65536;

// The flag is the process's: threads starting together may turn it off under each other.
function takeCollect() {
  for (let i = 0; i < GC_TRIES; i++) {
    try {
      v8.setFlagsFromString('--expose-gc');
      return vm.runInNewContext('gc');
    } catch {
      // a sibling turned the flag off before the context was made: again
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  return null;
}
const collect = takeCollect();
let uncollected = 0;
const ZERO_CHUNK = Buffer.alloc(chunkWords * 4);

// This thread's memory (unshared): a slice's words, then a chunk of keystream. It grows to the largest slice.
const memory = new WebAssembly.Memory({ initial: 1, maximum: WASM_MAX_PAGES });
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;

// The keystream's counter block at word 'word' (a multiple of 4): the IV is zero and OpenSSL counts big-endian.
function counterAt(word) {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(word / 4, 12);
  return iv;
}

// job.part (words [job.start, job.start + part.length) of the vector) += sign·PRG(seed) for each of the job's
// masks, in this thread's memory. The young generation is collected every 'collectEvery' bytes of keystream.
function expand(job, collectEvery) {
  const length = job.part.length;
  const scratch = Math.ceil((length * 4) / 16) * 16;
  const need = scratch + chunkWords * 4;
  if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / WASM_PAGE));
  const bytes = new Uint8Array(memory.buffer);
  const part = new Uint8Array(job.part.buffer, job.part.byteOffset, length * 4);
  bytes.set(part, 0);
  const iv = counterAt(job.start);
  for (let m = 0; m < job.signs.length; m++) {
    const cipher = createCipheriv('aes-256-ctr', job.seeds.subarray(m * seedBytes, (m + 1) * seedBytes), iv);
    const add = job.signs[m] === 1 ? kernels.addWords : kernels.subWords;
    for (let offset = 0; offset < length; offset += chunkWords) {
      const words = Math.min(chunkWords, length - offset);
      bytes.set(cipher.update(ZERO_CHUNK.subarray(0, words * 4)), scratch);
      add(offset * 4, scratch, words);
      uncollected += words * 4;
      if (uncollected >= collectEvery) {
        if (collect) collect({ type: 'minor' });
        uncollected = 0;
      }
    }
  }
  part.set(bytes.subarray(0, length * 4));
}

// A collection frees the dead buffers on a helper thread, later; the next collection waits for that.
function collectAndFree() {
  if (collect) {
    collect();
    collect();
  }
}

// Start-up. A freed block that malloc had mapped raises its trim threshold: freed keystream memory stays mapped.
let block = Buffer.allocUnsafeSlow(retainBytes);
block = null;
collectAndFree();
// The keystream path run warm (discarded) without collecting, then all of it freed: the heap grows to the most a
// job's chunks hold at once (a collection's worth, and the last one's not yet freed), the memory to a slice.
const warmMasks = Math.ceil(warmBytes / warmSliceBytes);
expand({ part: new Uint32Array(warmSliceBytes / 4), start: 0, seeds: new Uint8Array(warmMasks * seedBytes), signs: new Int8Array(warmMasks).fill(1) }, Infinity);
collectAndFree();
parentPort.postMessage({ ready: true });

parentPort.on('message', (job) => {
  try {
    expand(job, collectBytes);
    parentPort.postMessage({ id: job.id, part: job.part }, [job.part.buffer]);
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
  /** The job's slice with its masks added. */
  part?: Uint32Array<ArrayBuffer>;
  error?: string;
}

/** Keystream words per `cipher.update` on a worker (64 KB: fewer calls than prg.ts's 32 KB; under glibc's first mmap threshold, 128 KB). */
const CHUNK_WORDS = 16_384;
/** Fewer words than this in all (masks × length) are expanded on the calling thread. */
const MIN_PARALLEL_WORDS = 4 * CHUNK_WORDS;
/** Keystream bytes between two collections of a worker's young generation (the memory the chunks cycle through). */
const COLLECT_BYTES = 4 << 20;
/** The block each worker frees at start: malloc then keeps up to twice this free at the top of a heap. */
const RETAIN_BYTES = 8 << 20;
/** Keystream each worker expands at start, before its first job: two collections' worth (below twice `RETAIN_BYTES`, so it stays mapped). */
const WARM_BYTES = 2 * COLLECT_BYTES;
/** The slice the warm-up adds into: a worker's memory holds one this long without growing (8,807 items × rank 32 on 2 cores: 0.56 MB). */
const WARM_SLICE_BYTES = 1 << 20;
/** Words of the counter block (the unit a slice starts at). */
const BLOCK_WORDS = 4;

/** One thread per core, at most 4 (more than the cores only contend). */
const pool = new WorkerPool<Reply>(WORKER_SOURCE, {
  name: 'mask worker',
  maxThreads: 4,
  announcesReady: true,
  workerData: () => ({ module: unsharedKernelModule(), chunkWords: CHUNK_WORDS, seedBytes: SEED_BYTES, collectBytes: COLLECT_BYTES, retainBytes: RETAIN_BYTES, warmBytes: WARM_BYTES, warmSliceBytes: WARM_SLICE_BYTES }),
});

/** The slices the last call got back, for the next call to copy its slices into (fresh memory costs a fault a page). */
let spareParts: Uint32Array<ArrayBuffer>[] = [];

/** A spare slice of `words` words, else a new one. */
function partOf(words: number): Uint32Array<ArrayBuffer> {
  const i = spareParts.findIndex((p) => p.length === words);
  return i < 0 ? new Uint32Array(words) : spareParts.splice(i, 1)[0];
}

/** Slice w of a vector of `length` words cut in `count`: [start, end), starting on a counter block. */
function sliceOf(w: number, count: number, length: number): [number, number] {
  const blocks = Math.ceil(length / BLOCK_WORDS);
  return [Math.min(length, Math.floor((w * blocks) / count) * BLOCK_WORDS), Math.min(length, Math.floor(((w + 1) * blocks) / count) * BLOCK_WORDS)];
}

/**
 * acc ← acc + Σ sign·PRG(seed) (mod 2^32), in place: the same words as `addMask(acc, seed, sign)`
 * for each term in turn, the masks expanded on worker threads (few words in all: on this one).
 * When it rejects, `acc` is as it was.
 */
export async function addMasks(acc: Uint32Array, terms: readonly MaskTerm[]): Promise<void> {
  for (const { seed } of terms) {
    if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) throw new RangeError(`a mask seed must be ${SEED_BYTES} bytes, got ${seed?.length ?? typeof seed}`);
  }
  if (terms.length * acc.length < MIN_PARALLEL_WORDS) {
    for (const { seed, sign } of terms) addMask(acc, seed, sign);
    return;
  }
  // a slice of at least a counter block each
  const threads = pool.running().slice(0, Math.ceil(acc.length / BLOCK_WORDS));
  const seeds = new Uint8Array(terms.length * SEED_BYTES);
  terms.forEach((t, i) => seeds.set(t.seed, i * SEED_BYTES));
  const signs = Int8Array.from(terms, (t) => t.sign);
  const slices = threads.map((_, w) => sliceOf(w, threads.length, acc.length));
  const replies = await Promise.all(
    threads.map((target, w) => {
      const [start, end] = slices[w];
      const part = partOf(end - start);
      part.set(acc.subarray(start, end));
      return pool.submit(target, { part, start, seeds, signs }, [part.buffer]);
    }),
  );
  const failed = replies.find((r) => r.error !== undefined);
  if (failed) throw new Error(`a mask worker could not expand its masks: ${failed.error}`);
  replies.forEach((r, w) => acc.set(r.part!, slices[w][0]));
  spareParts = replies.map((r) => r.part!);
}

/** Start the worker threads now and wait until they are ready, warm-up included (they start on first use otherwise): the aggregator at start, and a caller that times what follows without their start-up. */
export function startMaskWorkers(): Promise<void> {
  return pool.started();
}

/** End the worker threads (a job in flight fails); the next call starts new ones. */
export function stopMaskWorkers(): Promise<void> {
  return pool.stop();
}
