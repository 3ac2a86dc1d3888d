import { describe, expect, it } from 'vitest';
import { combine } from 'shamir-secret-sharing';
import { createRandom } from '../../../src/shared/random';
import { combineShares, MAX_SHARES, splitSecret } from '../../../src/shared/secagg/shamir';

const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);

describe('splitSecret / combineShares', () => {
  it('rebuilds the secret from exactly t shares, any t, in any order', async () => {
    const shares = await splitSecret(secret, 7, 4);
    expect(shares).toHaveLength(7);
    for (const share of shares) expect(share).toHaveLength(33);
    for (const pick of [[0, 1, 2, 3], [6, 4, 2, 0], [3, 5, 1, 6]]) {
      expect(await combineShares(pick.map((i) => shares[i]))).toEqual(secret);
    }
    expect(await combineShares(shares)).toEqual(secret);
  });

  it('does not rebuild it from t − 1 shares', async () => {
    const shares = await splitSecret(secret, 7, 4);
    expect(await combineShares(shares.slice(0, 3))).not.toEqual(secret);
    expect(await combineShares(shares.slice(3, 6))).not.toEqual(secret);
  });

  it('accepts a Buffer secret and the 255-share maximum', async () => {
    const shares = await splitSecret(Buffer.from(secret), 255, 128);
    expect(await combineShares(shares.slice(100, 228))).toEqual(secret);
  });

  it.each([
    [1, 1],
    [3, 4],
    [256, 2],
    [5, 1.5],
  ])('rejects n=%d, t=%d', async (n, t) => {
    await expect(splitSecret(secret, n, t)).rejects.toThrow(RangeError);
  });
});

describe('combineShares against the package', () => {
  it('gives the package combine result byte for byte, for t shares, more than t, and fewer (garbage alike)', async () => {
    const random = createRandom(19);
    for (let trial = 0; trial < 40; trial++) {
      const t = 2 + random.int(60);
      const n = t + random.int(MAX_SHARES - t + 1);
      const value = Uint8Array.from({ length: 1 + random.int(40) }, () => random.int(256));
      const shares = await splitSecret(value, n, t);
      for (const count of [t, Math.min(n, t + 1 + random.int(5)), t - 1].filter((c) => c >= 2)) {
        const start = random.int(n - count + 1);
        const picked = shares.slice(start, start + count).reverse();
        const ours = await combineShares(picked);
        expect(Buffer.from(ours).equals(Buffer.from(await combine(picked)))).toBe(true);
        if (count >= t) expect(ours).toEqual(value);
      }
    }
  });

  it('refuses shares of different lengths or with a repeated x-coordinate', async () => {
    const shares = await splitSecret(secret, 5, 3);
    await expect(combineShares([shares[0], shares[1].subarray(1)])).rejects.toThrow(RangeError);
    await expect(combineShares([shares[0], shares[0], shares[1]])).rejects.toThrow(RangeError);
    await expect(combineShares([shares[0]])).rejects.toThrow(RangeError);
  });
});
