/**
 * Key agreement and share encryption for secure aggregation, all from node:crypto.
 * Keys travel as raw 32-byte X25519 values; Node wants them wrapped, so they are wrapped here and
 * nowhere else (private keys in PKCS#8 with its fixed prefix for X25519, RFC 8410; public keys as JWKs, RFC 8037).
 *
 * Every derived key is bound to the round (HKDF salt = sha256("secagg/" + roundId)) and to
 * the pair of cohort positions (HKDF info), so a key or a ciphertext from one round or pair
 * is useless in another.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { AppError } from '../errors';

export interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** A share pair sealed for one neighbour; binary fields are base64. */
export interface SealedShare {
  from: number;
  to: number;
  nonce: string;
  ciphertext: string;
  tag: string;
}

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new RangeError(`${what} must be a raw 32-byte X25519 key, got ${key?.length ?? typeof key} bytes`);
  }
}

// Importing a key costs more than an X25519 agreement (OpenSSL's decoders: measured 0.6 ms for a
// PKCS#8 private key, 0.1 ms for an SPKI public key, 37 µs for the same public key as a JWK, against
// 56 µs an agreement), and the same key meets k peers: memoize KeyObjects. Public keys are imported
// as JWKs; a private JWK would need the public half too, so private keys go in as PKCS#8.
// A private key per key array (raw key arrays are treated as immutable; the object goes when
// the array does). A public key by its bytes, so a key read
// again from a file (every phase re-reads the cohort; the in-process rounds run hundreds of
// members, each with its own copy) is imported once: public, so nothing is kept that is not
// in the round's files. The most recent `PUBLIC_KEYS_KEPT` are kept.
const privateKeys = new WeakMap<Uint8Array, KeyObject>();
const publicKeys = new Map<string, KeyObject>();
/** Public KeyObjects kept: two keys per member of a cohort of 4,096. */
const PUBLIC_KEYS_KEPT = 8192;

function privateKeyObject(raw: Uint8Array): KeyObject {
  let key = privateKeys.get(raw);
  if (key === undefined) {
    checkKey(raw, 'private key');
    key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8' });
    privateKeys.set(raw, key);
  }
  return key;
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  checkKey(raw, 'public key');
  // the key's bytes in base64url: the cache's key and the JWK's x
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');
  let key = publicKeys.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: id }, format: 'jwk' });
    if (publicKeys.size >= PUBLIC_KEYS_KEPT) publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(id, key);
  }
  return key;
}

function tail(der: Buffer): Uint8Array {
  return new Uint8Array(der.subarray(der.length - KEY_BYTES));
}

/** A fresh X25519 key pair from the OS CSPRNG. */
export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    publicKey: tail(publicKey.export({ format: 'der', type: 'spki' })),
    privateKey: tail(privateKey.export({ format: 'der', type: 'pkcs8' })),
  };
}

/** The public key that belongs to a raw private key (lets the server check a reconstructed key). */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return tail(createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' }));
}

function roundSalt(roundId: string): Buffer {
  return createHash('sha256').update(`secagg/${roundId}`).digest();
}

function agree(privateKey: Uint8Array, peerPublic: Uint8Array, roundId: string, info: string): Buffer {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(peerPublic) });
  } catch (cause) {
    // OpenSSL refuses low-order public keys (all-zero shared secret): a malformed or hostile key.
    throw new AppError('ERR_SECAGG_SHARE', `round ${roundId}: key agreement failed for ${info} (the peer's public key is invalid)`, { cause });
  }
  return Buffer.from(hkdfSync('sha256', shared, roundSalt(roundId), info, KEY_BYTES));
}

/** s_uv = HKDF(X25519(s_sk_u, s_pk_v)), 32 bytes; the same from either end of the pair. */
export function pairSeed(sPrivate: Uint8Array, peerSPublic: Uint8Array, roundId: string, iu: number, iv: number): Uint8Array {
  return new Uint8Array(agree(sPrivate, peerSPublic, roundId, `mask|${Math.min(iu, iv)}|${Math.max(iu, iv)}`));
}

function shareAad(roundId: string, from: number, to: number): Buffer {
  return Buffer.from(`${roundId}|${from}|${to}`);
}

/** Encrypt one neighbour's shares with AES-256-GCM under a key only `from` and `to` can derive. */
export function sealShare(cPrivate: Uint8Array, peerCPublic: Uint8Array, roundId: string, from: number, to: number, plaintext: Uint8Array): SealedShare {
  const key = agree(cPrivate, peerCPublic, roundId, `share|${from}|${to}`);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(shareAad(roundId, from, to));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    from,
    to,
    nonce: nonce.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
  };
}

/** Decrypt a sealed share addressed to us; any change to it (or to from/to/round) fails with ERR_SECAGG_SHARE. */
export function openShare(cPrivate: Uint8Array, peerCPublic: Uint8Array, roundId: string, box: SealedShare): Uint8Array {
  const where = `round ${roundId}: the share from member ${box.from} to member ${box.to}`;
  const nonce = Buffer.from(box.nonce, 'base64');
  const tag = Buffer.from(box.tag, 'base64');
  if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) {
    throw new AppError('ERR_SECAGG_SHARE', `${where} has a ${nonce.length}-byte nonce and a ${tag.length}-byte tag (expected ${NONCE_BYTES} and ${TAG_BYTES})`);
  }
  const key = agree(cPrivate, peerCPublic, roundId, `share|${box.from}|${box.to}`);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(shareAad(roundId, box.from, box.to));
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(Buffer.from(box.ciphertext, 'base64')), decipher.final()]));
  } catch (cause) {
    throw new AppError('ERR_SECAGG_SHARE', `${where} does not authenticate (altered in transit, or not sealed for this member)`, { cause });
  }
}
