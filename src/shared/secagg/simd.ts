import { KernelMemory } from '../kernels';

/**
 * Vector addition in Z_(2^32) for vectors anywhere in memory, by the SIMD kernel
 * (kernels.wat `addWords` / `subWords`: four words per instruction, wrapping mod
 * 2^32). A plain JavaScript loop over Uint32Arrays does one word per iteration and
 * runs in the interpreter until the JIT catches up; the aggregator's secure round is
 * mostly this addition (masks removed), so it was the round's slowest part. The
 * operands are copied block by block into a scratch memory (a memcpy that stays in
 * cache), added there, and the result copied back. Vectors that already live in a
 * kernel memory (a round's read buffers and sum) are added in place with
 * `KernelMemory.addWords` instead.
 */

/** Words of one scratch block (32 KB of accumulator, 32 KB of operand: they stay in cache). */
export const BLOCK_WORDS = 8_192;

const scratch = new KernelMemory(2 * BLOCK_WORDS * 4 + 32);
const accBlock = scratch.uint32(BLOCK_WORDS);
const operandBlock = scratch.uint32(BLOCK_WORDS);

/** acc ← acc + sign·x (mod 2^32), in place; the lengths must be equal (the caller checks). */
export function mod32Words(acc: Uint32Array, x: Uint32Array, sign: 1 | -1): void {
  for (let offset = 0; offset < acc.length; offset += BLOCK_WORDS) {
    const words = Math.min(BLOCK_WORDS, acc.length - offset);
    const a = accBlock.subarray(0, words);
    a.set(acc.subarray(offset, offset + words));
    const b = operandBlock.subarray(0, words);
    b.set(x.subarray(offset, offset + words));
    scratch.addWords(a, b, sign);
    acc.set(a, offset);
  }
}
