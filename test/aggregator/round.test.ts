import { deltaNoiseSigma } from '../../src/shared/privacy';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runRound } from '../../src/aggregator/round';
import { readRoundRecord } from '../../src/aggregator/record';
import { readStatus } from '../../src/aggregator/status';
import { l2Norm } from '../../src/shared/delta';
import { isAppError } from '../../src/shared/errors';
import { initialItemFactors, listGlobalVersions, readGlobalVersion, readLatestGlobal } from '../../src/shared/global-model';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import { encodeNpy } from '../../src/shared/npy';
import { EVERYONE, canRead } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { addParticipant, AGGREGATOR, createRoot, MODEL, PARAMS, publish, publishRaw, randomDelta, roundContext, type TestRoot } from '../helpers/root';

let root: TestRoot;
beforeEach(async () => {
  root = await createRoot();
});
afterEach(async () => {
  await root.cleanup();
});

const globalDir = () => root.ws.globalDir(AGGREGATOR);

function expectClose(actual: Float32Array, expected: ArrayLike<number>, tolerance = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThan(tolerance);
}

describe('merge', () => {
  it('starts from the version-0 initialization and applies the weighted mean times the server learning rate', async () => {
    const random = createRandom(1);
    const deltas = [randomDelta(random, 0.9), randomDelta(random, 0.4), randomDelta(random, 0.7)];
    const weights = [1, 0.5, 0.25];
    for (let i = 0; i < 3; i++) await publish(await addParticipant(root, `p${i}@example.org`), 'profile_0', deltas[i], { weight: weights[i] });

    const result = await runRound(roundContext(root, { serverLr: 0.5 }));

    expect(result.outcome).toBe('merged');
    expect(result.version).toBe(1);
    expect(result.accepted.map((a) => a.weight)).toEqual(weights);
    const v0 = initialItemFactors(MODEL.items, MODEL.rank, PARAMS.seed);
    const expected = v0.map((v, i) => v + (0.5 * (1 * deltas[0][i] + 0.5 * deltas[1][i] + 0.25 * deltas[2][i])) / 1.75);
    const model = await readLatestGlobal(globalDir(), MODEL);
    expect(model?.manifest).toMatchObject({ version: 1, round: 1, contributors: 3, items: MODEL.items, rank: MODEL.rank });
    expectClose(model!.values, expected);
  });

  it('down-weights a delta computed on an older version by STALE_DECAY per version', async () => {
    const random = createRandom(2);
    const a = await addParticipant(root, 'a@example.org');
    const b = await addParticipant(root, 'b@example.org');
    await publish(a, 'profile_0', randomDelta(random));
    await runRound(roundContext(root));
    const v1 = (await readLatestGlobal(globalDir(), MODEL))!.values;

    const stale = randomDelta(random, 0.8);
    const fresh = randomDelta(random, 0.3);
    await publish(b, 'profile_0', stale, { baseVersion: 0 });
    await publish(a, 'profile_0', fresh, { baseVersion: 1 });
    const result = await runRound(roundContext(root, { staleDecay: 0.25 }));

    expect(result.accepted.map((x) => [x.email, x.staleness, x.weight])).toEqual([
      ['a@example.org', 0, 1],
      ['b@example.org', 1, 0.25],
    ]);
    const v2 = (await readLatestGlobal(globalDir(), MODEL))!.values;
    expectClose(v2, v1.map((v, i) => v + (fresh[i] + 0.25 * stale[i]) / 1.25));
  });

  it('clips each delta to SERVER_CLIP_NORM before merging', async () => {
    await publish(await addParticipant(root, 'a@example.org'), 'profile_0', randomDelta(createRandom(3), 0.9));
    await runRound(roundContext(root, { serverClipNorm: 0.1, serverLr: 2 }));
    const v0 = initialItemFactors(MODEL.items, MODEL.rank, PARAMS.seed);
    const v1 = (await readLatestGlobal(globalDir(), MODEL))!.values;
    expect(l2Norm(v1.map((v, i) => v - v0[i]))).toBeCloseTo(0.2, 5);
  });

  it('merges with the coordinate-wise median when MERGE_MODE=median', async () => {
    const random = createRandom(4);
    const deltas = [randomDelta(random), randomDelta(random), randomDelta(random)];
    for (let i = 0; i < 3; i++) await publish(await addParticipant(root, `m${i}@example.org`), 'profile_0', deltas[i]);
    await runRound(roundContext(root, { mergeMode: 'median' }));
    const v0 = initialItemFactors(MODEL.items, MODEL.rank, PARAMS.seed);
    const v1 = (await readLatestGlobal(globalDir(), MODEL))!.values;
    expectClose(v1, v0.map((v, i) => v + [deltas[0][i], deltas[1][i], deltas[2][i]].sort((x, y) => x - y)[1]));
  });
});

