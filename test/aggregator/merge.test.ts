import { describe, expect, it } from 'vitest';
import { applyServerUpdate, createMerger } from '../../src/aggregator/merge';
import { createRandom } from '../../src/shared/random';

const f32 = (...v: number[]) => new Float32Array(v);

describe('createMerger', () => {
  it('fedavg is the weighted mean', () => {
    const m = createMerger('fedavg', 2);
    m.add(f32(1, 10), 1);
    m.add(f32(4, -2), 3);
    expect(m.count).toBe(2);
    expect([...m.result()]).toEqual([(1 + 12) / 4, (10 - 6) / 4]);
  });

  it('fedavg of one delta is that delta, whatever its weight', () => {
    const m = createMerger('fedavg', 3);
    m.add(f32(0.5, -0.25, 2), 0.125);
    expect([...m.result()]).toEqual([0.5, -0.25, 2]);
  });

  it('trimmed mean drops TRIM_FRACTION of the values at each end of every coordinate', () => {
    const m = createMerger('trimmed', 2, 0.2);
    for (const [a, b] of [[1, 5], [2, 5], [3, 5], [4, 5], [1000, -1000]]) m.add(f32(a, b), 1);
    // n = 5, cut = 1 per end: coordinate 0 keeps 2,3,4; coordinate 1 keeps 5,5,5
    expect([...m.result()]).toEqual([3, 5]);
  });

  it('median ignores weights and takes the middle (mean of the two middles for an even count)', () => {
    const m = createMerger('median', 1);
    for (const v of [7, -3, 100, 2]) m.add(f32(v), v === 100 ? 50 : 1);
    expect([...m.result()]).toEqual([4.5]);
  });

  it('refuses the wrong size, bad weights and an empty merge', () => {
    const m = createMerger('fedavg', 2);
    expect(() => m.add(f32(1), 1)).toThrow(RangeError);
    expect(() => m.add(f32(1, 2), 0)).toThrow(RangeError);
    expect(() => m.add(f32(1, 2), Number.NaN)).toThrow(RangeError);
    expect(() => m.result()).toThrow(RangeError);
    expect(() => createMerger('trimmed', 2, 0.5)).toThrow(RangeError);
  });
});

describe('applyServerUpdate', () => {
  it('adds serverLr times the merged delta', () => {
    const out = applyServerUpdate(f32(1, 2), new Float64Array([0.5, -1]), { serverLr: 2, noiseStd: 0, random: createRandom(1) });
    expect([...out]).toEqual([2, 0]);
  });

  it('adds Gaussian noise of SERVER_NOISE_STD to the merged delta', () => {
    const n = 20000;
    const out = applyServerUpdate(new Float32Array(n), new Float64Array(n), { serverLr: 1, noiseStd: 0.3, random: createRandom(2) });
    let sum = 0;
    let sq = 0;
    for (const v of out) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.sqrt(sq / n - mean * mean)).toBeCloseTo(0.3, 2);
  });
});
