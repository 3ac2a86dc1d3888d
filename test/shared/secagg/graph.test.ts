import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../src/shared/random';
import { cohortShape, graphDropout, neighbourGraph } from '../../../src/shared/secagg/graph';

const seeded = (seed: number) => {
  const random = createRandom(seed);
  return (m: number) => random.int(m);
};

function expectRegularSymmetric(graph: number[][], n: number, k: number): void {
  expect(graph).toHaveLength(n);
  const edges = new Set(graph.flatMap((list, u) => list.map((v) => `${u}-${v}`)));
  const problems = graph.flatMap((list, u) => {
    const found: string[] = [];
    if (list.length !== k || new Set(list).size !== k) found.push(`${u} has ${list.length} neighbours, ${new Set(list).size} distinct`);
    if (list.includes(u)) found.push(`${u} is its own neighbour`);
    if (list.some((v, j) => j > 0 && v < list[j - 1])) found.push(`${u}'s list is not sorted`);
    for (const v of list) if (!edges.has(`${v}-${u}`)) found.push(`${u}→${v} has no reverse edge`);
    return found;
  });
  expect(problems).toEqual([]);
  // connected: the Harary graph is k-connected
  const seen = new Set([0]);
  const queue = [0];
  while (queue.length > 0) for (const v of graph[queue.pop()!]) if (!seen.has(v)) seen.add(v) && queue.push(v);
  expect(seen.size).toBe(n);
}

describe('neighbourGraph', () => {
  it.each([
    [3, 2],
    [4, 3],
    [10, 9],
    [10, 3],
    [21, 6],
    [20, 12],
    [50, 14],
    [1000, 22],
  ])('n=%d, k=%d is symmetric, k-regular and connected', (n, k) => {
    expectRegularSymmetric(neighbourGraph(n, k, seeded(n * k)), n, k);
  });

  it('is the complete graph for k = n − 1', () => {
    const graph = neighbourGraph(7, 6, seeded(1));
    graph.forEach((list, u) => expect(list).toEqual([0, 1, 2, 3, 4, 5, 6].filter((v) => v !== u)));
  });

  it('depends on the random source only: same draws, same graph; other draws, another graph', () => {
    expect(neighbourGraph(40, 8, seeded(5))).toEqual(neighbourGraph(40, 8, seeded(5)));
    expect(neighbourGraph(40, 8, seeded(5))).not.toEqual(neighbourGraph(40, 8, seeded(6)));
  });

  it.each([
    [5, 3, 'odd'],
    [5, 5, 'k < n'],
    [5, 0, 'k < n'],
  ])('rejects n=%d, k=%d', (n, k, message) => {
    expect(() => neighbourGraph(n, k, seeded(1))).toThrow(message);
  });
});

