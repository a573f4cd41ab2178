import { describe, expect, it } from 'vitest';
import { DashboardWindow, dashboardWindowOptions, positionNearTray } from '../../src-main/app/window';
import { FakeWindow } from './fake-electron';

const workArea = { x: 0, y: 0, width: 1920, height: 1080 };

function setup(
  hideOnClose = true,
  tray: { x: number; y: number; width: number; height: number } | null = null,
  persistedBounds: { x: number; y: number } | null = null,
) {
  const created: FakeWindow[] = [];
  const dashboard = new DashboardWindow({
    create: (options) => {
      const window = new FakeWindow(options, persistedBounds);
      created.push(window);
      return window as never;
    },
    options: dashboardWindowOptions({ preloadPath: '/app/preload.js', devTools: false, persistState: true }),
    url: 'app://minion/index.html',
    hideOnClose,
    trayBounds: () => tray,
    workAreaNear: () => workArea,
  });
  return { dashboard, created };
}

describe('dashboardWindowOptions', () => {
  it('locks down webPreferences', () => {
    const options = dashboardWindowOptions({
      preloadPath: '/app/preload.js',
      devTools: false,
      persistState: true,
    });
    expect(options.webPreferences).toEqual({
      preload: '/app/preload.js',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: false,
    });
    expect(options.show).toBe(false);
    expect(options.name).toBe('minion-dashboard');
    expect(options.windowStatePersistence).toEqual({ bounds: true, displayMode: true });
    expect(
      dashboardWindowOptions({ preloadPath: 'p', devTools: true, persistState: false })
        .windowStatePersistence,
    ).toBeUndefined();
  });
});

describe('DashboardWindow', () => {
  it('is created lazily, once, and shown when painted', () => {
    const { dashboard, created } = setup();
    expect(created).toHaveLength(0);
    expect(dashboard.webContentsId()).toBeNull();
    const window = dashboard.show() as unknown as FakeWindow;
    expect(created).toHaveLength(1);
    expect(window.loaded).toEqual(['app://minion/index.html']);
    expect(window.visible).toBe(false);
    window.emit('ready-to-show');
    expect(window.visible).toBe(true);
    dashboard.show();
    expect(created).toHaveLength(1);
    expect(dashboard.webContentsId()).toBe(window.webContents.id);
  });

  it('hides instead of closing while a tray keeps the app alive', () => {
    const { dashboard, created } = setup(true);
    const window = dashboard.show() as unknown as FakeWindow;
    window.emit('ready-to-show');
    expect(window.userClose()).toBe(false);
    expect(window.visible).toBe(false);
    expect(dashboard.get()).toBe(window);
    dashboard.show();
    expect(window.visible).toBe(true);
    expect(created).toHaveLength(1);
  });

  it('closes for real when quitting, and a later show creates a new window', () => {
    const { dashboard, created } = setup(true);
    const window = dashboard.show() as unknown as FakeWindow;
    dashboard.allowClose();
    expect(window.userClose()).toBe(true);
    expect(dashboard.get()).toBeNull();
    dashboard.show();
    expect(created).toHaveLength(2);
  });

  it('without a tray, closing closes', () => {
    const { dashboard } = setup(false);
    const window = dashboard.show() as unknown as FakeWindow;
    expect(window.userClose()).toBe(true);
    expect(dashboard.get()).toBeNull();
  });

  it('toggle hides a visible window and shows a hidden one', () => {
    const { dashboard } = setup();
    const window = dashboard.show() as unknown as FakeWindow;
    window.emit('ready-to-show');
    dashboard.toggle();
    expect(window.visible).toBe(false);
    dashboard.toggle();
    expect(window.visible).toBe(true);
  });

  it('opens near the tray when it knows where the tray is, centred otherwise', () => {
    const near = setup(true, { x: 1800, y: 0, width: 24, height: 24 });
    const a = near.dashboard.show({ nearTray: true }) as unknown as FakeWindow;
    a.paint();
    expect(a.position).toEqual([1500, 28]);
    const linux = setup(true, { x: 0, y: 0, width: 0, height: 0 });
    const b = linux.dashboard.show({ nearTray: true }) as unknown as FakeWindow;
    b.paint();
    expect(b.position).toEqual([750, 220]);
    expect(b.centred).toBe(1);
  });

  it('keeps the bounds windowStatePersistence restored (the event comes after the constructor)', async () => {
    const { dashboard } = setup(true, { x: 1800, y: 0, width: 24, height: 24 }, { x: 40, y: 60 });
    const window = dashboard.show() as unknown as FakeWindow;
    // Electron emits persisted-state-restored soon after `new BrowserWindow()` returned, long before the first paint.
    await new Promise((resolve) => setImmediate(resolve));
    window.paint();
    expect(window.centred).toBe(0);
    expect(window.position).toEqual([40, 60]);
    expect(window.visible).toBe(true);
    window.hide();
    dashboard.show();
    expect(window.position).toEqual([40, 60]);
    // From the tray it opens next to the icon, as asked.
    dashboard.show({ nearTray: true });
    expect(window.position).toEqual([1500, 28]);
  });

  it('restores a minimised window', () => {
    const { dashboard } = setup();
    const window = dashboard.show() as unknown as FakeWindow;
    window.minimized = true;
    dashboard.show();
    expect(window.minimized).toBe(false);
  });
});

describe('positionNearTray', () => {
  const size = { width: 420, height: 640 };
  it('below a top tray, centred on the icon', () => {
    expect(
      positionNearTray({ x: 1000, y: 0, width: 20, height: 24 }, size, { ...workArea, y: 24, height: 1056 }),
    ).toEqual({
      x: 800,
      y: 28,
    });
  });
  it('above a bottom tray (Windows), clamped to the screen edge', () => {
    expect(
      positionNearTray({ x: 1890, y: 1040, width: 24, height: 40 }, size, { ...workArea, height: 1040 }),
    ).toEqual({
      x: 1500,
      y: 396,
    });
  });
  it('beside a tray on the left edge', () => {
    expect(positionNearTray({ x: -40, y: 500, width: 40, height: 40 }, size, workArea)).toEqual({
      x: 4,
      y: 200,
    });
  });
  it('null when the tray has no position', () => {
    expect(positionNearTray({ x: 0, y: 0, width: 0, height: 0 }, size, workArea)).toBeNull();
    expect(positionNearTray(null, size, workArea)).toBeNull();
  });
});
