// One build for everything: the React renderer with Vite, then main, preload and the CLI bundled with esbuild.
import { build as viteBuild } from 'vite';
import { build as esbuild } from 'esbuild';
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const quiet = process.argv.includes('--quiet');

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: quiet ? 'warning' : 'info',
};

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

await viteBuild({
  // vite.config.ts is ESM in a CommonJS package; the runner loader handles that without a warning.
  configLoader: 'runner',
  configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
  logLevel: quiet ? 'warn' : 'info',
});

await Promise.all([
  // Main and preload run inside Electron: `electron` is provided by the runtime.
  esbuild({
    ...common,
    entryPoints: { main: 'src-main/app/main.ts' },
    outdir: 'dist/main',
    external: ['electron'],
  }),
  // Sandboxed preloads must be a single CommonJS file that only requires `electron`.
  esbuild({
    ...common,
    entryPoints: { preload: 'src-main/preload.ts' },
    outdir: 'dist/preload',
    external: ['electron'],
  }),
  // The headless CLI must never load Electron; bundling everything makes `npx minion-agent` self-contained.
  esbuild({
    ...common,
    entryPoints: { 'minion-agent': 'src-main/cli/minion-agent.ts' },
    outdir: 'dist/cli',
    // electron-updater requires `electron` lazily on Electron-only paths; never bundle (or run) its downloader.
    external: ['electron'],
    // V8 keeps the whole source of the running script on its heap, two bytes per character as soon as one
    // character is not Latin-1 (comments esbuild keeps held `…`, `–`, `≤`): 5.1 MB for the 2.5 MB bundle.
    // Without comments and indentation, all ASCII, it is 1.7 MB, one byte each: ~3 MB less heap and RSS for every
    // running agent, and less to parse at startup. Names are kept; stack positions map back through the .map file
    // (`node --enable-source-maps`).
    charset: 'ascii',
    minifyWhitespace: true,
    banner: { js: '#!/usr/bin/env node' },
  }),
]);
chmodSync(new URL('../dist/cli/minion-agent.js', import.meta.url), 0o755);

// npm links a package's own `bin` only for its dependents; link it here too so `npx minion-agent` works in this
// checkout after a build (npx looks in node_modules/.bin first).
if (process.platform !== 'win32') {
  const binDir = new URL('../node_modules/.bin/', import.meta.url);
  mkdirSync(binDir, { recursive: true });
  const link = fileURLToPath(new URL('minion-agent', binDir));
  rmSync(link, { force: true });
  symlinkSync('../../dist/cli/minion-agent.js', link);
}
