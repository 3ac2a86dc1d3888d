import { execFile } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../shared/config';

/**
 * Start-up time of the CLI: `--help`, `ingest --help` (loading one command) and a
 * whole `ingest` of the shipped demo export (start-up plus the catalogue match) from
 * the production build (`npm run build`, bundled JavaScript) and from the sources
 * through tsx, each beside `node -e 0` measured in the same run: the anchor is the
 * cost of starting Node itself on this machine at this moment. Runs are
 * interleaved (one of each per turn) so that a busy machine slows all alike; the
 * figure is the median. The build goes to a folder of its own, not dist/: an app
 * running from dist/ keeps its files.
 */

const run = promisify(execFile);
const INGEST_FILE = path.join('data', 'demo', 'nsteenholdt-cc0.csv');

interface StartupFigure {
  medianMs: number;
  /** medianMs over the median of `node -e 0`. */
  ratioToNode: number;
  /** medianMs minus the median of `node -e 0`: what the app adds to starting Node. */
  overNodeMs: number;
  /** Mean CPU time (user + system) of a run, and its ratio to node -e 0's; null off Linux. */
  cpuMs: number | null;
  cpuRatioToNode: number | null;
}

interface StartupBench {
  runs: number;
  nodeMs: number;
  nodeCpuMs: number | null;
  loadAverage: number;
  buildMs: number;
  figures: Record<string, StartupFigure>;
}

/** Build with scripts/build.ts into `outdir` (inside the project); resolves to the build's wall time. */
export async function buildInto(outdir: string): Promise<number> {
  const started = performance.now();
  await run(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--outdir', outdir], { cwd: PROJECT_ROOT });
  return performance.now() - started;
}

/** The commands measured: name → node arguments (`dist` is the build folder). */
export function startupCommands(dist: string): Record<string, string[]> {
  const cli = path.join(dist, 'cli.js');
  return {
    'node -e 0': ['-e', '0'],
    'build --help': [cli, '--help'],
    'build ingest --help': [cli, 'ingest', '--help'],
    'build ingest': [cli, 'ingest', '--history', INGEST_FILE, '--json'],
    'tsx --help': ['--import', 'tsx', 'src/cli.ts', '--help'],
    'tsx ingest --help': ['--import', 'tsx', 'src/cli.ts', 'ingest', '--help'],
    'tsx ingest': ['--import', 'tsx', 'src/cli.ts', 'ingest', '--history', INGEST_FILE, '--json'],
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round1 = (x: number) => Math.round(x * 10) / 10;

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

/**
 * CPU time (user + system, ms) of this process's finished children, from
 * /proc/self/stat (cutime, cstime); null off Linux. On a busy machine a child's
 * wall time grows with the load, its CPU time much less: this is the figure an
 * idle machine's wall time comes close to.
 */
function childrenCpuMs(): number | null {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / USER_HZ; // fields 16 and 17 of stat(5), counted after the command name
  } catch {
    return null;
  }
}

/** Median wall time and mean CPU time (null off Linux) of each command over `runs` interleaved runs; a failing command throws. */
export async function timeCommands(commands: Record<string, string[]>, runs: number): Promise<Record<string, { wallMs: number; cpuMs: number | null }>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  const cpu: Record<string, number | null> = Object.fromEntries(Object.keys(commands).map((k) => [k, 0]));
  for (let r = 0; r < runs; r++) {
    for (const [name, args] of Object.entries(commands)) {
      const cpuBefore = childrenCpuMs();
      const started = performance.now();
      await run(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, LOG_LEVEL: 'silent' } });
      times[name].push(performance.now() - started);
      const cpuAfter = childrenCpuMs();
      cpu[name] = cpuBefore === null || cpuAfter === null || cpu[name] === null ? null : cpu[name] + cpuAfter - cpuBefore;
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { wallMs: median(v), cpuMs: cpu[k] === null ? null : cpu[k] / runs }]));
}

export async function benchStartup(runs: number, log: (line: string) => void): Promise<StartupBench> {
  const dist = path.join(PROJECT_ROOT, `.bench-dist-${process.pid}`);
  try {
    const buildMs = await buildInto(dist);
    const measured = await timeCommands(startupCommands(dist), runs);
    const node = measured['node -e 0'];
    const nodeMs = node.wallMs;
    const figures: Record<string, StartupFigure> = {};
    const loadAverage = round1(os.loadavg()[0]);
    for (const [name, { wallMs: ms, cpuMs }] of Object.entries(measured)) {
      if (name === 'node -e 0') continue;
      const cpu = cpuMs === null || node.cpuMs === null ? null : { cpuMs: Math.round(cpuMs), cpuRatioToNode: round1(cpuMs / node.cpuMs) };
      figures[name] = { medianMs: Math.round(ms), ratioToNode: round1(ms / nodeMs), overNodeMs: Math.round(ms - nodeMs), cpuMs: cpu?.cpuMs ?? null, cpuRatioToNode: cpu?.cpuRatioToNode ?? null };
      const cpuText = cpu ? `; CPU ${cpu.cpuMs} ms = ${cpu.cpuRatioToNode}x node's ${Math.round(node.cpuMs!)} ms` : '';
      log(`start-up ${name}: ${Math.round(ms)} ms = ${round1(ms / nodeMs)}x node -e 0 (${Math.round(nodeMs)} ms), +${Math.round(ms - nodeMs)} ms${cpuText} (load average ${loadAverage})`);
    }
    return { runs, nodeMs: Math.round(nodeMs), nodeCpuMs: node.cpuMs === null ? null : Math.round(node.cpuMs), loadAverage, buildMs: Math.round(buildMs), figures };
  } finally {
    await fs.rm(dist, { recursive: true, force: true });
  }
}
