import { existsSync, promises as fs, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateCommunity } from '../../src/aggregator/community';
import { setBlendConsent, syncBlend, blendView } from '../../src/participant/blend';
import { writeBlendGlobal } from '../helpers/blend';
import { buildCommunityReport } from '../../src/participant/community';
import { insightsRoutes } from '../../src/participant/server/insights-routes';
import { guardRequest } from '../../src/participant/server/security';
import { STATE_FORMAT_VERSION, writeProfileModel } from '../../src/participant/state';
import { writeJsonAtomic } from '../../src/shared/atomic';
import { createMatcher, type Catalog } from '../../src/shared/catalog';
import { communityStatsFile, TREND_WEEKS, type CommunityStats, type WeeklyValue } from '../../src/shared/community';
import { loadConfig, PROJECT_ROOT, withOverrides, type Config } from '../../src/shared/config';
import { AppError } from '../../src/shared/errors';
import type { ViewingEvent } from '../../src/shared/history';
import { silentLogger } from '../../src/shared/log';
import { writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { shiftWeekLabel } from '../../src/shared/weeks';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { launchBrowser, noChromium, watchPage } from '../helpers/browser';
import { catalogOf } from '../helpers/data';
import { WAIT_MS } from '../helpers/process';

/**
 * The insights and blend pages in a real Chromium, served by a minimal Fastify
 * app (the security hook with its Content-Security-Policy, the static ui/
 * folder and the insights plugin), over a SyftBox root holding a private
 * history, community statistics the aggregator produced from 40 reports, and a
 * friend who blends back.
 */
const APP = 'insights-browser';
const AGG = 'agg@example.org';
const ME = 'me@example.org';
const FRIEND = 'friend@example.org';
const PROFILE = 'profile_0';
const ITEMS = 80;
const RANK = 4;
const GENRES = ['Dramas', 'Comedies', 'Thrillers', 'Documentaries', 'Reality TV', 'Anime Series'];
const NOW = new Date('2026-01-14T12:00:00Z'); // 2026-W03: reports are about 2026-W02

const catalog = catalogOf(
  Array.from({ length: ITEMS }, (_, id) => ({
    title: id === 5 ? 'Tom & Jerry <Live>' : `Show ${id}`, kind: id % 3 === 0 ? ('film' as const) : ('series' as const), year: 2000 + (id % 20),
    genres: [GENRES[id % GENRES.length], GENRES[(id + 2) % GENRES.length]],
  })),
  'd'.repeat(64),
);

/** Half a year of viewing: a few series most days, a binge now and then, durations included. */
function history(): ViewingEvent[] {
  const random = createRandom(11);
  const events: ViewingEvent[] = [];
  const start = Date.UTC(2025, 6, 1);
  for (let day = 0; day < 196; day++) {
    const date = new Date(start + day * 86_400_000).toISOString().slice(0, 10);
    const count = random.int(4) + (day % 17 === 0 ? 3 : 0);
    for (let e = 0; e < count; e++) {
      const id = 1 + 3 * random.int(8) + (random.next() < 0.5 ? 0 : 1); // series ids
      const show = catalog.items[id].title;
      events.push({ profile: null, title: `${show}: Season 1: Episode ${day}-${e}`, show, kind: 'series', season: 'Season 1', episode: `Episode ${day}-${e}`, date, startTime: `${date}T20:00:00Z`, durationSec: 1200 + random.int(2400) });
    }
  }
  const film = 'A Film Nobody Catalogued';
  events.push({ profile: null, title: film, show: film, kind: 'film', season: null, episode: null, date: '2025-08-01', startTime: '2025-08-01T20:00:00Z', durationSec: 5400 });
  return events;
}

async function trainedModel(ws: Workspace, seed: number, watched: number[]): Promise<void> {
  const random = createRandom(seed);
  const vLocal = Float32Array.from({ length: ITEMS * RANK }, () => random.normal());
  await writeProfileModel(ws.privateDir(PROFILE), {
    state: {
      formatVersion: STATE_FORMAT_VERSION, profile: PROFILE, rank: RANK, items: ITEMS, vocabHash: catalog.hash, baseVersion: 0, access: 'waiting',
      trainedAt: NOW.toISOString(), watched, confidence: watched.map(() => 1), lastDeltaSha256: null, lastPublishedBase: null, publishBlocked: null, inputsSha256: 'x',
    },
    u: Float32Array.from({ length: RANK }, () => random.normal()),
    vLocal,
    vGlobal: vLocal,
  });
}

/** 40 participants' reports (a large ε so that some shows clear the detection bar), aggregated for real. */
async function communityStats(dataDir: string): Promise<void> {
  const random = createRandom(5);
  for (let i = 0; i < 40; i++) {
    const email = `p${i}@example.org`;
    createEmbeddedDatasite(dataDir, email);
    const ws = new Workspace({ email, dataDir }, APP);
    await writePermissions(ws.appData(), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
    await writeJsonAtomic(ws.deltaManifest(PROFILE), { placeholder: true });
    const truth = { week: '2026-W02', plays: random.int(30), topItem: [5, 8, 13][i % 3] };
    const earlier = new Map<string, WeeklyValue>();
    for (let back = 1; back < TREND_WEEKS; back++) {
      const week = shiftWeekLabel(truth.week, -back);
      earlier.set(week, { week, plays: 8 + random.int(12), scale: 4.2 });
    }
    await writeJsonAtomic(ws.communityStats(PROFILE), buildCommunityReport(truth, { epsilon: 20, items: ITEMS, vocabHash: catalog.hash, random, earlier }));
  }
  const agg = new Workspace({ email: AGG, dataDir }, APP);
  const result = await aggregateCommunity(agg, { catalog, minParticipants: 10, now: () => NOW, logger: silentLogger });
  expect(result.status).toBe('published');
  // what the aggregator's grant step does for contributors
  await writePermissions(agg.aggregatorDir(AGG), { rules: [{ pattern: 'community/**', access: { read: [ME] } }] });
  expect(existsSync(communityStatsFile(agg))).toBe(true);
}

const STATUS_OF: Record<string, number> = { ERR_BAD_REQUEST: 400, ERR_CROSS_ORIGIN: 403 };

async function serve(config: Config, ws: Workspace): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  app.addHook('onRequest', guardRequest('127.0.0.1'));
  app.setErrorHandler((err: FastifyError, _request, reply) => {
    const statusCode = err instanceof AppError ? (STATUS_OF[err.code] ?? 500) : (err.statusCode ?? 500);
    void reply.code(statusCode).send({ statusCode, code: err instanceof AppError ? err.code : 'ERR_BAD_REQUEST', message: err.message });
  });
  await app.register(fastifyStatic, { root: path.join(PROJECT_ROOT, 'ui'), prefix: '/', wildcard: false, list: false, index: false });
  await app.register(insightsRoutes, { config, ws, catalog, matcher: createMatcher(catalog), profile: PROFILE, logger: silentLogger, now: () => NOW });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

/** Canvas size and how many of its pixels were painted (any non-transparent pixel). */
async function painted(page: Page, name: string): Promise<{ width: number; height: number; pixels: number }> {
  return page.locator(`canvas[data-chart="${name}"]`).evaluate((canvas: HTMLCanvasElement) => {
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let pixels = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) pixels++;
    return { width: canvas.width, height: canvas.height, pixels };
  });
}

describe.skipIf(noChromium())('the insights and blend pages in Chromium', () => {
  let browser: Browser;
  let dataDir: string;
  let app: FastifyInstance;
  let url: string;
  let me: { config: Config; ws: Workspace; catalog: Catalog; logger: typeof silentLogger };
  let friend: typeof me;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'insights-browser-'));
    const base = loadConfig({ dotenv: false, env: {} });
    const config = withOverrides(base, { APP_NAME: APP, AGGREGATOR_DATASITE: AGG });
    createEmbeddedDatasite(dataDir, AGG);
    for (const email of [ME, FRIEND]) {
      createEmbeddedDatasite(dataDir, email);
      await writePermissions(new Workspace({ email, dataDir }, APP).appData(), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
    }
    me = { config, ws: new Workspace({ email: ME, dataDir }, APP), catalog, logger: silentLogger };
    friend = { config, ws: new Workspace({ email: FRIEND, dataDir }, APP), catalog, logger: silentLogger };
    await writeJsonAtomic(path.join(me.ws.privateDir(PROFILE), 'history.json'), { formatVersion: 1, sourceSha256: 'x', events: history() });
    await trainedModel(me.ws, 1, [1, 2, 4]);
    await trainedModel(friend.ws, 2, [7, 10]);
    await communityStats(dataDir);
    await writeBlendGlobal(dataDir, APP, AGG, [ME, FRIEND], catalog, RANK); // also lets both read the community statistics
    await setBlendConsent(friend, ME);
    await syncBlend(friend);
    await setBlendConsent(me, FRIEND);
    await syncBlend(me);
    await syncBlend(friend);
    ({ app, url } = await serve(config, me.ws));
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('draws every chart of /insights, with the community comparison, under the page CSP', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const watched = watchPage(page);
    await page.goto(`${url}/insights`);
    await page.locator('body[data-ready="true"]').waitFor({ timeout: WAIT_MS });
    for (const name of ['weekly', 'top-shows', 'genres', 'binges', 'community-distribution', 'community-trend']) {
      const canvas = await painted(page, name);
      expect(canvas.width, name).toBeGreaterThan(200);
      expect(canvas.height, name).toBeGreaterThan(150);
      expect(canvas.pixels, name).toBeGreaterThan(1000);
    }
    expect(await page.locator('#verdict').textContent()).toMatch(/In 2026-W02 you played \d+ titles .* of the 40 participants played fewer \(95% interval/);
    expect(await page.locator('#community-top tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#community-top').textContent()).toContain('Tom & Jerry <Live>');
    expect(await page.locator('#binges li').count()).toBeGreaterThan(0);
    await page.locator('#not-in-catalogue-summary').click();
    expect(await page.locator('#not-in-catalogue li').allTextContents()).toEqual(['A Film Nobody Catalogued · film, 1 play']);
    expect(await watched.problems()).toEqual([]);
    await page.close();
  });

  it('shows no impossible share: unbiased estimates outside [0, 100%] are drawn at the nearest end, and the page says so', async () => {
    const file = communityStatsFile(new Workspace({ email: AGG, dataDir }, APP));
    const original = await fs.readFile(file, 'utf8');
    const stats = JSON.parse(original) as CommunityStats;
    // what 40 reports at a small epsilon give: the issue's −50% and 175%, a negative mean, a count above the participants
    const shares = [-0.5, 1.75, 0.3, -0.2, -0.35];
    const noisy: CommunityStats = {
      ...stats,
      topShows: [{ ...stats.topShows[0], count: 55, se: 9 }],
      trend: stats.trend.map((t, i) => (i === stats.trend.length - 1 ? { ...t, mean: -1.2, se: 1.5 } : t)),
      distribution: { ...stats.distribution, bands: stats.distribution.bands.map((b, k) => ({ ...b, share: shares[k], se: 0.3 })) },
    };
    await writeJsonAtomic(file, noisy);
    try {
      const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
      const watched = watchPage(page);
      await page.goto(`${url}/insights`);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: WAIT_MS });
      const drawn = await page.locator('canvas[data-chart="community-distribution"]').evaluate((canvas) => {
        const chart = (window as unknown as { Chart: { getChart(c: unknown): { data: { labels: string[]; datasets: { data: number[] }[] } } } }).Chart.getChart(canvas);
        return { labels: chart.data.labels, values: chart.data.datasets[0].data };
      });
      expect(drawn.values).toEqual([0, 100, 30, 0, 0]);
      expect(drawn.labels.filter((l) => l.endsWith('*'))).toHaveLength(4);
      const note = page.locator('#community-clipped');
      expect(await note.isVisible()).toBe(true);
      expect(await note.textContent()).toMatch(/\* The privacy noise pushed the share of bands 0, 1–3, 10–20, 21\+ and the average of 2026-W02 outside what is possible/);
      const text = (await page.locator('#community').textContent()) ?? '';
      for (const [, value] of text.matchAll(/(-?[\d.]+)%/g)) expect(Number(value) >= 0 && Number(value) <= 100, `${value}% on the page`).toBe(true);
      expect(await page.locator('#community-top tbody td').nth(2).textContent()).toBe('40.0*');
      expect(await watched.problems()).toEqual([]);
      await page.close();
    } finally {
      await fs.writeFile(file, original);
    }
  });

  it('lists shows to watch together on /blend, and withdrawing removes the blend on both sides', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const watched = watchPage(page);
    await page.goto(`${url}/blend`);
    const items = page.locator('ol.together li[data-item-id]');
    await items.first().waitFor({ timeout: WAIT_MS });
    expect(await items.count()).toBe(10);
    const ids = await items.evaluateAll((nodes) => nodes.map((n) => Number((n as HTMLElement).dataset.itemId)));
    for (const watched of [1, 2, 4]) expect(ids).not.toContain(watched); // mine; the friend's list leaves out theirs
    expect(await page.textContent('#protection')).toMatch(/\(ε = 1, δ = 0\.00001\)-differentially private for each show/);
    expect(await items.first().locator('.reason').textContent()).toMatch(/\(you \d+, them \d+\)/);
    expect(await page.inputValue('#friend')).toBe(FRIEND);

    await page.click('#withdraw');
    await page.locator('body[data-blend-state="off"]').waitFor({ timeout: WAIT_MS });
    expect(await items.count()).toBe(0);
    expect(await fs.readdir(me.ws.blendDir()).catch(() => [])).toEqual([]);
    expect((await blendView(friend, PROFILE)).state).toBe('waiting');
    expect(await watched.problems()).toEqual([]);
    await page.close();
  });

  it('refuses cross-origin, oversized and non-JSON consent changes', async () => {
    const post = (headers: Record<string, string>, payload: string) => app.inject({ method: 'POST', url: '/api/blend', headers: { host: '127.0.0.1', ...headers }, payload });
    const json = { 'content-type': 'application/json' };
    expect((await post({ ...json, origin: 'http://evil.example' }, JSON.stringify({ friend: 'x@evil.example' }))).statusCode).toBe(403);
    expect((await post({ ...json, 'sec-fetch-site': 'cross-site' }, JSON.stringify({ friend: 'x@evil.example' }))).statusCode).toBe(403);
    expect((await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'friend=x%40evil.example')).statusCode).toBe(415);
    expect((await post(json, JSON.stringify({ friend: `${'a'.repeat(2000)}@example.org` }))).statusCode).toBe(413);
    expect((await post(json, JSON.stringify({ friend: ME }))).statusCode).toBe(400);
    expect((await post(json, JSON.stringify({ friend: FRIEND, extra: 1 }))).statusCode).toBe(400);
    const insights = await app.inject({ method: 'GET', url: '/api/insights?x=1', headers: { host: '127.0.0.1' } });
    expect(insights.statusCode).toBe(400);
    const chart = await app.inject({ method: 'GET', url: '/vendor/chart.umd.js', headers: { host: '127.0.0.1' } });
    expect(chart.statusCode).toBe(200);
    expect(chart.headers['content-type']).toMatch(/javascript/);
  });
});
