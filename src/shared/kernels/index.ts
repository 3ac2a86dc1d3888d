import { KERNELS_WASM, KERNELS_WASM_UNSHARED } from './kernels-wasm';

/**
 * Memory for a round's hot loop: the float64 sum and the read buffers live in one
 * shared WebAssembly memory, so that the SIMD kernel (kernels.wat) adds a payload's
 * values where the reader put them, 2.5x faster than the JavaScript loop and with
 * bit-identical sums. The memory is a SharedArrayBuffer, so the file workers
 * (hash-workers.ts) read into it directly. Where values live elsewhere (a copy, a
 * profile mean), `addScaled` returns false and the caller adds them in JavaScript.
 */

const WASM_PAGE = 65_536;
const ALIGN = 16;

let compiled: WebAssembly.Module | null = null;
let compiledUnshared: WebAssembly.Module | null = null;

/** The compiled kernels (compiled once per thread; a worker instantiates them over a memory it is sent). */
export function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64'));
  return compiled;
}

/**
 * The same kernels over an unshared memory, for a thread that works in a memory of its own: copies
 * into a shared memory are word by word (V8 keeps them race-safe), three times slower than memcpy.
 */
export function unsharedKernelModule(): WebAssembly.Module {
  compiledUnshared ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM_UNSHARED, 'base64'));
  return compiledUnshared;
}

/** The WebAssembly memory of each KernelMemory's buffer (what a file worker needs to run the kernels on it). */
const memories = new WeakMap<SharedArrayBuffer, WebAssembly.Memory>();

/** The WebAssembly memory whose buffer `buffer` is, when a KernelMemory made it. */
export function kernelMemoryOf(buffer: SharedArrayBuffer): WebAssembly.Memory | undefined {
  return memories.get(buffer);
}

interface Exports {
  addScaled(sum: number, values: number, n: number, weight: number): void;
  addWords(acc: number, x: number, n: number): void;
  subWords(acc: number, x: number, n: number): void;
}

export class KernelMemory {
  /** The shared memory itself: a worker thread given it (and `kernelModule()`) runs the kernels on the same bytes. */
  readonly memory: WebAssembly.Memory;
  readonly buffer: SharedArrayBuffer;
  private readonly kernels: Exports;
  private used = 0;

  /** A memory of at least `bytes` (allocations are 16-byte aligned: count 16 bytes of slack for each). */
  constructor(readonly bytesAsked: number) {
    const pages = Math.max(1, Math.ceil(bytesAsked / WASM_PAGE));
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.kernels = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } }).exports as unknown as Exports;
    this.buffer = this.memory.buffer as unknown as SharedArrayBuffer; // never grows, so this stays the memory's buffer
    memories.set(this.buffer, this.memory);
  }

  /**
   * Forget every allocation and zero what they used, so that the memory serves again as if new
   * (without touching fresh pages, which costs about 10 µs per 4 KB page on some virtual machines).
   * Views handed out before must no longer be used.
   */
  reset(): void {
    new Uint8Array(this.buffer, 0, this.used).fill(0);
    this.used = 0;
  }

  private take(bytes: number): number {
    const offset = Math.ceil(this.used / ALIGN) * ALIGN;
    if (offset + bytes > this.buffer.byteLength) throw new RangeError(`kernel memory of ${this.buffer.byteLength} bytes cannot hold ${bytes} more`);
    this.used = offset + bytes;
    return offset;
  }

  float64(length: number): Float64Array {
    return new Float64Array(this.buffer, this.take(length * 8), length);
  }

  uint32(length: number): Uint32Array {
    return new Uint32Array(this.buffer, this.take(length * 4), length);
  }

  bytes(length: number): Buffer {
    return Buffer.from(this.buffer, this.take(length), length);
  }

  /** `sum[i] += weight * values[i]` in SIMD when both live in this memory (true), else nothing (false). */
  addScaled(sum: Float64Array, values: Float32Array, weight: number): boolean {
    if (sum.buffer !== this.buffer || values.buffer !== this.buffer || sum.length !== values.length) return false;
    this.kernels.addScaled(sum.byteOffset, values.byteOffset, values.length, weight);
    return true;
  }

  /** `acc[i] = acc[i] + sign * x[i] mod 2^32` in SIMD when both live in this memory (true), else nothing (false). */
  addWords(acc: Uint32Array, x: Uint32Array, sign: 1 | -1): boolean {
    if (acc.buffer !== this.buffer || x.buffer !== this.buffer || acc.length !== x.length) return false;
    (sign === 1 ? this.kernels.addWords : this.kernels.subWords)(acc.byteOffset, x.byteOffset, acc.length);
    return true;
  }
}
