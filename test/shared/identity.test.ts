import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config';
import { isAppError } from '../../src/shared/errors';
import { clientConfigCandidates, resolveIdentity, Workspace, writeClientConfig } from '../../src/shared/workspace';

/** Where the identity comes from, in order, and what a Workspace built from it reads (see readableHere). */

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'identity-'));

function setup(env: Record<string, string> = {}) {
  const home = tmp();
  const appDir = tmp();
  const config = loadConfig({ appDir, env, dotenv: false });
  const write = (file: string, email: string) => writeClientConfig(file, email, path.join(home, 'SyftBox'));
  return { home, appDir, config, write };
}

describe('resolveIdentity', () => {
  it('SYFTBOX_CLIENT_CONFIG_PATH first, then ~/.syftbox/config.json, then ~/.config/syftbox/config.json', () => {
    const home = tmp();
    const explicit = path.join(home, 'elsewhere.json');
    const [dotSyftbox, dotConfig] = clientConfigCandidates({ HOME: home });
    expect([dotSyftbox, dotConfig]).toEqual([path.join(home, '.syftbox', 'config.json'), path.join(home, '.config', 'syftbox', 'config.json')]);
    for (const [file, email] of [[explicit, 'explicit@x.org'], [dotSyftbox, 'home@x.org'], [dotConfig, 'xdg@x.org']] as const) {
      writeClientConfig(file, email, path.join(home, 'SyftBox'));
    }
    const plain = loadConfig({ appDir: tmp(), env: {}, dotenv: false });
    const withPath = loadConfig({ appDir: tmp(), env: { SYFTBOX_CLIENT_CONFIG_PATH: explicit }, dotenv: false });
    expect(resolveIdentity(withPath, { HOME: home }).email).toBe('explicit@x.org');
    expect(resolveIdentity(plain, { HOME: home }).email).toBe('home@x.org');
    rmSync(dotSyftbox);
    expect(resolveIdentity(plain, { HOME: home })).toMatchObject({ email: 'xdg@x.org', configPath: dotConfig, embedded: false });
  });

  it('without any client config: the embedded local root by hand, an error naming every place looked under SyftBox', () => {
    const { home, config } = setup();
    expect(resolveIdentity(config, { HOME: home })).toMatchObject({ email: 'me@local.syftbox', embedded: true });
    let err: unknown;
    try {
      resolveIdentity(config, { HOME: home, SYFTBOX_APP_ID: 'netflix' });
    } catch (e) {
      err = e;
    }
    expect(isAppError(err, 'ERR_SYFTBOX_CONFIG')).toBe(true);
    const message = (err as Error).message;
    for (const place of ['SYFTBOX_CLIENT_CONFIG_PATH', path.join(home, '.syftbox', 'config.json'), path.join(home, '.config', 'syftbox', 'config.json')]) {
      expect(message).toContain(place);
    }
  });

  it('a Workspace from a client config reads what sync delivered; one from an email and folder alone is an embedded root', () => {
    const { home, config, write } = setup();
    write(path.join(home, '.syftbox', 'config.json'), 'me@x.org');
    expect(new Workspace(resolveIdentity(config, { HOME: home }), 'app').embedded).toBe(false);
    expect(new Workspace({ email: 'me@x.org', dataDir: home }, 'app').embedded).toBe(true);
    const client = new Workspace(resolveIdentity(config, { HOME: home }), 'app');
    expect(new Workspace(client, 'other-app').embedded).toBe(false);
  });
});
