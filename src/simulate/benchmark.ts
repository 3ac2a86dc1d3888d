import { performance } from 'node:perf_hooks';
import path from 'node:path';
import pino from 'pino';
import { readGrantedGlobal } from '../participant/recommendations';
import type { Catalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import { GLOBAL_MANIFEST } from '../shared/global-model';
import { silentLogger, type Logger } from '../shared/log';
import { canRead } from '../shared/permissions';
import type { Workspace } from '../shared/workspace';
import { DEFAULT_SIMULATION, roundEach, runSimulation, type SimulationOptions, type SimulationProbe } from './loop';

/**
 * Simulated weeks at scale, timed step by step: where the time of a federation
 * of P participants goes when every one of them runs the production participant
 * pass and the aggregator merges them all. Week 1 is special (no Global_V yet:
 * every participant builds the version-0 initialization, nobody parses the
 * aggregator's permission file), so the steady state is measured on week 2.
 *
 * The participant pass is split by its own log lines, which it writes between
 * its steps: pass start → "read viewing history" (own permission file, Global_V
 * read and permission check, export hash and parse) → "trained local model"
 * (matching, feedback, local training) → "published delta" (private state,
 * delta and manifest written; under secure aggregation "kept the trained model
 * for the next secure round": private state written) → pass end. A logger at level info with a
 * high-resolution timestamp records them; the production code is unchanged.
 */

export interface WeekBenchmarkOptions {
  participants: number;
  /** Weeks simulated; the steps are those of the last (default 2: the first steady-state week). */
  weeks?: number;
  rank?: number;
  seed?: number;
  recsPerColumn?: number;
  /** Run the permission audit at the end (it checks every published file against every datasite: O(P²)). */
  audit?: boolean;
}

export interface WeekBenchmarkEnv {
  config: Config;
  catalog: Catalog;
}

/** Milliseconds per step of the measured week, summed over participants. */
export interface BenchmarkSteps {
  /** Pass start to "read viewing history": permission files, Global_V read and permission check, export hash and parse. */
  historyParse: number;
  /** Title matching, feedback and local training. */
  training: number;
  /** Private state (U, V_local, V_global) written, and in plain mode the delta + manifest. */
  deltaWrite: number;
  /** The rest of the pass (after the delta, or a pass without the log lines). */
  passOther: number;
  round: number;
  /** loadRecommendations: private model and Global_V read, permission check, two rankings. */
  recommendation: number;
  choice: number;
  clickWrite: number;
  historyWrite: number;
  report: number;
}

export interface WeekBenchmarkResult {
  participants: number;
  items: number;
  rank: number;
  /** Building the population, the root and every export file. */
  setupMs: number;
  /** Wall time of each week (passes, round, pages, clicks, report). */
  weekMs: number[];
  /** CPU time (user + system) of this process in each week (week 1 includes the setup): less sensitive than wall time to other load on the machine. */
  weekCpuMs: number[];
  /** Steps of the last week. */
  steps: BenchmarkSteps;
  /** The step of the last week that took the most time. */
  dominant: keyof BenchmarkSteps;
  /** One participant's Global_V access on the final root: readGrantedGlobal (read + permission check), and the permission check alone. Both run twice per participant and week (pass and page). */
  perParticipantMs: { readGrantedGlobal: number; permissionCheck: number };
  /** End-of-run checks: ledger end to end, permission audit (0 when skipped). */
  checksMs: { ledger: number; audit: number };
  peakRssMb: number;
  rootMb: number;
  ledgerOk: boolean;
  auditOk: boolean | null;
}

type PassStep = 'historyParse' | 'training' | 'deltaWrite';
const PASS_MARKS: readonly [string, PassStep][] = [
  ['read viewing history', 'historyParse'],
  ['trained local model', 'training'],
  ['published delta', 'deltaWrite'],
  ['kept the trained model for the next secure round', 'deltaWrite'],
];
const MICROSECONDS_PER_MS = 1000;
/** Repetitions of the per-participant access measurement. */
const ACCESS_REPEATS = 3;

type PassSteps = Record<PassStep | 'passOther', number>;

interface StepProbe extends SimulationProbe {
  logger: Logger;
  /** Steps of the passes since the last `takeSteps`. */
  takeSteps(): PassSteps;
  access: { readGrantedGlobal: number; permissionCheck: number };
}

/** A logger that timestamps the pass's step lines, and a probe that turns them into step times per pass. */
function createStepProbe(rank: number, items: number, vocabHash: string): StepProbe {
  let marks: { step: PassStep; t: number }[] = [];
  const empty = (): PassSteps => ({ historyParse: 0, training: 0, deltaWrite: 0, passOther: 0 });
  let steps = empty();
  const stream = {
    write(line: string) {
      const mark = PASS_MARKS.find(([msg]) => line.includes(`"msg":"${msg}"`));
      if (mark) marks.push({ step: mark[1], t: (JSON.parse(line) as { t: number }).t });
    },
  };
  const probe: StepProbe = {
    logger: pino({ level: 'info', base: undefined, timestamp: () => `,"t":${performance.now()}` }, stream),
    access: { readGrantedGlobal: 0, permissionCheck: 0 },
    passDone(startMs, endMs) {
      let previous = startMs;
      for (const { step, t } of marks) {
        steps[step] += t - previous;
        previous = t;
      }
      steps.passOther += endMs - previous;
      marks = [];
    },
    takeSteps() {
      const taken = steps;
      steps = empty();
      return taken;
    },
    async inspect({ aggregator, participants }) {
      const ws: Workspace | undefined = participants[0];
      if (!ws) return;
      const time = async (task: () => Promise<unknown>) => {
        const t0 = performance.now();
        for (let i = 0; i < ACCESS_REPEATS; i++) await task();
        return (performance.now() - t0) / ACCESS_REPEATS;
      };
      const model = await readGrantedGlobal(ws, aggregator.email, { items, rank, vocabHash }, silentLogger);
      if (!model) return;
      const manifest = path.join(ws.globalVersionDir(aggregator.email, model.manifest.version), GLOBAL_MANIFEST);
      probe.access = roundEach({
        readGrantedGlobal: await time(() => readGrantedGlobal(ws, aggregator.email, { items, rank, vocabHash }, silentLogger)),
        permissionCheck: await time(() => canRead(ws.datasitesDir, ws.email, manifest)),
      });
    },
  };
  return probe;
}

/** Simulate `weeks` (default 2) weeks of `participants` on a temporary root (deleted after) and time each step of the last. */
export async function simulateWeekBenchmark(options: WeekBenchmarkOptions, env: WeekBenchmarkEnv): Promise<WeekBenchmarkResult> {
  const simulation: SimulationOptions = {
    ...DEFAULT_SIMULATION,
    participants: options.participants,
    weeks: options.weeks ?? 2,
    seed: options.seed ?? DEFAULT_SIMULATION.seed,
    rank: options.rank ?? DEFAULT_SIMULATION.rank,
    recsPerColumn: options.recsPerColumn ?? DEFAULT_SIMULATION.recsPerColumn,
    audit: options.audit ?? true,
  };
  const probe = createStepProbe(simulation.rank, env.catalog.items.length, env.catalog.hash);
  let passSteps = probe.takeSteps();
  const weekCpuMs: number[] = [];
  let cpu = process.cpuUsage();
  const result = await runSimulation(simulation, {
    config: env.config,
    catalog: env.catalog,
    logger: probe.logger,
    probe,
    onWeek: () => {
      passSteps = probe.takeSteps();
      const used = process.cpuUsage(cpu);
      weekCpuMs.push(Math.round((used.user + used.system) / MICROSECONDS_PER_MS));
      cpu = process.cpuUsage();
    },
  });
  const t = result.weeks.at(-1)?.timingsMs;
  if (!t) throw new RangeError('simulateWeekBenchmark: weeks must be at least 1');
  const steps: BenchmarkSteps = {
    ...roundEach(passSteps),
    round: t.round,
    recommendation: t.recommendation,
    choice: t.choice,
    clickWrite: t.clickWrite,
    historyWrite: t.historyWrite,
    report: t.report,
  };
  const dominant = (Object.keys(steps) as (keyof BenchmarkSteps)[]).reduce((a, b) => (steps[b] > steps[a] ? b : a));
  const ends = result.weeks.map((w) => w.elapsedMs);
  return {
    participants: simulation.participants,
    items: result.params.items,
    rank: simulation.rank,
    setupMs: result.setupMs,
    weekMs: ends.map((end, i) => end - (i === 0 ? result.setupMs : ends[i - 1])),
    weekCpuMs,
    steps,
    dominant,
    perParticipantMs: probe.access,
    checksMs: result.checksMs,
    peakRssMb: result.peakRssMb,
    rootMb: result.rootMb,
    ledgerOk: result.ledgerOk,
    auditOk: result.auditOk,
  };
}
