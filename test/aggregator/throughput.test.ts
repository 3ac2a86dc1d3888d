import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runRound } from '../../src/aggregator/round';
import { sha256Hex } from '../../src/shared/delta';
import { GLOBAL_PAYLOAD, initialItemFactors, readLatestGlobal, versionDirName } from '../../src/shared/global-model';
import { encodeNpy } from '../../src/shared/npy';
import { createRandom } from '../../src/shared/random';
import { addParticipant, AGGREGATOR, createRoot, MODEL, PARAMS, publish, randomDelta, roundContext, type TestRoot } from '../helpers/root';

/**
 * The round reads, hashes and checks deltas concurrently into a few reused buffers
 * (src/aggregator/round.ts): what it merges must not depend on how many are in
 * flight, no buffer may be reused while its values are still needed, and hostile
 * payloads are still refused with their codes.
 */

const roots: TestRoot[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await root.cleanup();
});

/** Sites in discovery order (emails sorted), each with its profiles' deltas. */
function inputs(): { email: string; deltas: Float32Array[] }[] {
  const random = createRandom(19);
  const sites = [
    { email: 'a@example.org', profiles: 1 },
    { email: 'b@example.org', profiles: 5 }, // more profiles than read buffers at readAhead 1
    { email: 'c@example.org', profiles: 1 },
    { email: 'd@example.org', profiles: 2 },
    { email: 'e@example.org', profiles: 1 },
  ];
  return sites.map(({ email, profiles }) => ({ email, deltas: Array.from({ length: profiles }, () => randomDelta(random, 0.3 + random.next() * 0.6)) }));
}

/** A root holding `inputs()` (plus, with `hostile`, a delta holding a NaN in the middle of the order). */
async function rootWith(hostile: boolean): Promise<TestRoot> {
  const root = await createRoot();
  roots.push(root);
  for (const { email, deltas } of inputs()) {
    const ws = await addParticipant(root, email);
    for (let p = 0; p < deltas.length; p++) await publish(ws, `profile_${p}`, deltas[p]);
  }
  if (hostile) {
    const nan = randomDelta(createRandom(3));
    nan[17] = Number.NaN;
    await publish(await addParticipant(root, 'c2@example.org'), 'profile_0', nan);
  }
  return root;
}

async function globalBytes(root: TestRoot): Promise<Buffer> {
  return fs.readFile(path.join(root.ws.globalDir(AGGREGATOR), versionDirName(1), GLOBAL_PAYLOAD));
}

/**
 * The merge written out one addition at a time in discovery order, as documented:
 * a datasite's profiles averaged in float32, each datasite added to a float64 sum
 * with weight min(Σ weights, 1), divided by the weight sum, stepped from version 0.
 */
function sequentialReference(): Float32Array {
  const size = MODEL.items * MODEL.rank;
  const sum = new Float64Array(size);
  let weightSum = 0;
  for (const { deltas } of inputs()) {
    let site = deltas[0];
    if (deltas.length > 1) {
      site = new Float32Array(size);
      for (const d of deltas) for (let i = 0; i < size; i++) site[i] += (1 / deltas.length) * d[i];
    }
    for (let i = 0; i < size; i++) sum[i] += 1 * site[i];
    weightSum += 1;
  }
  const v0 = initialItemFactors(MODEL.items, MODEL.rank, PARAMS.seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = v0[i] + PARAMS.serverLr * (sum[i] / weightSum + 0);
  return out;
}

describe('concurrent reading', () => {
  it('writes a bit-identical Global_V whatever the read-ahead, and in a round after another, equal to the sums taken one by one in discovery order', async () => {
    const written: Buffer[] = [];
    // the second round at 8 reuses the memory the first left, sum and buffers full of its values
    for (const readAhead of [1, 3, 8, 8]) {
      const root = await rootWith(true);
      const summary = await runRound({ ...roundContext(root), readAhead });
      expect(summary.outcome).toBe('merged');
      expect(summary.counts).toMatchObject({ accepted: 10, rejected: 1 });
      written.push(await globalBytes(root));
    }
    expect(sha256Hex(written[1])).toBe(sha256Hex(written[0]));
    expect(sha256Hex(written[2])).toBe(sha256Hex(written[0]));
    expect(sha256Hex(written[3])).toBe(sha256Hex(written[0]));
    expect(written[0].equals(encodeNpy(sequentialReference(), [MODEL.items, MODEL.rank]))).toBe(true);
  });

  it('still refuses a non-finite payload read into a shared buffer, naming the file, and merges the rest', async () => {
    const root = await rootWith(true);
    const summary = await runRound({ ...roundContext(root), readAhead: 2 });
    expect(summary.rejected).toHaveLength(1);
    const [nan] = summary.rejected;
    expect(nan).toMatchObject({ email: 'c2@example.org', code: 'ERR_DELTA_NONFINITE' });
    expect(nan.message).toContain(path.join(root.dataDir, 'datasites', 'c2@example.org'));
    expect(nan.message).toMatch(/profile_0[\\/]delta-[0-9a-f]{16}\.npy/);
    expect(nan.message).toMatch(/value 17 \(row 5\) is NaN/);
  });

  it('keeps a copy of every delta a robust merge needs, though the read buffers are reused', async () => {
    const root = await createRoot();
    roots.push(root);
    const random = createRandom(23);
    const deltas = Array.from({ length: 7 }, () => randomDelta(random));
    for (let i = 0; i < deltas.length; i++) await publish(await addParticipant(root, `m${i}@example.org`), 'profile_0', deltas[i]);
    await runRound({ ...roundContext(root, { mergeMode: 'median' }), readAhead: 1 });
    const v0 = initialItemFactors(MODEL.items, MODEL.rank, PARAMS.seed);
    const v1 = (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), MODEL))!.values;
    const expected = v0.map((v, i) => v + deltas.map((d) => d[i]).sort((x, y) => x - y)[3]);
    expect(Array.from(v1)).toEqual(Array.from(Float32Array.from(expected)));
  });
});
