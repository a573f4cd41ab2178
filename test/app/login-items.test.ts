import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  autostartDesktopEntry,
  launchedByAutostart,
  LoginItems,
  quoteExecArg,
  xdgAutostartDir,
} from '../../src-main/app/login-items';

describe('launchedByAutostart', () => {
  const app = (wasOpenedAtLogin: boolean) => ({
    getLoginItemSettings: () => ({ openAtLogin: true, wasOpenedAtLogin }) as never,
  });
  it('is true for --hidden, and on macOS for a login-item launch', () => {
    expect(launchedByAutostart(['/opt/x', '--hidden'], 'linux', app(false))).toBe(true);
    expect(launchedByAutostart(['/opt/x'], 'linux', app(true))).toBe(false);
    expect(launchedByAutostart(['/Applications/x'], 'darwin', app(true))).toBe(true);
    expect(launchedByAutostart(['/Applications/x'], 'darwin', app(false))).toBe(false);
    expect(launchedByAutostart(['C:\\x.exe'], 'win32', app(false))).toBe(false);
  });
});

describe('XDG autostart entry', () => {
  it('quotes Exec arguments per the Desktop Entry spec', () => {
    expect(quoteExecArg('/opt/Minion/minion-agent')).toBe('/opt/Minion/minion-agent');
    expect(quoteExecArg('/home/a b/Minion Agent.AppImage')).toBe('"/home/a b/Minion Agent.AppImage"');
    expect(quoteExecArg('/x/$HOME/"q"')).toBe('"/x/\\$HOME/\\"q\\""');
    expect(quoteExecArg('100%')).toBe('100%%');
  });

  it('is a complete desktop entry', () => {
    const entry = autostartDesktopEntry({ execPath: '/home/a b/Minion.AppImage' });
    expect(entry).toContain('[Desktop Entry]\nType=Application\nName=Minion Agent\n');
    expect(entry).toContain('Exec="/home/a b/Minion.AppImage"\n');
    expect(entry).toContain('X-GNOME-Autostart-enabled=true');
  });

  it('honours XDG_CONFIG_HOME only when absolute', () => {
    expect(xdgAutostartDir({ XDG_CONFIG_HOME: '/cfg' }, '/home/u')).toBe('/cfg/autostart');
    expect(xdgAutostartDir({ XDG_CONFIG_HOME: 'relative' }, '/home/u')).toBe('/home/u/.config/autostart');
    expect(xdgAutostartDir({}, '/home/u')).toBe('/home/u/.config/autostart');
  });
});

describe('LoginItems', () => {
  let dir: string;
  const settingsCalls: unknown[] = [];
  let openAtLogin = false;
  let wasOpenedAtLogin = false;
  const app = {
    setLoginItemSettings: (settings: { openAtLogin?: boolean }) => {
      settingsCalls.push(settings);
      openAtLogin = Boolean(settings.openAtLogin);
    },
    getLoginItemSettings: () => ({ openAtLogin, wasOpenedAtLogin }) as never,
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'minion-autostart-'));
    settingsCalls.length = 0;
    openAtLogin = false;
    wasOpenedAtLogin = false;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('Linux: writes and removes the autostart file', () => {
    const autostartDir = join(dir, 'autostart');
    const items = new LoginItems({
      platform: 'linux',
      app: app as never,
      execPath: '/opt/minion/minion-agent',
      autostartDir,
    });
    expect(items.isEnabled()).toBe(false);
    items.setEnabled(true);
    expect(items.isEnabled()).toBe(true);
    // Autostart starts the app in the tray; only that launch carries --hidden.
    expect(readFileSync(join(autostartDir, 'minion-agent.desktop'), 'utf8')).toContain(
      'Exec=/opt/minion/minion-agent --hidden\n',
    );
    items.setEnabled(false);
    expect(items.isEnabled()).toBe(false);
    items.setEnabled(false); // idempotent
    expect(settingsCalls).toEqual([]);
  });

  it('Linux: a file disabled from the desktop settings counts as off', () => {
    const items = new LoginItems({ platform: 'linux', app: app as never, execPath: '/x', autostartDir: dir });
    writeFileSync(join(dir, 'minion-agent.desktop'), '[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n');
    expect(items.isEnabled()).toBe(false);
  });

  it.each(['darwin', 'win32'] as const)('%s: uses Electron login items', (platform) => {
    const items = new LoginItems({ platform, app: app as never, execPath: '/x', autostartDir: dir });
    items.setEnabled(true);
    expect(settingsCalls).toEqual([{ openAtLogin: true, args: ['--hidden'] }]);
    expect(items.isEnabled()).toBe(true);
    items.setEnabled(false);
    expect(items.isEnabled()).toBe(false);
  });

  it('Linux: an enabled entry follows an AppImage that the updater renamed', () => {
    const items = new LoginItems({
      platform: 'linux',
      app: app as never,
      execPath: '/home/u/minion-agent-0.3.0-x86_64.AppImage',
      autostartDir: dir,
    });
    items.setEnabled(true);
    items.relocate('/home/u/minion-agent-0.4.0-x86_64.AppImage');
    const entry = readFileSync(join(dir, 'minion-agent.desktop'), 'utf8');
    expect(entry).toContain('Exec=/home/u/minion-agent-0.4.0-x86_64.AppImage --hidden\n');
    expect(entry).toContain('Icon=minion-agent-desktop\n');

    const off = new LoginItems({
      platform: 'linux',
      app: app as never,
      execPath: '/a',
      autostartDir: join(dir, 'o'),
    });
    off.relocate('/b');
    expect(off.isEnabled()).toBe(false);
  });
});
