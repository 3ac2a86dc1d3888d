import { promises as fs, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateCommunity } from '../../src/aggregator/community';
import { buildCommunityReport } from '../../src/participant/community';
import { communityStatsFile, EPSILON_SHARES, MIN_REPORT_EPSILON, packBits, WEEKLY_CLIP, type CommunityReport, type CommunityStats } from '../../src/shared/community';
import { writeJsonAtomic } from '../../src/shared/atomic';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import { silentLogger } from '../../src/shared/log';
import { writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';

/**
 * Issue 20: a participant wrote a community report declaring ε = 1e-6, and the
 * public page said "319,199,993 plays per participant". Every estimator divides
 * by the report's own noise probabilities, so the aggregator now bounds the
 * declared ε, ties the Laplace scale to it, and refuses values further from
 * [0, WEEKLY_CLIP] than the declared noise goes.
 */
const APP = 'forgery-test';
const AGG = 'agg@example.org';
const WEEK = '2026-W02';
const NOW = () => new Date('2026-01-14T10:00:00Z');
const HONEST = 5;
const FORGED_MEAN = 319_199_993;

let catalog: Catalog;
let dataDir: string;
beforeAll(async () => {
  catalog = await loadCatalog(null);
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'community-forgery-'));
  createEmbeddedDatasite(dataDir, AGG);
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

function honestReport(seed: number, epsilon = 4): CommunityReport {
  const random = createRandom(seed);
  return buildCommunityReport({ week: WEEK, plays: random.int(WEEKLY_CLIP + 1), topItem: random.int(catalog.items.length) }, { epsilon, items: catalog.items.length, vocabHash: catalog.hash, random, earlier: new Map() });
}

/** A report as a hostile participant writes it: consistent shares of `epsilon`, this week's value and scale as given. */
function forged(epsilon: number, plays: number, scale = WEEKLY_CLIP / (epsilon * EPSILON_SHARES.weekly)): CommunityReport {
  const report = honestReport(99);
  const values = report.weekly.values.map((v, i, all) => (i === all.length - 1 ? { ...v, plays, scale } : v));
  const eps = { total: epsilon, weekly: epsilon * EPSILON_SHARES.weekly, bucket: epsilon * EPSILON_SHARES.bucket, show: epsilon * EPSILON_SHARES.show };
  const bits = new Uint8Array(catalog.items.length + 1);
  bits[42] = 1;
  return { ...report, epsilon: eps, weekly: { ...report.weekly, values }, show: { ...report.show, bits: packBits(bits) } };
}

async function participate(email: string, report: CommunityReport): Promise<void> {
  createEmbeddedDatasite(dataDir, email);
  const ws = new Workspace({ email, dataDir }, APP);
  await writePermissions(ws.appData(), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
  await writeJsonAtomic(ws.deltaManifest('profile_0'), { placeholder: true });
  await writeJsonAtomic(ws.communityStats('profile_0'), report);
}

async function aggregate(): Promise<{ stats: CommunityStats; html: string }> {
  const ws = new Workspace({ email: AGG, dataDir }, APP);
  const result = await aggregateCommunity(ws, { catalog, minParticipants: 2, now: NOW, logger: silentLogger });
  expect(result.status).not.toBe('waiting');
  return {
    stats: JSON.parse(await fs.readFile(communityStatsFile(ws), 'utf8')) as CommunityStats,
    html: await fs.readFile(path.join(ws.publicDir(), 'index.html'), 'utf8'),
  };
}

describe('forged community reports', () => {
  it('keeps the public page to what the honest reports say', async () => {
    for (let i = 0; i < HONEST; i++) await participate(`honest${i}@example.org`, honestReport(i + 1));
    const n = HONEST + 1;
    const tinyScale = WEEKLY_CLIP / (1e-6 * EPSILON_SHARES.weekly);
    await participate('tiny-epsilon@example.org', forged(1e-6, FORGED_MEAN * n, tinyScale));
    await participate('free-scale@example.org', forged(4, FORGED_MEAN * n, 1e9));
    await participate('beyond-noise@example.org', forged(4, WEEKLY_CLIP + 30 * (WEEKLY_CLIP / EPSILON_SHARES.weekly / 4)));

    const { stats, html } = await aggregate();
    expect(stats.participants).toBe(HONEST);
    const week = stats.trend.at(-1)!;
    expect(week.participants).toBe(HONEST);
    expect(week.mean!).toBeLessThan(WEEKLY_CLIP + 4 * week.se!);
    expect(week.mean!).toBeGreaterThan(-4 * week.se!);
    expect(html).not.toMatch(/319|e\+/);
    expect(stats.epsilon).toEqual({ min: 4, max: 4 });
  });

  it('still counts an honest report at the smallest accepted epsilon with an extreme but possible noise draw', async () => {
    const edge = honestReport(7, MIN_REPORT_EPSILON);
    const scale = WEEKLY_CLIP / (MIN_REPORT_EPSILON * EPSILON_SHARES.weekly);
    edge.weekly.values[edge.weekly.values.length - 1] = { week: WEEK, plays: WEEKLY_CLIP + 13 * scale, scale };
    await participate('edge@example.org', edge);
    const { stats } = await aggregate();
    expect(stats.participants).toBe(HONEST + 1);
    expect(stats.epsilon).toEqual({ min: MIN_REPORT_EPSILON, max: 4 });
  });
});
