import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../shared/atomic';
import { lineChartSvg, type ChartReference, type ChartSeries } from './chart';
import type { MatchReport } from './ingest';
import type { RankingMetrics, RatingMetrics } from './metrics';

/**
 * The evaluation report: one JSON document per protocol (`implicit.json`,
 * `explicit.json`) plus one SVG chart per headline metric, written to --out.
 *
 * Keys (all protocols):
 * ```
 * format, formatVersion, protocol ('implicit' | 'explicit'), createdAt, command,
 * dataset   { ratingsDir, users, items, ratings, participants, evaluatedUsers }
 * split     { kind: 'leave-last-out' | 'k-fold', folds?, seed }
 * params    { rank, reg, alpha, biasReg?, step, rounds, localEpochs, localLr, fedavgServerLr, fedavgClipNorm, halfLifeDays,
 *             centralIterations, titles, seed, dp…? }
 * matching  MatchReport (see ingest.ts), summed over folds for k-fold
 * settings  [{ name, kind: 'baseline' | 'central' | 'federated', description,
 *              metrics (final), rounds?: [{ round, metrics, accepted?, rejected?, participantsMs?, aggregatorMs?, clipped? }],
 *              reach?: { ratio, of: 'central-als', hr10?, ndcg10?, rmse? }: the first round whose metric reaches
 *                      ratio × the centralized model's (RMSE: at most ratio ×), null if none did,
 *              privacy?: { mode: 'none' | 'central' | 'local', budget: 'total' | 'per-round' | null, epsilon, delta,
 *                          noiseMultiplier, clipNorm, sensitivity, perRoundEpsilon, totalEpsilon, noiseStdOfSum?,
 *                          composition } }]
 * checks    [{ name, value, threshold, met }]: the quality bars
 * timings   { totalMs, ingestMs, peakRssMb (of the eval process), settings: { <name>: ms } }
 * environment { node, platform, cpus, tempRoot }
 * ```
 * Ranking metrics: { users, hr10, ndcg10, recall20, sampledHr10, sampledNdcg10 };
 * rating metrics: { count, rmse, mae }.
 */

export const REPORT_FORMAT = 'syftbox-netflix-svd/eval-report';
export const REPORT_FORMAT_VERSION = 2;

type Metrics = RankingMetrics | RatingMetrics;

export interface RoundEntry<M extends Metrics> {
  round: number;
  metrics: M;
  accepted?: number;
  rejected?: number;
  participantsMs?: number;
  aggregatorMs?: number;
  /** Contributions clipped in this round (in-memory rounds). */
  clipped?: number;
}

export interface PrivacyRecord {
  mode: 'none' | 'central' | 'local' | 'distributed';
  /** What `epsilon` bounds: the user's whole run ('total') or each round ('per-round'); null without DP. */
  budget: 'total' | 'per-round' | null;
  epsilon: number | null;
  delta: number | null;
  /** z: the noise std is z times the clip norm (on the sum of deltas, or on each delta for local DP). */
  noiseMultiplier: number | null;
  clipNorm: number | null;
  /** L2 sensitivity the noise is calibrated to: C (central, add/remove a user) or 2·C (local, replace a history). */
  sensitivity: number | null;
  /** ε of one round's Gaussian at δ (analytic calibration; distributed: the Gram round's by the RDP conversion); for local DP the ε in each delta manifest. */
  perRoundEpsilon: number | null;
  /** ε of all rounds at δ: zCDP composition (central, local), the ledger's RDP accounting (distributed). */
  totalEpsilon: number | null;
  /** Std of the Gaussian noise on each coordinate of the sum of the contributions. */
  noiseStdOfSum?: number;
  composition: string | null;
}

export interface SettingResult<M extends Metrics> {
  name: string;
  kind: 'baseline' | 'central' | 'federated';
  description: string;
  metrics: M;
  rounds?: RoundEntry<M>[];
  reach?: Reach;
  privacy?: PrivacyRecord;
}

/** The first round whose metric reaches `ratio` times the reference setting's (null: none did). */
export interface Reach {
  ratio: number;
  of: string;
  hr10?: number | null;
  ndcg10?: number | null;
  rmse?: number | null;
}

/** The first round (1-based, as recorded) whose metrics satisfy `reached`, or null. */
export function roundsToReach<M extends Metrics>(rounds: readonly RoundEntry<M>[], reached: (metrics: M) => boolean): number | null {
  return rounds.find((r) => reached(r.metrics))?.round ?? null;
}

export interface Check {
  name: string;
  value: number;
  threshold: number;
  met: boolean;
}

export interface EvalReport<M extends Metrics> {
  format: typeof REPORT_FORMAT;
  formatVersion: typeof REPORT_FORMAT_VERSION;
  protocol: 'implicit' | 'explicit';
  createdAt: string;
  command: string;
  dataset: { ratingsDir: string; users: number; items: number; ratings: number; participants: number; evaluatedUsers: number };
  split: { kind: 'leave-last-out' | 'k-fold'; folds?: number; seed: number };
  params: Record<string, number | string>;
  matching: MatchReport;
  settings: SettingResult<M>[];
  checks: Check[];
  timings: { totalMs: number; ingestMs: number; peakRssMb: number; settings: Record<string, number> };
  environment: { node: string; platform: string; cpus: number; tempRoot: string };
}

/** A check that `value` is at least (or, with `atMost`, at most) `threshold`. */
export function check(name: string, value: number, threshold: number, atMost = false): Check {
  return { name, value, threshold, met: atMost ? value <= threshold : value >= threshold };
}

interface ChartMetric<M extends Metrics> {
  key: keyof M & string;
  label: string;
}

const RANKING_CHARTS: ChartMetric<RankingMetrics>[] = [
  { key: 'hr10', label: 'HR@10' },
  { key: 'ndcg10', label: 'NDCG@10' },
];
const RATING_CHARTS: ChartMetric<RatingMetrics>[] = [{ key: 'rmse', label: 'RMSE' }];

/** Series (settings with rounds) and reference lines (settings without) of one metric. */
function chartData<M extends Metrics>(report: EvalReport<M>, key: keyof M & string): { series: ChartSeries[]; references: ChartReference[] } {
  const series: ChartSeries[] = [];
  const references: ChartReference[] = [];
  for (const s of report.settings) {
    if (s.rounds && s.rounds.length > 0) series.push({ name: s.name, points: s.rounds.map((r) => [r.round, r.metrics[key] as number]), dotted: s.kind !== 'federated' });
    else references.push({ name: s.name, y: s.metrics[key] as number });
  }
  return { series, references };
}

/** Write `<out>/<protocol>.json` and `<out>/<protocol>-<metric>.svg`; returns the files written. */
export async function writeReport<M extends Metrics>(out: string, report: EvalReport<M>): Promise<string[]> {
  const files: string[] = [];
  const json = path.join(out, `${report.protocol}.json`);
  await writeJsonAtomic(json, report);
  files.push(json);
  const charts = (report.protocol === 'implicit' ? RANKING_CHARTS : RATING_CHARTS) as unknown as ChartMetric<M>[];
  for (const { key, label } of charts) {
    const { series, references } = chartData(report, key);
    const file = path.join(out, `${report.protocol}-${key.toLowerCase()}.svg`);
    const title = `${label} by round (${report.split.kind}, ${report.dataset.participants} participants)`;
    await writeFileAtomic(file, lineChartSvg({ title, xLabel: 'round', yLabel: label, series, references }));
    files.push(file);
  }
  return files;
}
