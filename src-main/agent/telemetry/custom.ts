/**
 * Custom telemetry (`telemetries:` entries): the command runs through the shell exactly like the original's
 * `/bin/sh -c '<command> "${@}"' -- args…`, so pipelines work (the original's PATH check broke them: protocol.md
 * §5.1), with a timeout (the whole process group is killed) and a cap on captured output.
 * The value sent is stdout without its trailing newline. Failure, timeout, oversize or empty output → no value
 * (the reason is returned for the log), never `""`.
 */
import { spawn } from 'node:child_process';

export interface CustomCommand {
  command: string;
  args: readonly string[];
}

export interface RunOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  /** Default: `/bin/sh` (POSIX); on Windows `cmd.exe` runs the command line with the args appended. */
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Aborting kills the command (agent shutdown). */
  signal?: AbortSignal;
}

export type CustomResult = { ok: true; value: string } | { ok: false; reason: string };

/** argv for `spawn`: the original's shell wrapping, `"${@}"` carrying the args without re-quoting. */
export function shellInvocation(
  cmd: CustomCommand,
  platform: NodeJS.Platform = process.platform,
): [string, string[]] {
  if (platform === 'win32') {
    const quoted = cmd.args.map((a) => (/[\s"]/.test(a) ? `"${a.replace(/"/g, '""')}"` : a));
    return [process.env.ComSpec ?? 'cmd.exe', ['/d', '/s', '/c', [cmd.command, ...quoted].join(' ')]];
  }
  return ['/bin/sh', ['-c', `${cmd.command} "\${@}"`, '--', ...cmd.args]];
}

function stripTrailingNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

export function runCustomCommand(cmd: CustomCommand, options: RunOptions): Promise<CustomResult> {
  const platform = options.platform ?? process.platform;
  const [file, argv] = shellInvocation(cmd, platform);
  return new Promise((resolvePromise) => {
    let settled = false;
    const finish = (result: CustomResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolvePromise(result);
    };
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let failure: string | null = null;

    const child = spawn(file, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so a timeout kills the whole pipeline, not just the shell.
      detached: platform !== 'win32',
      env: options.env ?? process.env,
      cwd: options.cwd,
      windowsHide: true,
    });
    const killGroup = () => {
      // If something escaped the process group and keeps the pipes open, do not wait for it forever.
      setTimeout(() => finish({ ok: false, reason: failure ?? 'killed' }), 1000).unref();
      try {
        if (child.pid !== undefined && platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      failure = `timed out after ${options.timeoutMs} ms`;
      killGroup();
    }, options.timeoutMs);
    const onAbort = () => {
      failure = 'stopped';
      killGroup();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      if (failure) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > options.maxOutputBytes) {
        failure = `output larger than ${options.maxOutputBytes} bytes`;
        killGroup();
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => finish({ ok: false, reason: `could not start: ${error.message}` }));
    child.on('close', (code, signal) => {
      if (failure) return finish({ ok: false, reason: failure });
      const firstStderrLine = stderr.trim().split('\n')[0]?.slice(0, 300) ?? '';
      if (code !== 0) {
        const how = signal ? `killed by ${signal}` : `exit status ${code}`;
        return finish({ ok: false, reason: firstStderrLine ? `${how}: ${firstStderrLine}` : how });
      }
      const value = stripTrailingNewline(Buffer.concat(stdout).toString('utf8'));
      if (value.trim() === '') return finish({ ok: false, reason: 'empty output' });
      finish({ ok: true, value });
    });
  });
}
