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
 * - simulation: one steady-state week of the closed-loop simulation at 1,000
 *   participants (--full: also 5,000): wall and CPU time, peak RSS, the dominant step.
 * No dependency beyond the project's own.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createTempRoot, AGGREGATOR_EMAIL, EVAL_APP_NAME, PROFILE, participantEmail } from '../src/eval/federated';
import { writeSyntheticMovieLens } from '../src/eval/synthetic';
import { simulateWeekBenchmark } from '../src/simulate/benchmark';
import { roundParams, runRound } from '../src/aggregator/round';
import { createParticipantContext } from '../src/participant/context';
import { runParticipantPass } from '../src/participant/node';
import { ensurePublishPermissions } from '../src/participant/publish';
import { buildApp } from '../src/participant/server/app';
import { loadCatalog, type Catalog } from '../src/shared/catalog';
import { loadConfig, withOverrides } from '../src/shared/config';
import { clipL2, writeDelta } from '../src/shared/delta';
import { initialItemFactors } from '../src/shared/global-model';
import { silentLogger } from '../src/shared/log';
import { gramian, solveUser, trainLocal } from '../src/shared/model/factorize';
import type { Interaction } from '../src/shared/model/feedback';
import { createRandom, type Random } from '../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../src/shared/workspace';

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_FILE = path.join(PROJECT, 'bench-results', 'bench.json');
const SEED = 7;
const INTERACTIONS_PER_USER = 100;
const ACTIVITY_ROWS = 15_000;
const ACTIVITY_PROFILES = ['Alex', 'Sam', 'Kids'];
const PAGE_CONCURRENCY = 16;
const BYTES_PER_MB = 1024 * 1024;
const SCALE = { users: 6000, items: 4000, rounds: 2 };

type Mode = 'quick' | 'default' | 'full';
interface Plan {
  trainingSeconds: number;
  pageSeconds: number;
  aggregator: { participants: number; rank: number; onDisk: boolean }[];
  /** Closed-loop simulation sizes: one steady-state week each (the second of two). */
  simulation: number[];
}
const PLANS: Record<Mode, Plan> = {
  quick: { trainingSeconds: 0.5, pageSeconds: 1, aggregator: [{ participants: 200, rank: 32, onDisk: false }, { participants: 1000, rank: 8, onDisk: false }], simulation: [50] },
  default: { trainingSeconds: 2, pageSeconds: 3, aggregator: [{ participants: 1000, rank: 32, onDisk: false }, { participants: 10_000, rank: 8, onDisk: false }], simulation: [1000] },
  full: { trainingSeconds: 5, pageSeconds: 10, aggregator: [{ participants: 1000, rank: 32, onDisk: false }, { participants: 10_000, rank: 32, onDisk: true }], simulation: [1000, 5000] },
};

const log = (line: string) => process.stdout.write(`${line}\n`);
const round1 = (x: number) => Math.round(x * 10) / 10;

function randomInteractions(random: Random, items: number, count: number): Interaction[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(random.int(items));
  return [...chosen].sort((a, b) => a - b).map((item) => ({ item, preference: 1, confidence: 0.5 + 3 * random.next() }));
}

/** Calls of `fn` per second over about `seconds` (at least 3 calls). */
function rate(seconds: number, fn: () => void): number {
  let calls = 0;
  const start = performance.now();
  while (calls < 3 || performance.now() - start < seconds * 1000) {
    fn();
    calls++;
  }
  return calls / ((performance.now() - start) / 1000);
}

