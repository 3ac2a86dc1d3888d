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
    env: { LOG_LEVEL: 'silent' },
  },
});
