import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runParticipantPass, type ParticipantContext, type PassResult } from '../../src/participant/node';
import { createMatcher, loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig } from '../../src/shared/config';
import { readDelta } from '../../src/shared/delta';
import type { ErrorCode } from '../../src/shared/errors';
import { MAX_HISTORY_BYTES, MAX_HISTORY_ROWS } from '../../src/shared/history';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { historyFor, put, writeRepeated, writeSmallCatalog } from '../helpers/data';
import { isAlive, logLines, startCli, waitFor } from '../helpers/process';
import { AGGREGATOR, APP, cliEnv, createRoot, type TestRoot } from '../helpers/root';

/**
 * Hostile viewing histories go through the participant (not only the parser):
 * several profiles of one datasite, hostile ones between good ones. Each hostile
 * export is reported in `failed` with its file and error code, the pass itself
 * completes, the good profiles publish, and nothing at all (published folder,
 * private state) is written for a hostile one.
 */
const ME = 'viewer@example.org';
const RANK = 4;
const NOW = new Date('2022-01-01T00:00:00Z');
const EXPORT = 'NetflixViewingHistory.csv';

let root: TestRoot;
let catalog: Catalog;
let catalogFile: string;
let outputDir: string;
let ws: Workspace;
beforeEach(async () => {
  root = await createRoot();
  catalogFile = await writeSmallCatalog(path.join(root.dataDir, 'catalog.json'), 200);
  catalog = await loadCatalog(catalogFile);
  outputDir = path.join(root.dataDir, 'exports');
  createEmbeddedDatasite(root.dataDir, ME);
  ws = new Workspace({ email: ME, dataDir: root.dataDir }, APP);
});
afterEach(async () => {
  await root.cleanup();
});

const exportOf = (profile: string) => path.join(outputDir, profile, EXPORT);
const profiles = (n: number) => Array.from({ length: n }, (_, i) => `profile_${i}`);

/** A participant context over `profileNames`, logging into `logs`. */
function participant(profileNames: string[], logs: Record<string, unknown>[] = []): ParticipantContext {
  const config = loadConfig({
    appDir: root.dataDir,
    dotenv: false,
    // hostile exports against the plain path, where each good profile publishes a delta
    env: { APP_NAME: APP, AGGREGATOR_DATASITE: AGGREGATOR, OUTPUT_DIR: outputDir, NETFLIX_PROFILES: profileNames.join(','), CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), LOCAL_EPOCHS: '2', SECURE_AGGREGATION: 'off' },
  });
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  return { config, ws, catalog, matcher: createMatcher(catalog), logger, now: () => NOW, noiseRandom: () => createRandom(3) };
}

/** The published delta of a profile, checked against the model. */
const publishedDelta = (profile: string) => readDelta(ws.profileDir(profile), { items: catalog.items.length, rank: RANK, vocabHash: catalog.hash });

/** Nothing of `profile` was written: no published folder, no private state. */
function expectNothingWritten(profile: string): void {
  expect(existsSync(ws.profileDir(profile)), `${profile} published folder`).toBe(false);
  expect(existsSync(ws.privateDir(profile)), `${profile} private state`).toBe(false);
}

function expectFailure(result: PassResult, profile: string, code: ErrorCode, detail?: RegExp): void {
  const file = exportOf(profile);
  const failure = result.failed.find((f) => f.file === file);
  expect(failure, `${profile}: expected ${code}`).toBeDefined();
  expect(failure!.error.startsWith(`${code}: `), failure!.error).toBe(true);
  expect(failure!.error).toContain(file);
  if (detail) expect(failure!.error).toMatch(detail);
}

