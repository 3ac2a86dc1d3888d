import { promises as fs, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aggregateCommunity } from '../../src/aggregator/community';
import { communityStatsFile, readCommunityStats } from '../../src/shared/community';
import { runRound } from '../../src/aggregator/round';
import { blendView, CONSENT_MARKER, encodeBlendTaste, PERMISSION_SETTLE_MS, setBlendConsent, syncBlend } from '../../src/participant/blend';
import { readGrantedGlobal } from '../../src/participant/recommendations';
import { STATE_FORMAT_VERSION, writeProfileModel } from '../../src/participant/state';
import { writeGlobalVersion, GLOBAL_PAYLOAD } from '../../src/shared/global-model';
import { PERMISSION_FILE, writePermissions } from '../../src/shared/permissions';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { addParticipant, AGGREGATOR, createRoot, MODEL, publish, randomDelta, roundContext, type TestRoot } from '../helpers/root';
import { createRandom } from '../../src/shared/random';
import { testCatalog } from '../helpers/server';
import { blendConfig, writeBlendGlobal } from '../helpers/blend';
import { capture, complaints } from '../helpers/log';

/**
 * Sync order. The SyftBox client downloads small files first, so a manifest
 * arrives before its payload, and uploads the files written in one pass
 * together, in no set order. Readers treat a payload that is absent or still
 * arriving as "not yet" (one debug line, no error, no rejection); writers put
 * a permission file on the server before the files it restricts.
 */

async function truncate(file: string): Promise<Buffer> {
  const full = await fs.readFile(file);
  await fs.writeFile(file, full.subarray(0, Math.floor(full.length / 2)));
  return full;
}

describe('a delta manifest before its payload (aggregator)', () => {
  let root: TestRoot;
  beforeEach(async () => {
    root = await createRoot();
  });
  afterEach(async () => {
    await root.cleanup();
  });

  it('waits for a payload that is absent or still arriving, then merges it', async () => {
    const alice = await addParticipant(root, 'alice@example.org');
    const manifest = await publish(alice, 'profile_0', randomDelta(createRandom(1)));
    const payload = path.join(alice.profileDir('profile_0'), manifest.payload);
    const full = await fs.readFile(payload);
    const log = capture();
    const ctx = { ...roundContext(root), logger: log.logger };

    await fs.rm(payload);
    const absent = await runRound(ctx);
    expect(absent.counts).toMatchObject({ accepted: 0, rejected: 0, waiting: 1 });
    expect(absent.waiting[0].reason).toMatch(/not synced yet/);

    await fs.writeFile(payload, full.subarray(0, 100));
    const arriving = await runRound(ctx);
    expect(arriving.counts).toMatchObject({ accepted: 0, rejected: 0, waiting: 1 });
    expect(arriving.waiting[0].reason).toMatch(/still arriving/);
    expect(complaints(log)).toEqual([]);
    expect(log.lines.filter((l) => l.msg === 'delta not ready')).toHaveLength(2);

    await fs.writeFile(payload, full);
    expect((await runRound(ctx)).counts).toMatchObject({ accepted: 1, rejected: 0, waiting: 0 });
  });

  it('still rejects a payload of the full size that does not match its manifest', async () => {
    const alice = await addParticipant(root, 'alice@example.org');
    const manifest = await publish(alice, 'profile_0', randomDelta(createRandom(1)));
    const payload = path.join(alice.profileDir('profile_0'), manifest.payload);
    const bytes = await fs.readFile(payload);
    bytes[bytes.length - 1] ^= 0xff;
    await fs.writeFile(payload, bytes);
    expect((await runRound(roundContext(root))).counts).toMatchObject({ rejected: 1, waiting: 0 });
  });
});

