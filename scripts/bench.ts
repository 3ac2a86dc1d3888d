/**
 * `npm run bench [-- --quick | --full] [--scale]`: measured figures, printed and written to
 * bench-results/bench.json, and the figures with an anchor as a table (bench-results/bench.md,
 * the README's performance table).
 *
 * - training: trainLocal and solveUser calls per second at rank 32 and 100 over the
 *   shipped catalogue's item count (100 interactions a user, LOCAL_EPOCHS epochs);
 * - participant: one `runParticipantPass` on a generated 15,000-row
 *   ViewingActivity.csv in a temporary embedded root (first pass, then an unchanged one);
 * - aggregator: one `runRound` over N published deltas, in a child process of its
 *   own so that its peak RSS is the round's alone (the deltas are written by
 *   another child first), beside a numpy loop over the same files (read, sha256,
 *   finiteness, float64 sum; src/bench/numpy_loop.py) when python3 has numpy (else
 *   the last measured ratio, labelled as such). Default and --full: 1,000 deltas at rank 32
 *   in memory, and 10,000 at rank 32 (11 GB) under the system temp folder, against the
 *   15 s / 1 GB target; --quick: 200 at rank 32 and 1,000 at rank 8;
 * - page: requests/s and p50/p99 latency of the participant page (`buildApp`, real
 *   HTTP over a keep-alive agent, a small closed-loop load generator);
 * - scale (--scale, or --full): the evaluation harness on a synthetic 6,000-user
 *   MovieLens-format folder (4,000 items, rank 32, 2 rounds, popularity baseline
 *   only): wall time and the eval process's peak RSS, from its report.
 * - secure sums: summing masked inputs and expanding masks, each beside
 *   the same work in numpy (src/bench/secure-sum.ts);
 * - start-up: `--help`, `ingest --help` and a whole `ingest` from the production build
 *   and through tsx, each as a ratio to `node -e 0` timed in the same run (src/bench/startup.ts);
 * - simulation: one steady-state week of the closed-loop simulation at 200
 *   participants (--full: 1,000 and 5,000): wall and CPU time, peak RSS, the dominant step.
 * - secure aggregation (src/bench/secagg.ts): a round in process, secure against plain FedAvg on
 *   the same deltas, at 100 and 1,000 members x 0%, 5% and 20% dropout: per-member CPU by phase,
 *   aggregator CPU, bytes, wall time, ratios. 100 members use the whole catalogue (8,807 items x
 *   rank 32); 1,000 members use an eighth of it unless --full (the cohort shape, k and t, is the
 *   same; masking and unmasking scale with the length). Then the protocol functions alone at the
 *   full length and n = 1,000: a member's sharing and masking, the server's unmasking at 5%
 *   dropout, at SECAGG_SURVIVOR_FRACTION 0.7 and 0.8. --quick: 100 members, an eighth of the items.
 *   --secagg runs this part alone.
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
import { benchSecaggCore, benchSecureRounds, type CoreCase, type SecureRoundCase } from '../src/bench/secagg';
import { benchSecureSum } from '../src/bench/secure-sum';
import { benchStartup } from '../src/bench/startup';
import { benchTable } from '../src/bench/table';
import { benchTraining } from '../src/bench/training';
import { benchSimulation } from '../src/bench/week';
import { loadCatalog, type Catalog } from '../src/shared/catalog';
import { loadConfig, PROJECT_ROOT } from '../src/shared/config';

const OUT_FILE = path.join(PROJECT_ROOT, 'bench-results', 'bench.json');
/** The README's performance table, from this run alone. */
const TABLE_FILE = path.join(PROJECT_ROOT, 'bench-results', 'bench.md');

