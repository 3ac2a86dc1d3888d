import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { auditRoot } from '../../src/aggregator/audit';
import { advanceSecureRound, finishedSecureRounds } from '../../src/aggregator/secagg';
import { runParticipantPass } from '../../src/participant/node';
import { ensurePublishPermissions } from '../../src/participant/publish';
import { readMemberStatus, respondToSecureRound } from '../../src/participant/secagg';
import { sha256Hex } from '../../src/shared/delta';
import { initialItemFactors, listGlobalVersions, readLatestGlobal } from '../../src/shared/global-model';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import type { Logger } from '../../src/shared/log';
import { encodeNpy } from '../../src/shared/npy';
import { canRead, PERMISSION_FILE, writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { COHORT_FILE, KEYS_FILE, MASKED_MANIFEST, MAX_SMALL_FILE_BYTES, REVEAL_FILE, SHARES_FILE, UNMASK_FILE } from '../../src/shared/secagg/files';
import { Workspace } from '../../src/shared/workspace';
import { runSecureRoundInProcess } from '../../src/simulate/secure-round';
import { addParticipant, AGGREGATOR, APP } from '../helpers/root';
import { createFederation, expectedUpdate, memberContribution, RANK, relativeUpdateError, type Federation } from '../helpers/secagg';

let fed: Federation | null = null;
afterEach(async () => {
  await fed?.root.cleanup();
  fed = null;
});

/** A federation of n members, each having trained once (which also makes its datasite discoverable). */
async function trainedFederation(n: number): Promise<Federation> {
  fed = await createFederation(n);
  for (const m of fed.members) await runParticipantPass(m);
  return fed;
}

/** The quantization of the secure sum moves the optimizer's update by less than this fraction of itself. */
const QUANTIZATION_SHARE = 0.01;

describe('secure round in process', () => {
  it('merges the optimizer\'s update from the plain sum of the contributions, within quantization', async () => {
    fed = await createFederation(4);
    const f = fed;
    for (const m of f.members) expect((await runParticipantPass(m)).profiles[0].status).toBe('trained');
    // no plain delta is published under secure aggregation
    for (const m of f.members) await expect(fs.lstat(m.ws.deltaManifest('profile_0'))).rejects.toThrow();

    const summary = await runSecureRoundInProcess(f.aggregator, f.members);
    expect(summary).toMatchObject({ outcome: 'merged', version: 1, cohort: 4, dropped: 0 });
    expect(summary!.survivors.sort()).toEqual([...f.emails].sort());

    const v0 = initialItemFactors(f.catalog.items.length, RANK, f.config.SEED);
    const v1 = (await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model))!;
    const x = await Promise.all([0, 1, 2, 3].map((i) => memberContribution(f, i)));
    const expected = expectedUpdate(f.aggregator.secure.mechanism, f.aggregator.model, v0, x);
    const error = relativeUpdateError(v1.values, expected, v0);
    expect(error).toBeLessThan(QUANTIZATION_SHARE);
    expect(error).toBeGreaterThan(0);

    const ledger = await readLedger(f.root.ws.ledgerFile(AGGREGATOR));
    expect(verifyLedger(ledger).ok).toBe(true);
    expect(ledger).toHaveLength(1);
    expect(ledger[0].secagg).toMatchObject({ protocol: 'secagg+', aggregation: 'preconditioned', cohort: 4, survivors: 4, dropped: 0, t: 2, minSurvivors: 3, modulusBits: 32 });
    // the finest precision at which 4 members' sum fits 32 bits: 4 · (2^28 + 1) < 2^31
    expect(ledger[0].secagg!.scaleBits).toBe(28);
    for (const m of f.members) {
      const status = (await readMemberStatus(m.ws))!;
      expect(status.lastRound).toMatchObject({ outcome: 'merged', counted: true, version: 1 });
      expect(ledger[0].accepted.map((a) => a.deltaSha256)).toContain(status.lastRound!.maskedSha256);
      const manifest = JSON.parse(await fs.readFile(path.join(m.ws.secaggAnswersDir(status.lastRound!.roundId), MASKED_MANIFEST), 'utf8'));
      expect(manifest.sha256).toBe(status.lastRound!.maskedSha256);
      // survivors may read the new Global_V
      expect(await canRead(f.root.ws.datasitesDir, m.ws.email, path.join(f.root.ws.globalVersionDir(AGGREGATOR, 1), 'Global_V.json'))).toBe(true);
    }
    const rounds = await finishedSecureRounds(f.aggregator);
    expect(rounds.map((r) => r.outcome)).toEqual(['merged']);
  });
});

