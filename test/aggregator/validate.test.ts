import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normBounds, validateProfile, type Validation } from '../../src/aggregator/validate';
import { privatizeDelta } from '../../src/participant/train';
import { l2Norm } from '../../src/shared/delta';
import { deltaNoiseSigma } from '../../src/shared/privacy';
import { createRandom } from '../../src/shared/random';
import { addParticipant, createRoot, deltaFields, MODEL, PARAMS, publish, randomDelta, type TestRoot } from '../helpers/root';

/**
 * A delta that declares DP noise may be far larger than its clip norm, so the
 * aggregator checks that what it holds looks like the declared Gaussian noise
 * (in total, per row, and from below) rather than trusting a wide norm bound.
 */
let root: TestRoot;
beforeEach(async () => {
  root = await createRoot();
});
afterEach(async () => {
  await root.cleanup();
});

const TOLERANCE = 6;
/** Large enough that the noise's norm concentrates (d = 16,000), small enough to stay fast. */
const SHAPE = { ...MODEL, items: 2000, rank: 8 };
const policy = { ...PARAMS, noiseTolerance: TOLERANCE };
const view = { currentVersion: 0, applied: new Set<string>() };

/** A clipped delta plus the noise the participant adds at `epsilon` (the real `privatizeDelta`). */
function honest(epsilon: number, seed: number): { values: Float32Array; noise: ReturnType<typeof privatizeDelta>['noise'] } {
  const random = createRandom(seed);
  const base = new Float32Array(SHAPE.items * SHAPE.rank);
  const local = randomDelta(random, 3, base.length);
  return privatizeDelta(local, base, { clipNorm: 1, epsilon, delta: 1e-5, random });
}

async function validate(email: string, values: Float32Array, noise: ReturnType<typeof privatizeDelta>['noise']): Promise<Validation> {
  const ws = await addParticipant(root, email);
  await publish(ws, 'profile_0', values, { items: SHAPE.items, rank: SHAPE.rank, noise });
  return validateProfile(ws.profileDir('profile_0'), SHAPE, policy, view);
}

describe('deltas that declare noise', () => {
  it('accepts honest noised deltas at the smallest and at a usual epsilon', async () => {
    for (const [i, epsilon] of [0.1, 1, 8].entries()) {
      for (const seed of [1, 2, 3]) {
        const { values, noise } = honest(epsilon, seed * 10 + i);
        expect((await validate(`honest-${i}-${seed}@example.org`, values, noise)).kind).toBe('accepted');
      }
    }
  });

  it('refuses a delta whose total norm is far beyond its declared noise (issue 20: 130,593 at clip 1 and epsilon 0.1)', async () => {
    const { values, noise } = honest(0.1, 4);
    const inflated = values.map((v) => 3.4 * v);
    const result = await validate('inflated@example.org', inflated, noise);
    expect(result).toMatchObject({ kind: 'rejected', code: 'ERR_DELTA_NORM' });
    expect(result.kind === 'rejected' && result.message).toMatch(/L2 norm .* exceeds the allowed/);
  });

  it('refuses honest-looking noise with one row carrying a payload (issue 20: one Global_V row went to norm 1,334)', async () => {
    const { values, noise } = honest(0.1, 5);
    const row = 17;
    const payload = normBounds({ ...deltaFields(SHAPE), noise }, TOLERANCE).row * 1.05;
    for (let a = 0; a < SHAPE.rank; a++) values[row * SHAPE.rank + a] = payload / Math.sqrt(SHAPE.rank);
    // the bound before issue 20 (clip + 4·sigma·sqrt(d)) let this through
    expect(l2Norm(values)).toBeLessThan(1 + 4 * noise!.sigma * Math.sqrt(values.length));
    const result = await validate('payload@example.org', values, noise);
    expect(result).toMatchObject({ kind: 'rejected', code: 'ERR_DELTA_NORM' });
    expect(result.kind === 'rejected' && result.message).toMatch(/row 17 has L2 norm/);
  });

  it('refuses a delta that declares noise it does not carry', async () => {
    const { noise } = honest(8, 6);
    const result = await validate('quiet@example.org', randomDelta(createRandom(6), 1, SHAPE.items * SHAPE.rank), noise);
    expect(result).toMatchObject({ kind: 'rejected', code: 'ERR_DELTA_NORM' });
    expect(result.kind === 'rejected' && result.message).toMatch(/does not carry the noise it declares/);
  });

  it('bounds what declared noise hides by the noise itself: at 8,807 x 32 and epsilon 0.1, about 1 of the old 4·sqrt(d) room', () => {
    const manifest = { clipNorm: 1, items: 8807, rank: 32, noise: { mechanism: 'gaussian' as const, epsilon: 0.1, delta: 1e-5, sigma: deltaNoiseSigma(0.1, 1e-5, 1) } };
    const bounds = normBounds(manifest, TOLERANCE);
    const d = manifest.items * manifest.rank;
    const noiseNorm = manifest.noise.sigma * Math.sqrt(d);
    expect(bounds.total).toBeLessThan(130_593);
    expect(bounds.total / noiseNorm).toBeLessThan(1.02);
    expect(bounds.minTotal / noiseNorm).toBeGreaterThan(0.98);
    expect(bounds.row).toBeLessThan(1_334);
    expect(normBounds({ ...manifest, noise: null }, TOLERANCE)).toEqual({ total: 1.0001, row: 1.0001, minTotal: 0 });
  });
});
