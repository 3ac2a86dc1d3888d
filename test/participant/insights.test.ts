import { describe, expect, it } from 'vitest';
import { computeInsights, OTHER_GENRE, playsOf } from '../../src/participant/insights';
import { isoWeek, lastCompleteWeek, shiftWeek, weekStart } from '../../src/shared/weeks';
import { createMatcher, matchEvents, type Catalog, type CatalogItem } from '../../src/shared/catalog';
import type { ViewingEvent } from '../../src/shared/history';

function item(id: number, title: string, kind: 'series' | 'film', genres: string[]): CatalogItem {
  return { id, showId: `s${id + 1}`, title, kind, year: 2020, genres, countries: [], description: '', rating: null, duration: null, image: null };
}

const catalog: Catalog = {
  items: [
    item(0, 'Dark Harbor', 'series', ['Crime TV Shows', 'TV Dramas']),
    item(1, 'Baking Stars', 'series', ['Reality TV']),
    item(2, 'The Long Road', 'film', ['Dramas']),
    ...['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I'].map((x, i) => item(3 + i, `Genre Film ${x}`, 'film', [`Genre ${x}`])),
  ],
  hash: 'test',
  source: 'test',
};
const matcher = createMatcher(catalog);

function episode(show: string, n: number, date: string, durationSec: number | null = null): ViewingEvent {
  return { profile: null, title: `${show}: Season 1: Episode ${n}`, show, kind: 'series', season: 'Season 1', episode: `Episode ${n}`, date, startTime: null, durationSec };
}
function film(title: string, date: string, durationSec: number | null = null): ViewingEvent {
  return { profile: null, title, show: title, kind: 'film', season: null, episode: null, date, startTime: null, durationSec };
}

