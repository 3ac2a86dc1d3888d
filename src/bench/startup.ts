import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
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
}

interface StartupBench {
  runs: number;
  nodeMs: number;
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

/** Median wall time of each command over `runs` interleaved runs; a failing command throws. */
export async function timeCommands(commands: Record<string, string[]>, runs: number): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let r = 0; r < runs; r++) {
    for (const [name, args] of Object.entries(commands)) {
      const started = performance.now();
      await run(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, LOG_LEVEL: 'silent' } });
      times[name].push(performance.now() - started);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

export async function benchStartup(runs: number, log: (line: string) => void): Promise<StartupBench> {
  const dist = path.join(PROJECT_ROOT, `.bench-dist-${process.pid}`);
  try {
    const buildMs = await buildInto(dist);
    const medians = await timeCommands(startupCommands(dist), runs);
    const nodeMs = medians['node -e 0'];
    const figures: Record<string, StartupFigure> = {};
    for (const [name, ms] of Object.entries(medians)) {
      if (name === 'node -e 0') continue;
      figures[name] = { medianMs: Math.round(ms), ratioToNode: round1(ms / nodeMs), overNodeMs: Math.round(ms - nodeMs) };
      log(`start-up ${name}: ${Math.round(ms)} ms = ${round1(ms / nodeMs)}x node -e 0 (${Math.round(nodeMs)} ms), +${Math.round(ms - nodeMs)} ms`);
    }
    return { runs, nodeMs: Math.round(nodeMs), buildMs: Math.round(buildMs), figures };
  } finally {
    await fs.rm(dist, { recursive: true, force: true });
  }
}
