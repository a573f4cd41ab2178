import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.mts';

// The suite as StrykerJS runs it against each mutant (stryker.config.mjs). Left out: tests of the built bundle
// (dist/ is built from the unmutated sources, so they could never see a mutant) and the browser e2e tests
// (Chromium per mutant is more than 2 cores can carry; the unit tests cover the same boundaries).
export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: [
        'test/e2e/**',
        'test/packaging/**',
        'test/foundation/entry-points.test.ts',
        '**/node_modules/**',
      ],
    },
  }),
);
