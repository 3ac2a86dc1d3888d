import { describe, expect, it } from 'vitest';
import { tableOf } from '../../src/eval/movielens';
import { assignFolds, leaveLastOut } from '../../src/eval/split';
import { createRandom } from '../../src/shared/random';

function table(rows: [user: number, movie: number, time: number][]) {
  return tableOf(
    Int32Array.from(rows.map((r) => r[0])),
    Int32Array.from(rows.map((r) => r[1])),
    Float32Array.from(rows.map(() => 4)),
    Float64Array.from(rows.map((r) => r[2])),
  );
}

describe('leaveLastOut', () => {
  it('holds out each user\'s latest row; on a timestamp tie the larger movieId', () => {
    const t = table([
      [2, 50, 100],
      [1, 10, 300],
      [1, 30, 500],
      [1, 20, 500], // ties with movie 30 at t=500: 30 is held out
      [1, 99, 200],
      [2, 40, 900],
      [3, 7, 100], // a single row: kept for training, not evaluated
    ]);
    const held = leaveLastOut(t);
    expect(Array.from(t.userIds)).toEqual([1, 2, 3]);
    expect(t.movieId[held[0]]).toBe(30);
    expect(t.movieId[held[1]]).toBe(40);
    expect(held[2]).toBe(-1);
  });

  it('sorts each user\'s rows by time, then movieId', () => {
    const t = table([
      [1, 30, 500],
      [1, 20, 500],
      [1, 99, 200],
    ]);
    expect(Array.from(t.movieId)).toEqual([99, 20, 30]);
    expect(Array.from(t.userStart)).toEqual([0, 3]);
  });
});

describe('assignFolds', () => {
  it('splits rows into k folds of sizes differing by at most one, reproducibly', () => {
    const folds = assignFolds(103, 5, createRandom(3));
    const sizes = [0, 0, 0, 0, 0];
    for (const f of folds) sizes[f]++;
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(103);
    expect(Array.from(assignFolds(103, 5, createRandom(3)))).toEqual(Array.from(folds));
    expect(Array.from(assignFolds(103, 5, createRandom(4)))).not.toEqual(Array.from(folds));
  });

  it('refuses fewer than two folds', () => {
    expect(() => assignFolds(10, 1, createRandom(1))).toThrow(RangeError);
  });
});
