import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { roundParams, runRound } from '../aggregator/round';
import { AGGREGATOR_EMAIL, createTempRoot, EVAL_APP_NAME, PROFILE, participantEmail } from '../eval/federated';
import { ensurePublishPermissions } from '../participant/publish';
import type { Catalog } from '../shared/catalog';
import { loadConfig, PROJECT_ROOT, withOverrides } from '../shared/config';
import { clipL2, writeDelta } from '../shared/delta';
import { silentLogger } from '../shared/log';
import { createRandom } from '../shared/random';
import { createEmbeddedDatasite, Workspace } from '../shared/workspace';

/**
 * One aggregation round over N published deltas. The deltas are written by one
 * child process and merged in another, so that the second's peak RSS is the
 * round's alone (with its one warm-up round over WARM_UP_DELTAS deltas). `childEntry` is the script that dispatches `--child <task>
 * <json>` to `runAggregatorTask`.
 */

const SEED = 7;
const BYTES_PER_MB = 1024 * 1024;
const FLOAT32_BYTES = 4;
/** Initial delta values are ~1e-3; each participant's differs in one value by STEP, so no two payloads are equal (replays). */
const DELTA_SCALE = 1e-3;
const DELTA_STEP = 1e-4;
const DELTA_CLIP = 0.5;
const SCALE_TARGET = { participants: 10_000, rank: 32, ms: 15_000, rssMb: 1024 };

export interface AggregatorCase {
  participants: number;
  rank: number;
  /** Write the deltas under the system temp folder rather than a RAM-backed one. */
  onDisk: boolean;
}

export interface AggregatorTaskArgs {
  dataDir: string;
  participants: number;
  items: number;
  rank: number;
  vocabHash: string;
}

export type AggregatorTask = 'write-deltas' | 'round' | 'cold-round';

/** Publish `participants` distinct clipped deltas with their permission files. */
async function writeDeltas(a: AggregatorTaskArgs): Promise<Record<string, number>> {
  const random = createRandom(SEED);
  const base = new Float32Array(a.items * a.rank);
  for (let i = 0; i < base.length; i++) base[i] = random.normal() * DELTA_SCALE;
  clipL2(base, DELTA_CLIP);
  createEmbeddedDatasite(a.dataDir, AGGREGATOR_EMAIL);
  const start = performance.now();
  const createdAt = new Date().toISOString();
  for (let p = 0; p < a.participants; p++) {
    const email = participantEmail(p + 1);
    createEmbeddedDatasite(a.dataDir, email);
    const ws = new Workspace({ email, dataDir: a.dataDir }, EVAL_APP_NAME);
    await ensurePublishPermissions(ws, AGGREGATOR_EMAIL);
    base[p % base.length] += DELTA_STEP;
    await writeDelta(ws.profileDir(PROFILE), base, { items: a.items, rank: a.rank, vocabHash: a.vocabHash, baseVersion: 0, weight: 1, clipNorm: 1, noise: null, createdAt });
  }
  return { writeMs: Math.round(performance.now() - start) };
}

/** Deltas of the round a warm aggregator process has run before the measured one. */
const WARM_UP_DELTAS = 16;

/** One aggregation round over whatever is published in `dataDir`; its wall time. */
async function timedRound(a: AggregatorTaskArgs, dataDir: string): Promise<{ ms: number; accepted: number; rejected: number }> {
  const config = withOverrides(loadConfig({ dotenv: false, env: {} }), { MODEL_RANK: String(a.rank), APP_NAME: EVAL_APP_NAME, LOG_LEVEL: 'silent' });
  const ws = new Workspace({ email: AGGREGATOR_EMAIL, dataDir }, EVAL_APP_NAME);
  const start = performance.now();
  const summary = await runRound({ ws, model: { items: a.items, rank: a.rank, vocabHash: a.vocabHash }, params: roundParams(config), random: createRandom(SEED), now: () => new Date(), logger: silentLogger });
  return { ms: Math.round(performance.now() - start), accepted: summary.counts.accepted, rejected: summary.counts.rejected };
}

const peakRssMb = () => Math.round((process.resourceUsage().maxRSS * 1024) / BYTES_PER_MB);

