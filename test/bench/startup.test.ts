import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInto, startupCommands, timeCommands } from '../../src/bench/startup';
import { COMMANDS } from '../../src/commands/index';
import { PROJECT_ROOT } from '../../src/shared/config';

/** The production build: bundled once into a folder of this test's own, then run as plain Node. */
const run = promisify(execFile);
const DIST = path.join(PROJECT_ROOT, `.test-dist-${process.pid}`);
const BUILD_MS = 300_000;

describe('production build (npm run build)', () => {
  beforeAll(() => buildInto(DIST), BUILD_MS);
  afterAll(() => fs.rm(DIST, { recursive: true, force: true }));

  it('node <build>/cli.js --help lists every command', async () => {
    const { stdout } = await run(process.execPath, [path.join(DIST, 'cli.js'), '--help'], { cwd: PROJECT_ROOT });
    for (const { name, summary } of COMMANDS) expect(stdout).toContain(`  ${name.padEnd(12)} ${summary}`);
  });

  it('runs a command end to end: ingest of the shipped demo export, the same JSON as from the sources', async () => {
    const commands = startupCommands(DIST);
    const [built, sources] = await Promise.all(
      [commands['build ingest'], commands['tsx ingest']].map((args) => run(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, LOG_LEVEL: 'silent' } })),
    );
    const report = JSON.parse(built.stdout) as { rows: number; matched: number };
    expect(report.rows).toBeGreaterThan(100);
    expect(report.matched).toBeGreaterThan(0);
    expect(JSON.parse(built.stdout)).toEqual(JSON.parse(sources.stdout));
  }, BUILD_MS);

  it('starts --help faster than tsx does (medians of interleaved runs)', async () => {
    const commands = startupCommands(DIST);
    const medians = await timeCommands({ build: commands['build --help'], tsx: commands['tsx --help'] }, 5);
    // tsx compiles every module it loads; the build loads two small files. Measured ~4x on an idle machine.
    expect(medians.build).toBeLessThan(medians.tsx * 0.75);
  }, BUILD_MS);
});
