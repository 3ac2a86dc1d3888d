import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMatcher, loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig, type Config } from '../../src/shared/config';
import { l2Norm, readDelta } from '../../src/shared/delta';
import { initialItemFactors, writeGlobalVersion } from '../../src/shared/global-model';
import { canRead, writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { runParticipant, runParticipantPass, type ParticipantContext, type PassResult } from '../../src/participant/node';
import { readProfileModel } from '../../src/participant/state';
import { WAIT_MS } from '../helpers/process';

const AGG = 'agg@test.org';
const ME = 'alice@test.org';
const OTHER = 'bob@test.org';

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog(null);
});

interface Fixture {
  root: string;
  ws: Workspace;
  config: Config;
  historyFile: string;
  titles: string[];
  dates: string[];
  logs: { level: number; msg: string }[];
  ctx: ParticipantContext;
}

/** Titles from the shipped catalogue, so they match; each series watched for a few episodes. */
function historyRows(offset: number): { rows: string[]; titles: string[]; dates: string[] } {
  const series = catalog.items.filter((i) => i.kind === 'series' && /^[A-Za-z ]{6,}$/.test(i.title)).slice(offset, offset + 4);
  const films = catalog.items.filter((i) => i.kind === 'film' && /^[A-Za-z ]{6,}$/.test(i.title)).slice(offset, offset + 3);
  const rows: string[] = [];
  const dates: string[] = [];
  series.forEach((s, k) => {
    for (let e = 1; e <= 3; e++) {
      const date = `${10 + k}/0${e + 6}/2021`;
      dates.push(date, `2021-0${e + 6}-${10 + k}`);
      rows.push(`"${s.title}: Season 1: Episode ${e}","${date}"`);
    }
  });
  films.forEach((f, k) => {
    const date = `${20 + k}/03/2021`;
    dates.push(date, `2021-03-${20 + k}`);
    rows.push(`"${f.title}","${date}"`);
  });
  return { rows, titles: [...series, ...films].map((i) => i.title), dates };
}

