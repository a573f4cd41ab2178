/**
 * The headless dashboard (`minion-agent run --ui`): the same renderer served by the web bridge, talking to the REAL
 * core over the WebSocket bridge (no preload). Also: the token is enforced, and an update found on a local feed by
 * the REAL update service shows its download progress bar.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebDashboard, type WebDashboard } from '../../src-main/bridge/web-server';
import { createHeadlessUpdater } from '../../src-main/updates/headless-updater';
import { UpdateService } from '../../src-main/updates/update-service';
import { startFeed, type FeedServer } from '../updates/feed-server';
import { ARTIFACTS_DIR, launchChromium, TRAY_VIEWPORT } from './support/harness';
import { ensureRendererBuilt } from './support/renderer-build';
import { startRealEnv, type RealEnv } from './support/real-env';

let env: RealEnv;
let feed: FeedServer;
let updates: UpdateService;
let web: WebDashboard;
let chromium: Awaited<ReturnType<typeof launchChromium>>;

const POLL = { timeout: 20_000, interval: 100 };

beforeAll(async () => {
  const [rendererDir, realEnv, browser] = await Promise.all([
    ensureRendererBuilt(),
    startRealEnv(),
    launchChromium(),
  ]);
  env = realEnv;
  chromium = browser;
  // Served in thirds, 1.5 s apart, so the page has time to show a partial download.
  feed = await startFeed(
    {
      version: '0.4.0',
      fileName: 'Minion-Agent-0.4.0-x86_64.AppImage',
      payload: randomBytes(256 * 1024),
      releaseNotes: 'Faster replay after outages.',
    },
    { slowMs: 1500 },
  );
  // An "installed" AppImage to replace: without one the service rightly refuses to download.
  const appImagePath = join(env.dir, 'Minion-Agent.AppImage');
  writeFileSync(appImagePath, 'old build', { mode: 0o755 });
  const headless = createHeadlessUpdater({
    feedUrl: feed.url,
    currentVersion: '0.3.0',
    cacheDir: join(env.dir, 'updates'),
    appImagePath,
  });
  updates = new UpdateService({
    updater: headless.updater,
    currentVersion: '0.3.0',
    feedUrl: feed.url,
    policy: 'manual',
    canApply: headless.canApply,
    checkOnStart: false,
    checkIntervalHours: 0,
  });
  web = await startWebDashboard({ core: env.core, updates, rendererDir, port: 0, eventIntervalMs: 100 });
}, 120_000);

afterAll(async () => {
  await web?.close();
  await chromium?.close();
  updates?.stop();
  await feed?.close();
  await env?.close();
});

describe('headless web dashboard', () => {
  it('refuses a wrong token', async () => {
    const page = await chromium.context.newPage();
    try {
      const response = await page.goto(`${web.origin}/?token=not-the-token`);
      expect(response?.status()).toBe(403);
      expect(await page.locator('.app').count()).toBe(0);
      const bare = await page.goto(`${web.origin}/`);
      expect(bare?.status()).toBe(401);
    } finally {
      await page.close();
    }
  });

  it('shows the real core over the WebSocket bridge and an update downloading from a local feed', async () => {
    const page = await chromium.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    try {
      await page.setViewportSize(TRAY_VIEWPORT);
      await page.goto(web.url);
      // The token is swapped for a session cookie and dropped from the address bar.
      expect(page.url()).not.toContain(web.token);
      const badge = page.locator('.app-header .state-badge');
      await expect.poll(() => badge.getAttribute('data-state'), POLL).toBe('connected');
      expect(await page.evaluate(() => 'minion' in globalThis)).toBe(false);

      env.writeLog('through the web bridge');
      await page.getByRole('tab', { name: 'Logs' }).click();
      await expect.poll(() => page.getByText('through the web bridge').count(), POLL).toBe(1);

      await page.getByRole('tab', { name: /^Updates/ }).click();
      await page.getByRole('button', { name: 'Check now' }).click();
      await expect.poll(() => page.getByTestId('available-version').textContent(), POLL).toBe('0.4.0');
      expect(await page.locator('.release-notes').textContent()).toContain('Faster replay');
      await page.getByRole('button', { name: 'Download' }).click();
      const bar = page.getByRole('progressbar', { name: 'Update download' });
      await expect
        .poll(async () => {
          const now = Number(await bar.getAttribute('aria-valuenow'));
          return now > 0 && now < 100;
        }, POLL)
        .toBe(true);
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'web-updates-downloading-tray.png') });
      await expect.poll(() => page.getByTestId('update-state').textContent(), POLL).toBe('ready');
      expect(await bar.getAttribute('aria-valuenow')).toBe('100');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
