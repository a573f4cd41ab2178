// Mutation testing (StrykerJS), not part of `npm test` or CI: too slow for the 2-core budget. Run it with
// `npm run test:mutation` (scripts/mutation.mjs), which mutates each boundary against its own tests; see
// docs/testing.md for the scores and how to run one file.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.mts', related: true },
  // The boundaries where a silent bug loses data or lets someone in.
  mutate: [
    'src-main/agent/spool/**/*.ts',
    'src-main/agent/protocol/**/*.ts',
    'src-main/agent/commands/policy.ts',
    'src-main/bridge/web-server.ts',
    'src-main/app/ipc-main.ts',
  ],
  // Tests run per mutant only where the mutant is covered; 2 workers fit the 2-core machine.
  coverageAnalysis: 'perTest',
  // Module-level mutants (constants, tables) are left out: the vitest runner does not re-evaluate a module's top
  // level per mutant here, so they would be reported as surviving whatever the tests do (checked by hand: emptying
  // an entry of repl-syntax's VERBS table fails 10 tests, yet Stryker reported it surviving).
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  incrementalFile: 'reports/mutation/incremental.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  // The sandbox copy needs only what the tests read, not build output, earlier reports or the sandboxes of areas
  // running at the same time (copying one while it changes fails the run).
  ignorePatterns: ['dist', 'release', 'reports', 'coverage', 'test/e2e/artifacts', '.tools', '.stryker-tmp*'],
};
