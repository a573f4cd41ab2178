/** Bundles the real preload against the browser shim into one script for `addInitScript`. */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

let cached: Promise<string> | null = null;

export function bundlePreload(): Promise<string> {
  cached ??= build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [join(REPO_ROOT, 'src-main/preload.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    target: 'chrome130',
    alias: { electron: join(REPO_ROOT, 'test/e2e/support/electron-shim.ts') },
    logLevel: 'silent',
  }).then((result) => {
    const file = result.outputFiles[0];
    if (!file) throw new Error('esbuild produced no preload bundle');
    return file.text;
  });
  return cached;
}