/** A logger that keeps every line (to check that errors name their file). */
function captureLogger(): { logger: Logger; lines: { level: number; msg: string; file?: string; code?: string }[] } {
  const lines: { level: number; msg: string; file?: string; code?: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

/** Each member's contribution, as it stands now in its private state. */
async function contributions(f: Federation): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  for (const [i, email] of f.emails.entries()) out.set(email, await memberContribution(f, i));
  return out;
}

describe('dropouts', () => {
  it('random dropouts at every phase, over several rounds, give exactly the survivors\' sum or a clean abort', async () => {
    fed = await createFederation(7);
    const f = fed;
    const random = createRandom(20261204);
    const phases = ['keys', 'shares', 'masked', 'reveal'] as const;
    const outcomes: string[] = [];
    let mergedDespiteDrops = 0;
    for (let round = 1; round <= 6; round++) {
      for (const m of f.members) await runParticipantPass(m);
      const before = await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model);
      const base = before?.values ?? initialItemFactors(f.catalog.items.length, RANK, f.config.SEED);
      const x = await contributions(f);
      // round 1: one member drops after sharing (its masks are removed through the survivors' s-shares)
      // and one survivor never reveals; then each member drops with probability 0.08 at each phase
      const dropAt = new Map<number, string>(round === 1 ? [[0, 'masked'], [1, 'reveal']] : []);
      for (let i = 0; i < f.members.length && round > 1; i++) {
        const phase = phases.find(() => random.next() < 0.08);
        if (phase) dropAt.set(i, phase);
      }
      const summary = (await runSecureRoundInProcess(f.aggregator, f.members, { drops: (i, phase) => dropAt.get(i) === phase }))!;
      outcomes.push(summary.outcome);
      if (round === 1) expect(summary).toMatchObject({ outcome: 'merged', cohort: 7, dropped: 1 });
      if (summary.outcome === 'merged' && dropAt.size > 0) mergedDespiteDrops++;
      const roundDir = f.root.ws.secaggRoundDir(AGGREGATOR, summary.roundId);
      const after = await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model);
      if (summary.outcome === 'aborted') {
        expect(after?.manifest.version ?? 0).toBe(before?.manifest.version ?? 0);
        continue;
      }
      // the survivors that had a model count with weight 1; one without (never granted a Global_V) joins with weight 0
      const weights = await Promise.all(summary.survivors.map(async (e) => (await readMemberStatus(f.members[f.emails.indexOf(e)].ws))?.lastRound?.weight ?? 1));
      const counted = summary.survivors.filter((_, k) => weights[k] === 1);
      expect(summary.survivors.length).toBeGreaterThanOrEqual(summary.minSurvivors!);
      for (const [i, phase] of dropAt) {
        if (phase === 'keys' || phase === 'shares') expect(summary.survivors).not.toContain(f.emails[i]);
      }
      const expected = expectedUpdate(f.aggregator.secure.mechanism, f.aggregator.model, base, counted.map((e) => x.get(e)!));
      expect(relativeUpdateError(after!.values, expected, base), `round ${round}`).toBeLessThan(QUANTIZATION_SHARE);
      expect(await fs.readdir(roundDir)).not.toContain('inbox');
    }
    expect(mergedDespiteDrops).toBeGreaterThanOrEqual(2);
    expect(outcomes).toContain('aborted');
    expect(verifyLedger(await readLedger(f.root.ws.ledgerFile(AGGREGATOR))).ok).toBe(true);
  }, 600_000);

  it('sizes each round\'s graph for the dropout of the rounds before: the floor first, 1.5x a merged round\'s loss, the cap after an abort', async () => {
    const { logger, lines } = captureLogger();
    fed = await createFederation(7, {}, logger);
    const f = fed;
    const dropsPerRound = [[], [0], [0, 1, 2], []];
    const outcomes: string[] = [];
    for (const dropping of dropsPerRound) {
      for (const m of f.members) await runParticipantPass(m);
      const summary = (await runSecureRoundInProcess(f.aggregator, f.members, { drops: (i, phase) => dropping.includes(i) && phase === 'masked' }))!;
      outcomes.push(summary.reason ?? summary.outcome);
    }
    // 7 members, T = 5: one lost merges, three lost abort
    expect(outcomes).toEqual(['merged', 'merged', expect.stringMatching(/only 4 masked inputs/), 'merged']);
    const sizedFor = lines.filter((l) => l.msg === 'secure round cohort fixed').map((l) => (l as { graphDropout?: number }).graphDropout);
    expect(sizedFor).toHaveLength(4);
    expect(sizedFor[0]).toBe(f.config.SECAGG_DROPOUT_RATE);
    expect(sizedFor[1]).toBe(f.config.SECAGG_DROPOUT_RATE);
    expect(sizedFor[2]).toBeCloseTo(1.5 / 7, 12);
    expect(sizedFor[3]).toBeCloseTo(1 - f.config.SECAGG_SURVIVOR_FRACTION, 12);
  });

  it('in one process, merges every member however slowly they take their turns: the round keeps a clock of its own', async () => {
    const f = await trainedFederation(4);
    // the callers' clocks jump an hour at every reading: on them, every phase deadline would pass between two turns
    let hours = 0;
    const slow = () => new Date(Date.parse('2026-06-01T00:00:00Z') + 3_600_000 * hours++);
    const summary = await runSecureRoundInProcess({ ...f.aggregator, now: slow }, f.members.map((m) => ({ ...m, now: slow })));
    expect(summary).toMatchObject({ outcome: 'merged', version: 1, cohort: 4, dropped: 0 });
    expect(hours).toBe(1); // read once, for the round's start
  });

  it('aborts when fewer than T masked inputs arrive: no unmask.json, no reveal, no Global_V', async () => {
    const f = await trainedFederation(4);
    const summary = (await runSecureRoundInProcess(f.aggregator, f.members, { drops: (i, phase) => i < 2 && phase === 'masked' }))!;
    expect(summary).toMatchObject({ outcome: 'aborted', version: 0, cohort: 4 });
    expect(summary.reason).toMatch(/only 2 masked inputs/);
    const roundDir = f.root.ws.secaggRoundDir(AGGREGATOR, summary.roundId);
    expect(await fs.readdir(roundDir)).not.toContain(UNMASK_FILE);
    for (const m of f.members) await expect(fs.lstat(path.join(m.ws.secaggAnswersDir(summary.roundId), REVEAL_FILE))).rejects.toThrow();
    expect(await listGlobalVersions(f.root.ws.globalDir(AGGREGATOR))).toEqual([]);
    // the members that masked learn that the round was aborted, and that they were not counted
    expect((await readMemberStatus(f.members[3].ws))!.lastRound).toMatchObject({ outcome: 'aborted', counted: false });
  });

  it('aborts when too few survivors reveal: nothing unmasks anyone, Global_V unchanged', async () => {
    const f = await trainedFederation(4);
    const summary = (await runSecureRoundInProcess(f.aggregator, f.members, { drops: (i, phase) => i < 2 && phase === 'reveal' }))!;
    expect(summary).toMatchObject({ outcome: 'aborted', version: 0 });
    expect(summary.reason).toMatch(/fewer than t=2 shares/);
    expect(await listGlobalVersions(f.root.ws.globalDir(AGGREGATOR))).toEqual([]);
  });
});

