import { beforeAll, describe, expect, it } from 'vitest';
import { isAppError, type ErrorCode } from '../../../src/shared/errors';
import { createRandom } from '../../../src/shared/random';
import { normalQuantile } from '../../../src/shared/stats';
import { pairSeed, publicKeyOf } from '../../../src/shared/secagg/crypto';
import { decodeSum, encodeContribution, scaleOf, toModular, type Encoding } from '../../../src/shared/secagg/encoding';
import { addMask } from '../../../src/shared/secagg/prg';
import { combineShares } from '../../../src/shared/secagg/shamir';
import { createMemberSecrets, makeShares, maskInput, openInbox, revealFor, unmaskSum, type Reveal, type UnmaskRequest } from '../../../src/shared/secagg/protocol';
import { buildCohort, plainSum, runPhases, runRound, type Dropouts, type TestCohort } from './round';

const majority = (k: number) => Math.floor(k / 2) + 1;
const threshold = (n: number) => Math.max(3, Math.ceil(0.7 * n));
const complete = (n: number) => ({ n, k: n - 1, t: majority(n - 1), minSurvivors: threshold(n) });
const sparse = (n: number, k: number) => ({ n, k, t: majority(k), minSurvivors: threshold(n) });

async function expectCode(code: ErrorCode, run: () => unknown, mentions?: string): Promise<void> {
  let caught: unknown;
  try {
    await run();
  } catch (err) {
    caught = err;
  }
  expect(isAppError(caught, code), String(caught)).toBe(true);
  if (mentions !== undefined) expect((caught as Error).message).toContain(mentions);
}

function randomWords(n: number, length: number, seed: number): Uint32Array[] {
  const random = createRandom(seed);
  return Array.from({ length: n }, () => Uint32Array.from({ length }, () => random.int(2 ** 32)));
}

/** A random float vector with L2 norm below `clipNorm`. */
function clippedVector(length: number, clipNorm: number, random: ReturnType<typeof createRandom>): Float64Array {
  const x = Float64Array.from({ length }, () => random.normal());
  const scale = (clipNorm * random.next()) / Math.sqrt(x.reduce((acc, v) => acc + v * v, 0));
  return x.map((v) => v * scale);
}

describe('a round without dropouts', () => {
  it.each([
    ['complete', complete(3)],
    ['complete', complete(5)],
    ['sparse', sparse(5, 2)],
    ['complete', complete(20)],
    ['sparse', sparse(20, 6)],
    ['complete', complete(50)],
    ['sparse', sparse(50, 14)],
  ])('%s graph, n=%o: the decoded sum is the float sum within n/γ', async (_, shape) => {
    const random = createRandom(shape.n * 100 + shape.k);
    const e: Encoding = { length: 64, clipNorm: 1.5, scaleBits: 16 };
    const floats = Array.from({ length: shape.n }, () => clippedVector(e.length, e.clipNorm, random));
    const inputs = floats.map((x) => toModular(encodeContribution(x, e, () => random.next())));
    const { sum } = await runRound(buildCohort(random, shape), inputs);
    expect(sum).toEqual(plainSum(inputs, [...Array(shape.n).keys()]));
    const decoded = decodeSum(sum, e);
    const bound = shape.n / scaleOf(e);
    for (let i = 0; i < e.length; i++) {
      const floatSum = floats.reduce((acc, x) => acc + x[i], 0);
      expect(Math.abs(decoded[i] - floatSum)).toBeLessThan(bound);
    }
  });
});

describe('dropouts', () => {
  const shape = sparse(20, 12);
  const inputs = randomWords(20, 300, 7);
  const everyone = [...Array(20).keys()];

  it.each<[string, Dropouts]>([
    ['before sending shares', { beforeShares: [3] }],
    ['after sharing, before masking', { beforeMask: [5, 11] }],
    ['after masking, before revealing', { afterMask: [8, 15] }],
    ['at every phase at once', { beforeShares: [3, 19], beforeMask: [5, 11], afterMask: [8] }],
  ])('%s: the result is exactly the survivors’ sum', async (_, drops) => {
    const test = buildCohort(createRandom(11), shape);
    const { sum, state } = await runRound(test, inputs, drops);
    const gone = new Set([...(drops.beforeShares ?? []), ...(drops.beforeMask ?? [])]);
    expect(state.request.survivors).toEqual(everyone.filter((u) => !gone.has(u)));
    expect(sum).toEqual(plainSum(inputs, state.request.survivors));
  });

  it('on a complete graph too', async () => {
    const test = buildCohort(createRandom(12), complete(10));
    const tenInputs = inputs.slice(0, 10);
    const { sum, state } = await runRound(test, tenInputs, { beforeShares: [0], beforeMask: [4], afterMask: [9] });
    expect(state.request).toEqual({ survivors: [1, 2, 3, 5, 6, 7, 8, 9], dropped: [4] });
    expect(sum).toEqual(plainSum(tenInputs, state.request.survivors));
  });
});

