import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import { SIGNIFICANCE_LEVEL } from '../aggregator/experiment';
import { lineChartSvg, type ChartSeries, type ChartSpec } from '../eval/chart';
import type { SimulationResult, WeekMetrics } from './loop';

/**
 * The simulation's outputs: `results.json` (the `SimulationResult` printed by
 * `simulate --json`) and one SVG chart per metric and week, in one folder.
 */
const RESULTS_FILE = 'results.json';

const WEEK = 'week';
const fmt = (v: number | null, digits = 3) => (v === null ? '–' : v.toFixed(digits));

/** One chart per metric: file name -> spec (the evaluation's chart: one line per series, dashed references). */
function simulationCharts(result: SimulationResult): Record<string, ChartSpec> {
  const { participants, degradeGlobal, aa, recsPerColumn } = result.params;
  const setting = aa ? 'A/A' : degradeGlobal > 0 ? `global degraded for ${Math.round(degradeGlobal * 100)}%` : 'local vs global';
  const title = (metric: string) => `${metric} (${participants} participants, ${setting})`;
  const line = (name: string, pick: (w: WeekMetrics) => number | null): ChartSeries => ({
    name,
    points: result.weeks.flatMap((w): [number, number][] => {
      const y = pick(w);
      return y === null ? [] : [[w.week, y]];
    }),
  });
  const arms = (pick: (w: WeekMetrics) => Record<'local' | 'global', number | null>) => [line('local', (w) => pick(w).local), line('global', (w) => pick(w).global)];
  return {
    'ctr.svg': { title: title('Click-through rate per week'), xLabel: WEEK, yLabel: 'clicks / impressions', series: arms((w) => w.ctr), references: [] },
    'p-value.svg': {
      title: title('Sign test on the clicks so far'),
      xLabel: WEEK,
      yLabel: '−log10(p): higher is more significant',
      series: [line('−log10(p)', (w) => -Math.log10(w.pValue))],
      references: [{ name: `p = ${SIGNIFICANCE_LEVEL}`, y: -Math.log10(SIGNIFICANCE_LEVEL) }],
    },
    'true-preference.svg': {
      title: title('Hidden tastes favouring the global list'),
      xLabel: WEEK,
      yLabel: 'share of participants',
      series: [line('favour global', (w) => w.truePreference)],
      references: [{ name: 'no preference', y: 0.5 }],
    },
    'ndcg.svg': {
      title: title(`NDCG@${recsPerColumn} against the hidden utility`),
      xLabel: WEEK,
      yLabel: 'mean NDCG',
      series: [...arms((w) => w.ndcg), line('random unseen shows', (w) => w.ndcgRandomBaseline)],
      references: [],
    },
    'epsilon.svg': { title: title('Privacy spent per participant'), xLabel: WEEK, yLabel: 'epsilon (largest total)', series: [line('epsilon', (w) => w.epsilonSpent)], references: [] },
    'round-ms.svg': { title: title('Aggregation round wall time'), xLabel: WEEK, yLabel: 'ms', series: [line('round', (w) => w.roundMs)], references: [] },
  };
}

/** Write results.json and the charts into `outDir` (created); returns the files written. */
export async function writeSimulationResults(outDir: string, result: SimulationResult): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const files = [path.join(outDir, RESULTS_FILE)];
  await writeJsonAtomic(files[0], result);
  for (const [name, spec] of Object.entries(simulationCharts(result))) {
    const file = path.join(outDir, name);
    await writeFileAtomic(file, lineChartSvg(spec));
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
