// One build for everything: the React renderer with Vite, then main, preload and the CLI bundled with esbuild.
import { build as viteBuild } from 'vite';
import { build as esbuild } from 'esbuild';
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cliBundleOptions } from './cli-bundles.mjs';

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
    // The same core as the CLI, kept on V8's heap as source: all ASCII and without comments it is stored one byte
    // per character (see scripts/cli-bundles.mjs).
    charset: 'ascii',
    minifyWhitespace: true,
  }),
  // Sandboxed preloads must be a single CommonJS file that only requires `electron`.
  esbuild({
    ...common,
    entryPoints: { preload: 'src-main/preload.ts' },
    outdir: 'dist/preload',
    external: ['electron'],
  }),
  // The headless CLI must never load Electron; bundling everything makes `npx minion-agent` self-contained. Split
  // into the run-only entry, the full program and the dashboard (scripts/cli-bundles.mjs).
  ...cliBundleOptions(common).map((options) => esbuild(options)),
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
