import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeProtection, describeReleases } from '../../src/participant/protection';
import { DEMO_DIR } from '../../src/demo/embedded';
import { startCli } from '../helpers/process';
import { cliEnv, createRoot, type TestRoot } from '../helpers/root';

const SETTINGS = { DP_DELTA: 1e-5, DELTA_CLIP_NORM: 1, PRIVACY_PERIOD_DAYS: 365 };

describe('describeProtection', () => {
  it('plain deltas: warns without noise, and says what the noise buys otherwise', () => {
    const plain = { ...SETTINGS, SECURE_AGGREGATION: 'off' as const };
    expect(describeProtection({ ...plain, DP_EPSILON: 0 })).toMatchObject({ aggregation: 'plain', deltas: 'none', warn: true, message: expect.stringMatching(/^DP_EPSILON=0: .*can tell which shows you watched/) });
    expect(describeProtection({ ...plain, DP_EPSILON: 8 })).toMatchObject({ aggregation: 'plain', deltas: 'dp-noise', warn: false, message: expect.stringMatching(/\(8, 0\.00001\)-differentially private/) });
  });

  it('secure aggregation: says the aggregator sees only the sum, and claims noise only when DP_EPSILON > 0', () => {
    const secure = { ...SETTINGS, SECURE_AGGREGATION: 'on' as const };
    const bare = describeProtection({ ...secure, DP_EPSILON: 0 });
    expect(bare).toMatchObject({ aggregation: 'secure', deltas: 'none', warn: true, message: expect.stringMatching(/^DP_EPSILON=0: .*sees only the sum of the round's contributions.*carries no noise/) });
    expect(bare.message).not.toMatch(/differentially private|differential privacy\)/);
    expect(describeProtection({ ...secure, DP_EPSILON: 8 })).toMatchObject({ aggregation: 'secure', deltas: 'dp-noise', warn: false, message: expect.stringMatching(/sees only the sum of the round's contributions; the model is trained in differentially private runs of two rounds whose sums carry noise for \(8, 0\.00001\)-differential privacy per run for this whole datasite, at most one run every 365 days/) });
    expect(describeProtection({ ...secure, DP_EPSILON: 8, PRIVACY_PERIOD_DAYS: 0 }).message).toContain('one run only');
  });
});

describe('describeReleases', () => {
  const settings = { SECURE_AGGREGATION: 'on' as const, INSIGHTS_EPSILON: 4, DP_DELTA: 1e-5, BLEND_WITH: '', BLEND_EPSILON: 1, MODEL_RANK: 32 };
  it('claims a secure community round only with secure aggregation on, and local DP (weaker) in plain mode', () => {
    const [secure] = describeReleases(settings);
    expect(secure).toMatch(/leaves only masked, in a secure community round.*\(ε = 4, δ = 0\.00001\) per week/);
    const [plain] = describeReleases({ ...settings, SECURE_AGGREGATION: 'off' });
    expect(plain).toMatch(/goes to the aggregator as it is.*local differential privacy.*weaker/);
    expect(plain).not.toMatch(/masked|secure community round/);
    expect(describeReleases({ ...settings, INSIGHTS_EPSILON: 0 })[0]).toMatch(/No community statistics are sent/);
  });

  it('the clicks: the log stays here, counts leave noised (plain) or in the secure sum; the blend\'s per-show guarantee, and that the taste is shared', () => {
    const lines = describeReleases({ ...settings, BLEND_WITH: 'friend@example.org' });
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/stays on this machine: only your clicks per list leave, inside the secure community round's noised sum/);
    expect(describeReleases({ ...settings, SECURE_AGGREGATION: 'off' })[1]).toMatch(/once a week only your clicks per list \(at most 5 each\) go to the aggregator, with noise for \(ε = 4\) differential privacy per week/);
    expect(describeReleases({ ...settings, INSIGHTS_EPSILON: 0 })[1]).toMatch(/nothing about your clicks is sent/);
    expect(lines[2]).toMatch(/friend@example.org\) reads a summary of your taste \(32 numbers\) with Gaussian noise, \(ε = 1, δ = 0\.00001\)-differentially private for each show.*the taste itself is shared/);
    expect(describeReleases(settings)[2]).toMatch(/^While you blend, a friend you blend with reads a summary of your taste/);
    expect(describeReleases({ ...settings, BLEND_EPSILON: 0 })[2]).toMatch(/^The blend shares nothing/);
  });
});

describe('participant --once', () => {
  let root: TestRoot;
  beforeEach(async () => {
    root = await createRoot();
  });
  afterEach(async () => {
    await root.cleanup();
  });

  async function once(epsilon: string): Promise<{ level: number; msg: string }[]> {
    const outputDir = path.join(root.dataDir, 'exports');
    await fs.mkdir(path.join(outputDir, 'profile_0'), { recursive: true });
    await fs.copyFile(path.join(DEMO_DIR, 'docs-and-comedy.csv'), path.join(outputDir, 'profile_0', 'NetflixViewingHistory.csv'));
    const env = cliEnv(root, 'me@example.org', { OUTPUT_DIR: outputDir, MODEL_RANK: '4', DP_EPSILON: epsilon, LOG_LEVEL: 'info' });
    const run = await startCli(['participant', '--once'], env).done;
    expect(run.code, run.stderr).toBe(0);
    return run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
  }

  it('warns once that deltas go out without DP noise (the daemon always did; --once said nothing)', async () => {
    const warnings = (await once('0')).filter((l) => l.msg.startsWith('DP_EPSILON=0'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].level).toBe(40);
  });

  it('does not warn with DP noise on', async () => {
    const logs = await once('8');
    expect(logs.filter((l) => l.level >= 40)).toEqual([]);
    expect(logs.filter((l) => /differentially private/.test(l.msg) && !l.msg.startsWith('While you blend'))).toHaveLength(1);
  });
});
