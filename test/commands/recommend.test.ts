import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/shared/catalog';
import { startCli } from '../helpers/process';
import { createFixture, GLOBAL_VERSION, participantEnv, WATCHED, type Fixture } from '../helpers/server';

const runCli = (args: string[], f: Fixture) => startCli(args, participantEnv(f)).done;

describe('recommend command', () => {
  let trained: Fixture;
  let untrained: Fixture;
  beforeAll(async () => {
    const catalog = await loadCatalog(null);
    trained = await createFixture({ catalog });
    untrained = await createFixture({ catalog, trained: false });
  });
  afterAll(async () => {
    await trained?.cleanup();
    await untrained?.cleanup();
  });

  it('prints both lists as JSON with ids, show ids, titles and scores', async () => {
    const run = await runCli(['recommend', '--profile', '0', '--k', '7', '--json'], trained);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(Object.keys(out)).toEqual(['profile', 'access', 'globalVersion', 'local', 'global']);
    expect(out).toMatchObject({ profile: 'profile_0', access: 'granted', globalVersion: GLOBAL_VERSION });
    for (const list of [out.local, out.global]) {
      expect(list).toHaveLength(7);
      for (const show of list) {
        expect(Object.keys(show)).toEqual(['id', 'showId', 'title', 'score']);
        expect(WATCHED).not.toContain(show.id);
        expect(show.showId).toMatch(/^s\d+$/);
      }
    }
  });

  it('prints readable lists by default', async () => {
    const run = await runCli(['recommend'], trained);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Local model \(your history only\):\n {3}1\. /);
    expect(run.stdout).toMatch(new RegExp(`Global model \\(v${GLOBAL_VERSION}\\):`));
  });

  it('tells the user in one line to run the participant first when nothing is trained', async () => {
    const run = await runCli(['recommend', '--json'], untrained);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/profile_0 has no trained model yet: run the participant first/);
  });

  it('rejects a malformed profile with a usage error', async () => {
    const run = await runCli(['recommend', '--profile', '../x'], trained);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/ERR_USAGE/);
  });
});