/**
 * The round as a running aggregator runs it: in a process that has run a round before
 * (over WARM_UP_DELTAS deltas of another root), as every round after a process's first
 * is, so that thread start-up and JIT warm-up are not counted. Also this process's peak RSS.
 */
async function warmRound(a: AggregatorTaskArgs): Promise<Record<string, number>> {
  const warmUpDir = `${a.dataDir}-warm-up`;
  try {
    await writeDeltas({ ...a, dataDir: warmUpDir, participants: WARM_UP_DELTAS });
    const warmUp = await timedRound(a, warmUpDir);
    const round = await timedRound(a, a.dataDir);
    return { roundMs: round.ms, accepted: round.accepted, rejected: round.rejected, warmUpMs: warmUp.ms, peakRssMb: peakRssMb() };
  } finally {
    await fs.rm(warmUpDir, { recursive: true, force: true });
  }
}

/** The first round of a fresh aggregator process (thread start-up and JIT warm-up included). */
async function coldRound(a: AggregatorTaskArgs): Promise<Record<string, number>> {
  const round = await timedRound(a, a.dataDir);
  return { roundMs: round.ms, accepted: round.accepted, peakRssMb: peakRssMb() };
}

/** What a child process runs; its result is printed as one JSON line. */
export function runAggregatorTask(task: AggregatorTask, args: AggregatorTaskArgs): Promise<Record<string, number>> {
  return task === 'write-deltas' ? writeDeltas(args) : task === 'cold-round' ? coldRound(args) : warmRound(args);
}

/** Run `childEntry --child <task> <json>` and parse the JSON line it prints. */
function child(childEntry: string, task: AggregatorTask, args: AggregatorTaskArgs): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', childEntry, '--child', task, JSON.stringify(args)], { cwd: PROJECT_ROOT, maxBuffer: 16 * BYTES_PER_MB, env: { ...process.env, LOG_LEVEL: 'silent' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`bench child ${task} failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
    });
  });
}

/** The payload files of the published deltas (what the numpy loop reads). */
async function payloadFiles(dataDir: string): Promise<string[]> {
  const files: string[] = [];
  const datasites = path.join(dataDir, 'datasites');
  for (const email of (await fs.readdir(datasites)).sort()) {
    const dir = new Workspace({ email, dataDir }, EVAL_APP_NAME).profileDir(PROFILE);
    const names = await fs.readdir(dir).catch(() => []);
    for (const name of names) if (/^delta-[0-9a-f]{16}\.npy$/.test(name)) files.push(path.join(dir, name));
  }
  return files;
}

export interface NumpyLoop {
  files: number;
  bytes: number;
  ms: number;
  numpy: string;
}

const NUMPY_LOOP = path.join(PROJECT_ROOT, 'src', 'bench', 'numpy_loop.py');

/** Run src/bench/numpy_loop.py with `args` (the file list on stdin); null when python3, numpy (or cryptography for masks) is missing. */
export function numpyLoop(args: string[], files: readonly string[] = []): Promise<NumpyLoop | null> {
  return new Promise((resolve) => {
    const child = execFile('python3', [NUMPY_LOOP, ...args], { maxBuffer: BYTES_PER_MB }, (err, stdout) => {
      if (err) resolve(null);
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as NumpyLoop);
    });
    child.stdin?.end(files.join('\n'));
  });
}

/** Throughput in MB/s of `bytes` processed in `ms`. */
export const mbPerSec = (bytes: number, ms: number) => Math.round(bytes / BYTES_PER_MB / (ms / 1000));

/**
 * The numpy anchor of a figure: the faster of two runs of the loop over the same
 * files (one before, one after the measured run, so both see the same page cache
 * and a changing machine load hurts the anchor no more than the figure).
 */
export async function numpyAnchor(args: string[], files: readonly string[], measured: () => Promise<void>): Promise<NumpyLoop | null> {
  const before = await numpyLoop(args, files);
  await measured();
  return fasterLoop(before, before === null ? null : await numpyLoop(args, files));
}

/** The faster of two runs of the numpy loop (either may be missing). */
export function fasterLoop(before: NumpyLoop | null, after: NumpyLoop | null): NumpyLoop | null {
  if (before === null || after === null) return before ?? after;
  return before.ms <= after.ms ? before : after;
}

