import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/process';

const WEEK_KEYS = ['week', 'ctr', 'pValue', 'truePreference', 'ndcg', 'epsilonSpent', 'roundMs'];
const CHARTS = ['ctr.svg', 'p-value.svg', 'true-preference.svg', 'ndcg.svg', 'epsilon.svg', 'round-ms.svg'];

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sim-cli-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const simulate = (...args: string[]) => runCli(['simulate', ...args], { ...process.env, LOG_LEVEL: 'silent', CATALOG_PATH: '' });

describe('cli simulate', () => {
  it('runs 20 participants for 2 weeks through the real loop and prints one JSON object; ledger and audit pass', async () => {
    const out = path.join(dir, 'results');
    const { code, stdout, stderr } = await simulate('--participants', '20', '--weeks', '2', '--seed', '3', '--rank', '8', '--json', '--out', out);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]);
    expect(result.weeks).toHaveLength(2);
    for (const week of result.weeks) {
      expect(Object.keys(week)).toEqual(expect.arrayContaining(WEEK_KEYS));
      expect(Object.keys(week.ctr).sort()).toEqual(['global', 'local']);
      expect(Object.keys(week.ndcg).sort()).toEqual(['global', 'local']);
      expect(typeof week.pValue).toBe('number');
      expect(typeof week.roundMs).toBe('number');
    }
    expect(result).toMatchObject({ ledgerOk: true, auditOk: true, root: null, params: { participants: 20, weeks: 2, seed: 3, rank: 8 } });
    // progress: a line per week on stderr, with elapsed time and ETA
    expect(stderr).toMatch(/week 1\/2: 20 participants.*elapsed, ETA/);
    expect(stderr).toMatch(/week 2\/2: 20 participants/);
    const written = await fs.readdir(out);
    expect(written.sort()).toEqual(['results.json', ...CHARTS].sort());
    expect(JSON.parse(await fs.readFile(path.join(out, 'results.json'), 'utf8'))).toEqual(result);
    expect(await fs.readFile(path.join(out, 'ndcg.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<path d="M[\s\S]*<\/svg>\n$/);
  });

  it('refuses --aa with --degrade-global, and a share outside [0, 1] (exit 2)', async () => {
    const both = await simulate('--aa', '--degrade-global', '0.5');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--aa/);
    const share = await simulate('--degrade-global', '1.5');
    expect(share.code).toBe(2);
    expect(share.stderr).toMatch(/--degrade-global 1.5/);
  });
});
