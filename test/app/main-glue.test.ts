/**
 * Smoke test of main.ts, the glue nobody can run in CI: Electron is replaced by fakes (vi.mock), the REAL core
 * runs on a temporary config and data dir, and the test walks through ready → IPC → window → tray → quit.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { INVOKE_CHANNELS, InvokeChannel } from '../../src-shared/ipc';
import type { FakeWindow } from './fake-electron';

const dir = mkdtempSync(join(tmpdir(), 'minion-main-glue-'));
writeFileSync(join(dir, 'config.yml'), `data_dir: ${JSON.stringify(join(dir, 'data'))}\n`);
process.env.CONFIG = join(dir, 'config.yml');
process.env.XDG_CONFIG_HOME = join(dir, 'xdg');

const fakes = vi.hoisted(() => {
  // vi.hoisted runs before imports: reach node:events through require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { EventEmitter: Emitter } = require('node:events') as { EventEmitter: typeof EventEmitter };
  class FakeApp extends Emitter {
    quits = 0;
    isPackaged = false;
    requestSingleInstanceLock = () => true;
    releaseSingleInstanceLock = () => undefined;
    commandLine = { hasSwitch: (name: string) => fakes.switches.includes(name) };
    whenReady = () => Promise.resolve();
    isReady = () => true;
    getAppPath = () => process.cwd();
    getPath = (name: string) =>
      name === 'logs' ? fakes.logsDir : name === 'home' ? fakes.home : fakes.userData;
    getVersion = () => '0.3.0';
    setAppUserModelId = () => undefined;
    setLoginItemSettings = () => undefined;
    getLoginItemSettings = () => ({ openAtLogin: false });
    exit = () => undefined;
    quit = () => {
      const event = { defaultPrevented: false, preventDefault: () => void (event.defaultPrevented = true) };
      this.emit('before-quit', event);
      if (!event.defaultPrevented) this.quits++;
    };
  }
  return {
    userData: '',
    logsDir: '',
    home: '',
    switches: [] as string[],
    applicationMenu: null as unknown,
    notifications: [] as Array<{ title: string; body: string }>,
    nativeAutoUpdater: null as unknown as InstanceType<typeof Emitter>,
    updaterLogger: undefined as unknown,
    app: null as unknown as InstanceType<typeof FakeApp>,
    FakeApp,
    windows: [] as unknown[],
    trays: [] as Array<{ image: unknown; menus: unknown[]; tooltips: string[]; destroyed: boolean }>,
    handlers: new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>(),
    schemes: [] as unknown[],
    protocolHandlers: new Map<string, unknown>(),
    permissionHandlerSet: false,
    beforeRequest: null as null | ((details: { url: string }, cb: (r: { cancel: boolean }) => void) => void),
    errors: [] as string[],
  };
});

vi.mock('electron', async () => {
  const { FakeWindow: Win } = await import('./fake-electron');
  const { EventEmitter: Emitter } = await import('node:events');
  fakes.app = new fakes.FakeApp();
  fakes.nativeAutoUpdater = new Emitter();
  class Tray {
    state = { image: null as unknown, menus: [] as unknown[], tooltips: [] as string[], destroyed: false };
    constructor(image: unknown) {
      this.state.image = image;
      fakes.trays.push(this.state);
    }
    setImage(image: unknown) {
      this.state.image = image;
    }
    setToolTip(text: string) {
      this.state.tooltips.push(text);
    }
    setContextMenu(menu: unknown) {
      this.state.menus.push(menu);
    }
    getBounds() {
      return { x: 0, y: 0, width: 0, height: 0 };
    }
    on() {
      return this;
    }
    destroy() {
      this.state.destroyed = true;
    }
  }
  class BrowserWindow extends Win {
    constructor(options: unknown) {
      super(options);
      fakes.windows.push(this);
    }
  }
  class Notification extends Emitter {
    static isSupported = () => true;
    constructor(private readonly init: { title: string; body: string }) {
      super();
    }
    show() {
      fakes.notifications.push({ title: this.init.title, body: this.init.body });
    }
    close() {}
  }
  return {
    app: fakes.app,
    autoUpdater: fakes.nativeAutoUpdater,
    BaseWindow: class extends Emitter {
      isDestroyed = () => false;
      destroy() {}
    },
    BrowserWindow: Object.assign(BrowserWindow, { getFocusedWindow: () => null }),
    Tray,
    dialog: { showErrorBox: (title: string) => void fakes.errors.push(title) },
    ipcMain: {
      handle: (channel: string, handler: (event: unknown, ...args: unknown[]) => Promise<unknown>) =>
        void fakes.handlers.set(channel, handler),
      removeHandler: (channel: string) => void fakes.handlers.delete(channel),
    },
    Menu: {
      buildFromTemplate: (template: unknown) => ({ template }),
      setApplicationMenu: (menu: unknown) => void (fakes.applicationMenu = menu),
    },
    nativeImage: { createFromPath: (path: string) => ({ path }) },
    Notification,
    protocol: {
      registerSchemesAsPrivileged: (schemes: unknown[]) => void fakes.schemes.push(...schemes),
      handle: (scheme: string, handler: unknown) => void fakes.protocolHandlers.set(scheme, handler),
    },
    safeStorage: {
      isEncryptionAvailable: () => false,
      encryptString: () => Buffer.alloc(0),
      decryptString: () => '',
      getSelectedStorageBackend: () => 'basic_text',
    },
    screen: { getDisplayNearestPoint: () => ({ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }) },
    session: {
      defaultSession: {
        setPermissionRequestHandler: () => void (fakes.permissionHandlerSet = true),
        setPermissionCheckHandler: () => undefined,
        webRequest: {
          onBeforeRequest: (listener: typeof fakes.beforeRequest) => void (fakes.beforeRequest = listener),
          onHeadersReceived: () => undefined,
        },
      },
    },
    shell: { openExternal: async () => undefined, openPath: async () => '' },
  };
});

vi.mock('electron-store', async () => {
  const { default: Conf } = await import('conf');
  return {
    default: class extends Conf {
      constructor(options: Record<string, unknown>) {
        super({
          ...options,
          cwd: fakes.userData,
          configName: String(options.name),
          projectName: 'minion-test',
        });
      }
    },
  };
});

vi.mock('electron-updater', () => {
  const autoUpdater = Object.assign(new EventEmitter(), {
    autoDownload: true,
    autoInstallOnAppQuit: true,
    allowDowngrade: false,
    setFeedURL: () => undefined,
    checkForUpdates: async () => null,
    downloadUpdate: async () => [],
    quitAndInstall: () => undefined,
  });
  Object.defineProperty(autoUpdater, 'logger', {
    get: () => fakes.updaterLogger,
    set: (logger: unknown) => void (fakes.updaterLogger = logger),
  });
  return { autoUpdater, AppImageUpdater: class {} };
});

fakes.userData = join(dir, 'userData');
fakes.logsDir = join(dir, 'logs');
fakes.home = join(dir, 'home');
// Packaged Linux AppImage on Ubuntu 24.04+: AppRun added --no-sandbox.
fakes.switches = ['no-sandbox'];

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('main.ts glue', () => {
  it('wires everything on ready and quits gracefully', async () => {
    await import('../../src-main/app/main');
    // The shell is built once the login shell said its PATH (asynchronously): poll for the IPC handlers.
    await expect.poll(() => fakes.handlers.size, { timeout: 10_000 }).toBe(INVOKE_CHANNELS.length);
    await settle();
    expect(fakes.errors).toEqual([]);

    // Before ready: app:// registered as a privileged scheme; after: served, session hardened.
    expect(fakes.schemes).toEqual([expect.objectContaining({ scheme: 'app' })]);
    expect(fakes.protocolHandlers.has('app')).toBe(true);
    expect(fakes.permissionHandlerSet).toBe(true);
    let cancelled: boolean | null = null;
    fakes.beforeRequest!({ url: 'https://cdn.example/x.js' }, (r) => (cancelled = r.cancel));
    expect(cancelled).toBe(true);

    // Every invoke channel has a handler; nobody but the dashboard window's main frame is trusted.
    expect([...fakes.handlers.keys()].sort()).toEqual([...INVOKE_CHANNELS].sort());
    const snapshotHandler = fakes.handlers.get(InvokeChannel.Snapshot)!;
    const frame = { url: 'app://minion/index.html', parent: null };
    expect(await snapshotHandler({ sender: { id: 9_999 }, senderFrame: frame })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });

    // A tray with the full menu, polled rather than slept for (the tray refresh is throttled).
    expect(fakes.trays).toHaveLength(1);
    const tray = fakes.trays[0]!;
    await expect.poll(() => tray.tooltips.at(-1), { timeout: 5_000 }).toMatch(/^Minion Agent — /);
    const menu = tray.menus.at(-1) as { template: Array<{ label?: string }> };
    expect(menu.template.map((item) => item.label)).toContain('Quit Minion Agent');

    // First run, no server configured: the window opens although a tray exists (it may be invisible).
    expect(fakes.windows).toHaveLength(1);
    const window = fakes.windows[0] as FakeWindow;
    expect(window.loaded).toEqual(['app://minion/index.html']);
    window.paint();
    expect(window.visible).toBe(true);
    expect((window.options as { webPreferences: Record<string, unknown> }).webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    });

    // Our application menu replaced Electron's default one: Quit is reachable from the window.
    const appMenu = fakes.applicationMenu as { template: Array<{ submenu?: Array<{ label?: string }> }> };
    expect(appMenu.template.flatMap((m) => m.submenu ?? []).map((i) => i.label)).toContain(
      '&Quit Minion Agent',
    );
    // electron-updater logs into the main log; running without the sandbox is said once.
    expect(fakes.updaterLogger).toEqual(expect.objectContaining({ info: expect.any(Function) }));
    expect(fakes.notifications.map((n) => n.title)).toEqual(['Minion Agent runs without its sandbox']);

    // A second launch focuses the same window; its main frame may call the API.
    fakes.app.emit('second-instance', {}, [], '/');
    expect(fakes.windows).toHaveLength(1);
    const snapshot = await snapshotHandler({ sender: { id: window.webContents.id }, senderFrame: frame });
    expect(snapshot).toMatchObject({
      ok: true,
      value: { agentVersion: '0.3.0', dataDir: join(dir, 'data') },
    });

    // Closing hides (tray app); quitting stops the core, then really quits.
    expect(window.userClose()).toBe(false);
    fakes.app.quit();
    expect(fakes.app.quits).toBe(0);
    await expect.poll(() => fakes.app.quits, { timeout: 10_000 }).toBe(1);
    expect(tray.destroyed).toBe(true);
    expect(fakes.handlers.size).toBe(0);
    expect(window.userClose()).toBe(true);
  });
});
