/**
 * t-of-n Shamir sharing of short secrets (keys, seeds), byte-wise over GF(256) (the AES field,
 * x⁸ + x⁴ + x³ + x + 1). Splitting is the audited `shamir-secret-sharing` package's. Each share
 * is the secret's length plus one byte, its x-coordinate, so shares can be combined in any
 * order. GF(256) allows at most 255 shares. Fewer than t shares reveal nothing about the secret,
 * and also combine without error into garbage: callers count shares before combining.
 *
 * Combining is done here, and gives the package's `combine` result byte for byte (a test checks
 * it): the package interpolates every byte of the secret afresh, O(t²) field operations a byte,
 * which made rebuilding a round's seeds (one per survivor, t ≈ 50) a third of the aggregator's
 * unmasking time. The Lagrange weights at x = 0 depend only on the shares' x-coordinates, so
 * they are computed once per secret, and each byte is then a t-term dot product.
 */
import { split } from 'shamir-secret-sharing';

export const MAX_SHARES = 255;

const FIELD_POLYNOMIAL = 0x11b;
const FIELD_ORDER = 255;
/** EXP[i] = 3^i and LOG[3^i] = i in GF(256) (3 generates the multiplicative group); EXP is doubled so LOG sums need no reduction. */
const EXP = new Uint8Array(2 * FIELD_ORDER);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < FIELD_ORDER; i++) {
  EXP[i] = EXP[i + FIELD_ORDER] = x;
  LOG[x] = i;
  x ^= x << 1; // x·3 = x·2 + x
  if (x > 0xff) x ^= FIELD_POLYNOMIAL;
}

function multiply(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

function divide(a: number, b: number): number {
  return a === 0 ? 0 : EXP[LOG[a] + FIELD_ORDER - LOG[b]];
}

/** Split `secret` into n shares, any t of which rebuild it (2 ≤ t ≤ n ≤ 255). */
export async function splitSecret(secret: Uint8Array, n: number, t: number): Promise<Uint8Array[]> {
  if (!Number.isInteger(n) || !Number.isInteger(t) || t < 2 || t > n || n > MAX_SHARES) {
    throw new RangeError(`Shamir sharing needs integers 2 ≤ t ≤ n ≤ ${MAX_SHARES}, got t=${t}, n=${n}`);
  }
  // The package checks `constructor === Uint8Array`, which a Buffer fails.
  return split(Uint8Array.from(secret), n, t);
}

/** Rebuild the secret from shares of one split (at least its threshold of them, with distinct x-coordinates). */
export async function combineShares(shares: Uint8Array[]): Promise<Uint8Array> {
  if (shares.length < 2 || shares.length > MAX_SHARES) throw new RangeError(`combining needs 2 to ${MAX_SHARES} shares, got ${shares.length}`);
  const width = shares[0].length;
  if (width < 2 || shares.some((s) => s.length !== width)) throw new RangeError('every share must have the same length, at least 2 bytes');
  const xs = shares.map((s) => s[width - 1]);
  if (new Set(xs).size !== xs.length) throw new RangeError('two shares have the same x-coordinate');
  // Lagrange basis polynomial i at x = 0: Π_{j≠i} x_j / (x_i − x_j), where − is + (XOR) in GF(2^8)
  const weights = xs.map((xi, i) => xs.reduce((w, xj, j) => (j === i ? w : multiply(w, divide(xj, xi ^ xj))), 1));
  const secret = new Uint8Array(width - 1);
  for (let b = 0; b < secret.length; b++) {
    let value = 0;
    for (let i = 0; i < shares.length; i++) value ^= multiply(weights[i], shares[i][b]);
    secret[b] = value;
  }
  return secret;
}
