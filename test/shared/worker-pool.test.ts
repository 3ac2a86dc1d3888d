import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/shared/config';
import { WorkerPool } from '../../src/shared/worker-pool';

// start-up work that lasts until the test says so ({ go: true }, sent to the thread directly), then an echo
const GATED_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.once('message', () => {
  parentPort.postMessage({ ready: true });
  parentPort.on('message', (job) => parentPort.postMessage({ id: job.id, echo: job.value }));
});
`;

interface Echo {
  id: number;
  echo?: number;
}

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'worker-pool-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('WorkerPool with announcesReady', () => {
  let pool: WorkerPool<Echo> | null = null;
  afterEach(() => pool?.stop());

  it('is started only once each thread said it is ready, and that message is no job reply', async () => {
    pool = new WorkerPool<Echo>(GATED_SOURCE, { name: 'test worker', maxThreads: 1, announcesReady: true });
    let ready = false;
    const started = pool.started().then(() => (ready = true));
    const [thread] = pool.current();
    await once(thread.worker, 'online');
    await new Promise((resolve) => setImmediate(resolve)); // a started() that resolved at 'online' has run by now
    expect(ready).toBe(false);
    thread.worker.postMessage({ go: true });
    await started;
    const reply = await pool.submit(thread, { value: 7 });
    expect(reply).toMatchObject({ echo: 7 });
    expect(thread.busy).toBe(0);
  });

  it('keeps its process alive through a thread’s start-up work, and lets it exit once the thread is ready', async () => {
    const script = path.join(dir, 'ready.mts');
    const marker = path.join(dir, 'started-up');
    // start-up work (tens of ms of CPU), then a file that says it is done
    const source = `
      const { parentPort } = require('node:worker_threads');
      let x = 0;
      for (let i = 0; i < 3e7; i++) x += i % 7;
      require('node:fs').appendFileSync(${JSON.stringify(marker)}, 'done ');
      parentPort.postMessage({ ready: true });
      parentPort.on('message', (job) => parentPort.postMessage({ id: job.id }));
    `;
    await fs.writeFile(
      script,
      `import { readFileSync } from 'node:fs';\n` +
        `import { WorkerPool } from ${JSON.stringify(path.join(PROJECT_ROOT, 'src', 'shared', 'worker-pool.ts'))};\n` +
        `const pool = new WorkerPool(${JSON.stringify(source)}, { name: 'test worker', maxThreads: 2, announcesReady: true });\n` +
        `void pool.started().then(() => process.stdout.write(readFileSync(${JSON.stringify(marker)}, 'utf8')));\n`,
    );
    // no timeout of its own: a process that never exits fails the test at vitest's limit
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', script], { cwd: PROJECT_ROOT }, (err, out) => (err ? reject(err) : resolve(out)));
    });
    expect(stdout).toBe('done '.repeat(Math.min(2, os.availableParallelism())));
  }, 600_000);
});
