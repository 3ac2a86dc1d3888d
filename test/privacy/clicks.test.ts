import { promises as fs } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARMS, type Arm } from '../../src/shared/clicks';
import { buildApp } from '../../src/participant/server/app';
import type { PageData } from '../../src/participant/server/routes';
import { createRandom } from '../../src/shared/random';
import { readLoggedViews, scoreAgainstChance, type LoggedView, type Trial } from './attacks';
import { createAttackRoot, runUntilGranted, UNPROTECTED, type AttackRoot } from './harness';

/**
 * Issue 20, attack (d): the aggregator reads a participant's click log
 * (`profile_<n>/clicks.jsonl`, readable by the aggregator by design, for the
 * click experiment) and learns both top-N lists of every page view, with
 * millisecond timestamps. The local list is a ranking of the private model;
 * the global one is u·Global_V, also personal.
 *
 * Protection: the log (version 2) carries what the experiment needs (which
 * arm was clicked, at which rank, how many shows each column held) and no
 * show ids and no times. Control: the same page views as the version-1 rows
 * the previous code wrote, which the attack reads back completely. Upgrade: a
 * version-1 log left by an older install is rewritten before the next append.
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
  logFile = me.ctx.ws.clickLog('profile_0');
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

  it('protected (the log the page writes): no better than guessing, and no times', async () => {
    const logged = readLoggedViews(await fs.readFile(logFile, 'utf8'));
    expect(logged.map((v) => v.pageView)).toEqual(served.map((s) => s.pageView));
    const score = scoreAgainstChance(trials(logged));
    expect(score.hits).toBeLessThanOrEqual(score.chanceBound);
    expect(logged.every((v) => v.at === '')).toBe(true);
  });

  it('a version-1 log left by an older install is rewritten before the next click is appended', async () => {
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
});
