/**
 * Runs the built-in and custom telemetry on fixed grids: run k of a job is due at start + k × interval, however
 * long the previous run took (the original's custom loops slept *after* each run and drifted). A run still busy
 * when its next slot comes skips that slot instead of piling up; after a long pause (suspend) missed slots are
 * skipped, not replayed.
 */
import {
  BUILTIN_COLLECTORS,
  type BuiltinCollector,
  type CollectorContext,
  newCollectorState,
  runDfCommand,
} from './builtins';
import { runCustomCommand } from './custom';

export type TelemetryLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface BuiltinTelemetrySpec {
  label: string;
  arguments: Record<string, unknown>;
}

export interface CustomTelemetrySpec {
  name: string;
  command: string;
  args: readonly string[];
  /** Seconds. */
  interval: number;
}

export interface TelemetrySchedulerOptions {
  builtins: readonly BuiltinTelemetrySpec[];
  custom: readonly CustomTelemetrySpec[];
  /** Period of the built-ins (`telemetry_interval`). */
  intervalMs: number;
  /** One sample: frame data `[group, server, name, ...values]`; JSON payloads come as name `JSON:{…}`, no values. */
  sink: (name: string, values: string[]) => void;
  log?: (level: TelemetryLogLevel, message: string) => void;
  /** Samples larger than this (UTF-8 bytes of name + values) are not sent. Default 60 000. */
  maxSampleBytes?: number;
  /** Per custom command. Default: its interval, at most 30 s. */
  customTimeoutMs?: number;
  /** Captured stdout of a custom command. Default `maxSampleBytes`. */
  customMaxOutputBytes?: number;
  customEnv?: NodeJS.ProcessEnv;
  customCwd?: string;
  platform?: NodeJS.Platform;
  procRoot?: string;
  runDf?: () => Promise<string>;
  /** Replace or add collectors by label (tests, future builtins). */
  collectors?: Record<string, BuiltinCollector>;
}

interface Job {
  name: string;
  intervalMs: number;
  run: () => Promise<void>;
  startedAt: number;
  slot: number;
  running: boolean;
  timer: NodeJS.Timeout | null;
}

export class TelemetryScheduler {
  private readonly jobs: Job[] = [];
  private readonly ctx: CollectorContext;
  private readonly collectors: Record<string, BuiltinCollector>;
  private readonly maxSampleBytes: number;
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;
  /** Set by stop(): results of runs still finishing are dropped, their children killed. */
  private stopped = false;
  private abort = new AbortController();

  constructor(private readonly options: TelemetrySchedulerOptions) {
    this.maxSampleBytes = options.maxSampleBytes ?? 60_000;
    this.collectors = { ...BUILTIN_COLLECTORS, ...options.collectors };
    this.ctx = {
      platform: options.platform ?? process.platform,
      procRoot: options.procRoot ?? '/proc',
      runDf: options.runDf ?? (() => runDfCommand()),
      state: newCollectorState(),
      log: (level, message) => this.log(level, message),
      now: () => Date.now(),
      maxSampleBytes: this.maxSampleBytes,
    };
  }

  /** Sends everything once now, then on the grid. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    this.abort = new AbortController();
    const now = Date.now();
    const builtins = this.options.builtins.filter((b) => {
      if (this.collectors[b.label]) return true;
      this.log('warn', `unknown built-in telemetry '${b.label}' skipped`);
      return false;
    });
    if (builtins.length > 0) {
      this.jobs.push(this.job('builtins', this.options.intervalMs, now, () => this.runBuiltins(builtins)));
    }
    for (const custom of this.options.custom) {
      this.jobs.push(
        this.job(`custom ${custom.name}`, custom.interval * 1000, now, () => this.runCustom(custom)),
      );
    }
    for (const job of this.jobs) this.fire(job);
  }

  /** Stops scheduling, kills running custom commands and waits for runs in progress; nothing is sent after this. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    this.abort.abort();
    for (const job of this.jobs) if (job.timer) clearTimeout(job.timer);
    this.jobs.length = 0;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Every built-in and custom telemetry once (CLI `--test`, the GUI's "send now"). */
  async runOnce(): Promise<void> {
    await this.runBuiltins(this.options.builtins.filter((b) => this.collectors[b.label]));
    for (const custom of this.options.custom) await this.runCustom(custom);
  }

