import { promises as fs, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { aggregateCommunity, estimateCommunity, estimateShowCounts, renderCommunityHtml } from '../../src/aggregator/community';
import { buildCommunityReport, type WeekTruth } from '../../src/participant/community';
import { writeJsonAtomic } from '../../src/shared/atomic';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import {
  bandOf,
  communityStatsFile,
  decodeCommunityReport,
  TREND_WEEKS,
  WEEKLY_BUCKETS,
  WEEKLY_CLIP,
  type CommunityReport,
  type CommunityStats,
  type DecodedReport,
  type WeeklyValue,
} from '../../src/shared/community';
import { silentLogger } from '../../src/shared/log';
import { canRead, writePermissions } from '../../src/shared/permissions';
import { laplaceNoise } from '../../src/shared/privacy';
import { createRandom, type Random } from '../../src/shared/random';
import { shiftWeekLabel } from '../../src/shared/weeks';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';

const WEEK = '2026-W02';
const POPULATION = 250;
const POPULAR = 30;

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog(null);
});

function poisson(lambda: number, random: Random): number {
  let k = 0;
  let p = Math.exp(-lambda);
  let s = p;
  const u = random.next();
  while (u > s && k < 200) {
    k++;
    p *= lambda / k;
    s += p;
  }
  return k;
}

interface Person {
  /** True plays per week of the trend window, oldest first. */
  plays: number[];
  topItem: number | null;
  /** The week index (0 = oldest of the window) from which this person reports. */
  joined: number;
}

/** A seeded population: light to heavy viewers, Zipf-popular shows, staggered joining. */
function population(random: Random, n: number): Person[] {
  const rates = [0, 2, 6, 12, 25];
  const zipf = Array.from({ length: POPULAR }, (_, i) => 1 / (i + 1));
  const zipfTotal = zipf.reduce((a, b) => a + b, 0);
  return Array.from({ length: n }, () => {
    const rate = rates[random.int(rates.length)];
    const plays = Array.from({ length: TREND_WEEKS }, () => poisson(rate, random));
    let topItem: number | null = null;
    if (plays.at(-1)! > 0 && random.next() > 0.1) {
      let u = random.next() * zipfTotal;
      let i = 0;
      while (u > zipf[i] && i < POPULAR - 1) u -= zipf[i++];
      topItem = 100 + i * 37; // spread over the catalogue
    }
    return { plays, topItem, joined: random.next() < 0.8 ? 0 : random.int(TREND_WEEKS) };
  });
}

/** Each person's current report, with earlier weeks noised as their earlier reports did. */
function reportsOf(people: Person[], random: Random, epsilon: number): CommunityReport[] {
  return people.map((person) => {
    const earlier = new Map<string, WeeklyValue>();
    for (let w = person.joined; w < TREND_WEEKS - 1; w++) {
      const week = shiftWeekLabel(WEEK, w - TREND_WEEKS + 1);
      const scale = WEEKLY_CLIP / (epsilon * 0.25);
      earlier.set(week, { week, plays: Math.min(person.plays[w], WEEKLY_CLIP) + laplaceNoise(scale, random), scale });
    }
    const truth: WeekTruth = { week: WEEK, plays: person.plays.at(-1)!, topItem: person.topItem };
    return buildCommunityReport(truth, { epsilon, items: catalog.items.length, vocabHash: catalog.hash, random, earlier });
  });
}

function decodeAll(reports: CommunityReport[]): DecodedReport[] {
  return reports.map((r) => {
    const d = decodeCommunityReport(JSON.parse(JSON.stringify(r)), { items: catalog.items.length, vocabHash: catalog.hash });
    if (typeof d === 'string') throw new Error(d);
    return d;
  });
}

