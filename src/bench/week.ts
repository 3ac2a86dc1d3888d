import { performance } from 'node:perf_hooks';
import path from 'node:path';
import type { PassStep } from '../participant/node';
import { readGrantedGlobal } from '../participant/recommendations';
import type { Catalog } from '../shared/catalog';
import { loadConfig, type Config } from '../shared/config';
import { GLOBAL_MANIFEST } from '../shared/global-model';
import { silentLogger } from '../shared/log';
import { canRead } from '../shared/permissions';
import type { Workspace } from '../shared/workspace';
import { DEFAULT_SIMULATION, roundEach, runSimulation, type SimulationOptions, type SimulationProbe } from '../simulate/loop';

/**
 * Simulated weeks at scale, timed step by step: where the time of a federation
 * of P participants goes when every one of them runs the production participant
 * pass and the aggregator merges them all. Week 1 is special (no Global_V yet:
 * every participant builds the version-0 initialization, nobody parses the
 * aggregator's permission file), so the steady state is measured on week 2.
 * The participant pass is split where it reports the end of each step
 * (`ParticipantContext.onStep`).
 */

interface WeekBenchmarkOptions {
  participants: number;
  /** Weeks simulated; the steps are those of the last (default 2: the first steady-state week). */
  weeks?: number;
  rank?: number;
  seed?: number;
  recsPerColumn?: number;
  /** Run the permission audit at the end (it checks every published file against every datasite: O(P²)). */
  audit?: boolean;
}

interface WeekBenchmarkEnv {
  config: Config;
  catalog: Catalog;
}

/** Milliseconds per step of the measured week, summed over participants. */
interface BenchmarkSteps {
  /** Pass start to the export parsed: permission files, Global_V read and permission check, export hash and parse. */
  historyParse: number;
  /** Title matching, feedback and local training. */
  training: number;
  /** Private state (U, V_local, V_global) written, and in plain mode the delta + manifest. */
  deltaWrite: number;
  /** The rest of the pass (after the delta, or a pass that published nothing). */
  passOther: number;
  round: number;
  /** loadRecommendations: private model and Global_V read, permission check, two rankings. */
  recommendation: number;
  choice: number;
  clickWrite: number;
  historyWrite: number;
  report: number;
}

interface WeekBenchmarkResult {
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

type StepName = 'historyParse' | 'training' | 'deltaWrite';
const STEP_NAMES: Record<PassStep, StepName> = { history: 'historyParse', training: 'training', delta: 'deltaWrite' };
const MICROSECONDS_PER_MS = 1000;
/** Repetitions of the per-participant access measurement. */
const ACCESS_REPEATS = 3;

type PassSteps = Record<StepName | 'passOther', number>;

interface StepProbe extends SimulationProbe {
  /** Steps of the passes since the last `takeSteps`. */
  takeSteps(): PassSteps;
  access: { readGrantedGlobal: number; permissionCheck: number };
}

/** A probe that timestamps the end of each step of a pass and turns the marks into step times. */
function createStepProbe(rank: number, items: number, vocabHash: string): StepProbe {
  let marks: { step: StepName; t: number }[] = [];
  const empty = (): PassSteps => ({ historyParse: 0, training: 0, deltaWrite: 0, passOther: 0 });
  let steps = empty();
  const probe: StepProbe = {
    passStep(step) {
      marks.push({ step: STEP_NAMES[step], t: performance.now() });
    },
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
    logger: silentLogger,
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

/** One steady-state week (the second of two) at each size: wall and CPU time, peak memory, and which step dominates. */
export async function benchSimulation(catalog: Catalog, sizes: readonly number[], log: (line: string) => void) {
  const config = loadConfig({ dotenv: false, env: { LOG_LEVEL: 'silent' } });
  const results = [];
  for (const participants of sizes) {
    const r = await simulateWeekBenchmark({ participants, weeks: 2, audit: false }, { config, catalog });
    const week = r.weekMs.at(-1) ?? 0;
    const cpu = r.weekCpuMs.at(-1) ?? 0;
    log(`simulation: ${participants} participants, one week ${Math.round(week / 1000)} s wall / ${Math.round(cpu / 1000)} s CPU, peak RSS ${r.peakRssMb} MB; dominant step: ${r.dominant} (${Math.round(r.steps[r.dominant] / 1000)} s)`);
    results.push({ participants, weekMs: week, weekCpuMs: cpu, peakRssMb: r.peakRssMb, dominant: r.dominant, steps: r.steps, rootMb: r.rootMb, ledgerOk: r.ledgerOk });
  }
  return results;
}