type Mode = 'quick' | 'default' | 'full';
interface Plan {
  trainingSeconds: number;
  pageSeconds: number;
  /** Interleaved runs of each start-up command (the median is the figure). */
  startupRuns: number;
  aggregator: AggregatorCase[];
  /** Closed-loop simulation sizes: one steady-state week each (the second of two). */
  simulation: number[];
  /** Secure-aggregation rounds: members, the share of the catalogue's items they use, which round, at which dropouts. */
  secureRounds: { participants: number; itemShare: number; mechanism: SecureRoundCase['mechanism']; dropouts: number[] }[];
  /** Survivor fractions of the protocol-function measurement (at 1,000 members; empty: skipped). */
  secaggCoreFractions: number[];
  /** Secure aggregation's data-heavy steps beside numpy: masked inputs summed, and masks expanded (each of 8,807 x 32 values) in a short job and a long one. */
  secureSum: { members: number; masks: number; longMasks: number };
}
const SECURE_DROPOUTS = [0, 0.05, 0.2];
const PLANS: Record<Mode, Plan> = {
  quick: {
    trainingSeconds: 0.5,
    pageSeconds: 1,
    startupRuns: 3,
    aggregator: [{ participants: 200, rank: 32, onDisk: false }, { participants: 1000, rank: 8, onDisk: false }],
    simulation: [50],
    secureRounds: [{ participants: 100, itemShare: 1 / 8, mechanism: 'dp', dropouts: [0.05] }],
    secaggCoreFractions: [],
    secureSum: { members: 100, masks: 20, longMasks: 200 },
  },
  default: {
    trainingSeconds: 2,
    pageSeconds: 3,
    startupRuns: 5,
    aggregator: [{ participants: 1000, rank: 32, onDisk: false }, { participants: 10_000, rank: 32, onDisk: true }],
    // a simulated week at 1,000 participants takes over 20 minutes under secure aggregation: --full
    simulation: [200],
    // at 1,000 members and 20% dropout the graph has k = 212: the DP round takes over 10 minutes, the optimizer's more: --full
    secureRounds: [
      { participants: 100, itemShare: 1, mechanism: 'dp', dropouts: SECURE_DROPOUTS },
      { participants: 1000, itemShare: 1, mechanism: 'dp', dropouts: [0, 0.05] },
      { participants: 100, itemShare: 1, mechanism: 'optimizer', dropouts: SECURE_DROPOUTS },
      { participants: 1000, itemShare: 1, mechanism: 'optimizer', dropouts: [0.05] },
    ],
    secaggCoreFractions: [0.7, 0.8],
    secureSum: { members: 500, masks: 50, longMasks: 1000 },
  },
  full: {
    trainingSeconds: 5,
    pageSeconds: 10,
    startupRuns: 9,
    aggregator: [{ participants: 1000, rank: 32, onDisk: false }, { participants: 10_000, rank: 32, onDisk: true }],
    simulation: [1000, 5000],
    secureRounds: (['dp', 'optimizer'] as const).flatMap((mechanism) => [100, 1000].map((participants) => ({ participants, itemShare: 1, mechanism, dropouts: SECURE_DROPOUTS }))),
    secaggCoreFractions: [0.7, 0.8],
    secureSum: { members: 1000, masks: 100, longMasks: 1000 },
  },
};
/** Rank of the secure-aggregation measurements: the default MODEL_RANK. */
const SECURE_RANK = 32;
/** Dropout of the protocol-function unmasking measurement (the target case). */
const CORE_DROPOUT = 0.05;
const CORE_PARTICIPANTS = 1000;

