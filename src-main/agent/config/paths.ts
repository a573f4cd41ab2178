/**
 * Where the config file and the data directory live. Pure functions of (argv, env, platform, home) so they are
 * testable for every platform from any platform.
 */
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';

/**
 * The config file named by `-c FILE` / `--config FILE` / `--config=FILE` (last one wins), else the `CONFIG`
 * environment variable (the original agent's only way), else `fallback` (or null).
 */
export function resolveConfigPath(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  fallback: string | null = null,
): string | null {
  let fromFlag: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') break;
    if (arg === '-c' || arg === '--config') {
      const next = argv[i + 1];
      if (next !== undefined && next !== '') {
        fromFlag = next;
        i++;
      }
    } else if (arg.startsWith('--config=')) {
      fromFlag = arg.slice('--config='.length) || fromFlag;
    } else if (arg.startsWith('-c') && !arg.startsWith('--') && arg.length > 2) {
      fromFlag = arg.slice(2);
    }
  }
  if (fromFlag) return fromFlag;
  const fromEnv = env.CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return fallback;
}

export interface PlatformContext {
  platform?: NodeJS.Platform;
  env?: Readonly<Record<string, string | undefined>>;
  home?: string;
}

function context(ctx: PlatformContext) {
  const platform = ctx.platform ?? process.platform;
  return {
    platform,
    env: ctx.env ?? process.env,
    home: ctx.home ?? homedir(),
    path: platform === 'win32' ? win32 : posix,
  };
}

/**
 * Default data directory (spool, checkpoints, audit log):
 * systemd `StateDirectory=` → `$STATE_DIRECTORY`; Linux & others → `$XDG_STATE_HOME/minion-agent` or
 * `~/.local/state/minion-agent`; macOS → `~/Library/Application Support/Minion Agent`; Windows →
 * `%LOCALAPPDATA%\Minion Agent`.
 */
export function defaultDataDir(ctx: PlatformContext = {}): string {
  const { platform, env, home, path } = context(ctx);
  // systemd may hand us several colon-separated directories; the first is ours.
  const stateDirectory = env.STATE_DIRECTORY?.split(':')[0];
  if (stateDirectory) return stateDirectory;
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Minion Agent');
  if (platform === 'win32')
    return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'Minion Agent');
  const xdgState = env.XDG_STATE_HOME;
  return xdgState && path.isAbsolute(xdgState)
    ? path.join(xdgState, 'minion-agent')
    : path.join(home, '.local', 'state', 'minion-agent');
}

/** Default config file when neither `-c` nor `CONFIG` is given (used by the desktop app and `minion-agent init`). */
export function defaultConfigPath(ctx: PlatformContext = {}): string {
  const { platform, env, home, path } = context(ctx);
  if (platform === 'darwin')
    return path.join(home, 'Library', 'Application Support', 'Minion Agent', 'config.yml');
  if (platform === 'win32')
    return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'Minion Agent', 'config.yml');
  const xdgConfig = env.XDG_CONFIG_HOME;
  return xdgConfig && path.isAbsolute(xdgConfig)
    ? path.join(xdgConfig, 'minion-agent', 'config.yml')
    : path.join(home, '.config', 'minion-agent', 'config.yml');
}

/**
 * The effective data dir of a loaded config: `data_dir` if set (`~/` expanded; relative paths are taken relative to
 * the config file's directory, so a config and its data can move together), else the platform default.
 */
export function resolveDataDir(
  dataDirSetting: string,
  configPath: string | null,
  ctx: PlatformContext = {},
): string {
  const { home, path } = context(ctx);
  if (dataDirSetting === '') return defaultDataDir(ctx);
  if (dataDirSetting === '~') return home;
  if (dataDirSetting.startsWith('~/') || dataDirSetting.startsWith('~\\'))
    return path.join(home, dataDirSetting.slice(2));
  if (path.isAbsolute(dataDirSetting)) return dataDirSetting;
  const base = configPath ? path.dirname(path.resolve(configPath)) : process.cwd();
  return path.resolve(base, dataDirSetting);
}
