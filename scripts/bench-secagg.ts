/**
 * `npx tsx scripts/bench-secagg.ts [--quick]`: CPU cost of the secure-aggregation core on one
 * contribution of the production length (the optimizer's contribution for 8,807 items × rank 32 plus
 * the members coordinate: 582,320 words).
 *
 * - member: makeShares + maskInput (median of 5 members) for one member of a cohort of 100 and of 1,000, at the
 *   SecAgg+ baseline k (2⌈log2 n⌉ + 2) and at the k cohortShape picks for 30% dropout;
 * - server: unmaskSum at n = 1,000 with 5% and 20% of U2 dropped after sharing. The masked sum is
 *   built in memory from the same secrets (Σx + Σ PRG(b_u) + the pair masks that do not cancel) and
 *   the shares are split in memory without sealing (sealing is the members' cost, measured above);
 *   the result is checked against Σx. A dropout pattern that leaves some neighbourhood with fewer
 *   than t survivors is reported as an abort.
 * --quick measures only the member side. Prints one JSON object.
 */
import { cpuUsage } from 'node:process';
import { performance } from 'node:perf_hooks';
import { mechanism, preconditionedSpec } from '../src/shared/model/mechanism';
import { createRandom } from '../src/shared/random';
import { contributionLayout } from '../src/shared/secagg/contribution';
import { layoutLength } from '../src/shared/secagg/files';
import { pairSeed, publicKeyOf } from '../src/shared/secagg/crypto';
import { cohortShape, neighbourGraph, type CohortShape } from '../src/shared/secagg/graph';
import { addMask, addMod } from '../src/shared/secagg/prg';
import { makeShares, maskInput, revealFor, unmaskSum, type CohortView, type MemberSecrets, type OpenedShare } from '../src/shared/secagg/protocol';
import { splitSecret } from '../src/shared/secagg/shamir';

const LENGTH = layoutLength(contributionLayout(mechanism(preconditionedSpec({ reg: 3, alpha: 2 }, 100, false)), 8807, 32));
const SHAPE_OPTIONS = { fullGraphMax: 16, minSurvivors: 3, survivorFraction: 0.7 };
const random = createRandom(20251);

function bytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, () => random.int(256));
}

function secretsFor(): MemberSecrets {
  const pair = () => {
    const privateKey = bytes(32);
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  };
  return { c: pair(), s: pair(), selfSeed: bytes(32) };
}

function cohortOf(shape: CohortShape): { cohort: CohortView; secrets: MemberSecrets[] } {
  const secrets = Array.from({ length: shape.n }, secretsFor);
  const cohort: CohortView = {
    roundId: 'r000001',
    members: secrets.map((s, index) => ({ index, cPk: s.c.publicKey, sPk: s.s.publicKey })),
    neighbours: neighbourGraph(shape.n, shape.k, (m) => random.int(m)),
    t: shape.t,
    minSurvivors: shape.minSurvivors,
  };
  return { cohort, secrets };
}

async function timed<T>(run: () => Promise<T> | T): Promise<{ value: T; cpuMs: number; wallMs: number }> {
  const cpu = cpuUsage();
  const start = performance.now();
  const value = await run();
  const used = cpuUsage(cpu);
  return { value, cpuMs: Math.round((used.user + used.system) / 1000), wallMs: Math.round(performance.now() - start) };
}

const REPEATS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function memberCost(shape: CohortShape): Promise<object> {
  const { cohort, secrets } = cohortOf(shape);
  const input = Uint32Array.from({ length: LENGTH }, () => random.int(2 ** 32));
  const all = [...Array(shape.n).keys()];
  const shares: number[] = [];
  const masks: number[] = [];
  const walls: number[] = [];
  // member u's first run also warms the JIT and OpenSSL; the median drops it
  for (let u = 0; u < REPEATS; u++) {
    const share = await timed(() => makeShares(u, secrets[u], cohort));
    const mask = await timed(() => maskInput(u, input, secrets[u], cohort, all));
    shares.push(share.cpuMs);
    masks.push(mask.cpuMs);
    walls.push(share.wallMs + mask.wallMs);
  }
  return { ...shape, makeSharesCpuMs: median(shares), maskInputCpuMs: median(masks), totalWallMs: median(walls) };
}

