import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end files start Prometheus, Alertmanager and Chromium; two at once is
    // what a 2-core machine carries without starving the probes under test.
    maxWorkers: 2,
  },
});
