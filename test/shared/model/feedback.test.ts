import { describe, expect, it } from 'vitest';
import { implicitFeedback, starRating, type WatchEvent } from '../../../src/shared/model/feedback';

const NOW = new Date('2024-06-30T12:00:00Z');
const implicit = { now: NOW, halfLifeDays: 180, mode: 'implicit' as const };

function episode(item: number, date: string, key: string, durationSec: number | null = null): WatchEvent {
  return { item, date, durationSec, episodeKey: key };
}

describe('implicitFeedback (implicit mode)', () => {
  it('computes the documented example: 10 episodes, 3 ISO weeks, 5.5 hours, 90 days old', () => {
    // Weeks: Mon 2024-03-18 .. Sun 03-24 (one week), 03-25 .. 03-31, 04-01 (90 days before NOW).
    const events: WatchEvent[] = [
      episode(7, '2024-03-18', 's1e1', 3600),
      episode(7, '2024-03-24', 's1e2', 3600),
      episode(7, '2024-03-24', 's1e2', 1800), // a rewatch: same episode, more time
      episode(7, '2024-03-25', 's1e3', 3600),
      episode(7, '2024-03-26', 's1e4', 1800),
      episode(7, '2024-03-27', 's1e5', 1800),
      episode(7, '2024-03-28', 's1e6', 1800),
      episode(7, '2024-04-01', 's1e7', null),
      episode(7, '2024-04-01', 's1e8', null),
      episode(7, '2024-04-01', 's1e9', null),
      episode(7, '2024-04-01', 's1e10', 1800),
    ];
    const seconds = 3600 * 3 + 1800 * 5;
    expect(seconds).toBe(5.5 * 3600);
    const [only] = implicitFeedback(events, implicit);
    const expected = 2 ** -0.5 * (Math.log(11) + Math.log(4) + Math.log(6.5));
    expect(only).toEqual({ item: 7, preference: 1, confidence: expect.closeTo(expected, 12) });
    expect(only.confidence).toBeCloseTo(3.9994, 4);
  });

  it('gives a film watched once today without durations ln 2 + ln 2', () => {
    const [film] = implicitFeedback([{ item: 3, date: '2024-06-30', durationSec: null, episodeKey: null }], implicit);
    expect(film.confidence).toBeCloseTo(2 * Math.LN2, 12);
  });

  it('halves the confidence after one half-life and clamps future dates to age 0', () => {
    const film = (date: string): WatchEvent => ({ item: 1, date, durationSec: null, episodeKey: null });
    const today = implicitFeedback([film('2024-06-30')], implicit)[0].confidence;
    expect(implicitFeedback([film('2024-01-02')], implicit)[0].confidence).toBeCloseTo(today / 2, 12); // 180 days
    expect(implicitFeedback([film('2024-07-15')], implicit)[0].confidence).toBeCloseTo(today, 12);
  });

  it('returns one interaction per item, sorted by item', () => {
    const events = [9, 2, 9, 5, 2].map((item, i) => episode(item, '2024-06-01', `e${i}`));
    expect(implicitFeedback(events, implicit).map((x) => x.item)).toEqual([2, 5, 9]);
    expect(implicitFeedback([], implicit)).toEqual([]);
  });

  it('rejects malformed dates with a RangeError naming the value', () => {
    expect(() => implicitFeedback([episode(1, '2024-02-30', 'x')], implicit)).toThrow(/2024-02-30/);
    expect(() => implicitFeedback([episode(1, '30/06/2024', 'x')], implicit)).toThrow(RangeError);
  });
});

describe('stars mode (the original app rules)', () => {
  const week = (start: string, count: number, prefix: string): WatchEvent[] =>
    Array.from({ length: count }, (_, i) => episode(1, start, `${prefix}${i}`));

  it.each([
    ['one episode', week('2024-06-03', 1, 'a'), 1],
    ['4 episodes in one week (total > 3)', week('2024-06-03', 4, 'a'), 2],
    ['3 + 2 episodes in two weeks (total > 4 over weeks)', [...week('2024-06-03', 3, 'a'), ...week('2024-06-17', 2, 'b')], 3],
    ['5 episodes in one week', week('2024-06-03', 5, 'a'), 4],
    ['4 + 4 episodes in two weeks', [...week('2024-06-03', 4, 'a'), ...week('2024-06-24', 4, 'b')], 5],
    ['2 episodes in each of 3 consecutive weeks', [...week('2024-06-03', 2, 'a'), ...week('2024-06-10', 2, 'b'), ...week('2024-06-17', 2, 'c')], 5],
    ['2 episodes in each of 3 non-consecutive weeks', [...week('2024-06-03', 2, 'a'), ...week('2024-06-10', 2, 'b'), ...week('2024-06-24', 2, 'c')], 3],
  ])('%s -> %i stars', (_name, events, stars) => {
    expect(starRating(events)).toBe(stars);
    const [only] = implicitFeedback(events, { ...implicit, mode: 'stars' });
    expect(only).toEqual({ item: 1, preference: 1, confidence: stars });
  });

  it('counts a film watched on two days as two views and a rewatched episode once per week', () => {
    const film = (date: string): WatchEvent => ({ item: 1, date, durationSec: null, episodeKey: null });
    expect(starRating(['2024-06-03', '2024-06-04', '2024-06-05', '2024-06-06'].map(film))).toBe(2);
    expect(starRating(week('2024-06-03', 1, 'a').concat(week('2024-06-04', 1, 'a'), week('2024-06-05', 1, 'a'), week('2024-06-06', 1, 'a')))).toBe(1);
  });
});
