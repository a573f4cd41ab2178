import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAgentConfig } from '../../src-shared/config';
import { createDesktopUpdateService } from '../../src-main/updates/desktop-updates';
import { createHeadlessUpdater } from '../../src-main/updates/headless-updater';
import { BUILT_IN_FEED_URL } from '../../src-main/updates/feed';
import {
  DEB_INSTALL_HINT,
  detectInstallKind,
  readPackageType,
  type InstallKind,
} from '../../src-main/updates/install-kind';
import type { UpdaterLike } from '../../src-main/updates/update-service';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { startFeed, type FeedServer } from './feed-server';
import { randomBytes } from 'node:crypto';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('createDesktopUpdateService', () => {
  it('maps updates.* onto the service and shows the legacy announcement', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minion-desktop-updates-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const feed: FeedServer = await startFeed({
      version: '0.5.0',
      fileName: 'a.AppImage',
      payload: randomBytes(10),
    });
    cleanups.push(() => feed.close());
    const legacy: Server = createServer((_req, res) => res.end(JSON.stringify({ latest_version: '0.2.5' })));
    await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => legacy.close(() => resolve())));
    const legacyUrl = `http://127.0.0.1:${(legacy.address() as AddressInfo).port}/api/v1/minion`;

    const { config } = parseAgentConfig({
      updates: { feed_url: feed.url, policy: 'manual', check_interval_hours: 12 },
    });
    const headless = createHeadlessUpdater({
      feedUrl: 'http://127.0.0.1:9/unused/',
      currentVersion: '0.3.0',
      cacheDir: dir,
    });
    const service = createDesktopUpdateService(
      {
        updates: config.updates,
        legacyUrl,
        currentVersion: '0.3.0',
        installKind: 'appimage',
        beforeInstall: () => Promise.resolve(),
        isQuiet: () => true,
      },
      headless.updater,
    );
    cleanups.push(() => service.stop());
    expect(service.view()).toMatchObject({ state: 'idle', policy: 'manual', currentVersion: '0.3.0' });
    // The config's feed_url replaced the one the updater was created with.
    const view = await service.check();
    expect(view.availableVersion).toBe('0.5.0');
    expect(feed.requests.length).toBeGreaterThan(0);
    await waitFor(() => service.view().legacyAnnouncedVersion === '0.2.5');
  });

  it('is off with policy off', () => {
    const { config } = parseAgentConfig({ updates: { policy: 'off' } });
    const dir = mkdtempSync(join(tmpdir(), 'minion-desktop-updates-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const headless = createHeadlessUpdater({
      feedUrl: 'http://127.0.0.1:9/',
      currentVersion: '0.3.0',
      cacheDir: dir,
    });
    const service = createDesktopUpdateService(
      {
        updates: config.updates,
        legacyUrl: null,
        currentVersion: '0.3.0',
        installKind: 'appimage',
        beforeInstall: () => Promise.resolve(),
        isQuiet: () => true,
      },
      headless.updater,
    );
    cleanups.push(() => service.stop());
    expect(service.view().state).toBe('off');
  });
});

/** Records what the service sets on electron-updater (its feed options and quit behaviour). */
class RecordingUpdater extends EventEmitter {
  autoDownload = true;
  autoInstallOnAppQuit = true;
  allowDowngrade = false;
  feeds: unknown[] = [];
  downloads = 0;
  setFeedURL(options: unknown): void {
    this.feeds.push(options);
  }
  async checkForUpdates() {
    const updateInfo = { version: '0.4.0', files: [], path: 'x', sha512: 'x', releaseDate: '2026-12-01' };
    return { isUpdateAvailable: true, updateInfo, versionInfo: updateInfo };
  }
  async downloadUpdate(): Promise<string[]> {
    this.downloads++;
    return ['/cache/x.deb'];
  }
  installs = 0;
  quitAndInstall(): void {
    this.installs++;
  }
}

