import { describe, expect, it } from 'vitest';
import { formatSeconds, progressTicker } from '../../src/shared/progress';

describe('progressTicker', () => {
  it('logs a few lines with counts and an ETA over a long loop, none at its end', () => {
    const lines: string[] = [];
    const tick = progressTicker((l) => lines.push(l), 'mask', 1000);
    for (let done = 1; done <= 1000; done++) tick(done);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^mask 250\/1000 \([\d.]+ ms each\), ETA \d+ s$/);
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['250/1000', '500/1000', '750/1000']);
  });

  it('stays quiet over a short loop', () => {
    const lines: string[] = [];
    const tick = progressTicker((l) => lines.push(l), 'keys', 150);
    for (let done = 1; done <= 150; done++) tick(done);
    expect(lines).toEqual([]);
    const custom = progressTicker((l) => lines.push(l), 'keys', 10, { minTotal: 5, lines: 2 });
    for (let done = 1; done <= 10; done++) custom(done);
    expect(lines).toHaveLength(1);
  });

  it('formats seconds and minutes', () => {
    expect(formatSeconds(42_400)).toBe('42 s');
    expect(formatSeconds(185_000)).toBe('3 min 5 s');
  });
});
