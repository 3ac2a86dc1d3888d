import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readRegularFileInto } from '../../src/shared/atomic';
import { scanRows, sha256Hex } from '../../src/shared/delta';
import { isAppError } from '../../src/shared/errors';
import { forgetShared, readIntoShared } from '../../src/shared/hash-workers';
import { KernelMemory } from '../../src/shared/kernels';
import { decodeNpy, encodeNpy } from '../../src/shared/npy';
import { PROJECT_ROOT } from '../../src/shared/config';

/** The pieces of the aggregator's fast path: reads into a reused buffer, values in place, one pass of checks, hashes on workers. */

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'in-place-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('decodeNpy', () => {
  it('reads aligned values in place, and copies (correctly) when the buffer is not aligned', () => {
    const values = Float32Array.from([1.5, -2, 3.25, 4, 5, 6]);
    const file = encodeNpy(values, [3, 2]);
    const inPlace = decodeNpy(file, 'x.npy', { dtype: '<f4', shape: [3, 2] }).data;
    expect(Array.from(inPlace)).toEqual(Array.from(values));
    expect(inPlace.buffer).toBe(file.buffer);
    const shifted = Buffer.alloc(file.length + 1);
    file.copy(shifted, 1);
    const copied = decodeNpy(shifted.subarray(1), 'x.npy', { dtype: '<f4', shape: [3, 2] }).data;
    expect(Array.from(copied)).toEqual(Array.from(values));
    expect(copied.buffer).not.toBe(shifted.buffer);
  });
});

describe('scanRows', () => {
  it('gives the norms of the separate loops and the first non-finite value in one pass', () => {
    const values = Float32Array.from([3, 4, 0, 1, 0, 0, 2, 2, 1]);
    const { nonFinite, norms } = scanRows(values, 3);
    expect(nonFinite).toBe(-1);
    expect(norms.total).toBeCloseTo(Math.sqrt(9 + 16 + 1 + 4 + 4 + 1), 12);
    expect(norms).toMatchObject({ worstRow: 0, worstRowNorm: 5 });
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const copy = values.slice();
      copy[7] = bad;
      copy[8] = Number.NaN;
      expect(scanRows(copy, 3).nonFinite).toBe(7);
    }
    // the largest finite float32 squared stays finite in double precision
    expect(scanRows(Float32Array.from([3.4e38, -3.4e38, 3.4e38]), 3).nonFinite).toBe(-1);
  });
});

describe('readRegularFileInto', () => {
  it('reads into the caller\'s buffer, and refuses what does not fit, symlinks and folders', async () => {
    const target = Buffer.alloc(8);
    await fs.writeFile(path.join(dir, 'a'), 'abc');
    const read = await readRegularFileInto(path.join(dir, 'a'), target);
    expect(read?.toString()).toBe('abc');
    expect(read?.buffer).toBe(target.buffer);
    expect(await readRegularFileInto(path.join(dir, 'missing'), target)).toBeNull();
    await fs.writeFile(path.join(dir, 'big'), 'x'.repeat(9));
    await expect(readRegularFileInto(path.join(dir, 'big'), target)).rejects.toSatisfy((err) => isAppError(err, 'ERR_FILE_TOO_LARGE'));
    await fs.symlink(path.join(dir, 'a'), path.join(dir, 'link'));
    await expect(readRegularFileInto(path.join(dir, 'link'), target)).rejects.toSatisfy((err) => isAppError(err, 'ERR_FILE_NOT_REGULAR'));
    await expect(readRegularFileInto(dir, target)).rejects.toSatisfy((err) => isAppError(err, 'ERR_FILE_NOT_REGULAR'));
  });
});