describe('republishing', () => {
  it('writes a round\'s permission file again at the next step when it went or was replaced, though the state and its rules did not change', async () => {
    const f = await trainedFederation(4);
    const agg = f.aggregator;
    expect((await advanceSecureRound(agg)).action).toBe('opened');
    for (const m of f.members) await respondToSecureRound(m);
    expect((await advanceSecureRound(agg)).action).toBe('cohort');
    const permissionFile = path.join(agg.ws.secaggRoundDir(AGGREGATOR, 'r000001'), PERMISSION_FILE);
    const written = await fs.readFile(permissionFile, 'utf8');
    // the cohort's rules stay the same from here on; the file is removed (the members cannot read the cohort), then replaced by a wider one
    await fs.rm(permissionFile);
    for (const m of f.members) await respondToSecureRound(m);
    expect((await advanceSecureRound(agg)).action).toBe('waiting');
    expect(await fs.readFile(permissionFile, 'utf8')).toBe(written);
    for (const m of f.members) await respondToSecureRound(m);
    expect((await advanceSecureRound(agg)).action).toBe('routed');
    await writePermissions(path.dirname(permissionFile), { rules: [{ pattern: '**', access: { read: ['*'], write: [], admin: [] } }] });
    expect((await advanceSecureRound(agg)).action).toBe('waiting');
    expect(await fs.readFile(permissionFile, 'utf8')).toBe(written);
  });
});