describe('one datasite, one person', () => {
  it('merges nothing from fewer than MIN_DATASITES datasites, keeps their deltas waiting, and merges them once enough arrive', async () => {
    const random = createRandom(21);
    const a = await addParticipant(root, 'a@example.org');
    const b = await addParticipant(root, 'b@example.org');
    const deltas = [randomDelta(random), randomDelta(random), randomDelta(random), randomDelta(random)];
    // two datasites, three profiles: still two people
    await publish(a, 'profile_0', deltas[0]);
    await publish(a, 'profile_1', deltas[1]);
    await publish(b, 'profile_0', deltas[2]);
    const few = await runRound(roundContext(root, { minDatasites: 3 }));
    expect(few).toMatchObject({ outcome: 'too-few-datasites', version: 0, counts: { accepted: 0, waiting: 3 } });
    expect(await listGlobalVersions(globalDir())).toEqual([]);

    await publish(await addParticipant(root, 'c@example.org'), 'profile_0', deltas[3]);
    const enough = await runRound(roundContext(root, { minDatasites: 3 }));
    expect(enough).toMatchObject({ outcome: 'merged', version: 1, counts: { accepted: 4 } });
  });

  it('averages a datasite\'s profiles into one delta of weight at most 1, and the ledger lists each with the weight it really had', async () => {
    const random = createRandom(22);
    const a = await addParticipant(root, 'a@example.org');
    const b = await addParticipant(root, 'b@example.org');
    const [a0, a1, a2, b0] = [randomDelta(random), randomDelta(random), randomDelta(random), randomDelta(random)];
    await publish(a, 'profile_0', a0);
    await publish(a, 'profile_1', a1);
    await publish(a, 'profile_2', a2);
    await publish(b, 'profile_0', b0);
    await runRound(roundContext(root));
    const v0 = initialItemFactors(MODEL.items, MODEL.rank, PARAMS.seed);
    const v1 = (await readLatestGlobal(globalDir(), MODEL))!.values;
    // a (three profiles) and b count the same: (mean(a0, a1, a2) + b0) / 2
    expectClose(v1, v0.map((v, i) => v + ((a0[i] + a1[i] + a2[i]) / 3 + b0[i]) / 2));
    const [entry] = await readLedger(root.ws.ledgerFile(AGGREGATOR));
    expect(entry.accepted.map((x) => x.weight)).toEqual([1 / 3, 1 / 3, 1 / 3, 1]);
  });
});

