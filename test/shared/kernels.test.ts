import { describe, expect, it } from 'vitest';
import { compileKernels } from '../../scripts/build-kernels';
import { KernelMemory } from '../../src/shared/kernels';
import { KERNELS_WASM, KERNELS_WASM_UNSHARED } from '../../src/shared/kernels/kernels-wasm';
import { createRandom } from '../../src/shared/random';

describe('the SIMD kernel', () => {
  it('is the committed compilation of kernels.wat, over a shared memory and over an unshared one', async () => {
    expect(Buffer.from(await compileKernels()).toString('base64')).toBe(KERNELS_WASM);
    expect(Buffer.from(await compileKernels(false)).toString('base64')).toBe(KERNELS_WASM_UNSHARED);
    expect(KERNELS_WASM_UNSHARED).not.toBe(KERNELS_WASM);
  });

  it('adds weighted values bit-identically to the JavaScript loop, tails and odd lengths included', () => {
    const random = createRandom(5);
    for (const n of [0, 1, 3, 4, 7, 1001]) {
      const memory = new KernelMemory(n * 12 + 64);
      const sum = memory.float64(n);
      const reference = new Float64Array(n);
      const inMemory = new Float32Array(memory.buffer, memory.bytes(n * 4).byteOffset, n);
      for (let round = 0; round < 3; round++) {
        const weight = 0.1 + random.next();
        for (let i = 0; i < n; i++) inMemory[i] = Math.fround(random.normal() * 10 ** (random.next() * 6 - 3));
        expect(memory.addScaled(sum, inMemory, weight)).toBe(true);
        for (let i = 0; i < n; i++) reference[i] += weight * inMemory[i];
      }
      expect(Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).equals(Buffer.from(reference.buffer))).toBe(true);
    }
  });

  it('declines values outside its memory (the caller adds them in JavaScript), and refuses to overfill', () => {
    const memory = new KernelMemory(1024);
    const sum = memory.float64(4);
    expect(memory.addScaled(sum, Float32Array.of(1, 2, 3, 4), 1)).toBe(false);
    expect(Array.from(sum)).toEqual([0, 0, 0, 0]);
    expect(() => memory.bytes(1 << 20)).toThrow(RangeError);
  });
});