describe('a member', () => {
  it('refuses an unmask request that differs from the one it answered (never both kinds of shares)', async () => {
    const f = await trainedFederation(4);
    // drive the round by hand up to the reveals
    const agg = f.aggregator;
    expect((await advanceSecureRound(agg)).action).toBe('opened');
    for (const phase of ['cohort', 'routed', 'unmask']) {
      for (const m of f.members) await respondToSecureRound(m);
      expect((await advanceSecureRound(agg)).action).toBe(phase);
    }
    const roundDir = agg.ws.secaggRoundDir(AGGREGATOR, 'r000001');
    const unmaskFile = path.join(roundDir, UNMASK_FILE);
    const request = JSON.parse(await fs.readFile(unmaskFile, 'utf8'));
    expect(request).toMatchObject({ survivors: [0, 1, 2, 3], dropped: [] });
    const member = f.members[0];
    await respondToSecureRound(member);
    const revealFile = path.join(member.ws.secaggAnswersDir('r000001'), REVEAL_FILE);
    const first = JSON.parse(await fs.readFile(revealFile, 'utf8'));
    expect(first.bShares.length).toBe(3);
    expect(first.sShares).toEqual([]);
    // a dishonest aggregator now claims member 3 dropped, to get its s-shares too; the member
    // crashed before its reveal reached the aggregator, so it is asked again
    await fs.rm(revealFile);
    await fs.writeFile(unmaskFile, JSON.stringify({ ...request, survivors: [0, 1, 2], dropped: [3] }));
    const steps = await respondToSecureRound(member);
    expect(steps.at(-1)).toMatchObject({ action: 'finished', round: { outcome: 'left' } });
    expect((await readMemberStatus(member.ws))!.lastRound!.reason).toMatch(/ERR_SECAGG_REFUSED.*differs from the request already answered/);
    await expect(fs.lstat(revealFile)).rejects.toThrow();
    // its secrets are gone with the round: nothing can make it reveal later
    await expect(fs.lstat(path.join(member.ws.secaggPrivateDir(), 'r000001'))).rejects.toThrow();
  });

  it('refuses a cohort whose threshold t is not a strict majority of its neighbours', async () => {
    const f = await trainedFederation(5);
    expect((await advanceSecureRound(f.aggregator)).action).toBe('opened');
    for (const m of f.members) await respondToSecureRound(m);
    expect((await advanceSecureRound(f.aggregator)).action).toBe('cohort');
    const cohortFile = path.join(f.aggregator.ws.secaggRoundDir(AGGREGATOR, 'r000001'), COHORT_FILE);
    const cohort = JSON.parse(await fs.readFile(cohortFile, 'utf8'));
    expect(cohort.t).toBe(3);
    await fs.writeFile(cohortFile, JSON.stringify({ ...cohort, t: 2 }));
    await respondToSecureRound(f.members[0]);
    expect((await readMemberStatus(f.members[0].ws))!.lastRound!.reason).toMatch(/t = 2 is not a strict majority of this member's 4 neighbours/);
    await expect(fs.lstat(path.join(f.members[0].ws.secaggAnswersDir('r000001'), SHARES_FILE))).rejects.toThrow();
  });
});

describe('hostile members', () => {
  it('leaves out malformed, oversized, non-numeric, duplicate and wrong-length answers with an error naming the file; the round goes on', async () => {
    const { logger, lines } = captureLogger();
    fed = await createFederation(5, {}, logger);
    const f = fed;
    const hostile = ['bad-json@example.org', 'huge@example.org', 'nan@example.org', 'copycat@example.org'];
    for (const email of hostile) {
      const ws = await addParticipant(f.root, email);
      await ensurePublishPermissions(ws, AGGREGATOR);
    }
    for (const m of f.members) await runParticipantPass(m);
    const agg = f.aggregator;
    expect((await advanceSecureRound(agg)).action).toBe('opened');
    for (const m of f.members) await respondToSecureRound(m);
    const answers = (email: string) => new Workspace({ email, dataDir: f.root.dataDir }, APP).secaggAnswersDir('r000001');
    const put = async (email: string, name: string, text: string | Uint8Array) => {
      await fs.mkdir(answers(email), { recursive: true });
      await fs.writeFile(path.join(answers(email), name), text);
    };
    const honestKeys = await fs.readFile(path.join(answers(f.emails[4]), KEYS_FILE), 'utf8');
    await put('bad-json@example.org', KEYS_FILE, '{"format": "syftbox-netflix-svd/secagg-keys", ');
    await put('huge@example.org', KEYS_FILE, `{"pad": "${'x'.repeat(MAX_SMALL_FILE_BYTES)}"}`);
    await put('nan@example.org', KEYS_FILE, honestKeys.replace(/"baseVersion": 0/, '"baseVersion": "NaN"'));
    await put('copycat@example.org', KEYS_FILE, honestKeys);
    expect((await advanceSecureRound(agg)).action).toBe('cohort');
    const cohort = JSON.parse(await fs.readFile(path.join(agg.ws.secaggRoundDir(AGGREGATOR, 'r000001'), COHORT_FILE), 'utf8'));
    // the copied member and its copy are both out; the four other honest members are in
    expect(cohort.members).toHaveLength(4);
    for (const email of hostile) {
      const file = path.join(answers(email), KEYS_FILE);
      expect(lines.some((l) => l.level >= 50 && l.msg.includes(file)), email).toBe(true);
    }
    expect(lines.some((l) => l.level >= 50 && l.msg.includes(path.join(answers(f.emails[4]), KEYS_FILE)) && /duplicate member/.test(l.msg))).toBe(true);

    const inCohort = f.members.slice(0, 4);
    for (const m of inCohort) await respondToSecureRound(m);
    expect((await advanceSecureRound(agg)).action).toBe('routed');
    for (const m of inCohort) await respondToSecureRound(m);
    // one member's masked input is replaced by one of the wrong length (its manifest and hash consistent)
    const liar = inCohort[0];
    const wrong = encodeNpy(new Uint32Array(7), [7]);
    const sha256 = sha256Hex(wrong);
    const dir = liar.ws.secaggAnswersDir('r000001');
    for (const name of await fs.readdir(dir)) if (name.startsWith('masked-')) await fs.rm(path.join(dir, name));
    await fs.writeFile(path.join(dir, `masked-${sha256.slice(0, 16)}.npy`), wrong);
    const manifest = JSON.parse(await fs.readFile(path.join(dir, MASKED_MANIFEST), 'utf8'));
    await fs.writeFile(path.join(dir, MASKED_MANIFEST), JSON.stringify({ ...manifest, payload: `masked-${sha256.slice(0, 16)}.npy`, sha256 }));
    expect((await advanceSecureRound(agg)).action).toBe('unmask');
    expect(lines.some((l) => l.level >= 50 && l.msg.includes(`masked-${sha256.slice(0, 16)}.npy`))).toBe(true);
    for (const m of inCohort) await respondToSecureRound(m);
    const end = await advanceSecureRound(agg);
    expect(end).toMatchObject({ action: 'finished', summary: { outcome: 'merged', cohort: 4, dropped: 1 } });
    expect((end as { summary: { survivors: string[] } }).summary.survivors.sort()).toEqual(inCohort.slice(1).map((m) => m.ws.email).sort());
  });
});

describe('audit', () => {
  it('passes after a secure round, and flags a round file or member answer readable by more than it should be', async () => {
    const f = await trainedFederation(4);
    const agg = f.aggregator;
    // stop in the middle of the round, with inboxes published
    expect((await advanceSecureRound(agg)).action).toBe('opened');
    for (const step of ['cohort', 'routed']) {
      for (const m of f.members) await respondToSecureRound(m);
      expect((await advanceSecureRound(agg)).action).toBe(step);
    }
    const audit = () => auditRoot({ dataDir: f.root.dataDir, appName: APP, aggregator: AGGREGATOR });
    const clean = await audit();
    expect(clean.violations).toEqual([]);
    expect(clean.files.filter((x) => x.kind === 'secagg-round' && x.path.includes('/inbox/')).every((x) => x.readers.length === 2)).toBe(true);
    expect(clean.files.filter((x) => x.kind === 'secagg').length).toBeGreaterThan(0);

    const roundDir = agg.ws.secaggRoundDir(AGGREGATOR, 'r000001');
    const permissions = await fs.readFile(path.join(roundDir, 'syft.pub.yaml'), 'utf8');
    await fs.writeFile(path.join(roundDir, 'syft.pub.yaml'), permissions.replace(/pattern: inbox\/0\.json\n\s+access:\n\s+read:\n(\s+)- (\S+)/, (m, indent, who) => `${m}\n${indent}- ${f.emails.find((e) => e !== who)}`));
    await writePermissions(f.members[1].ws.appData(), { rules: [{ pattern: '**', access: { read: ['*'] } }] });
    const leaky = await audit();
    expect(leaky.violations.some((v) => v.path.endsWith('inbox/0.json') && /only the member it is sealed for/.test(v.problem))).toBe(true);
    expect(leaky.violations.some((v) => v.path.includes(`${f.emails[1]}/app_data/${APP}/secagg/`) && /only its owner and the aggregator/.test(v.problem))).toBe(true);
  });
});