describe('validation', () => {
  it('rejects every kind of invalid delta with its code while the valid ones merge in the same round', async () => {
    const random = createRandom(5);
    const good = [randomDelta(random), randomDelta(random)];
    await publish(await addParticipant(root, 'good1@example.org'), 'profile_0', good[0]);
    await publish(await addParticipant(root, 'good2@example.org'), 'profile_3', good[1]);
    const sigma = deltaNoiseSigma(1, 1e-5, 1);
    const noisy = randomDelta(random).map((v) => v + sigma * random.normal());
    await publish(await addParticipant(root, 'noisy@example.org'), 'profile_0', noisy, { noise: { mechanism: 'gaussian', epsilon: 1, delta: 1e-5, sigma } });

    const dir = async (email: string) => (await addParticipant(root, email)).profileDir('profile_0');
    const valid = () => randomDelta(random);
    const npy = (values: Float32Array | Int32Array, shape = [MODEL.items, MODEL.rank]) => encodeNpy(values, shape);

    const nan = valid();
    nan[7] = Number.NaN;
    await publish(await addParticipant(root, 'nan@example.org'), 'profile_0', nan);
    const inf = valid();
    inf[0] = Number.POSITIVE_INFINITY;
    await publish(await addParticipant(root, 'inf@example.org'), 'profile_0', inf);
    await publishRaw(await dir('int32@example.org'), npy(new Int32Array(MODEL.items * MODEL.rank)));
    await publishRaw(await dir('truncated@example.org'), npy(valid()).subarray(0, 200));
    const claims = Buffer.from(npy(valid()));
    claims.write(claims.toString('latin1').replace(`(${MODEL.items}, ${MODEL.rank})`, `(${MODEL.items + 9}, ${MODEL.rank})`), 'latin1');
    await publishRaw(await dir('claims@example.org'), claims);
    await publishRaw(await dir('shape@example.org'), npy(randomDelta(random, 0.5, MODEL.items * (MODEL.rank + 1)), [MODEL.items, MODEL.rank + 1]));
    await publish(await addParticipant(root, 'rank@example.org'), 'profile_0', randomDelta(random, 0.5, MODEL.items * 2), { rank: 2 });
    await publish(await addParticipant(root, 'vocab@example.org'), 'profile_0', valid(), { vocabHash: 'cd'.repeat(32) });
    await publish(await addParticipant(root, 'norm@example.org'), 'profile_0', randomDelta(random, 50));
    await publish(await addParticipant(root, 'clip@example.org'), 'profile_0', valid(), { clipNorm: 5 });
    await publish(await addParticipant(root, 'newer@example.org'), 'profile_0', valid(), { baseVersion: 2 });
    await publish(await addParticipant(root, 'heavy@example.org'), 'profile_0', valid(), { weight: 50 });
    await publish(await addParticipant(root, 'sigma@example.org'), 'profile_0', randomDelta(random, 40), { noise: { mechanism: 'gaussian', epsilon: 1, delta: 1e-5, sigma: 100 } });
    await publish(await addParticipant(root, 'tinyeps@example.org'), 'profile_0', valid(), { noise: { mechanism: 'gaussian', epsilon: 0.001, delta: 1e-5, sigma: deltaNoiseSigma(0.001, 1e-5, 1) } });
    const hashDir = await dir('hash@example.org');
    const hashed = await publishRaw(hashDir, npy(valid()));
    await fs.writeFile(path.join(hashDir, hashed.payload), npy(valid()));
    const emptyDir = await dir('empty@example.org');
    await fs.mkdir(emptyDir, { recursive: true });
    await fs.writeFile(path.join(emptyDir, 'delta.json'), '');
    const hugeDir = await dir('huge@example.org');
    await fs.mkdir(hugeDir, { recursive: true });
    const huge = await fs.open(path.join(hugeDir, 'delta.json'), 'w');
    await huge.truncate(50 * 1024 * 1024);
    await huge.close();
    const versionDir = await dir('version@example.org');
    const wrongVersion = await publishRaw(versionDir, npy(valid()));
    await fs.writeFile(path.join(versionDir, 'delta.json'), JSON.stringify({ ...wrongVersion, formatVersion: 2 }));

    // symlinks pointing outside the datasite
    const outside = path.join(root.dataDir, 'outside');
    await fs.mkdir(outside);
    const linkPayloadDir = await dir('linkpayload@example.org');
    const linked = await publishRaw(outside, npy(valid()));
    await fs.mkdir(linkPayloadDir, { recursive: true });
    await fs.symlink(path.join(outside, linked.payload), path.join(linkPayloadDir, linked.payload));
    await fs.copyFile(path.join(outside, 'delta.json'), path.join(linkPayloadDir, 'delta.json'));
    const linkManifestDir = await dir('linkmanifest@example.org');
    await fs.mkdir(linkManifestDir, { recursive: true });
    await fs.copyFile(path.join(outside, linked.payload), path.join(linkManifestDir, linked.payload));
    await fs.symlink(path.join(outside, 'delta.json'), path.join(linkManifestDir, 'delta.json'));

    const result = await runRound(roundContext(root));

    expect(result.accepted.map((a) => a.email).sort()).toEqual(['good1@example.org', 'good2@example.org', 'noisy@example.org']);
    const codes = Object.fromEntries(result.rejected.map((r) => [r.email.split('@')[0], r.code]));
    expect(codes).toEqual({
      nan: 'ERR_DELTA_NONFINITE',
      inf: 'ERR_DELTA_NONFINITE',
      int32: 'ERR_NPY_FORMAT',
      truncated: 'ERR_NPY_FORMAT',
      claims: 'ERR_NPY_FORMAT',
      shape: 'ERR_NPY_FORMAT',
      rank: 'ERR_DELTA_SHAPE',
      vocab: 'ERR_DELTA_SHAPE',
      norm: 'ERR_DELTA_NORM',
      clip: 'ERR_DELTA_NORM',
      newer: 'ERR_DELTA_STALE',
      heavy: 'ERR_DELTA_MANIFEST',
      sigma: 'ERR_DELTA_NORM',
      tinyeps: 'ERR_DELTA_NORM',
      hash: 'ERR_DELTA_HASH',
      empty: 'ERR_DELTA_MANIFEST',
      huge: 'ERR_DELTA_MANIFEST',
      version: 'ERR_DELTA_MANIFEST',
      linkpayload: 'ERR_DELTA_PATH',
      linkmanifest: 'ERR_DELTA_PATH',
    });
    expect(result.rejected.every((r) => r.message.length > 0)).toBe(true);
    const v0 = initialItemFactors(MODEL.items, MODEL.rank, PARAMS.seed);
    const v1 = (await readLatestGlobal(globalDir(), MODEL))!.values;
    expectClose(v1, v0.map((v, i) => v + (good[0][i] + good[1][i] + noisy[i]) / 3));
    const ledger = await readLedger(root.ws.ledgerFile(AGGREGATOR));
    expect(ledger[0].rejectedCount).toBe(20);
    const status = await readStatus(root.ws.aggregatorPrivateDir());
    expect(status?.rejected.find((r) => r.email === 'norm@example.org')?.message).toMatch(/L2 norm .* exceeds/);
    expect(status?.rejectedByCode.ERR_NPY_FORMAT).toBe(4);
  });

  it('rejects a delta more than MAX_STALENESS versions old and accepts one at the limit', async () => {
    const random = createRandom(6);
    const driver = await addParticipant(root, 'driver@example.org');
    for (let v = 0; v < 3; v++) {
      await publish(driver, 'profile_0', randomDelta(random), { baseVersion: v });
      await runRound(roundContext(root, { maxStaleness: 2 }));
    }
    await publish(await addParticipant(root, 'old@example.org'), 'profile_0', randomDelta(random), { baseVersion: 0 });
    await publish(await addParticipant(root, 'limit@example.org'), 'profile_0', randomDelta(random), { baseVersion: 1 });
    const result = await runRound(roundContext(root, { maxStaleness: 2 }));
    expect(result.rejected.map((r) => [r.email, r.code])).toEqual([['old@example.org', 'ERR_DELTA_STALE']]);
    expect(result.accepted.map((a) => [a.email, a.staleness, a.weight])).toEqual([['limit@example.org', 2, 0.25]]);
  });

  it('waits for a payload that has not synced yet instead of rejecting it', async () => {
    const p = await addParticipant(root, 'slow@example.org');
    const manifest = await publish(p, 'profile_0', randomDelta(createRandom(7)));
    await fs.rm(path.join(p.profileDir('profile_0'), manifest.payload));
    const result = await runRound(roundContext(root));
    expect(result.outcome).toBe('nothing-new');
    expect(result.waiting).toEqual([expect.objectContaining({ email: 'slow@example.org', profile: 'profile_0' })]);
  });
});

