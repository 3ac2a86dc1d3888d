import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { runParticipantPass } from '../../src/participant/node';
import { readMemberStatus } from '../../src/participant/secagg';
import { readPrivacyLedger, readProfileModel } from '../../src/participant/state';
import { withOverrides } from '../../src/shared/config';
import { readLatestGlobal } from '../../src/shared/global-model';
import { readLedger } from '../../src/shared/ledger';
import { GLOBAL_MANIFEST } from '../../src/shared/global-model';
import { canRead } from '../../src/shared/permissions';
import { createRandom, deriveSeed } from '../../src/shared/random';
import { runSecureRoundInProcess } from '../../src/simulate/secure-round';
import { AGGREGATOR, cliEnv } from '../helpers/root';
import { startCli } from '../helpers/process';
import { createFederation, expectedUpdate, memberContribution, RANK, relativeUpdateError, type Federation } from '../helpers/secagg';

/** The member's side of secure rounds: who joins with what, the privacy budget, the `participant` command. */
let fed: Federation | null = null;
afterEach(async () => {
  await fed?.root.cleanup();
  fed = null;
});

describe('a member', () => {
  it('that may not read any Global_V yet joins with weight 0, adds nothing, and is granted the result', async () => {
    fed = await createFederation(4);
    const f = fed;
    // three members start the federation; the fourth has not run yet
    for (const m of f.members.slice(0, 3)) await runParticipantPass(m);
    expect(await runSecureRoundInProcess(f.aggregator, f.members.slice(0, 3))).toMatchObject({ outcome: 'merged', version: 1, cohort: 3 });
    for (const m of f.members) await runParticipantPass(m);
    const newcomer = f.members[3];
    expect((await readProfileModel(newcomer.ws.privateDir('profile_0')))!.state).toMatchObject({ baseVersion: 0, access: 'waiting' });
    const v1 = (await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model))!;
    const x = await Promise.all([0, 1, 2].map((i) => memberContribution(f, i)));

    const summary = (await runSecureRoundInProcess(f.aggregator, f.members))!;
    expect(summary).toMatchObject({ outcome: 'merged', version: 2, cohort: 4 });
    expect(summary.survivors).toContain(newcomer.ws.email);
    expect((await readMemberStatus(newcomer.ws))!.lastRound).toMatchObject({ counted: true, weight: 0 });
    // the members coordinate is rounded like any other: Σ m is exact to n/γ
    expect(summary.weightSum).toBeCloseTo(3, 3);
    // Global_V v2 is the optimizer's update from the three real contributions: the newcomer's zero changed nothing
    const v2 = (await readLatestGlobal(f.root.ws.globalDir(AGGREGATOR), f.aggregator.model))!;
    expect(relativeUpdateError(v2.values, expectedUpdate(f.aggregator.secure.mechanism, f.aggregator.model, v1.values, x), v1.values)).toBeLessThan(0.01);
    expect(await canRead(f.root.ws.datasitesDir, newcomer.ws.email, path.join(f.root.ws.globalVersionDir(AGGREGATOR, 2), GLOBAL_MANIFEST))).toBe(true);
  });

  it('adds its Skellam share to a DP run\'s rounds, records the spend first, refuses less noise than its own DP_EPSILON asks, and sits out a round its budget cannot pay for', async () => {
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    fed = await createFederation(5, { DP_EPSILON: '8' }, pino({ level: 'info' }, sink));
    const f = fed;
    // reproducible noise per member (the CSPRNG outside tests)
    for (const [i, m] of f.members.entries()) m.noiseRandom = () => createRandom(deriveSeed(7, `member-${i}`));
    // member 0 can afford the run's count round only (about ε 2.3 of the run's 8); member 4 asks for more noise than the run gives
    const first = (await readLedgerOf(f, 0)).entries.length;
    f.members[0].config = withOverrides(f.members[0].config, { PRIVACY_BUDGET_EPSILON: '4' });
    f.members[4].config = withOverrides(f.members[4].config, { DP_EPSILON: '4' });
    for (const m of f.members) await runParticipantPass(m);
    const one = (await runSecureRoundInProcess(f.aggregator, f.members))!;
    expect(one).toMatchObject({ outcome: 'merged', cohort: 4 });
    expect(one.survivors).not.toContain(f.emails[4]);
    const ledger = await readLedger(f.root.ws.ledgerFile(AGGREGATOR));
    expect(ledger[0].secagg).toMatchObject({ aggregation: 'subspace', noise: { mechanism: 'skellam' } });
    expect(ledger[0].secagg!.noise.sigma).toBeGreaterThan(1000);
    const spend = (await readLedgerOf(f, 0)).entries;
    expect(spend).toHaveLength(first + 1);
    expect(spend.at(-1)).toMatchObject({ kind: 'round', mechanism: 'skellam' });
    expect(spend.at(-1)!.params.mu).toBeCloseTo(ledger[0].secagg!.noise.sigma ** 2, 0);
    expect((await readMemberStatus(f.members[4].ws))!.declined).toMatchObject({ roundId: one.roundId, reason: expect.stringContaining('less than DP_EPSILON=4 asks') });
    expect(await readLedgerOf(f, 4)).toMatchObject({ entries: [] });

    for (const m of f.members) await runParticipantPass(m);
    const two = (await runSecureRoundInProcess(f.aggregator, f.members))!;
    expect(two).toMatchObject({ outcome: 'merged', cohort: 3 });
    expect(two.survivors).not.toContain(f.emails[0]);
    expect((await readMemberStatus(f.members[0].ws))!.declined).toMatchObject({ roundId: two.roundId });
    expect((await readLedgerOf(f, 0)).entries).toHaveLength(first + 1);
    expect(lines.filter((l) => /not joining secure round .*privacy budget cannot pay/.test(l.msg))).toHaveLength(1);
  });
});

async function readLedgerOf(f: Federation, i: number) {
  return readPrivacyLedger(f.members[i].ws.privateDir('profile_0'));
}

describe('participant --once', () => {
  it('trains, publishes neither a local community report nor a plain delta, and says what the secure round asked', async () => {
    fed = await createFederation(1);
    const f = fed;
    const member = f.members[0];
    const run = await startCli(['participant', '--once', '--json'], cliEnv(f.root, member.ws.email, { SECURE_AGGREGATION: 'on', MIN_DATASITES: '3', CATALOG_PATH: f.catalogFile, MODEL_RANK: String(RANK), OUTPUT_DIR: member.config.OUTPUT_DIR, DATE_ORDER: 'dmy' })).done;
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.profiles).toEqual([{ profile: 'profile_0', status: 'trained', access: 'waiting', baseVersion: 0 }]);
    expect(out.secure).toEqual([{ action: 'idle', reason: 'no secure round has been opened' }]);
    // the week goes out only inside a community round (none is open here)
    await expect(fs.lstat(member.ws.communityStats('profile_0'))).rejects.toThrow();
    await expect(fs.lstat(member.ws.deltaManifest('profile_0'))).rejects.toThrow();
    expect((await readMemberStatus(member.ws))!.mode).toBe('secure');
  });
});
