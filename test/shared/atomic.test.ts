import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonFile, readRegularFile, writeFileAtomic, writeFilesAtomic, writeFilesAtomicSync, writeJsonAtomic } from '../../src/shared/atomic';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'atomic-'));

describe('atomic files', () => {
  it('replaces the whole file and leaves no temporary behind', async () => {
    const dir = tmp();
    const file = path.join(dir, 'a', 'b.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(path.dirname(file))).toEqual(['b.json']);
  });

  it('never writes an empty file', async () => {
    await expect(writeFileAtomic(path.join(tmp(), 'e'), '')).rejects.toThrow(/empty/);
  });

  it('writes a batch of files into one folder, replacing old ones, and refuses a batch with an empty file before writing any', async () => {
    const dir = path.join(tmp(), 'inbox');
    writeFilesAtomicSync(dir, [{ name: '0.json', data: 'old' }]);
    writeFilesAtomicSync(dir, [
      { name: '0.json', data: 'zero' },
      { name: '1.json', data: Buffer.from('one') },
    ]);
    expect(readdirSync(dir).sort()).toEqual(['0.json', '1.json']);
    expect([readFileSync(path.join(dir, '0.json'), 'utf8'), readFileSync(path.join(dir, '1.json'), 'utf8')]).toEqual(['zero', 'one']);
    expect(() => writeFilesAtomicSync(dir, [{ name: '2.json', data: 'two' }, { name: '3.json', data: '' }])).toThrow(/empty/);
    expect(readdirSync(dir).sort()).toEqual(['0.json', '1.json']);
    const batch = path.join(tmp(), 'batch');
    await writeFilesAtomic(batch, [{ name: 'a', data: 'x' }, { name: 'b', data: Buffer.from('y') }], { private: true });
    expect([readdirSync(batch).sort(), statSync(batch).mode & 0o777, statSync(path.join(batch, 'b')).mode & 0o777]).toEqual([['a', 'b'], 0o700, 0o600]);
    await expect(writeFilesAtomic(batch, [{ name: 'c', data: 'z' }, { name: 'd', data: '' }])).rejects.toThrow(/empty/);
    expect(readdirSync(batch).sort()).toEqual(['a', 'b']);
    const owned = path.join(tmp(), 'owned');
    writeFilesAtomicSync(owned, [{ name: 'a', data: 'x' }], { private: true });
    expect([statSync(owned).mode & 0o777, statSync(path.join(owned, 'a')).mode & 0o777, statSync(path.join(dir, '0.json')).mode & 0o777]).toEqual([0o700, 0o600, 0o644]);
  });

  it('concurrent writers leave one complete version', async () => {
    const file = path.join(tmp(), 'x');
    const bodies = Array.from({ length: 20 }, (_, i) => String(i).repeat(10_000));
    await Promise.all(bodies.map((b) => writeFileAtomic(file, b)));
    expect(bodies).toContain(readFileSync(file, 'utf8'));
  });

  it('reads regular files only, within a size limit, and treats absence as null', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'big'), 'x'.repeat(100));
    symlinkSync('/etc/passwd', path.join(dir, 'link'));
    await expect(readRegularFile(path.join(dir, 'missing'), { maxBytes: 10 })).resolves.toBeNull();
    await expect(readRegularFile(path.join(dir, 'big'), { maxBytes: 10 })).rejects.toMatchObject({ code: 'ERR_FILE_TOO_LARGE' });
    await expect(readRegularFile(path.join(dir, 'link'), { maxBytes: 1e6 })).rejects.toMatchObject({ code: 'ERR_FILE_NOT_REGULAR' });
    writeFileSync(path.join(dir, 'bad.json'), '{"a":');
    await expect(readJsonFile(path.join(dir, 'bad.json'), { maxBytes: 100 })).rejects.toMatchObject({ code: 'ERR_JSON_FORMAT' });
  });

  it('writes private files owner-only, in owner-only folders, tightening a folder an older version left open', async () => {
    const dir = tmp();
    const mode = (p: string) => statSync(p).mode & 0o777;
    const fresh = path.join(dir, 'private', 'app', 'me@x.org', 'profile_0', 'history.json');
    await writeJsonAtomic(fresh, { events: [] }, { private: true });
    expect(mode(fresh)).toBe(0o600);
    for (let d = path.dirname(fresh); d !== path.join(dir, 'private'); d = path.dirname(d)) expect(mode(d), d).toBe(0o700);

    const old = path.join(dir, 'old');
    mkdirSync(old);
    chmodSync(old, 0o755);
    writeFileSync(path.join(old, 'secret'), 'abc', { mode: 0o644 });
    await writeFileAtomic(path.join(old, 'secret'), 'def', { private: true });
    expect(mode(old)).toBe(0o700);
    expect(mode(path.join(old, 'secret'))).toBe(0o600);

    const published = path.join(dir, 'datasites', 'me@x.org', 'delta.json');
    await writeFileAtomic(published, '{}');
    expect(mode(published)).toBe(0o644);
  });
});