describe('a Global_V manifest before its payload (participant)', () => {
  it('keeps training from the newest complete version, with one debug line, until the payload is complete', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sync-order-'));
    const ws = new Workspace({ email: 'alice@example.org', dataDir, embedded: false }, 'app');
    const fields = { items: MODEL.items, rank: MODEL.rank, vocabHash: MODEL.vocabHash, contributors: 2, createdAt: '2026-01-01T00:00:00.000Z' };
    const values = randomDelta(createRandom(2), 1);
    await writeGlobalVersion(ws.globalDir(AGGREGATOR), values, { ...fields, version: 1, round: 1 });
    await writeGlobalVersion(ws.globalDir(AGGREGATOR), values, { ...fields, version: 2, round: 2 });
    const payload = path.join(ws.globalVersionDir(AGGREGATOR, 2), GLOBAL_PAYLOAD);

    const full = await fs.readFile(payload);
    await fs.rm(payload);
    let log = capture();
    expect((await readGrantedGlobal(ws, AGGREGATOR, MODEL, log.logger))?.manifest.version).toBe(1);
    expect(log.lines.map((l) => [l.level, l.msg])).toEqual([[20, 'the newest Global_V here is not complete (yet); using the newest complete one']]);

    await fs.writeFile(payload, full.subarray(0, 64));
    log = capture();
    expect((await readGrantedGlobal(ws, AGGREGATOR, MODEL, log.logger))?.manifest.version).toBe(1);
    expect(complaints(log)).toEqual([]);

    await fs.writeFile(payload, full);
    log = capture();
    expect((await readGrantedGlobal(ws, AGGREGATOR, MODEL, log.logger))?.manifest.version).toBe(2);
    expect(log.lines).toEqual([]);
  });
});

/** A participant with a trained profile (watched 1 and 2) that blends, its clock in `clock`. */
async function trained(dataDir: string, email: string, embedded: boolean, clock: { ms: number }) {
  const catalog = testCatalog(60);
  createEmbeddedDatasite(dataDir, email);
  const ws = new Workspace({ email, dataDir, embedded }, 'app');
  const random = createRandom(email.length);
  const vLocal = Float32Array.from({ length: catalog.items.length * BLEND_RANK }, () => random.normal());
  await writeProfileModel(ws.privateDir('profile_0'), {
    state: {
      formatVersion: STATE_FORMAT_VERSION, profile: 'profile_0', rank: BLEND_RANK, items: catalog.items.length, vocabHash: catalog.hash, baseVersion: 0, access: 'waiting',
      trainedAt: '2026-01-01T00:00:00.000Z', watched: [1, 2], confidence: [1, 1], lastDeltaSha256: null, lastPublishedBase: null, publishBlocked: null, inputsSha256: 'x',
    },
    u: Float32Array.from({ length: BLEND_RANK }, () => random.normal()),
    vLocal,
    vGlobal: vLocal,
  });
  return { config: blendConfig(null, AGGREGATOR), ws, catalog, logger: capture().logger, now: () => new Date(clock.ms), noiseRandom: () => createRandom(email.length) };
}

const BLEND_RANK = 4;

