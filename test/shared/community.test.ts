import { describe, expect, it } from 'vitest';
import { displayedCommunity, WEEKLY_BUCKETS, WEEKLY_CLIP, type CommunityStats } from '../../src/shared/community';

/** Statistics as 40 reports at a small ε can give them: unbiased, so some outside their range. */
const noisy: CommunityStats = {
  format: 'syftbox-netflix-svd/community-stats',
  formatVersion: 1,
  createdAt: '2026-01-12T00:00:00.000Z',
  week: '2026-W02',
  participants: 40,
  vocabHash: 'v',
  epsilon: { min: 1, max: 1 },
  detectableCount: 30,
  topShows: [{ item: 3, count: 52, se: 9 }, { item: 7, count: 31, se: 9 }],
  nothingWatched: { count: -6, se: 4 },
  trend: [
    { week: '2026-W01', participants: 3, mean: null, se: null },
    { week: '2026-W02', participants: 40, mean: -1.5, se: 2 },
  ],
  distribution: {
    participants: 40,
    bands: WEEKLY_BUCKETS.map((min, k) => ({
      min,
      max: k + 1 < WEEKLY_BUCKETS.length ? WEEKLY_BUCKETS[k + 1] - 1 : null,
      share: [-0.5, 1.75, 0.2, -0.3, -0.15][k],
      se: 0.3,
      below: [0, -0.5, 1.25, 1.45, 1.15][k],
      belowSe: k === 0 ? 0 : 0.35,
    })),
  },
};

describe('displayedCommunity', () => {
  const shown = displayedCommunity(noisy);

  it('keeps every share in [0, 1], every count in [0, participants], every mean in [0, WEEKLY_CLIP], interval ends included', () => {
    const inRange = (e: { value: number; low: number; high: number }, max: number) => e.low >= 0 && e.low <= e.value && e.value <= e.high && e.high <= max;
    for (const band of shown.bands) {
      expect(inRange(band.share, 1), `band ${band.min}`).toBe(true);
      expect(inRange(band.below, 1), `below ${band.min}`).toBe(true);
    }
    for (const show of shown.topShows) expect(inRange(show.count, 40)).toBe(true);
    expect(inRange(shown.nothingWatched, 40)).toBe(true);
    for (const t of shown.trend) if (t.mean) expect(inRange(t.mean, WEEKLY_CLIP)).toBe(true);
  });

  it('marks exactly the figures whose estimate was out of range', () => {
    expect(shown.bands.map((b) => b.share.clipped)).toEqual([true, true, false, true, true]);
    expect(shown.bands.map((b) => b.share.value)).toEqual([0, 1, 0.2, 0, 0]);
    expect(shown.bands.map((b) => b.below.clipped)).toEqual([false, true, true, true, true]);
    expect(shown.topShows.map((s) => [s.item, s.count.value, s.count.clipped])).toEqual([[3, 40, true], [7, 31, false]]);
    expect(shown.nothingWatched).toMatchObject({ value: 0, clipped: true });
    expect(shown.trend.map((t) => t.mean?.value ?? null)).toEqual([null, 0]);
  });
});