function makeFixture(env: Record<string, string> = {}): Fixture {
  const root = mkdtempSync(path.join(os.tmpdir(), 'participant-'));
  const dataDir = path.join(root, 'SyftBox');
  createEmbeddedDatasite(dataDir, AGG);
  createEmbeddedDatasite(dataDir, ME);
  createEmbeddedDatasite(dataDir, OTHER);
  const outputDir = path.join(root, 'exports');
  const historyFile = path.join(outputDir, 'profile_0', 'NetflixViewingHistory.csv');
  mkdirSync(path.dirname(historyFile), { recursive: true });
  const { rows, titles, dates } = historyRows(0);
  writeFileSync(historyFile, `Title,Date\n${rows.join('\n')}\n`);
  const config = loadConfig({
    appDir: root,
    dotenv: false,
    // these tests are about the plain path (a published delta); the secure path: test/participant/secagg.test.ts
    env: { DP_EPSILON: '0', AGGREGATOR_DATASITE: AGG, OUTPUT_DIR: outputDir, MODEL_RANK: '8', LOCAL_EPOCHS: '2', WATCH_DEBOUNCE_MS: '100', DATE_ORDER: 'dmy', SECURE_AGGREGATION: 'off', ...env },
  });
  const ws = new Workspace({ email: ME, dataDir }, config.APP_NAME);
  const logs: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const ctx: ParticipantContext = {
    config,
    ws,
    catalog,
    matcher: createMatcher(catalog),
    logger,
    now: () => new Date('2021-12-01T00:00:00Z'),
    noiseRandom: () => createRandom(99),
  };
  return { root, ws, config, historyFile, titles, dates, logs, ctx };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

const expectModel = () => ({ items: catalog.items.length, rank: 8, vocabHash: catalog.hash });

describe('participant pass', () => {
  it('publishes a clipped delta readable by the aggregator only, and keeps state private', async () => {
    const f = makeFixture();
    const result = await runParticipantPass(f.ctx);
    expect(result.failed).toEqual([]);
    expect(result.profiles).toHaveLength(1);
    expect(result.profiles[0]).toMatchObject({ profile: 'profile_0', status: 'published', access: 'waiting', baseVersion: 0 });

    const delta = await readDelta(f.ws.profileDir('profile_0'), expectModel());
    expect(delta).not.toBeNull();
    expect(l2Norm(delta!.values)).toBeLessThanOrEqual(f.config.DELTA_CLIP_NORM * (1 + 1e-6));
    expect(delta!.manifest.noise).toBeNull();
    expect(delta!.values.length).toBe(catalog.items.length * 8);

    const manifestFile = f.ws.deltaManifest('profile_0');
    expect(await canRead(f.ws.datasitesDir, AGG, manifestFile)).toBe(true);
    expect(await canRead(f.ws.datasitesDir, OTHER, manifestFile)).toBe(false);

    const model = await readProfileModel(f.ws.privateDir('profile_0'));
    expect(model!.state.watched.length).toBe(7);
    expect(model!.state.lastDeltaSha256).toBe(delta!.manifest.sha256);
    expect(f.ws.isPublished(f.ws.privateDir('profile_0'))).toBe(false);
  });

  it('publishes no title, date or per-title count from the history', async () => {
    const f = makeFixture();
    await runParticipantPass(f.ctx);
    const published = walk(f.ws.datasite(ME));
    expect(published.some((p) => p.endsWith('.npy'))).toBe(true);
    for (const file of published) {
      const text = readFileSync(file).toString('latin1');
      for (const title of f.titles) expect(text, `${title} in ${file}`).not.toContain(title);
      for (const date of f.dates) expect(text, `${date} in ${file}`).not.toContain(date);
    }
  });

  it('does not retrain when nothing changed, and retrains when the history changes', async () => {
    const f = makeFixture();
    const first = await runParticipantPass(f.ctx);
    expect((await runParticipantPass(f.ctx)).profiles[0].status).toBe('unchanged');
    const { rows } = historyRows(5);
    writeFileSync(f.historyFile, `Title,Date\n${rows.join('\n')}\n`);
    const third = await runParticipantPass(f.ctx);
    expect(third.profiles[0].status).toBe('published');
    const sha = (r: PassResult) => (r.profiles[0].status === 'published' ? r.profiles[0].manifest.sha256 : null);
    expect(sha(third)).not.toBe(sha(first));
  });

  it('adds calibrated noise, records the spend, and stops at the budget', async () => {
    const f = makeFixture({ DP_EPSILON: '1', PRIVACY_BUDGET_EPSILON: '1.5' });
    const first = await runParticipantPass(f.ctx);
    expect(first.profiles[0].status).toBe('published');
    const delta = await readDelta(f.ws.profileDir('profile_0'), expectModel());
    expect(delta!.manifest.noise).toMatchObject({ mechanism: 'gaussian', epsilon: 1 });
    const ledger = JSON.parse(readFileSync(path.join(f.ws.privateDir('profile_0'), 'privacy.json'), 'utf8'));
    expect(ledger.entries).toMatchObject([{ kind: 'delta-local', mechanism: 'gaussian', params: { l2: 2 * f.config.DELTA_CLIP_NORM } }]);

    writeFileSync(f.historyFile, `Title,Date\n${historyRows(5).rows.join('\n')}\n`);
    const second = await runParticipantPass(f.ctx);
    expect(second.profiles[0].status).toBe('blocked');
    await expect(readDelta(f.ws.profileDir('profile_0'), expectModel())).resolves.toMatchObject({ manifest: { sha256: delta!.manifest.sha256 } });
    expect(f.logs.some((l) => l.level === 40 && /privacy budget reached/.test(l.msg))).toBe(true);
  });

  it('reports a broken export with its file and keeps the other profiles going', async () => {
    const f = makeFixture({ NETFLIX_PROFILES: 'profile_0,profile_1,profile_2' });
    mkdirSync(path.join(path.dirname(f.historyFile), '..', 'profile_1'), { recursive: true });
    writeFileSync(path.join(path.dirname(f.historyFile), '..', 'profile_1', 'NetflixViewingHistory.csv'), 'Name,When\nx,y\n');
    const result = await runParticipantPass(f.ctx);
    expect(result.profiles.map((p) => p.profile)).toEqual(['profile_0']);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0].file).toContain('profile_1');
    expect(result.failed[0].error).toContain('ERR_HISTORY_COLUMNS');
    expect(result.missing).toEqual([expect.stringContaining(path.join('profile_2', 'NetflixViewingHistory.csv'))]);
  });
});

