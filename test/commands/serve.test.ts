import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/shared/catalog';
import { startCli, waitFor, type CliRun } from '../helpers/process';
import { createFixture, participantEnv, type Fixture } from '../helpers/server';

let fixture: Fixture | null = null;
let run: CliRun | null = null;

afterEach(async () => {
  if (run && run.child.exitCode === null && run.child.signalCode === null) {
    run.child.kill('SIGKILL');
    await run.done;
  }
  await fixture?.cleanup();
  run = null;
  fixture = null;
});

describe('serve command', () => {
  it('prints the URL, serves the page without training, and stops on SIGTERM', async () => {
    fixture = await createFixture({ catalog: await loadCatalog(null) });
    const cli = startCli(['serve', '--profile', 'profile_0'], participantEnv(fixture, { WEB_PORT: '0' }));
    run = cli;
    let stdout = '';
    cli.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const url = await waitFor(async () => /^(http:\/\/127\.0\.0\.1:\d+)\n/m.exec(stdout)?.[1], 'the URL on stdout');
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('What would you watch next?');
    const status = await (await fetch(`${url}/api/status`)).json();
    expect(status).toMatchObject({ profile: 'profile_0', access: 'granted' });
    cli.child.kill('SIGTERM');
    const done = await cli.done;
    expect(done.code).toBe(0);
  });

  it('exits 1 with one line naming the port when it is taken', async () => {
    fixture = await createFixture();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      run = startCli(['serve'], participantEnv(fixture, { WEB_PORT: String(port) }));
      const done = await run.done;
      expect(done.code).toBe(1);
      expect(done.stderr.trim()).toBe(`error: ERR_PORT_IN_USE: port ${port} is in use: set WEB_PORT or stop the other process`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
