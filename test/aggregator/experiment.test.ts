import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { analyzeClicks, writeExperimentReport, type ExperimentRow } from '../../src/aggregator/experiment';
import { publishClickCounts } from '../../src/participant/click-counts';
import { ClickLog, clickLogFile } from '../../src/participant/clicks';
import { readPrivacyLedger } from '../../src/participant/state';
import { discreteLaplaceNoise } from '../../src/shared/privacy';
import type { Arm, ClickRow, PageViewRow } from '../../src/shared/clicks';
import { silentLogger } from '../../src/shared/log';
import { writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';

const AT = '2026-11-21T16:00:00.000Z';
const APP = 'syftbox-netflix-svd';
const AGGREGATOR = 'aggregator@example.org';

/** The page behind every view: local shows [1, 2, 3], global [3, 4, 5] (the rows carry only the counts). */
const LISTS: Record<Arm, number[]> = { local: [1, 2, 3], global: [3, 4, 5] };

function view(pageView: string, left: Arm = 'local'): PageViewRow {
  return { v: 2, type: 'view', pageView, left, shown: { local: 3, global: 3 }, versions: { global: 1, localBase: 1 } };
}

/** A click on show `item` of `arm` for the view made by `view(pageView, left)`; a show not in the list gets the rank after the last. */
function click(pageView: string, arm: Arm, item: number, left: Arm = 'local'): ClickRow {
  const side = arm === left ? 'left' : 'right';
  const rank = LISTS[arm].indexOf(item) + 1 || LISTS[arm].length + 1;
  return { v: 2, type: 'click', pageView, side, arm, rank };
}

/** Rows of one participant with `local` and `global` clicks on one page view. */
function participantRows(participant: string, local: number, global: number): ExperimentRow[] {
  const pageView = `${participant.replace(/[^a-z0-9]/g, '')}-view`;
  const rows = [view(pageView), ...[1, 2, 3].slice(0, local).map((i) => click(pageView, 'local', i)), ...[3, 4, 5].slice(0, global).map((i) => click(pageView, 'global', i))];
  return rows.map((r) => ({ ...r, participant }));
}

describe('analyzeClicks', () => {
  it('runs the sign test on participants with a preference and drops ties', () => {
    const rows = [
      ...Array.from({ length: 9 }, (_, i) => participantRows(`p${i}@x.org/profile_0`, 0, 2)).flat(),
      ...participantRows('p9@x.org/profile_0', 2, 1),
      ...participantRows('tie@x.org/profile_0', 1, 1),
      ...participantRows('idle@x.org/profile_0', 0, 0),
    ];
    const a = analyzeClicks(rows);
    expect(a.signTest).toMatchObject({ decisive: 10, preferGlobal: 9, preferLocal: 1, ties: 1, withoutClicks: 1 });
    expect(a.signTest.pValue).toBeCloseTo(0.021484, 5);
    expect(a.preferenceShare.global).toBeCloseTo(0.9);
    const [lo, hi] = a.preferenceShare.ci95!;
    expect(lo).toBeLessThanOrEqual(0.9);
    expect(hi).toBe(1);
    expect(a.pageViews).toBe(12);
    expect(a.arms.local).toEqual({ impressions: 36, clicks: 3, clickRate: 3 / 36 });
    expect(a.arms.global.clicks).toBe(20);
    expect(a.participants).toHaveLength(12);
    expect(a.sampleSize).toEqual({ assumedShare: 0.6, alpha: 0.05, power: 0.8, decisiveNeeded: 194, moreDecisiveNeeded: 184 });
  });

  it('counts a repeated click once and ignores clicks on shows that were not in that column', () => {
    const p = 'a@x.org/profile_0';
    const rows: ExperimentRow[] = [
      view('view-0001', 'global'),
      click('view-0001', 'global', 4, 'global'),
      click('view-0001', 'global', 4, 'global'),
      { ...click('view-0001', 'local', 1, 'global'), side: 'left' as const }, // local was on the right
      click('view-0001', 'local', 9, 'global'), // not shown
      click('view-9999', 'local', 1), // unknown page view
    ].map((r) => ({ ...r, participant: p }));
    const a = analyzeClicks(rows);
    expect(a.arms.global.clicks).toBe(1);
    expect(a.arms.local.clicks).toBe(0);
    expect(a.sides).toEqual({ left: 1, right: 0 });
    expect(a.ignoredClicks).toBe(4);
  });

  it('keeps page views of different participants apart even with equal ids', () => {
    const rows: ExperimentRow[] = [
      { ...view('same-view-id'), participant: 'a@x.org/profile_0' },
      { ...click('same-view-id', 'global', 4), participant: 'b@x.org/profile_0' },
    ];
    expect(analyzeClicks(rows).ignoredClicks).toBe(1);
  });

  it('reports nothing decisive for no rows', () => {
    const a = analyzeClicks([]);
    expect(a.signTest.pValue).toBe(1);
    expect(a.preferenceShare).toMatchObject({ global: null, ci95: null });
    expect(a.arms.global.clickRate).toBeNull();
  });

  it('is reproducible for the same seed', () => {
    const rows = [...participantRows('a@x.org/profile_0', 0, 1), ...participantRows('b@x.org/profile_0', 1, 0), ...participantRows('c@x.org/profile_0', 0, 2)];
    expect(analyzeClicks(rows, { random: createRandom(4) })).toEqual(analyzeClicks(rows, { random: createRandom(4) }));
  });
});

describe('writeExperimentReport', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'experiment-'));
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  /** A plain-mode participant whose page logged `rows` privately, then published its week's noised counts (ε large: noise ~0). */
  async function participant(email: string, rows: (PageViewRow | ClickRow)[], readers: string[] = [AGGREGATOR], epsilon = 100): Promise<Workspace> {
    createEmbeddedDatasite(dataDir, email);
    const ws = new Workspace({ email, dataDir }, APP);
    await writePermissions(ws.appData(), { rules: [{ pattern: '**', access: { read: readers } }] });
    const log = new ClickLog(clickLogFile(ws, 'profile_0'), { logger: silentLogger, private: true });
    for (const row of rows) await log.append(row);
    await log.flushed();
    const config = { SECURE_AGGREGATION: 'off' as const, INSIGHTS_EPSILON: epsilon, PRIVACY_BUDGET_EPSILON: 1000, DP_DELTA: 1e-5, PRIVACY_PERIOD_DAYS: 365 };
    await publishClickCounts({ config, ws, logger: silentLogger, now: () => new Date(AT), noiseRandom: () => createRandom(email.length) }, 'profile_0');
    return ws;
  }

  it('merges every readable click-count file, skips forbidden and malformed ones; no raw log, no ids, no times', async () => {
    createEmbeddedDatasite(dataDir, AGGREGATOR);
    const ws = new Workspace({ email: AGGREGATOR, dataDir }, APP);
    const alice = await participant('alice@example.org', [view('alice-view-1'), click('alice-view-1', 'global', 4), click('alice-view-1', 'global', 5)]);
    await participant('bob@example.org', [view('bob-view-1'), click('bob-view-1', 'global', 3)]);
    await participant('carol@example.org', [view('carol-view-1'), click('carol-view-1', 'local', 2)], []); // not shared with the aggregator
    const dave = await participant('dave@example.org', [view('dave-view-1')]);
    await fs.writeFile(dave.clickCounts('profile_0'), JSON.stringify({ format: 'syftbox-netflix-svd/click-counts', formatVersion: 1, weeks: 'all' }));

    const published = await fs.readFile(alice.clickCounts('profile_0'), 'utf8');
    expect(Object.keys(JSON.parse(published)).sort()).toEqual(['format', 'formatVersion', 'maxPerArm', 'mechanism', 'weeks']);
    expect(JSON.parse(published).weeks).toEqual([{ week: '2026-W46', epsilon: 100, local: 0, global: 2 }]);
    expect(published).not.toMatch(/alice-view|pageView|"at"|T\d\d:\d\d/);
    expect(existsSync(alice.clickLog('profile_0'))).toBe(false);

    const { report, jsonFile, htmlFile } = await writeExperimentReport(ws, { now: () => new Date(AT), random: createRandom(1), logger: silentLogger });
    expect(jsonFile).toBe(path.join(ws.aggregatorDir(AGGREGATOR), 'experiment', 'report.json'));
    expect(report.counts).toEqual({ read: 2, skipped: 2 });
    expect(report.arms).toEqual({ local: { clicks: 0 }, global: { clicks: 3 } });
    expect(report.signTest).toMatchObject({ decisive: 2, preferGlobal: 2, preferLocal: 0 });
    expect(report.signTest.pValue).toBe(0.5);
    expect(report.createdAt).toBe(AT);

    const json = await fs.readFile(jsonFile, 'utf8');
    expect(JSON.parse(json)).toMatchObject({ format: 'syftbox-netflix-svd/experiment', formatVersion: 2 });
    const html = await fs.readFile(htmlFile, 'utf8');
    expect(html).toContain('Local vs global recommendations');
    for (const text of [json, html]) {
      expect(text).not.toMatch(/@|profile_\d|alice|bob/);
    }
  });

  it('at INSIGHTS_EPSILON = 1 the counts carry noise, each week is one ledger spend, and the same week spends nothing again', async () => {
    const rows = [view('erin-view-1'), click('erin-view-1', 'global', 4)];
    const ws = await participant('erin@example.org', rows, [AGGREGATOR], 1);
    const file = ws.clickCounts('profile_0');
    const first = await fs.readFile(file, 'utf8');
    const config = { SECURE_AGGREGATION: 'off' as const, INSIGHTS_EPSILON: 1, PRIVACY_BUDGET_EPSILON: 50, DP_DELTA: 1e-5, PRIVACY_PERIOD_DAYS: 365 };
    const ctx = { config, ws, logger: silentLogger, now: () => new Date(AT), noiseRandom: () => createRandom(99) };
    expect((await publishClickCounts(ctx, 'profile_0')).status).toBe('unchanged');
    expect(await fs.readFile(file, 'utf8')).toBe(first);
    const ledger = await readPrivacyLedger(ws.privateDir('profile_0'));
    expect(ledger.entries.map((e) => [e.kind, e.mechanism, e.dp])).toEqual([['clicks', 'discrete-laplace', { epsilon: 1, delta: 0 }]]);
    // the noise: many draws at scale 2·5/1 = 10 have the discrete Laplace variance 2p/(1 − p)², p = e^(−1/10)
    const random = createRandom(5);
    const draws = Array.from({ length: 20000 }, () => discreteLaplaceNoise(10, random));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const variance = draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length;
    const p = Math.exp(-0.1);
    expect(Math.abs(mean)).toBeLessThan(0.5);
    expect(variance / ((2 * p) / (1 - p) ** 2)).toBeGreaterThan(0.93);
    expect(variance / ((2 * p) / (1 - p) ** 2)).toBeLessThan(1.07);
    // over budget: refused, nothing recorded
    const broke = { ...ctx, config: { ...config, PRIVACY_BUDGET_EPSILON: 1 }, now: () => new Date('2026-12-01T12:00:00Z') };
    expect((await publishClickCounts(broke, 'profile_0')).status).toBe('skipped');
    expect((await readPrivacyLedger(ws.privateDir('profile_0'))).entries).toHaveLength(1);
  });

  it('writes an empty report before anyone has clicked', async () => {
    createEmbeddedDatasite(dataDir, AGGREGATOR);
    const ws = new Workspace({ email: AGGREGATOR, dataDir }, APP);
    const { report, htmlFile } = await writeExperimentReport(ws, { now: () => new Date(AT), random: createRandom(1), logger: silentLogger });
    expect(report.counts.read).toBe(0);
    expect(report.participants).toEqual([]);
    expect(await fs.readFile(htmlFile, 'utf8')).toContain('No participant has clicked');
  });
});
