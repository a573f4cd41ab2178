// Mutation testing (StrykerJS): `npm run test:mutation`, or one file at a time with
// `npm run test:mutation -- --mutate src-main/agent/protocol/uuid.ts`.
// Not part of `npm test` or CI: a full run takes far longer than the 2-core CI budget allows.
// Scope: the boundaries where a silent bug loses data or lets someone in (docs/testing.md).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.mts', related: true },
  mutate: [
    'src-main/agent/spool/**/*.ts',
    'src-main/agent/protocol/**/*.ts',
    'src-main/agent/commands/policy.ts',
    'src-main/bridge/web-server.ts',
    'src-main/app/ipc-main.ts',
  ],
  // Tests run per mutant only where the mutant is covered; 2 workers fit the 2-core machine.
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  // The sandbox copy needs only what the tests read, not build output or earlier reports.
  ignorePatterns: ['dist', 'release', 'reports', 'coverage', 'test/e2e/artifacts', '.tools'],
};
