import { promises as fs, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareWithCommunity, publishCommunityStats, type CommunityContext } from '../../src/participant/community';
import { writeJsonAtomic } from '../../src/shared/atomic';
import { createMatcher, type Catalog } from '../../src/shared/catalog';
import { displayedCommunity, packBits, TREND_WEEKS, unpackBits, WEEKLY_BUCKETS, type CommunityReport } from '../../src/shared/community';
import type { ViewingEvent } from '../../src/shared/history';
import { silentLogger } from '../../src/shared/log';
import { canRead, writePermissions } from '../../src/shared/permissions';
import { parsePrivacyLedger, privacySpent } from '../../src/shared/privacy';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';

const ME = 'me@example.org';
const AGG = 'agg@example.org';
const PROFILE = 'profile_0';

const catalog: Catalog = {
  items: ['Dark Harbor', 'Baking Stars', 'Quiet Fields'].map((title, id) => ({
    id, showId: `s${id + 1}`, title, kind: 'series' as const, year: 2020, genres: ['Dramas'], countries: [], description: '', rating: null, duration: null, image: null,
  })),
  hash: 'c'.repeat(64),
  source: 'test',
};

function episode(show: string, n: number, date: string): ViewingEvent {
  return { profile: null, title: `${show}: Season 1: Episode ${n}`, show, kind: 'series', season: 'Season 1', episode: `Episode ${n}`, date, startTime: null, durationSec: null };
}

let dataDir: string;
let ws: Workspace;
let clock: Date;

function context(overrides: Partial<CommunityContext['config']> = {}): CommunityContext {
  let seed = 1;
  return {
    config: { INSIGHTS_EPSILON: 1, PRIVACY_BUDGET_EPSILON: 50, PRIVACY_PERIOD_DAYS: 0, DP_DELTA: 1e-5, ...overrides },
    ws,
    catalog,
    matcher: createMatcher(catalog),
    logger: silentLogger,
    now: () => clock,
    noiseRandom: () => createRandom(seed++),
  };
}

async function readReport(): Promise<CommunityReport> {
  return JSON.parse(await fs.readFile(ws.communityStats(PROFILE), 'utf8'));
}

async function ledger() {
  const file = path.join(ws.privateDir(PROFILE), 'privacy.json');
  return parsePrivacyLedger(JSON.parse(await fs.readFile(file, 'utf8')), file);
}

beforeEach(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'community-'));
  createEmbeddedDatasite(dataDir, ME);
  ws = new Workspace({ email: ME, dataDir }, 'insights-test');
  await writePermissions(ws.appData(), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
  const events = [
    ...[1, 2, 3, 4].map((n) => episode('Dark Harbor', n, '2021-01-09')),
    episode('Baking Stars', 1, '2021-01-10'),
    episode('Baking Stars', 2, '2021-01-12'),
  ];
  await writeJsonAtomic(path.join(ws.privateDir(PROFILE), 'history.json'), { formatVersion: 1, sourceSha256: 'x', events });
  clock = new Date('2021-01-13T09:00:00Z'); // Wednesday of 2021-W02: the report is about 2021-W01
});

