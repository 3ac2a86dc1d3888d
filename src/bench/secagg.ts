import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cpuUsage } from 'node:process';
import { performance } from 'node:perf_hooks';
import { roundParams, runRound, type RoundContext } from '../aggregator/round';
import { secureParams, type SecureStep } from '../aggregator/secagg';
import { AGGREGATOR_EMAIL, createTempRoot, EVAL_APP_NAME, PROFILE, participantEmail } from '../eval/federated';
import { assignProfiles } from '../participant/profiles';
import { ensurePublishPermissions } from '../participant/publish';
import type { MemberContext } from '../participant/secagg';
import { STATE_FORMAT_VERSION, writeProfileModel } from '../participant/state';
import type { Catalog } from '../shared/catalog';
import { loadConfig, withOverrides } from '../shared/config';
import { clipL2, writeDelta } from '../shared/delta';
import { silentLogger } from '../shared/log';
import { createRandom, cryptoRandom, deriveSeed } from '../shared/random';
import { pairSeed, publicKeyOf } from '../shared/secagg/crypto';
import { MECHANISM_LABEL } from './table';
import { cohortShape, graphDropout, neighbourGraph, type CohortShape } from '../shared/secagg/graph';
import { addMask, addMod, expandMask } from '../shared/secagg/prg';
import { startMaskWorkers } from '../shared/secagg/mask-workers';
import { startFileWorkers } from '../shared/hash-workers';
import { makeShares, maskInput, revealFor, unmaskSum, type CohortView, type MemberSecrets, type OpenedShare } from '../shared/secagg/protocol';
import { splitSecret } from '../shared/secagg/shamir';
import { createEmbeddedDatasite, Workspace } from '../shared/workspace';
import { folderBytes } from '../simulate/loop';
import { memberPhaseOf, runSecureRoundInProcess, type MemberPhaseName } from '../simulate/secure-round';
import { formatSeconds, progressTicker } from '../shared/progress';

/**
 * Secure aggregation against plain FedAvg on the same inputs (issue 14, requirement 8).
 *
 * - rounds: one whole round in process through real files, once plain (each member clips and
 *   writes its delta; `runRound`) and once secure (`runSecureRoundInProcess`), for n members
 *   whose delta is the same vector in both. Members who drop leave after sharing, before their
 *   masked input (the case that costs the aggregator most: their pair masks are rebuilt).
 *   Per-member CPU by phase, the aggregator's CPU for the sum and for unmasking + commit,
 *   bytes published per member and in total, the round's wall time; training is not included.
 *   Timed as a running aggregator's rounds: its worker threads up, and each kind of round
 *   (plain, each mechanism) run once before, untimed, on a few members.
 * - core: the protocol functions alone at the production length, for cohort shapes the in-process
 *   rounds do not reach in a short run: a member's makeShares + maskInput, and the server's
 *   unmaskSum (shares split and the masked sum built in memory, checked against Σx).
 */

const SEED = 14;
const DELTA_SCALE = 1e-3;
const DELTA_STEP = 1e-4;
const DELTA_CLIP = 0.5;
const BYTES_PER_KB = 1024;
const DAY_MS = 86_400_000;
const MS_PER_US = 1000;
/** Progress lines per phase of a round with many members. */

export interface SecureRoundCase {
  participants: number;
  /** Items of the model (the catalogue's first `items`): fewer than the catalogue keeps a large cohort short. */
  items: number;
  rank: number;
  /** Share of the cohort that drops after sharing, before sending its masked input. */
  dropout: number;
  survivorFraction: number;
  /**
   * Which secure round: `dp`, a DP training run's first round under the default settings (each
   * member sends its watched row, one value per item); `optimizer`, a round of the federated
   * optimizer (DP_EPSILON=0), the longest vector a secure round carries (per item, a rank-sized
   * gradient and preconditioner: about twice a plain FedAvg delta).
   */
  mechanism: 'dp' | 'optimizer';
}