describe('estimateCommunity on a synthetic population', () => {
  it(`recovers every figure within 3 standard errors (${POPULATION} participants, epsilon 1)`, () => {
    const random = createRandom(20260111);
    const people = population(random, POPULATION);
    const decoded = decodeAll(reportsOf(people, random, 1));
    const stats = estimateCommunity(decoded, { items: catalog.items.length, minParticipants: 10 })!;
    expect(stats.week).toBe(WEEK);
    expect(stats.participants).toBe(POPULATION);

    const z: number[] = [];
    const check = (estimate: number, truth: number, se: number): void => {
      expect(se).toBeGreaterThan(0);
      z.push((estimate - truth) / se);
      expect(Math.abs(estimate - truth)).toBeLessThanOrEqual(3 * se);
    };
    // shows chosen by the truth (the popular ones), not by their estimates: selecting by estimate picks noise
    const shows = estimateShowCounts(decoded, catalog.items.length);
    const trueCount = (item: number | null) => people.filter((p) => p.topItem === item).length;
    for (let i = 0; i < POPULAR; i++) check(shows.counts[100 + i * 37], trueCount(100 + i * 37), shows.se(100 + i * 37));
    check(stats.nothingWatched.count, trueCount(null), stats.nothingWatched.se);
    // at epsilon 1 and 250 participants no show clears the detection bar: nothing is listed rather than noise
    expect(stats.detectableCount).toBeGreaterThan(POPULATION);
    expect(stats.topShows).toEqual([]);

    const lastWeekBands = people.map((p) => bandOf(p.plays.at(-1)!));
    stats.distribution.bands.forEach((band, k) => {
      check(band.share, lastWeekBands.filter((b) => b === k).length / POPULATION, band.se);
      if (k > 0) check(band.below, lastWeekBands.filter((b) => b < k).length / POPULATION, band.belowSe);
    });

    expect(stats.trend.map((t) => t.week)).toEqual(Array.from({ length: TREND_WEEKS }, (_, i) => shiftWeekLabel(WEEK, i - TREND_WEEKS + 1)));
    stats.trend.forEach((point, w) => {
      const reporting = people.filter((p) => p.joined <= w || w === TREND_WEEKS - 1);
      expect(point.participants).toBe(reporting.length);
      const truth = reporting.reduce((s, p) => s + Math.min(p.plays[w], WEEKLY_CLIP), 0) / reporting.length;
      check(point.mean!, truth, point.se!);
    });
    // the standard errors are calibrated, not just generous
    const rms = Math.sqrt(z.reduce((s, v) => s + v * v, 0) / z.length);
    expect(rms).toBeGreaterThan(0.6);
    expect(rms).toBeLessThan(1.4);
  });

  it('lists only shows that clear the detection bar, led by the true top show, when epsilon allows (epsilon 8, 400 participants)', () => {
    const random = createRandom(7);
    const people = population(random, 400);
    const decoded = decodeAll(reportsOf(people, random, 8));
    const stats = estimateCommunity(decoded, { items: catalog.items.length, minParticipants: 10 })!;
    const counts = new Map<number, number>();
    for (const p of people) if (p.topItem !== null) counts.set(p.topItem, (counts.get(p.topItem) ?? 0) + 1);
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);

    expect(stats.topShows.length).toBeGreaterThan(0);
    expect(stats.topShows[0].item).toBe(ranked[0][0]);
    for (const show of stats.topShows) {
      expect(counts.has(show.item)).toBe(true);
      expect(Math.abs(show.count - counts.get(show.item)!)).toBeLessThanOrEqual(3 * show.se);
    }

    // across the whole catalogue, |z| > 3 about as rarely as for a normal variable
    const shows = estimateShowCounts(decoded, catalog.items.length);
    let outside = 0;
    for (let j = 0; j < catalog.items.length; j++) if (Math.abs(shows.counts[j] - (counts.get(j) ?? 0)) > 3 * shows.se(j)) outside++;
    expect(outside / catalog.items.length).toBeLessThan(0.01);
  });

  it('is not held back by a lone report from a skewed clock', () => {
    const random = createRandom(9);
    const decoded = decodeAll(reportsOf(population(random, 30), random, 1));
    decoded.push({ ...decoded[0], report: { ...decoded[0].report, week: '2099-W01' } });
    const stats = estimateCommunity(decoded, { items: catalog.items.length, minParticipants: 20 })!;
    expect(stats.week).toBe(WEEK);
    expect(stats.participants).toBe(30);
  });

  it('refuses malformed or foreign reports with a reason', () => {
    const random = createRandom(1);
    const [report] = reportsOf(population(random, 1), random, 1);
    const expectCatalog = { items: catalog.items.length, vocabHash: catalog.hash };
    expect(typeof decodeCommunityReport(report, expectCatalog)).toBe('object');
    expect(decodeCommunityReport({ ...report, vocabHash: 'x' }, expectCatalog)).toMatch(/another catalogue/);
    expect(decodeCommunityReport({ ...report, show: { ...report.show, bits: 'AAAA' } }, expectCatalog)).toMatch(/bits/);
    expect(decodeCommunityReport({ ...report, bucket: { ...report.bucket, report: WEEKLY_BUCKETS.length } }, expectCatalog)).toMatch(/band/);
    const forged = report.weekly.values.map((v, i) => (i === TREND_WEEKS - 1 ? { ...v, plays: 1e9 } : v));
    expect(decodeCommunityReport({ ...report, weekly: { ...report.weekly, values: forged } }, expectCatalog)).toMatch(/weekly/);
    expect(decodeCommunityReport({ ...report, epsilon: { ...report.epsilon, show: 5 } }, expectCatalog)).toMatch(/epsilon/);
  });
});

