import { afterAll, describe, expect, it } from 'vitest';
import { addMasks, startMaskWorkers, stopMaskWorkers, type MaskTerm } from '../../../src/shared/secagg/mask-workers';
import { addMod, expandMask } from '../../../src/shared/secagg/prg';
import { BLOCK_WORDS } from '../../../src/shared/secagg/simd';

const same = (a: Uint32Array, b: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function termsOf(count: number, salt: number): MaskTerm[] {
  return Array.from({ length: count }, (_, m) => ({ seed: Uint8Array.from({ length: 32 }, (_, i) => (i * 31 + m * 7 + salt) & 0xff), sign: m % 3 === 0 ? -1 : 1 }));
}

/** What the workers must give: each mask expanded on this thread and added in turn. */
function expected(base: Uint32Array, terms: readonly MaskTerm[]): Uint32Array {
  const acc = Uint32Array.from(base);
  for (const { seed, sign } of terms) addMod(acc, expandMask(seed, acc.length), sign);
  return acc;
}

afterAll(() => stopMaskWorkers());

/** addMasks of `count` masks onto a vector of `length` words (filled from `multiplier`) gives what expanding each mask and adding it gives. */
async function expectAddsAsExpanded(length: number, count: number, multiplier: number): Promise<void> {
  const base = Uint32Array.from({ length }, (_, i) => Math.imul(i, multiplier) >>> 0);
  const terms = termsOf(count, length);
  const acc = Uint32Array.from(base);
  await addMasks(acc, terms);
  expect(same(acc, expected(base, terms)), `${count} masks of ${length} words`).toBe(true);
}

describe('addMasks', () => {
  it('gives the same words as expanding each mask and adding it, across chunk boundaries, on the workers and inline', async () => {
    for (const [length, count] of [
      [3 * BLOCK_WORDS + 5, 7], // the workers (several masks, past a chunk, an odd tail)
      [11 * BLOCK_WORDS + 3, 1], // one long mask: the workers, each on its slice of the vector
      [BLOCK_WORDS, 2], // few words in all: inline
      [100, 3],
    ]) {
      await expectAddsAsExpanded(length, count, 2654435761);
    }
  });

  it('starts each slice of the vector where its keystream is, whatever the length (ends mid counter block, slices of one block)', async () => {
    for (const [length, count] of [
      [6, 10_923], // two counter blocks, the second half full: a slice each
      [2 * BLOCK_WORDS + 1, 4],
      [2 * BLOCK_WORDS + 2, 4],
      [2 * BLOCK_WORDS + 3, 4],
    ]) {
      await expectAddsAsExpanded(length, count, 40503);
    }
  });

  it('gives the same words on a fresh pool, right after its start-up and warm-up', async () => {
    await stopMaskWorkers();
    await startMaskWorkers();
    const base = Uint32Array.from({ length: 4 * BLOCK_WORDS + 1 }, (_, i) => i ^ 0x5a5a5a5a);
    const terms = termsOf(9, 3);
    const acc = Uint32Array.from(base);
    await addMasks(acc, terms);
    expect(same(acc, expected(base, terms))).toBe(true);
  });

  it('cancels a mask added and then taken out, and leaves the vector alone with no masks', async () => {
    const base = Uint32Array.from({ length: 2 * BLOCK_WORDS + 3 }, (_, i) => i);
    const acc = Uint32Array.from(base);
    const [a, b] = termsOf(2, 9);
    await addMasks(acc, [a, b, { seed: a.seed, sign: a.sign === 1 ? -1 : 1 }, { seed: b.seed, sign: b.sign === 1 ? -1 : 1 }]);
    expect(same(acc, base)).toBe(true);
    await addMasks(acc, []);
    expect(same(acc, base)).toBe(true);
  });

  it('keeps calls that overlap apart (each has its own memory while the other runs)', async () => {
    const length = 2 * BLOCK_WORDS + 1;
    const [x, y] = [new Uint32Array(length), new Uint32Array(length)];
    const [tx, ty] = [termsOf(5, 1), termsOf(6, 2)];
    await Promise.all([addMasks(x, tx), addMasks(y, ty)]);
    expect(same(x, expected(new Uint32Array(length), tx))).toBe(true);
    expect(same(y, expected(new Uint32Array(length), ty))).toBe(true);
  });

  it('rejects a seed that is not 32 bytes before any work', async () => {
    const acc = new Uint32Array(4 * BLOCK_WORDS);
    await expect(addMasks(acc, [...termsOf(3, 4), { seed: new Uint8Array(16), sign: 1 }])).rejects.toThrow(RangeError);
    expect(acc.every((w) => w === 0)).toBe(true);
  });

  it('fails the call when a worker ends mid-job (nothing hangs, the vector is left as it was), and the next call starts new workers', async () => {
    await startMaskWorkers();
    // the threads are told to end, then handed a job before they have: the job is in flight when they exit
    const stopping = stopMaskWorkers();
    const untouched = Uint32Array.from({ length: 4 * BLOCK_WORDS }, (_, i) => i);
    const failed = expect(addMasks(untouched, termsOf(8, 5))).rejects.toThrow(/mask worker exited/);
    await stopping;
    await failed;
    expect(untouched.every((w, i) => w === i)).toBe(true); // the vector changes only once every slice is back
    const base = new Uint32Array(BLOCK_WORDS + 9);
    const acc = Uint32Array.from(base);
    const terms = termsOf(4, 6);
    await addMasks(acc, terms);
    expect(same(acc, expected(base, terms))).toBe(true);
  });
});
