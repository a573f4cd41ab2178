/**
 * Which module provides which CLI extension: the full program's (every subcommand; full-program.ts). Kept apart
 * from the entry point so the whole program (with every extension) can be built in tests. What only a subcommand or the dashboard needs (ws and the web server, the
 * sandbox server, the REPL, the spool tools, the connection test) is imported when that command runs: the
 * long-running `run` without `--ui` never loads it.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { type AgentConfig } from '../../src-shared/config';
import { connectionOptionsFromConfig } from '../agent/agent';
import {
  configFromYaml,
  defaultConfigPath,
  defaultDataDir,
  type LoadedConfig,
  loadConfigFile,
  persistServerId,
  resolveConfigPath,
  resolveDataDir,
} from '../agent/config';
import type { SpoolAction } from './commands/spool';
import { upgradeExtension } from './commands/upgrade';
import { missingConnectionKeys } from './config-cmd';
import { type CliExtensions } from './extensions';
import { runExtensions } from './run-extensions';
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io';

/** The config for a command that authenticates: a server id generated now is on disk before it is sent. */
async function loadForCommand(configPath: string, io: CliIo): Promise<AgentConfig | null> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile(configPath, { host: 'headless' });
  } catch (err) {
    io.err(err instanceof Error ? err.message : String(err));
    return null;
  }
  for (const warning of await persistServerId(loaded.serverIdToPersist)) io.err(`config: ${warning}`);
  return loaded.config;
}

/** `test` / `-t`: one connect + auth, like the original's `-t` (exit 0 accepted, 1 otherwise). */
export async function testCommand(configPath: string, io: CliIo): Promise<number> {
  const config = await loadForCommand(configPath, io);
  if (!config) return EXIT_USAGE;
  const missing = missingConnectionKeys(config);
  if (missing.length > 0) {
    io.err(`cannot test: ${missing.join(', ')} not set in ${configPath}`);
    return EXIT_USAGE;
  }
  const { runTestCommand } = await import('./commands/test');
  return runTestCommand(connectionOptionsFromConfig(config), (line) => io.out(line));
}

/** The data dir the agent of `configPath` uses (`--data-dir` wins, as it does for `run`). */
function dataDirFor(configPath: string | null, override: string | undefined): string {
  if (override) return override;
  if (!configPath) return defaultDataDir();
  const { config } = configFromYaml(readFileSync(configPath, 'utf8'), { host: 'headless' });
  return resolveDataDir(config.data_dir, configPath);
}