/** Every file in the published tree is complete: none empty, no temporary left over. */
async function expectNoHalfWrittenFiles(): Promise<void> {
  const files = (await fs.readdir(ws.datasite(), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  for (const entry of files) {
    const file = path.join(entry.parentPath, entry.name);
    expect(file.endsWith('.tmp'), file).toBe(false);
    expect((await fs.stat(file)).size, file).toBeGreaterThan(0);
  }
}

describe('hostile exports next to good ones', () => {
  it('reports each hostile export with its file and code, and the good profiles still publish', async () => {
    const good = historyFor(catalog, 0);
    const goodRows = good.trimEnd().split('\n').slice(1);
    const elsewhere = await put(path.join(root.dataDir, 'elsewhere', EXPORT), good);
    // profile_0 and the last profile are good; every profile between them is hostile
    const cases: { what: string; code: ErrorCode | null; detail?: RegExp; write: (file: string) => Promise<unknown> }[] = [
      { what: 'good (first)', code: null, write: (f) => put(f, good) },
      { what: 'empty', code: 'ERR_HISTORY_EMPTY', detail: /is empty/, write: (f) => put(f, '') },
      { what: 'header only', code: 'ERR_HISTORY_EMPTY', detail: /header but no data rows/, write: (f) => put(f, 'Title,Date\n') },
      { what: 'binary garbage', code: 'ERR_HISTORY_BINARY', detail: /not UTF-8 text/, write: (f) => put(f, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256))) },
      { what: 'wrong columns', code: 'ERR_HISTORY_COLUMNS', detail: /row 1: columns "userId,movieId,rating"/, write: (f) => put(f, 'userId,movieId,rating\n1,31,4.5\n') },
      { what: 'unparseable dates', code: 'ERR_HISTORY_DATE', detail: /row 2: no row has a readable date/, write: (f) => put(f, 'Title,Date\nDark,yesterday\nOzark,31/02/2021\n') },
      { what: 'day-first and month-first dates', code: 'ERR_HISTORY_DATE', detail: /mixes date formats: row 2 and row 3 have a day first and second/, write: (f) => put(f, 'Title,Date\nDark,13/03/2021\nOzark,03/14/2021\n') },
      { what: 'year-first and year-last dates', code: 'ERR_HISTORY_DATE', detail: /mixes date formats: row 2 and row 3 put the year first and last/, write: (f) => put(f, 'Title,Date\nDark,2021-03-13\nOzark,13/03/2021\n') },
      { what: 'undecidable day/month order', code: 'ERR_HISTORY_DATE_AMBIGUOUS', detail: /set DATE_ORDER=dmy/, write: (f) => put(f, 'Title,Date\nDark,01/03/2021\nOzark,03/04/2021\n') },
      { what: 'every date in the future', code: 'ERR_HISTORY_EMPTY', detail: new RegExp(`no usable row \\(${goodRows.length} rows, skipped: ${goodRows.length} future\\)`), write: (f) => put(f, good.replaceAll('/2021', '/2031')) },
      { what: 'an unclosed quote', code: 'ERR_HISTORY_CSV', detail: /row 3: a quoted field is never closed/, write: (f) => put(f, 'Title,Date\nDark,13/03/2021\n"Ozark,14/03/2021\n') },
      { what: 'a symlink to a good export', code: 'ERR_FILE_NOT_REGULAR', detail: /is a symlink/, write: async (f) => (await fs.mkdir(path.dirname(f), { recursive: true }), fs.symlink(elsewhere, f)) },
      { what: 'a folder', code: 'ERR_FILE_NOT_REGULAR', detail: /is not a regular file/, write: (f) => fs.mkdir(f, { recursive: true }) },
      { what: 'a FIFO', code: 'ERR_FILE_NOT_REGULAR', detail: /is not a regular file/, write: async (f) => (await fs.mkdir(path.dirname(f), { recursive: true }), execFileSync('mkfifo', [f])) },
      {
        what: `larger than ${MAX_HISTORY_BYTES} bytes (sparse)`,
        code: 'ERR_FILE_TOO_LARGE',
        detail: new RegExp(`is ${MAX_HISTORY_BYTES + 1} bytes; a viewing history may be at most ${MAX_HISTORY_BYTES} bytes`),
        write: async (f) => (await put(f, 'Title,Date\n'), fs.truncate(f, MAX_HISTORY_BYTES + 1)),
      },
      { what: 'some dates in the future', code: null, write: (f) => put(f, `Title,Date\n${goodRows.map((r, i) => (i % 3 === 0 ? r.replace('/2021', '/2031') : r)).join('\n')}\n`) },
      { what: 'good (last)', code: null, write: (f) => put(f, historyFor(catalog, 1)) },
    ];
    const names = profiles(cases.length);
    for (const [i, c] of cases.entries()) await c.write(exportOf(names[i]));
    const logs: Record<string, unknown>[] = [];

    const result = await runParticipantPass(participant(names, logs));

    const goodNames = names.filter((_, i) => cases[i].code === null);
    expect(result.profiles.map((p) => [p.profile, p.status])).toEqual(goodNames.map((p) => [p, 'published']));
    expect(result.missing).toEqual([]);
    expect(result.failed).toHaveLength(cases.length - goodNames.length);
    for (const [i, c] of cases.entries()) {
      if (c.code === null) {
        const outcome = result.profiles.find((p) => p.profile === names[i]);
        expect((await publishedDelta(names[i]))?.manifest.sha256, c.what).toBe(outcome?.status === 'published' ? outcome.manifest.sha256 : 'not published');
        continue;
      }
      expectFailure(result, names[i], c.code, c.detail);
      expectNothingWritten(names[i]);
      // the log names the file and the code too (level 50 = error)
      expect(logs.some((l) => l.level === 50 && l.file === exportOf(names[i]) && l.code === c.code), c.what).toBe(true);
    }
    // the rows dated in the future were skipped, and the warning names their rows
    const future = names[cases.findIndex((c) => c.what === 'some dates in the future')];
    expect(logs).toContainEqual(expect.objectContaining({ level: 40, file: exportOf(future), reason: 'future', rows: [2, 5, 8, 11, 14] }));
    await expectNoHalfWrittenFiles();
  });

  it('an export replaced while it is being read is ERR_HISTORY_CHANGED, and nothing is published for it', async () => {
    const names = profiles(3);
    await put(exportOf('profile_0'), historyFor(catalog, 0));
    await put(exportOf('profile_2'), historyFor(catalog, 2));
    // two large exports of different content; the target is replaced by fresh copies of them, over and over
    const versions = [historyFor(catalog, 10, 60_000), historyFor(catalog, 11, 60_000)];
    const sources = await Promise.all(versions.map((text, i) => put(path.join(root.dataDir, 'staging', `v${i}.csv`), text)));
    const target = exportOf('profile_1');
    await put(target, versions[0]);
    let settled = false;
    const pass = runParticipantPass(participant(names)).finally(() => {
      settled = true;
    });
    for (let i = 0; !settled; i++) {
      const copy = path.join(root.dataDir, 'staging', `copy-${i}.csv`);
      await fs.copyFile(sources[i % 2], copy);
      await fs.rename(copy, target);
    }
    const result = await pass;

    expect(result.failed).toEqual([{ file: target, error: expect.stringMatching(/^ERR_HISTORY_CHANGED: .* changed while it was being read/) }]);
    expect(result.failed[0].error).toContain(target);
    expectNothingWritten('profile_1');
    expect(result.profiles.map((p) => [p.profile, p.status])).toEqual([
      ['profile_0', 'published'],
      ['profile_2', 'published'],
    ]);
    await expectNoHalfWrittenFiles();
  });

  it(`an export of 2 million rows is refused as it streams past ${MAX_HISTORY_ROWS} rows; the next profile publishes`, async () => {
    const names = profiles(2);
    const titles = catalog.items.slice(0, 100).map((item) => item.title);
    const chunk = `${Array.from({ length: 1000 }, (_, i) => `"${titles[i % titles.length]}",${13 + (i % 15)}/03/2021`).join('\n')}\n`;
    await writeRepeated(exportOf('profile_0'), 'Title,Date\n', chunk, 2000);
    await put(exportOf('profile_1'), historyFor(catalog, 1));

    const result = await runParticipantPass(participant(names));

    expectFailure(result, 'profile_0', 'ERR_FILE_TOO_LARGE', new RegExp(`row ${MAX_HISTORY_ROWS + 2}: more than ${MAX_HISTORY_ROWS} data rows`));
    expectNothingWritten('profile_0');
    expect(result.profiles.map((p) => [p.profile, p.status])).toEqual([['profile_1', 'published']]);
  });
});

