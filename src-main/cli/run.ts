/**
 * `minion-agent run` (and the legacy `-r`, and no arguments at all): the same core the desktop app uses, headless.
 * Own log lines go to stderr as text or JSON lines; `--debug` adds the wire trace. SIGINT/SIGTERM stop cleanly
 * (spool flushed, cursor saved, command children killed, socket reset); a second signal exits at once.
 */
import { type LogLineView, type WireTraceEntry } from '../../src-shared/view-models';
import { AgentCore, type AgentUpdaterHook } from '../agent/agent';
import { formatLogLine, type LogFormat } from '../agent/agent-log';
import { ConfigError } from '../../src-shared/config';
import { defaultConfigPath, resolveConfigPath } from '../agent/config';
import { missingConnectionKeys } from './config-cmd';
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io';
import { type CliExtensions, type StartedUi } from './extensions';

/** What a `run` command line asks for (global options and the run subcommand's), however it was parsed. */
export interface RunInvocation {
  /** `-c/--config`; without it `CONFIG`. */
  config?: string;
  logFormat: LogFormat;
  debug: boolean;
  ui?: boolean;
  uiPort?: number;
  dataDir?: string;
}

/**
 * `run`, bare `minion-agent` and `-r`: resolves the config path (`-c` wins over `CONFIG`; with `--ui` and neither,
 * the default file is a first run, as in the desktop app) and runs the agent until a signal. Resolves to the exit
 * code.
 */
export async function startRun(
  invocation: RunInvocation,
  io: CliIo,
  extensions: Pick<CliExtensions, 'updater' | 'startUi'>,
): Promise<number> {
  const givenPath = invocation.config ?? resolveConfigPath([], io.env);
  // With the dashboard, a missing config is a first run (like the desktop app): the default file is created and
  // filled in from the Settings view. Without it, nobody could configure the agent: say what is missing.
  const firstRunUi = Boolean(invocation.ui) && givenPath === null && extensions.startUi !== undefined;
  const configPath = firstRunUi
    ? defaultConfigPath({ env: io.env, home: io.env.HOME || undefined })
    : givenPath;
  if (!configPath) {
    io.err('no config file: pass -c FILE or set CONFIG=FILE (see docs/config.md)');
    return EXIT_USAGE;
  }
  const start = extensions.startUi;
  const startUi = start ? (core: AgentCore) => start(core, invocation.uiPort) : undefined;
  if (invocation.ui && !extensions.startUi) io.err('--ui: the web dashboard is not part of this build');
  return runAgentCommand(
    {
      configPath,
      logFormat: invocation.logFormat,
      debug: invocation.debug,
      dataDir: invocation.dataDir,
      updater: extensions.updater?.(configPath),
      startUi,
      uiRequested: Boolean(invocation.ui),
      configurableFromUi: Boolean(invocation.ui) && extensions.startUi !== undefined,
    },
    io,
  );
}

export interface RunCommandOptions {
  configPath: string;
  logFormat: LogFormat;
  debug: boolean;
  dataDir?: string;
  updater?: AgentUpdaterHook;
  /** Starts the web dashboard once the core runs; returns its URL and a close function. */
  startUi?: (core: AgentCore) => Promise<StartedUi>;
  /** `--ui` given; without it the dashboard starts only when the config says `ui.enabled: true`. */
  uiRequested?: boolean;
  /**
   * The dashboard is requested: a missing config file is created, and a config without server or group is not an
   * error (the core stays unconnected until they are saved from the Settings view).
   */
  configurableFromUi?: boolean;
}

export function formatWireEntry(entry: WireTraceEntry, format: LogFormat): string {
  if (format === 'json') {
    return JSON.stringify({
      time: new Date(entry.at).toISOString(),
      wire: entry.direction,
      bytes: entry.bytes,
      frame: entry.frame,
      error: entry.error,
      unsampled: entry.unsampled,
    });
  }
  const arrow = entry.direction === 'in' ? '<<' : '>>';
  const body = entry.frame ? JSON.stringify(entry.frame) : `(undecodable) ${entry.hex.slice(0, 120)}`;
  const gap = entry.unsampled ? `(${entry.unsampled} frames not traced) ` : '';
  return `${new Date(entry.at).toISOString()} WIRE  ${gap}${arrow} ${entry.bytes}B ${body}${entry.error ? ` (${entry.error})` : ''}`;
}

/** Resolves with the exit code once the agent stopped (after a signal). */
export async function runAgentCommand(options: RunCommandOptions, io: CliIo): Promise<number> {
  const print = (line: LogLineView): void => io.err(formatLogLine(line, options.logFormat));
  let core: AgentCore;
  try {
    core = new AgentCore({
      configPath: options.configPath,
      host: 'headless',
      dataDir: options.dataDir,
      updater: options.updater,
      logSink: print,
      logLevel: options.debug ? 'debug' : undefined,
      createConfigIfMissing: options.configurableFromUi,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.source ? `invalid config ${err.source}:` : 'invalid config:');
      for (const issue of err.issues) io.err(`  ${issue.path}: ${issue.message}`);
      return EXIT_USAGE;
    }
    io.err(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_FAILURE;
  }
  const missing = missingConnectionKeys(core.effectiveConfig);
  if (missing.length > 0 && !options.configurableFromUi) {
    io.err(`cannot run: ${missing.join(', ')} not set in ${options.configPath}`);
    return EXIT_USAGE;
  }
  if (options.debug) core.on('wire', (entry) => io.err(formatWireEntry(entry, options.logFormat)));

  try {
    await core.start();
  } catch (err) {
    io.err(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
    await core.stop().catch(() => undefined);
    return EXIT_FAILURE;
  }
  let ui: StartedUi | null = null;
  let unregisterSignals: () => void = () => undefined;
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const unregister = io.onSignal(['SIGINT', 'SIGTERM'], (signal) => {
      if (stopping) {
        io.err(`${signal} again: exiting without a clean stop`);
        resolve(EXIT_FAILURE);
        return;
      }
      stopping = true;
      io.err(`${signal}: stopping (flushing the spool, stopping commands)…`);
      void (async () => {
        try {
          await ui?.close();
          await core.stop();
          resolve(EXIT_OK);
        } catch (err) {
          io.err(`clean stop failed: ${err instanceof Error ? err.message : String(err)}`);
          resolve(EXIT_FAILURE);
        } finally {
          unregister();
        }
      })();
    });
    unregisterSignals = unregister;
  });

  if (options.startUi && (options.uiRequested || core.effectiveConfig.ui.enabled)) {
    try {
      ui = await options.startUi(core);
      io.err(`dashboard: ${ui.url}`);
      for (const notice of ui.notices ?? []) io.err(notice);
      if (missing.length > 0)
        io.err(
          `not configured yet (${missing.join(', ')} not set in ${options.configPath}): ` +
            'open the dashboard and fill in Settings; the agent connects once they are saved',
        );
    } catch (err) {
      io.err(`dashboard could not start: ${err instanceof Error ? err.message : String(err)}`);
      if (missing.length > 0) {
        // Unconfigured and no way to configure it: do not sit there idle.
        io.err(`cannot run: ${missing.join(', ')} not set in ${options.configPath}`);
        unregisterSignals();
        await core.stop().catch(() => undefined);
        return EXIT_USAGE;
      }
    }
  }
  return stopped;
}
