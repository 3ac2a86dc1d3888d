/**
 * Mask expansion: AES-256-CTR keyed by a 32-byte seed with a zero IV, its keystream read
 * as little-endian uint32 words. A zero IV is safe because every seed masks exactly one
 * vector (seeds are fresh per round and per pair). Arithmetic is in Z_(2^32): storing a
 * number into a Uint32Array reduces it mod 2^32, so masks add and cancel by plain += / -=.
 *
 * The keystream is produced in cache-sized chunks (one block of `simd.ts`, 32 KB): one
 * 1 MB `update` is slower than many small ones, and `addMask` never materializes the whole
 * mask. The additions themselves run in `simd.ts`'s WebAssembly loop.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { endianness } from 'node:os';
import { BLOCK_WORDS, mod32Words } from './simd';

export const SEED_BYTES = 32;
const ZERO_IV = Buffer.alloc(16);
/** Words of keystream per `cipher.update`. */
const CHUNK_WORDS = BLOCK_WORDS;
const ZERO_CHUNK = Buffer.alloc(CHUNK_WORDS * 4);

// Typed arrays use the platform byte order; the masks and the .npy files are little-endian.
if (endianness() !== 'LE') throw new Error('secure aggregation needs a little-endian platform');

function keystream(seed: Uint8Array): Cipher {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new RangeError(`a mask seed must be ${SEED_BYTES} bytes, got ${seed?.length ?? typeof seed}`);
  }
  return createCipheriv('aes-256-ctr', seed, ZERO_IV);
}

/** The next `words` keystream words (a fresh buffer, word-aligned). */
function nextWords(cipher: Cipher, words: number): Uint32Array {
  const bytes = cipher.update(ZERO_CHUNK.subarray(0, words * 4));
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, words);
  const copy = new Uint32Array(words);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** PRG(seed): `length` uint32 words of AES-256-CTR keystream. */
export function expandMask(seed: Uint8Array, length: number): Uint32Array {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`mask length must be a non-negative integer, got ${length}`);
  const cipher = keystream(seed);
  const out = new Uint32Array(length);
  for (let offset = 0; offset < length; offset += CHUNK_WORDS) {
    out.set(nextWords(cipher, Math.min(CHUNK_WORDS, length - offset)), offset);
  }
  return out;
}

/** acc ← acc + sign·PRG(seed) (mod 2^32), in place; the same as addMod(acc, expandMask(seed, acc.length), sign). */
export function addMask(acc: Uint32Array, seed: Uint8Array, sign: 1 | -1 = 1): void {
  const cipher = keystream(seed);
  const length = acc.length;
  for (let offset = 0; offset < length; offset += CHUNK_WORDS) {
    const words = nextWords(cipher, Math.min(CHUNK_WORDS, length - offset));
    mod32Words(acc.subarray(offset, offset + words.length), words, sign);
  }
}

/** acc ← acc + sign·x (mod 2^32), in place. */
export function addMod(acc: Uint32Array, x: Uint32Array, sign: 1 | -1 = 1): void {
  if (acc.length !== x.length) throw new RangeError(`cannot add a vector of length ${x.length} to one of length ${acc.length}`);
  mod32Words(acc, x, sign);
}
