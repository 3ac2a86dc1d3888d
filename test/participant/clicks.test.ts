import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClickLog } from '../../src/participant/clicks';
import { parseClickLog, readClickLog, type ClickLogRow, type ClickRow, type PageViewRow } from '../../src/shared/clicks';
import { silentLogger } from '../../src/shared/log';

const AT = '2026-11-21T16:00:00.000Z';

function viewRow(pageView: string, overrides: Partial<PageViewRow> = {}): PageViewRow {
  return { v: 1, type: 'view', at: AT, pageView, left: 'local', local: [1, 2, 3], global: [3, 4, 5], versions: { global: 2, localBase: 2 }, ...overrides };
}

function clickRow(pageView: string, item: number, overrides: Partial<ClickRow> = {}): ClickRow {
  return { v: 1, type: 'click', at: AT, pageView, side: 'left', arm: 'local', item, rank: 1, ...overrides };
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
    const text = [JSON.stringify(viewRow('pageview-1')), 'not json', JSON.stringify({ v: 1, type: 'click' }), JSON.stringify(clickRow('pageview-1', 2)), '{"v":1,"type":"cl'].join('\n');
    const parsed = parseClickLog(text);
    expect(parsed.rows.map((r) => r.type)).toEqual(['view', 'click']);
    expect(parsed.rejected).toBe(2);
    expect(parsed.torn).toBe(true);
  });

  it('rejects rows with titles instead of ids, bad sides, other versions and hostile page-view ids', () => {
    const bad = [
      { ...viewRow('pageview-1'), local: ['Stranger Things'] },
      { ...clickRow('pageview-1', 1), side: 'middle' },
      { ...clickRow('pageview-1', 1), v: 2 },
      { ...clickRow('../../etc', 1) },
      { ...clickRow('pageview-1', -1) },
    ];
    const parsed = parseClickLog(`${bad.map((r) => JSON.stringify(r)).join('\n')}\n`);
    expect(parsed.rows).toEqual([]);
    expect(parsed.rejected).toBe(bad.length);
    expect(parsed.torn).toBe(false);
  });

  it('drops unknown keys from valid rows', () => {
    const parsed = parseClickLog(`${JSON.stringify({ ...clickRow('pageview-1', 1), title: 'secret' })}\n`);
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
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(clickRow(`pageview-${String(i).padStart(4, '0')}`, i))));
    const parsed = (await readClickLog(file))!;
    expect(parsed.rows).toHaveLength(200);
    expect(parsed.rejected).toBe(0);
    expect(new Set(parsed.rows.map((r) => (r as ClickRow).item)).size).toBe(200);
  });

  it('terminates a torn line left by a crashed writer so the next row stays intact', async () => {
    const file = path.join(dir, 'clicks.jsonl');
    await fs.writeFile(file, `${JSON.stringify(viewRow('pageview-1'))}\n{"v":1,"type":"cli`);
    const log = new ClickLog(file, { logger: silentLogger });
    await log.append(clickRow('pageview-1', 2));
    const parsed = (await readClickLog(file))!;
    expect(parsed.rows.map((r) => r.type)).toEqual(['view', 'click']);
    expect(parsed.rejected).toBe(1);
    expect(parsed.torn).toBe(false);
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
      for (let i = 0; i < Number(n); i++) rows.push(log.append({ v: 1, type: 'click', at: new Date().toISOString(), pageView: who + '-' + String(i).padStart(6, '0'), side: 'left', arm: 'local', item: i, rank: 1 }));
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