type Log = (line: string) => void;
const round1 = (x: number) => Math.round(x * 10) / 10;
const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)];
};

/** The first `items` of the catalogue (its hash names the cut, so no model of the full catalogue matches). */
function cutCatalog(catalog: Catalog, items: number): Catalog {
  if (items >= catalog.items.length) return catalog;
  return { ...catalog, items: catalog.items.slice(0, items), hash: createHash('sha256').update(`${catalog.hash}/${items}`).digest('hex') };
}

/** Member i's delta: a shared random vector with one coordinate moved, so no two are equal. */
function deltaMaker(length: number): (member: number) => Float32Array {
  const random = createRandom(SEED);
  const base = new Float32Array(length);
  for (let i = 0; i < length; i++) base[i] = random.normal() * DELTA_SCALE;
  clipL2(base, DELTA_CLIP);
  return (member) => {
    const delta = Float32Array.from(base);
    delta[(member * 7919) % length] += DELTA_STEP;
    return delta;
  };
}

interface Federation {
  dataDir: string;
  aggregator: RoundContext;
  config: ReturnType<typeof loadConfig>;
  catalog: Catalog;
  emails: string[];
}

/**
 * The dropout rate the aggregator sizes its graph for once its rounds lose `c.dropout` of the
 * cohort (`graphDropout` after one such round): what every round after the first is sized for.
 * The benchmark's single round gets it as its floor, as if that round had been run before.
 */
function settledGraphDropout(c: SecureRoundCase): number {
  const floor = loadConfig({ dotenv: false, env: {} }).SECAGG_DROPOUT_RATE;
  const cap = 1 - c.survivorFraction;
  const lost = Math.round(c.dropout * c.participants);
  return graphDropout([{ cohort: c.participants, survivors: c.participants - lost, outcome: 'merged' }], { floor: Math.min(floor, cap), cap });
}

function federation(root: string, c: SecureRoundCase, catalog: Catalog): Federation {
  const dataDir = path.join(root, 'SyftBox');
  const config = withOverrides(loadConfig({ dotenv: false, env: {} }), {
    APP_NAME: EVAL_APP_NAME,
    AGGREGATOR_DATASITE: AGGREGATOR_EMAIL,
    MODEL_RANK: String(c.rank),
    LOG_LEVEL: 'silent',
    SECAGG_SURVIVOR_FRACTION: String(c.survivorFraction),
    SECAGG_DROPOUT_RATE: String(settledGraphDropout(c)),
    ...(c.mechanism === 'optimizer' ? { DP_EPSILON: '0' } : {}),
    // the in-process driver closes each phase as soon as everyone answered; a long deadline keeps a slow
    // run (1,000 members on a loaded machine take more than the default 5 × 2 minutes) from expiring
    SECAGG_PHASE_MS: String(DAY_MS),
  });
  const cut = cutCatalog(catalog, c.items);
  createEmbeddedDatasite(dataDir, AGGREGATOR_EMAIL);
  const aggregator: RoundContext = {
    ws: new Workspace({ email: AGGREGATOR_EMAIL, dataDir }, EVAL_APP_NAME),
    model: { items: cut.items.length, rank: c.rank, vocabHash: cut.hash },
    params: roundParams(config),
    random: createRandom(SEED),
    now: () => new Date(),
    logger: silentLogger,
  };
  return { dataDir, aggregator, config, catalog: cut, emails: Array.from({ length: c.participants }, (_, i) => participantEmail(i + 1)) };
}

async function memberWorkspace(f: Federation, email: string): Promise<Workspace> {
  createEmbeddedDatasite(f.dataDir, email);
  const ws = new Workspace({ email, dataDir: f.dataDir }, EVAL_APP_NAME);
  await ensurePublishPermissions(ws, AGGREGATOR_EMAIL);
  return ws;
}

