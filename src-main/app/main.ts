/**
 * Electron main process: glue only. Every decision lives in a tested module of src-main/app or src-main/bridge;
 * this file creates the Electron objects and hands them over. It cannot run in CI (no Electron binary there).
 */
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  nativeImage,
  Notification,
  protocol,
  safeStorage,
  screen,
  session,
  shell,
  Tray,
} from 'electron';
import ElectronStore from 'electron-store';
import { join } from 'node:path';
import { AgentCore } from '../agent/agent';
import { defaultConfigPath, resolveConfigPath } from '../agent/config';
import { AGENT_VERSION } from '../agent/version';
import { createEventBatcher } from '../bridge/event-batcher';
import { createInvokeHandlers } from '../bridge/handlers';
import { createSandboxStarter } from '../bridge/local-sandbox';
import { SandboxServer } from '../sandbox/sandbox-server';
import { createDesktopUpdateService } from '../updates/desktop-updates';
import type { UpdateService } from '../updates/update-service';
import type {
  ApprovalRequestView,
  ConnectionView,
  SpoolView,
  UpdateView,
} from '../../src-shared/view-models';
import { ApprovalPresenter } from './approvals';
import { registerIpcHandlers, webContentsSink } from './ipc-main';
import { AppLifecycle } from './lifecycle';
import { LoginItems, xdgAutostartDir } from './login-items';
import { ShellNotifications, type Notify } from './notifications';
import { APP_SCHEME_PRIVILEGES, isAppUrl, RENDERER_ENTRY_URL, serveRenderer } from './renderer-protocol';
import { hardenSession, hardenWebContents } from './security';
import { groupKeyStore, SettingsStore } from './settings-store';
import { TrayController, trayIconPath, trayStateFrom } from './tray';
import type { TrayAction, TrayIconName } from './tray-menu';
import { desktopUpgradeHook } from './upgrade-hook';
import { DashboardWindow, dashboardWindowOptions } from './window';

// Must happen before `ready`: gives app:// a real, secure origin.
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
if (process.platform === 'win32') app.setAppUserModelId('io.minion.agent');

// Development only: MINION_RENDERER_URL points at the Vite dev server; packaged builds ignore it.
const devRendererUrl = !app.isPackaged ? (process.env.MINION_RENDERER_URL ?? null) : null;
const devServerOrigin = devRendererUrl ? new URL(devRendererUrl).origin : null;
const isOurs = (url: string): boolean => isAppUrl(url, devServerOrigin);
const distDir = join(__dirname, '..');
const iconsDir = app.isPackaged
  ? join(process.resourcesPath, 'icons')
  : join(app.getAppPath(), 'resources', 'icons');

app.on('web-contents-created', (_event, contents) => {
  hardenWebContents(contents, { isAppUrl: isOurs, openExternal: (url) => shell.openExternal(url) });
});

const notify: Notify = ({ title, body, onClick }) => {
  if (!Notification.isSupported()) return null;
  const notification = new Notification({ title, body, icon: join(iconsDir, 'app.png') });
  if (onClick) notification.on('click', onClick);
  notification.show();
  return { close: () => notification.close() };
};

let dashboard: DashboardWindow | null = null;
let stopShell: () => void = () => undefined;

