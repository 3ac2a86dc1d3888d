import { describe, expect, it } from 'vitest';
import { featureSimilarity, mmrRerank, scoreItems, topK, type Ranked } from '../../../src/shared/model/recommend';
import { createRandom } from '../../../src/shared/random';

describe('scoreItems', () => {
  it('scores every item by u·v_j', () => {
    const V = Float32Array.from([1, 0, 0, 1, 2, -1]);
    expect([...scoreItems(Float32Array.from([3, 4]), V, 3, 2)]).toEqual([3, 4, 2]);
    expect(() => scoreItems(Float32Array.from([1]), V, 3, 2)).toThrow(RangeError);
  });
});

describe('topK', () => {
  it('returns the k best items not excluded, best first, ties to the lower id', () => {
    const scores = [0.5, 0.9, 0.1, 0.9, 0.7, NaN, 0.3];
    expect(topK(scores, 3, new Set([1]))).toEqual([
      { item: 3, score: 0.9 },
      { item: 4, score: 0.7 },
      { item: 0, score: 0.5 },
    ]);
    expect(topK(scores, 2, new Set()).map((r) => r.item)).toEqual([1, 3]);
  });

  it('agrees with a full sort on random scores and handles k beyond the candidates and k = 0', () => {
    const random = createRandom(1);
    const scores = Float32Array.from({ length: 2000 }, () => random.normal());
    const exclude = new Set(Array.from({ length: 300 }, () => random.int(2000)));
    const expected = [...scores]
      .map((score, item) => ({ item, score }))
      .filter((r) => !exclude.has(r.item))
      .sort((a, b) => b.score - a.score || a.item - b.item);
    expect(topK(scores, 25, exclude)).toEqual(expected.slice(0, 25));
    expect(topK([1, 2], 10, new Set([0]))).toEqual([{ item: 1, score: 2 }]);
    expect(topK(scores, 0, new Set())).toEqual([]);
  });
});

describe('mmrRerank', () => {
  // Items 0-5 are near-identical dramas with the best scores; 6-9 are other genres a bit lower.
  const features = new Map<number, Set<string>>([
    ...[0, 1, 2, 3, 4, 5].map((i): [number, Set<string>] => [i, new Set(['genre:Dramas', 'term:family', 'term:secret'])]),
    [6, new Set(['genre:Comedies', 'term:road'])],
    [7, new Set(['genre:Documentaries', 'term:ocean'])],
    [8, new Set(['genre:Thrillers', 'term:heist'])],
    [9, new Set(['genre:Anime', 'term:robot'])],
  ]);
  const similarity = featureSimilarity(features);
  const scores = [0.95, 0.94, 0.93, 0.92, 0.91, 0.9, 0.8, 0.79, 0.78, 0.77];
  const candidates = topK(scores, 10, new Set());
  const meanPairwiseSimilarity = (list: Ranked[]): number => {
    let sum = 0;
    let pairs = 0;
    for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) (sum += similarity(list[i].item, list[j].item)), pairs++;
    return sum / pairs;
  };

  it('keeps the relevance order when lambda = 0', () => {
    expect(mmrRerank(candidates, 5, 0, similarity)).toEqual(candidates.slice(0, 5));
  });

  it('lowers the similarity within the list when lambda > 0, keeping the best item first', () => {
    const plain = mmrRerank(candidates, 5, 0, similarity);
    const diverse = mmrRerank(candidates, 5, 0.5, similarity);
    expect(diverse[0]).toEqual(candidates[0]);
    expect(meanPairwiseSimilarity(diverse)).toBeLessThan(meanPairwiseSimilarity(plain));
    expect(new Set(diverse.map((r) => r.item)).size).toBe(5);
    expect(meanPairwiseSimilarity(plain)).toBe(1);
    expect(diverse.map((r) => r.item)).toEqual([0, 6, 7, 8, 9]);
  });

  it('returns at most the candidates it was given and rejects lambda outside [0, 1]', () => {
    expect(mmrRerank(candidates.slice(0, 3), 10, 0.3, similarity)).toHaveLength(3);
    expect(mmrRerank([], 5, 0.3, similarity)).toEqual([]);
    expect(() => mmrRerank(candidates, 5, 1.5, similarity)).toThrow(RangeError);
  });
});

describe('featureSimilarity', () => {
  it('is the Jaccard index of the feature sets, from a map or a function', () => {
    const sets: Record<number, Set<string>> = { 1: new Set(['a', 'b', 'c']), 2: new Set(['b', 'c', 'd']), 3: new Set() };
    for (const sim of [featureSimilarity(new Map(Object.entries(sets).map(([k, v]) => [Number(k), v]))), featureSimilarity((i) => sets[i] ?? new Set())]) {
      expect(sim(1, 2)).toBeCloseTo(2 / 4, 12);
      expect(sim(1, 1)).toBe(1);
      expect(sim(1, 3)).toBe(0);
      expect(sim(3, 3)).toBe(0);
      expect(sim(1, 99)).toBe(0);
    }
  });
});