describe('readIntoShared', () => {
  // a plain shared buffer is scanned in JavaScript, a kernel memory by the SIMD kernel: both must give scanRows's figures, bit for bit
  const targets = { 'a plain shared buffer': () => Buffer.from(new SharedArrayBuffer(16_384)), 'a kernel memory': () => new KernelMemory(16_384).bytes(16_000) };
  for (const [kind, makeTarget] of Object.entries(targets)) {
    it(`reads, hashes and scans on a worker exactly as the main thread would, into ${kind}`, async () => {
      const target = makeTarget();
      for (const rank of [4, 7, 32, 1]) {
        const rows = Math.floor(200 / rank) + 3;
        const values = Float32Array.from({ length: rows * rank }, (_, i) => Math.sin(i * 1.7) * (i + 1) * 1e-3);
        for (const [name, bad] of [['finite', null], ['nan', rank + 2], ['inf', 2 * rank - 1]] as const) {
          const v = values.slice();
          if (bad !== null) v[bad] = name === 'nan' ? Number.NaN : Number.NEGATIVE_INFINITY;
          const npy = encodeNpy(v, [rows, rank]);
          const file = path.join(dir, `${name}-${rank}`);
          await fs.writeFile(file, npy);
          const read = await readIntoShared(file, target.subarray(64), rank);
          expect(read!.bytes.buffer).toBe(target.buffer);
          expect(Buffer.compare(read!.bytes, npy)).toBe(0);
          expect(read!.sha256).toBe(sha256Hex(npy));
          const local = scanRows(decodeNpy(npy, name, { dtype: '<f4', shape: [rows, rank] }).data as Float32Array, rank);
          const { dataOffset, nonFinite, total, worstRow, worstSq } = read!.scan!;
          expect(dataOffset).toBe(npy.length - v.byteLength);
          expect(nonFinite).toBe(bad ?? -1);
          expect(nonFinite).toBe(local.nonFinite);
          if (bad === null) expect({ total: Math.sqrt(total), worstRow, worstRowNorm: Math.sqrt(worstSq) }).toEqual(local.norms);
        }
      }
      // not an .npy of rows of this rank: read and hashed, not scanned
      await fs.writeFile(path.join(dir, 'text'), 'not numbers');
      expect(await readIntoShared(path.join(dir, 'text'), target, 4)).toMatchObject({ sha256: sha256Hex(Buffer.from('not numbers')), scan: null });
      expect((await readIntoShared(path.join(dir, 'finite-4'), target, 5))!.scan).toBeNull();
      forgetShared(target.buffer as SharedArrayBuffer);
    });
  }

  it('refuses what readRegularFileInto refuses, a FIFO included, and gives null for a missing file', async () => {
    const target = Buffer.from(new SharedArrayBuffer(8));
    expect(await readIntoShared(path.join(dir, 'missing'), target, 0)).toBeNull();
    await fs.writeFile(path.join(dir, 'big'), 'x'.repeat(9));
    await expect(readIntoShared(path.join(dir, 'big'), target, 0)).rejects.toSatisfy((err) => isAppError(err, 'ERR_FILE_TOO_LARGE'));
    await fs.writeFile(path.join(dir, 'a'), 'abc');
    await fs.symlink(path.join(dir, 'a'), path.join(dir, 'link'));
    await expect(readIntoShared(path.join(dir, 'link'), target, 0)).rejects.toSatisfy((err) => isAppError(err, 'ERR_FILE_NOT_REGULAR'));
    await expect(readIntoShared(dir, target, 0)).rejects.toSatisfy((err) => isAppError(err, 'ERR_FILE_NOT_REGULAR'));
    await new Promise<void>((resolve, reject) => execFile('mkfifo', [path.join(dir, 'fifo')], (err) => (err ? reject(err) : resolve())));
    await expect(readIntoShared(path.join(dir, 'fifo'), target, 0)).rejects.toSatisfy((err) => isAppError(err, 'ERR_FILE_NOT_REGULAR'));
    await expect(readIntoShared(path.join(dir, 'a'), Buffer.alloc(8), 0)).rejects.toThrow(TypeError);
  });
});

describe('shared buffers held by the workers', () => {
  it('stay usable after the workers let go of them, and after more buffers than the workers keep', async () => {
    await fs.writeFile(path.join(dir, 'a'), 'abc');
    const expected = sha256Hex(Buffer.from('abc'));
    const read = async (b: Buffer) => (await readIntoShared(path.join(dir, 'a'), b, 0))!.sha256;
    const first = Buffer.from(new SharedArrayBuffer(16));
    expect(await read(first)).toBe(expected);
    forgetShared(first.buffer as SharedArrayBuffer);
    expect(await read(first)).toBe(expected); // sent again: the workers had dropped it
    const many = Array.from({ length: 9 }, () => Buffer.from(new SharedArrayBuffer(16)));
    for (const b of many) expect(await read(b)).toBe(expected);
    expect(await Promise.all([first, ...many].map(read))).toEqual(Array(10).fill(expected));
  });
});

describe('hash workers in a process of their own', () => {
  it('let the process exit once its hashes are done (idle workers hold nothing open)', async () => {
    const script = path.join(dir, 'hash.mts');
    await fs.writeFile(
      script,
      `import { readIntoShared } from ${JSON.stringify(path.join(PROJECT_ROOT, 'src', 'shared', 'hash-workers.ts'))};\n` +
        `const b = Buffer.from(new SharedArrayBuffer(64));\n` +
        `process.stdout.write((await readIntoShared(${JSON.stringify(path.join(dir, 'hello'))}, b, 0)).sha256);\n`,
    );
    await fs.writeFile(path.join(dir, 'hello'), 'hello');
    // no timeout of its own: a process that never exits fails the test at vitest's limit
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', script], { cwd: PROJECT_ROOT }, (err, out) => (err ? reject(err) : resolve(out)));
    });
    expect(stdout).toBe(sha256Hex(Buffer.from('hello')));
  }, 600_000);
});
