import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchHistory } from '../../src/participant/train';
import { createMatcher, loadCatalog, type Catalog, type Matcher } from '../../src/shared/catalog';
import { readHistory } from '../../src/shared/history';
import { createRandom } from '../../src/shared/random';
import {
  bestItems,
  createPopulation,
  createTaste,
  createWorld,
  formatHistoryCsv,
  historyTitle,
  organicViewing,
  titleMatchRate,
  utilities,
  type World,
} from '../../src/simulate/population';

const START_MS = Date.UTC(2025, 0, 6);
const email = (i: number) => `p${i}@sim.example`;

let catalog: Catalog;
let matcher: Matcher;
let world: World;
let dir: string;

beforeAll(async () => {
  catalog = await loadCatalog();
  matcher = createMatcher(catalog);
  world = createWorld(catalog, 7);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sim-population-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('hidden tastes', () => {
  it('are reproducible per seed, and participant i does not depend on how many there are', () => {
    const small = createPopulation(catalog, world, { participants: 3, seed: 7, degradeGlobal: 0, startMs: START_MS, email });
    const large = createPopulation(catalog, createWorld(catalog, 7), { participants: 10, seed: 7, degradeGlobal: 0, startMs: START_MS, email });
    for (let i = 0; i < 3; i++) {
      expect(large[i].taste).toEqual(small[i].taste);
      expect(large[i].history).toEqual(small[i].history);
    }
    expect(createTaste(world, 8, 0)).not.toEqual(createTaste(world, 7, 0));
  });

  it('give utilities in (0, 1), with a few shows each participant likes far more than a typical one', () => {
    const u = utilities(world, createTaste(world, 7, 0));
    expect(u).toHaveLength(catalog.items.length);
    const sorted = Float32Array.from(u).sort();
    expect(sorted[0]).toBeGreaterThan(0);
    expect(sorted[sorted.length - 1]).toBeLessThan(1);
    const median = sorted[Math.floor(sorted.length / 2)];
    expect(sorted[sorted.length - 10]).toBeGreaterThan(3 * median);
  });

  it('bestItems returns the top utilities, best first, leaving out the excluded', () => {
    const u = utilities(world, createTaste(world, 7, 1));
    const order = Array.from(u.keys()).sort((a, b) => u[b] - u[a]);
    expect(bestItems(u, 5, new Set())).toEqual(order.slice(0, 5));
    expect(bestItems(u, 5, new Set([order[0], order[2]]))).toEqual([order[1], ...order.slice(3, 7)]);
  });

  it('assigns the degraded arm to about the requested share', () => {
    const people = createPopulation(catalog, world, { participants: 200, seed: 3, degradeGlobal: 0.25, startMs: START_MS, email });
    const share = people.filter((p) => p.degraded).length / people.length;
    // within 4 standard errors of 0.25
    expect(Math.abs(share - 0.25)).toBeLessThan(4 * Math.sqrt((0.25 * 0.75) / 200));
  });
});

describe('initial viewing histories', () => {
  it('are NetflixViewingHistory.csv files that readHistory parses whole and the matcher maps back to the drawn shows', async () => {
    const people = createPopulation(catalog, world, { participants: 30, seed: 7, degradeGlobal: 0, startMs: START_MS, email });
    let shows = 0;
    let recovered = 0;
    for (const person of people) {
      const file = path.join(dir, `${person.index}.csv`);
      await fs.writeFile(file, formatHistoryCsv(person.history));
      const parsed = await readHistory(file, { dateOrder: 'mdy', now: new Date(START_MS) });
      expect(parsed.shape).toBe('NetflixViewingHistory');
      expect(parsed.dateFormat).toBe('M/D/YY');
      expect(parsed.rows).toBe(person.history.length);
      expect(Object.values(parsed.skipped).every((n) => n === 0)).toBe(true);
      expect(parsed.lastDate! < '2025-01-06').toBe(true);
      // newest first, as Netflix writes it
      const dates = parsed.events.map((e) => e.date);
      expect(dates).toEqual([...dates].sort().reverse());
      const matched = matchHistory(parsed.events, matcher, { now: new Date(START_MS), halfLifeDays: 180, mode: 'implicit' });
      shows += person.seen.size;
      recovered += matched.watched.filter((item) => person.seen.has(item)).length;
    }
    const rate = recovered / shows;
    expect(rate).toBeGreaterThanOrEqual(0.99);
    expect(titleMatchRate(catalog, matcher, people)).toBeCloseTo(rate, 2);
  });

  it('write series as "Show: Season s: Episode e" and films by their title', () => {
    const series = catalog.items.find((item) => item.kind === 'series')!;
    const film = catalog.items.find((item) => item.kind === 'film')!;
    expect(historyTitle(catalog, series.id, 3)).toBe(`${series.title}: Season 1: Episode 3`);
    expect(historyTitle(catalog, series.id, 12)).toBe(`${series.title}: Season 2: Episode 2`);
    expect(historyTitle(catalog, film.id, 1)).toBe(film.title);
  });

  it('grow each week by a show the participant finds by itself, unseen, dated in that week', () => {
    const [person] = createPopulation(catalog, world, { participants: 1, seed: 7, degradeGlobal: 0, startMs: START_MS, email });
    const before = new Set(person.seen);
    const weekStart = START_MS + 7 * 86_400_000;
    const last = weekStart + 6 * 86_400_000;
    const rows = organicViewing(catalog, person, utilities(world, person.taste), weekStart, last, createRandom(1));
    const added = [...person.seen].filter((item) => !before.has(item));
    expect(added).toHaveLength(1);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.every((r) => r.date >= '2025-01-13' && r.date <= '2025-01-19')).toBe(true);
    expect(rows[0].title.startsWith(catalog.items[added[0]].title)).toBe(true);
  });

  it('quote titles with quotes and commas', () => {
    const csv = formatHistoryCsv([{ title: 'Say "Hi", Bob', date: '2024-03-05' }]);
    expect(csv).toBe('Title,Date\n"Say ""Hi"", Bob","3/5/24"\n');
  });
});
