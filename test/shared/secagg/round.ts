/**
 * An in-memory secure-aggregation round for the tests: deterministic member secrets from a
 * seeded Random (so masked vectors are reproducible), every message passed by value.
 */
import type { SealedShare } from '../../../src/shared/secagg/crypto';
import { publicKeyOf } from '../../../src/shared/secagg/crypto';
import { neighbourGraph } from '../../../src/shared/secagg/graph';
import { addMod } from '../../../src/shared/secagg/prg';
import {
  makeShares,
  maskInput,
  openInbox,
  revealFor,
  unmaskSum,
  type CohortView,
  type MemberSecrets,
  type OpenedShare,
  type Reveal,
  type UnmaskRequest,
} from '../../../src/shared/secagg/protocol';
import type { Random } from '../../../src/shared/random';

function seededBytes(random: Random, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => random.int(256));
}

/** Member secrets drawn from a seeded Random (tests only: production uses createMemberSecrets). */
export function seededSecrets(random: Random): MemberSecrets {
  const pair = () => {
    const privateKey = seededBytes(random, 32);
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  };
  return { c: pair(), s: pair(), selfSeed: seededBytes(random, 32) };
}

export interface TestCohort {
  cohort: CohortView;
  secrets: MemberSecrets[];
}

export function buildCohort(random: Random, shape: { n: number; k: number; t: number; minSurvivors: number }, roundId = 'r000001'): TestCohort {
  const secrets = Array.from({ length: shape.n }, () => seededSecrets(random));
  const cohort: CohortView = {
    roundId,
    members: secrets.map((s, index) => ({ index, cPk: s.c.publicKey, sPk: s.s.publicKey })),
    neighbours: neighbourGraph(shape.n, shape.k, (m) => random.int(m)),
    t: shape.t,
    minSurvivors: shape.minSurvivors,
  };
  return { cohort, secrets };
}

export interface Dropouts {
  /** Never send shares: not in U2. */
  beforeShares?: number[];
  /** Send shares, never a masked input: U2 \ U3. */
  beforeMask?: number[];
  /** Send a masked input, never a reveal: in U3. */
  afterMask?: number[];
}

export interface RoundState {
  u2: number[];
  request: UnmaskRequest;
  opened: Map<number, OpenedShare[]>;
  maskedSum: Uint32Array;
  reveals: Reveal[];
}

/** Run phases 2–5 up to (not including) the server's unmasking. */
export async function runPhases({ cohort, secrets }: TestCohort, inputs: Uint32Array[], drops: Dropouts = {}): Promise<RoundState> {
  const n = cohort.members.length;
  const all = [...Array(n).keys()];
  const skip = (list?: number[]) => new Set(list ?? []);
  const noShares = skip(drops.beforeShares);
  const noMask = skip(drops.beforeMask);
  const noReveal = skip(drops.afterMask);
  const boxes: SealedShare[] = [];
  for (const u of all) if (!noShares.has(u)) boxes.push(...(await makeShares(u, secrets[u], cohort)));
  const u2 = all.filter((u) => !noShares.has(u));
  const opened = new Map<number, OpenedShare[]>();
  for (const u of u2) opened.set(u, openInbox(u, secrets[u], cohort, boxes.filter((b) => b.to === u)));
  const survivors = u2.filter((u) => !noMask.has(u));
  const maskedSum = new Uint32Array(inputs[0].length);
  for (const u of survivors) addMod(maskedSum, await maskInput(u, inputs[u], secrets[u], cohort, u2));
  const request = { survivors, dropped: u2.filter((u) => noMask.has(u)) };
  const reveals = survivors.filter((u) => !noReveal.has(u)).map((u) => revealFor(u, opened.get(u)!, cohort, u2, request, null));
  return { u2, request, opened, maskedSum, reveals };
}

/** A whole round: the unmasked sum over the survivors. */
export async function runRound(test: TestCohort, inputs: Uint32Array[], drops: Dropouts = {}): Promise<{ sum: Uint32Array; state: RoundState }> {
  const state = await runPhases(test, inputs, drops);
  return { sum: await unmaskSum(state.maskedSum, test.cohort, state.u2, state.request, state.reveals), state };
}

/** Σ inputs[u] over `members`, mod 2^32: what the round must produce. */
export function plainSum(inputs: Uint32Array[], members: number[]): Uint32Array {
  const sum = new Uint32Array(inputs[0].length);
  for (const u of members) addMod(sum, inputs[u]);
  return sum;
}
