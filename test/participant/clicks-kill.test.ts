import { afterEach, describe, expect, it } from 'vitest';
import { clickLogFile } from '../../src/participant/clicks';
import type { PageData } from '../../src/participant/server/routes';
import { loadCatalog } from '../../src/shared/catalog';
import { readClickLog } from '../../src/shared/clicks';
import { startCli, waitFor, WAIT_MS, type CliRun } from '../helpers/process';
import { createFixture, participantEnv, PROFILE, type Fixture } from '../helpers/server';

/**
 * The click log's promise to the page: a click answered `recorded` is in the log
 * even when the server process is killed with SIGKILL right after the answer
 * (rows are acknowledged once written; the fsync comes later).
 */
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

describe('click log under kill -9', () => {
  it('keeps every acknowledged click of a server killed with SIGKILL', async () => {
    fixture = await createFixture({ catalog: await loadCatalog(null) }); // the catalogue `serve` loads
    const cli = startCli(['serve', '--profile', PROFILE], participantEnv(fixture, { WEB_PORT: '0' }));
    run = cli;
    let stdout = '';
    cli.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const url = await waitFor(async () => /^(http:\/\/127\.0\.0\.1:\d+)\n/m.exec(stdout)?.[1], 'the URL on stdout');
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: url, 'sec-fetch-site': 'same-origin' }, body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      return res.json();
    };
    const acknowledged = new Set<string>();
    for (let view = 0; view < 3; view++) {
      const page = (await post('/api/views', {})) as PageData;
      expect(page.state).toBe('experiment');
      // all clicks of a page at once: they arrive while one write is in flight and share batches
      const answers = await Promise.all(
        page.columns.flatMap((column) => column.shows.map(async (show, i) => [`${page.pageView}/${column.side}/${i + 1}`, await post('/api/click', { pageView: page.pageView, token: page.token, side: column.side, item: show.id })] as const)),
      );
      for (const [key, answer] of answers) if ((answer as { status: string }).status === 'recorded') acknowledged.add(key);
    }
    cli.child.kill('SIGKILL');
    expect((await cli.done).signal).toBe('SIGKILL');
    expect(acknowledged.size).toBeGreaterThan(10);
    const rows = (await readClickLog(clickLogFile(fixture.ws, PROFILE)))?.rows ?? [];
    const logged = new Set(rows.flatMap((row) => (row.type === 'click' ? [`${row.pageView}/${row.side}/${row.rank}`] : [])));
    expect([...acknowledged].filter((key) => !logged.has(key))).toEqual([]);
  }, WAIT_MS);
});
