/**
 * Runs external commands the way the original agent did (protocol.md §6.2), without its bugs:
 *   - `/bin/sh -c '<cmd> "${@}"' -- args…` (Crystal 0.35.1 shell mode; `--` becomes `$0`), so server-side command
 *     strings keep their meaning; a command string with spaces and no args runs as `sh -c <cmd>` (the original
 *     never answered those);
 *   - stdin closed; cwd/env configurable;
 *   - a timeout that terminates the whole process group (SIGTERM, grace, SIGKILL), so no grandchild survives;
 *   - a concurrency limit with a FIFO queue;
 *   - output kept locally up to a bound per stream, the total size always counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cutText } from './argv';

export interface RunnerOptions {
  /** Commands running at the same time; more wait in a FIFO queue. */
  maxConcurrent: number;
  /** Commands allowed to wait; beyond that a command is refused immediately (`queueFull`). */
  maxQueued: number;
  /** Default timeout per command. */
  timeoutMs: number;
  /** Time between SIGTERM and SIGKILL of the process group. */
  killGraceMs: number;
  /** Bytes of each stream kept in memory (for the UI and the response); the rest is only counted. */
  keepBytesPerStream: number;
  /** After the shell exits, how long background children may keep its pipes open before we stop reading. */
  pipeDrainMs: number;
  cwd?: string;
  /** Added to (and overriding) the agent's own environment. */
  env?: Record<string, string>;
  shell: string;
}

export const DEFAULT_RUNNER_OPTIONS: RunnerOptions = {
  maxConcurrent: 4,
  maxQueued: 100,
  timeoutMs: 300_000,
  killGraceMs: 5_000,
  keepBytesPerStream: 1024 * 1024,
  pipeDrainMs: 1_000,
  // Windows has no /bin/sh: cmd.exe runs the same command line (no "${@}" splicing there, see shellInvocation).
  shell: process.platform === 'win32' ? (process.env.ComSpec ?? 'cmd.exe') : '/bin/sh',
};

export interface RunRequest {
  /** argv[0] is the command (may be a whole shell command line), the rest are its arguments. */
  argv: string[];
  timeoutMs?: number;
  /** Called when the command leaves the queue and its process is spawned. */
  onStart?: () => void;
}

export interface RunResult {
  stdout: Buffer;
  stderr: Buffer;
  /** Total bytes the command wrote per stream, including what was not kept. */
  stdoutTotalBytes: number;
  stderrTotalBytes: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The process could not be started (e.g. bad cwd); the message explains why. */
  spawnError: string | null;
  /** Refused before starting because the queue was full. */
  queueFull: boolean;
  /** Cancelled while queued or killed because the runner stopped. */
  cancelled: boolean;
  /** From spawn to the end of output (0 when it never started). */
  durationMs: number;
  timeoutMs: number;
}

/**
 * cmd.exe expands %VAR% (and !VAR! with delayed expansion) even inside double quotes, and a `"` or a line break ends
 * the quoting: such an argument cannot be passed as plain data on Windows, so it is refused rather than run.
 */
export function windowsArgumentProblem(args: readonly string[]): string | null {
  const bad = args.find((a) => /["%!\r\n]/.test(a));
  if (bad === undefined) return null;
  return (
    `argument ${JSON.stringify(bad)} contains a character cmd.exe would interpret (" % ! or a line break); ` +
    `on Windows such arguments are refused`
  );
}

/** Builds the spawn arguments (throws for arguments Windows cannot pass literally); exported for tests. */
export function shellInvocation(
  shell: string,
  argv: string[],
  platform: NodeJS.Platform = process.platform,
): { file: string; args: string[] } {
  const [command = '', ...args] = argv;
  if (platform === 'win32') {
    const problem = windowsArgumentProblem(args);
    if (problem) throw new Error(problem);
    // Every argument in double quotes: inside them cmd.exe takes & | < > ^ ( ) literally, so an argument stays data
    // (as "${@}" keeps it on POSIX) and an allowlisted `ping *` cannot become `ping x&calc`.
    const quoted = args.map((a) => `"${a}"`);
    // `/s /c "…"` with verbatim arguments: cmd.exe strips the outer quotes and runs the line as written.
    return { file: shell, args: ['/d', '/s', '/c', `"${[command, ...quoted].join(' ')}"`] };
  }
  if (args.length === 0 && /\s/.test(command.trim())) return { file: shell, args: ['-c', command] };
  return { file: shell, args: ['-c', `${command} "\${@}"`, '--', ...args] };
}

class BoundedCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  total = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.limit - this.kept;
    if (room <= 0) return;
    const piece = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(piece);
    this.kept += piece.length;
  }

  buffer(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }
}

