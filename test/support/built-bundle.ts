/**
 * For tests that run the built bundle (dist/). `npm test` builds before vitest; run on their own without a build, or
 * against a build older than the sources, these tests fail with this message instead of passing or skipping.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '../..');
const SOURCE_DIRS = ['src-main', 'src-shared', 'src-renderer'];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Throws unless every entry (relative to the repository) exists and is at least as new as every source file. */
export function requireBuiltBundle(entries: readonly string[], root = REPO_ROOT): void {
  const missing = entries.filter((entry) => !existsSync(join(root, entry)));
  if (missing.length > 0) {
    throw new Error(
      `This test runs the built bundle and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: run \`npm run build\` first ` +
        '(`npm test` builds before vitest).',
    );
  }
  const sources = Math.max(
    ...SOURCE_DIRS.filter((dir) => existsSync(join(root, dir))).map((dir) => newestMtime(join(root, dir))),
  );
  const stale = entries.filter((entry) => statSync(join(root, entry)).mtimeMs < sources);
  if (stale.length > 0) {
    throw new Error(
      `This test runs the built bundle and ${stale.join(', ')} ${stale.length === 1 ? 'is' : 'are'} older than the sources: run \`npm run build\` ` +
        'first (`npm test` builds before vitest).',
    );
  }
}
