/**
 * Expanding `tail_logs` globs (`/var/log/app/*.log`, `/srv/**\/current.log`, `{a,b}.log`): walk the static base
 * directory of the pattern and match relative paths with picomatch. Directory symlinks are not followed (loops);
 * file symlinks are. Plain CommonJS dependencies only, so the bundled CLI needs no `import.meta` shims.
 */
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import picomatch from 'picomatch';

/** Deepest directory level searched below the base of a `**` pattern. */
const MAX_RECURSIVE_DEPTH = 16;

const toSlashes = (path: string) => (process.platform === 'win32' ? path.split('\\').join('/') : path);

/**
 * Patterns already classified. The tailer asks about the same few patterns at every scan, all day: scanning them
 * again each time is work an idle agent need not do (and enough of it got picomatch's scanner optimised by
 * TurboFan after a minute, which cost an idle agent ~4 MB of RSS).
 */
const globness = new Map<string, boolean>();
const MAX_REMEMBERED_PATTERNS = 1024;

export function isGlobPattern(pattern: string): boolean {
  let isGlob = globness.get(pattern);
  if (isGlob === undefined) {
    isGlob = picomatch.scan(toSlashes(pattern)).isGlob;
    if (globness.size >= MAX_REMEMBERED_PATTERNS) globness.clear();
    globness.set(pattern, isGlob);
  }
  return isGlob;
}

/** Absolute paths of the regular files matching an absolute pattern, sorted. */
export function expandGlob(pattern: string, maxEntries = 100_000): string[] {
  const { base, glob, isGlob } = picomatch.scan(toSlashes(pattern));
  if (!isGlob) return [pattern];
  const matches = picomatch(glob, { dot: true });
  const depthLimit = glob.includes('**') ? MAX_RECURSIVE_DEPTH : glob.split('/').length;
  const results: string[] = [];
  let seen = 0;
  const walk = (dir: string, relative: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (++seen > maxEntries) return;
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      const full = join(dir, entry.name);
      let isFile = entry.isFile();
      const isDirectory = entry.isDirectory();
      if (entry.isSymbolicLink()) isFile = statSync(full, { throwIfNoEntry: false })?.isFile() ?? false;
      if (isFile && matches(rel)) results.push(full);
      else if (isDirectory && depth < depthLimit) walk(full, rel, depth + 1);
    }
  };
  walk(base === '' ? '.' : base, '', 1);
  return results.sort();
}
