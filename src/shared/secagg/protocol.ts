/**
 * The secure-aggregation protocol's steps (SecAgg, Bonawitz et al. 2017, over the SecAgg+ graph),
 * as pure functions: a member's (shares, masked input, reveal) and the server's unmasking.
 * Indices are cohort positions 0..n−1. U2 = members whose shares were delivered, U3 = survivors
 * (members whose masked input arrived), dropped = U2 \ U3.
 *
 * y_u = x_u + PRG(b_u) + Σ_{v∈N(u)∩U2, v>u} PRG(s_uv) − Σ_{v∈N(u)∩U2, v<u} PRG(s_uv)  (mod 2^32)
 *
 * Summed over U3, the pair masks between survivors cancel. The server removes PRG(b_v) for each
 * survivor (rebuilt from t shares of b_v) and, for each dropped v, the pair masks its surviving
 * neighbours added (rebuilt from t shares of v's mask key). An honest member reveals, per
 * neighbour, a b-share or an s-share, never both, and answers one unmask request per round.
 */
import { AppError } from '../errors';
import { generateKeyPair, openShare, pairSeed, publicKeyOf, sealShare, type KeyPair, type SealedShare } from './crypto';
import { addMasks, type MaskTerm } from './mask-workers';
import { combineShares, splitSecret } from './shamir';

export interface MemberSecrets {
  c: KeyPair;
  s: KeyPair;
  selfSeed: Uint8Array;
}

export interface CohortView {
  roundId: string;
  members: { index: number; cPk: Uint8Array; sPk: Uint8Array }[];
  neighbours: number[][];
  t: number;
  minSurvivors: number;
}

export interface OpenedShare {
  from: number;
  sShare: Uint8Array;
  bShare: Uint8Array;
}

export interface UnmaskRequest {
  survivors: number[];
  dropped: number[];
}

export interface Reveal {
  from: number;
  bShares: { of: number; share: Uint8Array }[];
  sShares: { of: number; share: Uint8Array }[];
}

const SEED_BYTES = 32;
/** A share of a 32-byte secret: 32 bytes plus its x-coordinate. */
const SHARE_BYTES = SEED_BYTES + 1;
/** Sealed plaintext: u32le from, u32le to, share of s_sk, share of b. */
const PLAINTEXT_BYTES = 8 + 2 * SHARE_BYTES;
/** Members named in an abort message; the rest are counted. */
const MAX_NAMED = 10;

/** Fresh per-round secrets from the OS CSPRNG: two X25519 pairs and the self-mask seed. */
export function createMemberSecrets(): MemberSecrets {
  return { c: generateKeyPair(), s: generateKeyPair(), selfSeed: globalThis.crypto.getRandomValues(new Uint8Array(SEED_BYTES)) };
}

function memberOf(cohort: CohortView, index: number): CohortView['members'][number] {
  const member = cohort.members[index];
  if (member?.index !== index) {
    throw new RangeError(`round ${cohort.roundId}: member ${index} is not at position ${index} of the cohort (members must be listed in index order)`);
  }
  return member;
}

function neighboursOf(cohort: CohortView, index: number): number[] {
  memberOf(cohort, index);
  const list = cohort.neighbours[index];
  if (list === undefined) throw new RangeError(`round ${cohort.roundId}: member ${index} has no neighbour list`);
  return list;
}

/** Split s.privateKey and selfSeed t-of-k and seal one share pair per neighbour. */
export async function makeShares(me: number, secrets: MemberSecrets, cohort: CohortView): Promise<SealedShare[]> {
  const neighbours = neighboursOf(cohort, me);
  const sShares = await splitSecret(secrets.s.privateKey, neighbours.length, cohort.t);
  const bShares = await splitSecret(secrets.selfSeed, neighbours.length, cohort.t);
  return neighbours.map((v, j) => {
    const plaintext = new Uint8Array(PLAINTEXT_BYTES);
    const view = new DataView(plaintext.buffer);
    view.setUint32(0, me, true);
    view.setUint32(4, v, true);
    plaintext.set(sShares[j], 8);
    plaintext.set(bShares[j], 8 + SHARE_BYTES);
    return sealShare(secrets.c.privateKey, memberOf(cohort, v).cPk, cohort.roundId, me, v, plaintext);
  });
}

/**
 * Decrypt the shares neighbours sealed for us. Throws ERR_SECAGG_SHARE (naming the sender) on any box
 * that is not for us, not from a neighbour, repeated, or altered: the member then sits this round out.
 */