function benchTraining(items: number, plan: Plan) {
  const config = loadConfig({ dotenv: false, env: {} });
  const random = createRandom(SEED);
  const out = [];
  for (const rank of [32, 100]) {
    const V = initialItemFactors(items, rank, SEED);
    const users = Array.from({ length: 16 }, () => randomInteractions(random, items, INTERACTIONS_PER_USER));
    const options = { items, rank, reg: config.ALS_REG, alpha: config.ALS_ALPHA, epochs: config.LOCAL_EPOCHS, lr: config.LOCAL_LR };
    const gram = gramian(V, items, rank);
    let k = 0;
    const trainLocalPerSec = rate(plan.trainingSeconds, () => trainLocal(V, users[k++ % users.length], options));
    const trainLocalSharedGramPerSec = rate(plan.trainingSeconds, () => trainLocal(V, users[k++ % users.length], { ...options, gram }));
    const solveUserPerSec = rate(plan.trainingSeconds, () => solveUser(V, rank, users[k++ % users.length], options, gram));
    const row = { rank, items, interactions: INTERACTIONS_PER_USER, epochs: options.epochs, trainLocalPerSec: round1(trainLocalPerSec), trainLocalSharedGramPerSec: round1(trainLocalSharedGramPerSec), solveUserPerSec: round1(solveUserPerSec) };
    log(`training rank ${rank}: trainLocal ${row.trainLocalPerSec}/s (participant, computes VᵀV), ${row.trainLocalSharedGramPerSec}/s (shared VᵀV), solveUser ${row.solveUserPerSec}/s`);
    out.push(row);
  }
  return out;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A ViewingActivity.csv of `rows` rows: three profiles, series episodes and films from the catalogue, 5% previews. */
function viewingActivity(catalog: Catalog, rows: number, random: Random): string {
  const series = catalog.items.filter((i) => i.kind === 'series').slice(0, 300);
  const films = catalog.items.filter((i) => i.kind === 'film').slice(0, 600);
  const lines = ['Profile Name,Start Time,Duration,Attributes,Title,Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country'];
  let time = Date.UTC(2021, 0, 1);
  for (let r = 0; r < rows; r++) {
    time += Math.floor(random.next() * 4 * 3600 * 1000);
    const start = new Date(time).toISOString().replace('T', ' ').slice(0, 19);
    const profile = ACTIVITY_PROFILES[random.int(ACTIVITY_PROFILES.length)];
    const seconds = 300 + random.int(3000);
    const duration = `${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:${pad2(seconds % 60)}`;
    const isSeries = random.next() < 0.7;
    const title = isSeries
      ? `${series[random.int(series.length)].title}: Season ${1 + random.int(3)}: Episode ${1 + random.int(10)}`
      : films[random.int(films.length)].title;
    const supplemental = random.next() < 0.05 ? 'TRAILER' : '';
    lines.push([profile, start, duration, '', title, supplemental, 'Chrome PC', duration, duration, 'US (United States)'].map((f) => `"${f.replace(/"/g, '""')}"`).join(','));
  }
  return `${lines.join('\n')}\n`;
}

async function benchParticipant(catalog: Catalog) {
  const root = await createTempRoot(catalog.items.length * 32 * 4 * 8, 'bench-participant-');
  const dataDir = path.join(root, 'SyftBox');
  const me = 'me@bench.local';
  createEmbeddedDatasite(dataDir, AGGREGATOR_EMAIL);
  const identity = createEmbeddedDatasite(dataDir, me);
  const outputDir = path.join(root, 'netflix_data');
  await fs.mkdir(path.join(outputDir, 'profile_0'), { recursive: true });
  await fs.writeFile(path.join(outputDir, 'profile_0', 'ViewingActivity.csv'), viewingActivity(catalog, ACTIVITY_ROWS, createRandom(SEED)));
  const config = withOverrides(loadConfig({ dotenv: false, env: {} }), {
    AGGREGATOR_DATASITE: AGGREGATOR_EMAIL,
    OUTPUT_DIR: outputDir,
    NETFLIX_CSV: 'ViewingActivity.csv',
    NETFLIX_PROFILES: 'profile_0',
    LOG_LEVEL: 'silent',
  });
  const ws = new Workspace(identity, config.APP_NAME);
  const ctx = await createParticipantContext(config, ws, silentLogger);
  let t = performance.now();
  const first = await runParticipantPass(ctx);
  const firstPassMs = performance.now() - t;
  t = performance.now();
  const second = await runParticipantPass(ctx);
  const secondPassMs = performance.now() - t;
  const result = {
    rows: ACTIVITY_ROWS,
    profiles: first.profiles.length,
    published: first.profiles.filter((p) => p.status === 'published').length,
    rank: config.MODEL_RANK,
    items: catalog.items.length,
    firstPassMs: Math.round(firstPassMs),
    unchangedPassMs: Math.round(secondPassMs),
    unchangedStatuses: second.profiles.map((p) => p.status),
  };
  log(`participant pass: ${ACTIVITY_ROWS} ViewingActivity rows, ${result.profiles} profiles: first pass ${result.firstPassMs} ms, unchanged pass ${result.unchangedPassMs} ms`);
  return { result, root, config, ws, catalog };
}

interface LoadResult {
  requests: number;
  errors: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** Closed-loop load: `concurrency` workers, each sending its next request when the last one answered. */
async function load(port: number, method: 'GET' | 'POST', urlPath: string, seconds: number, concurrency: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const once = () =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers: method === 'POST' ? { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` } : {} }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) errors++;
          latencies.push(performance.now() - start);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(method === 'POST' ? '{}' : undefined);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) await once();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requests: latencies.length, errors, requestsPerSec: round1(latencies.length / elapsed), p50Ms: round1(at(0.5)), p99Ms: round1(at(0.99)) };
}

async function benchPage(participant: Awaited<ReturnType<typeof benchParticipant>>, plan: Plan) {
  const app = buildApp({ config: participant.config, workspace: participant.ws, catalog: participant.catalog, profile: 'profile_0' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const out: Record<string, LoadResult> = {};
  try {
    for (const [name, method, url] of [
      ['GET /api/status', 'GET', '/api/status'],
      ['POST /api/views', 'POST', '/api/views'],
      ['GET /', 'GET', '/'],
    ] as const) {
      out[name] = await load(port, method, url, plan.pageSeconds, PAGE_CONCURRENCY);
      log(`page ${name}: ${out[name].requestsPerSec} requests/s, p50 ${out[name].p50Ms} ms, p99 ${out[name].p99Ms} ms (${PAGE_CONCURRENCY} concurrent, ${out[name].errors} errors)`);
    }
  } finally {
    await app.close();
  }
  return { concurrency: PAGE_CONCURRENCY, seconds: plan.pageSeconds, endpoints: out };
}

/** Run this script as a child (`--child <task> <json>`) and parse the JSON line it prints. */
function child(task: string, args: object): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', task, JSON.stringify(args)], { cwd: PROJECT, maxBuffer: 16 * BYTES_PER_MB, env: { ...process.env, LOG_LEVEL: 'silent' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`bench child ${task} failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
    });
  });
}

