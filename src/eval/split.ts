import type { RatingTable } from './movielens';
import type { Random } from '../shared/random';

/**
 * Train/test splits of a rating table (rows grouped by user, each user's rows
 * sorted by timestamp then movieId, as `readRatings` returns them).
 *
 * - Leave-last-out (implicit protocol): each user's latest row is held out; on a
 *   timestamp tie the row with the larger movieId counts as later. Users with a
 *   single row keep it for training and are not evaluated.
 * - k-fold (explicit protocol): every row is assigned to one of k folds by a
 *   seeded shuffle (fold sizes differ by at most one); fold f is the test set of
 *   split f, the others its training set.
 */

/** Index of the held-out row of each user (−1 when the user has fewer than two rows). */
export function leaveLastOut(table: RatingTable): Int32Array {
  const heldOut = new Int32Array(table.userCount).fill(-1);
  for (let u = 0; u < table.userCount; u++) {
    const start = table.userStart[u];
    const end = table.userStart[u + 1];
    if (end - start < 2) continue;
    let last = start;
    for (let r = start + 1; r < end; r++) {
      if (table.timestamp[r] > table.timestamp[last] || (table.timestamp[r] === table.timestamp[last] && table.movieId[r] > table.movieId[last])) last = r;
    }
    heldOut[u] = last;
  }
  return heldOut;
}

/** Fold (0..k−1) of every row, from a seeded Fisher-Yates shuffle. */
export function assignFolds(rows: number, k: number, random: Random): Uint8Array {
  if (!Number.isInteger(k) || k < 2 || k > 255) throw new RangeError(`folds must be an integer from 2 to 255, got ${k}`);
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  for (let i = rows - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const fold = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) fold[order[i]] = i % k;
  return fold;
}
