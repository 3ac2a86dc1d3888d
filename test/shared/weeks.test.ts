import { describe, expect, it } from 'vitest';
import { isoWeek, lastCompleteWeek, shiftWeek, shiftWeekLabel, weekStart } from '../../src/shared/weeks';

describe('ISO weeks', () => {
  it('follows ISO 8601 across year boundaries', () => {
    expect(isoWeek('2020-12-28')).toBe('2020-W53');
    expect(isoWeek('2020-12-31')).toBe('2020-W53');
    expect(isoWeek('2021-01-03')).toBe('2020-W53');
    expect(isoWeek('2021-01-04')).toBe('2021-W01');
    expect(isoWeek('2019-12-30')).toBe('2020-W01'); // a Monday in December that starts week 1 of the next year
    expect(isoWeek('2018-12-31')).toBe('2019-W01');
    expect(isoWeek('2016-01-03')).toBe('2015-W53');
    expect(isoWeek('2024-12-30')).toBe('2025-W01');
    expect(isoWeek('2021-06-15')).toBe('2021-W24');
    expect(weekStart('2021-01-03')).toBe('2020-12-28');
    expect(shiftWeek('2021-01-05', -1)).toBe('2020-W53');
    expect(shiftWeek('2020-12-30', 1)).toBe('2021-W01');
    expect(lastCompleteWeek(new Date('2021-01-04T00:30:00Z'))).toBe('2020-W53');
    expect(lastCompleteWeek(new Date('2021-01-03T23:59:00Z'))).toBe('2020-W52');
  });

  it('shifts week labels across year boundaries, 53-week years included', () => {
    expect(shiftWeekLabel('2021-W01', -1)).toBe('2020-W53');
    expect(shiftWeekLabel('2020-W53', 1)).toBe('2021-W01');
    expect(shiftWeekLabel('2026-W02', -7)).toBe('2025-W47');
    expect(shiftWeekLabel('2026-W02', 0)).toBe('2026-W02');
  });

  it('rejects what is not a date or a week', () => {
    expect(() => isoWeek('03/01/2021')).toThrow(RangeError);
    expect(() => shiftWeekLabel('2021-1', 1)).toThrow(RangeError);
  });
});