interface AggregatorArgs {
  dataDir: string;
  participants: number;
  items: number;
  rank: number;
  vocabHash: string;
}

/** Child task: publish `participants` distinct clipped deltas with their permission files. */
async function writeDeltas(a: AggregatorArgs): Promise<Record<string, number>> {
  const random = createRandom(SEED);
  const base = new Float32Array(a.items * a.rank);
  for (let i = 0; i < base.length; i++) base[i] = random.normal() * 1e-3;
  clipL2(base, 0.5);
  createEmbeddedDatasite(a.dataDir, AGGREGATOR_EMAIL);
  const start = performance.now();
  const createdAt = new Date().toISOString();
  for (let p = 0; p < a.participants; p++) {
    const email = participantEmail(p + 1);
    createEmbeddedDatasite(a.dataDir, email);
    const ws = new Workspace({ email, dataDir: a.dataDir }, EVAL_APP_NAME);
    await ensurePublishPermissions(ws, AGGREGATOR_EMAIL);
    base[p % base.length] += 1e-4; // every delta distinct (identical payloads would be replays)
    await writeDelta(ws.profileDir(PROFILE), base, { items: a.items, rank: a.rank, vocabHash: a.vocabHash, baseVersion: 0, weight: 1, clipNorm: 1, noise: null, createdAt });
  }
  return { writeMs: Math.round(performance.now() - start) };
}

/** Child task: one aggregation round over whatever is published; wall time and this process's peak RSS. */
async function oneRound(a: AggregatorArgs): Promise<Record<string, number>> {
  const config = withOverrides(loadConfig({ dotenv: false, env: {} }), { MODEL_RANK: String(a.rank), APP_NAME: EVAL_APP_NAME, LOG_LEVEL: 'silent' });
  const ws = new Workspace({ email: AGGREGATOR_EMAIL, dataDir: a.dataDir }, EVAL_APP_NAME);
  const start = performance.now();
  const summary = await runRound({ ws, model: { items: a.items, rank: a.rank, vocabHash: a.vocabHash }, params: roundParams(config), random: createRandom(SEED), now: () => new Date(), logger: silentLogger });
  return { roundMs: Math.round(performance.now() - start), accepted: summary.counts.accepted, rejected: summary.counts.rejected, peakRssMb: Math.round((process.resourceUsage().maxRSS * 1024) / BYTES_PER_MB) };
}

