import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runRound } from '../../src/aggregator/round';
import { readStatus, type AggregatorStatus } from '../../src/aggregator/status';
import { loadCatalog } from '../../src/shared/catalog';
import { writeDelta } from '../../src/shared/delta';
import type { ErrorCode } from '../../src/shared/errors';
import { readLatestGlobal, type GlobalExpect } from '../../src/shared/global-model';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import { encodeNpy } from '../../src/shared/npy';
import { writePermissions } from '../../src/shared/permissions';
import { createRandom, type Random } from '../../src/shared/random';
import { put } from '../helpers/data';
import { isAlive, startCli, waitFor } from '../helpers/process';
import { addParticipant, AGGREGATOR, APP, cliEnv, createRoot, deltaFields, MODEL, publish, publishRaw, randomDelta, roundContext, writeCatalog, type TestRoot } from '../helpers/root';

/**
 * Hostile deltas and manifests. `test/aggregator/round.test.ts` covers NaN and
 * Infinity, int32, truncated and over-claiming payloads, shape, rank and
 * vocabulary mismatches, norm and clip, stale and newer bases, hash mismatch, a
 * 0-byte and a 50 MB manifest, an unknown format version and symlinks out of the
 * datasite. Here: the cases it leaves out (other dtypes and layouts, a 0-byte
 * payload, paths in the payload name, manifests that are not objects, FIFOs and
 * folders in place of files, folder names that are not emails or profiles), and
 * the process angle: a running aggregator daemon gets the whole corpus, merges
 * the good deltas, stays up, and its status file names every rejection's code.
 */

let root: TestRoot;
beforeEach(async () => {
  root = await createRoot();
});
afterEach(async () => {
  await root.cleanup();
});

const NPY_PREFIX_BYTES = 10;
const NPY_ALIGN = 64;