const lifecycle = new AppLifecycle({
  app,
  showWindow: () => dashboard?.show({ nearTray: true }),
  beforeStop: () => stopShell(),
  onError: (message, error) => {
    const detail = error instanceof Error ? error.message : error ? String(error) : '';
    console.error(message, detail);
    if (app.isReady()) dialog.showErrorBox(message, detail);
  },
  createShell: () => {
    hardenSession(session.defaultSession, { isAppUrl: isOurs });
    serveRenderer(protocol, join(distDir, 'renderer'));

    const settings = new SettingsStore({
      createStore: () => new ElectronStore({ name: 'settings', clearInvalidConfig: false }),
      storeFilePath: join(app.getPath('userData'), 'settings.json'),
      safeStorage,
      platform: process.platform,
    });
    for (const notice of settings.notices) notify({ title: 'Minion Agent', body: notice.message });

    const configPath = resolveConfigPath(process.argv, process.env, defaultConfigPath());
    let updatesService: UpdateService | null = null;
    const core = new AgentCore({
      configPath,
      host: 'desktop',
      updater: desktopUpgradeHook(() => updatesService),
      // The group key lives in the OS keyring (safeStorage) where there is one, not in the YAML.
      groupKeyStore: groupKeyStore(settings),
    });
    const config = core.effectiveConfig;
    const updates = createDesktopUpdateService({
      updates: config.updates,
      legacyUrl: config.upgrade,
      currentVersion: AGENT_VERSION,
      beforeInstall: () => core.stop(),
    });
    updatesService = updates;
    const sandbox = createSandboxStarter({ core, startServer: (options) => SandboxServer.start(options) });

    // Tray (none on desktops without a status area, or when MINION_NO_TRAY=1: the window is the app then).
    let tray: Tray | null = null;
    if (process.env.MINION_NO_TRAY !== '1') {
      try {
        tray = new Tray(nativeImage.createFromPath(trayIconPath(iconsDir, 'connecting', process.platform)));
      } catch (error) {
        console.error('no tray available, running as a normal window', error);
      }
    }
    const window = new DashboardWindow({
      create: (options) => new BrowserWindow(options),
      options: dashboardWindowOptions({
        preloadPath: join(distDir, 'preload', 'preload.js'),
        iconPath: join(iconsDir, 'app.png'),
        devTools: !app.isPackaged,
        persistState: true,
      }),
      url: devRendererUrl ?? RENDERER_ENTRY_URL,
      hideOnClose: tray !== null,
      trayBounds: () => tray?.getBounds() ?? null,
      workAreaNear: (point) => screen.getDisplayNearestPoint(point).workArea,
    });
    dashboard = window;

    const unregisterIpc = registerIpcHandlers({
      ipcMain,
      handlers: createInvokeHandlers({
        core,
        updates,
        startSandbox: () => sandbox.start(),
        openDataFolder: async () => {
          const problem = await shell.openPath(core.dataDir);
          if (problem) throw new Error(problem);
          return core.dataDir;
        },
      }),
      senderPolicy: { dashboardWebContentsId: () => window.webContentsId(), isAppUrl: isOurs },
      onRejected: (channel, reason) => console.warn(`IPC ${channel} refused: ${reason}`),
    });
    const batcher = createEventBatcher({
      core,
      updates,
      emit: webContentsSink(() => window.get()?.webContents ?? null),
    });

    const loginItems = new LoginItems({
      platform: process.platform,
      app,
      execPath: process.env.APPIMAGE ?? process.execPath,
      autostartDir: xdgAutostartDir(),
    });
    const snapshot = core.snapshot();
    let connection: ConnectionView = snapshot.connection;
    let spool: SpoolView = snapshot.spool;
    let pendingApprovals = 0;
    const onTrayAction = (action: TrayAction): void => {
      switch (action) {
        case 'open':
        case 'open-approvals':
          window.show({ nearTray: true });
          return;
        case 'pause':
          return core.pause();
        case 'resume':
          return core.resume();
        case 'reconnect':
          return core.reconnectNow();
        case 'check-updates':
          void updates.check().catch(() => undefined);
          return;
        case 'install-update':
          void updates.install().catch(() => undefined);
          return;
        case 'toggle-start-at-login': {
          const enabled = !loginItems.isEnabled();
          loginItems.setEnabled(enabled);
          settings.update({ startAtLogin: enabled });
          return refreshTray();
        }
        case 'open-data-folder':
          void shell.openPath(core.dataDir);
          return;
        case 'quit':
          return app.quit();
      }
    };
    const trayController = tray
      ? new TrayController({
          tray,
          buildMenu: (template) => Menu.buildFromTemplate(template),
          loadIcon: (name: TrayIconName) =>
            nativeImage.createFromPath(trayIconPath(iconsDir, name, process.platform)),
          onAction: onTrayAction,
        })
      : null;
    function refreshTray(): void {
      trayController?.update(
        trayStateFrom({
          connection,
          spool,
          update: updates.view(),
          pendingApprovals,
          startAtLogin: loginItems.isEnabled(),
          loginItemsSupported: loginItems.supported(),
        }),
      );
    }
    // Windows/macOS deliver clicks on the icon; Linux AppIndicator does not (the menu has "Open" for that).
    tray?.on('click', () => window.toggle());

    const notifications = new ShellNotifications({
      notify,
      openWindow: () => window.show(),
      disconnectedAfterMs: settings.get().notifyOfflineAfterMinutes * 60_000,
    });
    const approvals = new ApprovalPresenter({
      core,
      notify,
      openWindow: () => window.show(),
      onPendingChange: (count) => {
        pendingApprovals = count;
        refreshTray();
      },
    });
    const onConnection = (view: ConnectionView): void => {
      connection = view;
      notifications.onConnection(view);
      refreshTray();
    };
    const onSpool = (view: SpoolView): void => {
      spool = view;
      refreshTray();
    };
    const onUpdate = (view: UpdateView): void => {
      notifications.onUpdate(view);
      refreshTray();
    };
    core.on('connection', onConnection);
    core.on('spool', onSpool);
    updates.on('update', onUpdate);
    approvals.start(snapshot.approvals as ApprovalRequestView[]);
    updates.start();
    refreshTray();

    stopShell = () => {
      window.allowClose();
      batcher.stop();
      unregisterIpc();
      approvals.stop();
      notifications.dispose();
      trayController?.dispose();
      core.off('connection', onConnection);
      core.off('spool', onSpool);
      updates.off('update', onUpdate);
      updates.stop();
      void sandbox.stop();
      tray?.destroy();
    };
    return { core, hasTray: tray !== null };
  },
});

lifecycle.run();
