import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logLines, startCli, waitFor } from '../helpers/process';
import { AGGREGATOR, cliEnv, createRoot, writeCatalog, type TestRoot } from '../helpers/root';

/**
 * Configuration through the real CLI: a missing .env is fine, variables in .env
 * that the app does not know are warned about by name (by `app`, the process
 * run.sh starts), and a value out of range stops any command with exit 2 and one
 * line on stderr naming the variable, the value and what it accepts.
 */
let root: TestRoot;
let appDir: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  root = await createRoot();
  appDir = await fs.mkdtemp(path.join(root.dataDir, 'app-'));
  env = cliEnv(root, AGGREGATOR, { SYFTBOX_APP_DIR: appDir, CATALOG_PATH: await writeCatalog(root, 10), MODEL_RANK: '2' });
});
afterEach(async () => {
  await root.cleanup();
});

describe('configuration through the CLI', () => {
  it('runs without a .env file', async () => {
    const exit = await startCli(['aggregator', '--once'], env).done;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toBe('');
    expect(exit.stdout).toMatch(/^no new deltas waiting .*Global_V stays at v0$/m);
  });

  it('warns about each unknown variable in .env by name, and keeps running', async () => {
    await fs.writeFile(path.join(appDir, '.env'), 'MODEL_RANKK=4\nMIN_PARTICIPANTS=2\nAGGREGATOR_DATASIT=agg@example.org\nSYFTBOX_SERVER_URL=https://syftbox.net\n');
    const run = startCli(['app'], { ...env, LOG_LEVEL: 'info' });
    let stdout = '';
    run.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      await waitFor(async () => logLines(stdout).some((l) => l.msg === 'aggregator started'), 'the aggregator loop to start');
    } finally {
      run.child.kill('SIGTERM');
    }
    const exit = await run.done;
    expect(exit.code, exit.stderr).toBe(0);
    const warnings = logLines(stdout).filter((l) => l.level === 40);
    expect(warnings.map((w) => [w.key, w.msg])).toEqual([
      ['MODEL_RANKK', '.env sets MODEL_RANKK, which this app does not use (typo?); see .env.example'],
      ['AGGREGATOR_DATASIT', '.env sets AGGREGATOR_DATASIT, which this app does not use (typo?); see .env.example'],
    ]);
  });

  it('warns on stderr about unknown .env variables for the other commands too', async () => {
    await fs.writeFile(path.join(appDir, '.env'), 'MODEL_RANKK=4\n');
    const exit = await startCli(['aggregator', '--once'], env).done;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toBe('warning: .env sets MODEL_RANKK, which this app does not use (typo?); see .env.example\n');
  });

  it.each([
    ['the environment', 'MODEL_RANK', '0', 'aggregator --once', 'an integer from 1 to 256'],
    ['the environment', 'ROUND_INTERVAL_MS', '10', 'app', 'an integer from 1000 to 86400000'],
    ['the environment', 'SERVER_LR', 'Infinity', 'participant --once', 'a number from 0 to 1000'],
    ['the environment', 'SYFTBOX_ASSIGNED_PORT', '99999', 'serve', 'an integer from 0 to 65535'],
    ['.env', 'DP_DELTA', '0.5', 'verify', 'a number from 0 to 0.1'],
    ['.env', 'MIN_PARTICIPANTS', '-1', 'audit', 'an integer from 1 to 1000000'],
    ['.env', 'WEB_PORT', '70000', 'recommend', 'an integer from 0 to 65535'],
    ['.env', 'AGGREGATOR_DATASITE', 'not-an-email', 'ingest --history x.csv', 'an email address such as alice@example.org'],
  ])('%s: %s=%s stops `%s` with exit 2 and one line naming it', async (where, name, value, command, expected) => {
    const childEnv = { ...env };
    delete childEnv[name];
    if (where === '.env') await fs.writeFile(path.join(appDir, '.env'), `${name}=${value}\n`);
    else childEnv[name] = value;
    const exit = await startCli(command.split(' '), childEnv).done;
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toBe(`error: ERR_CONFIG_INVALID: ${name}=${JSON.stringify(value)} is invalid: expected ${expected}\n`);
  });

  it('a required variable left out stops the command with exit 2 naming it', async () => {
    const { AGGREGATOR_DATASITE: _, ...withoutAggregator } = env;
    const exit = await startCli(['participant', '--once'], withoutAggregator).done;
    expect(exit.code).toBe(2);
    expect(exit.stderr).toMatch(/^error: ERR_CONFIG_MISSING: AGGREGATOR_DATASITE is not set: [^\n]+\n$/);
  });
});