describe('exactly once', () => {
  it('merges each delta once across repeated rounds and treats copies as replays', async () => {
    const random = createRandom(8);
    const a = await addParticipant(root, 'a@example.org');
    const b = await addParticipant(root, 'b@example.org');
    const c = await addParticipant(root, 'c@example.org');
    const first = await publish(a, 'profile_0', randomDelta(random));
    await publish(b, 'profile_0', randomDelta(random));
    expect((await runRound(roundContext(root))).version).toBe(1);

    const again = await runRound(roundContext(root));
    expect(again).toMatchObject({ outcome: 'nothing-new', version: 1, counts: { accepted: 0, replayed: 2 } });

    // c republishes a's exact bytes; b publishes something new
    await fs.mkdir(c.profileDir('profile_0'), { recursive: true });
    for (const name of [first.payload, 'delta.json']) await fs.copyFile(path.join(a.profileDir('profile_0'), name), path.join(c.profileDir('profile_0'), name));
    await publish(b, 'profile_0', randomDelta(random), { baseVersion: 1 });
    const third = await runRound(roundContext(root));
    expect(third.accepted.map((x) => x.email)).toEqual(['b@example.org']);
    expect(third.replayed.map((x) => [x.email, x.reason.split(':')[0]])).toEqual([
      ['a@example.org', 'ERR_DELTA_REPLAY'],
      ['c@example.org', 'ERR_DELTA_REPLAY'],
    ]);

    const ledger = await readLedger(root.ws.ledgerFile(AGGREGATOR));
    expect(verifyLedger(ledger).ok).toBe(true);
    expect(ledger.map((e) => e.version)).toEqual([1, 2]);
    const hashes = ledger.flatMap((e) => e.accepted.map((x) => x.deltaSha256));
    expect(new Set(hashes).size).toBe(3);
    expect(JSON.stringify(ledger)).not.toContain('@example.org');
  });

  it('two profiles publishing identical bytes in one round: the second is a replay', async () => {
    const values = randomDelta(createRandom(9));
    await publish(await addParticipant(root, 'x@example.org'), 'profile_0', values);
    await publish(await addParticipant(root, 'y@example.org'), 'profile_0', values);
    const result = await runRound(roundContext(root));
    expect(result.accepted.map((a) => a.email)).toEqual(['x@example.org']);
    expect(result.replayed.map((a) => a.email)).toEqual(['y@example.org']);
  });
});