describe('aggregateCommunity', () => {
  const APP = 'insights-test';
  const AGG = 'agg@example.org';
  let dataDir: string;
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  async function setup(participants: number, random: Random, epsilon = 1, topItem?: number): Promise<Workspace> {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'community-agg-'));
    createEmbeddedDatasite(dataDir, AGG);
    const people = population(random, participants).map((p) => (topItem === undefined ? p : { ...p, topItem }));
    const reports = reportsOf(people, random, epsilon);
    for (const [i, report] of reports.entries()) {
      const email = `p${i}@example.org`;
      createEmbeddedDatasite(dataDir, email);
      const ws = new Workspace({ email, dataDir }, APP);
      await writePermissions(ws.appData(), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
      await writeJsonAtomic(ws.deltaManifest('profile_0'), { placeholder: true });
      await writeJsonAtomic(ws.communityStats('profile_0'), report);
    }
    return new Workspace({ email: AGG, dataDir }, APP);
  }

  it('waits for MIN_PARTICIPANTS, then publishes stats.json and a public page with escaped titles, once per change', async () => {
    const title = "Cheech & Chong's Still Smokin";
    const item = catalog.items.findIndex((i) => i.title === title);
    const ws = await setup(40, createRandom(3), 20, item);
    const options = { catalog, minParticipants: 41, now: () => new Date('2026-01-14T10:00:00Z'), logger: silentLogger };
    const waiting = await aggregateCommunity(ws, options);
    expect(waiting).toMatchObject({ status: 'waiting', week: WEEK, participants: 40 });
    await expect(fs.access(communityStatsFile(ws))).rejects.toThrow();

    const published = await aggregateCommunity(ws, { ...options, minParticipants: 40 });
    expect(published.status).toBe('published');
    const stats = JSON.parse(await fs.readFile(communityStatsFile(ws), 'utf8'));
    expect(stats).toMatchObject({ format: 'syftbox-netflix-svd/community-stats', formatVersion: 1, week: WEEK, participants: 40, vocabHash: catalog.hash });
    expect(stats.topShows[0].item).toBe(item);
    expect(JSON.stringify(stats)).not.toMatch(/@example\.org|profile_|Cheech/);

    const html = await fs.readFile(path.join(ws.publicDir(), 'index.html'), 'utf8');
    expect(html).toContain('Cheech &amp; Chong&#39;s Still Smokin');
    expect(html).not.toContain(title);
    expect(html).toContain('40 participants');
    expect(await canRead(ws.datasitesDir, 'stranger@example.org', path.join(ws.publicDir(), 'index.html'))).toBe(true);

    expect((await aggregateCommunity(ws, { ...options, minParticipants: 40 })).status).toBe('unchanged');
  });

  it('says so on the public page when no show stands out from the noise', async () => {
    const ws = await setup(12, createRandom(4), 1);
    await aggregateCommunity(ws, { catalog, minParticipants: 5, now: () => new Date('2026-01-14T10:00:00Z'), logger: silentLogger });
    const html = await fs.readFile(path.join(ws.publicDir(), 'index.html'), 'utf8');
    expect(html).toContain('No show stands out from the noise yet');
    expect(html).not.toContain('<table>');
  });

  it('skips reports the aggregator may not read and reports that do not parse', async () => {
    const ws = await setup(4, createRandom(5));
    const hidden = new Workspace({ email: 'p0@example.org', dataDir }, APP);
    await writePermissions(hidden.appData(), { rules: [{ pattern: '**', access: { read: [] } }] });
    await fs.writeFile(new Workspace({ email: 'p1@example.org', dataDir }, APP).communityStats('profile_0'), '{"format":');
    const result = await aggregateCommunity(ws, { catalog, minParticipants: 3, now: () => new Date('2026-01-14T10:00:00Z'), logger: silentLogger });
    expect(result).toMatchObject({ status: 'waiting', participants: 2 });
  });
});

describe('renderCommunityHtml', () => {
  it('shows no share above 100% or below 0%, and marks a clipped one', () => {
    const stats: CommunityStats = {
      format: 'syftbox-netflix-svd/community-stats', formatVersion: 1, createdAt: '2026-01-12T00:00:00.000Z', week: WEEK, participants: 40, vocabHash: catalog.hash,
      epsilon: { min: 1, max: 1 }, detectableCount: 30, topShows: [{ item: 3, count: 52, se: 9 }, { item: 7, count: 31, se: 9 }], nothingWatched: { count: -6, se: 4 },
      trend: [{ week: WEEK, participants: 40, mean: -1.5, se: 2 }],
      distribution: { participants: 40, bands: WEEKLY_BUCKETS.map((min) => ({ min, max: null, share: 0.2, se: 0.1, below: 0, belowSe: 0 })) },
    };
    const html = renderCommunityHtml(stats, catalog);
    const percents = [...html.matchAll(/(-?\d+(?:\.\d+)?)%/g)].map((m) => Number(m[1]));
    expect(percents.length).toBeGreaterThan(4);
    for (const p of percents) expect(p >= 0 && p <= 100, `${p}%`).toBe(true);
    expect(html).toContain('<td>100.0%*</td>');
    expect(html).toContain('shown as 100%');
    expect(html).toMatch(/<strong>0\.0<\/strong> \(95% interval 0\.0 to \d\.\d; .*shown as 0\)/);
  });
});
