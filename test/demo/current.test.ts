import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoRoot, demoHistories, publishDemoExtras, runDemoRounds, shiftToToday, writeCurrentHistory, YOUR_DEMO_HISTORY, type DemoRoot } from '../../src/demo/embedded';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig } from '../../src/shared/config';
import { readHistory } from '../../src/shared/history';
import { silentLogger } from '../../src/shared/log';
import { TREND_WEEKS } from '../../src/shared/community';
import { isoWeek, lastCompleteWeek } from '../../src/shared/weeks';
import { buildApp } from '../../src/participant/server/app';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'demo-current-'));
const FAR_FUTURE = new Date('2100-01-01T00:00:00Z');

describe('shipped histories moved to the present', () => {
  it('moves every date by one offset so the newest is today, keeping order and gaps', () => {
    const events = [
      { title: 'B', date: '2021-09-30' },
      { title: 'A', date: '2021-09-28' },
      { title: 'C', date: '2020-12-31' },
    ];
    expect(shiftToToday(events, '2026-03-11')).toEqual([
      { title: 'B', date: '2026-03-11' },
      { title: 'A', date: '2026-03-09' },
      { title: 'C', date: '2025-06-11' }, // 273 days before, as 2020-12-31 is before 2021-09-30
    ]);
    expect(shiftToToday([], '2026-03-11')).toEqual([]);
  });

  it('writes an export the parser reads back with the same titles, ending today', async () => {
    const now = new Date();
    const source = demoHistories()[0];
    const target = path.join(tmp(), 'NetflixViewingHistory.csv');
    await writeCurrentHistory(source, target, now);
    const original = await readHistory(source, { now: FAR_FUTURE });
    const moved = await readHistory(target, { now });
    expect(moved.lastDate).toBe(now.toISOString().slice(0, 10));
    expect(moved.events.map((e) => e.title)).toEqual(original.events.map((e) => e.title));
    expect(moved.skipped).toEqual(expect.not.objectContaining({ future: expect.any(Number) }));
  });

  it('gives you viewing in the last complete week whatever the weekday', async () => {
    expect(path.basename(demoHistories()[0])).toBe(YOUR_DEMO_HISTORY);
    const { events } = await readHistory(demoHistories()[0], { now: FAR_FUTURE });
    for (let day = 0; day < 7; day++) {
      const now = new Date(Date.UTC(2026, 2, 9 + day, 12));
      const week = lastCompleteWeek(now);
      expect(shiftToToday(events, now.toISOString().slice(0, 10)).filter((e) => isoWeek(e.date) === week).length, week).toBeGreaterThan(0);
    }
  });
});

describe('the first run of the demo', () => {
  let root: DemoRoot;
  let catalog: Catalog;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    const local = path.join(tmp(), 'local-syftbox');
    const config = loadConfig({ env: { LOCAL_ROOT: local, OUTPUT_DIR: path.join(local, 'no-own-export'), MODEL_RANK: '4', LOG_LEVEL: 'silent' }, dotenv: false });
    catalog = await loadCatalog(null);
    root = await buildDemoRoot(config, catalog, silentLogger);
    const rounds = await runDemoRounds(root, { minRounds: 1, maxRounds: 4 });
    await publishDemoExtras(root, rounds.at(-1)!, config, catalog);
  }, 600_000);
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('shows data in every panel: your last week, the community, its trend, "am I watching too much?"', async () => {
    const me = root.participants[0];
    const app = buildApp({ config: me.ctx.config, workspace: me.ctx.ws, catalog, profile: 'profile_0', logger: silentLogger });
    closers.push(() => app.close());
    const insights = (await app.inject('/api/insights')).json() as {
      state: string;
      personal: { lastWeek: { week: string; plays: number } };
      comparison: { week: string; plays: number } | null;
    };
    const community = (await app.inject('/api/community')).json() as {
      state: string;
      stats: { week: string; participants: number; trend: { week: string; participants: number; mean: number | null }[] } | null;
    };
    const lastWeek = lastCompleteWeek(new Date());

    expect(insights.state).toBe('ready');
    expect(insights.personal.lastWeek).toMatchObject({ week: lastWeek, plays: expect.any(Number) });
    expect(insights.personal.lastWeek.plays).toBeGreaterThan(0);

    expect(community.state).toBe('ready');
    expect(community.stats).toMatchObject({ week: lastWeek, participants: root.participants.length });
    expect(community.stats!.trend).toHaveLength(TREND_WEEKS);
    expect(community.stats!.trend.every((t) => t.participants === root.participants.length && t.mean !== null)).toBe(true);

    expect(insights.comparison).toMatchObject({ week: lastWeek });
    expect(insights.comparison!.plays).toBe(insights.personal.lastWeek.plays);
  });
});
