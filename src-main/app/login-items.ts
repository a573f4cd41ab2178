/**
 * "Start at login". macOS and Windows: Electron's `app.setLoginItemSettings`. Linux: Electron has no login items
 * there, so the XDG autostart spec is used — a `.desktop` file in `$XDG_CONFIG_HOME/autostart/`, which GNOME, KDE,
 * Xfce, Cinnamon and most others honour.
 */
import type { App } from 'electron';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const AUTOSTART_FILE_NAME = 'minion-agent.desktop';
/** Passed by autostart only: the app starts in the tray. Any other launch is a person who wants to see it. */
export const HIDDEN_ARG = '--hidden';
/** The icon the packages install (named after the desktop executable, see electron-builder.yml). */
export const DESKTOP_ICON_NAME = 'minion-agent-desktop';

/**
 * Whether this launch came from autostart: `--hidden` (the XDG entry and the Windows Run key carry it) or, on macOS
 * where login items take no arguments, `wasOpenedAtLogin` (electron.d.ts `getLoginItemSettings`, macOS only).
 */
export function launchedByAutostart(
  argv: readonly string[],
  platform: NodeJS.Platform,
  app: Pick<App, 'getLoginItemSettings'>,
): boolean {
  if (argv.includes(HIDDEN_ARG)) return true;
  return platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin === true;
}

/**
 * Quotes one Exec argument per the Desktop Entry spec: quote when it holds a reserved character; inside quotes,
 * backslash-escape `"`, `` ` ``, `$` and `\`; a literal `%` is written `%%` (field codes start with %).
 */
export function quoteExecArg(arg: string): string {
  const percentSafe = arg.replace(/%/g, '%%');
  if (percentSafe !== '' && !/[\s"'\\><~|&;$*?#()`=]/.test(percentSafe)) return percentSafe;
  return `"${percentSafe.replace(/(["`$\\])/g, '\\$1')}"`;
}

export function autostartDesktopEntry(options: { execPath: string; args?: string[]; name?: string }): string {
  const exec = [options.execPath, ...(options.args ?? [])].map(quoteExecArg).join(' ');
  return [
    '[Desktop Entry]',
    'Type=Application',
    `Name=${options.name ?? 'Minion Agent'}`,
    'Comment=Ships logs and telemetry to a Minion StreamServer',
    `Exec=${exec}`,
    `Icon=${DESKTOP_ICON_NAME}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

export function xdgAutostartDir(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const configHome =
    env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(configHome, 'autostart');
}

export interface LoginItemsOptions {
  platform: NodeJS.Platform;
  app: Pick<App, 'setLoginItemSettings' | 'getLoginItemSettings'>;
  /** The executable to start. For an AppImage: `$APPIMAGE` (execPath points inside the temporary mount). */
  execPath: string;
  autostartDir: string;
}

export class LoginItems {
  private execPath: string;

  constructor(private readonly options: LoginItemsOptions) {
    this.execPath = options.execPath;
  }

  /**
   * The executable moved (electron-updater's `appimage-filename-updated`: an AppImage with a version in its name is
   * replaced by a file with the new name and the old one deleted). An enabled autostart entry follows it.
   */
  relocate(execPath: string): void {
    this.execPath = execPath;
    if (this.options.platform === 'linux' && this.isEnabled()) this.setEnabled(true);
  }

  supported(): boolean {
    return ['darwin', 'win32', 'linux'].includes(this.options.platform);
  }

  private get desktopFile(): string {
    return join(this.options.autostartDir, AUTOSTART_FILE_NAME);
  }

  isEnabled(): boolean {
    if (this.options.platform === 'linux') {
      if (!existsSync(this.desktopFile)) return false;
      // A file a person disabled through their desktop's settings counts as off.
      return !/^X-GNOME-Autostart-enabled=false$|^Hidden=true$/m.test(readFileSync(this.desktopFile, 'utf8'));
    }
    // Windows reports openAtLogin only for the same args as were set (electron.d.ts getLoginItemSettings).
    return this.options.app.getLoginItemSettings({ args: [HIDDEN_ARG] }).openAtLogin;
  }

  setEnabled(enabled: boolean): void {
    if (this.options.platform !== 'linux') {
      // Windows passes the arguments to the Run key; macOS ignores them (launchedByAutostart asks wasOpenedAtLogin).
      this.options.app.setLoginItemSettings({ openAtLogin: enabled, args: [HIDDEN_ARG] });
      return;
    }
    if (!enabled) {
      rmSync(this.desktopFile, { force: true });
      return;
    }
    mkdirSync(this.options.autostartDir, { recursive: true });
    const temp = `${this.desktopFile}.tmp-${process.pid}`;
    writeFileSync(temp, autostartDesktopEntry({ execPath: this.execPath, args: [HIDDEN_ARG] }), {
      mode: 0o644,
    });
    renameSync(temp, this.desktopFile);
  }
}