describe('blend and community files still arriving', () => {
  const catalog = testCatalog(60);
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sync-order-'));
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it("a friend's consent before their summary, or a summary still being written: the blend waits", async () => {
    const clock = { ms: Date.now() };
    await writeBlendGlobal(dataDir, 'app', AGGREGATOR, ['alice@example.org', 'bob@example.org'], catalog, BLEND_RANK);
    const bob = { ...(await trained(dataDir, 'bob@example.org', false, clock)), config: blendConfig('alice@example.org', AGGREGATOR) };
    const aliceBlend = bob.ws.blendDir('alice@example.org');
    await fs.mkdir(aliceBlend, { recursive: true });
    await fs.writeFile(path.join(aliceBlend, CONSENT_MARKER), '{"format":"syftbox-netflix-svd/blend-consent","formatVersion":1}\n');
    expect(await syncBlend(bob)).toMatchObject({ state: 'waiting' }); // its permission file first
    clock.ms = Date.now() + PERMISSION_SETTLE_MS;
    expect(await syncBlend(bob)).toMatchObject({ state: 'active', published: ['profile_0'] });
    const taste = encodeBlendTaste({ vocabHash: catalog.hash, items: catalog.items.length, rank: BLEND_RANK, globalVersion: 1, epsilon: 1, delta: 1e-5, clipNorm: 1, sigma: 3.7, taste: [1, 0, 0, 0] });
    const log = capture();
    const ctx = { ...bob, logger: log.logger };

    expect((await blendView(ctx, 'profile_0')).state).toBe('waiting');
    await fs.writeFile(path.join(aliceBlend, 'profile_0.json'), JSON.stringify(taste).slice(0, 40));
    expect((await blendView(ctx, 'profile_0')).state).toBe('waiting');
    expect(complaints(log)).toEqual([]);
    expect(log.lines.map((l) => l.msg)).toEqual(["a friend's blend file is not complete yet"]);

    await fs.writeFile(path.join(aliceBlend, 'profile_0.json'), JSON.stringify(taste));
    expect((await blendView(ctx, 'profile_0')).state).toBe('active');
  });

  it('community statistics or a weekly report still being written are "not yet"', async () => {
    const alice = new Workspace({ email: 'alice@example.org', dataDir, embedded: false }, 'app');
    const stats = communityStatsFile(alice, AGGREGATOR);
    await fs.mkdir(path.dirname(stats), { recursive: true });
    await fs.writeFile(stats, '{"format":"syftbox-netflix-svd/community-stats","formatVer');
    const log = capture();
    expect(await readCommunityStats(alice, AGGREGATOR, catalog, log.logger)).toBeNull();

    createEmbeddedDatasite(dataDir, AGGREGATOR);
    createEmbeddedDatasite(dataDir, 'alice@example.org');
    const agg = new Workspace({ email: AGGREGATOR, dataDir, embedded: false }, 'app');
    await writePermissions(alice.appData(), { rules: [{ pattern: '**', access: { read: [AGGREGATOR] } }] });
    await fs.mkdir(alice.profileDir('profile_0'), { recursive: true });
    await fs.writeFile(alice.deltaManifest('profile_0'), '{}'); // makes profile_0 a discovered profile
    await fs.writeFile(alice.communityStats('profile_0'), '{"format":"syftbox-netflix-svd/commun');
    const result = await aggregateCommunity(agg, { catalog, minParticipants: 1, now: () => new Date('2026-03-11T12:00:00Z'), logger: log.logger });
    expect(result.status).toBe('waiting');
    expect(complaints(log)).toEqual([]);
    expect(log.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['the community statistics are not complete yet', 'a community report is not complete yet']));
  });
});

describe('the blend writes its permission file before the files it restricts (upload order)', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sync-order-'));
    await writeBlendGlobal(dataDir, 'app', AGGREGATOR, ['alice@example.org', 'bob@example.org'], testCatalog(60), BLEND_RANK);
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('under a SyftBox client: the consent and scores only once the permission file has had time to sync', async () => {
    const clock = { ms: Date.now() };
    const alice = await trained(dataDir, 'alice@example.org', false, clock);
    const bob = await trained(dataDir, 'bob@example.org', false, clock);
    await setBlendConsent(alice, bob.ws.email);
    await setBlendConsent(bob, alice.ws.email);
    const files = async (ws: Workspace) => (await fs.readdir(ws.blendDir())).sort();

    expect(await syncBlend(alice)).toMatchObject({ state: 'waiting', published: [] });
    expect(await syncBlend(bob)).toMatchObject({ state: 'waiting', published: [] });
    expect(await files(alice.ws)).toEqual([PERMISSION_FILE]);

    clock.ms = Date.now() + PERMISSION_SETTLE_MS; // both permission files were written before this moment
    await syncBlend(alice); // writes its consent; bob's is not there yet
    await syncBlend(bob);
    expect(await syncBlend(alice)).toMatchObject({ state: 'active', published: ['profile_0'] });
    expect(await files(alice.ws)).toEqual([CONSENT_MARKER, 'profile_0.json', PERMISSION_FILE].sort());
    const mtime = async (name: string) => (await fs.stat(path.join(alice.ws.blendDir(), name))).mtimeMs;
    expect(await mtime(PERMISSION_FILE)).toBeLessThanOrEqual(await mtime(CONSENT_MARKER));
  });

  it('in an embedded root nothing is uploaded, so all go in one pass', async () => {
    const clock = { ms: Date.now() };
    const alice = await trained(dataDir, 'alice@example.org', true, clock);
    const bob = await trained(dataDir, 'bob@example.org', true, clock);
    await setBlendConsent(alice, bob.ws.email);
    await setBlendConsent(bob, alice.ws.email);
    await syncBlend(alice);
    expect(await syncBlend(bob)).toMatchObject({ state: 'active', published: ['profile_0'] });
  });
});
