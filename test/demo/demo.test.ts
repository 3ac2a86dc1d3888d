import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRoot } from '../../src/aggregator/audit';
import { PROJECT_ROOT } from '../../src/shared/config';
import { readLedger, verifyLedger } from '../../src/shared/ledger';

const APP = 'syftbox-netflix-svd';
const AGG = 'aggregator@demo.local';

function demo(localRoot: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src', 'cli.ts'), 'demo', ...args], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, HOME: localRoot, LOCAL_ROOT: localRoot, OUTPUT_DIR: path.join(localRoot, 'no-own-export'), MODEL_RANK: '8' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('npm run demo', () => {
  it('builds an embedded root, runs rounds until every participant trains from Global_V, and reuses or resets the root', async () => {
    const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'demo-')), 'local-syftbox');
    const first = demo(root, ['--no-serve']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/5 participants/);
    expect(first.stdout).toMatch(/round 2: 5 profiles trained, 5\/5 participants trained from Global_V; secure round r000002 merged the masked sum of 5\/5 participants -> Global_V v2/);
    expect(first.stdout).toMatch(/done: Global_V v2, 5 contributors/);
    const datasites = readdirSync(path.join(root, 'datasites')).sort();
    expect(datasites).toEqual([AGG, 'crime-and-thrillers@demo.local', 'docs-and-comedy@demo.local', 'family-and-anime@demo.local', 'me@local.syftbox', 'nsteenholdt-cc0@demo.local']);
    expect(existsSync(path.join(root, 'config.json'))).toBe(true);

    // secure aggregation: neither a local community report nor a plain delta goes out; the week goes into community rounds
    expect(existsSync(path.join(root, 'datasites', AGG, 'app_data', APP, 'aggregator', 'community', 'stats.json'))).toBe(true);
    for (const site of datasites.filter((d) => d !== AGG)) {
      expect(existsSync(path.join(root, 'datasites', site, 'app_data', APP, 'profile_0', 'community.json')), site).toBe(false);
      expect(existsSync(path.join(root, 'datasites', site, 'app_data', APP, 'profile_0', 'delta.json')), site).toBe(false);
    }
    const audit = await auditRoot({ dataDir: root, appName: APP, aggregator: AGG });
    expect(audit.violations).toEqual([]);
    const ledger = await readLedger(path.join(root, 'datasites', AGG, 'app_data', APP, 'aggregator', 'ledger.jsonl'));
    expect(verifyLedger(ledger).ok).toBe(true);

    const second = demo(root, ['--no-serve', '--rounds', '1']);
    expect(second.code, second.stderr).toBe(0);
    // the defaults ran one DP training run (two rounds): the next is due in PRIVACY_PERIOD_DAYS, so no round opens
    expect(second.stdout).toMatch(/round 1: .*no secure round opened: the DP training run of .* is complete; the next one is due at .* \(PRIVACY_PERIOD_DAYS=365\)/);
    expect(second.stdout).toMatch(/done: Global_V v2,/);

    const reset = demo(root, ['--no-serve', '--reset']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/done: Global_V v2,/);
  }, 240_000);
});
