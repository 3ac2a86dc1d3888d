import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRoot } from '../../src/aggregator/audit';
import { readLedger, verifyLedger } from '../../src/shared/ledger';
import { freePort, runCli, startCli, waitFor, type CliExit } from '../helpers/process';

const APP = 'syftbox-netflix-svd';
const AGG = 'aggregator@demo.local';

/** `demo <args>` to its end; no deadline of its own: the test's limit is the only one (the machine may be loaded). */
function demo(localRoot: string, args: string[]): Promise<CliExit> {
  return runCli(['demo', ...args], demoEnv(localRoot));
}

function demoEnv(localRoot: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: localRoot, LOCAL_ROOT: localRoot, OUTPUT_DIR: path.join(localRoot, 'no-own-export'), MODEL_RANK: '8', ...extra };
}

describe('npm run demo', () => {
  it('builds an embedded root, runs rounds until every participant trains from Global_V, and reuses or resets the root', async () => {
    const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'demo-')), 'local-syftbox');
    const first = await demo(root, ['--no-serve']);
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

    const second = await demo(root, ['--no-serve', '--rounds', '1']);
    expect(second.code, second.stderr).toBe(0);
    // the defaults ran one DP training run (two rounds): the next is due in PRIVACY_PERIOD_DAYS, so no round opens
    expect(second.stdout).toMatch(/round 1: .*no secure round opened: the DP training run of .* is complete; the next one is due at .* \(PRIVACY_PERIOD_DAYS=365\)/);
    expect(second.stdout).toMatch(/done: Global_V v2,/);

    const reset = await demo(root, ['--no-serve', '--reset']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/done: Global_V v2,/);
  }, 600_000); // three demo runs: 25-30 s alone on 2 cores, 218 s measured in the suite with every core busy

  it('runs one demo per root: a second start stops the one still serving, then runs', async () => {
    const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'demo-')), 'local-syftbox');
    const serving = startCli(['demo'], demoEnv(root, { WEB_PORT: String(await freePort()) }));
    let output = '';
    serving.child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(async () => output.includes('to compare local and global recommendations'), 'the first demo to serve its page');
    const second = await demo(root, ['--no-serve', '--rounds', '1']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`stopped the demo that was running on ${root} \\(pid ${serving.child.pid}\\)`));
    expect(second.stdout).toMatch(/done: Global_V v2,/);
    const first = await serving.done;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toMatch(/error/i);
  }, 600_000);
});
