import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src-shared/config';
import { createDesktopUpdateService } from '../../src-main/updates/desktop-updates';
import { createHeadlessUpdater } from '../../src-main/updates/headless-updater';
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
      { updates: config.updates, legacyUrl, currentVersion: '0.3.0', beforeInstall: () => Promise.resolve() },
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
        beforeInstall: () => Promise.resolve(),
      },
      headless.updater,
    );
    cleanups.push(() => service.stop());
    expect(service.view().state).toBe('off');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