  private job(name: string, intervalMs: number, startedAt: number, run: () => Promise<void>): Job {
    return {
      name,
      intervalMs: Math.max(1, intervalMs),
      run,
      startedAt,
      slot: 0,
      running: false,
      timer: null,
    };
  }

  private fire(job: Job): void {
    if (!this.running) return;
    if (job.running) {
      this.log('warn', `telemetry ${job.name} still running at its next slot; slot skipped`);
    } else {
      job.running = true;
      const run = job
        .run()
        .catch((error: unknown) =>
          this.log('warn', `telemetry ${job.name} failed: ${(error as Error).message}`),
        )
        .finally(() => {
          job.running = false;
          this.inFlight.delete(run);
        });
      this.inFlight.add(run);
    }
    this.scheduleNext(job);
  }

  private scheduleNext(job: Job): void {
    if (!this.running) return;
    const now = Date.now();
    // Next slot strictly in the future; slots missed while suspended are skipped, not replayed.
    job.slot = Math.max(job.slot + 1, Math.floor((now - job.startedAt) / job.intervalMs) + 1);
    const due = job.startedAt + job.slot * job.intervalMs;
    job.timer = setTimeout(() => {
      job.timer = null;
      this.fire(job);
    }, due - now);
  }

  private async runBuiltins(builtins: readonly BuiltinTelemetrySpec[]): Promise<void> {
    for (const builtin of builtins) {
      const collector = this.collectors[builtin.label];
      if (!collector) continue;
      try {
        const samples = await collector(this.ctx, builtin.arguments);
        for (const sample of samples) {
          if (this.send(sample.name, sample.values, builtin.label) && sample.commit) await sample.commit();
        }
      } catch (error) {
        this.log('warn', `telemetry ${builtin.label} not sent: ${(error as Error).message}`);
      }
    }
  }

  private async runCustom(custom: CustomTelemetrySpec): Promise<void> {
    const result = await runCustomCommand(custom, {
      timeoutMs: this.options.customTimeoutMs ?? Math.min(custom.interval * 1000, 30_000),
      maxOutputBytes: this.options.customMaxOutputBytes ?? this.maxSampleBytes,
      platform: this.ctx.platform,
      env: this.options.customEnv,
      cwd: this.options.customCwd,
      signal: this.abort.signal,
    });
    if (!result.ok) {
      this.log('warn', `telemetry ${custom.name}: nothing sent (${result.reason})`);
      return;
    }
    this.send(custom.name, [result.value], custom.name);
  }

  /** Checks what the server needs (non-empty name and values, size) and hands the sample over. */
  private send(name: string, values: string[], source: string): boolean {
    if (this.stopped) return false;
    if (name === '' || values.some((v) => v === '')) {
      this.log('warn', `telemetry ${source}: empty name or value not sent`);
      return false;
    }
    const bytes = Buffer.byteLength(name) + values.reduce((n, v) => n + Buffer.byteLength(v), 0);
    if (bytes > this.maxSampleBytes) {
      this.log(
        'warn',
        `telemetry ${source}: ${bytes} bytes is over the ${this.maxSampleBytes}-byte limit; not sent`,
      );
      return false;
    }
    try {
      this.options.sink(name, values);
      return true;
    } catch (error) {
      this.log('warn', `telemetry ${source}: sink refused the sample: ${(error as Error).message}`);
      return false;
    }
  }

  private log(level: TelemetryLogLevel, message: string): void {
    this.options.log?.(level, message);
  }
}
