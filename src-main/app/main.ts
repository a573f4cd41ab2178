/**
 * Electron main process: glue only. Every decision lives in a tested module of src-main/app or src-main/bridge;
 * this file creates the Electron objects and hands them over. It cannot run in CI (no Electron binary there).
 */
import {
  app,
  autoUpdater as nativeAutoUpdater,
  BaseWindow,
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
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AgentCore } from '../agent/agent';
import { defaultConfigPath, resolveConfigPath } from '../agent/config';
import { AGENT_VERSION } from '../agent/version';
import { createEventBatcher } from '../bridge/event-batcher';
import { createInvokeHandlers } from '../bridge/handlers';
import { createSandboxStarter } from '../bridge/local-sandbox';
import { SandboxServer } from '../sandbox/sandbox-server';
import { createDesktopUpdateService, desktopUpdater } from '../updates/desktop-updates';
import { detectInstallKind, readPackageType } from '../updates/install-kind';
import { isQuietMoment } from '../updates/policy';
import type { UpdateService } from '../updates/update-service';
import type {
  ApprovalRequestView,
  ConnectionView,
  SpoolView,
  UpdateView,
} from '../../src-shared/view-models';
import { applicationMenuTemplate } from './app-menu';
import { ApprovalPresenter } from './approvals';
import { registerIpcHandlers, webContentsSink } from './ipc-main';
import { AppLifecycle } from './lifecycle';
import { commandEnvironment } from './login-env';
import { launchedByAutostart, LoginItems, xdgAutostartDir } from './login-items';
import { sandboxNotice } from './linux-sandbox';
import { createMainLog } from './main-log';
import { electronNotify, ShellNotifications } from './notifications';
import { APP_SCHEME_PRIVILEGES, isAppUrl, RENDERER_ENTRY_URL, serveRenderer } from './renderer-protocol';
import { hardenSession, hardenWebContents } from './security';
import { groupKeyStore, SettingsStore } from './settings-store';
import { bindTrayClick, TrayController, trayIconPath, trayStateFrom } from './tray';
import { TRAY_UPDATE_REQUESTS, type TrayAction, type TrayIconName } from './tray-menu';
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

// Packaged failures (an update that does not install, a shell that cannot start) must be diagnosable afterwards.
// getPath('logs') defaults to the platform's logs folder (electron.d.ts App.getPath).
const mainLog = createMainLog({
  dir: app.getPath('logs'),
  echo: app.isPackaged ? undefined : (line) => console.log(line),
});

app.on('web-contents-created', (_event, contents) => {
  hardenWebContents(contents, { isAppUrl: isOurs, openExternal: (url) => shell.openExternal(url) });
});

const notify = electronNotify({
  isSupported: () => Notification.isSupported(),
  create: ({ title, body }) => new Notification({ title, body, icon: join(iconsDir, 'app.png') }),
});

let dashboard: DashboardWindow | null = null;
let updatesService: UpdateService | null = null;
let stopShell: () => void = () => undefined;
const launchedHidden = launchedByAutostart(process.argv, process.platform, app);

