// What `minion-agent run` initialises at startup is its idle footprint (docs/performance.md, round 2 part B): the
// modules reachable from the CLI entry through static imports run their initialisers in every agent process,
// while those behind a dynamic `import()` load only with their command. This walks esbuild's metafile of the CLI
// bundle the way the build makes it and checks that the heavy parts only the dashboard or other commands need stay
// behind a dynamic import.
import { resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const ENTRY = 'src-main/cli/minion-agent.ts';

let inputs: Metafile['inputs'];

/** Inputs reachable from the entry through static imports (and top-level-or-not `require` calls, to be safe). */
function staticallyReachable(): Set<string> {
  const seen = new Set<string>();
  const stack = [ENTRY];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const edge of inputs[file]?.imports ?? []) {
      if (edge.external) continue;
      if (edge.kind === 'import-statement' || edge.kind === 'require-call') stack.push(edge.path);
    }
  }
  return seen;
}

describe('what the CLI initialises at startup', () => {
  beforeAll(async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [ENTRY],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['electron'],
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    inputs = result.metafile.inputs;
  }, 60_000);

  it('the walk sees the core and the config schema (the check below is not vacuous)', () => {
    const reachable = staticallyReachable();
    expect(reachable.has('src-shared/config.ts')).toBe(true);
    expect([...reachable].some((f) => f.startsWith('node_modules/zod/v4/mini/'))).toBe(true);
    expect([...reachable].some((f) => f.startsWith('src-main/agent/spool/'))).toBe(true);
  });

  it('neither zod’s chained API, the dashboard, ws nor the sandbox server is initialised by every run', () => {
    const reachable = [...staticallyReachable()];
    const heavy = reachable.filter(
      (f) =>
        f.startsWith('node_modules/zod/v4/classic/') ||
        f.startsWith('node_modules/ws/') ||
        f === 'src-shared/ipc.ts' ||
        f.startsWith('src-main/bridge/web-server') ||
        f.startsWith('src-main/bridge/handlers') ||
        f.startsWith('src-main/sandbox/'),
    );
    expect(heavy).toEqual([]);
  });
});
