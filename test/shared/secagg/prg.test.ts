import { describe, expect, it } from 'vitest';
import { addMask, addMod, expandMask } from '../../../src/shared/secagg/prg';
import { BLOCK_WORDS } from '../../../src/shared/secagg/simd';

describe('expandMask', () => {
  it('is the AES-256-CTR keystream read as little-endian words (FIPS-197 zero-key vector)', () => {
    // AES-256 of the zero block under the zero key is dc95c078a2408989ad48a21492842087.
    expect([...expandMask(new Uint8Array(32), 4)]).toEqual([0x78c095dc, 0x898940a2, 0x14a248ad, 0x87208492]);
  });

  it('is deterministic per seed, a prefix for shorter lengths, and different across seeds', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    const long = expandMask(seed, 3 * BLOCK_WORDS + 5);
    const same = (a: Uint32Array, b: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    expect(same(expandMask(seed, 3 * BLOCK_WORDS + 5), long)).toBe(true);
    expect(same(expandMask(seed, BLOCK_WORDS + 1), long.subarray(0, BLOCK_WORDS + 1))).toBe(true);
    const other = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    expect(expandMask(other, 8)).not.toEqual(long.subarray(0, 8));
    expect(expandMask(seed, 0)).toHaveLength(0);
  });

  it('rejects seeds that are not 32 bytes', () => {
    expect(() => expandMask(new Uint8Array(16), 4)).toThrow(RangeError);
  });
});

describe('addMod / addMask', () => {
  it('adds and subtracts modulo 2^32', () => {
    const acc = Uint32Array.from([0xffffffff, 0, 5]);
    addMod(acc, Uint32Array.from([2, 1, 7]));
    expect([...acc]).toEqual([1, 1, 12]);
    addMod(acc, Uint32Array.from([2, 3, 12]), -1);
    expect([...acc]).toEqual([0xffffffff, 0xfffffffe, 0]);
    expect(() => addMod(acc, new Uint32Array(2))).toThrow(RangeError);
  });

  it('addMask equals adding the expanded mask, across chunk boundaries, and cancels with its negative', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    const length = 2 * BLOCK_WORDS + 7;
    const base = Uint32Array.from({ length }, (_, i) => i * 2654435761);
    const viaExpand = Uint32Array.from(base);
    addMod(viaExpand, expandMask(seed, length), -1);
    const fused = Uint32Array.from(base);
    addMask(fused, seed, -1);
    expect(Buffer.from(fused.buffer).equals(Buffer.from(viaExpand.buffer))).toBe(true);
    expect(fused.some((w, i) => w !== base[i])).toBe(true);
    addMask(fused, seed, 1);
    expect(Buffer.from(fused.buffer).equals(Buffer.from(base.buffer))).toBe(true);
  });
});