function registerUi(program: Command, setExitCode: (code: number) => void, io: CliIo): void {
  program
    .command('ui')
    .description('print a fresh dashboard link for the agent running on this machine (`run --ui`)')
    .option('--data-dir <dir>', 'data directory of the running agent (if it was started with --data-dir)')
    .option('--end-sessions', 'also sign out every open dashboard session')
    .action(async (opts: { dataDir?: string; endSessions?: boolean }) => {
      // Like `run --ui`: with no -c and no CONFIG, the default config file (if there is one).
      let configPath = globalConfigPath(program, io);
      if (!configPath) {
        const fallback = defaultConfigPath({ env: io.env, home: io.env.HOME || undefined });
        configPath = existsSync(fallback) ? fallback : null;
      }
      let dataDir: string;
      try {
        dataDir = dataDirFor(configPath, opts.dataDir);
      } catch (err) {
        io.err(err instanceof Error ? err.message : String(err));
        return setExitCode(EXIT_USAGE);
      }
      const { LinkChannelError, requestDashboardLink } = await import('../bridge/link-channel');
      try {
        io.out(await requestDashboardLink(dataDir, { endSessions: Boolean(opts.endSessions) }));
        if (opts.endSessions) io.err('every open dashboard session was signed out');
        setExitCode(EXIT_OK);
      } catch (err) {
        io.err(err instanceof LinkChannelError ? err.message : `ui: ${String(err)}`);
        setExitCode(EXIT_FAILURE);
      }
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new InvalidArgumentError('expected a port 0…65535');
  return port;
}

function waitForSignal(io: CliIo): Promise<void> {
  return new Promise((resolve) => {
    const unregister = io.onSignal(['SIGINT', 'SIGTERM'], () => {
      unregister();
      resolve();
    });
  });
}

function globalConfigPath(program: Command, io: CliIo): string | null {
  return program.opts<{ config?: string }>().config ?? resolveConfigPath([], io.env);
}

function registerSandbox(program: Command, setExitCode: (code: number) => void, io: CliIo): void {
  program
    .command('sandbox')
    .description('run a local sandbox StreamServer in the foreground and print what it receives')
    .option('--port <port>', 'port to listen on (0 = any free port)', parsePort, 47990)
    .option('--group <id>', 'group id the sandbox accepts (default: a generated group and key, printed)')
    .option('--key <key>', 'group key for --group')
    .option('--no-commands', 'behave like a server without a command: section (auth is not answered)')
    .action(async (opts: { port: number; group?: string; key?: string; commands: boolean }) => {
      if (opts.group && !opts.key) {
        io.err('--group needs --key');
        return setExitCode(EXIT_USAGE);
      }
      const { runSandbox } = await import('./commands/sandbox');
      const running = await runSandbox({
        port: opts.port,
        groups: opts.group && opts.key ? [{ id: opts.group, key: opts.key }] : [],
        out: (line) => io.out(line),
        commandsEnabled: opts.commands,
      });
      await waitForSignal(io);
      await running.close();
      setExitCode(EXIT_OK);
    });
}

function registerRepl(program: Command, setExitCode: (code: number) => void, io: CliIo): void {
  program
    .command('repl')
    .description('interactive frames in the original IAR syntax (log::SERVICE::MESSAGE, …); type help')
    .option('--host <host:port>', 'server (a bare number is a port on 127.0.0.1); default from the config')
    .option('-g, --group <id>', 'group id (default from the config)')
    .option('-s, --server <uuid>', 'server id (default from the config, else a random one)')
    .option('-k, --key <key>', 'group key (default from the config)')
    .action(async (opts: { host?: string; group?: string; server?: string; key?: string }) => {
      const configPath = globalConfigPath(program, io);
      let config: AgentConfig;
      try {
        // Read-only: the REPL must not write a generated server id into someone's config.
        config = configPath
          ? configFromYaml(readFileSync(configPath, 'utf8'), { host: 'headless' }).config
          : configFromYaml('', { host: 'headless' }).config;
      } catch (err) {
        io.err(err instanceof Error ? err.message : String(err));
        return setExitCode(EXIT_USAGE);
      }
      const connection = connectionOptionsFromConfig(config);
      if (opts.host) {
        const [h, p] = /^\d+$/.test(opts.host) ? ['127.0.0.1', opts.host] : opts.host.split(':');
        connection.host = h || '127.0.0.1';
        connection.port = p ? Number(p) : 47990;
      }
      if (connection.host === '') connection.host = '127.0.0.1';
      if (opts.group) connection.groupId = opts.group;
      if (opts.key) connection.groupKey = opts.key;
      connection.serverId = (opts.server ?? connection.serverId) || randomUUID();
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(connection.serverId)) {
        io.err('--server must be a lowercase canonical UUID');
        return setExitCode(EXIT_USAGE);
      }
      const { runRepl } = await import('./commands/repl');
      setExitCode(
        await runRepl({
          connection,
          input: process.stdin,
          output: process.stdout,
          debug: Boolean(program.opts<{ debug?: boolean }>().debug),
        }),
      );
    });
}

function registerSpool(program: Command, setExitCode: (code: number) => void, io: CliIo): void {
  program
    .command('spool')
    .description('inspect or repair the durable spool: stats | verify | repair')
    .argument('<action>', 'stats, verify or repair')
    .option('--data-dir <dir>', 'data directory (default: data_dir of the config, else the platform default)')
    .action(async (action: string, opts: { dataDir?: string }) => {
      if (action !== 'stats' && action !== 'verify' && action !== 'repair') {
        io.err(`unknown spool action ${JSON.stringify(action)}: use stats, verify or repair`);
        return setExitCode(EXIT_USAGE);
      }
      let dataDir = opts.dataDir;
      if (!dataDir) {
        const configPath = globalConfigPath(program, io);
        if (configPath) {
          try {
            const { config } = configFromYaml(readFileSync(configPath, 'utf8'), { host: 'headless' });
            dataDir = resolveDataDir(config.data_dir, configPath);
          } catch (err) {
            io.err(err instanceof Error ? err.message : String(err));
            return setExitCode(EXIT_USAGE);
          }
        } else dataDir = defaultDataDir();
      }
      const { runSpoolCommand } = await import('./commands/spool');
      setExitCode(await runSpoolCommand({ action: action as SpoolAction, dataDir }, (line) => io.out(line)));
    });
}

export function cliExtensions(): CliExtensions {
  return {
    ...runExtensions(),
    test: testCommand,
    upgrade: upgradeExtension,
    register: [registerSandbox, registerRepl, registerSpool, registerUi],
  };
}
