// `npm run test:mutation [-- <area>… [stryker options]]`: StrykerJS on each boundary, killed only by that boundary's
// own tests (a mutant that only an end-to-end test notices counts as surviving). Reports per area under
// reports/mutation/<area>/ (html, json, and the incremental file that makes a re-run test only what changed).
// One file: `npm run test:mutation -- spool --mutate src-main/agent/spool/cursor.ts`. Scores: docs/testing.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import base from '../stryker.config.mjs';

export const AREAS = {
  'ipc-main': { mutate: ['src-main/app/ipc-main.ts'], testFiles: ['test/app/ipc-main.test.ts'] },
  policy: {
    mutate: ['src-main/agent/commands/policy.ts'],
    testFiles: ['test/agent/commands/policy.test.ts', 'test/agent/commands/service.test.ts'],
  },
  'web-server': { mutate: ['src-main/bridge/web-server.ts'], testFiles: ['test/bridge/web-server.test.ts'] },
  protocol: { mutate: ['src-main/agent/protocol/**/*.ts'], testFiles: ['test/agent/protocol/**/*.test.ts'] },
  spool: { mutate: ['src-main/agent/spool/**/*.ts'], testFiles: ['test/agent/spool/**/*.test.ts'] },
};

const args = process.argv.slice(2);
const names = [];
while (args.length > 0 && !args[0].startsWith('-')) names.push(args.shift());
const unknown = names.filter((name) => !(name in AREAS));
if (unknown.length > 0) {
  console.error(`Unknown area ${unknown.join(', ')}; areas: ${Object.keys(AREAS).join(', ')}`);
  process.exit(2);
}

let failed = false;
for (const name of names.length > 0 ? names : Object.keys(AREAS)) {
  const dir = join('reports', 'mutation', name);
  mkdirSync(dir, { recursive: true });
  const config = {
    ...base,
    ...AREAS[name],
    htmlReporter: { fileName: join(dir, 'index.html') },
    jsonReporter: { fileName: join(dir, 'mutation.json') },
    incremental: true,
    incrementalFile: join(dir, 'incremental.json'),
    tempDirName: `.stryker-tmp-${name}`,
  };
  const configFile = join(dir, 'stryker.config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  console.log(`== mutation testing: ${name}`);
  const run = spawnSync('npx', ['stryker', 'run', configFile, ...args], { stdio: 'inherit' });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
