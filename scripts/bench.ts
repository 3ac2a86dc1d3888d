/**
 * `npm run bench [-- --quick | --full] [--scale]`: measured figures, printed and written to
 * bench-results/bench.json.
 *
 * - training: trainLocal and solveUser calls per second at rank 32 and 100 over the
 *   shipped catalogue's item count (100 interactions a user, LOCAL_EPOCHS epochs);
 * - participant: one `runParticipantPass` on a generated 15,000-row
 *   ViewingActivity.csv in a temporary embedded root (first pass, then an unchanged one);
 * - aggregator: one `runRound` over N published deltas, in a child process of its
 *   own so that its peak RSS is the round's alone (the deltas are written by
 *   another child first). Default: 1,000 deltas at rank 32 and 10,000 at rank 8
 *   (8,807 items: 10,000 x 8,807 x 32 float32 would be 11 GB, so the large case
 *   uses rank 8, 2.8 GB); --full runs 10,000 at rank 32 on disk; --quick 200 and 1,000;
 * - page: requests/s and p50/p99 latency of the participant page (`buildApp`, real
 *   HTTP over a keep-alive agent, a small closed-loop load generator);
 * - scale (--scale, or --full): the evaluation harness on a synthetic 6,000-user
 *   MovieLens-format folder (4,000 items, rank 32, 2 rounds, popularity baseline
 *   only): wall time and the eval process's peak RSS, from its report.
 * - start-up: `--help`, `ingest --help` and a whole `ingest` from the production build
 *   and through tsx, each as a ratio to `node -e 0` timed in the same run (src/bench/startup.ts);
 * - simulation: one steady-state week of the closed-loop simulation at 1,000
 *   participants (--full: also 5,000): wall and CPU time, peak RSS, the dominant step.
 * The measurements live in src/bench/; this file is the command: plans, output, and
 * the `--child` tasks of the aggregator measurement. No dependency beyond the project's own.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { benchAggregator, runAggregatorTask, type AggregatorCase, type AggregatorTask, type AggregatorTaskArgs } from '../src/bench/aggregator';
import { benchPage } from '../src/bench/page';
import { benchParticipant } from '../src/bench/participant';
import { benchScale } from '../src/bench/scale';
import { benchStartup } from '../src/bench/startup';
import { benchTraining } from '../src/bench/training';
import { benchSimulation } from '../src/bench/week';
import { loadCatalog } from '../src/shared/catalog';
import { PROJECT_ROOT } from '../src/shared/config';

const OUT_FILE = path.join(PROJECT_ROOT, 'bench-results', 'bench.json');

type Mode = 'quick' | 'default' | 'full';
interface Plan {
  trainingSeconds: number;
  pageSeconds: number;
  /** Interleaved runs of each start-up command (the median is the figure). */
  startupRuns: number;
  aggregator: AggregatorCase[];
  /** Closed-loop simulation sizes: one steady-state week each (the second of two). */
  simulation: number[];
}
const PLANS: Record<Mode, Plan> = {
  quick: { trainingSeconds: 0.5, pageSeconds: 1, startupRuns: 3, aggregator: [{ participants: 200, rank: 32, onDisk: false }, { participants: 1000, rank: 8, onDisk: false }], simulation: [50] },
  default: { trainingSeconds: 2, pageSeconds: 3, startupRuns: 5, aggregator: [{ participants: 1000, rank: 32, onDisk: false }, { participants: 10_000, rank: 8, onDisk: false }], simulation: [1000] },
  full: { trainingSeconds: 5, pageSeconds: 10, startupRuns: 9, aggregator: [{ participants: 1000, rank: 32, onDisk: false }, { participants: 10_000, rank: 32, onDisk: true }], simulation: [1000, 5000] },
};

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    const result = await runAggregatorTask(argv[1] as AggregatorTask, JSON.parse(argv[2]) as AggregatorTaskArgs);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const mode: Mode = argv.includes('--quick') ? 'quick' : argv.includes('--full') ? 'full' : 'default';
  const plan = PLANS[mode];
  const started = performance.now();
  log(`bench (${mode}) on Node ${process.versions.node}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const startup = await benchStartup(plan.startupRuns, log);
  const catalog = await loadCatalog(null);
  const training = benchTraining(catalog.items.length, plan.trainingSeconds, log);
  const participant = await benchParticipant(catalog, log);
  let page;
  try {
    page = await benchPage({ ...participant, catalog }, plan.pageSeconds, log);
  } finally {
    await fs.rm(participant.root, { recursive: true, force: true });
  }
  const aggregator = await benchAggregator(catalog, plan.aggregator, fileURLToPath(import.meta.url), log);
  const scale = argv.includes('--scale') || mode === 'full' ? await benchScale(log) : null;
  const simulation = await benchSimulation(catalog, plan.simulation, log);
  const report = {
    format: 'syftbox-netflix-svd/bench',
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    mode,
    environment: { node: process.versions.node, platform: `${process.platform}-${process.arch}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, loadAverageAtStart: os.loadavg() },
    startup,
    training,
    participantPass: participant.result,
    aggregator,
    page: {
      requestsPerSec: Object.fromEntries(Object.entries(page.endpoints).map(([k, v]) => [k, v.requestsPerSec])),
      p99LatencyMs: Object.fromEntries(Object.entries(page.endpoints).map(([k, v]) => [k, v.p99Ms])),
      ...page,
    },
    scale,
    simulation,
    totalMs: Math.round(performance.now() - started),
  };
  await fs.mkdir(path.dirname(OUT_FILE), { recursive: true });
  await fs.writeFile(OUT_FILE, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${path.relative(PROJECT_ROOT, OUT_FILE)} in ${Math.round(report.totalMs / 1000)} s`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
