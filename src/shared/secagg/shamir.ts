/**
 * t-of-n Shamir sharing of short secrets (keys, seeds), byte-wise over GF(256), by the
 * audited `shamir-secret-sharing` package. Each share is the secret's length plus one byte,
 * its x-coordinate, so shares can be combined in any order. GF(256) allows at most 255 shares.
 * Fewer than t shares reveal nothing about the secret, and also combine without error into
 * garbage: callers count shares before combining.
 */
import { combine, split } from 'shamir-secret-sharing';

export const MAX_SHARES = 255;

/** Split `secret` into n shares, any t of which rebuild it (2 ≤ t ≤ n ≤ 255). */
export async function splitSecret(secret: Uint8Array, n: number, t: number): Promise<Uint8Array[]> {
  if (!Number.isInteger(n) || !Number.isInteger(t) || t < 2 || t > n || n > MAX_SHARES) {
    throw new RangeError(`Shamir sharing needs integers 2 ≤ t ≤ n ≤ ${MAX_SHARES}, got t=${t}, n=${n}`);
  }
  // The package checks `constructor === Uint8Array`, which a Buffer fails.
  return split(Uint8Array.from(secret), n, t);
}

/** Rebuild the secret from shares of one split (at least its threshold of them, distinct). */
export async function combineShares(shares: Uint8Array[]): Promise<Uint8Array> {
  return combine(shares.map((s) => Uint8Array.from(s)));
}
