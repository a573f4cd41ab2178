// The REAL electron-updater (AppImageUpdater with a plain adapter and a node:http executor) against a feed on
// 127.0.0.1: what a person sees in the UI is the UpdateView the service derives from it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UpdateView } from '../../src-shared/view-models';
import { createHeadlessUpdater, type HeadlessUpdater } from '../../src-main/updates/headless-updater';
import {
  explainUpdateError,
  UpdateService,
  type UpdateServiceOptions,
} from '../../src-main/updates/update-service';
import { startFeed, unreachableUrl, type FeedRelease, type FeedServer } from './feed-server';

const CURRENT = '0.3.0';
const OLD_APPIMAGE_BYTES = Buffer.from('the AppImage of 0.3.0, pretend this is an ELF file');

let dir: string;
let feeds: FeedServer[];
let services: UpdateService[];
const savedAppImage = process.env.APPIMAGE;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minion-updates-'));
  feeds = [];
  services = [];
});

afterEach(async () => {
  for (const service of services) service.stop();
  await Promise.all(feeds.map((feed) => feed.close()));
  rmSync(dir, { recursive: true, force: true });
  if (savedAppImage === undefined) delete process.env.APPIMAGE;
  else process.env.APPIMAGE = savedAppImage;
});

function release(version: string, extra: Partial<FeedRelease> = {}): FeedRelease {
  return {
    version,
    fileName: `Minion-Agent-${version}-x86_64.AppImage`,
    payload: randomBytes(512 * 1024),
    releaseNotes: `What changed in ${version}`,
    ...extra,
  };
}

async function feedFor(r: FeedRelease | null, slowMs?: number): Promise<FeedServer> {
  const feed = await startFeed(r, { slowMs });
  feeds.push(feed);
  return feed;
}

interface Harness {
  service: UpdateService;
  headless: HeadlessUpdater;
  appImage: string;
  views: UpdateView[];
}

function makeService(feedUrl: string, options: Partial<UpdateServiceOptions> = {}): Harness {
  const appImage = join(dir, 'Minion-Agent.AppImage');
  writeFileSync(appImage, OLD_APPIMAGE_BYTES, { mode: 0o755 });
  const headless = createHeadlessUpdater({
    feedUrl,
    currentVersion: CURRENT,
    cacheDir: join(dir, 'cache'),
    appImagePath: appImage,
  });
  const service = new UpdateService({
    updater: headless.updater,
    currentVersion: CURRENT,
    feedUrl,
    policy: 'manual',
    canApply: headless.canApply,
    applyUpdate: (file) => {
      if (file == null) throw new Error('no downloaded file');
      headless.apply(file);
    },
    checkOnStart: false,
    checkIntervalHours: 0,
    ...options,
  });
  services.push(service);
  const views: UpdateView[] = [];
  service.on('update', (view) => views.push(view));
  return { service, headless, appImage, views };
}