describe('below threshold', () => {
  it('with fewer than T survivors, members refuse to reveal and the server cannot unmask', async () => {
    const test = buildCohort(createRandom(13), complete(5));
    const inputs = randomWords(5, 50, 13);
    await expectCode('ERR_SECAGG_REFUSED', () => runPhases(test, inputs, { beforeMask: [1, 2] }), 'below the minimum of 4');
    const state = await runPhases(test, inputs, { beforeMask: [1] });
    const short: UnmaskRequest = { survivors: [0, 3, 4], dropped: [1, 2] };
    await expectCode('ERR_SECAGG_ABORT', () => unmaskSum(state.maskedSum, test.cohort, state.u2, short, state.reveals), 'below the minimum');
  });

  it('a survivor whose neighbours reveal fewer than t b-shares aborts the round, naming it', async () => {
    const test = buildCohort(createRandom(14), sparse(20, 12));
    const silent = test.cohort.neighbours[0].slice(0, 6); // 12 − 6 = 6 < t = 7 left to reveal
    const state = await runPhases(test, randomWords(20, 50, 14), { afterMask: silent });
    await expectCode('ERR_SECAGG_ABORT', () => unmaskSum(state.maskedSum, test.cohort, state.u2, state.request, state.reveals), 'survivor 0 (6 b-shares)');
  });

  it('a dropped member whose neighbours reveal fewer than t s-shares aborts the round, naming it', async () => {
    const test = buildCohort(createRandom(15), sparse(20, 12));
    const silent = test.cohort.neighbours[0].slice(0, 6);
    const state = await runPhases(test, randomWords(20, 50, 15), { beforeMask: [0], afterMask: silent });
    await expectCode('ERR_SECAGG_ABORT', () => unmaskSum(state.maskedSum, test.cohort, state.u2, state.request, state.reveals), 'dropped 0 (6 s-shares)');
  });

  it('names at most ten short members and counts the rest', async () => {
    const test = buildCohort(createRandom(17), complete(12));
    const state = await runPhases(test, randomWords(12, 20, 17));
    await expectCode('ERR_SECAGG_ABORT', () => unmaskSum(state.maskedSum, test.cohort, state.u2, state.request, []), 'survivor 9 (0 b-shares) and 2 more');
  });

  it('a wrong revealed share is caught when the rebuilt mask key does not match its public key', async () => {
    const test = buildCohort(createRandom(16), complete(6));
    const state = await runPhases(test, randomWords(6, 50, 16), { beforeMask: [2] });
    // one revealer's share of the dropped member's key, altered in byte 5
    const corrupt: Reveal[] = state.reveals.map((r, j) => (j > 0 ? r : { ...r, sShares: r.sShares.map((s) => ({ ...s, share: s.share.map((b, i) => (i === 5 ? b ^ 1 : b)) })) }));
    await expectCode('ERR_SECAGG_ABORT', () => unmaskSum(state.maskedSum, test.cohort, state.u2, state.request, corrupt), 'does not match its public key');
  });
});

/** Pearson correlation of two equally long sequences. */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Pearson χ² of 256 byte-value counts against the uniform distribution. */
function byteChiSquare(bytes: Uint8Array): number {
  const counts = new Float64Array(256);
  for (const b of bytes) counts[b]++;
  const expected = bytes.length / 256;
  return counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
}

/** The top byte of every word. */
const topBytes = (words: Uint32Array) => Uint8Array.from(words, (w) => w >>> 24);

