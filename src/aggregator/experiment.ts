import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import { formatError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { readableHere } from '../shared/permissions';
import { createRandom, type Random } from '../shared/random';
import { bootstrapMeanInterval, DEFAULT_BOOTSTRAP_SAMPLES, signTestPValue, signTestSampleSize } from '../shared/stats';
import { isEmailFolder, isProfileName, Workspace } from '../shared/workspace';
import { readJsonFile } from '../shared/atomic';
import { MAX_CLICK_COUNTS_BYTES, parseClickCounts, type ClickCountsFile } from '../shared/click-counts';
import { ARMS, armOnSide, type Arm, type ClickLogRow, type PageViewRow } from '../shared/clicks';

/**
 * The click experiment's report: every participant profile's published,
 * noised weekly click counts (`profile_<n>/click-counts.json`,
 * `src/shared/click-counts.ts`) merged into one paired comparison of the local
 * and the global model. The unit of the test is a participant profile (its own
 * clicks decide its preference), so one heavy clicker counts once. No click
 * log is read: the logs stay on the participants' machines. Written by the
 * aggregator to `aggregator/experiment/report.json` and `report.html`,
 * readable by the contributors. Participants appear in it only as anonymous,
 * unordered rows of counts; no email, profile or title.
 *
 * Every count carries discrete Laplace noise (ε = INSIGHTS_EPSILON per profile
 * and week), so a profile's preference is the sign of its noised difference,
 * and the arm totals come with their standard error.
 *
 * Example (abridged):
 * ```json
 * { "format": "syftbox-netflix-svd/experiment", "formatVersion": 2, "createdAt": "…",
 *   "arms": { "local": { "clicks": 9 }, "global": { "clicks": 31 } }, "clicksSe": 14.1,
 *   "signTest": { "decisive": 10, "preferGlobal": 9, "preferLocal": 1, "ties": 2, "pValue": 0.0215 },
 *   "preferenceShare": { "global": 0.9, "ci95": [0.7, 1], "bootstrapSamples": 2000 },
 *   "sampleSize": { "assumedShare": 0.6, "alpha": 0.05, "power": 0.8, "decisiveNeeded": 194, "moreDecisiveNeeded": 184 } }
 * ```
 */
const EXPERIMENT_FORMAT = 'syftbox-netflix-svd/experiment';
const EXPERIMENT_FORMAT_VERSION = 2;
/** The preference the sample-size estimate is for: 60/40. */
const ASSUMED_SHARE = 0.6;
export const SIGNIFICANCE_LEVEL = 0.05;
export const TARGET_POWER = 0.8;
/** Seed of the bootstrap when the caller passes no Random (keeps analyzeClicks pure and repeatable). */
const DEFAULT_BOOTSTRAP_SEED = 1;

/** A click-log row with the (internal, never published) key of the profile that wrote it. */
export type ExperimentRow = ClickLogRow & { participant: string };

type Preference = Arm | 'tie' | 'none';

interface ArmStats {
  /** Shows of this arm displayed, summed over page views. */
  impressions: number;
  clicks: number;
  clickRate: number | null;
}

interface UnitComparison extends UnitRow {
  pageViews: number;
}

/** The analysis of raw click-log rows: what the simulator knows of its own participants (no report reads raw logs). */
export interface ExperimentAnalysis extends Comparison<UnitComparison> {
  pageViews: number;
  arms: Record<Arm, ArmStats>;
  /** Clicks by column, to see position bias. */
  sides: { left: number; right: number };
  /** Clicks ignored: repeated (same page view, arm and rank), or naming a page view or rank that was not shown. */
  ignoredClicks: number;
}

interface AnalyzeOptions {
  random?: Random;
  bootstrapSamples?: number;
}

interface UnitTally {
  views: Map<string, PageViewRow>;
  clicks: Record<Arm, number>;
  seen: Set<string>;
}

/** Pure analysis of merged click-log rows (the simulator's ground truth). */
export function analyzeClicks(rows: readonly ExperimentRow[], options: AnalyzeOptions = {}): ExperimentAnalysis {
  const units = new Map<string, UnitTally>();
  const unit = (key: string): UnitTally => {
    let u = units.get(key);
    if (!u) units.set(key, (u = { views: new Map(), clicks: { local: 0, global: 0 }, seen: new Set() }));
    return u;
  };
  const arms: Record<Arm, ArmStats> = { local: { impressions: 0, clicks: 0, clickRate: null }, global: { impressions: 0, clicks: 0, clickRate: null } };
  const sides = { left: 0, right: 0 };
  let pageViews = 0;
  let ignoredClicks = 0;

  // views first, so a click is matched whatever the row order
  for (const row of rows) {
    if (row.type !== 'view') continue;
    const u = unit(row.participant);
    if (u.views.has(row.pageView)) continue;
    u.views.set(row.pageView, row);
    pageViews++;
    for (const arm of ARMS) arms[arm].impressions += row.shown[arm];
  }
  for (const row of rows) {
    if (row.type !== 'click') continue;
    const u = unit(row.participant);
    const view = u.views.get(row.pageView);
    const key = `${row.pageView}/${row.arm}/${row.rank}`;
    if (!view || armOnSide(view.left, row.side) !== row.arm || row.rank < 1 || row.rank > view.shown[row.arm] || u.seen.has(key)) {
      ignoredClicks++;
      continue;
    }
    u.seen.add(key);
    u.clicks[row.arm]++;
    arms[row.arm].clicks++;
    sides[row.side]++;
  }
  for (const arm of ARMS) arms[arm].clickRate = arms[arm].impressions > 0 ? arms[arm].clicks / arms[arm].impressions : null;

  const participants: UnitComparison[] = [...units.values()].map((u) => ({ pageViews: u.views.size, localClicks: u.clicks.local, globalClicks: u.clicks.global, preference: preferenceOf(u.clicks) }));
  return { pageViews, arms, sides, ...compareUnits(participants, options), ignoredClicks };
}

interface UnitRow {
  localClicks: number;
  globalClicks: number;
  preference: Preference;
}

interface Comparison<U extends UnitRow> {
  /** One anonymous row per participant profile, sorted by counts (not by identity). */
  participants: U[];
  signTest: { decisive: number; preferGlobal: number; preferLocal: number; ties: number; withoutClicks: number; pValue: number };
  /** Share of decisive participants preferring the global model, with a percentile-bootstrap 95% CI. */
  preferenceShare: { global: number | null; ci95: [number, number] | null; bootstrapSamples: number };
  sampleSize: { assumedShare: number; alpha: number; power: number; decisiveNeeded: number; moreDecisiveNeeded: number };
}

/** The paired comparison of units: sign test, preference share with its bootstrap interval, sample size. */
function compareUnits<U extends UnitRow>(units: U[], options: AnalyzeOptions): Comparison<U> {
  const participants = [...units].sort((a, b) => b.globalClicks - a.globalClicks || b.localClicks - a.localClicks);
  const count = (p: Preference): number => participants.filter((u) => u.preference === p).length;
  const preferGlobal = count('global');
  const preferLocal = count('local');
  const decisive = preferGlobal + preferLocal;
  const bootstrapSamples = options.bootstrapSamples ?? DEFAULT_BOOTSTRAP_SAMPLES;
  const votes = new Float64Array(decisive);
  votes.fill(1, 0, preferGlobal);
  const decisiveNeeded = signTestSampleSize({ share: ASSUMED_SHARE, alpha: SIGNIFICANCE_LEVEL, power: TARGET_POWER });
  return {
    participants,
    signTest: { decisive, preferGlobal, preferLocal, ties: count('tie'), withoutClicks: count('none'), pValue: signTestPValue(preferGlobal, decisive) },
    preferenceShare: {
      global: decisive > 0 ? preferGlobal / decisive : null,
      ci95: bootstrapMeanInterval(votes, { random: options.random ?? createRandom(DEFAULT_BOOTSTRAP_SEED), samples: bootstrapSamples }),
      bootstrapSamples,
    },
    sampleSize: { assumedShare: ASSUMED_SHARE, alpha: SIGNIFICANCE_LEVEL, power: TARGET_POWER, decisiveNeeded, moreDecisiveNeeded: Math.max(0, decisiveNeeded - decisive) },
  };
}

/** More clicks on one arm wins; equal counts tie; 'none' when neither arm has any (noised counts: zero or below). */
function preferenceOf(clicks: Record<Arm, number>): Preference {
  if (clicks.local <= 0 && clicks.global <= 0) return 'none';
  if (clicks.local === clicks.global) return 'tie';
  return clicks.global > clicks.local ? 'global' : 'local';
}

interface CountsUnit extends UnitRow {
  /** Weeks of counts the profile has published. */
  weeks: number;
}

export interface ExperimentReport extends Comparison<CountsUnit> {
  format: typeof EXPERIMENT_FORMAT;
  formatVersion: typeof EXPERIMENT_FORMAT_VERSION;
  createdAt: string;
  /** Noised clicks per arm, summed over every profile and week. */
  arms: Record<Arm, { clicks: number }>;
  /** Standard error of each arm's total from the noise (discrete Laplace variances add). */
  clicksSe: number;
  /** Click-count files read, and skipped (unreadable, not permitted, too large, malformed). */
  counts: { read: number; skipped: number };
}

interface ExperimentReportOptions {
  /** App folder whose click counts are merged; defaults to the workspace's. */
  appName?: string;
  now: () => Date;
  /** Bootstrap resampling. */
  random: Random;
  logger: Logger;
}

/** Variance of discrete Laplace noise of scale b (P(k) ∝ e^{−|k|/b}): 2p/(1 − p)², p = e^{−1/b}. */
function discreteLaplaceVariance(scale: number): number {
  const p = Math.exp(-1 / scale);
  return (2 * p) / (1 - p) ** 2;
}

/** The paired comparison of the profiles' noised click counts (pure). */
export function analyzeClickCounts(files: readonly ClickCountsFile[], options: AnalyzeOptions = {}): Omit<ExperimentReport, 'format' | 'formatVersion' | 'createdAt' | 'counts'> {
  const arms = { local: { clicks: 0 }, global: { clicks: 0 } };
  let variance = 0;
  const units: CountsUnit[] = files.map((f) => {
    const clicks = { local: 0, global: 0 };
    for (const w of f.weeks) {
      for (const arm of ARMS) clicks[arm] += w[arm];
      variance += discreteLaplaceVariance((2 * f.maxPerArm) / w.epsilon);
    }
    for (const arm of ARMS) arms[arm].clicks += clicks[arm];
    return { weeks: f.weeks.length, localClicks: clicks.local, globalClicks: clicks.global, preference: preferenceOf(clicks) };
  });
  return { arms, clicksSe: Math.sqrt(variance), ...compareUnits(units, options) };
}

interface WrittenExperimentReport {
  report: ExperimentReport;
  jsonFile: string;
  htmlFile: string;
}

/** Folder of the report inside the aggregator's shared folder. */
export function experimentDir(ws: Workspace): string {
  return path.join(ws.aggregatorDir(ws.email), 'experiment');
}

/**
 * Merge every click-count file this datasite may read
 * (`datasites/<email>/app_data/<app>/profile_<n>/click-counts.json`) and write
 * `experiment/report.json` and `report.html` atomically. Unreadable,
 * non-permitted, oversized or malformed files are skipped and logged.
 */
export async function writeExperimentReport(ws: Workspace, options: ExperimentReportOptions): Promise<WrittenExperimentReport> {
  const { logger } = options;
  const view = options.appName && options.appName !== ws.appName ? new Workspace(ws, options.appName) : ws;
  const files: ClickCountsFile[] = [];
  const counts = { read: 0, skipped: 0 };
  for (const file of await findClickCounts(view)) {
    try {
      if (!(await readableHere(view, file))) {
        counts.skipped++;
        logger.debug({ file }, 'click counts not readable by this datasite; skipped');
        continue;
      }
      const value = await readJsonFile(file, { maxBytes: MAX_CLICK_COUNTS_BYTES });
      if (value === null) continue;
      const parsed = parseClickCounts(value);
      if (typeof parsed === 'string') {
        counts.skipped++;
        logger.warn({ file, problem: parsed }, 'skipped click counts');
        continue;
      }
      counts.read++;
      files.push(parsed);
    } catch (err) {
      counts.skipped++;
      logger.warn({ file, err: formatError(err) }, 'skipped click counts');
    }
  }
  const report: ExperimentReport = {
    format: EXPERIMENT_FORMAT,
    formatVersion: EXPERIMENT_FORMAT_VERSION,
    createdAt: options.now().toISOString(),
    counts,
    ...analyzeClickCounts(files, { random: options.random }),
  };
  const dir = experimentDir(view);
  const jsonFile = path.join(dir, 'report.json');
  const htmlFile = path.join(dir, 'report.html');
  await writeJsonAtomic(jsonFile, report);
  await writeFileAtomic(htmlFile, renderExperimentHtml(report));
  logger.info({ files: counts.read, skipped: counts.skipped, decisive: report.signTest.decisive, pValue: report.signTest.pValue }, 'wrote experiment report');
  return { report, jsonFile, htmlFile };
}

async function subfolders(dir: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Every `profile_<n>/click-counts.json` under every datasite's app folder (real folders only, no symlinks). */
async function findClickCounts(ws: Workspace): Promise<string[]> {
  const out: string[] = [];
  for (const email of (await subfolders(ws.datasitesDir)).filter(isEmailFolder)) {
    for (const profile of (await subfolders(ws.appData(email))).filter(isProfileName)) out.push(ws.clickCounts(profile, email));
  }
  return out;
}

function formatNumber(value: number | null, digits = 3): string {
  if (value === null) return '–';
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

function formatPercent(value: number | null): string {
  return value === null ? '–' : `${(value * 100).toFixed(1)}%`;
}

/** The report as a small self-contained page (numbers only, so nothing needs escaping beyond the fixed text). */
function renderExperimentHtml(report: ExperimentReport): string {
  const { signTest: s, preferenceShare: share, sampleSize: size, arms } = report;
  const verdict =
    s.decisive === 0
      ? 'No participant has clicked more on one list than the other yet.'
      : s.pValue < report.sampleSize.alpha
        ? `The ${s.preferGlobal > s.preferLocal ? 'global' : 'local'} model is preferred (sign test p = ${formatNumber(s.pValue, 4)}).`
        : `No significant preference yet (sign test p = ${formatNumber(s.pValue, 4)}).`;
  const ci = share.ci95 ? `${formatPercent(share.ci95[0])} – ${formatPercent(share.ci95[1])}` : '–';
  const armRows = ARMS.map((arm) => `<tr><th scope="row">${arm === 'global' ? 'Global model' : 'Local model'}</th><td>${arms[arm].clicks}</td><td>±${formatNumber(report.clicksSe, 1)}</td></tr>`).join('\n');
  const unitRows = report.participants
    .map((u, i) => `<tr><td>${i + 1}</td><td>${u.weeks}</td><td>${u.localClicks}</td><td>${u.globalClicks}</td><td>${u.preference}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local vs global recommendations: experiment report</title>
<style>
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d24; background: #f6f5f2; margin: 0; }
  main { max-width: 760px; margin: 0 auto; padding: 32px 20px 48px; }
  h1 { font-size: 1.6rem; margin: 0 0 4px; }
  h2 { font-size: 1.1rem; margin: 32px 0 8px; }
  .meta { color: #66656e; font-size: .9rem; }
  .verdict { font-size: 1.15rem; background: #fff; border-left: 4px solid #5b4bdb; padding: 12px 16px; border-radius: 6px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 6px; overflow: hidden; }
  th, td { text-align: right; padding: 6px 12px; border-bottom: 1px solid #ecebe6; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child { text-align: left; }
  thead th { background: #efeee9; font-weight: 600; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background: #fff; padding: 12px 16px; border-radius: 6px; }
  dt { color: #66656e; }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<main>
<h1>Local vs global recommendations</h1>
<p class="meta">Updated ${report.createdAt} · ${report.counts.read} participant profiles · every count carries differential-privacy noise</p>
<p class="verdict">${verdict}</p>

<h2>Clicks per list</h2>
<table>
<thead><tr><th>List</th><th>Clicks (noised)</th><th>Standard error</th></tr></thead>
<tbody>
${armRows}
</tbody>
</table>
<p class="meta">Each profile publishes its clicks per list once a week, clipped and with discrete Laplace noise; the side of each list is random per page view.</p>

<h2>Paired comparison</h2>
<dl>
<dt>Prefer global</dt><dd>${s.preferGlobal}</dd>
<dt>Prefer local</dt><dd>${s.preferLocal}</dd>
<dt>Ties (dropped)</dt><dd>${s.ties}</dd>
<dt>No clicks yet</dt><dd>${s.withoutClicks}</dd>
<dt>Sign test p (two-sided, exact)</dt><dd>${formatNumber(s.pValue, 4)}</dd>
<dt>Share preferring global</dt><dd>${formatPercent(share.global)} (95% bootstrap CI ${ci})</dd>
<dt>Needed for a 60/40 preference</dt><dd>${size.decisiveNeeded} decisive participants (α = ${size.alpha}, power ${size.power * 100}%); ${size.moreDecisiveNeeded} more to go</dd>
</dl>

<h2>Participants</h2>
<p class="meta">One anonymous row per participant profile, sorted by counts (noised).</p>
<table>
<thead><tr><th>#</th><th>Weeks</th><th>Local clicks</th><th>Global clicks</th><th>Prefers</th></tr></thead>
<tbody>
${unitRows}
</tbody>
</table>
</main>
</body>
</html>
`;
}