describe('permissions and privacy', () => {
  it('lets exactly the accepted participants read Global_V and the ledger, and keeps the status private', async () => {
    const random = createRandom(10);
    const a = await addParticipant(root, 'a@example.org');
    await addParticipant(root, 'b@example.org');
    const bad = await addParticipant(root, 'bad@example.org');
    await publish(a, 'profile_0', randomDelta(random));
    await publish(bad, 'profile_0', randomDelta(random, 40));
    await runRound(roundContext(root));

    const ds = root.ws.datasitesDir;
    const payload = path.join(root.ws.globalVersionDir(AGGREGATOR, 1), 'Global_V.npy');
    const ledger = root.ws.ledgerFile(AGGREGATOR);
    for (const file of [payload, ledger]) {
      expect(await canRead(ds, 'a@example.org', file)).toBe(true);
      expect(await canRead(ds, 'b@example.org', file)).toBe(false);
      expect(await canRead(ds, 'bad@example.org', file)).toBe(false);
      expect(await canRead(ds, EVERYONE, file)).toBe(false);
    }
    expect(await canRead(ds, 'a@example.org', path.join(root.ws.aggregatorDir(AGGREGATOR), 'syft.pub.yaml'))).toBe(false);
    const yaml = await fs.readFile(path.join(root.ws.aggregatorDir(AGGREGATOR), 'syft.pub.yaml'), 'utf8');
    expect(yaml).not.toContain("'*'");

    // a contributor keeps access in later rounds; a new contributor is added
    await publish(await addParticipant(root, 'b@example.org'), 'profile_0', randomDelta(random), { baseVersion: 1 });
    await runRound(roundContext(root));
    const payload2 = path.join(root.ws.globalVersionDir(AGGREGATOR, 2), 'Global_V.npy');
    expect(await canRead(ds, 'a@example.org', payload2)).toBe(true);
    expect(await canRead(ds, 'b@example.org', payload2)).toBe(true);

    const status = await readStatus(root.ws.aggregatorPrivateDir());
    expect(root.ws.isPublished(root.ws.aggregatorPrivateDir())).toBe(false);
    expect(status?.rejected[0]).toMatchObject({ email: 'bad@example.org', code: 'ERR_DELTA_NORM' });
  });

  it('skips profiles that are not shared with the aggregator', async () => {
    const p = await addParticipant(root, 'private@example.org');
    await publish(p, 'profile_0', randomDelta(createRandom(11)));
    await fs.rm(path.join(p.appData(), 'syft.pub.yaml'));
    const result = await runRound(roundContext(root));
    expect(result).toMatchObject({ outcome: 'nothing-new', counts: { accepted: 0, rejected: 0, replayed: 0, waiting: 0 } });
  });
});

