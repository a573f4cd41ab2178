/**
 * The built renderer (dist/renderer) the e2e tests load. `npm test` builds before vitest, so usually this only checks
 * freshness; otherwise it runs `npx vite build` once, serialized across parallel test files by a lock directory.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './preload-bundle';

export const RENDERER_DIR = join(REPO_ROOT, 'dist/renderer');
const LOCK_DIR = join(REPO_ROOT, 'dist/.renderer-build.lock');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  const index = join(RENDERER_DIR, 'index.html');
  if (!existsSync(index)) return false;
  const sources = Math.max(
    newestMtime(join(REPO_ROOT, 'src-renderer')),
    newestMtime(join(REPO_ROOT, 'src-shared')),
  );
  return statSync(index).mtimeMs >= sources;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function ensureRendererBuilt(timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!isFresh()) {
    mkdirSync(join(REPO_ROOT, 'dist'), { recursive: true });
    try {
      mkdirSync(LOCK_DIR);
    } catch {
      // Another test file is building; a lock older than the timeout is from a crashed run.
      if (existsSync(LOCK_DIR) && Date.now() - statSync(LOCK_DIR).mtimeMs > timeoutMs)
        rmSync(LOCK_DIR, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another renderer build');
      await sleep(250);
      continue;
    }
    try {
      if (!isFresh()) {
        await promisify(execFile)('npx', ['vite', 'build', '--logLevel', 'warn'], {
          cwd: REPO_ROOT,
          timeout: timeoutMs,
        });
      }
    } finally {
      rmSync(LOCK_DIR, { recursive: true, force: true });
    }
  }
  return RENDERER_DIR;
}