/** An .npy (format 1.0) with any header fields, aligned as numpy aligns it. */
function rawNpy(descr: string, fortran: boolean, shape: number[], data: Uint8Array): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}), }`;
  header += ' '.repeat((NPY_ALIGN - ((NPY_PREFIX_BYTES + header.length + 1) % NPY_ALIGN)) % NPY_ALIGN) + '\n';
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

/** A valid manifest + payload, then the manifest text replaced by `edit` of it. */
async function editedManifest(dir: string, model: GlobalExpect, random: Random, edit: (manifest: Record<string, unknown>) => unknown): Promise<void> {
  const manifest = await publishRaw(dir, encodeNpy(randomDelta(random, 0.5, model.items * model.rank), [model.items, model.rank]), fields(model));
  await fs.writeFile(path.join(dir, 'delta.json'), JSON.stringify(edit({ ...manifest })));
}

const fields = (model: GlobalExpect) => ({ items: model.items, rank: model.rank, vocabHash: model.vocabHash });

interface HostileCase {
  /** Local part of the participant's email. */
  name: string;
  code: ErrorCode;
  /** Write the hostile files into the (empty) profile folder `dir`. */
  write: (dir: string, model: GlobalExpect, random: Random) => Promise<unknown>;
}

/** Cases test/aggregator/round.test.ts does not have. */
const NEW_CASES: HostileCase[] = [
  {
    name: 'float64',
    code: 'ERR_NPY_FORMAT',
    write: (dir, m, r) => publishRaw(dir, rawNpy('<f8', false, [m.items, m.rank], Buffer.from(Float64Array.from(randomDelta(r, 0.5, m.items * m.rank)).buffer)), fields(m)),
  },
  {
    name: 'bigendian',
    code: 'ERR_NPY_FORMAT',
    write: (dir, m, r) => publishRaw(dir, rawNpy('>f4', false, [m.items, m.rank], Buffer.from(randomDelta(r, 0.5, m.items * m.rank).buffer)), fields(m)),
  },
  {
    name: 'fortran',
    code: 'ERR_NPY_FORMAT',
    write: (dir, m, r) => publishRaw(dir, rawNpy('<f4', true, [m.items, m.rank], Buffer.from(randomDelta(r, 0.5, m.items * m.rank).buffer)), fields(m)),
  },
  { name: 'emptypayload', code: 'ERR_NPY_FORMAT', write: (dir, m) => publishRaw(dir, new Uint8Array(0), fields(m)) },
  {
    name: 'trailing',
    code: 'ERR_NPY_FORMAT',
    write: (dir, m, r) => publishRaw(dir, Buffer.concat([encodeNpy(randomDelta(r, 0.5, m.items * m.rank), [m.items, m.rank]), Buffer.alloc(8)]), fields(m)),
  },
  { name: 'dotdot', code: 'ERR_DELTA_MANIFEST', write: (dir, m, r) => editedManifest(dir, m, r, (x) => ({ ...x, payload: `../../../outside/${x.payload}` })) },
  { name: 'slash', code: 'ERR_DELTA_MANIFEST', write: (dir, m, r) => editedManifest(dir, m, r, (x) => ({ ...x, payload: `sub/${x.payload}` })) },
  { name: 'backslash', code: 'ERR_DELTA_MANIFEST', write: (dir, m, r) => editedManifest(dir, m, r, (x) => ({ ...x, payload: `..\\${x.payload}` })) },
  { name: 'absolute', code: 'ERR_DELTA_MANIFEST', write: (dir, m, r) => editedManifest(dir, m, r, (x) => ({ ...x, payload: `/etc/${x.payload}` })) },
  { name: 'array', code: 'ERR_DELTA_MANIFEST', write: (dir, m, r) => editedManifest(dir, m, r, (x) => [x]) },
  { name: 'nullmanifest', code: 'ERR_DELTA_MANIFEST', write: (dir, m, r) => editedManifest(dir, m, r, () => null) },
  { name: 'extrakey', code: 'ERR_DELTA_MANIFEST', write: (dir, m, r) => editedManifest(dir, m, r, (x) => ({ ...x, title: 'Dark' })) },
  { name: 'hugeitems', code: 'ERR_DELTA_MANIFEST', write: (dir, m, r) => editedManifest(dir, m, r, (x) => ({ ...x, items: 1e12 })) },
  {
    name: 'infweight',
    code: 'ERR_DELTA_MANIFEST',
    write: async (dir, m, r) => {
      await editedManifest(dir, m, r, (x) => x);
      const file = path.join(dir, 'delta.json');
      await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('"weight":1', '"weight":1e999'));
    },
  },
  { name: 'fifomanifest', code: 'ERR_DELTA_PATH', write: async (dir) => execFileSync('mkfifo', [path.join(dir, 'delta.json')]) },
  {
    name: 'fifopayload',
    code: 'ERR_DELTA_PATH',
    write: async (dir, m, r) => {
      const manifest = await publishRaw(dir, encodeNpy(randomDelta(r, 0.5, m.items * m.rank), [m.items, m.rank]), fields(m));
      await fs.rm(path.join(dir, manifest.payload));
      execFileSync('mkfifo', [path.join(dir, manifest.payload)]);
    },
  },
  { name: 'foldermanifest', code: 'ERR_DELTA_PATH', write: (dir) => fs.mkdir(path.join(dir, 'delta.json'), { recursive: true }) },
];

/** Kinds round.test.ts checks in one in-process round; the daemon gets them too. */
const KNOWN_CASES: HostileCase[] = [
  {
    name: 'nan',
    code: 'ERR_DELTA_NONFINITE',
    write: (dir, m, r) => {
      const values = randomDelta(r, 0.5, m.items * m.rank);
      values[5] = Number.NaN;
      return publishRaw(dir, encodeNpy(values, [m.items, m.rank]), fields(m));
    },
  },
  {
    name: 'inf',
    code: 'ERR_DELTA_NONFINITE',
    write: (dir, m, r) => {
      const values = randomDelta(r, 0.5, m.items * m.rank);
      values[0] = Number.NEGATIVE_INFINITY;
      return publishRaw(dir, encodeNpy(values, [m.items, m.rank]), fields(m));
    },
  },
  { name: 'int32', code: 'ERR_NPY_FORMAT', write: (dir, m) => publishRaw(dir, encodeNpy(new Int32Array(m.items * m.rank), [m.items, m.rank]), fields(m)) },
  { name: 'truncated', code: 'ERR_NPY_FORMAT', write: (dir, m, r) => publishRaw(dir, encodeNpy(randomDelta(r, 0.5, m.items * m.rank), [m.items, m.rank]).subarray(0, 100), fields(m)) },
  {
    name: 'claims',
    code: 'ERR_NPY_FORMAT',
    write: (dir, m, r) => publishRaw(dir, rawNpy('<f4', false, [m.items + 7, m.rank], Buffer.from(randomDelta(r, 0.5, m.items * m.rank).buffer)), fields(m)),
  },
  { name: 'rank', code: 'ERR_DELTA_SHAPE', write: (dir, m, r) => publishRaw(dir, encodeNpy(randomDelta(r, 0.5, m.items * 2), [m.items, 2]), { ...fields(m), rank: 2 }) },
  { name: 'vocab', code: 'ERR_DELTA_SHAPE', write: (dir, m, r) => publishRaw(dir, encodeNpy(randomDelta(r, 0.5, m.items * m.rank), [m.items, m.rank]), { ...fields(m), vocabHash: 'cd'.repeat(32) }) },
  { name: 'norm', code: 'ERR_DELTA_NORM', write: (dir, m, r) => publishRaw(dir, encodeNpy(randomDelta(r, 1000, m.items * m.rank), [m.items, m.rank]), fields(m)) },
  { name: 'future', code: 'ERR_DELTA_STALE', write: (dir, m, r) => publishRaw(dir, encodeNpy(randomDelta(r, 0.5, m.items * m.rank), [m.items, m.rank]), { ...fields(m), baseVersion: 99 }) },
  {
    name: 'hash',
    code: 'ERR_DELTA_HASH',
    write: async (dir, m, r) => {
      const manifest = await publishRaw(dir, encodeNpy(randomDelta(r, 0.5, m.items * m.rank), [m.items, m.rank]), fields(m));
      await fs.writeFile(path.join(dir, manifest.payload), encodeNpy(randomDelta(r, 0.5, m.items * m.rank), [m.items, m.rank]));
    },
  },
  { name: 'emptymanifest', code: 'ERR_DELTA_MANIFEST', write: (dir) => put(path.join(dir, 'delta.json'), '') },
  { name: 'hugemanifest', code: 'ERR_DELTA_MANIFEST', write: async (dir) => fs.truncate(await put(path.join(dir, 'delta.json'), '{'), 50 * 1024 * 1024) },
  {
    name: 'symlinkout',
    code: 'ERR_DELTA_PATH',
    write: async (dir, m, r) => {
      const outside = await fs.mkdtemp(path.join(root.dataDir, 'outside-'));
      const manifest = await publishRaw(outside, encodeNpy(randomDelta(r, 0.5, m.items * m.rank), [m.items, m.rank]), fields(m));
      await fs.copyFile(path.join(outside, 'delta.json'), path.join(dir, 'delta.json'));
      await fs.symlink(path.join(outside, manifest.payload), path.join(dir, manifest.payload));
    },
  },
];

/** Well-formed deltas, readable by the aggregator, in folders it must not look at: datasites that are not emails, folders that are not profiles. */
async function writeMisplaced(model: GlobalExpect, random: Random): Promise<string[]> {
  const values = () => randomDelta(random, 0.5, model.items * model.rank);
  const sites = ['dot..dot@example.org', 'not-an-email', 'two words@example.org', 'at@localhost'];
  for (const site of sites) {
    const appData = path.join(root.ws.datasitesDir, site, 'app_data', APP);
    await writePermissions(appData, { rules: [{ pattern: '**', access: { read: [AGGREGATOR] } }] });
    await writeDelta(path.join(appData, 'profile_0'), values(), deltaFields(fields(model)));
  }
  const real = await addParticipant(root, 'folders@example.org');
  for (const folder of ['profile_00001', 'Profile_0', 'profile_1.conflict', 'profile_-1']) {
    await writeDelta(path.join(real.appData(), folder), values(), deltaFields(fields(model)));
  }
  return [...sites, 'folders@example.org'];
}

/**
 * Each case is built in a staging folder and moved into place with one rename, so
 * that a round running meanwhile never sees a half-built case (several start
 * from a valid delta and then break it).
 */
async function writeCases(cases: HostileCase[], model: GlobalExpect, random: Random): Promise<void> {
  for (const c of cases) {
    const staging = path.join(root.dataDir, 'staging', c.name);
    await fs.mkdir(staging, { recursive: true });
    await c.write(staging, model, random);
    await fs.rename(staging, (await addParticipant(root, `${c.name}@example.org`)).profileDir('profile_0'));
  }
}

/** Every participant a round mentions, in any list. */
function mentioned(summary: Pick<AggregatorStatus, 'accepted' | 'rejected' | 'replayed' | 'waiting'>): string[] {
  return [...summary.accepted, ...summary.rejected, ...summary.replayed, ...summary.waiting].map((d) => d.email);
}

describe('hostile deltas the round test does not cover', () => {
  it('rejects each with its code, ignores misplaced folders, and merges the good delta', async () => {
    const random = createRandom(21);
    const good = await publish(await addParticipant(root, 'good@example.org'), 'profile_0', randomDelta(random));
    await writeCases(NEW_CASES, MODEL, random);
    const misplaced = await writeMisplaced(MODEL, random);

    const result = await runRound(roundContext(root));

    expect(result.accepted.map((a) => [a.email, a.deltaSha256])).toEqual([['good@example.org', good.sha256]]);
    expect(Object.fromEntries(result.rejected.map((r) => [r.email.split('@')[0], r.code]))).toEqual(Object.fromEntries(NEW_CASES.map((c) => [c.name, c.code])));
    for (const r of result.rejected) expect(r.message, r.email).toContain(path.join(r.email, 'app_data', APP, 'profile_0'));
    expect(result.waiting).toEqual([]);
    for (const site of misplaced) expect(mentioned(result)).not.toContain(site);
    expect(verifyLedger(await readLedger(root.ws.ledgerFile(AGGREGATOR))).ok).toBe(true);
  });
});

describe('a running aggregator daemon under hostile deltas', () => {
  it('rejects the whole corpus with codes in status.json, merges the good deltas once, and stays up', async () => {
    const catalogFile = await writeCatalog(root, 50);
    const catalog = await loadCatalog(catalogFile);
    const model: GlobalExpect = { items: catalog.items.length, rank: 3, vocabHash: catalog.hash };
    const env = cliEnv(root, AGGREGATOR, {
      CATALOG_PATH: catalogFile,
      MODEL_RANK: String(model.rank),
      MIN_PARTICIPANTS: '1',
      WATCH_DEBOUNCE_MS: '50',
      ROUND_INTERVAL_MS: '1000',
      MAX_STALENESS: '0',
    });
    const run = startCli(['aggregator'], env);
    const random = createRandom(22);
    const cases = [...KNOWN_CASES, ...NEW_CASES];
    const status = () => readStatus(root.ws.aggregatorPrivateDir());
    const version = async () => (await readLatestGlobal(root.ws.globalDir(AGGREGATOR), model))?.manifest.version ?? 0;
    try {
      // the corpus arrives while the daemon runs: its rounds refuse it all
      await writeCases(cases, model, random);
      const misplaced = await writeMisplaced(model, random);
      await waitFor(async () => (await status())?.outcome === 'none-accepted', 'a round that refuses the corpus');
      expect(await version()).toBe(0);
      expect(isAlive(run.child.pid)).toBe(true);

      const alice = await addParticipant(root, 'alice@example.org');
      const first = await publish(alice, 'profile_0', randomDelta(random, 0.5, model.items * model.rank), fields(model));
      await waitFor(async () => (await version()) === 1, 'the good delta to merge');
      const merged = await waitFor(async () => {
        const s = await status();
        return s?.version === 1 && s.outcome === 'merged' ? s : null;
      }, 'the status of the merge');
      expect(merged.accepted.map((a) => [a.email, a.deltaSha256])).toEqual([['alice@example.org', first.sha256]]);
      expect(Object.fromEntries(merged.rejected.map((r) => [r.email.split('@')[0], r.code]))).toEqual(Object.fromEntries(cases.map((c) => [c.name, c.code])));
      expect(merged.rejected.every((r) => r.message.includes(r.email))).toBe(true);
      for (const site of misplaced) expect(mentioned(merged)).not.toContain(site);
      expect(isAlive(run.child.pid)).toBe(true);

      // a copy of the merged delta is a replay; a delta on the superseded version 0 is stale; a fresh one merges
      const copycat = (await addParticipant(root, 'copycat@example.org')).profileDir('profile_0');
      await fs.mkdir(copycat, { recursive: true });
      for (const name of ['delta.json', first.payload]) await fs.copyFile(path.join(alice.profileDir('profile_0'), name), path.join(copycat, name));
      const late = await publish(await addParticipant(root, 'late@example.org'), 'profile_0', randomDelta(random, 0.5, model.items * model.rank), { ...fields(model), baseVersion: 0 });
      const second = await publish(alice, 'profile_0', randomDelta(random, 0.5, model.items * model.rank), { ...fields(model), baseVersion: 1 });
      const next = await waitFor(async () => {
        const s = await status();
        return s?.version === 2 && s.rejected.some((r) => r.email === 'late@example.org') ? s : null;
      }, 'version 2 with the stale delta refused');
      expect(next.accepted.map((a) => a.deltaSha256)).toEqual([second.sha256]);
      expect(next.replayed.map((r) => [r.email, r.reason.split(':')[0]])).toEqual([['copycat@example.org', 'ERR_DELTA_REPLAY']]);
      expect(next.rejected.find((r) => r.email === 'late@example.org')).toMatchObject({ code: 'ERR_DELTA_STALE', deltaSha256: late.sha256 });
      expect(isAlive(run.child.pid)).toBe(true);

      const ledger = await readLedger(root.ws.ledgerFile(AGGREGATOR));
      expect(verifyLedger(ledger).ok).toBe(true);
      expect(ledger.flatMap((e) => e.accepted.map((a) => a.deltaSha256))).toEqual([first.sha256, second.sha256]);
    } finally {
      run.child.kill('SIGTERM');
    }
    const exit = await run.done;
    expect(exit.code, exit.stderr).toBe(0);
  });
});