describe('computeInsights', () => {
  const events: ViewingEvent[] = [
    // a binge across the year boundary: 3 episodes on Saturday, 3 on Sunday (same series, consecutive days)
    episode('Dark Harbor', 1, '2021-01-02', 1800),
    episode('Dark Harbor', 1, '2021-01-02', 900), // resumed later that day: the same play
    episode('Dark Harbor', 2, '2021-01-02', 2700),
    episode('Dark Harbor', 3, '2021-01-02', 2700),
    episode('Dark Harbor', 4, '2021-01-03', 2700),
    episode('Dark Harbor', 5, '2021-01-03', 2700),
    episode('Dark Harbor', 6, '2021-01-03', 2700),
    // two episodes a day is no binge
    episode('Dark Harbor', 7, '2021-01-05', 2700),
    episode('Dark Harbor', 8, '2021-01-05', 2700),
    // a second session after a gap day
    episode('Dark Harbor', 9, '2021-01-07', 2700),
    episode('Dark Harbor', 10, '2021-01-07', 2700),
    episode('Dark Harbor', 11, '2021-01-07', 2700),
    episode('Baking Stars', 1, '2020-12-16', 3600),
    film('The Long Road', '2020-12-31', 7200),
    film('A Film Nobody Catalogued', '2021-01-04', 5400),
  ];
  const now = new Date('2021-01-06T12:00:00Z'); // a Wednesday of 2021-W01

  it('counts plays and hours per ISO week, zero weeks included, across the year boundary', () => {
    const result = computeInsights(matchEvents(events, matcher), { catalog, now });
    expect(result.weekly.map((w) => [w.week, w.start, w.plays])).toEqual([
      ['2020-W51', '2020-12-14', 1],
      ['2020-W52', '2020-12-21', 0],
      ['2020-W53', '2020-12-28', 7],
      ['2021-W01', '2021-01-04', 6],
    ]);
    const w53 = result.weekly[2];
    expect(w53.hours).toBeCloseTo((1800 + 900 + 2700 * 5 + 7200) / 3600, 6);
    expect(result.weekly[1].hours).toBe(0);
    expect(result.lastWeek).toEqual({ week: '2020-W53', start: '2020-12-28', plays: 7, hours: w53.hours });
    expect(result.totals).toMatchObject({ plays: 14, shows: 4, firstDate: '2020-12-16', lastDate: '2021-01-07', hasDurations: true });
  });

  it('has null hours when the export has no durations', () => {
    const simple = events.map((e) => ({ ...e, durationSec: null }));
    const result = computeInsights(matchEvents(simple, matcher), { catalog, now });
    expect(result.totals.hours).toBeNull();
    expect(result.weekly.every((w) => w.hours === null)).toBe(true);
    expect(result.lastWeek.hours).toBeNull();
  });

  it('finds binge sessions: 3+ episodes of one series a day, consecutive days merged', () => {
    const { binges } = computeInsights(matchEvents(events, matcher), { catalog, now });
    expect(binges.minEpisodesPerDay).toBe(3);
    expect(binges.sessions).toBe(2);
    expect(binges.longest).toEqual([
      { show: 'Dark Harbor', item: 0, start: '2021-01-02', end: '2021-01-03', days: 2, episodes: 6 },
      { show: 'Dark Harbor', item: 0, start: '2021-01-07', end: '2021-01-07', days: 1, episodes: 3 },
    ]);
    expect(binges.perMonth).toEqual([
      { month: '2020-12', sessions: 0 },
      { month: '2021-01', sessions: 2 },
    ]);
  });

  it('ranks top shows by plays and marks the unmatched ones', () => {
    const { topShows } = computeInsights(matchEvents(events, matcher), { catalog, now });
    expect(topShows.map((s) => [s.show, s.item, s.plays])).toEqual([
      ['Dark Harbor', 0, 11],
      ['The Long Road', 2, 1],
      ['A Film Nobody Catalogued', null, 1],
      ['Baking Stars', 1, 1],
    ]);
    expect(topShows[0]).toMatchObject({ firstDate: '2021-01-02', lastDate: '2021-01-07' });
  });

  it('lists the shows not in the catalogue, which the model ignores', () => {
    const { notInCatalogue } = computeInsights(matchEvents([...events, film('The Long Road', '2021-01-05'), film('Unknown Film', '2021-01-05')], matcher), { catalog, now });
    expect(notInCatalogue.map((s) => [s.show, s.kind, s.plays])).toEqual([
      ['A Film Nobody Catalogued', 'film', 1],
      ['Unknown Film', 'film', 1],
    ]);
  });

  it('splits each play evenly over its genres, per month, and folds rare genres into Other', () => {
    const { genres } = computeInsights(matchEvents(events, matcher), { catalog, now });
    expect(genres.months).toEqual(['2020-12', '2021-01']);
    const row = (g: string) => genres.plays[genres.genres.indexOf(g)];
    expect(row('Crime TV Shows')).toEqual([0, 5.5]);
    expect(row('TV Dramas')).toEqual([0, 5.5]);
    expect(row('Reality TV')).toEqual([1, 0]);
    expect(row('Dramas')).toEqual([1, 0]);
    expect(genres.unmatchedPlays).toBe(1);
    const monthTotal = (m: number) => genres.plays.reduce((s, r) => s + r[m], 0);
    expect(monthTotal(0) + monthTotal(1)).toBeCloseTo(13, 9); // every matched play, once

    const many = catalog.items.slice(3).map((it, i) => film(it.title, `2021-02-${String(i + 1).padStart(2, '0')}`));
    const folded = computeInsights(matchEvents([...events, ...many], matcher), { catalog, now: new Date('2021-03-01T00:00:00Z') }).genres;
    expect(folded.genres).toHaveLength(9);
    expect(folded.genres.at(-1)).toBe(OTHER_GENRE);
  });

  it('handles an empty history', () => {
    const result = computeInsights(matchEvents([], matcher), { catalog, now });
    expect(result.weekly).toEqual([]);
    expect(result.totals.plays).toBe(0);
    expect(result.lastWeek.plays).toBe(0);
    expect(result.binges.sessions).toBe(0);
  });

  it('collapses repeated rows of one title on one day into one play', () => {
    expect(playsOf([film('X', '2021-01-01', 60), film('X', '2021-01-01', 120), film('X', '2021-01-02', null)])).toEqual([
      { date: '2021-01-01', show: 'X', kind: 'film', title: 'X', hours: 180 / 3600 },
      { date: '2021-01-02', show: 'X', kind: 'film', title: 'X', hours: null },
    ]);
  });
});
