/**
 * The `minion-agent` command line. The original agent's flags keep their meaning (`-r/--run` default, `-t/--test`,
 * `-u/--upgrade`, `-v/--version`), and so does `CONFIG=/path/config.yml`; subcommands add the rest.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolveConfigPath } from '../agent/config';
import { AGENT_NAME } from '../agent/version';
import { type LogFormat } from '../agent/agent-log';
import { validateConfigCommand } from './config-cmd';
import { type CliIo, EXIT_USAGE, processIo } from './io';
import { type RunInvocation, startRun } from './run';
import { printVersion } from './version-cmd';
import { type CliExtensions } from './extensions';

interface GlobalOptions {
  config?: string;
  logFormat: LogFormat;
  debug?: boolean;
  run?: boolean;
  test?: boolean;
  upgrade?: boolean;
  version?: boolean;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new InvalidArgumentError('expected a port 0…65535');
  return port;
}

/** `-c` wins over `CONFIG`; the original only knew `CONFIG`. */
function configPathOf(globals: GlobalOptions, io: CliIo): string | null {
  return globals.config ?? resolveConfigPath([], io.env);
}

function requireConfig(globals: GlobalOptions, io: CliIo): string | null {
  const path = configPathOf(globals, io);
  if (!path) io.err('no config file: pass -c FILE or set CONFIG=FILE (see docs/config.md)');
  return path;
}

/**
 * Builds the program. `setExitCode` receives the outcome of the command that ran (commander's own usage errors
 * exit by themselves with code 1… unless `exitOverride` is set by the caller).
 */
export function buildProgram(
  setExitCode: (code: number) => void,
  io: CliIo = processIo,
  extensions: CliExtensions = {},
): Command {
  const program = new Command(AGENT_NAME);
  program
    .description('Minion Agent: ships logs and telemetry to a Minion StreamServer and runs its commands.')
    .option('-c, --config <file>', 'config file (default: $CONFIG)')
    .addOption(
      new Option('--log-format <format>', 'format of the agent log on stderr')
        .choices(['text', 'json'])
        .default('text'),
    )
    .option('--debug', 'debug log level and a wire trace of every frame')
    .option('-r, --run', 'run the agent (the default)')
    .option('-t, --test', 'connect and authenticate once; exit 0 on success, 1 on failure')
    .option('-u, --upgrade', 'check for a new version and install it')
    .option('-v, --version', 'print the version')
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
    })
    .showHelpAfterError();

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  const run = async (opts: { ui?: boolean; uiPort?: number; dataDir?: string }): Promise<void> => {
    const g = globals();
    const invocation: RunInvocation = { logFormat: g.logFormat, debug: Boolean(g.debug) };
    if (g.config !== undefined) invocation.config = g.config;
    if (opts.ui) invocation.ui = true;
    if (opts.uiPort !== undefined) invocation.uiPort = opts.uiPort;
    if (opts.dataDir !== undefined) invocation.dataDir = opts.dataDir;
    setExitCode(await startRun(invocation, io, extensions));
  };

  const test = async (): Promise<void> => {
    if (!extensions.test) {
      io.err('test: not part of this build');
      return setExitCode(EXIT_USAGE);
    }
    const configPath = requireConfig(globals(), io);
    if (!configPath) return setExitCode(EXIT_USAGE);
    setExitCode(await extensions.test(configPath, io));
  };

  const upgrade = async (check: boolean): Promise<void> => {
    if (!extensions.upgrade) {
      io.err('upgrade: not part of this build');
      return setExitCode(EXIT_USAGE);
    }
    setExitCode(await extensions.upgrade({ configPath: configPathOf(globals(), io), checkOnly: check }, io));
  };

  // Bare `minion-agent` and the legacy flags.
  program.action(async () => {
    const g = globals();
    if (g.version) return setExitCode(printVersion(io, false));
    if (g.test) return test();
    if (g.upgrade) return upgrade(false);
    return run({});
  });

  program
    .command('run')
    .description('run the agent (logs, telemetry, commands) until SIGINT/SIGTERM')
    .option('--ui', 'also serve the web dashboard on 127.0.0.1')
    .option('--ui-port <port>', 'dashboard port (default: ui.port of the config, 47991)', parsePort)
    .option('--data-dir <dir>', 'data directory (overrides data_dir)')
    .action((opts: { ui?: boolean; uiPort?: number; dataDir?: string }) => run(opts));

  program
    .command('test')
    .description('connect and authenticate once; exit 0 on success, 1 on failure')
    .action(() => test());

  const config = program.command('config').description('config file tools');
  config
    .command('validate')
    .description('check the config file without changing it')
    .action(() => setExitCode(validateConfigCommand(configPathOf(globals(), io), io)));

  program
    .command('version')
    .description('print the agent, Node and platform versions')
    .option('--check', 'also check whether a newer version is available')
    .action(async (opts: { check?: boolean }) => {
      printVersion(io, true);
      if (opts.check) await upgrade(true);
    });

  program
    .command('upgrade')
    .description('check for a new version and install it')
    .action(() => upgrade(false));

  program
    .command('demo')
    .description('start a sandbox server, an agent and a log writer, and show what arrives')
    .option('--duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)', Number)
    .action(async (opts: { duration?: number }) =>
      setExitCode(await (await import('./demo')).runDemo({ durationSec: opts.duration }, io)),
    );

  for (const register of extensions.register ?? []) register(program, setExitCode, io);
  return program;
}