const lifecycle = new AppLifecycle({
  app,
  launchedHidden,
  showWindow: () => dashboard?.show({ nearTray: true }),
  beforeStop: () => stopShell(),
  setWindowsClosable: (closable) => dashboard?.setClosable(closable),
  onQuitting: () => updatesService?.quitting(),
  onError: (message, error) => {
    const detail = error instanceof Error ? error.message : error ? String(error) : '';
    mainLog.error(message, error ?? '');
    if (app.isReady()) dialog.showErrorBox(message, detail);
  },
  createShell: async () => {
    hardenSession(session.defaultSession, { isAppUrl: isOurs });
    serveRenderer(protocol, join(distDir, 'renderer'));
    // Our own menu instead of Electron's default (Reload, DevTools under Alt): Quit and Edit only.
    Menu.setApplicationMenu(
      Menu.buildFromTemplate(
        applicationMenuTemplate({
          platform: process.platform,
          productName: 'Minion Agent',
          quit: () => app.quit(),
          closeWindow: () => BrowserWindow.getFocusedWindow()?.close(),
        }),
      ),
    );

    const settingsPath = join(app.getPath('userData'), 'settings.json');
    const firstRun = !existsSync(settingsPath);
    const settings = new SettingsStore({
      createStore: () => new ElectronStore({ name: 'settings', clearInvalidConfig: false }),
      storeFilePath: settingsPath,
      safeStorage,
      platform: process.platform,
    });
    for (const notice of settings.notices) notify({ title: 'Minion Agent', body: notice.message });

    const installKind = detectInstallKind({
      platform: process.platform,
      isPackaged: app.isPackaged,
      appImagePath: process.env.APPIMAGE,
      packageType: app.isPackaged ? readPackageType(process.resourcesPath) : null,
    });
    mainLog.info(`Minion Agent ${AGENT_VERSION} starting (${process.platform}, ${installKind})`);
    const sandboxWarning = sandboxNotice({
      platform: process.platform,
      noSandbox: app.commandLine.hasSwitch('no-sandbox'),
      installKind,
    });
    if (sandboxWarning) {
      mainLog.warn(sandboxWarning);
      // Said when a person starts the app, not at every login.
      if (!launchedHidden || firstRun)
        notify({ title: 'Minion Agent runs without its sandbox', body: sandboxWarning });
    }

    const configPath = resolveConfigPath(process.argv, process.env, defaultConfigPath());
    const core = new AgentCore({
      configPath,
      host: 'desktop',
      updater: desktopUpgradeHook(() => updatesService),
      // The group key lives in the OS keyring (safeStorage) where there is one, not in the YAML.
      groupKeyStore: groupKeyStore(settings),
      // Commands get the login shell's PATH and the home dir, not the GUI session's bare environment.
      commandDefaults: await commandEnvironment({
        platform: process.platform,
        env: process.env,
        home: app.getPath('home'),
        onProblem: (message) => mainLog.warn(`commands: ${message}`),
      }),
    });
    const config = core.effectiveConfig;
    const updater = desktopUpdater(installKind);
    const updates = createDesktopUpdateService(
      {
        updates: config.updates,
        legacyUrl: config.upgrade,
        currentVersion: AGENT_VERSION,
        installKind,
        beforeInstall: () => lifecycle.stopForUpdate(),
        onInstallFailed: () => lifecycle.resumeAfterFailedUpdate(),
        isQuiet: () => isQuietMoment(core.activity()),
        logger: mainLog,
      },
      updater,
    );
    updatesService = updates;
    // Emitted before quitAndInstall closes the windows (electron.d.ts AutoUpdater `before-quit-for-update`).
    nativeAutoUpdater.on('before-quit-for-update', () => lifecycle.onQuitForUpdate());
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
      // Without a tray the window is the app (also on Windows, where the session-end window below stays open).
      // Not while an update quits the app: the installer's own quit sequence is closing the windows then.
      onClosed: () => {
        if (tray === null && lifecycle.currentPhase === 'running') app.quit();
      },
      trayBounds: () => tray?.getBounds() ?? null,
      workAreaNear: (point) => screen.getDisplayNearestPoint(point).workArea,
    });
    dashboard = window;

    const unregisterIpc = registerIpcHandlers({
      ipcMain,
      handlers: createInvokeHandlers({
        core,
        // Buttons in the UI are clicks like the tray's: both go through decideUserRequest.
        updates: updates.userFacing(),
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
    // A versioned AppImage is replaced by a file with the new name: autostart follows it.
    updater.on('appimage-filename-updated', (path) => loginItems.relocate(path));
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
        case 'download-update':
        case 'install-update': {
          const request = TRAY_UPDATE_REQUESTS[action];
          if (request) void updates.userRequest(request).catch(() => undefined);
          return;
        }
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
    if (tray) bindTrayClick(tray, process.platform, () => window.toggle());
    // Windows shutdown/logoff: no before-quit (electron.d.ts), only a window's `session-end`. A hidden BaseWindow
    // (no web contents) receives it even while the dashboard window does not exist.
    const sessionWatcher =
      process.platform === 'win32'
        ? new BaseWindow({ show: false, width: 1, height: 1, skipTaskbar: true })
        : null;
    sessionWatcher?.on('session-end', () => lifecycle.onSessionEnd());

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
      if (sessionWatcher && !sessionWatcher.isDestroyed()) sessionWatcher.destroy();
      void mainLog.flush();
    };
    // First run or no server yet: the window opens even on an autostart launch (a tray icon can be invisible).
    const needsAttention = firstRun || snapshot.connection.host === '';
    return { core, hasTray: tray !== null, needsAttention };
  },
});

lifecycle.run();