describe('several profiles', () => {
  it('gives each profile of a ViewingActivity.csv its own profile_<n>, stable across passes, and publishes no profile name', async () => {
    const f = makeFixture({ NETFLIX_CSV: 'ViewingActivity.csv' });
    const header = 'Profile Name,Start Time,Duration,Attributes,Title,Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country';
    const series = catalog.items.filter((i) => i.kind === 'series' && /^[A-Za-z ]{6,}$/.test(i.title));
    const row = (profile: string, title: string, day: number, extra = '') =>
      `${profile},2021-10-${String(day).padStart(2, '0')} 20:00:00,00:42:00,,"${title}",${extra},Smart TV,00:42:00,00:42:00,DK (Denmark)`;
    const rows = [
      row('Zelda Household', `${series[0].title}: Season 1: Episode 1`, 3),
      row('Zelda Household', `${series[1].title}: Season 1: Episode 4`, 4),
      row('Amira', `${series[2].title}: Season 1: Episode 2`, 5),
      row('Amira', `${series[3].title}: Season 1: Episode 1`, 6, 'TRAILER'),
    ];
    const file = path.join(path.dirname(f.historyFile), 'ViewingActivity.csv');
    writeFileSync(file, `${header}\n${rows.join('\n')}\n`);

    const first = await runParticipantPass(f.ctx);
    expect(first.failed).toEqual([]);
    expect(first.profiles.map((p) => [p.profile, p.status]).sort()).toEqual([
      ['profile_0', 'published'],
      ['profile_1', 'published'],
    ]);
    // sorted by name: Amira keeps the folder's number, the other profile gets the next free one
    expect((await readProfileModel(f.ws.privateDir('profile_0')))!.state.watched).toHaveLength(1);
    expect((await readProfileModel(f.ws.privateDir('profile_1')))!.state.watched).toHaveLength(2);

    // a new profile appears: the earlier numbers do not move
    writeFileSync(file, `${header}\n${[...rows, row('Aaron', `${series[4].title}: Season 1: Episode 1`, 7)].join('\n')}\n`);
    const second = await runParticipantPass(f.ctx);
    expect(second.profiles.map((p) => p.profile).sort()).toEqual(['profile_0', 'profile_1', 'profile_2']);
    expect((await readProfileModel(f.ws.privateDir('profile_2')))!.state.watched).toHaveLength(1);
    expect((await readProfileModel(f.ws.privateDir('profile_1')))!.state.watched).toHaveLength(2);

    for (const published of walk(f.ws.datasite(ME))) {
      const text = readFileSync(published).toString('latin1');
      for (const name of ['Zelda', 'Amira', 'Aaron', 'Household']) expect(text, `${name} in ${published}`).not.toContain(name);
    }
  });
});

describe('participant daemon', () => {
  const controllers: AbortController[] = [];
  afterEach(() => controllers.forEach((c) => c.abort()));

  it('waits calmly for access, retrains on history changes and on a new Global_V', async () => {
    const f = makeFixture();
    const passes: PassResult[] = [];
    const waiters: { n: number; resolve: () => void }[] = [];
    const untilPasses = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for pass ${n}; got ${passes.length}`)), WAIT_MS);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
        if (passes.length >= n) resolve();
      });
    const controller = new AbortController();
    controllers.push(controller);
    const done = runParticipant(f.ctx, {
      signal: controller.signal,
      onPass: (r) => {
        passes.push(r);
        for (const w of waiters) if (passes.length >= w.n) w.resolve();
      },
    });
    await untilPasses(1);
    expect(passes[0].profiles[0]).toMatchObject({ status: 'published', access: 'waiting' });

    // the user exports a new history
    writeFileSync(f.historyFile, `Title,Date\n${historyRows(5).rows.join('\n')}\n`);
    await untilPasses(2);
    expect(passes.at(-1)!.profiles[0]).toMatchObject({ status: 'published', access: 'waiting', baseVersion: 0 });

    // the aggregator publishes Global_V version 1 and grants this participant
    const aggWs = new Workspace({ email: AGG, dataDir: f.ws.dataDir }, f.config.APP_NAME);
    await writePermissions(aggWs.aggregatorDir(AGG), { rules: [{ pattern: '**', access: { read: [ME] } }] });
    const { items, rank, vocabHash } = expectModel();
    await writeGlobalVersion(aggWs.globalDir(AGG), initialItemFactors(items, rank, 5), { version: 1, round: 1, items, rank, vocabHash, contributors: 1, createdAt: new Date().toISOString() });
    const deadline = Date.now() + WAIT_MS;
    while (!passes.some((p) => p.profiles[0]?.baseVersion === 1) && Date.now() < deadline) await untilPasses(passes.length + 1);
    expect(passes.at(-1)!.profiles[0]).toMatchObject({ status: 'published', access: 'granted', baseVersion: 1 });

    controller.abort();
    await done;
    const waiting = f.logs.filter((l) => /waiting for the aggregator to grant access/.test(l.msg));
    expect(waiting).toHaveLength(1);
    expect(waiting[0].level).toBe(30);
    expect(f.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(f.logs.some((l) => /granted access/.test(l.msg))).toBe(true);
    expect(statSync(f.ws.deltaManifest('profile_0')).size).toBeGreaterThan(0);
  });
});
