import type { Interaction } from '../../../src/shared/model/feedback';
import type { Random } from '../../../src/shared/random';

/** Random data for the model tests. */

export function randomMatrix(rows: number, cols: number, random: Random, scale = 0.3): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => random.normal() * scale);
}

export function randomInteractions(items: number, count: number, random: Random): Interaction[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(random.int(items));
  return [...chosen].sort((a, b) => a - b).map((item) => ({ item, preference: 1, confidence: 3 * random.next() }));
}

/**
 * Two taste groups: users of group g watch items of block g (items g*half .. (g+1)*half-1).
 * Returns the interactions and each user's group.
 */
export function clusteredUsers(users: number, items: number, perUser: number, random: Random): { data: Interaction[][]; group: number[] } {
  const half = items / 2;
  const group = Array.from({ length: users }, (_, u) => u % 2);
  const data = group.map((g) => randomInteractions(half, perUser, random).map((x) => ({ ...x, item: x.item + g * half })));
  return { data, group };
}