afterEach(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('publishCommunityStats', () => {
  it('publishes one versioned, title-free report per ISO week, readable by the aggregator only, and records the spend', async () => {
    const outcome = await publishCommunityStats(context(), PROFILE);
    expect(outcome).toEqual({ profile: PROFILE, status: 'published', week: '2021-W01', epsilon: 1 });
    const report = await readReport();
    expect(report).toMatchObject({ format: 'syftbox-netflix-svd/community', formatVersion: 1, week: '2021-W01', items: 3, vocabHash: catalog.hash });
    expect(report.epsilon).toEqual({ total: 1, weekly: 0.25, bucket: 0.25, show: 0.5 });
    expect(report.weekly.values).toHaveLength(TREND_WEEKS);
    expect(report.weekly.values.slice(0, -1).every((v) => v.plays === null && v.scale === null)).toBe(true);
    expect(report.weekly.values.at(-1)).toMatchObject({ week: '2021-W01', scale: 84 });
    expect(report.bucket.edges).toEqual(WEEKLY_BUCKETS);
    expect(unpackBits(report.show.bits, 4)).not.toBeNull();
    const text = await fs.readFile(ws.communityStats(PROFILE), 'utf8');
    for (const title of ['Dark Harbor', 'Baking Stars', 'Season', '2021-01']) expect(text).not.toContain(title);

    expect(await canRead(ws.datasitesDir, AGG, ws.communityStats(PROFILE))).toBe(true);
    expect(await canRead(ws.datasitesDir, 'someone@example.org', ws.communityStats(PROFILE))).toBe(false);

    const spent = await ledger();
    expect(spent.entries).toMatchObject([{ at: clock.toISOString(), kind: 'community', mechanism: 'pure-dp', dp: { epsilon: 1, delta: 0 } }]);
  });

  it('is idempotent within a week: the same report again, restored if deleted, at no further cost', async () => {
    await publishCommunityStats(context(), PROFILE);
    const first = await readReport();
    clock = new Date('2021-01-17T22:00:00Z'); // still 2021-W02
    expect(await publishCommunityStats(context(), PROFILE)).toEqual({ profile: PROFILE, status: 'unchanged', week: '2021-W01' });
    await fs.rm(ws.communityStats(PROFILE));
    expect((await publishCommunityStats(context(), PROFILE)).status).toBe('unchanged');
    expect(await readReport()).toEqual(first);
    expect((await ledger()).entries).toHaveLength(1);
  });

  it('noises each week once: next week re-publishes last week\'s value and spends again for the new one', async () => {
    await publishCommunityStats(context(), PROFILE);
    const first = await readReport();
    clock = new Date('2021-01-20T09:00:00Z'); // 2021-W03
    expect(await publishCommunityStats(context(), PROFILE)).toMatchObject({ status: 'published', week: '2021-W02' });
    const second = await readReport();
    expect(second.weekly.values.at(-2)).toEqual(first.weekly.values.at(-1));
    expect(second.weekly.values.at(-1)!.week).toBe('2021-W02');
    expect(second.weekly.values.at(-1)!.plays).not.toBe(first.weekly.values.at(-1)!.plays);
    const spent = await ledger();
    expect(spent.entries.map((e) => e.kind)).toEqual(['community', 'community']);
    expect(privacySpent(spent, { epsilon: 50, delta: 1e-5, periodDays: 0 }, clock).epsilon).toBeCloseTo(2, 12);
  });

  it('stops when the privacy budget is spent, and publishes nothing when disabled or without history', async () => {
    await publishCommunityStats(context({ PRIVACY_BUDGET_EPSILON: 1.5 }), PROFILE);
    const before = await fs.readFile(ws.communityStats(PROFILE), 'utf8');
    clock = new Date('2021-01-20T09:00:00Z');
    const blocked = await publishCommunityStats(context({ PRIVACY_BUDGET_EPSILON: 1.5 }), PROFILE);
    expect(blocked).toMatchObject({ status: 'skipped', reason: expect.stringContaining('privacy budget') });
    expect(await fs.readFile(ws.communityStats(PROFILE), 'utf8')).toBe(before);
    expect((await ledger()).entries).toHaveLength(1);

    expect(await publishCommunityStats(context({ INSIGHTS_EPSILON: 0 }), 'profile_1')).toMatchObject({ status: 'skipped', reason: expect.stringContaining('INSIGHTS_EPSILON') });
    expect(await publishCommunityStats(context(), 'profile_1')).toMatchObject({ status: 'skipped', reason: 'no parsed history yet' });
    await expect(fs.access(ws.communityStats('profile_1'))).rejects.toThrow();
  });
});

describe('report encoding', () => {
  it('packs bits LSB-first and refuses padding bits or a wrong length', () => {
    const bits = Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 0, 1, 1]);
    const text = packBits(bits);
    expect(unpackBits(text, 10)).toEqual(bits);
    expect(unpackBits(text, 17)).toBeNull();
    expect(unpackBits(Buffer.from([0x19, 0xff]).toString('base64'), 10)).toBeNull();
    expect(unpackBits('not base64!', 10)).toBeNull();
  });
});

describe('compareWithCommunity', () => {
  const bands = [
    { min: 0, max: 0, share: 0.2, se: 0.05, below: 0, belowSe: 0 },
    { min: 1, max: 3, share: 0.3, se: 0.05, below: 0.2, belowSe: 0.05 },
    { min: 4, max: 9, share: 0.3, se: 0.05, below: 0.5, belowSe: 0.1 },
    { min: 10, max: 20, share: 0.15, se: 0.05, below: 0.8, belowSe: 0.05 },
    { min: 21, max: null, share: 0.05, se: 0.05, below: 0.95, belowSe: 0.2 },
  ];
  const stats = { week: '2021-W01', participants: 300, topShows: [], nothingWatched: { count: 10, se: 3 }, distribution: { participants: 300, bands }, trend: [{ week: '2021-W01', participants: 300, mean: 6.5, se: 1.2 }] };
  const shown = displayedCommunity(stats);

  it('places exact plays in the noised distribution with a 95% interval spanning the band', () => {
    const c = compareWithCommunity(5, shown);
    expect(c.band).toEqual({ min: 4, max: 9 });
    expect(c.fewer).toEqual({ value: 0.5, low: expect.closeTo(0.5 - 1.96 * 0.1, 3), high: expect.closeTo(0.5 + 1.96 * 0.1, 3), clipped: false });
    expect(c.interval[0]).toBeCloseTo(0.5 - 1.96 * 0.1, 3);
    expect(c.interval[1]).toBeCloseTo(0.8 + 1.96 * 0.05, 3);
    expect(c.mean).toEqual({ value: 6.5, low: expect.closeTo(6.5 - 1.96 * 1.2, 3), high: expect.closeTo(6.5 + 1.96 * 1.2, 3), clipped: false });
  });

  it('clamps to [0, 1] at both ends', () => {
    expect(compareWithCommunity(0, shown).interval).toEqual([0, expect.closeTo(0.2 + 1.96 * 0.05, 3)]);
    expect(compareWithCommunity(40, shown).interval).toEqual([expect.closeTo(0.95 - 1.96 * 0.2, 3), 1]);
  });

  it('never reports an impossible share or mean: noise that pushed them out of range is clipped, and says so', () => {
    const noisy = displayedCommunity({
      ...stats,
      distribution: { participants: 300, bands: bands.map((b, k) => (k === 2 ? { ...b, below: -0.1 } : k === 3 ? { ...b, below: 1.4 } : b)) },
      trend: [{ week: '2021-W01', participants: 300, mean: -2, se: 1 }],
    });
    const c = compareWithCommunity(5, noisy);
    expect(c.fewer).toEqual({ value: 0, low: 0, high: expect.closeTo(-0.1 + 1.96 * 0.1, 3), clipped: true });
    expect(c.interval).toEqual([0, 1]);
    expect(c.mean).toEqual({ value: 0, low: 0, high: 0, clipped: true });
  });
});
