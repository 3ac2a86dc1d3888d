import type { Random } from '../shared/random';
import { scaleOf, type Encoding } from '../shared/secagg/encoding';
import path from 'node:path';
import { layoutLength, MAX_SMALL_FILE_BYTES, parseRoundFile, readMaskedInput, readPhaseFile, ROUND_FILE, writeMaskedInput, type ContributionLayout } from '../shared/secagg/files';
import type { Workspace } from '../shared/workspace';

/**
 * One malicious member of a secure round (docs/poisoning.md). Masks are additive, so a member
 * that publishes y + p instead of its masked input y adds p to the round's sum, and nobody can
 * tell whose p it was. Its client's own checks (clipping, `encodeContribution`) do not bind it.
 *
 * - garbage: p is a uniform 32-bit word in every coordinate of the mechanism's part: the most the modulus lets one
 *   member do (each coordinate of the decoded sum lands anywhere in ±2^31 quanta); the members
 *   coordinate is left alone, so the round's floor does not catch it;
 * - bounded: p is a delta in a random direction with L2 norm BOUNDED_SHARE · n · weightScale and
 *   no weight: about the largest that the aggregator's sum check (`sumProblem`) lets through when
 *   the honest deltas do not line up; it moves the round's mean by about BOUNDED_SHARE · weightScale.
 */
export type PoisonAttack = 'garbage' | 'bounded';
export const POISON_ATTACKS: readonly PoisonAttack[] = ['garbage', 'bounded'];

const BOUNDED_SHARE = 0.7;

interface PoisonTarget {
  ws: Workspace;
  roundId: string;
  layout: ContributionLayout;
  encoding: Encoding;
  weightScale: number;
  /** Members of the round (the attacker reads them from cohort.json). */
  cohortSize: number;
  createdAt: string;
}

/** The attacker's target in round `roundId`: what its client would have sent (layout, precision, bound), from the aggregator's round file. */
export async function poisonTarget(aggregator: Workspace, member: Workspace, roundId: string, cohortSize: number, createdAt: string): Promise<PoisonTarget> {
  const file = path.join(aggregator.secaggRoundDir(aggregator.email, roundId), ROUND_FILE);
  const round = readPhaseFile(file, MAX_SMALL_FILE_BYTES, (v, f) => parseRoundFile(v, f, { roundId }));
  if (round === null) throw new Error(`${file}: no round file`);
  const encoding = { length: layoutLength(round.layout), clipNorm: round.params.clipNorm, scaleBits: round.params.scaleBits };
  return { ws: member, roundId, layout: round.layout, encoding, weightScale: round.params.weightScale, cohortSize, createdAt };
}

/** The poison p, mod 2^32. */
export function poisonVector(attack: PoisonAttack, t: Omit<PoisonTarget, 'ws' | 'roundId' | 'createdAt'>, random: Random): Uint32Array {
  const p = new Uint32Array(t.encoding.length);
  // the mechanism's part: every segment but the last (the members coordinate)
  const start = 0;
  const length = t.encoding.length - t.layout.segments[t.layout.segments.length - 1].length;
  if (attack === 'garbage') {
    for (let i = start; i < start + length; i++) p[i] = random.int(2 ** 32);
    return p;
  }
  const direction = new Float64Array(length);
  let squares = 0;
  for (let i = 0; i < length; i++) {
    direction[i] = random.normal();
    squares += direction[i] * direction[i];
  }
  const quanta = (BOUNDED_SHARE * t.cohortSize * t.weightScale * scaleOf(t.encoding)) / Math.sqrt(squares);
  for (let i = 0; i < length; i++) p[start + i] = Math.round(direction[i] * quanta);
  return p;
}

/** Replace the member's published masked input y by y + p (and its manifest), as a modified client would. */
export async function poisonMaskedInput(attack: PoisonAttack, t: PoisonTarget, random: Random): Promise<void> {
  const dir = t.ws.secaggAnswersDir(t.roundId);
  const masked = await readMaskedInput(dir, { roundId: t.roundId, length: t.encoding.length });
  if (masked === null) throw new Error(`${dir}: no masked input to poison`);
  const p = poisonVector(attack, t, random);
  const y = Uint32Array.from(masked.values);
  for (let i = 0; i < y.length; i++) y[i] += p[i];
  await writeMaskedInput(dir, t.roundId, y, t.createdAt);
}
