// What `minion-agent run` compiles and initialises at startup is its idle footprint (docs/performance.md, round 2
// part B and round 3). The entry bundle (dist/cli/minion-agent.js) holds only what a plain `run` needs; the full
// program, the dashboard and the update service are sibling bundles it loads when asked (scripts/cli-bundles.mjs).
// This builds the CLI bundles with the build's own options and checks, from esbuild's metafile, what goes into the
// entry (compiled by every agent) and what of it is reachable through static imports (initialised by every agent).
import { resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliBundleOptions, SIBLING_BUNDLES } from '../../scripts/cli-bundles.mjs';

const root = resolve(__dirname, '../..');
const ENTRY = 'src-main/cli/minion-agent.ts';

let metafile: Metafile;
/** Source files compiled into the entry bundle. */
let entryInputs: string[];
/** Modules the entry bundle `require`s at run time (node builtins and sibling bundles). */
let entryExternals: string[];

/** Inputs reachable from the entry through static imports (and `require` calls, to be safe). */
function staticallyReachable(): Set<string> {
  const seen = new Set<string>();
  const stack = [ENTRY];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const edge of metafile.inputs[file]?.imports ?? []) {
      if (edge.external) continue;
      if (edge.kind === 'import-statement' || edge.kind === 'require-call') stack.push(edge.path);
    }
  }
  return seen;
}

/** What only other commands, the dashboard or the updater need. */
function notForRun(file: string): boolean {
  return (
    file.startsWith('node_modules/commander/') ||
    file.startsWith('node_modules/zod/v4/classic/') ||
    (file.startsWith('node_modules/zod/v4/locales/') && !file.endsWith('/en.js')) ||
    file.startsWith('node_modules/ws/') ||
    file.startsWith('node_modules/electron-updater/') ||
    file.startsWith('node_modules/builder-util-runtime/') ||
    file === 'src-shared/ipc.ts' ||
    file.startsWith('src-main/bridge/web-server') ||
    file.startsWith('src-main/bridge/handlers') ||
    file.startsWith('src-main/bridge/link-channel') ||
    file.startsWith('src-main/sandbox/') ||
    file.startsWith('src-main/updates/legacy') ||
    file.startsWith('src-main/updates/update-service') ||
    file.startsWith('src-main/updates/headless-updater') ||
    file === 'src-main/cli/program.ts' ||
    file === 'src-main/cli/wiring.ts' ||
    file === 'src-main/cli/demo.ts' ||
    file.startsWith('src-main/cli/commands/repl') ||
    file.startsWith('src-main/cli/commands/sandbox') ||
    file.startsWith('src-main/cli/commands/spool') ||
    file === 'src-main/cli/commands/upgrade.ts'
  );
}

describe('what the CLI compiles and initialises for `run`', () => {
  beforeAll(async () => {
    const [entryOptions] = cliBundleOptions({
      absWorkingDir: root,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'silent',
    });
    const result = await build({ ...entryOptions, metafile: true, write: false });
    metafile = result.metafile;
    const output = Object.values(metafile.outputs).find((o) => o.entryPoint === ENTRY);
    if (!output) throw new Error('no output for the CLI entry');
    entryInputs = Object.keys(output.inputs);
    entryExternals = output.imports.filter((i) => i.external).map((i) => i.path);
  }, 60_000);

  it('the entry holds the core, the config schema and the run command (the checks below are not vacuous)', () => {
    const reachable = staticallyReachable();
    expect(reachable.has('src-shared/config.ts')).toBe(true);
    expect(reachable.has('src-main/cli/run.ts')).toBe(true);
    expect([...reachable].some((f) => f.startsWith('node_modules/zod/v4/mini/'))).toBe(true);
    expect([...reachable].some((f) => f.startsWith('src-main/agent/spool/'))).toBe(true);
    expect(entryInputs).toContain('src-main/agent/logs/tailer.ts');
  });

  it('the entry does not even compile the other commands, commander, the dashboard, ws, the sandbox or the updater', () => {
    expect(entryInputs.filter(notForRun)).toEqual([]);
  });

  it('the full program, the dashboard and the update service are sibling bundles, loaded with their command', () => {
    expect(Object.keys(SIBLING_BUNDLES).sort()).toEqual(['dashboard', 'full-program', 'updater']);
    expect(entryExternals).toEqual(expect.arrayContaining(['./full-program', './dashboard', './updater']));
  });

  it('the entry loads neither node:http, node:https nor node:readline, and node:tls only lazily', () => {
    const builtins = entryExternals.map((path) => path.replace(/^node:/, ''));
    expect(builtins.filter((b) => b === 'http' || b === 'https' || b === 'readline')).toEqual([]);
    // node:tls is behind an `import()` in the connection (kind 'dynamic-import'), never a static import.
    const tlsImports = Object.values(metafile.inputs).flatMap((input) =>
      input.imports.filter((i) => i.path === 'node:tls'),
    );
    expect(tlsImports.length).toBeGreaterThan(0);
    expect(tlsImports.filter((i) => i.kind !== 'dynamic-import')).toEqual([]);
  });
});
