import { describe, expect, it } from 'vitest';
import { initialItemFactors } from '../../src/shared/global-model';

describe('initialItemFactors', () => {
  it('draws the same factors for the same shape and seed, each call its own copy', () => {
    const a = initialItemFactors(50, 4, 7);
    a.fill(0); // a caller stepping its copy in place
    const b = initialItemFactors(50, 4, 7);
    expect(b.some((v) => v !== 0)).toBe(true);
    expect(Array.from(initialItemFactors(50, 4, 7))).toEqual(Array.from(b));
    expect(initialItemFactors(50, 4, 8)).not.toEqual(b);
    expect(initialItemFactors(50, 8, 7)).toHaveLength(400);
  });
});