/** The secure-aggregation part of the plan: rounds, then the protocol functions alone. */
async function benchSecureAggregation(catalog: Catalog, plan: Plan) {
  const survivorFraction = loadConfig({ dotenv: false, env: {} }).SECAGG_SURVIVOR_FRACTION;
  const cases: SecureRoundCase[] = plan.secureRounds.flatMap(({ participants, itemShare, mechanism, dropouts }) =>
    dropouts.map((dropout) => ({ participants, items: Math.round(catalog.items.length * itemShare), rank: SECURE_RANK, dropout, survivorFraction, mechanism })),
  );
  const rounds = await benchSecureRounds(catalog, cases, log);
  const core: CoreCase[] = plan.secaggCoreFractions.map((fraction) => ({ participants: CORE_PARTICIPANTS, length: catalog.items.length * SECURE_RANK + 1, survivorFraction: fraction, dropout: CORE_DROPOUT }));
  return { rounds, core: await benchSecaggCore(core, log) };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Without numpy in this run, print the ratios the last run with it measured (from bench-results/bench.json), and say so. */
async function reportLastRatios(aggregator: { participants: number; rank: number; ratioToNumpy: number | null }[], secure: Record<string, { ratioToNumpy: number | null }>): Promise<void> {
  if (aggregator.every((a) => a.ratioToNumpy !== null) && Object.values(secure).every((f) => f.ratioToNumpy !== null)) return;
  const last = await fs.readFile(OUT_FILE, 'utf8').then((text) => JSON.parse(text) as { createdAt?: string; aggregator?: typeof aggregator; secureSum?: typeof secure }, () => null);
  const rows = [
    ...(last?.aggregator ?? []).filter((a) => a.ratioToNumpy !== null).map((a) => `aggregator ${a.participants} x rank ${a.rank}: ${a.ratioToNumpy}x`),
    ...Object.entries(last?.secureSum ?? {}).filter(([, f]) => f.ratioToNumpy !== null).map(([k, f]) => `secure ${k}: ${f.ratioToNumpy}x`),
  ];
  if (rows.length === 0) log('no numpy in this run and no earlier run with it: the numpy ratios are unmeasured');
  else log(`no numpy in this run; the last measured ratios (bench-results/bench.json of ${last?.createdAt}, not this run): ${rows.join(', ')}`);
}

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
  if (argv.includes('--secagg')) {
    const secureAggregation = await benchSecureAggregation(await loadCatalog(null), plan);
    await writeReport({ mode, secureAggregation, totalMs: Math.round(performance.now() - started) });
    return;
  }
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
  const secure = await benchSecureSum(plan.secureSum.members, plan.secureSum.masks, plan.secureSum.longMasks, catalog.items.length * SECURE_RANK, log);
  await reportLastRatios(aggregator, secure);
  const scale = argv.includes('--scale') || mode === 'full' ? await benchScale(log) : null;
  const simulation = await benchSimulation(catalog, plan.simulation, log);
  const secureAggregation = await benchSecureAggregation(catalog, plan);
  await writeReport({
    mode,
    startup,
    training,
    participantPass: participant.result,
    aggregator,
    secureSum: secure,
    page: {
      requestsPerSec: Object.fromEntries(Object.entries(page.endpoints).map(([k, v]) => [k, v.requestsPerSec])),
      p99LatencyMs: Object.fromEntries(Object.entries(page.endpoints).map(([k, v]) => [k, v.p99Ms])),
      ...page,
    },
    scale,
    simulation,
    secureAggregation,
    totalMs: Math.round(performance.now() - started),
  });
}

async function writeReport(parts: { mode: Mode; totalMs: number } & Record<string, unknown>): Promise<void> {
  const report = {
    format: 'syftbox-netflix-svd/bench',
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    environment: { node: process.versions.node, platform: `${process.platform}-${process.arch}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, loadAverageAtStart: os.loadavg() },
    ...parts,
  };
  await fs.mkdir(path.dirname(OUT_FILE), { recursive: true });
  await fs.writeFile(OUT_FILE, `${JSON.stringify(report, null, 2)}\n`);
  const table = benchTable(report as Parameters<typeof benchTable>[0]);
  await fs.writeFile(TABLE_FILE, table);
  log(`\n${table}`);
  log(`wrote ${path.relative(PROJECT_ROOT, OUT_FILE)} and ${path.relative(PROJECT_ROOT, TABLE_FILE)} in ${Math.round(parts.totalMs / 1000)} s`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
