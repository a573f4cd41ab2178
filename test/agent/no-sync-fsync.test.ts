// The agent shares its event loop with the tray, IPC and the dashboard: no synchronous fsync/fdatasync may run on it
// (issue 12; docs/performance.md "First-start writes"). test/agent/core/state.test.ts checks it by behaviour (a
// first start, tailing and a stop with fs.fsyncSync/fdatasyncSync counted); this guard catches a new call site that
// behaviour does not reach. Comments and strings do not count, so the rule itself can be written down.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const FORBIDDEN = /\b(fsyncSync|fdatasyncSync|writeFileAtomicSync)\b/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(ts|tsx|mts|cts|js|mjs)$/.test(name))
    .map((name) => join(dir, name));
}

/** The code of a file without its comments (line and block) and string contents, line numbers kept. */
function codeOnly(text: string): string {
  return text.replace(
    /\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g,
    (match) => match.replace(/[^\n]/g, ' '),
  );
}

function forbiddenCalls(files: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    codeOnly(readFileSync(file, 'utf8'))
      .split('\n')
      .forEach((line, i) => {
        const hit = FORBIDDEN.exec(line);
        if (hit) found.push(`${relative(root, file)}:${i + 1}: ${hit[1]}`);
      });
  }
  return found;
}

describe('no synchronous fsync in the agent', () => {
  it('src-main names neither fsyncSync, fdatasyncSync nor writeFileAtomicSync', () => {
    const files = sourceFiles(join(root, 'src-main'));
    expect(files.length).toBeGreaterThan(50);
    expect(forbiddenCalls(files)).toEqual([]);
  });

  it('the guard sees a call and an import, not a comment or a string', () => {
    const text = [
      "import { fsyncSync as flush } from 'node:fs';",
      '// fsyncSync in a comment',
      "const note = 'fdatasyncSync in a string';",
      'fs.fdatasyncSync(fd);',
    ].join('\n');
    expect(
      codeOnly(text)
        .split('\n')
        .map((line) => FORBIDDEN.exec(line)?.[1] ?? null),
    ).toEqual(['fsyncSync', null, null, 'fdatasyncSync']);
  });
});
