import { defineConfig } from 'vitest/config';

// Three tiers (see docs/testing.md): unit tests beside the code, database tests (*.db.test.ts) on
// PGlite or on the Postgres at TEST_DATABASE_URL, and end-to-end tests that start real processes.
export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['apps/*/src/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'tools/**/*.test.ts', 'test/*.test.ts'],
          exclude: ['**/*.db.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'db',
          include: ['apps/*/src/**/*.db.test.ts', 'packages/*/src/**/*.db.test.ts', 'test/*.db.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real processes on a 2-core machine: one file at a time.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          // One chromium and one `mic start` at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