interface PlainResult {
  memberCpuMs: number;
  memberBytes: number;
  aggregatorCpuMs: number;
  roundWallMs: number;
  accepted: number;
}

/** Each member clips its delta and publishes it (CPU timed), then one `runRound`. */
async function plainRound(root: string, c: SecureRoundCase, catalog: Catalog, deltaOf: (m: number) => Float32Array, log: Log): Promise<PlainResult> {
  const f = federation(root, c, catalog);
  const { model } = f.aggregator;
  const cpu: number[] = [];
  const bytes: number[] = [];
  const tick = progressTicker((line) => log(`  ${line}`), 'plain: deltas written', c.participants);
  const createdAt = new Date().toISOString();
  let membersMs = 0;
  for (const [m, email] of f.emails.entries()) {
    const ws = await memberWorkspace(f, email);
    const delta = deltaOf(m);
    const start = cpuUsage();
    const started = performance.now();
    clipL2(delta, f.config.DELTA_CLIP_NORM);
    await writeDelta(ws.profileDir(PROFILE), delta, { items: model.items, rank: model.rank, vocabHash: model.vocabHash, baseVersion: 0, weight: 1, clipNorm: f.config.DELTA_CLIP_NORM, noise: null, createdAt });
    membersMs += performance.now() - started;
    const used = cpuUsage(start);
    cpu.push((used.user + used.system) / MS_PER_US);
    bytes.push(await folderBytes(ws.profileDir(PROFILE)));
    tick(m + 1);
  }
  const start = cpuUsage();
  const t0 = performance.now();
  const summary = await runRound(f.aggregator);
  const used = cpuUsage(start);
  return {
    memberCpuMs: median(cpu),
    memberBytes: median(bytes),
    aggregatorCpuMs: (used.user + used.system) / MS_PER_US,
    roundWallMs: membersMs + performance.now() - t0,
    accepted: summary.counts.accepted,
  };
}


interface SecureResult {
  outcome: string;
  k: number | null;
  t: number | null;
  survivors: number;
  dropped: number;
  /** Median over members of each phase's CPU (ms); total: a survivor's whole round, reading the result included. */
  memberCpuMs: Record<MemberPhaseName | 'total', number>;
  /** Median bytes a survivor publishes in a round (keys, shares, masked input and its manifest, reveal). */
  memberBytes: number;
  /** route: inboxes built from the members' shares; sum: masked inputs read and added; unmask: unmasking, decoding and commit. */
  aggregatorCpuMs: { route: number; sum: number; unmask: number; total: number };
  /** Round files the aggregator publishes (round, cohort, inboxes, unmask, result) at their largest. */
  aggregatorRoundBytes: number;
  roundWallMs: number;
}

/** Shows a member watched (a seeded spread over the items, confidence 1): what its secure contribution is built from. */
const WATCHED_PER_MEMBER = 50;
function watchedOf(m: number, items: number): { watched: number[]; confidence: number[] } {
  const random = createRandom(deriveSeed(SEED, `watched/${m}`));
  const watched = [...new Set(Array.from({ length: WATCHED_PER_MEMBER }, () => random.int(items)))].sort((a, b) => a - b);
  return { watched, confidence: watched.map(() => 1) };
}