export function openInbox(me: number, secrets: MemberSecrets, cohort: CohortView, boxes: SealedShare[]): OpenedShare[] {
  const neighbours = new Set(neighboursOf(cohort, me));
  const seen = new Set<number>();
  return boxes.map((box) => {
    const where = `round ${cohort.roundId}: the share from member ${box.from} to member ${box.to}`;
    if (box.to !== me || !neighbours.has(box.from) || seen.has(box.from)) {
      throw new AppError('ERR_SECAGG_SHARE', `${where} is not addressed to member ${me} from one of its neighbours, or is repeated`);
    }
    seen.add(box.from);
    const plaintext = openShare(secrets.c.privateKey, memberOf(cohort, box.from).cPk, cohort.roundId, box);
    const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
    if (plaintext.length !== PLAINTEXT_BYTES || view.getUint32(0, true) !== box.from || view.getUint32(4, true) !== me) {
      throw new AppError('ERR_SECAGG_SHARE', `${where} decrypts to a ${plaintext.length}-byte plaintext that does not name this pair`);
    }
    return {
      from: box.from,
      sShare: plaintext.slice(8, 8 + SHARE_BYTES),
      bShare: plaintext.slice(8 + SHARE_BYTES),
    };
  });
}

/**
 * y = input + PRG(b) ± PRG(s_uv) for every neighbour v in U2 (+ if v > me), mod 2^32. The seeds
 * are derived here; the masks are expanded on the mask workers (`addMasks`: the same words as
 * adding them one by one), which is most of a member's round on a long vector.
 */
export async function maskInput(me: number, input: Uint32Array, secrets: MemberSecrets, cohort: CohortView, u2: readonly number[]): Promise<Uint32Array> {
  const neighbours = neighboursOf(cohort, me);
  const inU2 = new Set(u2);
  if (!inU2.has(me)) {
    throw new AppError('ERR_SECAGG_REFUSED', `round ${cohort.roundId}: member ${me} is not in U2 (its shares were not delivered), so it does not mask`);
  }
  const masks: MaskTerm[] = [{ seed: secrets.selfSeed, sign: 1 }];
  for (const v of neighbours) {
    if (!inU2.has(v)) continue;
    masks.push({ seed: pairSeed(secrets.s.privateKey, memberOf(cohort, v).sPk, cohort.roundId, me, v), sign: v > me ? 1 : -1 });
  }
  const y = Uint32Array.from(input);
  await addMasks(y, masks);
  return y;
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  const set = new Set(a);
  return set.size === a.length && new Set(b).size === b.length && a.length === b.length && b.every((x) => set.has(x));
}

/** Why an unmask request is inconsistent with U2 and T, or null if it is consistent. */
function requestProblem(cohort: CohortView, u2: readonly number[], request: UnmaskRequest): string | null {
  const u2Set = new Set(u2);
  const survivors = new Set(request.survivors);
  const dropped = new Set(request.dropped);
  if (survivors.size !== request.survivors.length || dropped.size !== request.dropped.length) return 'a list repeats a member';
  if (request.survivors.some((v) => dropped.has(v))) return 'the survivor and dropped lists overlap';
  if (request.survivors.some((v) => !u2Set.has(v))) return 'a survivor is not in U2 (U3 ⊄ U2)';
  if (!sameSet([...request.survivors, ...request.dropped], u2)) return 'survivors and dropped together are not exactly U2';
  if (survivors.size < cohort.minSurvivors) return `${survivors.size} survivors is below the minimum of ${cohort.minSurvivors}`;
  return null;
}

/**
 * This member's answer to an unmask request: b-shares of surviving neighbours, s-shares of dropped
 * ones. `answered` is the request it already answered this round (persisted by the caller before
 * it publishes the reveal); a different request is refused, so no neighbour ever gets both kinds.
 */
export function revealFor(
  me: number,
  opened: OpenedShare[],
  cohort: CohortView,
  u2: readonly number[],
  request: UnmaskRequest,
  answered: UnmaskRequest | null,
): Reveal {
  const refuse = (why: string): never => {
    throw new AppError('ERR_SECAGG_REFUSED', `round ${cohort.roundId}: member ${me} refuses the unmask request: ${why}`);
  };
  if (answered !== null && !(sameSet(answered.survivors, request.survivors) && sameSet(answered.dropped, request.dropped))) {
    refuse('it differs from the request already answered this round');
  }
  const problem = requestProblem(cohort, u2, request);
  if (problem !== null) refuse(problem);
  const survivors = new Set(request.survivors);
  const dropped = new Set(request.dropped);
  if (!survivors.has(me)) refuse('this member is not listed among the survivors');
  const reveal: Reveal = { from: me, bShares: [], sShares: [] };
  for (const share of opened) {
    if (survivors.has(share.from)) reveal.bShares.push({ of: share.from, share: share.bShare });
    else if (dropped.has(share.from)) reveal.sShares.push({ of: share.from, share: share.sShare });
  }
  return reveal;
}

