import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTempRoot } from '../eval/federated';
import { sumMaskedInputs } from '../aggregator/secagg';
import { isAppError } from '../shared/errors';
import { writeMaskedInput } from '../shared/secagg/files';
import { addMasks, startMaskWorkers } from '../shared/secagg/mask-workers';
import { fasterLoop, mbPerSec, numpyAnchor, numpyLoop } from './aggregator';

/**
 * The secure round's two data-heavy steps, each beside a numpy loop doing the same
 * work on the same data: summing the members' masked inputs (read, sha256, add mod
 * 2^32: the aggregator's own `sumMaskedInputs`, which hashes on worker threads while
 * it reads and adds) and expanding masks (AES-256-CTR keystream added mod 2^32 by
 * `addMasks`, on the mask workers, as `unmaskSum` does for every survivor's self-mask
 * and every dropped member's pair masks; numpy's side uses the `cryptography`
 * package). The mask workers' start-up (warm-up included), once per process when the
 * aggregator starts, is reported apart; then a short job (`masks`: the first the
 * workers run) and a long one (`longMasks`: a large cohort's unmasking) are timed.
 */

const ROUND_ID = 'r000001';
const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

interface SecureFigure {
  count: number;
  length: number;
  ms: number;
  mbPerSec: number;
  numpyMs: number | null;
  numpyMbPerSec: number | null;
  ratioToNumpy: number | null;
  loadAverage: number[];
}

function figure(count: number, length: number, ms: number, numpy: { bytes: number; ms: number } | null): SecureFigure {
  const bytes = count * length * 4;
  const mbs = mbPerSec(bytes, ms);
  const numpyMbs = numpy ? mbPerSec(numpy.bytes, numpy.ms) : null;
  return { count, length, ms: Math.round(ms), mbPerSec: mbs, numpyMs: numpy?.ms ?? null, numpyMbPerSec: numpyMbs, ratioToNumpy: numpyMbs ? round2(mbs / numpyMbs) : null, loadAverage: os.loadavg().map(round1) };
}

const describeFigure = (f: SecureFigure) =>
  `${f.ms} ms = ${f.mbPerSec} MB/s = ${f.ratioToNumpy === null ? 'no numpy (or cryptography) here: no anchor in this run' : `${f.ratioToNumpy}x the numpy loop (${Math.round(f.numpyMs!)} ms, ${f.numpyMbPerSec} MB/s)`}; load average ${f.loadAverage.join(' ')}`;

/** Milliseconds the mask workers take to add `masks` masks of `length` words at once. */
async function timeMasks(masks: number, length: number): Promise<number> {
  const started = performance.now();
  const acc = new Uint32Array(length);
  await addMasks(acc, Array.from({ length: masks }, (_, i) => ({ seed: randomBytes(32), sign: i % 2 === 0 ? 1 : -1 })));
  return performance.now() - started;
}

/** `members` masked inputs, then `masks` and `longMasks` mask expansions, of `length` uint32 values each. */
export async function benchSecureSum(members: number, masks: number, longMasks: number, length: number, log: (line: string) => void) {
  const root = await createTempRoot(members * length * 4, 'bench-secagg-');
  try {
    const dirs: string[] = [];
    const values = new Uint32Array(length);
    for (let m = 0; m < members; m++) {
      new Uint8Array(values.buffer).set(randomBytes(values.byteLength));
      const dir = path.join(root, `member${m}`);
      await fs.mkdir(dir);
      await writeMaskedInput(dir, ROUND_ID, values, new Date().toISOString());
      dirs.push(dir);
    }
    const payloads = (await Promise.all(dirs.map(async (dir) => (await fs.readdir(dir)).filter((n) => n.endsWith('.npy')).map((n) => path.join(dir, n))))).flat();

    let sumMs = 0;
    const sumAnchor = await numpyAnchor(['uint32'], payloads, async () => {
      const started = performance.now();
      const { outcomes } = await sumMaskedInputs(dirs, { roundId: ROUND_ID, length });
      sumMs = performance.now() - started;
      if (outcomes.some((o) => o === null || isAppError(o))) throw new Error('a masked input of the benchmark did not read back');
    });
    const maskedSum = figure(members, length, sumMs, sumAnchor);
    log(`secure aggregation, masked sum: ${members} inputs of ${length} uint32: ${describeFigure(maskedSum)}`);

    // numpy's runs come before the workers start and after both jobs, not between: starting a process forks this one,
    // which write-protects every page it has, and the next job faulted its warm memory in again (thousands of faults,
    // tens of ms on this VM), a cost an aggregator, which starts no processes, never pays
    const maskArgs = (count: number) => ['mask', String(length), String(count)];
    const numpyBefore = [await numpyLoop(maskArgs(masks)), await numpyLoop(maskArgs(longMasks))];
    // the aggregator starts its mask workers (and warms them) when it starts: once per process, timed apart
    const startStarted = performance.now();
    await startMaskWorkers();
    const workersStartMs = Math.round(performance.now() - startStarted);
    const shortMs = await timeMasks(masks, length);
    const longMs = await timeMasks(longMasks, length);
    const numpyAfter = numpyBefore[0] === null ? [null, null] : [await numpyLoop(maskArgs(masks)), await numpyLoop(maskArgs(longMasks))];
    const maskExpansion = { ...figure(masks, length, shortMs, fasterLoop(numpyBefore[0], numpyAfter[0])), workersStartMs };
    log(`secure aggregation, mask expansion on the aggregator's mask workers (started and warmed in ${workersStartMs} ms, once per process): ${masks} masks of ${length} uint32: ${describeFigure(maskExpansion)}`);
    const longMaskExpansion = figure(longMasks, length, longMs, fasterLoop(numpyBefore[1], numpyAfter[1]));
    log(`secure aggregation, mask expansion, a large cohort's unmasking: ${longMasks} masks of ${length} uint32: ${describeFigure(longMaskExpansion)}`);
    return { maskedSum, maskExpansion, longMaskExpansion };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}