/** Write each member's trained model (its watched shows; the plain run's delta as its local V), then one secure round in process. */
async function secureRound(root: string, c: SecureRoundCase, catalog: Catalog, deltaOf: (m: number) => Float32Array, log: Log): Promise<SecureResult> {
  const f = federation(root, c, catalog);
  const { model } = f.aggregator;
  const members: MemberContext[] = [];
  const setup = progressTicker((line) => log(`  ${line}`), 'secure: members set up', c.participants);
  const trainedAt = new Date().toISOString();
  for (const [m, email] of f.emails.entries()) {
    const ws = await memberWorkspace(f, email);
    await assignProfiles(ws.privateRoot(), PROFILE, [null], []);
    await writeProfileModel(ws.privateDir(PROFILE), {
      state: { formatVersion: STATE_FORMAT_VERSION, profile: PROFILE, rank: model.rank, items: model.items, vocabHash: model.vocabHash, baseVersion: 0, access: 'waiting', trainedAt, ...watchedOf(m, model.items), lastDeltaSha256: null, lastPublishedBase: null, publishBlocked: null, inputsSha256: String(m) },
      u: new Float32Array(model.rank),
      vLocal: deltaOf(m),
      vGlobal: new Float32Array(model.items * model.rank),
    });
    members.push({ config: f.config, ws, catalog: f.catalog, logger: silentLogger, now: () => new Date(), noiseRandom: cryptoRandom });
    setup(m + 1);
  }
  const random = createRandom(deriveSeed(SEED, `dropout/${c.participants}/${c.dropout}`));
  const leaving = new Set<number>();
  while (leaving.size < Math.round(c.dropout * c.participants)) leaving.add(random.int(c.participants));

  const cpu: Record<MemberPhaseName, number[]> = { join: [], share: [], mask: [], reveal: [] };
  const perMember = new Map<number, number>();
  const bytes = new Map<number, number>();
  const aggregatorCpu = { route: 0, sum: 0, unmask: 0, total: 0 };
  let aggregatorRoundBytes = 0;
  let roundId: string | null = null;
  const t0 = performance.now();
  const summary = await runSecureRoundInProcess({ ...f.aggregator, secure: secureParams(f.config, model) }, members, {
    drops: (index, phase) => leaving.has(index) && phase === 'masked',
    progress: (line) => log(`  secure: ${line}`),
    afterMember: async ({ index, steps, cpuMicros }) => {
      perMember.set(index, (perMember.get(index) ?? 0) + cpuMicros / MS_PER_US);
      const phase = memberPhaseOf(steps);
      if (phase === undefined) return;
      cpu[phase].push(cpuMicros / MS_PER_US);
      if (roundId !== null) {
        const answers = await folderBytes(members[index].ws.secaggAnswersDir(roundId)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
          log(`  member ${index} has no answers folder after ${steps.map((s) => s.action).join(', ')}`);
          return 0;
        });
        bytes.set(index, Math.max(bytes.get(index) ?? 0, answers));
      }
    },
    afterAggregator: async ({ step, cpuMicros }) => {
      const ms = cpuMicros / MS_PER_US;
      aggregatorCpu.total += ms;
      if (step.action === 'routed') aggregatorCpu.route += ms;
      if (step.action === 'unmask') aggregatorCpu.sum += ms;
      if (step.action === 'finished') aggregatorCpu.unmask += ms;
      if (step.action === 'idle') return;
      roundId = step.roundId;
      aggregatorRoundBytes = Math.max(aggregatorRoundBytes, await folderBytes(f.aggregator.ws.secaggRoundDir(AGGREGATOR_EMAIL, roundId)));
    },
  });
  const roundWallMs = performance.now() - t0;
  if (summary === null) throw new Error(`no secure round opened for ${c.participants} members`);
  const memberCpuMs = {
    join: median(cpu.join),
    share: median(cpu.share),
    mask: median(cpu.mask),
    reveal: median(cpu.reveal),
    total: median([...perMember.entries()].filter(([i]) => !leaving.has(i)).map(([, ms]) => ms)),
  };
  return {
    outcome: summary.outcome === 'merged' ? 'merged' : `aborted: ${summary.reason}`,
    k: summary.k,
    t: summary.t,
    survivors: summary.survivors.length,
    dropped: summary.dropped,
    memberCpuMs,
    memberBytes: median([...bytes.entries()].filter(([i]) => !leaving.has(i)).map(([, b]) => b)),
    aggregatorCpuMs: aggregatorCpu,
    aggregatorRoundBytes,
    roundWallMs,
  };
}