async function benchAggregator(catalog: Catalog, plan: Plan) {
  const out = [];
  for (const { participants, rank, onDisk } of plan.aggregator) {
    const items = catalog.items.length;
    const bytes = participants * items * rank * 4;
    const root = onDisk ? await fs.mkdtemp(path.join(os.tmpdir(), 'bench-aggregator-')) : await createTempRoot(bytes, 'bench-aggregator-');
    try {
      const args: AggregatorArgs = { dataDir: path.join(root, 'SyftBox'), participants, items, rank, vocabHash: catalog.hash };
      const { writeMs } = await child('write-deltas', args);
      const { roundMs, accepted, rejected, peakRssMb } = await child('round', args);
      const row = { participants, items, rank, deltaMb: round1((items * rank * 4) / BYTES_PER_MB), totalMb: Math.round(bytes / BYTES_PER_MB), tempRoot: path.dirname(root), writeMs, roundMs, accepted, rejected, peakRssMb };
      log(`aggregator round: ${participants} deltas of ${items} x ${rank} (${row.totalMb} MB under ${row.tempRoot}): ${row.roundMs} ms, peak RSS ${row.peakRssMb} MB (writing them took ${row.writeMs} ms)`);
      out.push(row);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  }
  return out;
}

/** The closed-loop simulation's week at each planned size: wall and CPU time, peak memory, and which step dominates. */
async function benchSimulation(catalog: Catalog, plan: Plan) {
  const config = loadConfig({ dotenv: false, env: { LOG_LEVEL: 'silent' } });
  const results = [];
  for (const participants of plan.simulation) {
    const r = await simulateWeekBenchmark({ participants, weeks: 2, audit: false }, { config, catalog });
    const week = r.weekMs.at(-1) ?? 0;
    const cpu = r.weekCpuMs.at(-1) ?? 0;
    log(`simulation: ${participants} participants, one week ${Math.round(week / 1000)} s wall / ${Math.round(cpu / 1000)} s CPU, peak RSS ${r.peakRssMb} MB; dominant step: ${r.dominant} (${Math.round(r.steps[r.dominant] / 1000)} s)`);
    results.push({ participants, weekMs: week, weekCpuMs: cpu, peakRssMb: r.peakRssMb, dominant: r.dominant, steps: r.steps, rootMb: r.rootMb, ledgerOk: r.ledgerOk });
  }
  return results;
}

/** The eval CLI on a synthetic 6,000-user folder, in a child process; figures from its report. */
async function benchScale() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-scale-'));
  try {
    const data = path.join(dir, 'data');
    const ratings = await writeSyntheticMovieLens(data, { users: SCALE.users, items: SCALE.items, seed: SEED });
    const started = performance.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'eval', '--ratings', data, '--rounds', String(SCALE.rounds), '--baselines', 'popularity', '--epsilons', 'none', '--out', path.join(dir, 'out'), '--json'],
        { cwd: PROJECT, maxBuffer: 256 * BYTES_PER_MB, env: { ...process.env, LOG_LEVEL: 'silent' } },
        (err, out, stderr) => (err ? reject(new Error(`eval at scale failed: ${stderr || err.message}`)) : resolve(out)),
      );
    });
    const report = JSON.parse(stdout);
    const fed = report.settings.find((x: { name: string }) => x.name === 'federated');
    const result = {
      users: SCALE.users,
      items: SCALE.items,
      ratings,
      rank: report.params.rank,
      rounds: SCALE.rounds,
      wallMs: Math.round(performance.now() - started),
      ingestMs: report.timings.ingestMs,
      peakRssMb: report.timings.peakRssMb,
      tempRoot: report.environment.tempRoot,
      perRound: fed.rounds.map((r: { round: number; participantsMs: number; aggregatorMs: number }) => ({ round: r.round, participantsMs: r.participantsMs, aggregatorMs: r.aggregatorMs })),
    };
    log(`eval at scale: ${SCALE.users} users, ${ratings} ratings, ${SCALE.items} items, ${SCALE.rounds} rounds: ${Math.round(result.wallMs / 1000)} s, peak RSS ${result.peakRssMb} MB`);
    return result;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    const args = JSON.parse(argv[2]) as AggregatorArgs;
    const result = argv[1] === 'write-deltas' ? await writeDeltas(args) : await oneRound(args);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const mode: Mode = argv.includes('--quick') ? 'quick' : argv.includes('--full') ? 'full' : 'default';
  const plan = PLANS[mode];
  const started = performance.now();
  log(`bench (${mode}) on Node ${process.versions.node}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const catalog = await loadCatalog(null);
  const training = benchTraining(catalog.items.length, plan);
  const participant = await benchParticipant(catalog);
  let page;
  try {
    page = await benchPage(participant, plan);
  } finally {
    await fs.rm(participant.root, { recursive: true, force: true });
  }
  const aggregator = await benchAggregator(catalog, plan);
  const scale = argv.includes('--scale') || mode === 'full' ? await benchScale() : null;
  const simulation = await benchSimulation(catalog, plan);
  const report = {
    format: 'syftbox-netflix-svd/bench',
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    mode,
    environment: { node: process.versions.node, platform: `${process.platform}-${process.arch}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, loadAverageAtStart: os.loadavg() },
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
  log(`wrote ${path.relative(PROJECT, OUT_FILE)} in ${Math.round(report.totalMs / 1000)} s`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
