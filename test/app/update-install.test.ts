/**
 * "Install and restart" end to end through the shell's real pieces (AppLifecycle, DashboardWindow, UpdateService),
 * with Electron's app/windows/autoUpdater and electron-updater's Mac and Base updaters faked in the order of events
 * they really have (fake-electron.ts cites where each order is written down).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppLifecycle } from '../../src-main/app/lifecycle';
import { DashboardWindow, dashboardWindowOptions } from '../../src-main/app/window';
import { UpdateService, type UpdaterLike } from '../../src-main/updates/update-service';
import { CountingCore } from './counting-core';
import {
  FakeApp,
  FakeBaseUpdater,
  FakeLockRegistry,
  FakeMacUpdater,
  FakeNativeAutoUpdater,
  FakeWindow,
} from './fake-electron';

type Platform = 'mac' | 'base';

function setup(
  platform: Platform,
  locks = new FakeLockRegistry(),
  order: 'typings' | 'windows-first' = 'typings',
) {
  const app = new FakeApp(locks);
  const native = new FakeNativeAutoUpdater(app, order);
  const updater = platform === 'mac' ? new FakeMacUpdater(app, native) : new FakeBaseUpdater(app, native);
  const core = new CountingCore();
  const errors: string[] = [];
  const window = new DashboardWindow({
    create: (options) => new FakeWindow(options, null, app) as never,
    options: dashboardWindowOptions({ preloadPath: '/p.js', devTools: false, persistState: false }),
    url: 'app://minion/index.html',
    hideOnClose: true,
  });
  let service: UpdateService | null = null;
  const lifecycle = new AppLifecycle({
    app: app as never,
    createShell: () => {
      service = new UpdateService({
        updater: updater as unknown as UpdaterLike,
        currentVersion: '0.3.0',
        feedUrl: null,
        policy: 'manual',
        checkOnStart: false,
        checkIntervalHours: 0,
        beforeInstall: () => lifecycle.stopForUpdate(),
        onInstallFailed: () => lifecycle.resumeAfterFailedUpdate(),
      });
      return { core, hasTray: true };
    },
    showWindow: () => window.show(),
    launchedHidden: false,
    beforeStop: () => window.allowClose(),
    setWindowsClosable: (closable) => window.setClosable(closable),
    onQuitting: () => service?.quitting(),
    onError: (message) => errors.push(message),
  });
  native.on('before-quit-for-update', () => lifecycle.onQuitForUpdate());
  return {
    app,
    native,
    updater,
    core,
    errors,
    window,
    lifecycle,
    service: () => service as unknown as UpdateService,
  };
}

async function startWithUpdateReady(h: ReturnType<typeof setup>): Promise<FakeWindow> {
  h.lifecycle.run();
  await vi.advanceTimersByTimeAsync(0);
  const win = h.window.get() as unknown as FakeWindow;
  win.paint();
  await h.service().check();
  await h.service().download();
  expect(h.service().view().state).toBe('ready');
  return win;
}

describe('installing an update', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('macOS: quitAndInstall closes the window (no hide-on-close veto), the agent stops once, the app quits', async () => {
    const h = setup('mac');
    const win = await startWithUpdateReady(h);
    await h.service().install();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.app.log).toEqual([
      'before-quit-for-update',
      'window-close',
      'before-quit',
      'will-quit',
      'exit 0',
    ]);
    expect(win.destroyed).toBe(true);
    expect(h.native.installs).toBe(1);
    expect(h.core.stops).toBe(1);
    expect(h.core.starts).toBe(1);
  });

  it('macOS, windows closing before before-quit-for-update: still installs', async () => {
    const h = setup('mac', new FakeLockRegistry(), 'windows-first');
    await startWithUpdateReady(h);
    await h.service().install();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.app.log).toEqual([
      'window-close',
      'before-quit-for-update',
      'before-quit',
      'will-quit',
      'exit 0',
    ]);
    expect(h.native.installs).toBe(1);
    expect(h.core.stops).toBe(1);
  });

  it('Windows/Linux: the installer failing (BaseUpdater returns false) restarts the agent and says so', async () => {
    const h = setup('base');
    const win = await startWithUpdateReady(h);
    (h.updater as FakeBaseUpdater).installOutcome = new Error('spawn EACCES');
    const view = await h.service().install();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.app.ended).toBe(false);
    expect(h.core.starts).toBe(2);
    expect(h.core.running).toBe(true);
    expect(view.state).toBe('ready'); // the download is still there: the person can try again
    expect(h.service().view().error).toBe(
      'Installing Minion Agent 0.4.0 failed: spawn EACCES. The agent was restarted; nothing was lost.',
    );
    // Back to a normal tray app: closing the window hides it again, and it still holds the single-instance lock.
    expect(win.userClose()).toBe(false);
    expect(h.app.hasSingleInstanceLock()).toBe(true);
    expect(h.lifecycle.currentPhase).toBe('running');
  });

  it('macOS: Squirrel never delivering is noticed after 30 s; the agent runs again', async () => {
    const h = setup('mac');
    const win = await startWithUpdateReady(h);
    (h.updater as FakeMacUpdater).squirrelDownloaded = false;
    await h.service().install();
    expect(h.core.running).toBe(false);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(h.core.starts).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.core.starts).toBe(2);
    expect(h.service().view().error).toBe(
      'Minion Agent 0.4.0 was not installed: the app was not restarted within 30 s. The agent was restarted; nothing was lost.',
    );
    expect(win.userClose()).toBe(false);

    // Squirrel finishing late still installs: the native quitAndInstall's before-quit-for-update comes before the
    // windows close, so they close, and the agent (running again) is stopped cleanly before the app exits.
    (h.updater as FakeMacUpdater).squirrelFinished();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.core.stops).toBe(2);
    expect(h.app.ended).toBe(true);
    expect(h.native.installs).toBe(0); // exit came from our own quit after the agent stopped
    expect(h.app.log).toContain('before-quit-for-update');
  });

  it('AppImage: the relaunched copy gets the single-instance lock instead of quitting', async () => {
    const locks = new FakeLockRegistry();
    const h = setup('base', locks);
    await startWithUpdateReady(h);
    let relaunched: ReturnType<typeof setup> | null = null;
    (h.updater as FakeBaseUpdater).onRelaunch = () => {
      relaunched = setup('base', locks);
      relaunched.lifecycle.run();
    };
    await h.service().install();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.app.ended).toBe(true);
    expect(relaunched).not.toBeNull();
    const next = relaunched as unknown as ReturnType<typeof setup>;
    expect(next.app.ended).toBe(false);
    expect(next.app.hasSingleInstanceLock()).toBe(true);
    expect(next.core.starts).toBe(1);
  });

  it('a quit after the installer took over is not held back and disarms the watchdog', async () => {
    const h = setup('base');
    await startWithUpdateReady(h);
    await h.service().install();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.app.ended).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(h.core.stops).toBe(1);
  });
});
