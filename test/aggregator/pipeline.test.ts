import { describe, expect, it } from 'vitest';
import { inOrder } from '../../src/aggregator/pipeline';

describe('inOrder', () => {
  it('yields results in input order with at most `depth` calls in flight, and failures as outcomes', async () => {
    let inFlight = 0;
    let peak = 0;
    const task = async (n: number) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, (7 - n) * 2));
      inFlight--;
      if (n === 3) throw new Error('three');
      return n * 10;
    };
    const seen: unknown[] = [];
    for await (const [item, outcome] of inOrder([1, 2, 3, 4, 5, 6], task, 2)) seen.push([item, outcome.ok ? outcome.value : (outcome.error as Error).message]);
    expect(seen).toEqual([[1, 10], [2, 20], [3, 'three'], [4, 40], [5, 50], [6, 60]]);
    expect(peak).toBe(2);
  });

  it('handles no items and refuses a depth below 1', async () => {
    const none: unknown[] = [];
    for await (const x of inOrder([], async () => 1, 3)) none.push(x);
    expect(none).toEqual([]);
    await expect(inOrder([1], async () => 1, 0).next()).rejects.toThrow(RangeError);
  });
});

describe('inOrder over a stream', () => {
  it('pulls items only as calls may start, and yields in order', async () => {
    let pulled = 0;
    let inFlight = 0;
    let peak = 0;
    async function* stream() {
      for (let n = 1; n <= 5; n++) {
        pulled++;
        // never more than depth (2) calls started ahead of the consumer, plus the one being pulled
        expect(pulled - consumed).toBeLessThanOrEqual(3);
        await new Promise((r) => setTimeout(r, 1));
        yield n;
      }
    }
    let consumed = 0;
    const seen: number[] = [];
    const task = async (n: number) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, (6 - n) * 2));
      inFlight--;
      return n * 10;
    };
    for await (const [item, outcome] of inOrder(stream(), task, 2)) {
      consumed++;
      seen.push(item, outcome.ok ? outcome.value : -1);
    }
    expect(seen).toEqual([1, 10, 2, 20, 3, 30, 4, 40, 5, 50]);
    expect(peak).toBe(2);
  });
});
