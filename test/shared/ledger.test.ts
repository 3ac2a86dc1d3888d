import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/shared/errors';
import { writeGlobalVersion } from '../../src/shared/global-model';
import {
  GENESIS_HASH,
  appendLedgerEntry,
  auditParticipation,
  canonicalJson,
  createLedgerEntry,
  entryHash,
  parseLedger,
  readGlobalCopies,
  readLedger,
  verifyLedger,
  type LedgerEntry,
} from '../../src/shared/ledger';

const hex = (c: string) => c.repeat(64);
const fieldsOf = ({ formatVersion: _f, prevHash: _p, hash: _h, ...fields }: LedgerEntry) => fields;

function chain(n: number): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (let v = 1; v <= n; v++) {
    out.push(
      createLedgerEntry(
        {
          round: v,
          version: v,
          globalSha256: hex(String(v % 10)),
          accepted: [{ participant: hex('a'), deltaSha256: `${'d'.repeat(62)}${String(v).padStart(2, '0')}`, weight: 1 / v }],
          rejectedCount: v - 1,
          params: { serverLr: 1, mergeMode: 'fedavg' },
          createdAt: new Date(Date.UTC(2026, 0, v)).toISOString(),
        },
        out.at(-1) ?? null,
      ),
    );
  }
  return out;
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ledger-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('canonicalJson', () => {
  it('sorts keys recursively and drops whitespace', () => {
    expect(canonicalJson({ b: [2, { d: 1, c: null }], a: 'x' })).toBe('{"a":"x","b":[2,{"c":null,"d":1}]}');
  });
  it('refuses non-finite numbers', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(RangeError);
  });
});

describe('verifyLedger', () => {
  it('accepts a chain built with createLedgerEntry, starting from the genesis hash', () => {
    const entries = chain(4);
    expect(entries[0].prevHash).toBe(GENESIS_HASH);
    expect(entries[0].hash).toBe(entryHash(entries[0]));
    expect(verifyLedger(entries)).toEqual({ ok: true, entries: 4, head: entries[3] });
    expect(verifyLedger([])).toEqual({ ok: true, entries: 0, head: null });
  });

  it('detects an edited, dropped, reordered or re-hashed entry and a delta accepted twice', () => {
    const edited = chain(3);
    edited[1] = { ...edited[1], accepted: [{ ...edited[1].accepted[0], weight: 5 }] };
    expect(verifyLedger(edited)).toMatchObject({ ok: false, index: 1, reason: expect.stringMatching(/hash does not match/) });

    const dropped = chain(3);
    dropped.splice(1, 1);
    expect(verifyLedger(dropped)).toMatchObject({ ok: false, index: 1, reason: expect.stringMatching(/prevHash/) });

    const reordered = chain(3);
    [reordered[1], reordered[2]] = [reordered[2], reordered[1]];
    expect(verifyLedger(reordered)).toMatchObject({ ok: false, index: 1 });

    const rehashed = chain(2);
    const forged = { ...rehashed[1], rejectedCount: 0 };
    rehashed[1] = { ...forged, hash: entryHash(forged) };
    expect(verifyLedger(rehashed).ok).toBe(true); // a self-consistent last line verifies...
    const next = createLedgerEntry(fieldsOf(chain(3)[2]), chain(2)[1]);
    expect(verifyLedger([...rehashed, next])).toMatchObject({ ok: false, index: 2 }); // ...but the next line no longer chains

    const twice = chain(1);
    const again = createLedgerEntry({ ...fieldsOf(twice[0]), round: 2, version: 2 }, twice[0]);
    expect(verifyLedger([...twice, again])).toMatchObject({ ok: false, index: 1, reason: expect.stringMatching(/already accepted/) });
  });
});

describe('files', () => {
  it('appends entries that chain and reads them back; the earlier bytes never change', async () => {
    const file = path.join(dir, 'ledger.jsonl');
    const entries = chain(3);
    await appendLedgerEntry(file, entries[0]);
    const first = await fs.readFile(file, 'utf8');
    await appendLedgerEntry(file, entries[1]);
    await appendLedgerEntry(file, entries[2]);
    const text = await fs.readFile(file, 'utf8');
    expect(text.startsWith(first)).toBe(true);
    expect(text.split('\n')).toHaveLength(4);
    expect(await readLedger(file)).toEqual(entries);
  });

  it('refuses an entry that does not chain onto the last line', async () => {
    const file = path.join(dir, 'ledger.jsonl');
    const entries = chain(2);
    await expect(appendLedgerEntry(file, entries[1])).rejects.toSatisfy((err) => isAppError(err, 'ERR_LEDGER_BROKEN'));
  });

  it('reports a truncated or malformed line with its line number', () => {
    const text = chain(2).map((e) => canonicalJson(e)).join('\n');
    expect(() => parseLedger(text.slice(0, -10), 'l.jsonl')).toThrow(/line 2: is not JSON/);
    expect(() => parseLedger('{"round":1}\n', 'l.jsonl')).toThrow(/line 1/);
  });

  it('reads [] when there is no ledger yet', async () => {
    expect(await readLedger(path.join(dir, 'absent.jsonl'))).toEqual([]);
  });

  it('readGlobalCopies hashes each held Global_V payload, skipping versions still syncing', async () => {
    const fields = { round: 1, items: 2, rank: 1, vocabHash: 'ab'.repeat(32), contributors: 1, createdAt: '2026-01-01T00:00:00.000Z' };
    const m1 = await writeGlobalVersion(dir, new Float32Array([1, 2]), { ...fields, version: 1 });
    await writeGlobalVersion(dir, new Float32Array([3, 4]), { ...fields, version: 2 });
    await fs.rm(path.join(dir, 'v000002', 'Global_V.npy'));
    expect(await readGlobalCopies(dir)).toEqual([{ version: 1, sha256: m1.sha256 }]);
  });
});

describe('auditParticipation', () => {
  const entries = chain(3);
  const mine = entries[1].accepted[0].deltaSha256;

  it('passes when the chain verifies, the held Global_V match and the latest delta is included', () => {
    const audit = auditParticipation(entries, {
      globals: [{ version: 3, sha256: entries[2].globalSha256 }, { version: 4, sha256: hex('e') }],
      delta: { sha256: mine, createdAt: '2025-12-01T00:00:00.000Z' },
      graceMs: 0,
    });
    expect(audit).toMatchObject({ ok: true, problems: [], delta: { status: 'included', version: 2 } });
    expect(audit.globals.map((g) => g.status)).toEqual(['match', 'pending']);
  });

  it('fails on a Global_V whose sha256 differs from the ledger', () => {
    const audit = auditParticipation(entries, { globals: [{ version: 2, sha256: hex('f') }], delta: null, graceMs: 0 });
    expect(audit.ok).toBe(false);
    expect(audit.problems[0]).toMatch(/Global_V version 2/);
  });

  it('a delta not in the ledger is pending until a round starts graceMs after it, then missing', () => {
    const delta = { sha256: hex('9'), createdAt: '2026-01-02T12:00:00.000Z' };
    expect(auditParticipation(entries, { globals: [], delta, graceMs: 24 * 3600_000 })).toMatchObject({ ok: true, delta: { status: 'pending' } });
    expect(auditParticipation(entries, { globals: [], delta, graceMs: 3600_000 })).toMatchObject({ ok: false, delta: { status: 'missing' } });
  });

  it('fails on a broken chain', () => {
    const broken = [...entries];
    broken.splice(0, 1);
    expect(auditParticipation(broken, { globals: [], delta: null, graceMs: 0 }).ok).toBe(false);
  });
});