function desktopService(yaml: Record<string, unknown>, installKind: InstallKind, isQuiet = () => true) {
  const { config } = parseAgentConfig({ updates: yaml });
  const updater = new RecordingUpdater();
  const service = createDesktopUpdateService(
    {
      updates: config.updates,
      legacyUrl: null,
      currentVersion: '0.3.0',
      installKind,
      beforeInstall: async () => {},
      isQuiet,
    },
    updater as unknown as UpdaterLike,
  );
  cleanups.push(() => service.stop());
  return { service, updater };
}

describe('updates.policy: auto', () => {
  afterEach(() => vi.useRealTimers());
  it('installs a downloaded update only at a quiet moment', async () => {
    vi.useFakeTimers();
    let quiet = false;
    const { service, updater } = desktopService({ policy: 'auto' }, 'appimage', () => quiet);
    await service.check();
    await vi.advanceTimersByTimeAsync(0);
    expect(service.view().state).toBe('ready');
    expect(updater.installs).toBe(0); // a command is running: wait
    await vi.advanceTimersByTimeAsync(60_000);
    expect(updater.installs).toBe(0);
    quiet = true;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(updater.installs).toBe(1);
  });
});

describe('clicks in the UI', () => {
  it('go through the same decision as the tray (decideUserRequest)', async () => {
    const { service, updater } = desktopService({ policy: 'off' }, 'appimage');
    const ui = service.userFacing();
    expect((await ui.download()).detail).toBe('Updates are turned off on this agent (updates.policy: off).');
    expect((await ui.install()).detail).toBe('Updates are turned off on this agent (updates.policy: off).');
    expect(updater.downloads).toBe(0);
    expect(ui.view()).toEqual(service.view());
  });
});

describe('updates.channel', () => {
  it('reaches electron-updater with the built-in feed too', () => {
    const { updater } = desktopService({ channel: 'beta' }, 'appimage');
    expect(updater.feeds).toEqual([{ provider: 'generic', url: BUILT_IN_FEED_URL, channel: 'beta' }]);
  });
});

describe('how this copy was installed', () => {
  it('an AppImage is an AppImage even when the deb marker is in its resources', () => {
    const facts = { platform: 'linux' as const, isPackaged: true, packageType: 'deb' };
    expect(detectInstallKind({ ...facts, appImagePath: '/home/u/Minion-Agent.AppImage' })).toBe('appimage');
    expect(detectInstallKind({ ...facts, appImagePath: undefined })).toBe('deb');
    expect(detectInstallKind({ ...facts, appImagePath: undefined, packageType: null })).toBe('linux-archive');
    expect(detectInstallKind({ ...facts, appImagePath: undefined, isPackaged: false })).toBe('unpackaged');
    expect(detectInstallKind({ ...facts, appImagePath: undefined, platform: 'darwin' })).toBe('mac');
  });

  it('reads the marker electron-builder writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'minion-package-type-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    expect(readPackageType(dir)).toBeNull();
    writeFileSync(join(dir, 'package-type'), 'deb');
    expect(readPackageType(dir)).toBe('deb');
  });

  it('a deb checks but never downloads, never installs on quit, and says to use apt', async () => {
    const { service, updater } = desktopService({ policy: 'auto' }, 'deb');
    expect(updater.autoInstallOnAppQuit).toBe(false);
    expect(service.view().installHint).toBe(DEB_INSTALL_HINT);
    const checked = await service.check();
    expect(checked.availableVersion).toBe('0.4.0');
    expect(updater.downloads).toBe(0);
    const refused = await service.userRequest('download');
    expect(refused.detail).toBe(DEB_INSTALL_HINT);
    expect(updater.downloads).toBe(0);
  });

  it('an AppImage downloads and installs on quit', () => {
    const { service, updater } = desktopService({ policy: 'manual' }, 'appimage');
    expect(updater.autoInstallOnAppQuit).toBe(true);
    expect(service.view().installHint).toBeNull();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