/** Members of the untimed round that warms each kind of round up (`benchCase`). */
const WARM_UP_MEMBERS = 8;
/** The kinds of round this process has run untimed already. */
const warmed = new Set<'plain' | SecureRoundCase['mechanism']>();

/** One case, plain then secure, each in a fresh temporary root; figures and ratios (secure / plain). */
async function benchCase(c: SecureRoundCase, catalog: Catalog, log: Log) {
  const items = Math.min(c.items, catalog.items.length);
  const length = items * c.rank;
  const deltaOf = deltaMaker(length);
  const run = async <T>(what: string, body: (root: string) => Promise<T>): Promise<T> => {
    const root = await createTempRoot(c.participants * length * 4 * 4, `bench-secagg-${what}-`);
    try {
      return await body(root);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  };
  const label = `${MECHANISM_LABEL[c.mechanism]}: ${c.participants} members x ${items} items x rank ${c.rank}, ${Math.round(c.dropout * 100)}% dropout`;
  log(`secure aggregation: ${label}`);
  // a running aggregator starts both thread pools when it starts (aggregator/node.ts): each round here finds them up,
  // rather than the first plain round paying the file workers' start and the first secure round the mask workers'
  await Promise.all([startFileWorkers(), startMaskWorkers()]);
  // and it has run rounds of both kinds before: one small untimed round of each, once per process and mechanism,
  // so that no timed round pays for compiling its code (the aggregator bench times its first round apart, too)
  for (const kind of ['plain', c.mechanism] as const) {
    if (warmed.has(kind)) continue;
    const small = { ...c, items, participants: WARM_UP_MEMBERS, dropout: 0 };
    await run<unknown>(`warm-${kind}`, (root) => (kind === 'plain' ? plainRound(root, small, catalog, deltaOf, () => {}) : secureRound(root, small, catalog, deltaOf, () => {})));
    warmed.add(kind);
  }
  const plain = await run('plain', (root) => plainRound(root, { ...c, items }, catalog, deltaOf, log));
  const secure = await run('secure', (root) => secureRound(root, { ...c, items }, catalog, deltaOf, log));
  const row = {
    ...c,
    items,
    plain: { ...plain, memberCpuMs: round1(plain.memberCpuMs), aggregatorCpuMs: Math.round(plain.aggregatorCpuMs), roundWallMs: Math.round(plain.roundWallMs), totalBytes: plain.memberBytes * c.participants },
    secure: {
      ...secure,
      memberCpuMs: Object.fromEntries(Object.entries(secure.memberCpuMs).map(([k, v]) => [k, round1(v)])),
      aggregatorCpuMs: Object.fromEntries(Object.entries(secure.aggregatorCpuMs).map(([k, v]) => [k, Math.round(v)])) as SecureResult['aggregatorCpuMs'],
      roundWallMs: Math.round(secure.roundWallMs),
      totalBytes: secure.memberBytes * (c.participants - secure.dropped) + secure.aggregatorRoundBytes,
    },
    ratios: {
      memberCpu: ratio(secure.memberCpuMs.total, plain.memberCpuMs),
      memberBytes: ratio(secure.memberBytes, plain.memberBytes),
      aggregatorCpu: ratio(secure.aggregatorCpuMs.total, plain.aggregatorCpuMs),
      roundWall: ratio(secure.roundWallMs, plain.roundWallMs),
    },
  };
  const kb = (b: number) => `${Math.round(b / BYTES_PER_KB)} KB`;
  log(`  secure ${row.secure.outcome} (graph sized for ${Math.round(settledGraphDropout(c) * 100)}% dropout: k=${secure.k}, t=${secure.t}, ${secure.survivors} survivors, ${secure.dropped} dropped)`);
  log(`  member CPU: plain ${row.plain.memberCpuMs} ms; secure ${row.secure.memberCpuMs.total} ms (join ${row.secure.memberCpuMs.join}, share ${row.secure.memberCpuMs.share}, mask ${row.secure.memberCpuMs.mask}, reveal ${row.secure.memberCpuMs.reveal}) = ${row.ratios.memberCpu}x`);
  log(`  member bytes: plain ${kb(plain.memberBytes)}, secure ${kb(secure.memberBytes)} = ${row.ratios.memberBytes}x; total plain ${kb(row.plain.totalBytes)}, secure ${kb(row.secure.totalBytes)}`);
  log(`  aggregator CPU: plain ${row.plain.aggregatorCpuMs} ms; secure ${row.secure.aggregatorCpuMs.total} ms (routing shares ${row.secure.aggregatorCpuMs.route}, sum ${row.secure.aggregatorCpuMs.sum}, unmask + commit ${row.secure.aggregatorCpuMs.unmask}) = ${row.ratios.aggregatorCpu}x`);
  log(`  round wall time in process: plain ${formatSeconds(row.plain.roundWallMs)}, secure ${formatSeconds(row.secure.roundWallMs)} = ${row.ratios.roundWall}x`);
  return row;
}

export async function benchSecureRounds(catalog: Catalog, cases: readonly SecureRoundCase[], log: Log) {
  const out = [];
  for (const c of cases) out.push(await benchCase(c, catalog, log));
  return out;
}

// ---------------------------------------------------------------- the protocol functions alone

const CORE_REPEATS = 5;

export interface CoreCase {
  participants: number;
  length: number;
  survivorFraction: number;
  /** Dropout of the unmasking measurement (after sharing); null: the member side only. */
  dropout: number | null;
}

function randomBytes(random: { int(n: number): number }, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => random.int(256));
}

