/**
 * Mask expansion: AES-256-CTR keyed by a 32-byte seed with a zero IV, its keystream read
 * as little-endian uint32 words. A zero IV is safe because every seed masks exactly one
 * vector (seeds are fresh per round and per pair). Arithmetic is in Z_(2^32): storing a
 * number into a Uint32Array reduces it mod 2^32, so masks add and cancel by plain += / -=.
 */
import { createCipheriv } from 'node:crypto';
import { endianness } from 'node:os';

const SEED_BYTES = 32;
const ZERO_IV = Buffer.alloc(16);

// Typed arrays use the platform byte order; the masks and the .npy files are little-endian.
if (endianness() !== 'LE') throw new Error('secure aggregation needs a little-endian platform');

let zeros = Buffer.alloc(0);

/** PRG(seed): `length` uint32 words of AES-256-CTR keystream. */
export function expandMask(seed: Uint8Array, length: number): Uint32Array {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new RangeError(`a mask seed must be ${SEED_BYTES} bytes, got ${seed?.length ?? typeof seed}`);
  }
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`mask length must be a non-negative integer, got ${length}`);
  const bytes = length * 4;
  if (zeros.length < bytes) zeros = Buffer.alloc(bytes);
  const cipher = createCipheriv('aes-256-ctr', seed, ZERO_IV);
  const stream = cipher.update(zeros.subarray(0, bytes));
  if (stream.byteOffset % 4 === 0) return new Uint32Array(stream.buffer, stream.byteOffset, length);
  const out = new Uint32Array(length);
  new Uint8Array(out.buffer).set(stream);
  return out;
}

/** acc ← acc + sign·x (mod 2^32), in place. */
export function addMod(acc: Uint32Array, x: Uint32Array, sign: 1 | -1 = 1): void {
  if (acc.length !== x.length) throw new RangeError(`cannot add a vector of length ${x.length} to one of length ${acc.length}`);
  const n = acc.length;
  if (sign === 1) {
    for (let i = 0; i < n; i++) acc[i] += x[i];
  } else {
    for (let i = 0; i < n; i++) acc[i] -= x[i];
  }
}
