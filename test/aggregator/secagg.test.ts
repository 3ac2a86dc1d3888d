import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { finishedSecureRounds } from '../../src/aggregator/secagg';
import { runParticipantPass } from '../../src/participant/node';
import { readMemberStatus } from '../../src/participant/secagg';
import { readProfileModel } from '../../src/participant/state';
import { readLatestGlobal } from '../../src/shared/global-model';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import { canRead } from '../../src/shared/permissions';
import { buildContribution, contributionBound, contributionLayout, splitSum } from '../../src/shared/secagg/contribution';
import { scaleOf } from '../../src/shared/secagg/encoding';
import { MASKED_MANIFEST } from '../../src/shared/secagg/files';
import { initialItemFactors } from '../../src/shared/global-model';
import { runSecureRoundInProcess } from '../../src/simulate/secure-round';
import { AGGREGATOR } from './fixtures';
import { createFederation, RANK, type Federation } from './secagg-fixtures';

let fed: Federation | null = null;
afterEach(async () => {
  await fed?.root.cleanup();
  fed = null;
});

/** The plain FedAvg of the members' contributions (the mean of their clipped deltas), computed from their private state. */
async function plainMean(f: Federation, indices: readonly number[]): Promise<Float64Array> {
  const layout = contributionLayout(f.catalog.items.length, RANK);
  const C = f.config.DELTA_CLIP_NORM;
  const sum = new Float64Array(f.catalog.items.length * RANK);
  for (const i of indices) {
    const model = (await readProfileModel(f.members[i].ws.privateDir('profile_0')))!;
    const x = buildContribution([{ local: model.vLocal, base: model.vGlobal }], layout, { clipNorm: C, weightScale: C });
    const { delta } = splitSum(x, layout, C);
    for (let j = 0; j < sum.length; j++) sum[j] += delta[j];
  }
  return sum.map((v) => v / indices.length);
}

describe('secure round in process', () => {
  it('merges exactly the plain FedAvg of the contributions, within the quantization bound', async () => {
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
    const mean = await plainMean(f, [0, 1, 2, 3]);
    const gamma = scaleOf({ length: 1, clipNorm: contributionBound(f.config.DELTA_CLIP_NORM), scaleBits: f.config.SECAGG_SCALE_BITS });
    const bound = (f.config.SERVER_LR / gamma) * 1.0001 + 1e-6;
    let worst = 0;
    for (let j = 0; j < mean.length; j++) worst = Math.max(worst, Math.abs(v1.values[j] - (v0[j] + f.config.SERVER_LR * mean[j])));
    expect(worst).toBeLessThan(bound);
    expect(worst).toBeGreaterThan(0);

    const ledger = await readLedger(f.root.ws.ledgerFile(AGGREGATOR));
    expect(verifyLedger(ledger).ok).toBe(true);
    expect(ledger).toHaveLength(1);
    expect(ledger[0].secagg).toMatchObject({ protocol: 'secagg+', cohort: 4, survivors: 4, dropped: 0, t: 2, minSurvivors: 3, modulusBits: 32, scaleBits: 16 });
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