function cohortOf(shape: CohortShape, random: { int(n: number): number }): { cohort: CohortView; secrets: MemberSecrets[] } {
  const secrets = Array.from({ length: shape.n }, (): MemberSecrets => {
    const pair = () => {
      const privateKey = randomBytes(random, 32);
      return { privateKey, publicKey: publicKeyOf(privateKey) };
    };
    return { c: pair(), s: pair(), selfSeed: randomBytes(random, 32) };
  });
  const cohort: CohortView = {
    roundId: 'r000001',
    members: secrets.map((s, index) => ({ index, cPk: s.c.publicKey, sPk: s.s.publicKey })),
    neighbours: neighbourGraph(shape.n, shape.k, (m) => random.int(m)),
    t: shape.t,
    minSurvivors: shape.minSurvivors,
  };
  return { cohort, secrets };
}

async function timedCpuMs<T>(run: () => Promise<T> | T): Promise<{ value: T; cpuMs: number }> {
  const start = cpuUsage();
  const value = await run();
  const used = cpuUsage(start);
  return { value, cpuMs: (used.user + used.system) / MS_PER_US };
}

/** makeShares + maskInput for a few members (median; the first run also warms the JIT). */
async function coreMember(shape: CohortShape, length: number, cohort: CohortView, secrets: MemberSecrets[], random: { int(n: number): number }) {
  const input = expandMask(randomBytes(random, 32), length);
  const all = [...Array(shape.n).keys()];
  const shares: number[] = [];
  const masks: number[] = [];
  for (let u = 0; u < CORE_REPEATS; u++) {
    shares.push((await timedCpuMs(() => makeShares(u, secrets[u], cohort))).cpuMs);
    masks.push((await timedCpuMs(() => maskInput(u, input, secrets[u], cohort, all))).cpuMs);
  }
  return { makeSharesCpuMs: Math.round(median(shares)), maskInputCpuMs: Math.round(median(masks)) };
}

