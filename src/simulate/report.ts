import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import { SIGNIFICANCE_LEVEL } from '../aggregator/experiment';
import { renderLineChart, type LineChartSpec } from './chart';
import type { SimulationResult, WeekMetrics } from './loop';

/**
 * The simulation's outputs: `results.json` (the `SimulationResult` printed by
 * `simulate --json`) and one SVG chart per metric and week, in one folder.
 */
export const RESULTS_FILE = 'results.json';

const WEEK = 'week';
const BASELINE_COLOR = '#999999';
const fmt = (v: number | null, digits = 3) => (v === null ? '–' : v.toFixed(digits));

/** One chart per metric: file name -> spec. */
export function simulationCharts(result: SimulationResult): Record<string, LineChartSpec> {
  const x = result.weeks.map((w) => w.week);
  const arms = (pick: (w: WeekMetrics) => Record<'local' | 'global', number | null>) => [
    { name: 'local', values: result.weeks.map((w) => pick(w).local) },
    { name: 'global', values: result.weeks.map((w) => pick(w).global) },
  ];
  const one = (name: string, pick: (w: WeekMetrics) => number | null) => [{ name, values: result.weeks.map(pick) }];
  const { participants, degradeGlobal, aa, seed, recsPerColumn } = result.params;
  const setting = aa ? 'A/A (same list in both columns)' : degradeGlobal > 0 ? `global list degraded for ${Math.round(degradeGlobal * 100)}%` : 'local vs global';
  const common = { subtitle: `${participants} simulated participants, ${setting}, seed ${seed}`, xLabel: WEEK, x };
  return {
    'ctr.svg': { ...common, title: 'Click-through rate per week', yLabel: 'clicks / impressions', series: arms((w) => w.ctr), yMin: 0 },
    'p-value.svg': {
      ...common,
      title: 'Sign test p-value on the clicks so far',
      yLabel: 'p (log scale)',
      series: one('p-value', (w) => w.pValue),
      logY: true,
      yMax: 1,
      guides: [{ value: SIGNIFICANCE_LEVEL, label: `α = ${SIGNIFICANCE_LEVEL}` }],
    },
    'true-preference.svg': {
      ...common,
      title: 'Hidden tastes favouring the global list',
      yLabel: 'share of participants',
      series: one('favour global', (w) => w.truePreference),
      yMin: 0,
      yMax: 1,
      guides: [{ value: 0.5, label: 'no preference' }],
    },
    'ndcg.svg': {
      ...common,
      title: `NDCG@${recsPerColumn} against the hidden utility`,
      yLabel: 'mean NDCG',
      series: [...arms((w) => w.ndcg), { name: 'random shows', values: result.weeks.map((w) => w.ndcgRandomBaseline), color: BASELINE_COLOR }],
      yMin: 0,
    },
    'epsilon.svg': { ...common, title: 'Privacy spent per participant', yLabel: 'epsilon (largest total)', series: one('epsilon', (w) => w.epsilonSpent), yMin: 0 },
    'round-ms.svg': { ...common, title: 'Aggregation round wall time', yLabel: 'ms', series: one('round', (w) => w.roundMs), yMin: 0 },
  };
}

/** Write results.json and the charts into `outDir` (created); returns the files written. */
export async function writeSimulationResults(outDir: string, result: SimulationResult): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const files = [path.join(outDir, RESULTS_FILE)];
  await writeJsonAtomic(files[0], result);
  for (const [name, spec] of Object.entries(simulationCharts(result))) {
    const file = path.join(outDir, name);
    await writeFileAtomic(file, renderLineChart(spec));
    files.push(file);
  }
  return files;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The stderr progress line after a week. */
export function formatWeekProgress(week: WeekMetrics, total: number, participants: number): string {
  const perWeek = week.elapsedMs / week.week;
  const eta = perWeek * (total - week.week);
  const c = week.counts;
  return (
    `week ${week.week}/${total}: ${participants} participants, ${c.deltasAccepted} deltas merged into Global_V v${c.globalVersion}, ` +
    `${c.pageViews} page views, clicks local ${c.clicks.local} / global ${c.clicks.global}, p = ${fmt(week.pValue, 4)}; ` +
    `${seconds(week.elapsedMs)} elapsed, ETA ${seconds(eta)}`
  );
}

/** A human summary of a finished run (stdout without --json). */
export function formatSummary(result: SimulationResult, files: readonly string[]): string {
  const header = ['week', 'ctr local', 'ctr global', 'p-value', 'true pref', 'ndcg local', 'ndcg global', 'ndcg random', 'epsilon', 'round ms'];
  const rows = result.weeks.map((w) => [
    String(w.week),
    fmt(w.ctr.local),
    fmt(w.ctr.global),
    fmt(w.pValue, 4),
    fmt(w.truePreference),
    fmt(w.ndcg.local),
    fmt(w.ndcg.global),
    fmt(w.ndcgRandomBaseline),
    fmt(w.epsilonSpent, 2),
    String(w.roundMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  const last = result.weeks.at(-1);
  const verdict = !last
    ? 'no weeks run'
    : last.pValue < SIGNIFICANCE_LEVEL
      ? `the experiment report prefers the ${last.counts.preferGlobal > last.counts.preferLocal ? 'global' : 'local'} model (p = ${fmt(last.pValue, 4)})`
      : `the experiment report sees no significant preference (p = ${fmt(last.pValue, 4)})`;
  return [
    `simulated ${result.params.participants} participants for ${result.weeks.length} weeks (seed ${result.params.seed}, rank ${result.params.rank}) in ${seconds(result.wallMs)}, peak RSS ${result.peakRssMb} MB`,
    `title match rate of the generated histories: ${(result.titleMatchRate * 100).toFixed(2)}%`,
    '',
    line(header),
    ...rows.map(line),
    '',
    `verdict: ${verdict}`,
    `ledger: ${result.ledgerOk ? 'verifies' : `FAILS (${result.ledger.problems.join('; ')})`} (${result.ledger.entries} rounds, ${result.ledger.lastDeltasIncluded}/${result.ledger.participants} last deltas merged)`,
    `audit: ${result.auditOk === null ? 'skipped' : result.auditOk ? 'no privacy violation' : `${result.auditViolations} violations`}`,
    `wrote ${files.join(', ')}`,
    '',
  ].join('\n');
}
