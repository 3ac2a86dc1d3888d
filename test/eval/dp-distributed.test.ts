import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticMovieLens } from '../../src/eval/synthetic';
import { roundNoiseStd } from '../../src/shared/model/subspace';
import { zcdpRho } from '../../src/shared/privacy';
import { runCli } from '../helpers/process';

const USERS = 30;
const ITEMS = 300;

let dir: string;
let data: string;
const cli = (args: string[]) => runCli(['eval', ...args], { ...process.env, LOG_LEVEL: 'silent' });

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eval-dp-'));
  data = path.join(dir, 'data');
  await writeSyntheticMovieLens(data, { users: USERS, items: ITEMS, seed: 9 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('eval --dp distributed and distributed-sim', () => {
  it('runs the DP PureSVD through the real protocol: every participant a member of both rounds, each adding its noise share', async () => {
    const out = path.join(dir, 'protocol');
    const run = await cli(['--ratings', data, '--rounds', '2', '--baselines', 'none', '--epsilons', '8', '--dp', 'distributed', '--secure', 'off', '--out', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    for (const round of [1, 2]) expect(run.stderr).toContain(`[dp-svd-distributed-eps8] round ${round}/2  survivors ${USERS}/${USERS}`);
    const report = JSON.parse(run.stdout);
    const dp = report.settings.find((s: { name: string }) => s.name === 'dp-svd-distributed-eps8');
    expect(dp.rounds).toHaveLength(2);
    expect(dp.description).toContain('real secure-aggregation protocol');
    expect(dp.privacy).toMatchObject({ mode: 'distributed', budget: 'total', epsilon: 8, delta: 1e-5, sensitivity: 1 });
    expect(dp.metrics.hr10).toBeGreaterThanOrEqual(0);
  });

  it('refuses mechanism parameters other than the loop\'s for the real protocol', async () => {
    const run = await cli(['--ratings', data, '--dp', 'distributed', '--dp-top-items', '50', '--out', path.join(dir, 'y')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--dp distributed-sim');
  });

  it('reports the simulated DP PureSVD setting with the loop\'s noise, calibrated to the total ε of its two rounds', async () => {
    const out = path.join(dir, 'implicit');
    const run = await cli(['--ratings', data, '--rounds', '2', '--baselines', 'none', '--epsilons', '8', '--dp', 'distributed-sim', '--dp-top-items', '50', '--dp-dimensions', '4', '--secure', 'off', '--out', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const dp = report.settings.find((s: { name: string }) => s.name === 'dp-svd-simulated-eps8');
    expect(dp.rounds).toHaveLength(2);
    const zcdp = roundNoiseStd(zcdpRho(8, 1e-5), 0.1);
    expect(dp.privacy).toMatchObject({ mode: 'distributed', budget: 'total', epsilon: 8, delta: 1e-5, sensitivity: 1 });
    // the loop's noise (runNoiseMultipliers): 0.92 of the zCDP calibration's, spending the whole ε by the ledger's accounting
    expect(dp.privacy.totalEpsilon).toBeLessThanOrEqual(8);
    expect(dp.privacy.totalEpsilon).toBeGreaterThan(8 * 0.995);
    expect(dp.privacy.noiseStdOfSum / zcdp.gram).toBeGreaterThan(0.9);
    expect(dp.privacy.noiseStdOfSum / zcdp.gram).toBeLessThan(0.93);
    expect(dp.privacy.composition).toContain(`Gram σ ${dp.privacy.noiseStdOfSum.toPrecision(4)}`);
    expect(dp.metrics.hr10).toBeGreaterThanOrEqual(0);
  });

  it('--holdout none with one DP setting writes the DP model\'s lists, which differ from the non-private ones', async () => {
    const read = (out: string) => readFileSync(path.join(out, 'recommendations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).global as string[]);
    const dpOut = path.join(dir, 'dp-recs');
    const plainOut = path.join(dir, 'plain-recs');
    const common = ['--ratings', data, '--holdout', 'none', '--rounds', '2'];
    const dpRun = await cli([...common, '--epsilons', '8', '--dp', 'distributed', '--out', dpOut]);
    expect(dpRun.code, dpRun.stderr).toBe(0);
    expect(dpRun.stderr).toContain('[dp-svd-distributed-eps8] round 2/2');
    const plainRun = await cli([...common, '--epsilons', 'none', '--out', plainOut]);
    expect(plainRun.code, plainRun.stderr).toBe(0);
    const dpLists = read(dpOut);
    expect(dpLists).toHaveLength(USERS);
    expect(dpLists).not.toEqual(read(plainOut));
  });

  it('refuses --dp distributed with a per-round budget', async () => {
    const run = await cli(['--ratings', data, '--dp', 'distributed', '--dp-budget', 'per-round', '--out', path.join(dir, 'x')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--dp distributed');
  });
});
