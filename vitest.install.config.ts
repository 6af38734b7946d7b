import { defineConfig } from 'vitest/config';

/**
 * The install-into-a-project test (`npm run test:install`): it installs the packed tool into an
 * empty project and runs it there, which takes minutes on a loaded machine, so it is not part of
 * `npm test`; CI runs it as a step of its own.
 */
export default defineConfig({
  test: {
    include: ['test/install/**/*.e2e.ts'],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    pool: 'forks',
  },
});
