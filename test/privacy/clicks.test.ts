import { promises as fs } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARMS, type Arm } from '../../src/shared/clicks';
import { buildApp } from '../../src/participant/server/app';
import type { PageData } from '../../src/participant/server/routes';
import { createRandom } from '../../src/shared/random';
import { readLoggedViews, scoreAgainstChance, type LoggedView, type Trial } from './attacks';
import { createAttackRoot, runUntilGranted, UNPROTECTED, type AttackRoot } from './harness';
import path from 'node:path';
import { DEMO_AGGREGATOR } from '../../src/demo/embedded';
import { withOverrides } from '../../src/shared/config';
import { canRead } from '../../src/shared/permissions';
import { afterParticipantPass } from '../../src/participant/extras';
import type { PassResult } from '../../src/participant/node';
import { readPrivacyLedger } from '../../src/participant/state';
import type { Workspace } from '../../src/shared/workspace';

/**
 * Issue 20, attack (d): the aggregator reads what a participant's datasite
 * lets it read about the recommendation page. Before, in plain mode, that was
 * the click log (`profile_<n>/clicks.jsonl`): version 1 held both top-N lists
 * of every page view with millisecond times, version 2 every page view and
 * click (arm, rank) without ids or times.
 *
 * Protection: in both modes the log stays in the private folder (0600). In
 * plain mode only `profile_<n>/click-counts.json` leaves: per ISO week, the
 * clicks per arm, clipped and with discrete Laplace noise, spent from the
 * privacy ledger (kind `clicks`); with secure aggregation the counts leave only
 * inside the community round's noised sum. The attack reads every file in the
 * datasite the aggregator may read and looks for page views, lists and times.
 * Control: the same page views as the version-1 rows the old code published,
 * which the attack reads back completely.
 */
const SEED = 5;
const VIEWS = 12;
const START_MS = Date.parse('2026-11-21T16:00:00.123Z');

interface Served {
  pageView: string;
  at: string;
  lists: Record<Arm, number[]>;
  left: Arm;
}

let root: AttackRoot;
let app: FastifyInstance;
let logFile: string;
const served: Served[] = [];
let tick = 0;

async function pageView(): Promise<PageData> {
  const res = await app.inject({ method: 'POST', url: '/api/views', payload: {} });
  expect(res.statusCode).toBe(200);
  return res.json() as PageData;
}

async function clickFirst(page: PageData, side: 'left' | 'right'): Promise<void> {
  const column = page.columns.find((c) => c.side === side)!;
  const res = await app.inject({ method: 'POST', url: '/api/click', payload: { pageView: page.pageView, token: page.token, side, item: column.shows[0].id } });
  expect(res.statusCode).toBe(200);
}

beforeAll(async () => {
  root = await createAttackRoot(UNPROTECTED, SEED);
  await runUntilGranted(root);
  const me = root.demo.participants[0];
  logFile = me.ctx.ws.privateClickLog('profile_0');
  app = buildApp({
    config: me.ctx.config,
    workspace: me.ctx.ws,
    catalog: root.catalog,
    profile: 'profile_0',
    now: () => new Date(START_MS + 60_007 * tick++),
    random: createRandom(SEED),
  });
  await app.ready();
  for (let i = 0; i < VIEWS; i++) {
    const at = new Date(START_MS + 60_007 * tick).toISOString();
    const page = await pageView();
    expect(page.state).toBe('experiment');
    const lists = Object.fromEntries(page.columns.map((c) => [c.arm, c.shows.map((s) => s.id)])) as Record<Arm, number[]>;
    served.push({ pageView: page.pageView!, at, lists, left: page.columns[0].arm });
    if (i % 3 === 0) await clickFirst(page, i % 2 === 0 ? 'left' : 'right');
  }
}, 300_000);
afterAll(async () => {
  await app?.close();
  await root?.cleanup();
});

/** Every file in the participant's app folder that the aggregator may read. */
async function readableByAggregator(ws: Workspace): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(ws.appData(), { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && (await canRead(ws.datasitesDir, DEMO_AGGREGATOR, file))) out.push(file);
  }
  return out.sort();
}

/** Every served list against what the attack read for its page view (a list it could not read is an empty guess). */
function trials(logged: LoggedView[]): Trial[] {
  const byId = new Map(logged.map((v) => [v.pageView, v]));
  return served.flatMap((s) => ARMS.map((arm) => ({ guess: byId.get(s.pageView)?.[arm] ?? [], truth: new Set(s.lists[arm]), population: root.model.items })));
}

/** The page views as version-1 rows, the format the previous code wrote (both lists, millisecond times). */
function versionOneLog(): string {
  return served.map((s) => JSON.stringify({ v: 1, type: 'view', at: s.at, pageView: s.pageView, left: s.left, local: s.lists.local, global: s.lists.global, versions: { global: 2, localBase: 2 } })).join('\n') + '\n';
}