describe('versions and recovery', () => {
  it('keeps the newest MAX_STALENESS + 2 versions and their round records', async () => {
    const random = createRandom(12);
    const p = await addParticipant(root, 'p@example.org');
    for (let v = 0; v < 5; v++) {
      await publish(p, 'profile_0', randomDelta(random), { baseVersion: v });
      await runRound(roundContext(root, { maxStaleness: 1 }));
    }
    expect(await listGlobalVersions(globalDir())).toEqual([5, 4, 3]);
    await expect(readRoundRecord(root.ws.aggregatorPrivateDir(), 2)).rejects.toThrow(/missing/);
    expect((await readRoundRecord(root.ws.aggregatorPrivateDir(), 3)).version).toBe(3);
    expect((await readLedger(root.ws.ledgerFile(AGGREGATOR))).length).toBe(5);
  });

  it('redoes the ledger line and permissions of a committed version after a crash, byte for byte', async () => {
    await publish(await addParticipant(root, 'a@example.org'), 'profile_0', randomDelta(createRandom(13)));
    await runRound(roundContext(root));
    const ledgerFile = root.ws.ledgerFile(AGGREGATOR);
    const permissionFile = path.join(root.ws.aggregatorDir(AGGREGATOR), 'syft.pub.yaml');
    const ledgerText = await fs.readFile(ledgerFile, 'utf8');
    const permissionText = await fs.readFile(permissionFile, 'utf8');
    // as if killed right after Global_V.json was written
    await fs.rm(ledgerFile);
    await fs.rm(permissionFile);

    const result = await runRound(roundContext(root));

    expect(result).toMatchObject({ outcome: 'nothing-new', version: 1, counts: { replayed: 1 } });
    expect(await fs.readFile(ledgerFile, 'utf8')).toBe(ledgerText);
    expect(await fs.readFile(permissionFile, 'utf8')).toBe(permissionText);
  });

  it('forgets an abandoned round (record and payload written, manifest not) and merges its deltas once later', async () => {
    const random = createRandom(14);
    const a = await addParticipant(root, 'a@example.org');
    await publish(a, 'profile_0', randomDelta(random));
    await runRound(roundContext(root));
    const manifest = await publish(a, 'profile_0', randomDelta(random), { baseVersion: 1 });
    // as if killed between Global_V.npy and Global_V.json of version 2
    const privateDir = root.ws.aggregatorPrivateDir();
    await fs.copyFile(path.join(privateDir, 'rounds', 'v000001.json'), path.join(privateDir, 'rounds', 'v000002.json'));
    await fs.mkdir(root.ws.globalVersionDir(AGGREGATOR, 2));
    await fs.writeFile(path.join(root.ws.globalVersionDir(AGGREGATOR, 2), 'Global_V.npy'), 'partial');

    const result = await runRound(roundContext(root));

    expect(result.version).toBe(2);
    expect(result.accepted.map((x) => x.deltaSha256)).toEqual([manifest.sha256]);
    expect(await readGlobalVersion(root.ws.globalVersionDir(AGGREGATOR, 2), MODEL)).not.toBeNull();
    const ledger = await readLedger(root.ws.ledgerFile(AGGREGATOR));
    expect(verifyLedger(ledger).ok).toBe(true);
    expect((await readRoundRecord(privateDir, 2)).accepted.map((x) => x.deltaSha256)).toEqual([manifest.sha256]);
  });

  it('refuses to run on an edited ledger or a ledger from another history', async () => {
    await publish(await addParticipant(root, 'a@example.org'), 'profile_0', randomDelta(createRandom(15)));
    await runRound(roundContext(root));
    const ledgerFile = root.ws.ledgerFile(AGGREGATOR);
    const text = await fs.readFile(ledgerFile, 'utf8');
    await fs.writeFile(ledgerFile, text.replace('"weight":1', '"weight":9'));
    await expect(runRound(roundContext(root))).rejects.toSatisfy((err) => isAppError(err, 'ERR_LEDGER_BROKEN'));
    await fs.writeFile(ledgerFile, text);
    await fs.rm(globalDir(), { recursive: true });
    await expect(runRound(roundContext(root))).rejects.toSatisfy((err) => isAppError(err, 'ERR_LEDGER_BROKEN'));
  });

  it('abandons the round without committing when the signal aborts', async () => {
    await publish(await addParticipant(root, 'a@example.org'), 'profile_0', randomDelta(createRandom(16)));
    const controller = new AbortController();
    controller.abort('SIGTERM');
    await expect(runRound({ ...roundContext(root), signal: controller.signal })).rejects.toBe('SIGTERM');
    expect(await listGlobalVersions(globalDir())).toEqual([]);
    expect((await runRound(roundContext(root))).version).toBe(1);
  });
});
