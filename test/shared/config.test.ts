import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT, requireValue, VARIABLES, withOverrides } from '../../src/shared/config';
import { AppError } from '../../src/shared/errors';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'cfg-'));

describe('loadConfig', () => {
  it('applies documented defaults and freezes the result', () => {
    const config = loadConfig({ appDir: tmp(), env: {}, dotenv: false });
    expect(config.APP_NAME).toBe('syftbox-netflix-svd');
    expect(config.NETFLIX_CSV).toBe('NetflixViewingHistory.csv');
    expect(config.MODEL_RANK).toBe(32);
    expect(config.port).toBe(8081);
    expect(config.AGGREGATOR_DATASITE).toBeNull();
    expect(config.NETFLIX_PROFILES).toEqual(['profile_0']);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads .env, and the environment overrides it', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, '.env'), 'MODEL_RANK=16\nAGGREGATOR_DATASITE=Agg@Example.org\nTYPO_VAR=1\n');
    const fromFile = loadConfig({ appDir: dir, env: {} });
    expect(fromFile.MODEL_RANK).toBe(16);
    expect(fromFile.AGGREGATOR_DATASITE).toBe('agg@example.org');
    expect(fromFile.unknownDotenvKeys).toEqual(['TYPO_VAR']);
    expect(loadConfig({ appDir: dir, env: { MODEL_RANK: '8' } }).MODEL_RANK).toBe(8);
  });

  it('runs without a .env file', () => {
    expect(() => loadConfig({ appDir: tmp(), env: {} })).not.toThrow();
  });

  it.each([
    ['MODEL_RANK', '0', 'an integer from 1 to 256'],
    ['MODEL_RANK', 'abc', 'an integer from 1 to 256'],
    ['WEB_PORT', '70000', 'an integer from 0 to 65535'],
    ['DP_DELTA', '0.5', 'a number from 0 to 0.1'],
    ['AGGREGATOR_DATASITE', 'not-an-email', 'an email address'],
    ['MERGE_MODE', 'mean', 'one of fedavg, trimmed, median'],
  ])('rejects %s=%s naming the variable, value and expectation', (name, value, expected) => {
    try {
      loadConfig({ appDir: tmp(), env: { [name]: value }, dotenv: false });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('ERR_CONFIG_INVALID');
      expect((err as AppError).exitCode).toBe(2);
      expect((err as AppError).message).toContain(name);
      expect((err as AppError).message).toContain(JSON.stringify(value));
      expect((err as AppError).message).toContain(expected);
    }
  });

  it('turns secure aggregation on by default, with MIN_DATASITES 3', () => {
    const config = loadConfig({ appDir: tmp(), env: {}, dotenv: false });
    expect(config.SECURE_AGGREGATION).toBe('on');
    expect(config.MIN_DATASITES).toBe(3);
    expect(config.SECAGG_PHASE_MS).toBe(120_000);
  });

  it.each(['trimmed', 'median'])('refuses MERGE_MODE=%s with secure aggregation on, in one line', (mode) => {
    expect(() => loadConfig({ appDir: tmp(), env: { MERGE_MODE: mode }, dotenv: false })).toThrow(
      new AppError('ERR_CONFIG_INVALID', `MERGE_MODE=${mode} needs every delta in the clear, but SECURE_AGGREGATION=on shows the aggregator only their sum: set SECURE_AGGREGATION=off to use it, or MERGE_MODE=fedavg`),
    );
    expect(loadConfig({ appDir: tmp(), env: { MERGE_MODE: mode, SECURE_AGGREGATION: 'off' }, dotenv: false }).MERGE_MODE).toBe(mode);
  });

  it('prefers SYFTBOX_ASSIGNED_PORT over WEB_PORT', () => {
    expect(loadConfig({ appDir: tmp(), env: { SYFTBOX_ASSIGNED_PORT: '9123', WEB_PORT: '8000' }, dotenv: false }).port).toBe(9123);
  });

  it('requireValue names the missing variable', () => {
    const config = loadConfig({ appDir: tmp(), env: {}, dotenv: false });
    expect(() => requireValue(config, 'AGGREGATOR_DATASITE', 'needed here')).toThrow(/AGGREGATOR_DATASITE is not set/);
  });

  it('withOverrides replaces only the named values', () => {
    const config = loadConfig({ appDir: tmp(), env: { MODEL_RANK: '12' }, dotenv: false });
    const other = withOverrides(config, { LOCAL_EMAIL: 'b@x.org' });
    expect(other.MODEL_RANK).toBe(12);
    expect(other.LOCAL_EMAIL).toBe('b@x.org');
  });
});

describe('.env.example', () => {
  it('documents every variable with its default, and nothing else', () => {
    const text = readFileSync(path.join(PROJECT_ROOT, '.env.example'), 'utf8');
    const entries = new Map(
      text
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    expect([...entries.keys()].sort()).toEqual(Object.keys(VARIABLES).sort());
    for (const [name, spec] of Object.entries(VARIABLES)) expect(entries.get(name), name).toBe(spec.default);
  });
});