describe('UpdateService with the real electron-updater', () => {
  it('finds a newer version, downloads it byte-exact with progress events, and installs it over the AppImage', async () => {
    const r = release('0.4.0', { payload: randomBytes(3 * 1024 * 1024) });
    const feed = await feedFor(r, 1_100);
    const { service, appImage, views } = makeService(feed.url);

    const checked = await service.check();
    expect(checked.state).toBe('available');
    expect(checked.availableVersion).toBe('0.4.0');
    expect(checked.releaseNotes).toBe('What changed in 0.4.0');
    expect(checked.sizeBytes).toBe(r.payload.length);
    expect(checked.lastCheckAt).toEqual(expect.any(Number));
    expect(views.map((v) => v.state).slice(0, 2)).toEqual(['checking', 'available']);

    const downloaded = await service.download();
    expect(downloaded.state).toBe('ready');
    expect(downloaded.error).toBeNull();
    const progress = views.filter(
      (v) => v.state === 'downloading' && v.transferred != null && v.transferred > 0,
    );
    expect(progress.some((v) => (v.percent ?? 0) > 0 && (v.percent ?? 100) < 100)).toBe(true);
    expect(progress.at(-1)?.percent).toBe(100);
    expect(progress.every((v) => v.bytesPerSecond != null && v.bytesPerSecond > 0)).toBe(true);

    // The verified file waits in the updater cache; installing replaces the AppImage atomically and executable.
    const installed = await service.install();
    expect(installed.error).toBeNull();
    expect(readFileSync(appImage).equals(r.payload)).toBe(true);
    expect(statSync(appImage).mode & 0o777).toBe(0o755);
    expect(readdirSync(dir).filter((f) => f.includes('minion-agent-update'))).toEqual([]);
    expect(feed.requests.filter((p) => p.endsWith('.AppImage')).length).toBeGreaterThanOrEqual(1);
  });

  it('reports no update when the feed has the running version', async () => {
    const feed = await feedFor(release(CURRENT));
    const { service } = makeService(feed.url);
    const view = await service.check();
    expect(view.state).toBe('not-available');
    expect(view.availableVersion).toBeNull();
    expect(view.detail).toContain('0.3.0 is the latest version');
    expect(feed.requests.some((p) => p.endsWith('.AppImage'))).toBe(false);
  });

  it('rejects a download whose sha512 does not match the feed and explains it', async () => {
    const r = release('0.4.0', { sha512Override: Buffer.alloc(64, 7).toString('base64') });
    const feed = await feedFor(r);
    const { service, appImage } = makeService(feed.url);
    expect((await service.check()).state).toBe('available');
    const view = await service.download();
    expect(view.state).toBe('error');
    expect(view.error).toMatch(/did not match the sha512 checksum/);
    // Nothing of the bad file survives: the running AppImage is untouched and there is nothing to install.
    expect(readFileSync(appImage).equals(OLD_APPIMAGE_BYTES)).toBe(true);
    expect((await service.install()).detail).toBe('No downloaded update is ready to install yet.');
    expect(readFileSync(appImage).equals(OLD_APPIMAGE_BYTES)).toBe(true);
  });

  it('explains an unreachable feed in one sentence', async () => {
    const url = await unreachableUrl();
    const { service } = makeService(url);
    const view = await service.check();
    expect(view.state).toBe('error');
    expect(view.error).toBe(
      `The update feed at ${url} could not be reached (ECONNREFUSED); check the network connection and updates.feed_url.`,
    );
  });

  it('explains a feed without a release for the channel', async () => {
    const feed = await feedFor(release('0.4.0'));
    const { service } = makeService(feed.url, { channel: 'beta' });
    const view = await service.check();
    expect(view.state).toBe('error');
    expect(view.error).toMatch(/has no beta release for this platform \(HTTP 404\)/);
  });

  it('refuses a downgrade unless updates.allow_downgrade is set', async () => {
    const older = release('0.2.0');
    const feed = await feedFor(older);
    const refused = makeService(feed.url);
    const view = await refused.service.check();
    expect(view.state).toBe('not-available');
    expect(view.detail).toMatch(
      /older than this 0\.3\.0; downgrades are refused unless updates\.allow_downgrade/,
    );
    expect((await refused.service.download()).state).toBe('not-available');
    expect(feed.requests.some((p) => p.endsWith('.AppImage'))).toBe(false);

    const allowed = makeService(feed.url, { allowDowngrade: true });
    expect((await allowed.service.check()).availableVersion).toBe('0.2.0');
    expect((await allowed.service.download()).state).toBe('ready');
    await allowed.service.install();
    expect(readFileSync(allowed.appImage).equals(older.payload)).toBe(true);
  });

  it('with policy auto downloads by itself and installs at the next quiet moment, after the agent stopped', async () => {
    const r = release('0.4.0');
    const feed = await feedFor(r);
    const events: string[] = [];
    let quiet = false;
    const { service, appImage } = makeService(feed.url, {
      policy: 'auto',
      isQuiet: () => quiet,
      quietPollMs: 50,
      beforeInstall: async () => {
        events.push('agent stopped');
      },
    });
    const installedBytes = new Promise<void>((resolve) => {
      service.on('update', (v) => {
        if (v.state === 'ready' && !events.includes('ready')) events.push('ready');
        if (v.detail?.startsWith('Installing')) resolve();
      });
    });
    const checked = await service.check();
    expect(checked.availableVersion).toBe('0.4.0');
    expect(['available', 'downloading']).toContain(checked.state); // the download starts by itself
    await waitFor(() => service.view().state === 'ready');
    expect(readFileSync(appImage).equals(OLD_APPIMAGE_BYTES)).toBe(true); // busy: not yet
    quiet = true;
    await installedBytes;
    expect(events).toEqual(['ready', 'agent stopped']);
    expect(readFileSync(appImage).equals(r.payload)).toBe(true);
  });

  it('does not install when the agent cannot stop cleanly', async () => {
    const feed = await feedFor(release('0.4.0'));
    const { service, appImage } = makeService(feed.url, {
      beforeInstall: () => Promise.reject(new Error('spool flush timed out')),
    });
    await service.check();
    await service.download();
    const view = await service.install();
    expect(view.state).toBe('error');
    expect(view.error).toBe(
      'The agent could not stop cleanly, so the update was not installed (nothing was lost): spool flush timed out',
    );
    expect(readFileSync(appImage).equals(OLD_APPIMAGE_BYTES)).toBe(true);
  });

  it('with policy off never contacts the feed', async () => {
    const feed = await feedFor(release('0.4.0'));
    const { service } = makeService(feed.url, { policy: 'off', checkOnStart: true, checkIntervalHours: 6 });
    service.start();
    const view = await service.check();
    expect(view.state).toBe('off');
    expect(view.detail).toBe('Updates are turned off (updates.policy: off).');
    expect(feed.requests).toEqual([]);
  });

  it('without an AppImage checks and reports but does not download', async () => {
    const feed = await feedFor(release('0.4.0'));
    delete process.env.APPIMAGE;
    const headless = createHeadlessUpdater({
      feedUrl: feed.url,
      currentVersion: CURRENT,
      cacheDir: join(dir, 'c2'),
    });
    expect(headless.canApply).toBe(false);
    const service = new UpdateService({
      updater: headless.updater,
      currentVersion: CURRENT,
      feedUrl: feed.url,
      policy: 'auto',
      canApply: headless.canApply,
      checkOnStart: false,
      checkIntervalHours: 0,
    });
    services.push(service);
    expect((await service.check()).availableVersion).toBe('0.4.0');
    const view = await service.download();
    expect(view.state).toBe('available');
    expect(view.detail).toMatch(/cannot replace itself: install 0\.4\.0 from the update feed/);
    expect(feed.requests.some((p) => p.endsWith('.AppImage'))).toBe(false);
  });
});

describe('explainUpdateError', () => {
  it('names the HTTP status of a failing feed', () => {
    const error = Object.assign(new Error('500 Internal Server Error'), { code: 'HTTP_ERROR_500' });
    expect(explainUpdateError(error, { feedUrl: 'https://u.example/' })).toBe(
      'The update feed at https://u.example/ answered HTTP 500; try again later or ask whoever runs it.',
    );
  });
  it('falls back to the first line of an unknown error', () => {
    expect(explainUpdateError(new Error('boom\nstack'), { feedUrl: null })).toBe('Updating failed: boom');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
