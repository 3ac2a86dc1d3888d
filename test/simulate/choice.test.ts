import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeClicks, SIGNIFICANCE_LEVEL, TARGET_POWER, type ExperimentAnalysis, type ExperimentRow } from '../../src/aggregator/experiment';
import { parseClickLogRow, type Arm } from '../../src/shared/clicks';
import { loadCatalog } from '../../src/shared/catalog';
import { createRandom, deriveSeed } from '../../src/shared/random';
import { signTestSampleSize } from '../../src/shared/stats';
import { DEFAULT_CHOICE, examination, gradedNdcg, listValue, pageViewId, simulatePageView, truePreference } from '../../src/simulate/choice';
import { bestItems, createTaste, createWorld, utilities } from '../../src/simulate/population';

const VERSIONS = { global: 3, localBase: 2 };
const constant = (u: number) => () => u;

describe('choice model', () => {
  it('examination is θ_column · rank^(−η)', () => {
    expect(examination('left', 1, DEFAULT_CHOICE)).toBe(1);
    expect(examination('right', 1, DEFAULT_CHOICE)).toBeCloseTo(0.8);
    expect(examination('left', 4, DEFAULT_CHOICE)).toBeCloseTo(0.25);
    expect(examination('right', 2, { columnBias: { left: 1, right: 0.5 }, positionDecay: 2 })).toBeCloseTo(0.125);
  });

  it('clicks each card with probability θ_c · r^(−η) · u, and draws the left arm half the time', () => {
    const random = createRandom(11);
    const views = 20_000;
    const u = 0.5;
    const lists = { local: [1, 2, 3, 4, 5], global: [6, 7, 8, 9, 10] };
    const clicks = { left: new Float64Array(6), right: new Float64Array(6) };
    let localLeft = 0;
    for (let v = 0; v < views; v++) {
      const page = simulatePageView({ pageView: pageViewId(random), lists, versions: VERSIONS, utility: constant(u), chosen: new Set(), random });
      if (page.view.left === 'local') localLeft++;
      for (const c of page.clicks) clicks[c.side][c.rank]++;
    }
    const within = (observed: number, expected: number, n: number) => expect(Math.abs(observed - expected)).toBeLessThan(4 * Math.sqrt((expected * (1 - expected)) / n));
    within(localLeft / views, 0.5, views);
    for (const side of ['left', 'right'] as const) {
      for (let rank = 1; rank <= 5; rank++) within(clicks[side][rank] / views, examination(side, rank, DEFAULT_CHOICE) * u, views);
    }
  });

  it('writes rows the click log accepts, naming the arm shown in the clicked column', () => {
    const random = createRandom(3);
    const lists = { local: [10, 20, 30], global: [40, 50, 60] };
    for (let v = 0; v < 50; v++) {
      const page = simulatePageView({ pageView: pageViewId(random), lists, versions: VERSIONS, utility: constant(0.9), chosen: new Set(), random });
      expect(parseClickLogRow(JSON.parse(JSON.stringify(page.view)))).toEqual(page.view);
      for (const click of page.clicks) {
        expect(parseClickLogRow(JSON.parse(JSON.stringify(click)))).toEqual(click);
        expect(click.arm).toBe(click.side === 'left' ? page.view.left : page.view.left === 'local' ? 'global' : 'local');
        expect(lists[click.arm][click.rank - 1]).toBe(page.clickedItems[page.clicks.indexOf(click)]);
      }
    }
  });

  it('never clicks a show already chosen, and a show in both columns at most once', () => {
    const random = createRandom(5);
    const chosen = new Set([1]);
    for (let v = 0; v < 200; v++) {
      const page = simulatePageView({ pageView: pageViewId(random), lists: { local: [1, 2, 3], global: [3, 2, 1] }, versions: VERSIONS, utility: constant(1), chosen, random });
      const items = page.clickedItems;
      expect(items).toHaveLength(page.clicks.length);
      expect(items).not.toContain(1);
      expect(new Set(items).size).toBe(items.length);
    }
    expect(chosen).toEqual(new Set([1, 2, 3]));
  });
});

