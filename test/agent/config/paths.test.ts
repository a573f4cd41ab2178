import { describe, expect, it } from 'vitest';
import {
  defaultConfigPath,
  defaultDataDir,
  resolveConfigPath,
  resolveDataDir,
} from '../../../src-main/agent/config';

describe('resolveConfigPath', () => {
  it('prefers -c/--config over CONFIG, last flag wins', () => {
    expect(resolveConfigPath(['run', '-c', '/a.yml'], { CONFIG: '/env.yml' })).toBe('/a.yml');
    expect(resolveConfigPath(['--config', '/b.yml'], {})).toBe('/b.yml');
    expect(resolveConfigPath(['--config=/c.yml'], {})).toBe('/c.yml');
    expect(resolveConfigPath(['-c/d.yml'], {})).toBe('/d.yml');
    expect(resolveConfigPath(['-c', '/a.yml', '--config', '/b.yml'], {})).toBe('/b.yml');
  });

  it('falls back to CONFIG, then to the given default, then null', () => {
    expect(resolveConfigPath(['-r'], { CONFIG: '/env.yml' })).toBe('/env.yml');
    expect(resolveConfigPath([], { CONFIG: '' }, '/default.yml')).toBe('/default.yml');
    expect(resolveConfigPath([], {})).toBeNull();
    // arguments after `--` belong to something else
    expect(resolveConfigPath(['--', '-c', '/x.yml'], {})).toBeNull();
    // a dangling -c does not swallow nothing
    expect(resolveConfigPath(['-c'], { CONFIG: '/env.yml' })).toBe('/env.yml');
  });
});

describe('data and config locations', () => {
  it('Linux: XDG_STATE_HOME, else ~/.local/state; systemd STATE_DIRECTORY wins', () => {
    expect(defaultDataDir({ platform: 'linux', env: { XDG_STATE_HOME: '/xdg' }, home: '/home/u' })).toBe(
      '/xdg/minion-agent',
    );
    expect(defaultDataDir({ platform: 'linux', env: {}, home: '/home/u' })).toBe(
      '/home/u/.local/state/minion-agent',
    );
    expect(defaultDataDir({ platform: 'linux', env: { XDG_STATE_HOME: 'relative' }, home: '/home/u' })).toBe(
      '/home/u/.local/state/minion-agent',
    );
    expect(
      defaultDataDir({
        platform: 'linux',
        env: { STATE_DIRECTORY: '/var/lib/minion-agent:/other' },
        home: '/',
      }),
    ).toBe('/var/lib/minion-agent');
    expect(defaultConfigPath({ platform: 'linux', env: {}, home: '/home/u' })).toBe(
      '/home/u/.config/minion-agent/config.yml',
    );
  });

  it('macOS and Windows', () => {
    expect(defaultDataDir({ platform: 'darwin', env: {}, home: '/Users/u' })).toBe(
      '/Users/u/Library/Application Support/Minion Agent',
    );
    expect(
      defaultDataDir({
        platform: 'win32',
        env: { LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' },
        home: 'C:\\Users\\u',
      }),
    ).toBe('C:\\Users\\u\\AppData\\Local\\Minion Agent');
    expect(defaultDataDir({ platform: 'win32', env: {}, home: 'C:\\Users\\u' })).toBe(
      'C:\\Users\\u\\AppData\\Local\\Minion Agent',
    );
  });

  it('resolves data_dir: empty = default, ~ expanded, relative to the config file', () => {
    const ctx = { platform: 'linux' as const, env: {}, home: '/home/u' };
    expect(resolveDataDir('', '/etc/minion/config.yml', ctx)).toBe('/home/u/.local/state/minion-agent');
    expect(resolveDataDir('~/minion', null, ctx)).toBe('/home/u/minion');
    expect(resolveDataDir('/srv/m', null, ctx)).toBe('/srv/m');
    expect(resolveDataDir('data', '/etc/minion/config.yml', ctx)).toBe('/etc/minion/data');
  });
});