/** unmaskSum with `dropout` of U2 dropped after sharing; the masked sum and shares are built in memory. */
async function coreServer(shape: CohortShape, length: number, dropout: number, cohort: CohortView, secrets: MemberSecrets[], random: { int(n: number): number }) {
  const n = shape.n;
  const dropped = new Set<number>();
  while (dropped.size < Math.round(dropout * n)) dropped.add(random.int(n));
  const survivors = [...Array(n).keys()].filter((u) => !dropped.has(u));
  const u2 = [...Array(n).keys()];
  const opened: OpenedShare[][] = Array.from({ length: n }, () => []);
  for (let u = 0; u < n; u++) {
    const sShares = await splitSecret(secrets[u].s.privateKey, shape.k, shape.t);
    const bShares = await splitSecret(secrets[u].selfSeed, shape.k, shape.t);
    cohort.neighbours[u].forEach((v, j) => opened[v].push({ from: u, sShare: sShares[j], bShare: bShares[j] }));
  }
  const request = { survivors, dropped: [...dropped] };
  const reveals = survivors.map((u) => revealFor(u, opened[u], cohort, u2, request, null));
  // Σ_{U3} y_u = Σ x_u + Σ PRG(b_u) + the pair masks between survivors and dropped neighbours
  const expected = new Uint32Array(length);
  const maskedSum = new Uint32Array(length);
  for (const u of survivors) {
    const x = expandMask(randomBytes(random, 32), length);
    addMod(expected, x);
    addMod(maskedSum, x);
    addMask(maskedSum, secrets[u].selfSeed);
    for (const v of cohort.neighbours[u]) {
      if (dropped.has(v)) addMask(maskedSum, pairSeed(secrets[u].s.privateKey, cohort.members[v].sPk, cohort.roundId, u, v), v > u ? 1 : -1);
    }
  }
  const pairMasksRemoved = survivors.reduce((acc, u) => acc + cohort.neighbours[u].filter((v) => dropped.has(v)).length, 0);
  const base = { dropped: dropped.size, pairMasksRemoved, selfMasksRemoved: survivors.length };
  try {
    const result = await timedCpuMs(() => unmaskSum(maskedSum, cohort, u2, request, reveals));
    return { ...base, unmaskCpuMs: Math.round(result.cpuMs), exact: Buffer.from(result.value.buffer).equals(Buffer.from(expected.buffer)) };
  } catch (err) {
    return { ...base, aborted: (err as Error).message.slice(0, 160) };
  }
}

/**
 * The cost of the cohort shape: k, t and T for n at a survivor fraction, a member's sharing and
 * masking CPU at the production length, and (with a dropout) the server's unmasking CPU.
 */
export async function benchSecaggCore(cases: readonly CoreCase[], log: Log) {
  const config = loadConfig({ dotenv: false, env: {} });
  const out = [];
  for (const c of cases) {
    const random = createRandom(deriveSeed(SEED, `core/${c.participants}/${c.survivorFraction}/${c.dropout}`));
    const shape = cohortShape(c.participants, { fullGraphMax: config.SECAGG_FULL_GRAPH_MAX, minSurvivors: Math.max(config.SECAGG_MIN_SURVIVORS, config.MIN_DATASITES), survivorFraction: c.survivorFraction });
    const { cohort, secrets } = cohortOf(shape, random);
    const member = await coreMember(shape, c.length, cohort, secrets, random);
    const server = c.dropout === null ? null : await coreServer(shape, c.length, c.dropout, cohort, secrets, random);
    const row = { ...c, k: shape.k, t: shape.t, minSurvivors: shape.minSurvivors, ...member, server };
    const serverText = server === null ? '' : 'aborted' in server ? `; unmask at ${Math.round(c.dropout! * 100)}% dropout aborted` : `; unmask at ${Math.round(c.dropout! * 100)}% dropout ${server.unmaskCpuMs} ms CPU (${server.pairMasksRemoved} pair masks, exact: ${server.exact})`;
    log(`secagg core n=${c.participants}, survivor fraction ${c.survivorFraction}: k=${shape.k}, t=${shape.t}, T=${shape.minSurvivors}; member makeShares ${member.makeSharesCpuMs} ms + maskInput ${member.maskInputCpuMs} ms CPU over ${c.length} words${serverText}`);
    out.push(row);
  }
  return out;
}
