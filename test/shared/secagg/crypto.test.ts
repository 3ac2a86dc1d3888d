import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/shared/errors';
import { generateKeyPair, openShare, pairSeed, publicKeyOf, sealShare, type SealedShare } from '../../../src/shared/secagg/crypto';

function expectShareError(run: () => unknown): void {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(isAppError(caught, 'ERR_SECAGG_SHARE'), String(caught)).toBe(true);
}

/** Flip one bit of a base64 field. */
function flip(base64: string, byte = 0): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[byte] ^= 1;
  return bytes.toString('base64');
}

describe('X25519 key pairs', () => {
  it('are raw 32-byte keys whose public half derives from the private half', () => {
    const pair = generateKeyPair();
    expect(pair.publicKey).toHaveLength(32);
    expect(pair.privateKey).toHaveLength(32);
    expect(Buffer.from(publicKeyOf(pair.privateKey)).equals(pair.publicKey)).toBe(true);
    expect(Buffer.from(generateKeyPair().privateKey).equals(pair.privateKey)).toBe(false);
  });

  it('rejects keys of the wrong length', () => {
    expect(() => publicKeyOf(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe('pairSeed', () => {
  const u = generateKeyPair();
  const v = generateKeyPair();

  it('is the same from both ends of the pair, whichever index comes first', () => {
    const fromU = pairSeed(u.privateKey, v.publicKey, 'r000001', 3, 7);
    const fromV = pairSeed(v.privateKey, u.publicKey, 'r000001', 7, 3);
    expect(fromU).toHaveLength(32);
    expect(Buffer.from(fromU).equals(fromV)).toBe(true);
  });

  it('differs between rounds, between pairs and from a third party', () => {
    const seed = Buffer.from(pairSeed(u.privateKey, v.publicKey, 'r000001', 3, 7));
    expect(seed.equals(pairSeed(u.privateKey, v.publicKey, 'r000002', 3, 7))).toBe(false);
    expect(seed.equals(pairSeed(u.privateKey, v.publicKey, 'r000001', 3, 8))).toBe(false);
    expect(seed.equals(pairSeed(generateKeyPair().privateKey, v.publicKey, 'r000001', 3, 7))).toBe(false);
  });

  it('refuses a low-order public key (an all-zero shared secret)', () => {
    expectShareError(() => pairSeed(u.privateKey, new Uint8Array(32), 'r000001', 0, 1));
  });
});

describe('sealShare / openShare', () => {
  const sender = generateKeyPair();
  const receiver = generateKeyPair();
  const plaintext = Uint8Array.from({ length: 74 }, (_, i) => i);
  const box = sealShare(sender.privateKey, receiver.publicKey, 'r000004', 2, 5, plaintext);

  it('round-trips for the addressed receiver', () => {
    expect(box).toMatchObject({ from: 2, to: 5 });
    expect(Buffer.from(openShare(receiver.privateKey, sender.publicKey, 'r000004', box)).equals(plaintext)).toBe(true);
  });

  it('uses a fresh nonce per seal, so equal plaintexts give different ciphertexts', () => {
    const again = sealShare(sender.privateKey, receiver.publicKey, 'r000004', 2, 5, plaintext);
    expect(again.nonce).not.toBe(box.nonce);
    expect(again.ciphertext).not.toBe(box.ciphertext);
  });

  it.each<[string, (b: SealedShare) => SealedShare]>([
    ['a flipped ciphertext bit', (b) => ({ ...b, ciphertext: flip(b.ciphertext, 10) })],
    ['a flipped tag bit', (b) => ({ ...b, tag: flip(b.tag) })],
    ['a flipped nonce bit', (b) => ({ ...b, nonce: flip(b.nonce) })],
    ['a truncated tag', (b) => ({ ...b, tag: Buffer.from(b.tag, 'base64').subarray(0, 8).toString('base64') })],
    ['a changed sender index', (b) => ({ ...b, from: 3 })],
    ['a changed receiver index', (b) => ({ ...b, to: 6 })],
  ])('detects %s', (_, tamper) => {
    expectShareError(() => openShare(receiver.privateKey, sender.publicKey, 'r000004', tamper(box)));
  });

  it('fails for another round or another receiver', () => {
    expectShareError(() => openShare(receiver.privateKey, sender.publicKey, 'r000005', box));
    expectShareError(() => openShare(generateKeyPair().privateKey, sender.publicKey, 'r000004', box));
  });
});