describe('ground truth', () => {
  const u = [0.9, 0.5, 0.1, 0.0, 0.7];
  const utility = (item: number) => u[item];

  it('values a list by Σ r^(−η) u and prefers the higher value; identical lists are no preference', () => {
    expect(listValue([0, 1], utility)).toBeCloseTo(0.9 + 0.5 / 2);
    expect(truePreference({ local: [0, 1], global: [2, 3] }, utility)).toBe('local');
    expect(truePreference({ local: [2, 3], global: [4, 0] }, utility)).toBe('global');
    expect(truePreference({ local: [0, 1], global: [0, 1] }, utility)).toBeNull();
  });

  it('NDCG is 1 for the ideal list, lower for worse orders, 0 for shows of no utility', () => {
    const ideal = [0, 4];
    expect(gradedNdcg([0, 4], ideal, utility)).toBeCloseTo(1);
    expect(gradedNdcg([4, 0], ideal, utility)).toBeLessThan(1);
    expect(gradedNdcg([2, 1], ideal, utility)).toBeLessThan(gradedNdcg([4, 0], ideal, utility));
    expect(gradedNdcg([3], [3], utility)).toBe(0);
  });
});

/**
 * The experiment's statistics on the pure choice model (no files: the full loop
 * would take minutes for these sample sizes). Participants get real hidden tastes;
 * a "model" list is their top shows under noisy utilities; the planted difference
 * gives a share of them the shows they like least as the global list.
 */
describe('the experiment report on simulated clicks', () => {
  const POOL = 600;
  const LIST = 5;
  const VIEWS = 2;
  const RUNS = 40;
  const MODEL_NOISE = 0.2;
  interface Unit {
    utility: Map<number, number>;
    model: number[];
    worst: number[];
  }
  let pool: Unit[];

  beforeAll(async () => {
    const catalog = await loadCatalog();
    const world = createWorld(catalog, 21);
    const random = createRandom(21);
    pool = Array.from({ length: POOL }, (_, i) => {
      const u = utilities(world, createTaste(world, 21, i));
      const noisy = u.map((x) => x + MODEL_NOISE * random.normal());
      const model = bestItems(noisy, LIST, new Set());
      const worst = bestItems(u.map((x) => -x), LIST, new Set());
      return { utility: new Map([...model, ...worst].map((item) => [item, u[item]])), model, worst };
    });
  });

  /** P participants drawn from the pool, each shown VIEWS pages; the report's analysis of their rows. */
  function experiment(seed: number, participants: number, degradeShare: number): ExperimentAnalysis {
    const random = createRandom(seed);
    const rows: ExperimentRow[] = [];
    for (let p = 0; p < participants; p++) {
      const unit = pool[random.int(POOL)];
      const degraded = random.next() < degradeShare;
      const lists: Record<Arm, number[]> = { local: unit.model, global: degraded ? unit.worst : unit.model };
      const chosen = new Set<number>();
      for (let v = 0; v < VIEWS; v++) {
        const page = simulatePageView({ pageView: pageViewId(random), lists, versions: VERSIONS, utility: (item) => unit.utility.get(item)!, chosen, random });
        for (const row of [page.view, ...page.clicks]) rows.push({ ...row, participant: `p${p}` });
      }
    }
    return analyzeClicks(rows, { bootstrapSamples: 1 });
  }

  const rejects = (a: ExperimentAnalysis) => a.signTest.pValue < SIGNIFICANCE_LEVEL;
  const seeds = (label: string) => Array.from({ length: RUNS }, (_, i) => deriveSeed(99, `${label}/${i}`));

  it('A/A (the same list in both columns): rejects in at most 5% + 3 SE of 40 seeded runs', () => {
    const alpha = SIGNIFICANCE_LEVEL;
    const rate = seeds('aa').filter((seed) => rejects(experiment(seed, 400, 0))).length / RUNS;
    expect(rate).toBeLessThanOrEqual(alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / RUNS));
  });

  it('a planted difference is detected, towards local, with the power the sample-size formula promises', () => {
    const degradeShare = 0.2;
    // pilot: the share of decisive participants preferring global, and how many participants are decisive
    const pilot = experiment(deriveSeed(99, 'pilot'), 6000, degradeShare);
    const share = pilot.signTest.preferGlobal / pilot.signTest.decisive;
    expect(share).toBeLessThan(0.5);
    const decisiveRate = pilot.signTest.decisive / 6000;
    const needed = signTestSampleSize({ share, alpha: SIGNIFICANCE_LEVEL, power: TARGET_POWER });
    const participants = Math.ceil(needed / decisiveRate);

    const runs = seeds('planted').map((seed) => experiment(seed, participants, degradeShare));
    const significant = runs.filter(rejects);
    const power = significant.length / RUNS;
    expect(power).toBeGreaterThanOrEqual(TARGET_POWER - 3 * Math.sqrt((TARGET_POWER * (1 - TARGET_POWER)) / RUNS));
    for (const run of significant) expect(run.signTest.preferLocal).toBeGreaterThan(run.signTest.preferGlobal);
  });
});