interface QueuedJob {
  request: RunRequest;
  resolve: (result: RunResult) => void;
}

interface RunningJob {
  child: ChildProcess;
  kill: (reason: 'timeout' | 'stop') => void;
  done: Promise<RunResult>;
}

function emptyResult(timeoutMs: number, patch: Partial<RunResult>): RunResult {
  return {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    stdoutTotalBytes: 0,
    stderrTotalBytes: 0,
    exitCode: null,
    signal: null,
    timedOut: false,
    spawnError: null,
    queueFull: false,
    cancelled: false,
    durationMs: 0,
    timeoutMs,
    ...patch,
  };
}

/** Linux: does any process of group `pgid` still run? Zombies do not count (a container's PID 1 may never reap). */
function linuxGroupHasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state ppid pgrp …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

/** True while any process of the group `pgid` is alive. */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    // EPERM means it exists but belongs to someone else (cannot happen for our own group, but be conservative).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return process.platform === 'linux' ? linuxGroupHasLiveMember(pgid) : true;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  const pid = child.pid;
  if (pid === undefined) return;
  try {
    // Negative pid: the whole process group created by `detached: true`.
    if (process.platform === 'win32') child.kill(signal);
    else process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export class CommandRunner {
  private options: RunnerOptions;
  private readonly queue: QueuedJob[] = [];
  private readonly running = new Set<RunningJob>();
  private stopped = false;

  constructor(options: Partial<RunnerOptions> = {}) {
    this.options = { ...DEFAULT_RUNNER_OPTIONS, ...options };
  }

  /** Changes apply to commands started afterwards (a lower concurrency lets running ones finish). */
  configure(options: Partial<RunnerOptions>): void {
    this.options = { ...this.options, ...options };
    this.startQueued();
  }

  get runningCount(): number {
    return this.running.size;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  run(request: RunRequest): Promise<RunResult> {
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    if (this.stopped) return Promise.resolve(emptyResult(timeoutMs, { cancelled: true }));
    if (this.running.size < this.options.maxConcurrent) return this.start(request);
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.resolve(emptyResult(timeoutMs, { queueFull: true }));
    }
    return new Promise((resolve) => this.queue.push({ request, resolve }));
  }

  /**
   * Cancels queued commands and kills running ones (whole process groups, SIGTERM then SIGKILL after `graceMs`).
   * Resolves when every running command has ended. The runner refuses new work afterwards until `restart()`.
   */
  async stop(graceMs = Math.min(this.options.killGraceMs, 2_000)): Promise<void> {
    this.stopped = true;
    for (const job of this.queue.splice(0)) {
      job.resolve(emptyResult(job.request.timeoutMs ?? this.options.timeoutMs, { cancelled: true }));
    }
    const saved = this.options.killGraceMs;
    this.options = { ...this.options, killGraceMs: graceMs };
    const all = [...this.running];
    for (const job of all) job.kill('stop');
    await Promise.all(all.map((job) => job.done));
    this.options = { ...this.options, killGraceMs: saved };
  }

  /** Accepts work again after `stop()`. */
  restart(): void {
    this.stopped = false;
  }

  private startQueued(): void {
    while (!this.stopped && this.running.size < this.options.maxConcurrent) {
      const next = this.queue.shift();
      if (!next) return;
      void this.start(next.request).then(next.resolve);
    }
  }

  /**
   * Spawns the job, or answers at once with a spawn error when it cannot be started: never throws, because it runs
   * from a child's `close` handler for queued jobs, where a throw would end the agent process.
   */
  private start(request: RunRequest): Promise<RunResult> {
    try {
      return this.spawnJob(request).done;
    } catch (e) {
      const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
      // Node's message quotes the argument: keep it short, the answer has a frame budget.
      const message = e instanceof Error ? e.message : String(e);
      return Promise.resolve(emptyResult(timeoutMs, { spawnError: cutText(message, 300) }));
    }
  }

  private spawnJob(request: RunRequest): RunningJob {
    const options = this.options;
    const timeoutMs = request.timeoutMs ?? options.timeoutMs;
    const { file, args } = shellInvocation(options.shell, request.argv);
    const stdout = new BoundedCapture(options.keepBytesPerStream);
    const stderr = new BoundedCapture(options.keepBytesPerStream);
    const startedAt = Date.now();
    let timedOut = false;
    let cancelled = false;
    let spawnError: string | null = null;
    let killTimer: NodeJS.Timeout | null = null;
    let pollTimer: NodeJS.Timeout | null = null;
    let drainTimer: NodeJS.Timeout | null = null;
    let killing = false;

    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ? { ...process.env, ...options.env } : process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout can kill every descendant at once.
      detached: process.platform !== 'win32',
      windowsHide: true,
      windowsVerbatimArguments: process.platform === 'win32',
    });
    request.onStart?.();

    const kill = (reason: 'timeout' | 'stop'): void => {
      if (reason === 'timeout') timedOut = true;
      else cancelled = true;
      if (killing) return;
      killing = true;
      signalGroup(child, 'SIGTERM');
      const pid = child.pid;
      const deadline = Date.now() + this.options.killGraceMs;
      // Poll the group rather than the shell: the shell may die on SIGTERM while a child ignores it.
      const poll = (): void => {
        if (pid === undefined || process.platform === 'win32') return;
        if (!processGroupAlive(pid)) return;
        if (Date.now() >= deadline) {
          signalGroup(child, 'SIGKILL');
          return;
        }
        pollTimer = setTimeout(poll, 25);
      };
      pollTimer = setTimeout(poll, 25);
      // Windows has no groups; SIGKILL the direct child after the grace period.
      if (process.platform === 'win32')
        killTimer = setTimeout(() => child.kill('SIGKILL'), this.options.killGraceMs);
    };

    const timeoutTimer = setTimeout(() => kill('timeout'), timeoutMs);

    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => {
      spawnError = err.message;
    });
    // Background processes may inherit the pipes and keep them open after the shell exits: stop waiting for them
    // after a short drain period (they keep running — starting a daemon is a legitimate command).
    child.on('exit', () => {
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, this.options.pipeDrainMs);
    });

    const done = new Promise<RunResult>((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(timeoutTimer);
        if (killTimer) clearTimeout(killTimer);
        if (drainTimer) clearTimeout(drainTimer);
        const finish = (): void => {
          if (pollTimer) clearTimeout(pollTimer);
          this.running.delete(job);
          resolve({
            stdout: stdout.buffer(),
            stderr: stderr.buffer(),
            stdoutTotalBytes: stdout.total,
            stderrTotalBytes: stderr.total,
            exitCode: spawnError ? null : code,
            signal,
            timedOut,
            spawnError,
            queueFull: false,
            cancelled,
            durationMs: spawnError && child.pid === undefined ? 0 : Date.now() - startedAt,
            timeoutMs,
          });
          this.startQueued();
        };
        // When killing, answer only once the whole group is gone, so "no orphans" holds when the answer is sent.
        if (killing && child.pid !== undefined && process.platform !== 'win32') {
          // Bounded: never hang an answer on a process that SIGKILL cannot remove (uninterruptible sleep).
          const giveUpAt = Date.now() + this.options.killGraceMs + 5_000;
          const waitGroup = (): void => {
            if (!processGroupAlive(child.pid as number) || Date.now() > giveUpAt) finish();
            else setTimeout(waitGroup, 25);
          };
          waitGroup();
        } else {
          finish();
        }
      });
    });

    const job: RunningJob = { child, kill, done };
    this.running.add(job);
    return job;
  }
}