async function serverCost(shape: CohortShape, dropFraction: number): Promise<object> {
  const { cohort, secrets } = cohortOf(shape);
  const n = shape.n;
  const dropped = new Set<number>();
  while (dropped.size < Math.round(dropFraction * n)) dropped.add(random.int(n));
  const survivors = [...Array(n).keys()].filter((u) => !dropped.has(u));
  const u2 = [...Array(n).keys()];
  const shortNeighbourhoods = cohort.neighbours.filter((list) => list.filter((v) => !dropped.has(v)).length < shape.t).length;

  // Shares as each neighbour would hold them after openInbox.
  const opened: OpenedShare[][] = Array.from({ length: n }, () => []);
  for (let u = 0; u < n; u++) {
    const sShares = await splitSecret(secrets[u].s.privateKey, shape.k, shape.t);
    const bShares = await splitSecret(secrets[u].selfSeed, shape.k, shape.t);
    cohort.neighbours[u].forEach((v, j) => opened[v].push({ from: u, sShare: sShares[j], bShare: bShares[j] }));
  }
  const request = { survivors, dropped: [...dropped] };
  const reveals = survivors.map((u) => revealFor(u, opened[u], cohort, u2, request, null));

  // Σ_{U3} y_u = Σ x_u + Σ PRG(b_u) + the pair masks between survivors and dropped neighbours.
  const expected = new Uint32Array(LENGTH);
  const maskedSum = new Uint32Array(LENGTH);
  for (const u of survivors) {
    const x = Uint32Array.from({ length: LENGTH }, () => random.int(2 ** 32));
    addMod(expected, x);
    addMod(maskedSum, x);
    addMask(maskedSum, secrets[u].selfSeed);
    for (const v of cohort.neighbours[u]) {
      if (dropped.has(v)) addMask(maskedSum, pairSeed(secrets[u].s.privateKey, cohort.members[v].sPk, cohort.roundId, u, v), v > u ? 1 : -1);
    }
  }
  const pairMasks = survivors.reduce((acc, u) => acc + cohort.neighbours[u].filter((v) => dropped.has(v)).length, 0);
  const base = { n, k: shape.k, t: shape.t, dropped: dropped.size, shortNeighbourhoods, pairMasksRemoved: pairMasks };
  try {
    const result = await timed(() => unmaskSum(maskedSum, cohort, u2, request, reveals));
    const exact = Buffer.from(result.value.buffer).equals(Buffer.from(expected.buffer));
    return { ...base, unmaskCpuMs: result.cpuMs, unmaskWallMs: result.wallMs, exact };
  } catch (err) {
    return { ...base, aborted: (err as Error).message.slice(0, 160) };
  }
}

const quick = process.argv.includes('--quick');
const results: Record<string, object[]> = { member: [], server: [] };
for (const n of [100, 1000]) {
  for (const dropoutRate of [0, undefined]) {
    const shape = cohortShape(n, { ...SHAPE_OPTIONS, dropoutRate });
    results.member.push({ dropoutTolerated: dropoutRate ?? 0.3, ...(await memberCost(shape)) });
  }
}
if (!quick) {
  for (const dropoutRate of [0, 0.2, undefined]) {
    const shape = cohortShape(1000, { ...SHAPE_OPTIONS, dropoutRate });
    for (const dropFraction of [0.05, 0.2]) {
      results.server.push({ dropoutTolerated: dropoutRate ?? 0.3, dropFraction, ...(await serverCost(shape, dropFraction)) });
    }
  }
}
console.log(JSON.stringify({ length: LENGTH, ...results }, null, 2));