describe('a masked contribution', () => {
  const length = 8807 * 32 + 1;
  // χ² with 255 degrees of freedom exceeds this with probability 0.001 (Wilson–Hilferty).
  const df = 255;
  const critical = df * (1 - 2 / (9 * df) + normalQuantile(0.999) * Math.sqrt(2 / (9 * df))) ** 3;
  const random = createRandom(2024);
  const e: Encoding = { length, clipNorm: 1, scaleBits: 16 };
  const q = encodeContribution(clippedVector(length, 1, random), e, () => random.next());
  const x = toModular(q);
  const test = buildCohort(random, complete(3));
  let y: Uint32Array;
  beforeAll(async () => {
    y = await maskInput(0, x, test.secrets[0], test.cohort, [0, 1, 2]);
  });

  it('looks uniform: χ² of its bytes and of its words’ top bytes stays below the p = 0.001 critical value', () => {
    expect(critical).toBeCloseTo(330.5, 0);
    expect(byteChiSquare(new Uint8Array(y.buffer, y.byteOffset, y.byteLength))).toBeLessThan(critical);
    expect(byteChiSquare(topBytes(y))).toBeLessThan(critical);
    // the statistic does detect the unmasked input
    expect(byteChiSquare(topBytes(x))).toBeGreaterThan(100 * critical);
  });

  it('is uncorrelated with the true input', () => {
    expect(Math.abs(correlation(y, q))).toBeLessThan(0.01);
    expect(correlation(Float64Array.from(q, (v, i) => v + (y[i] % 64)), q)).toBeGreaterThan(0.9);
  });
});

describe('never both kinds of shares', () => {
  const shape = sparse(20, 12);
  const target = 0;

  it('an honest member refuses a second request that declares an answered survivor dropped', async () => {
    const test = buildCohort(createRandom(21), shape);
    const state = await runPhases(test, randomWords(20, 50, 21));
    const first = state.request;
    const second: UnmaskRequest = { survivors: first.survivors.filter((u) => u !== target), dropped: [target] };
    for (const v of test.cohort.neighbours[target]) {
      const opened = state.opened.get(v)!;
      await expectCode('ERR_SECAGG_REFUSED', () => revealFor(v, opened, test.cohort, state.u2, second, first), 'differs from the request already answered');
      // the same request again (in another order) is answered the same way
      const again = revealFor(v, opened, test.cohort, state.u2, { survivors: [...first.survivors].reverse(), dropped: [] }, first);
      expect(again.sShares).toEqual([]);
      expect(again.bShares.map((s) => s.of)).toContain(target);
    }
  });

  /** The aggregator's best attack: split the target's neighbours between two requests and try to rebuild x_target. */
  async function splitAttack(test: TestCohort, inputs: Uint32Array[]): Promise<{ recovered: boolean; bCount: number; sCount: number }[]> {
    const { cohort, secrets } = test;
    const state = await runPhases(test, inputs);
    const keep: UnmaskRequest = state.request;
    const drop: UnmaskRequest = { survivors: keep.survivors.filter((u) => u !== target), dropped: [target] };
    const yTarget = await maskInput(target, inputs[target], secrets[target], cohort, state.u2);
    const neighbours = cohort.neighbours[target];
    const outcomes = [];
    for (let split = 0; split <= neighbours.length; split++) {
      const reveals = neighbours.map((v, j) => revealFor(v, state.opened.get(v)!, cohort, state.u2, j < split ? keep : drop, null));
      const bShares = reveals.flatMap((r) => r.bShares.filter((s) => s.of === target).map((s) => s.share));
      const sShares = reveals.flatMap((r) => r.sShares.filter((s) => s.of === target).map((s) => s.share));
      let recovered = false;
      if (bShares.length >= 2 && sShares.length >= 2) {
        const b = await combineShares(bShares);
        const sKey = await combineShares(sShares);
        const x = Uint32Array.from(yTarget);
        addMask(x, b, -1);
        for (const v of neighbours) addMask(x, pairSeed(sKey, cohort.members[v].sPk, cohort.roundId, target, v), v > target ? -1 : 1);
        recovered = Buffer.from(x.buffer).equals(Buffer.from(inputs[target].buffer));
        if (recovered) expect(Buffer.from(publicKeyOf(sKey)).equals(cohort.members[target].sPk)).toBe(true);
      }
      outcomes.push({ recovered, bCount: bShares.length, sCount: sShares.length });
    }
    return outcomes;
  }

  it('with t > k/2, no split of the neighbours between two requests yields t shares of both kinds', async () => {
    const test = buildCohort(createRandom(22), shape);
    const outcomes = await splitAttack(test, randomWords(20, 50, 22));
    expect(outcomes).toHaveLength(13);
    for (const { recovered, bCount, sCount } of outcomes) {
      expect(bCount + sCount).toBe(12);
      expect(Math.min(bCount, sCount)).toBeLessThan(shape.t);
      expect(recovered).toBe(false);
    }
  });

  it('with t = k/2 (what the majority rule forbids) the even split would expose the input', async () => {
    const test = buildCohort(createRandom(23), { ...shape, t: 6 });
    const outcomes = await splitAttack(test, randomWords(20, 50, 23));
    expect(outcomes[6]).toEqual({ recovered: true, bCount: 6, sCount: 6 });
  });
});

