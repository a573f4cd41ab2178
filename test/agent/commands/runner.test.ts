import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CommandRunner,
  processGroupAlive,
  shellInvocation,
  windowsArgumentProblem,
} from '../../../src-main/agent/commands/runner';

/** A pid counts as gone when kill(0) fails or the process is a zombie nobody reaped yet. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const runners: CommandRunner[] = [];
function runner(options: ConstructorParameters<typeof CommandRunner>[0] = {}): CommandRunner {
  const r = new CommandRunner({ killGraceMs: 300, pipeDrainMs: 200, ...options });
  runners.push(r);
  return r;
}

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop(100)));
  for (const c of cleanups.splice(0)) c();
});

describe('shellInvocation', () => {
  it('reproduces the original /bin/sh -c \'<cmd> "${@}"\' -- args form', () => {
    expect(shellInvocation('/bin/sh', ['ls', '-la', '/tmp'])).toEqual({
      file: '/bin/sh',
      args: ['-c', 'ls "${@}"', '--', '-la', '/tmp'],
    });
  });

  it('uses cmd.exe with one verbatim command line on Windows', () => {
    expect(shellInvocation('cmd.exe', ['dir', 'C:\\Program Files'], 'win32')).toEqual({
      file: 'cmd.exe',
      args: ['/d', '/s', '/c', '"dir "C:\\Program Files""'],
    });
  });

  it('quotes every Windows argument, so cmd.exe metacharacters in it stay data', () => {
    expect(shellInvocation('cmd.exe', ['ping', '127.0.0.1&calc', 'a|b>c'], 'win32')).toEqual({
      file: 'cmd.exe',
      args: ['/d', '/s', '/c', '"ping "127.0.0.1&calc" "a|b>c""'],
    });
  });

  it.each(['%PATH%', 'a"&calc&"', '!x!', 'line\nbreak'])(
    'refuses the Windows argument %j that cmd.exe would interpret even inside quotes',
    (arg) => {
      expect(windowsArgumentProblem(['ok', arg])).toContain(JSON.stringify(arg));
      expect(() => shellInvocation('cmd.exe', ['echo', arg], 'win32')).toThrow(/cmd\.exe would interpret/);
      // POSIX passes it as "${@}" data: no refusal there.
      expect(shellInvocation('/bin/sh', ['echo', arg], 'linux').args.at(-1)).toBe(arg);
    },
  );

  it('runs a command string with spaces and no args as sh -c <cmd>', () => {
    expect(shellInvocation('/bin/sh', ['df -h | head -1'])).toEqual({
      file: '/bin/sh',
      args: ['-c', 'df -h | head -1'],
    });
  });
});

describe('CommandRunner', () => {
  it('captures stdout, stderr and the exit status, passing args safely', async () => {
    const result = await runner().run({ argv: ['printf', '%s|%s\\n', 'a b', '$HOME;x'] });
    expect(result.stdout.toString()).toBe('a b|$HOME;x\n');
    expect(result.exitCode).toBe(0);
    expect(result.timedOut).toBe(false);

    const failed = await runner().run({ argv: ['echo oops >&2; exit 3'] });
    expect(failed.stderr.toString()).toBe('oops\n');
    expect(failed.exitCode).toBe(3);
  });

  it('closes stdin, honours cwd and env', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-cwd-'));
    try {
      const r = runner({ cwd: dir, env: { MINION_TEST_VAR: 'hello' } });
      const result = await r.run({ argv: ['cat; pwd; echo "$MINION_TEST_VAR"'] });
      expect(result.stdout.toString()).toBe(`${dir}\nhello\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a bounded amount of output but counts all of it', async () => {
    const result = await runner({ keepBytesPerStream: 1000 }).run({ argv: ['head -c 50000 /dev/zero'] });
    expect(result.stdout.length).toBe(1000);
    expect(result.stdoutTotalBytes).toBe(50000);
  });

  it('reports a command that cannot start', async () => {
    const result = await runner({ cwd: '/nonexistent/dir' }).run({ argv: ['true'] });
    expect(result.spawnError).toMatch(/ENOENT/);
    expect(result.exitCode).toBeNull();
  });

  it('kills the whole process group on timeout and leaves no orphans', async () => {
    // The grandchild ignores SIGTERM, so only the SIGKILL of the whole group removes it.
    const result = await runner({ killGraceMs: 300 }).run({
      argv: ['sh -c \'trap "" TERM; sleep 30\' & echo $!; wait'],
      timeoutMs: 400,
    });
    const grandchild = Number(result.stdout.toString().trim());
    expect(grandchild).toBeGreaterThan(1);
    expect(result.timedOut).toBe(true);
    expect(pidAlive(grandchild)).toBe(false);
  });

  it('does not hang on a background process that keeps the pipes open after a normal exit', async () => {
    const started = Date.now();
    const result = await runner({ pipeDrainMs: 200 }).run({ argv: ['sleep 5 & echo $!'] });
    const background = Number(result.stdout.toString().trim());
    expect(result.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    // Starting a daemon is legitimate: it keeps running; clean it up ourselves.
    process.kill(background, 'SIGKILL');
  });

  it('limits concurrency and runs the queue in FIFO order', async () => {
    const r = runner({ maxConcurrent: 2, maxQueued: 10 });
    const order: number[] = [];
    const runs = [0, 1, 2, 3, 4].map((i) =>
      r.run({ argv: [`sleep 0.15; echo ${i}`], onStart: () => order.push(i) }),
    );
    // Spawning is synchronous: the first two run and three wait as soon as run() returned.
    expect(order).toEqual([0, 1]);
    expect(r.runningCount).toBe(2);
    expect(r.queuedCount).toBe(3);
    const results = await Promise.all(runs);
    expect(results.map((x) => x.stdout.toString().trim())).toEqual(['0', '1', '2', '3', '4']);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses when the queue is full', async () => {
    const r = runner({ maxConcurrent: 1, maxQueued: 1 });
    const a = r.run({ argv: ['sleep 0.2'] });
    const b = r.run({ argv: ['true'] });
    const c = await r.run({ argv: ['true'] });
    expect(c.queueFull).toBe(true);
    expect((await a).exitCode).toBe(0);
    expect((await b).exitCode).toBe(0);
  });

  it('stop() kills running commands, cancels queued ones and refuses new work', async () => {
    const r = runner({ maxConcurrent: 1 });
    const pidDir = mkdtempSync(join(tmpdir(), 'runner-stop-'));
    cleanups.push(() => rmSync(pidDir, { recursive: true, force: true }));
    const pidFile = join(pidDir, 'pid');
    // The child writes its pid to a file: polled for, so the test knows it ran before stopping it.
    const running = r.run({
      argv: [`sleep 30 & echo $! > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; wait`],
    });
    const queued = r.run({ argv: ['echo never'] });
    const deadline = Date.now() + 10_000;
    while (!existsSync(pidFile) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const child = Number(readFileSync(pidFile, 'utf8').trim());
    expect(child).toBeGreaterThan(1);
    expect(pidAlive(child)).toBe(true);
    await r.stop(200);
    const [a, b] = await Promise.all([running, queued]);
    expect(a.cancelled).toBe(true);
    expect(pidAlive(child)).toBe(false);
    expect(b.cancelled).toBe(true);
    expect(b.stdout.length).toBe(0);
    expect((await r.run({ argv: ['true'] })).cancelled).toBe(true);
  });

  it('processGroupAlive is false for a group that does not exist', () => {
    expect(processGroupAlive(2 ** 22 - 7)).toBe(false);
  });
});

describe('CommandRunner spawn failures', () => {
  it('answers an argument with a NUL byte as a spawn error instead of throwing', async () => {
    const result = await runner().run({ argv: ['echo', 'a\0b'] });
    expect(result.spawnError).toMatch(/null bytes/);
    expect(result.exitCode).toBeNull();
    expect(Buffer.byteLength(result.spawnError ?? '')).toBeLessThanOrEqual(300);
  });

  it('a queued command that cannot be spawned is answered too, and the queue goes on', async () => {
    const r = runner({ maxConcurrent: 1, maxQueued: 10 });
    const first = r.run({ argv: ['true'] });
    // Started from the first command's `close` handler, where a throw would end the process.
    const bad = r.run({ argv: ['echo', 'x'.repeat(10_000) + '\0'] });
    const after = r.run({ argv: ['echo', 'after'] });
    expect((await first).exitCode).toBe(0);
    expect((await bad).spawnError).toMatch(/null bytes/);
    expect((await after).stdout.toString()).toBe('after\n');
  });
});