export async function benchAggregator(catalog: Catalog, cases: readonly AggregatorCase[], childEntry: string, log: (line: string) => void) {
  const round1 = (x: number) => Math.round(x * 10) / 10;
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const out = [];
  for (const { participants, rank, onDisk } of cases) {
    const items = catalog.items.length;
    const bytes = participants * items * rank * FLOAT32_BYTES;
    const root = onDisk ? await fs.mkdtemp(path.join(os.tmpdir(), 'bench-aggregator-')) : await createTempRoot(bytes, 'bench-aggregator-');
    try {
      const args: AggregatorTaskArgs = { dataDir: path.join(root, 'SyftBox'), participants, items, rank, vocabHash: catalog.hash };
      const { writeMs } = await child(childEntry, 'write-deltas', args);
      const files = await payloadFiles(args.dataDir);
      // in RAM, the first round of a fresh process too, on a copy of the same files (a round consumes them)
      let cold: Record<string, number> | null = null;
      if (!onDisk) {
        const copy = { ...args, dataDir: path.join(root, 'cold', 'SyftBox') };
        await fs.cp(args.dataDir, copy.dataDir, { recursive: true });
        cold = await child(childEntry, 'cold-round', copy);
        await fs.rm(path.join(root, 'cold'), { recursive: true, force: true });
      }
      let round: Record<string, number> = {};
      const numpy = await numpyAnchor(['float32'], files, async () => {
        round = await child(childEntry, 'round', args);
      });
      const { roundMs, accepted, rejected, peakRssMb } = round;
      const loadAverage = os.loadavg().map(round1);
      const mbs = mbPerSec(bytes, roundMs);
      const numpyMbs = numpy ? mbPerSec(numpy.bytes, numpy.ms) : null;
      const ratioToNumpy = numpyMbs ? round2(mbs / numpyMbs) : null;
      const coldRoundMs = cold?.roundMs ?? null;
      const coldMbPerSec = coldRoundMs ? mbPerSec(bytes, coldRoundMs) : null;
      const coldRatioToNumpy = numpyMbs && coldMbPerSec ? round2(coldMbPerSec / numpyMbs) : null;
      const row = { participants, items, rank, deltaMb: round1((items * rank * FLOAT32_BYTES) / BYTES_PER_MB), totalMb: Math.round(bytes / BYTES_PER_MB), tempRoot: path.dirname(root), writeMs, roundMs, mbPerSec: mbs, accepted, rejected, peakRssMb, numpyMs: numpy?.ms ?? null, numpyMbPerSec: numpyMbs, ratioToNumpy, coldRoundMs, coldMbPerSec, coldRatioToNumpy, loadAverage };
      const anchor = numpy ? `${ratioToNumpy}x the numpy loop over the same files (${Math.round(numpy.ms)} ms, ${numpyMbs} MB/s)` : 'no numpy here (python3 -c "import numpy" fails): no anchor in this run';
      // the issue's scale target: 10,000 participants x the catalogue x rank 32 in 15 s, peak RSS within 1 GB
      const atScale = participants >= SCALE_TARGET.participants && rank >= SCALE_TARGET.rank;
      const target = atScale ? `; scale target ${SCALE_TARGET.ms / 1000} s and ${SCALE_TARGET.rssMb} MB: ${round2(roundMs / SCALE_TARGET.ms)}x the time, ${round2(peakRssMb / SCALE_TARGET.rssMb)}x the memory` : '';
      const coldText = coldRoundMs === null ? '' : `; the first round of a fresh process: ${coldRoundMs} ms = ${coldMbPerSec} MB/s${coldRatioToNumpy === null ? '' : ` = ${coldRatioToNumpy}x`}`;
      log(`aggregator round: ${participants} deltas of ${items} x ${rank} (${row.totalMb} MB under ${row.tempRoot}), in a process that ran a round before: ${roundMs} ms = ${mbs} MB/s = ${anchor}${coldText}; peak RSS ${peakRssMb} MB${target}; load average ${loadAverage.join(' ')} (writing them took ${writeMs} ms)`);
      out.push(atScale ? { ...row, targetMs: SCALE_TARGET.ms, targetRssMb: SCALE_TARGET.rssMb } : row);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  }
  return out;
}