describe('revealFor consistency rules', () => {
  const test = buildCohort(createRandom(31), complete(6));
  const u2 = [0, 1, 2, 3, 4];
  let opened: ReturnType<typeof openInbox>;

  it.each<[string, UnmaskRequest]>([
    ['a survivor outside U2', { survivors: [0, 1, 2, 5], dropped: [3, 4] }],
    ['overlapping lists', { survivors: [0, 1, 2, 3], dropped: [3, 4] }],
    ['lists that miss part of U2', { survivors: [0, 1, 2, 3], dropped: [] }],
    ['a repeated survivor', { survivors: [0, 1, 2, 2], dropped: [3, 4] }],
    ['fewer survivors than T', { survivors: [0, 1, 2], dropped: [3, 4] }],
    ['this member missing from the survivors', { survivors: [1, 2, 3, 4], dropped: [0] }],
  ])('refuses %s', async (_, request) => {
    if (opened === undefined) {
      const boxes = (await Promise.all(u2.map((u) => makeShares(u, test.secrets[u], test.cohort)))).flat();
      opened = openInbox(0, test.secrets[0], test.cohort, boxes.filter((b) => b.to === 0));
    }
    await expectCode('ERR_SECAGG_REFUSED', () => revealFor(0, opened, test.cohort, u2, request, null));
  });
});

describe('openInbox and maskInput', () => {
  const test = buildCohort(createRandom(41), complete(4));

  it('rejects an altered, misaddressed or repeated box, naming the sender', async () => {
    const boxes = (await Promise.all([0, 1, 2, 3].map((u) => makeShares(u, test.secrets[u], test.cohort)))).flat();
    const inbox = boxes.filter((b) => b.to === 0);
    expect(openInbox(0, test.secrets[0], test.cohort, inbox).map((o) => o.from)).toEqual([1, 2, 3]);
    const bytes = Buffer.from(inbox[1].ciphertext, 'base64');
    bytes[5] ^= 0x80;
    const altered = [inbox[0], { ...inbox[1], ciphertext: bytes.toString('base64') }, inbox[2]];
    await expectCode('ERR_SECAGG_SHARE', () => openInbox(0, test.secrets[0], test.cohort, altered), 'from member 2');
    await expectCode('ERR_SECAGG_SHARE', () => openInbox(1, test.secrets[1], test.cohort, inbox), 'not addressed');
    await expectCode('ERR_SECAGG_SHARE', () => openInbox(0, test.secrets[0], test.cohort, [inbox[0], inbox[0]]), 'repeated');
    // a box sealed for member 0 but relabelled by the router as coming from another member
    await expectCode('ERR_SECAGG_SHARE', () => openInbox(0, test.secrets[0], test.cohort, [{ ...inbox[0], from: 2 }]), 'from member 2');
  });

  it('adds the same words as the masks added one by one on this thread (the long vector goes to the mask workers)', async () => {
    const sparseTest = buildCohort(createRandom(43), sparse(8, 4));
    const [x] = randomWords(1, 8807 * 32 + 3, 44);
    const u2 = [0, 1, 2, 3, 5, 6, 7]; // member 4 dropped before masking: no pair mask with it
    for (const me of [0, 7]) {
      const { secrets, cohort } = sparseTest;
      const expected = Uint32Array.from(x);
      addMask(expected, secrets[me].selfSeed);
      for (const v of cohort.neighbours[me]) {
        if (u2.includes(v)) addMask(expected, pairSeed(secrets[me].s.privateKey, cohort.members[v].sPk, cohort.roundId, me, v), v > me ? 1 : -1);
      }
      const y = await maskInput(me, x, secrets[me], cohort, u2);
      expect(Buffer.from(y.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      expect(y).not.toBe(x);
    }
  });

  it('masks only as a member of U2', async () => {
    await expectCode('ERR_SECAGG_REFUSED', () => maskInput(3, new Uint32Array(4), test.secrets[3], test.cohort, [0, 1, 2]), 'not in U2');
  });

  it('draws fresh secrets per call', () => {
    const a = createMemberSecrets();
    const b = createMemberSecrets();
    expect(a.selfSeed).toHaveLength(32);
    expect(Buffer.from(a.selfSeed).equals(b.selfSeed)).toBe(false);
    expect(Buffer.from(a.s.privateKey).equals(a.c.privateKey)).toBe(false);
  });
});
