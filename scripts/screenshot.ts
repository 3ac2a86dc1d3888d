/**
 * Renders the experiment page in Chromium and saves docs/screenshot.png for the
 * README (run: `npx tsx scripts/screenshot.ts [out.png]`). The page runs on the
 * shipped catalogue with a small synthetic model (a viewer who likes crime and
 * thrillers; the "global" factors are the local ones plus seeded noise), in a
 * temporary SyftBox-layout root, so both columns are filled and some shows are
 * in both lists.
 */
import { mkdirSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { STATE_FORMAT_VERSION, writeProfileModel } from '../src/participant/state';
import { buildApp, startServer } from '../src/participant/server/app';
import { loadCatalog } from '../src/shared/catalog';
import { loadConfig, PROJECT_ROOT } from '../src/shared/config';
import { writeGlobalVersion } from '../src/shared/global-model';
import { writePermissions } from '../src/shared/permissions';
import { createRandom } from '../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../src/shared/workspace';

const AGGREGATOR = 'aggregator@example.org';
const PARTICIPANT = 'me@example.org';
const PROFILE = 'profile_0';
/** One factor per genre: the synthetic model's "taste" dimensions. */
const GENRES = ['Crime TV Shows', 'Thrillers', 'TV Thrillers', 'International TV Shows', 'Dramas', 'Documentaries', 'Comedies', 'TV Mysteries'];
const TASTE = [1.2, 1, 1, 0.5, 0.35, 0.2, -0.6, 0.9];
const LOCAL_NOISE = 0.25;
const GLOBAL_NOISE = 0.12;
const VIEWPORT = { width: 1280, height: 1000 };
const CHROMIUM = '/usr/bin/chromium';

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(PROJECT_ROOT, 'docs', 'screenshot.png'));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'screenshot-'));
  try {
    const config = loadConfig({ env: { AGGREGATOR_DATASITE: AGGREGATOR, LOG_LEVEL: 'silent' }, dotenv: false });
    const catalog = await loadCatalog(null);
    const items = catalog.items.length;
    const rank = GENRES.length;
    const random = createRandom(1);
    const vLocal = new Float32Array(items * rank);
    catalog.items.forEach((item, i) => GENRES.forEach((g, r) => (vLocal[i * rank + r] = (item.genres.includes(g) ? 1 : 0) + LOCAL_NOISE * random.normal())));
    const vGlobal = vLocal.map((v) => v + GLOBAL_NOISE * random.normal());

    createEmbeddedDatasite(dir, AGGREGATOR);
    createEmbeddedDatasite(dir, PARTICIPANT);
    const ws = new Workspace({ email: PARTICIPANT, dataDir: dir }, config.APP_NAME);
    const aggregatorWs = new Workspace({ email: AGGREGATOR, dataDir: dir }, config.APP_NAME);
    await writeGlobalVersion(aggregatorWs.globalDir(AGGREGATOR), vGlobal, { version: 4, round: 4, items, rank, vocabHash: catalog.hash, contributors: 5, createdAt: new Date().toISOString() });
    await writePermissions(aggregatorWs.aggregatorDir(AGGREGATOR), { rules: [{ pattern: '**', access: { read: [PARTICIPANT] } }] });
    await writeProfileModel(ws.privateDir(PROFILE), {
      state: {
        formatVersion: STATE_FORMAT_VERSION,
        profile: PROFILE,
        rank,
        items,
        vocabHash: catalog.hash,
        baseVersion: 4,
        access: 'granted',
        trainedAt: new Date().toISOString(),
        watched: [],
        confidence: [],
        lastDeltaSha256: null,
        lastPublishedBase: null,
        publishBlocked: null,
        inputsSha256: 'screenshot',
      },
      u: Float32Array.from(TASTE),
      vLocal,
      vGlobal: vLocal,
    });

    const app = buildApp({ config, workspace: ws, catalog, profile: PROFILE, random: createRandom(2) });
    const url = await startServer(app, { host: '127.0.0.1', port: 0 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage({ viewport: VIEWPORT, deviceScaleFactor: 1 });
      await page.goto(url);
      await page.locator('[data-column="right"] [data-item-id]').first().waitFor();
      // show what a confirmed click looks like
      await page.locator('[data-column="left"] [data-item-id]').nth(1).click();
      await page.locator('[data-confirmation]').waitFor();
      await page.evaluate(() => document.getAnimations().forEach((a) => a.finish()));
      mkdirSync(path.dirname(out), { recursive: true });
      await page.screenshot({ path: out, fullPage: true });
    } finally {
      await browser.close();
      await app.close();
    }
    process.stdout.write(`${out}\n`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`screenshot: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
