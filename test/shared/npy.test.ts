import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/errors';
import { decodeNpy, encodeNpy } from '../../src/shared/npy';
import { hasNumpy, unavailable } from '../helpers/data';

describe('npy', () => {
  it('round-trips float32 and int32 matrices', () => {
    const f = new Float32Array([1.5, -2, 3.25, 0, 7, 8]);
    const back = decodeNpy(encodeNpy(f, [3, 2]), 'f.npy', { dtype: '<f4', shape: [3, 2] });
    expect(back.shape).toEqual([3, 2]);
    expect([...back.data]).toEqual([...f]);
    const i = new Int32Array([1, 2, 3]);
    expect([...decodeNpy(encodeNpy(i, [3]), 'i.npy').data]).toEqual([1, 2, 3]);
  });

  it('round-trips uint32 vectors above 2^31 (masked secure-aggregation inputs)', () => {
    const u = new Uint32Array([0, 1, 2 ** 31, 2 ** 32 - 1]);
    const back = decodeNpy(encodeNpy(u, [4]), 'm.npy', { dtype: '<u4', shape: [4] });
    expect(back.data).toBeInstanceOf(Uint32Array);
    expect([...back.data]).toEqual([0, 1, 2 ** 31, 2 ** 32 - 1]);
  });

  it.runIf(hasNumpy())('writes uint32 that numpy.load reads as uint32', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'npy-')), 'm.npy');
    writeFileSync(file, encodeNpy(new Uint32Array([2 ** 32 - 1, 3]), [2]));
    const out = execFileSync('python3', ['-c', `import numpy; a = numpy.load(${JSON.stringify(file)}); print(a.dtype, a.shape, int(a[0]))`]).toString().trim();
    expect(out).toBe(`uint32 (2,) ${2 ** 32 - 1}`);
  });

  it('aligns the header to 64 bytes as numpy does', () => {
    const bytes = encodeNpy(new Float32Array(6), [3, 2]);
    expect((10 + bytes.readUInt16LE(8)) % 64).toBe(0);
  });

  it.skipIf(unavailable('numpy (python3 -c "import numpy")', hasNumpy()))('is readable by numpy.load', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'npy-')), 'a.npy');
    writeFileSync(file, encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]));
    const out = execFileSync('python3', ['-c', `import numpy; a = numpy.load(${JSON.stringify(file)}); print(a.dtype, a.shape, a.sum())`]).toString().trim();
    expect(out).toBe('float32 (2, 3) 21.0');
  });

  const good = encodeNpy(new Float32Array([1, 2, 3, 4]), [2, 2]);
  it.each([
    ['a truncated file', good.subarray(0, good.length - 3), /claims 4 values/],
    ['extra bytes', Buffer.concat([good, Buffer.from([1, 2, 3, 4])]), /unexpected bytes/],
    ['bad magic', Buffer.from('hello world, not npy'), /bad magic/],
    ['an empty buffer', Buffer.alloc(0), /bad magic/],
    ['a wrong dtype', Buffer.from(good.toString('latin1').replace("'<f4'", "'<f8'"), 'latin1'), /dtype <f8/],
  ])('rejects %s with ERR_NPY_FORMAT naming the source', (_name, bytes, message) => {
    try {
      decodeNpy(bytes, 'delta.npy');
      expect.unreachable();
    } catch (err) {
      expect((err as AppError).code).toBe('ERR_NPY_FORMAT');
      expect((err as AppError).message).toMatch(/^delta\.npy: /);
      expect((err as AppError).message).toMatch(message);
    }
  });

  it('rejects a header claiming more data than the file has', () => {
    const lying = Buffer.from(good.toString('latin1').replace('(2, 2)', '(200, 2)'), 'latin1');
    expect(() => decodeNpy(lying, 'x.npy')).toThrow(/claims 400 values/);
  });

  it('checks the expected shape', () => {
    expect(() => decodeNpy(good, 'x.npy', { shape: [3, 2] })).toThrow(/expected \(3, 2\)/);
    expect(decodeNpy(good, 'x.npy', { shape: [-1, 2] }).shape).toEqual([2, 2]);
  });
});
