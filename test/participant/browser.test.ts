import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clickLogFile } from '../../src/participant/clicks';
import { readClickLog, type ClickRow } from '../../src/shared/clicks';
import { buildApp, startServer } from '../../src/participant/server/app';
import { launchBrowser, noChromium, watchPage } from '../helpers/browser';
import { WAIT_MS } from '../helpers/process';
import { createFixture, PROFILE, type Fixture, type FixtureOptions } from '../helpers/server';

/** Posters of the test catalogue point here on purpose: they fail to load, and the page shows a fallback. */
const OFFLINE_POSTERS = /^https:\/\/posters\.invalid\//;

let browser: Browser;
let fixture: Fixture | null = null;
let app: FastifyInstance | null = null;

async function serve(options: FixtureOptions = {}, transform?: (f: Fixture) => void): Promise<string> {
  fixture = await createFixture(options);
  transform?.(fixture);
  app = buildApp({ config: fixture.config, workspace: fixture.ws, catalog: fixture.catalog, profile: PROFILE });
  return startServer(app, { host: '127.0.0.1', port: 0 });
}

describe.skipIf(noChromium())('the experiment page in Chromium', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await app?.close();
    await fixture?.cleanup();
    app = null;
    fixture = null;
  });

  it('records one click in each column, confirms both, and logs exactly two click rows', async () => {
    const url = await serve();
    const page = await browser.newPage();
    const watched = watchPage(page, OFFLINE_POSTERS);
    await page.goto(url);
    const left = page.locator('[data-column="left"]');
    const right = page.locator('[data-column="right"]');
    await left.locator('[data-item-id]').first().waitFor({ timeout: WAIT_MS });
    expect(await left.locator('[data-item-id]').count()).toBe(5);
    expect(await right.locator('[data-item-id]').count()).toBe(5);
    const arms = [await left.getAttribute('data-arm'), await right.getAttribute('data-arm')];
    expect(arms.sort()).toEqual(['global', 'local']);

    const before = (await readClickLog(clickLogFile(fixture!.ws, PROFILE)))!.rows.filter((r) => r.type === 'click').length;
    const leftItem = left.locator('[data-item-id]').nth(1);
    const rightItem = right.locator('[data-item-id]').nth(3);
    await leftItem.click();
    await leftItem.locator('[data-confirmation]').waitFor({ timeout: WAIT_MS });
    await rightItem.click();
    await rightItem.locator('[data-confirmation]').waitFor({ timeout: WAIT_MS });
    expect(await page.locator('[data-confirmation]').count()).toBe(2);
    expect(await leftItem.locator('[data-confirmation]').textContent()).toMatch(/Noted/);

    const clicks = (await readClickLog(clickLogFile(fixture!.ws, PROFILE)))!.rows.filter((r): r is ClickRow => r.type === 'click');
    expect(clicks).toHaveLength(before + 2);
    expect(clicks.slice(before).map((c) => [c.side, c.rank])).toEqual([
      ['left', 2],
      ['right', 4],
    ]);
    expect(await watched.problems()).toEqual([]);
    await page.close();
  });

  it('replaces a poster that fails to load with the designed fallback card', async () => {
    const url = await serve({}, (f) => {
      for (const item of f.catalog.items) item.image = `https://posters.invalid/${item.showId}.jpg`;
    });
    const page = await browser.newPage();
    const watched = watchPage(page, OFFLINE_POSTERS);
    await page.goto(url);
    await page.locator('[data-item-id]').first().waitFor({ timeout: WAIT_MS });
    await page.waitForFunction(() => document.querySelectorAll('img.poster').length === 0, undefined, { timeout: WAIT_MS });
    expect(await page.locator('[data-item-id] .art').count()).toBe(10);
    const firstArt = page.locator('[data-item-id] .art').first();
    expect(await firstArt.locator('.art-title').textContent()).toBeTruthy();
    expect(await firstArt.evaluate((el) => getComputedStyle(el).backgroundImage)).toMatch(/gradient/);
    expect(await watched.problems()).toEqual([]);
    await page.close();
  });

  it('shows the waiting state with the local list before access is granted', async () => {
    const url = await serve({ granted: false });
    const page = await browser.newPage();
    const watched = watchPage(page, OFFLINE_POSTERS);
    await page.goto(url);
    await page.locator('[data-column="left"][data-arm="local"] [data-item-id]').first().waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#notice').textContent()).toMatch(/Waiting for the aggregator to share the global model/);
    expect(await page.locator('[data-column]').count()).toBe(1);
    expect(await page.locator('[data-item-id]').count()).toBe(5);
    expect(await page.content()).not.toMatch(/Internal server error/i);
    expect(await watched.problems()).toEqual([]);
    await page.close();
  });
});
