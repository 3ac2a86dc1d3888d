import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experimentDir, type ExperimentReport } from '../../src/aggregator/experiment';
import { readClickLog } from '../../src/shared/clicks';
import { loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig, type Config } from '../../src/shared/config';
import { readHistory } from '../../src/shared/history';
import { silentLogger } from '../../src/shared/log';
import { canRead } from '../../src/shared/permissions';
import { Workspace } from '../../src/shared/workspace';
import { DEFAULT_SIMULATION, runSimulation, SIM_AGGREGATOR, type SimulationOptions, type SimulationResult, type WeekMetrics } from '../../src/simulate/loop';

let catalog: Catalog;
let config: Config;
let dir: string;

beforeAll(async () => {
  catalog = await loadCatalog();
  config = loadConfig({ env: {}, dotenv: false });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sim-loop-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const simulate = (options: Partial<SimulationOptions>) => runSimulation({ ...DEFAULT_SIMULATION, rank: 8, ...options }, { config, catalog, logger: silentLogger });
/** A week's metrics without the wall times. */
const metricsOf = ({ roundMs: _r, timingsMs: _t, elapsedMs: _e, ...rest }: WeekMetrics) => rest;

describe('the closed loop', () => {
  let result: SimulationResult;
  let root: string;
  const participants = 10;

  beforeAll(async () => {
    root = path.join(dir, 'kept-root');
    result = await simulate({ participants, weeks: 2, viewsPerWeek: 2, seed: 5, root });
  });

  it('reports every week, with a verifying ledger and a clean audit', () => {
    expect(result.weeks.map((w) => w.week)).toEqual([1, 2]);
    for (const week of result.weeks) {
      expect(Object.keys(week)).toEqual(expect.arrayContaining(['week', 'ctr', 'pValue', 'truePreference', 'ndcg', 'epsilonSpent', 'roundMs']));
      expect(week.counts).toMatchObject({ deltasPublished: participants, deltasAccepted: participants, failedPasses: 0, globalVersion: week.week, participantsShown: participants, pageViews: 2 * participants });
      expect(week.pValue).toBeGreaterThan(0);
      expect(week.pValue).toBeLessThanOrEqual(1);
      for (const ndcg of [week.ndcg.local, week.ndcg.global, week.ndcgRandomBaseline]) {
        expect(ndcg).toBeGreaterThan(0);
        expect(ndcg).toBeLessThanOrEqual(1);
      }
    }
    expect(result.ledgerOk).toBe(true);
    expect(result.ledger).toEqual({ entries: 2, problems: [], lastDeltasIncluded: participants, participants });
    expect(result.auditOk).toBe(true);
    expect(result.titleMatchRate).toBeGreaterThan(0.98);
    expect(result.root).toBe(root);
  });

  it('leaves the experiment report the aggregator wrote from the noised click counts on disk', async () => {
    const ws = new Workspace({ email: SIM_AGGREGATOR, dataDir: root }, config.APP_NAME);
    const report = JSON.parse(await fs.readFile(path.join(experimentDir(ws), 'report.json'), 'utf8')) as ExperimentReport;
    expect(report.counts.read).toBe(participants);
    expect(report.participants.map((u) => u.weeks)).toEqual(Array(participants).fill(result.weeks.length));
    // at most the true total (each week is clipped to MAX_CLICKS_PER_ARM per arm) plus 4 standard errors of the noise
    const truth = result.weeks.reduce((n, w) => n + w.counts.clicks.local + w.counts.clicks.global, 0);
    expect(report.arms.local.clicks + report.arms.global.clicks).toBeLessThan(truth + 4 * Math.SQRT2 * report.clicksSe);
    expect(report.signTest.pValue).toBe(result.weeks[1].pValue);
  });

  it('keeps click logs private, publishes click counts only the aggregator may read, and appends the week\'s shows (found and clicked) to the exports, dated in their week', async () => {
    const ws = new Workspace({ email: SIM_AGGREGATOR, dataDir: root }, config.APP_NAME);
    const [first, second] = ['participant-00001@sim.example', 'participant-00002@sim.example'];
    expect(existsSync(ws.clickLog('profile_0', first))).toBe(false);
    const counts = ws.clickCounts('profile_0', first);
    expect(await canRead(ws.datasitesDir, SIM_AGGREGATOR, counts)).toBe(true);
    expect(await canRead(ws.datasitesDir, second, counts)).toBe(false);

    let clicked = 0;
    for (let i = 1; i <= participants; i++) {
      const email = `participant-${String(i).padStart(5, '0')}@sim.example`;
      const rows = (await readClickLog(new Workspace({ email, dataDir: root }, config.APP_NAME).privateClickLog('profile_0')))!.rows;
      expect(rows.filter((r) => r.type === 'view')).toHaveLength(4);
      const clicks = rows.filter((r) => r.type === 'click').length;
      const history = await readHistory(path.join(root, 'exports', email, 'profile_0', 'NetflixViewingHistory.csv'), { dateOrder: 'mdy', now: new Date('2025-01-20T00:00:00Z') });
      const inWeeks = history.events.filter((e) => e.date >= '2025-01-06');
      // one show found without the page each week, plus every click, each at least one row
      expect(new Set(inWeeks.map((e) => e.show)).size).toBe(2 + clicks);
      expect(inWeeks.every((e) => e.date <= '2025-01-19')).toBe(true);
      clicked += clicks;
    }
    expect(clicked).toBeGreaterThan(0);
  });

  it('refuses to build into a folder that is not empty', async () => {
    await expect(simulate({ participants: 2, weeks: 1, root })).rejects.toMatchObject({ code: 'ERR_USAGE' });
  });
});

describe('simulation settings', () => {
  it('is reproducible: the same seed gives the same weeks', async () => {
    const a = await simulate({ participants: 5, weeks: 1, seed: 9 });
    const b = await simulate({ participants: 5, weeks: 1, seed: 9 });
    expect(a.weeks.map(metricsOf)).toEqual(b.weeks.map(metricsOf));
    expect(a.root).toBeNull();
  });

  it('a global list degraded for everyone is seen by the hidden tastes, the NDCG and the experiment report', async () => {
    const result = await simulate({ participants: 20, weeks: 1, viewsPerWeek: 3, degradeGlobal: 1, seed: 2 });
    const [week] = result.weeks;
    expect(week.truePreference).toBe(0);
    expect(week.ndcg.global!).toBeLessThan(week.ndcg.local!);
    expect(week.ndcg.global!).toBeLessThan(week.ndcgRandomBaseline!);
    expect(week.counts.clicks.local).toBeGreaterThan(week.counts.clicks.global);
    expect(week.counts.preferLocal).toBeGreaterThan(week.counts.preferGlobal);
  });

  it('A/A shows the same list in both columns: no true preference, equal NDCG', async () => {
    const result = await simulate({ participants: 6, weeks: 1, aa: true, seed: 4 });
    const [week] = result.weeks;
    expect(week.truePreference).toBeNull();
    expect(week.ndcg.global).toBe(week.ndcg.local);
  });

  it('counts the epsilon every participant spends, as its privacy ledger composes it: one DP run (two rounds) within DP_EPSILON, no second run within the period', async () => {
    const result = await simulate({ participants: 3, weeks: 3, epsilon: 2, seed: 6 });
    const [count, run, after] = result.weeks.map((w) => w.epsilonSpent);
    expect(count).toBeGreaterThan(0);
    expect(run).toBeGreaterThan(count);
    expect(run).toBeLessThanOrEqual(2);
    expect(after).toBe(run);
    expect(result.ledgerOk).toBe(true);
  });
});
