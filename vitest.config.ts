import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous on purpose: the slowest test must still pass on a machine five
    // times slower than a developer's with other test files running beside it.
    // Tests wait on state (test/helpers/process.ts `waitFor`), never on time.
    testTimeout: 300_000, // 5 min
    hookTimeout: 300_000, // 5 min
    pool: 'forks',
    // Two test files at a time, on purpose (vitest's default on 2 cores is one): the
    // slow files spend much of their time waiting on child processes and on secure-round
    // deadlines, so a second worker fills the idle core. Files do not collide: each
    // uses its own temporary root and asks the OS for free ports.
    maxWorkers: 2,
    env: { LOG_LEVEL: 'silent' },
  },
});