type ShareKind = 'bShares' | 'sShares';

/**
 * The first t shares of each member's secret, revealed by its surviving neighbours: b-shares of
 * `of.bShares`, s-shares of `of.sShares`, each (neighbour, member) pair counted once. One pass over
 * the reveals for both kinds (a large cohort reveals k shares a survivor).
 */
function collectShares(cohort: CohortView, survivors: Set<number>, reveals: Reveal[], of: Record<ShareKind, readonly number[]>): Record<ShareKind, Map<number, Uint8Array[]>> {
  const n = cohort.members.length;
  const collected = { bShares: new Map<number, Uint8Array[]>(of.bShares.map((v) => [v, []])), sShares: new Map<number, Uint8Array[]>(of.sShares.map((v) => [v, []])) };
  // (revealer, member) as revealer·n + member: both are cohort positions (the revealer a survivor, the member wanted)
  const seen = { bShares: new Set<number>(), sShares: new Set<number>() };
  for (const reveal of reveals) {
    if (!survivors.has(reveal.from)) continue;
    const neighbours = new Set(neighboursOf(cohort, reveal.from));
    for (const kind of ['bShares', 'sShares'] as const) {
      for (const { of: v, share } of reveal[kind]) {
        const list = collected[kind].get(v);
        const key = reveal.from * n + v;
        if (list === undefined || !neighbours.has(v) || seen[kind].has(key) || share.length !== SHARE_BYTES) continue;
        seen[kind].add(key);
        if (list.length < cohort.t) list.push(share);
      }
    }
  }
  return collected;
}

async function rebuild(cohort: CohortView, shares: Uint8Array[], what: string): Promise<Uint8Array> {
  try {
    return await combineShares(shares);
  } catch (cause) {
    throw new AppError('ERR_SECAGG_ABORT', `round ${cohort.roundId}: the shares of ${what} do not combine (${(cause as Error).message})`, { cause });
  }
}

/**
 * Σ_{u∈U3} x_u from Σ_{u∈U3} y_u. Throws ERR_SECAGG_ABORT, naming the members, if any survivor's b
 * or dropped member's mask key has fewer than t revealed shares, or a rebuilt key does not match its public key.
 */
export async function unmaskSum(maskedSum: Uint32Array, cohort: CohortView, u2: readonly number[], request: UnmaskRequest, reveals: Reveal[]): Promise<Uint32Array> {
  const problem = requestProblem(cohort, u2, request);
  if (problem !== null) throw new AppError('ERR_SECAGG_ABORT', `round ${cohort.roundId}: the unmask request is inconsistent: ${problem}`);
  const survivors = new Set(request.survivors);
  const { bShares, sShares } = collectShares(cohort, survivors, reveals, { bShares: request.survivors, sShares: request.dropped });
  const short = [
    ...[...bShares].filter(([, list]) => list.length < cohort.t).map(([v, list]) => `survivor ${v} (${list.length} b-shares)`),
    ...[...sShares].filter(([, list]) => list.length < cohort.t).map(([v, list]) => `dropped ${v} (${list.length} s-shares)`),
  ];
  if (short.length > 0) {
    const named = short.length > MAX_NAMED ? `${short.slice(0, MAX_NAMED).join(', ')} and ${short.length - MAX_NAMED} more` : short.join(', ');
    throw new AppError('ERR_SECAGG_ABORT', `round ${cohort.roundId}: fewer than t=${cohort.t} shares revealed for ${named}; nobody is unmasked`);
  }
  // every seed is rebuilt (and checked) before any mask is expanded; the masks are then removed all at once, on worker threads
  const masks: MaskTerm[] = [];
  for (const [v, shares] of bShares) {
    masks.push({ seed: await rebuild(cohort, shares, `survivor ${v}'s self-mask seed`), sign: -1 });
  }
  for (const [v, shares] of sShares) {
    const sPrivate = await rebuild(cohort, shares, `dropped member ${v}'s mask key`);
    if (!Buffer.from(publicKeyOf(sPrivate)).equals(memberOf(cohort, v).sPk)) {
      throw new AppError('ERR_SECAGG_ABORT', `round ${cohort.roundId}: the mask key rebuilt for dropped member ${v} does not match its public key (a revealed share is wrong)`);
    }
    for (const w of neighboursOf(cohort, v)) {
      if (!survivors.has(w)) continue;
      // Survivor w added +PRG(s_wv) if v > w, −PRG(s_wv) if v < w; take it back out.
      masks.push({ seed: pairSeed(sPrivate, memberOf(cohort, w).sPk, cohort.roundId, v, w), sign: v > w ? -1 : 1 });
    }
  }
  const sum = Uint32Array.from(maskedSum);
  await addMasks(sum, masks);
  return sum;
}
