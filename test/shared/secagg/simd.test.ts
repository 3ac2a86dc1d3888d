import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../src/shared/random';
import { BLOCK_WORDS, mod32Words } from '../../../src/shared/secagg/simd';

/** The scalar definition: a Uint32Array store reduces mod 2^32. */
function reference(acc: Uint32Array, x: Uint32Array, sign: 1 | -1): Uint32Array {
  return Uint32Array.from(acc, (a, i) => a + sign * x[i]);
}

const words = (random: { int(n: number): number }, length: number) => Uint32Array.from({ length }, () => random.int(2 ** 16) * 2 ** 16 + random.int(2 ** 16));
const bytesOf = (a: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('mod32Words', () => {
  const random = createRandom(7);

  it.each([0, 1, 3, 4, 5, BLOCK_WORDS - 1, BLOCK_WORDS, BLOCK_WORDS + 1, 2 * BLOCK_WORDS + 6])('adds and subtracts mod 2^32 like the scalar loop (%i words)', (length) => {
    const acc = words(random, length);
    const x = words(random, length);
    for (const sign of [1, -1] as const) {
      const got = Uint32Array.from(acc);
      mod32Words(got, x, sign);
      expect(bytesOf(got).equals(bytesOf(reference(acc, x, sign)))).toBe(true);
    }
  });

  it('wraps at 2^32 in both directions', () => {
    const acc = Uint32Array.from([0xffffffff, 0, 5, 0x80000000, 1]);
    mod32Words(acc, Uint32Array.from([2, 1, 7, 0x80000000, 0xffffffff]), 1);
    expect([...acc]).toEqual([1, 1, 12, 0, 0]);
    mod32Words(acc, Uint32Array.from([2, 3, 12, 1, 1]), -1);
    expect([...acc]).toEqual([0xffffffff, 0xfffffffe, 0, 0xffffffff, 0xffffffff]);
  });

  it('works on views at any word offset and leaves the words around them alone', () => {
    const length = BLOCK_WORDS + 9;
    const outer = words(random, length + 4);
    const before = Uint32Array.from(outer);
    const x = words(random, length + 2).subarray(1, length + 1);
    const view = outer.subarray(3, 3 + length);
    mod32Words(view, x, -1);
    expect(bytesOf(view).equals(bytesOf(reference(before.subarray(3, 3 + length), x, -1)))).toBe(true);
    expect([...outer.subarray(0, 3), outer[length + 3]]).toEqual([...before.subarray(0, 3), before[length + 3]]);
  });
});
