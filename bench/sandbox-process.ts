// The sandbox StreamServer in a child process (bench/spool-sandbox-child.ts), so the agent side's CPU and memory are
// measured without the server's.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** This file's directory whether tsx loads it as CommonJS or as an ES module (then `npm run` starts in the root). */
export function benchDir(): string {
  if (typeof __dirname === 'string' && existsSync(join(__dirname, 'sandbox-process.ts'))) return __dirname;
  return join(process.cwd(), 'bench');
}

export async function startSandboxChild(
  group: string,
  key: string,
): Promise<{
  port: number;
  child: ChildProcess;
  /** Resolves once the sandbox has read a log line `END <tag>`. */
  readEnd: (tag: string) => Promise<void>;
  stop: () => Promise<void>;
}> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(benchDir(), 'spool-sandbox-child.ts'), group, key],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const readTags = new Set<string>();
  const waiters = new Map<string, () => void>();
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^PORT (\d+)$/.exec(line);
        if (m) resolve(Number(m[1]));
        if (line.startsWith('READ ')) {
          const tag = line.slice(5);
          readTags.add(tag);
          waiters.get(tag)?.();
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`sandbox child exited ${code}`)));
  });
  const stop = async (): Promise<void> => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin?.end();
    await exited;
  };
  const readEnd = (tag: string): Promise<void> =>
    readTags.has(tag) ? Promise.resolve() : new Promise((resolve) => waiters.set(tag, resolve));
  return { port, child, readEnd, stop };
}
