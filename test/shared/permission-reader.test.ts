import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { permissionReader, writePermissions } from '../../src/shared/permissions';
import { createEmbeddedDatasite } from '../../src/shared/workspace';

/** A round's permission reads: each folder read once per reader, parses shared between identical files, and never stale across readers. */

const B = 'b@y.org';
const C = 'c@z.org';
let dataDir: string;
let datasites: string;
beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'perm-reader-'));
  datasites = path.join(dataDir, 'datasites');
});
afterEach(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

async function site(email: string, readers: string[]): Promise<{ dir: string; target: string }> {
  createEmbeddedDatasite(dataDir, email);
  const dir = path.join(datasites, email, 'app_data', 'app');
  await writePermissions(dir, { rules: [{ pattern: '**', access: { read: readers } }] });
  return { dir, target: path.join(dir, 'profile_0', 'delta.json') };
}

describe('permissionReader', () => {
  it('answers one reader from the files as it first read them, and a new reader from the files as they are now', async () => {
    const { dir, target } = await site('a@x.org', [B]);
    const round = permissionReader(datasites);
    expect(await round.canRead(B, target)).toBe(true);
    await writePermissions(dir, { rules: [{ pattern: '**', access: { read: [C] } }] });
    // the same round keeps its snapshot (every check of one round agrees)...
    expect(await round.canRead(B, target)).toBe(true);
    expect(await round.canRead(C, target)).toBe(false);
    // ...the next round sees the change
    const next = permissionReader(datasites);
    expect(await next.canRead(B, target)).toBe(false);
    expect(await next.canRead(C, target)).toBe(true);
    await fs.rm(path.join(dir, 'syft.pub.yaml'));
    expect(await permissionReader(datasites).canRead(C, target)).toBe(false);
  });

  it('keeps files with the same text apart once one of them changes', async () => {
    const a = await site('a@x.org', [B]);
    const d = await site('d@x.org', [B]);
    expect(await permissionReader(datasites).canRead(B, a.target)).toBe(true);
    expect(await permissionReader(datasites).canRead(B, d.target)).toBe(true);
    await writePermissions(d.dir, { rules: [{ pattern: '**', access: { read: [C], write: [C] } }] });
    const reader = permissionReader(datasites);
    expect(await reader.canRead(B, a.target)).toBe(true);
    expect(await reader.writersBesidesOwner(a.target)).toEqual([]);
    expect(await reader.canRead(B, d.target)).toBe(false);
    expect(await reader.writersBesidesOwner(d.target)).toEqual([C]);
  });

  it('skips a malformed file for the folder above it, like the server', async () => {
    const { dir, target } = await site('a@x.org', [B]);
    await fs.writeFile(path.join(dir, 'syft.pub.yaml'), 'rules: [ {pattern: "**"');
    // the datasite root's file (owner only) governs now
    expect(await permissionReader(datasites).canRead(B, target)).toBe(false);
  });
});