describe('hostile exports and the participant process', () => {
  it('a 200 MB export is refused within a 256 MiB heap by `participant --once`; the good profile publishes', async () => {
    const chunk = `${historyFor(catalog, 7, 1000).split('\n').slice(1).join('\n')}`;
    const bytes = await writeRepeated(exportOf('profile_0'), 'Title,Date\n', chunk, Math.ceil((200 * 2 ** 20) / Buffer.byteLength(chunk)));
    expect(bytes).toBeGreaterThanOrEqual(200 * 2 ** 20);
    expect(bytes).toBeLessThan(MAX_HISTORY_BYTES);
    await put(exportOf('profile_1'), historyFor(catalog, 1));
    const env = cliEnv(root, ME, {
      OUTPUT_DIR: outputDir,
      NETFLIX_PROFILES: 'profile_0,profile_1',
      CATALOG_PATH: catalogFile,
      MODEL_RANK: String(RANK),
      LOG_LEVEL: 'error',
      // a parser that held the file's text (or its rows' events) whole would not fit
      NODE_OPTIONS: '--max-old-space-size=256',
    });

    const exit = await startCli(['participant', '--once'], env).done;

    expect(exit.code, exit.stderr).toBe(1);
    const errors = logLines(exit.stdout).filter((l) => l.level === 50);
    expect(errors).toEqual([expect.objectContaining({ file: exportOf('profile_0'), code: 'ERR_FILE_TOO_LARGE', msg: expect.stringContaining(`more than ${MAX_HISTORY_ROWS} data rows`) })]);
    expectNothingWritten('profile_0');
    expect(await publishedDelta('profile_1')).not.toBeNull();
  });

  it('the participant daemon keeps running on hostile exports and publishes once the export is fixed', async () => {
    await put(exportOf('profile_0'), historyFor(catalog, 0));
    await put(exportOf('profile_1'), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]));
    const env = cliEnv(root, ME, {
      OUTPUT_DIR: outputDir,
      NETFLIX_PROFILES: 'profile_0,profile_1',
      CATALOG_PATH: catalogFile,
      MODEL_RANK: String(RANK),
      LOG_LEVEL: 'error',
      WATCH_DEBOUNCE_MS: '100',
    });
    const run = startCli(['participant'], env);
    let stdout = '';
    run.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const errorFor = (code: ErrorCode) => logLines(stdout).find((l) => l.level === 50 && l.file === exportOf('profile_1') && l.code === code);
    try {
      await waitFor(async () => errorFor('ERR_HISTORY_BINARY') && existsSync(ws.deltaManifest('profile_0')), 'the first pass');
      expect(isAlive(run.child.pid)).toBe(true);

      await put(exportOf('profile_1'), 'Title,Date\n');
      await waitFor(async () => errorFor('ERR_HISTORY_EMPTY'), 'the header-only export to be reported');
      expect(isAlive(run.child.pid)).toBe(true);
      expectNothingWritten('profile_1');

      await put(exportOf('profile_1'), historyFor(catalog, 1));
      await waitFor(async () => existsSync(ws.deltaManifest('profile_1')), 'profile_1 to publish');
      expect(await publishedDelta('profile_1')).not.toBeNull();
    } finally {
      run.child.kill('SIGTERM');
    }
    const exit = await run.done;
    expect(exit.code, exit.stderr).toBe(0);
  });
});