describe('cohortShape', () => {
  const defaults = { fullGraphMax: 16, minSurvivors: 3, survivorFraction: 0.7 };

  it.each([
    [3, 2, 2, 3],
    [5, 4, 3, 4],
    [16, 15, 8, 12],
  ])('n=%d is a complete graph: k=%d, t=%d, T=%d', (n, k, t, minSurvivors) => {
    expect(cohortShape(n, defaults)).toEqual({ n, k, t, minSurvivors });
  });

  it('uses the SecAgg+ baseline 2⌈log2 n⌉ + 2 when no dropout is to be tolerated', () => {
    expect(cohortShape(100, { ...defaults, dropoutRate: 0 })).toEqual({ n: 100, k: 16, t: 9, minSurvivors: 70 });
    expect(cohortShape(1000, { ...defaults, dropoutRate: 0 })).toEqual({ n: 1000, k: 22, t: 12, minSurvivors: 700 });
  });

  it('keeps t a strict majority of an even k and grows k with the tolerated dropout', () => {
    let previous = 0;
    for (const dropoutRate of [0.05, 0.1, 0.2, 0.3]) {
      const { k, t } = cohortShape(1000, { ...defaults, dropoutRate });
      expect(k % 2).toBe(0);
      expect(2 * t).toBeGreaterThan(k);
      expect(k).toBeGreaterThanOrEqual(previous);
      previous = k;
    }
    expect(previous).toBeGreaterThan(22);
    expect(cohortShape(1000, defaults)).toEqual(cohortShape(1000, { ...defaults, dropoutRate: 0.3 }));
  });

  it('leaves every neighbourhood t survivors when members drop at the tolerated rate (and the baseline k does not)', () => {
    const n = 1000;
    const dropoutRate = 0.3;
    const random = createRandom(9);
    const shortRounds = (k: number, t: number): number => {
      let short = 0;
      for (let round = 0; round < 5; round++) {
        const graph = neighbourGraph(n, k, (m) => random.int(m));
        const alive = Array.from({ length: n }, () => random.next() >= dropoutRate);
        if (graph.some((list) => list.filter((v) => alive[v]).length < t)) short++;
      }
      return short;
    };
    const robust = cohortShape(n, { ...defaults, dropoutRate });
    const baseline = cohortShape(n, { ...defaults, dropoutRate: 0 });
    expect(shortRounds(robust.k, robust.t)).toBe(0);
    expect(shortRounds(baseline.k, baseline.t)).toBe(5);
  });

  it('caps the degree at the Shamir limit and n − 1', () => {
    expect(cohortShape(17, defaults).k).toBe(16);
    expect(cohortShape(20000, { ...defaults, survivorFraction: 0.2 }).k).toBeLessThanOrEqual(254);
    expect(() => cohortShape(300, { ...defaults, fullGraphMax: 400 })).toThrow('at most 255');
  });

  it.each([
    [2, defaults],
    [4, { ...defaults, minSurvivors: 5 }],
    [10, { ...defaults, survivorFraction: 0 }],
    [10, { ...defaults, minSurvivors: 2 }],
  ])('rejects n=%d with %o', (n, opts) => {
    expect(() => cohortShape(n, opts)).toThrow(RangeError);
  });
});

describe('graphDropout', () => {
  const bounds = { floor: 0.1, cap: 0.3 };
  const merged = (cohort: number, survivors: number) => ({ cohort, survivors, outcome: 'merged' as const });

  it('is the floor without history, and while the rounds lose less than floor / 1.5', () => {
    expect(graphDropout([], bounds)).toBe(0.1);
    expect(graphDropout([merged(1000, 1000), merged(1000, 950)], bounds)).toBe(0.1);
  });

  it('is 1.5x the worst recent dropout, within the cap', () => {
    expect(graphDropout([merged(1000, 950), merged(1000, 880), merged(1000, 990)], bounds)).toBeCloseTo(0.18, 12);
    expect(graphDropout([merged(100, 75)], bounds)).toBe(0.3);
  });

  it('takes the cap after a round that aborted once its cohort was fixed, and ignores one that never fixed a cohort', () => {
    expect(graphDropout([merged(1000, 1000), { cohort: 1000, survivors: 0, outcome: 'aborted' }], bounds)).toBe(0.3);
    expect(graphDropout([merged(1000, 1000), { cohort: 0, survivors: 0, outcome: 'aborted' }], bounds)).toBe(0.1);
  });

  it('makes the graph of a cohort that rarely drops members several times sparser than the cap\'s', () => {
    const shape = (dropoutRate: number) => cohortShape(1000, { fullGraphMax: 16, minSurvivors: 3, survivorFraction: 0.7, dropoutRate });
    expect(shape(graphDropout([merged(1000, 950)], bounds)).k).toBe(38);
    expect(shape(graphDropout([{ cohort: 1000, survivors: 0, outcome: 'aborted' }], bounds)).k).toBe(212);
  });

  it.each([
    { floor: -0.1, cap: 0.3 },
    { floor: 0.4, cap: 0.3 },
    { floor: 0.1, cap: 1 },
  ])('rejects %o', (opts) => {
    expect(() => graphDropout([], opts)).toThrow(RangeError);
  });
});
