import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config';
import { AppError } from '../../src/shared/errors';
import { createEmbeddedDatasite, isEmailFolder, readClientConfig, resolveIdentity, secureRoundsView, Workspace, writeClientConfig } from '../../src/shared/workspace';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'ws-'));

describe('resolveIdentity', () => {
  it('reads email and data_dir from SYFTBOX_CLIENT_CONFIG_PATH, ignoring unknown keys', () => {
    const dir = tmp();
    const file = path.join(dir, 'client.json');
    writeFileSync(file, JSON.stringify({ email: 'Alice@Example.org', data_dir: path.join(dir, 'SyftBox'), server_url: 'https://x', refresh_token: 't' }));
    const config = loadConfig({ appDir: dir, env: { SYFTBOX_CLIENT_CONFIG_PATH: file }, dotenv: false });
    const id = resolveIdentity(config, { HOME: dir });
    expect(id).toEqual({ email: 'alice@example.org', dataDir: path.join(dir, 'SyftBox'), configPath: file, embedded: false });
  });

  it('fails with one clear error when the configured client config does not exist', () => {
    const dir = tmp();
    const config = loadConfig({ appDir: dir, env: { SYFTBOX_CLIENT_CONFIG_PATH: path.join(dir, 'nope.json') }, dotenv: false });
    expect(() => resolveIdentity(config, { HOME: dir })).toThrow(AppError);
    expect(() => resolveIdentity(config, { HOME: dir })).toThrow(/nope\.json does not exist/);
  });

  it('rejects a config without email or data_dir', () => {
    const file = path.join(tmp(), 'c.json');
    writeFileSync(file, JSON.stringify({ email: 'a@b.org' }));
    expect(() => readClientConfig(file)).toThrow(/must have "email" and "data_dir"/);
  });

  it('falls back to ~/.syftbox/config.json, then to the embedded local root', () => {
    const home = tmp();
    const appDir = tmp();
    const config = loadConfig({ appDir, env: {}, dotenv: false });
    const embedded = resolveIdentity(config, { HOME: home });
    expect(embedded.embedded).toBe(true);
    expect(embedded.email).toBe('me@local.syftbox');
    expect(embedded.dataDir).toBe(path.join(appDir, 'local-syftbox'));
    expect(existsSync(path.join(appDir, 'local-syftbox', 'datasites', 'me@local.syftbox', 'public', 'syft.pub.yaml'))).toBe(true);

    writeClientConfig(path.join(home, '.syftbox', 'config.json'), 'real@example.org', path.join(home, 'SyftBox'));
    expect(resolveIdentity(config, { HOME: home }).email).toBe('real@example.org');
  });

  it('lets several datasites share one data_dir, each with its own config file', () => {
    const root = tmp();
    const a = createEmbeddedDatasite(root, 'agg@example.org');
    const b = createEmbeddedDatasite(root, 'bob@example.org');
    expect(readClientConfig(a.configPath).dataDir).toBe(root);
    expect(readClientConfig(b.configPath).email).toBe('bob@example.org');
    const wa = new Workspace(a, 'app');
    const wb = new Workspace(b, 'app');
    expect(wa.privateDir('profile_0')).not.toBe(wb.privateDir('profile_0'));
    expect(readFileSync(path.join(root, 'datasites', 'bob@example.org', 'syft.pub.yaml'), 'utf8')).toContain("pattern: '**'");
  });
});

describe('Workspace paths', () => {
  const ws = new Workspace({ email: 'me@x.org', dataDir: '/r' }, 'app');
  it('puts published files under datasites and private state outside', () => {
    expect(ws.deltaManifest('profile_0')).toBe('/r/datasites/me@x.org/app_data/app/profile_0/delta.json');
    expect(ws.globalVersionDir('agg@x.org', 12)).toBe('/r/datasites/agg@x.org/app_data/app/aggregator/global/v000012');
    expect(ws.privateDir('profile_1')).toBe('/r/private/app/me@x.org/profile_1');
    expect(ws.isPublished(ws.clickLog('profile_0'))).toBe(true);
    expect(ws.isPublished(ws.privateDir('profile_0'))).toBe(false);
  });

  it('refuses profile names that are not profile_<n>', () => {
    expect(() => ws.profileDir('../etc')).toThrow(/profile_<n>/);
    expect(() => ws.privateDir('Alice')).toThrow(/profile_<n>/);
  });

  it('recognizes email folder names only', () => {
    expect(isEmailFolder('a@b.org')).toBe(true);
    expect(isEmailFolder('not-an-email')).toBe(false);
    expect(isEmailFolder('a@b..org')).toBe(false);
  });
});

describe('secureRoundsView', () => {
  it('moves every secure-round path one level down, into secagg/<purpose>, and nothing else', () => {
    const ws = new Workspace({ email: 'me@x.org', dataDir: '/r' }, 'app');
    const view = secureRoundsView(ws, 'community');
    expect(view.secaggRoundDir('agg@x.org', 'r000001')).toBe(path.join(ws.secaggDir('agg@x.org'), 'community', 'r000001'));
    expect(view.secaggAnswersDir('r000001')).toBe(path.join(ws.secaggAnswersRoot(), 'community', 'r000001'));
    expect(view.secaggAnswersDir('r000001', 'm@x.org')).toBe(path.join(ws.secaggAnswersRoot('m@x.org'), 'community', 'r000001'));
    expect(view.secaggPrivateDir()).toBe(path.join(ws.secaggPrivateDir(), 'community'));
    expect(view.aggregatorSecaggPrivateDir()).toBe(path.join(ws.aggregatorSecaggPrivateDir(), 'community'));
    expect(view.privateDir('profile_0')).toBe(ws.privateDir('profile_0'));
    expect(view.globalDir('agg@x.org')).toBe(ws.globalDir('agg@x.org'));
    expect(view.clickLog('profile_0')).toBe(ws.clickLog('profile_0'));
  });
});
