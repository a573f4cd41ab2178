import { resolve } from 'node:path';

// The headless CLI's bundles in dist/cli, shared by scripts/build.mjs and test/cli/startup-imports.test.ts (which
// checks what the `run` path compiles). Four CommonJS files:
// - minion-agent.js, the entry (the package's `bin`): argument recognition for a plain `run` and the agent core,
//   nothing else; a long-running agent compiles and initialises only this.
// - full-program.js: commander and every subcommand, for every other command line.
// - dashboard.js: the web dashboard (`run --ui` or `ui.enabled`), loaded when one starts.
// - updater.js: the update service (electron-updater's machinery), loaded on the server's first `internal upgrade`.
// The bundles reach each other through dynamic imports (`import('./dashboard')`); the plugin below keeps those as
// `require`s of the sibling file instead of inlining the modules.

/** Modules of src-main/cli bundled as files of their own (dist/cli/<name>.js). */
export const SIBLING_BUNDLES = {
  'full-program': 'src-main/cli/full-program.ts',
  dashboard: 'src-main/cli/dashboard.ts',
  updater: 'src-main/cli/updater.ts',
};

const siblingName = new RegExp(`(^|/)(${Object.keys(SIBLING_BUNDLES).join('|')})$`);

/**
 * esbuild plugin: an import of one of those modules (`import('./dashboard')`, `import('../updater')`) stays a
 * runtime `require('./dashboard')` of the sibling file instead of inlining the module.
 */
export const siblingBundlesPlugin = {
  name: 'cli-sibling-bundles',
  setup(build) {
    build.onResolve({ filter: siblingName }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const name = siblingName.exec(args.path)[2];
      const target = resolve(args.resolveDir, args.path);
      const expected = resolve(build.initialOptions.absWorkingDir ?? process.cwd(), 'src-main/cli', name);
      return target === expected ? { path: `./${name}`, external: true } : undefined;
    });
  },
};

/** The esbuild options of the CLI's bundles, on top of `common` (absWorkingDir, bundle, platform, format …). */
export function cliBundleOptions(common) {
  const cli = {
    ...common,
    outdir: 'dist/cli',
    // electron-updater requires `electron` lazily on Electron-only paths; never bundle (or run) its downloader.
    external: ['electron'],
    plugins: [siblingBundlesPlugin],
    // `import()` of a sibling bundle becomes `Promise.resolve().then(() => require(...))`: no ESM loader in a
    // CommonJS process.
    supported: { 'dynamic-import': false },
    // V8 keeps the whole source of the running script on its heap, two bytes per character as soon as one
    // character is not Latin-1 (comments esbuild keeps held `…`, `–`, `≤`): 5.1 MB for the 2.5 MB bundle.
    // Without comments and indentation, all ASCII, it is one byte each: ~3 MB less heap and RSS for every running
    // agent, and less to parse at startup. Names are kept; stack positions map back through the .map files
    // (`node --enable-source-maps`).
    charset: 'ascii',
    minifyWhitespace: true,
  };
  return [
    {
      ...cli,
      entryPoints: { 'minion-agent': 'src-main/cli/minion-agent.ts' },
      banner: { js: '#!/usr/bin/env node' },
    },
    { ...cli, entryPoints: SIBLING_BUNDLES },
  ];
}
