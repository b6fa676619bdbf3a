import { defineConfig } from 'vitest/config';

// Five tiers (see docs/testing.md): unit tests beside the code; database tests (*.db.test.ts) on
// PGlite or on the Postgres at TEST_DATABASE_URL; database tests that measure rates against the
// wall clock (*.timing.db.test.ts); end-to-end tests that start real processes; and the console in
// chromium. Unit and database files share the two cores; the others run after them, one file at a
// time (groupOrder 1), since a busy neighbour would skew their clocks.
const ALONE = { sequence: { groupOrder: 1 }, fileParallelism: false } as const;

export default defineConfig({
  test: {
    maxWorkers: 2,
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
          exclude: ['**/*.timing.db.test.ts', '**/node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'timing',
          include: ['apps/*/src/**/*.timing.db.test.ts', 'packages/*/src/**/*.timing.db.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          ...ALONE,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          ...ALONE,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          ...ALONE,
        },
      },
    ],
  },
});
