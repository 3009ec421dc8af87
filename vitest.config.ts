import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    globalSetup: ['tests/support/build-client.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
