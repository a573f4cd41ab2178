/**
 * The environment server commands run in on a desktop. An app started from the Dock, Finder or a desktop menu
 * inherits the GUI session's environment, not a terminal's: on macOS PATH is /usr/bin:/bin:/usr/sbin:/sbin (no
 * Homebrew, no /usr/local/bin) and the working directory is `/`. So once at startup, asynchronously and bounded in
 * time, the user's login shell is asked for its PATH; commands then run in the home directory with that PATH
 * (`commands.cwd` / `commands.env` in the config still win).
 */
import { execFile } from 'node:child_process';

export interface CommandEnvironment {
  cwd: string;
  env: Record<string, string>;
}

const START = '__MINION_PATH_START__';
const END = '__MINION_PATH_END__';

/** Runs `shell args…` and resolves with its stdout, or rejects (non-zero exit, timeout). */
export type ShellRunner = (shell: string, args: string[], timeoutMs: number) => Promise<string>;

export const runShell: ShellRunner = (shell, args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(
      shell,
      args,
      // No terminal: an interactive shell that wants one must not wait for input.
      { timeout: timeoutMs, encoding: 'utf8', env: { ...process.env, TERM: 'dumb' }, killSignal: 'SIGKILL' },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });

/** Directories a terminal would usually have that a GUI session lacks; the fallback when the shell gives nothing. */
function fallbackPath(platform: NodeJS.Platform, current: string | undefined): string {
  const extra =
    platform === 'darwin' ? ['/opt/homebrew/bin', '/usr/local/bin'] : ['/usr/local/bin', '/usr/local/sbin'];
  const parts = (current ?? '/usr/bin:/bin:/usr/sbin:/sbin').split(':').filter(Boolean);
  return [...new Set([...extra, ...parts])].join(':');
}

export async function commandEnvironment(options: {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  home: string;
  run?: ShellRunner;
  timeoutMs?: number;
  onProblem?: (message: string) => void;
}): Promise<CommandEnvironment> {
  const cwd = options.home;
  // Windows GUI apps get the user's full PATH from the registry already.
  if (options.platform === 'win32') return { cwd, env: {} };
  const shell = options.env.SHELL && options.env.SHELL.startsWith('/') ? options.env.SHELL : '/bin/sh';
  const run = options.run ?? runShell;
  try {
    // -l: the login files (.zprofile/.bash_profile set Homebrew's PATH); -i: the rc files many people use for it.
    const output = await run(
      shell,
      ['-i', '-l', '-c', `printf '%s%s%s' '${START}' "$PATH" '${END}'`],
      options.timeoutMs ?? 3_000,
    );
    const match = new RegExp(`${START}(.*?)${END}`, 's').exec(output);
    const path = match?.[1]?.trim();
    if (path) return { cwd, env: { PATH: path } };
    options.onProblem?.(`the login shell ${shell} printed no PATH`);
  } catch (error) {
    options.onProblem?.(
      `asking the login shell ${shell} for PATH failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
  return { cwd, env: { PATH: fallbackPath(options.platform, options.env.PATH) } };
}
