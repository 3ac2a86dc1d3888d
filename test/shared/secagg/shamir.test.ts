import { describe, expect, it } from 'vitest';
import { combineShares, splitSecret } from '../../../src/shared/secagg/shamir';

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
