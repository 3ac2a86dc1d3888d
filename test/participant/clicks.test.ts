import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClickLog } from '../../src/participant/clicks';
import { parseClickLog, readClickLog, type ClickLogRow, type ClickRow, type PageViewRow } from '../../src/shared/clicks';
import { silentLogger } from '../../src/shared/log';

function viewRow(pageView: string, overrides: Partial<PageViewRow> = {}): PageViewRow {
  return { v: 2, type: 'view', pageView, left: 'local', shown: { local: 3, global: 3 }, versions: { global: 2, localBase: 2 }, ...overrides };
}

function clickRow(pageView: string, rank: number, overrides: Partial<ClickRow> = {}): ClickRow {
  return { v: 2, type: 'click', pageView, side: 'left', arm: 'local', rank, ...overrides };
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clicks-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('parseClickLog', () => {
  it('keeps complete valid lines, counts junk and ignores a torn last line', () => {
    const text = [JSON.stringify(viewRow('pageview-1')), 'not json', JSON.stringify({ v: 2, type: 'click' }), JSON.stringify(clickRow('pageview-1', 2)), '{"v":2,"type":"cl'].join('\n');
    const parsed = parseClickLog(text);
    expect(parsed.rows.map((r) => r.type)).toEqual(['view', 'click']);
    expect(parsed.rejected).toBe(2);
    expect(parsed.torn).toBe(true);
  });

  it('rejects rows with titles instead of counts, bad sides and ranks, other versions and hostile page-view ids', () => {
    const bad = [
      { ...viewRow('pageview-1'), shown: { local: ['Stranger Things'], global: 3 } },
      { ...clickRow('pageview-1', 1), side: 'middle' },
      { ...clickRow('pageview-1', 1), v: 3 },
      { ...clickRow('../../etc', 1) },
      { ...clickRow('pageview-1', 0) },
      { ...clickRow('pageview-1', 51) },
    ];
    const parsed = parseClickLog(`${bad.map((r) => JSON.stringify(r)).join('\n')}\n`);
    expect(parsed.rows).toEqual([]);
    expect(parsed.rejected).toBe(bad.length);
    expect(parsed.torn).toBe(false);
  });

  it('drops unknown keys from valid rows', () => {
    const parsed = parseClickLog(`${JSON.stringify({ ...clickRow('pageview-1', 1), title: 'secret', item: 7 })}\n`);
    expect(parsed.rows[0]).toEqual(clickRow('pageview-1', 1));
  });
});

describe('ClickLog', () => {
  it('appends whole lines, creates the folder and runs prepare once', async () => {
    const file = path.join(dir, 'app_data', 'profile_0', 'clicks.jsonl');
    let prepared = 0;
    const log = new ClickLog(file, { logger: silentLogger, prepare: async () => void prepared++ });
    await log.append(viewRow('pageview-1'));
    await log.append(clickRow('pageview-1', 2));
    const text = await fs.readFile(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(3);
    expect(prepared).toBe(1);
    expect((await readClickLog(file))!.rows).toHaveLength(2);
  });

  it('loses and tears no row under 200 concurrent appends', async () => {
    const file = path.join(dir, 'clicks.jsonl');
    const log = new ClickLog(file, { logger: silentLogger });
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(clickRow(`pageview-${String(i).padStart(4, '0')}`, (i % 50) + 1))));
    const parsed = (await readClickLog(file))!;
    expect(parsed.rows).toHaveLength(200);
    expect(parsed.rejected).toBe(0);
    expect(new Set(parsed.rows.map((r) => r.pageView)).size).toBe(200);
  });

  it('terminates a torn line left by a crashed writer so the next row stays intact', async () => {
    const file = path.join(dir, 'clicks.jsonl');
    await fs.writeFile(file, `${JSON.stringify(viewRow('pageview-1'))}\n{"v":2,"type":"cli`);
    const log = new ClickLog(file, { logger: silentLogger });
    await log.append(clickRow('pageview-1', 2));
    const parsed = (await readClickLog(file))!;
    expect(parsed.rows.map((r) => r.type)).toEqual(['view', 'click']);
    expect(parsed.rejected).toBe(1);
    expect(parsed.torn).toBe(false);
  });

  it('rewrites a version-1 log (show ids, millisecond times) to version 2 before its first append', async () => {
    const file = path.join(dir, 'clicks.jsonl');
    const legacy = [
      { v: 1, type: 'view', at: '2026-11-21T16:00:00.123Z', pageView: 'pageview-1', left: 'global', local: [11, 12, 13], global: [21, 22, 23], versions: { global: 2, localBase: 2 } },
      { v: 1, type: 'click', at: '2026-11-21T16:00:09.456Z', pageView: 'pageview-1', side: 'right', arm: 'local', item: 12, rank: 2 },
    ];
    await fs.writeFile(file, `${legacy.map((r) => JSON.stringify(r)).join('\n')}\nnot json\n`);
    const log = new ClickLog(file, { logger: silentLogger });
    await log.append(clickRow('pageview-1', 1, { side: 'right', arm: 'local' }));
    const text = await fs.readFile(file, 'utf8');
    expect(text).not.toMatch(/"at"|"item"|"local":\[|2026-|\b1[123]\b|\b2[123]\b/);
    const parsed = (await readClickLog(file))!;
    expect(parsed.rows).toEqual([
      viewRow('pageview-1', { left: 'global' }),
      clickRow('pageview-1', 2, { side: 'right', arm: 'local' }),
      clickRow('pageview-1', 1, { side: 'right', arm: 'local' }),
    ]);
    expect(parsed.rejected).toBe(1);
  });

  it('rejects the batch when the file cannot be written, and recovers afterwards', async () => {
    const file = path.join(dir, 'clicks.jsonl');
    await fs.symlink(path.join(dir, 'elsewhere'), file);
    const log = new ClickLog(file, { logger: silentLogger });
    await expect(log.append(clickRow('pageview-1', 1))).rejects.toThrow();
    await fs.rm(file);
    await log.append(clickRow('pageview-1', 1));
    expect((await readClickLog(file))!.rows).toHaveLength(1);
  });

  it('interleaves no bytes when two processes append to the same file', async () => {
    const file = path.join(dir, 'clicks.jsonl');
    const rowsPerProcess = 300;
    const script = `
      import { ClickLog } from ${JSON.stringify(path.resolve('src/participant/clicks.ts'))};
      import { silentLogger } from ${JSON.stringify(path.resolve('src/shared/log.ts'))};
      const [file, who, n] = process.argv.slice(-3);
      const log = new ClickLog(file, { logger: silentLogger });
      const rows = [];
      for (let i = 0; i < Number(n); i++) rows.push(log.append({ v: 2, type: 'click', pageView: who + '-' + String(i).padStart(6, '0'), side: 'left', arm: 'local', rank: 1 }));
      await Promise.all(rows);
    `;
    const run = (who: string) =>
      new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, file, who, String(rowsPerProcess)], { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code) => resolve(code ?? 1));
      });
    expect(await Promise.all([run('alpha'), run('bravo')])).toEqual([0, 0]);
    const parsed = (await readClickLog(file))!;
    expect(parsed.rejected).toBe(0);
    expect(parsed.rows).toHaveLength(2 * rowsPerProcess);
  });
});

describe('row shapes', () => {
  it('round-trips both kinds of rows', () => {
    const rows: ClickLogRow[] = [viewRow('pageview-1'), clickRow('pageview-1', 3, { side: 'right', arm: 'global', rank: 1 })];
    expect(parseClickLog(`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`).rows).toEqual(rows);
  });
});