describe('attack (d): the aggregator reads the click log', () => {
  it('control (version-1 rows, the protection off): both lists of every page view, with millisecond times', () => {
    const logged = readLoggedViews(versionOneLog());
    const score = scoreAgainstChance(trials(logged));
    expect(score.recall).toBe(1);
    expect(score.precision).toBe(1);
    expect(logged.map((v) => v.at)).toEqual(served.map((s) => s.at));
    expect(logged.every((v) => /\.\d{3}Z$/.test(v.at))).toBe(true);
  });

  it('protected (plain mode): the aggregator can read only the noised weekly counts, no page view, list, id or time', async () => {
    const me = root.demo.participants[0];
    // an older version's published log is deleted when the counts are published
    await fs.writeFile(me.ctx.ws.clickLog('profile_0'), versionOneLog());
    await afterParticipantPass(me.ctx, { profiles: [{ profile: 'profile_0' } as PassResult['profiles'][number]], missing: [], failed: [] });
    const readable = await readableByAggregator(me.ctx.ws);
    expect(readable.filter((f) => /click/.test(path.basename(f))).map((f) => path.basename(f))).toEqual(['click-counts.json']);
    // every readable file for page views (deltas and community reports say nothing of the page), the click counts also for times
    const everything = (await Promise.all(readable.filter((f) => /\.jsonl?$/.test(f)).map((f) => fs.readFile(f, 'utf8')))).join('\n');
    const text = await fs.readFile(me.ctx.ws.clickCounts('profile_0'), 'utf8');
    const counts = JSON.parse(await fs.readFile(me.ctx.ws.clickCounts('profile_0'), 'utf8')) as { weeks: Record<string, unknown>[] };
    expect(counts.weeks).toHaveLength(1);
    expect(Object.keys(counts.weeks[0]).sort()).toEqual(['epsilon', 'global', 'local', 'week']);
    for (const s of served) expect(everything).not.toContain(s.pageView);
    expect(text).not.toMatch(/\d{2}:\d{2}|pageView|"at"/);
    const score = scoreAgainstChance(trials(readLoggedViews(everything.split('\n').filter((l) => l.startsWith('{"v"')).join('\n'))));
    expect(score.hits).toBe(0);
    const ledger = await readPrivacyLedger(me.ctx.ws.privateDir('profile_0'));
    expect(ledger.entries.filter((e) => e.kind === 'clicks')).toHaveLength(1);
    // control: the page did log every view and click, privately (0600)
    const kept = readLoggedViews(await fs.readFile(logFile, 'utf8'));
    expect(kept.map((v) => v.pageView)).toEqual(served.map((s) => s.pageView));
    expect((await fs.stat(logFile)).mode & 0o777).toBe(0o600);
  });

  it('a version-1 log left by an older install is rewritten (privately) before the next click is appended', async () => {
    await fs.writeFile(logFile, versionOneLog());
    expect(scoreAgainstChance(trials(readLoggedViews(await fs.readFile(logFile, 'utf8')))).recall).toBe(1);
    // a fresh page server (a restart after the upgrade) appends its first row
    const restarted = buildApp({ config: root.demo.participants[0].ctx.config, workspace: root.demo.participants[0].ctx.ws, catalog: root.catalog, profile: 'profile_0' });
    try {
      const res = await restarted.inject({ method: 'POST', url: '/api/views', payload: {} });
      expect(res.statusCode).toBe(200);
    } finally {
      await restarted.close();
    }
    const logged = readLoggedViews(await fs.readFile(logFile, 'utf8'));
    expect(logged).toHaveLength(VIEWS + 1);
    const score = scoreAgainstChance(trials(logged));
    expect(score.hits).toBeLessThanOrEqual(score.chanceBound);
    expect(logged.every((v) => v.at === '')).toBe(true);
  });

  it('with secure aggregation (the default): the aggregator can read no click log at all; the log stays on the machine', async () => {
    const me = root.demo.participants[0];
    await fs.rm(logFile, { force: true });
    await fs.rm(me.ctx.ws.clickCounts('profile_0'), { force: true }); // the plain-mode test's counts
    const secureApp = buildApp({ config: withOverrides(me.ctx.config, { SECURE_AGGREGATION: 'on' }), workspace: me.ctx.ws, catalog: root.catalog, profile: 'profile_0', random: createRandom(SEED + 1) });
    const shown: Served[] = [];
    try {
      for (let i = 0; i < VIEWS; i++) {
        const res = await secureApp.inject({ method: 'POST', url: '/api/views', payload: {} });
        const page = res.json() as PageData;
        expect(page.state).toBe('experiment');
        shown.push({ pageView: page.pageView!, at: '', lists: Object.fromEntries(page.columns.map((c) => [c.arm, c.shows.map((x) => x.id)])) as Record<Arm, number[]>, left: page.columns[0].arm });
        const column = page.columns[i % 2];
        const click = await secureApp.inject({ method: 'POST', url: '/api/click', payload: { pageView: page.pageView, token: page.token, side: column.side, item: column.shows[0].id } });
        expect(click.statusCode).toBe(200);
      }
    } finally {
      await secureApp.close();
    }
    // the attack: every click log in this datasite that the aggregator may read
    const readable = (await readableByAggregator(me.ctx.ws)).filter((f) => path.basename(f).startsWith('click'));
    expect(readable).toEqual([]);
    const logged = (await Promise.all(readable.map((f) => fs.readFile(f, 'utf8')))).flatMap(readLoggedViews);
    const byId = new Map(logged.map((v) => [v.pageView, v]));
    const score = scoreAgainstChance(shown.flatMap((s) => ARMS.map((arm) => ({ guess: byId.get(s.pageView)?.[arm] ?? [], truth: new Set(s.lists[arm]), population: root.model.items }))));
    expect(score.hits).toBeLessThanOrEqual(score.chanceBound);
    // control: the page did log every view and click, privately (their per-arm counts go out only in the community round)
    const kept = readLoggedViews(await fs.readFile(me.ctx.ws.privateClickLog('profile_0'), 'utf8'));
    expect(kept.map((v) => v.pageView)).toEqual(shown.map((s) => s.pageView));
  });
});
