/**
 * Fakes of Electron and electron-updater objects for the shell's unit tests (the Electron binary cannot run in CI).
 * They follow the order of events the real ones have; each cites where that order is written down:
 *   - node_modules/electron/electron.d.ts (Electron 45):
 *       App `before-quit` l. 281–291 (after quitAndInstall: emitted only once every window closed, l. 285–287;
 *         not on Windows shutdown/logoff, l. 289–290), App `quit` l. 1666–1672 (before-quit, then the windows
 *         close — a veto cancels —, then will-quit), `window-all-closed` l. 1097–1104, `exit` l. 1253–1256,
 *       AutoUpdater `before-quit-for-update` l. 2443–2449 (emitted after quitAndInstall is called, before the
 *         windows close) and `quitAndInstall` l. 2534–2545 (closes all windows first, then calls app.quit()),
 *       BaseWindow `persisted-state-restored` l. 2756–2764 and `session-end` l. 2869–2875 (win32);
 *   - node_modules/electron-updater/out/BaseUpdater.js: quitAndInstall l. 13–27 (install() synchronously; only when
 *     it returned true, a setImmediate emits before-quit-for-update and calls app.quit()), install l. 42–68 (a
 *     failure is dispatched as `error` and returns false);
 *   - node_modules/electron-updater/out/MacUpdater.js: quitAndInstall l. 240–256 (hands over to the native updater at
 *     once if Squirrel.Mac has the update, else waits for its `update-downloaded` with no timeout),
 *     handleUpdateDownloaded l. 231–239;
 *   - node_modules/electron-updater/out/AppImageUpdater.js: doInstall l. 72–115 (with isForceRunAfter the new
 *     AppImage is spawned, l. 106–109, before this process quits).
 * The brief for this work described the macOS order as "windows close, then before-quit-for-update, then
 * before-quit"; electron.d.ts says before-quit-for-update comes first. FakeNativeAutoUpdater does what the typings
 * say by default and can be switched to the other order: the shell must install either way.
 */
import { EventEmitter } from 'node:events';

export class FakeEvent {
  defaultPrevented = false;
  constructor(readonly url = '') {}
  preventDefault(): void {
    this.defaultPrevented = true;
  }
}

let nextId = 1;

export class FakeWindow extends EventEmitter {
  visible = false;
  destroyed = false;
  minimized = false;
  position: [number, number] | null = null;
  centred = 0;
  focused = 0;
  loaded: string[] = [];
  sent: Array<[string, unknown]> = [];
  webContents = {
    id: nextId++,
    send: (channel: string, payload: unknown) => void this.sent.push([channel, payload]),
    isDestroyed: () => this.destroyed,
  };
  /**
   * `persistedBounds`: what windowStatePersistence restores. Electron applies it in the constructor and emits
   * `persisted-state-restored` soon after (EmitEventSoon in BaseWindow::OnWindowStateRestored), i.e. after `new`
   * returned and listeners could be attached: modelled with setImmediate.
   */
  constructor(
    readonly options: unknown,
    persistedBounds: { x: number; y: number } | null = null,
    private readonly app: FakeApp | null = null,
  ) {
    super();
    app?.windows.add(this);
    if (persistedBounds) {
      this.position = [persistedBounds.x, persistedBounds.y];
      setImmediate(() => this.emit('persisted-state-restored'));
    }
  }
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  focus(): void {
    this.focused++;
  }
  isVisible(): boolean {
    return this.visible;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  restore(): void {
    this.minimized = false;
  }
  setPosition(x: number, y: number): void {
    this.position = [x, y];
  }
  getSize(): number[] {
    return [420, 640];
  }
  center(): void {
    this.centred++;
    this.position = [750, 220];
  }
  async loadURL(url: string): Promise<void> {
    this.loaded.push(url);
  }
  /** The page painted its first frame. */
  paint(): void {
    this.emit('ready-to-show');
  }
  /** `BrowserWindow.close()`: `close` can be vetoed; returns whether the window really closed. */
  close(): boolean {
    if (this.destroyed) return true;
    const event = new FakeEvent();
    this.emit('close', event);
    if (event.defaultPrevented) return false;
    this.destroyed = true;
    this.visible = false;
    this.app?.windows.delete(this);
    this.emit('closed');
    return true;
  }
  /** Simulates the user closing the window; returns whether it really closed. */
  userClose(): boolean {
    return this.close();
  }
}

/** Single-instance locks shared by the FakeApps of one test: one per "machine". */
export class FakeLockRegistry {
  holder: FakeApp | null = null;
}

/**
 * `app`: quit() emits `before-quit` (cancellable), then closes every window (a `close` veto cancels the quit), then
 * `will-quit`, then the process ends (electron.d.ts App `quit` ~l. 1664). `exit()` ends at once without
 * `before-quit` (~l. 1256).
 */
export class FakeApp extends EventEmitter {
  readonly windows = new Set<FakeWindow>();
  quitRequests = 0;
  quitCancelled = 0;
  exited: number | null = null;
  relaunched = 0;
  readonly log: string[] = [];
  constructor(private readonly locks: FakeLockRegistry = new FakeLockRegistry()) {
    super();
  }
  get ended(): boolean {
    return this.exited !== null;
  }
  requestSingleInstanceLock(): boolean {
    if (this.locks.holder !== null && this.locks.holder !== this) {
      this.locks.holder.emit('second-instance', new FakeEvent(), [], '/');
      return false;
    }
    this.locks.holder = this;
    return true;
  }
  releaseSingleInstanceLock(): void {
    if (this.locks.holder === this) this.locks.holder = null;
  }
  hasSingleInstanceLock(): boolean {
    return this.locks.holder === this;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  quit(): void {
    if (this.ended) return;
    this.quitRequests++;
    const event = new FakeEvent();
    this.log.push('before-quit');
    this.emit('before-quit', event);
    if (event.defaultPrevented) return;
    if (!this.closeAllWindows()) {
      this.quitCancelled++;
      return;
    }
    this.finishQuit();
  }
  /**
   * The last step of `autoUpdater.quitAndInstall()` once every window has closed: `before-quit` only now
   * (electron.d.ts App `before-quit` note ~l. 285), then `will-quit`.
   */
  quitAfterWindowsClosed(): void {
    const event = new FakeEvent();
    this.log.push('before-quit');
    this.emit('before-quit', event);
    if (event.defaultPrevented) return;
    this.finishQuit();
  }
  /** Closes every window like `quit` does; false when one vetoed. */
  closeAllWindows(): boolean {
    for (const window of [...this.windows]) {
      this.log.push('window-close');
      if (!window.close()) {
        this.log.push('window-close-vetoed');
        return false;
      }
    }
    return true;
  }
  exit(code = 0): void {
    this.log.push(`exit ${code}`);
    this.exited = code;
    this.releaseSingleInstanceLock();
  }
  relaunch(): void {
    this.relaunched++;
  }
  private finishQuit(): void {
    this.log.push('will-quit');
    this.emit('will-quit', new FakeEvent());
    this.exit(0);
  }
}

/**
 * Electron's own `autoUpdater` (Squirrel). `quitAndInstall()`: `before-quit-for-update`, then every window is closed
 * (a veto stops it), then `app.quit()` runs — `before-quit` coming only after the windows closed (electron.d.ts
 * AutoUpdater ~l. 2443 and ~l. 2537, App `before-quit` note ~l. 285).
 */
export class FakeNativeAutoUpdater extends EventEmitter {
  installs = 0;
  constructor(
    private readonly app: FakeApp,
    private readonly order: 'typings' | 'windows-first' = 'typings',
  ) {
    super();
  }
  quitAndInstall(): void {
    if (this.order === 'typings') {
      this.app.log.push('before-quit-for-update');
      this.emit('before-quit-for-update');
    }
    if (!this.app.closeAllWindows()) {
      this.app.quitCancelled++;
      return;
    }
    if (this.order === 'windows-first') {
      this.app.log.push('before-quit-for-update');
      this.emit('before-quit-for-update');
    }
    this.app.quitAfterWindowsClosed();
    if (this.app.ended) this.installs++;
  }
}

interface UpdaterInfo {
  version: string;
  files: Array<{ url: string; sha512: string; size: number }>;
  path: string;
  sha512: string;
  releaseDate: string;
}

/** The part of electron-updater's AppUpdater the UpdateService drives, shared by the two fakes below. */
abstract class FakeAppUpdaterBase extends EventEmitter {
  autoDownload = true;
  autoInstallOnAppQuit = true;
  allowDowngrade = false;
  feed: unknown = null;
  protected downloaded = false;
  constructor(
    protected readonly app: FakeApp,
    private readonly offered = '0.4.0',
  ) {
    super();
  }
  setFeedURL(options: unknown): void {
    this.feed = options;
  }
  async checkForUpdates() {
    const updateInfo: UpdaterInfo = {
      version: this.offered,
      files: [{ url: `minion-agent-${this.offered}.zip`, sha512: 'x', size: 1 }],
      path: `minion-agent-${this.offered}.zip`,
      sha512: 'x',
      releaseDate: '2026-12-01T00:00:00.000Z',
    };
    this.emit('update-available', updateInfo);
    return { isUpdateAvailable: true, updateInfo, versionInfo: updateInfo };
  }
  async downloadUpdate(): Promise<string[]> {
    this.downloaded = true;
    const file = `/cache/minion-agent-${this.offered}.zip`;
    this.emit('update-downloaded', { downloadedFile: file, version: this.offered });
    return [file];
  }
  abstract quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void;
}

/**
 * electron-updater's BaseUpdater (NsisUpdater, AppImageUpdater, DebUpdater): `install()` runs synchronously and
 * returns false after `dispatchError` when the installer fails (BaseUpdater.js l. 42–68); only on true does
 * quitAndInstall emit `before-quit-for-update` and call `app.quit()`, in a setImmediate (l. 16–23).
 */
export class FakeBaseUpdater extends FakeAppUpdaterBase {
  /** What doInstall does: true, or an Error it throws (then dispatched as `error`). */
  installOutcome: true | Error = true;
  /** AppImageUpdater with isForceRunAfter spawns the new AppImage before this process quits (l. 106–109). */
  onRelaunch: (() => void) | null = null;
  constructor(
    app: FakeApp,
    private readonly native: FakeNativeAutoUpdater,
    offered?: string,
  ) {
    super(app, offered);
  }
  quitAndInstall(_isSilent = false, isForceRunAfter = false): void {
    if (!this.install(isForceRunAfter)) return;
    setImmediate(() => {
      this.app.log.push('before-quit-for-update');
      this.native.emit('before-quit-for-update');
      this.app.quit();
    });
  }
  private install(isForceRunAfter: boolean): boolean {
    if (!this.downloaded) {
      this.emit('error', new Error("No update filepath provided, can't quit and install"));
      return false;
    }
    if (this.installOutcome !== true) {
      this.emit('error', this.installOutcome);
      return false;
    }
    if (isForceRunAfter) this.onRelaunch?.();
    return true;
  }
}

/**
 * electron-updater's MacUpdater: quitAndInstall hands over to Squirrel.Mac at once when it already fetched the
 * update, else waits — without a timeout — for the native `update-downloaded` (MacUpdater.js l. 240–256).
 */
export class FakeMacUpdater extends FakeAppUpdaterBase {
  squirrelDownloaded = true;
  constructor(
    app: FakeApp,
    private readonly native: FakeNativeAutoUpdater,
    offered?: string,
  ) {
    super(app, offered);
  }
  quitAndInstall(): void {
    if (this.squirrelDownloaded) this.native.quitAndInstall();
    else this.native.on('update-downloaded', () => this.native.quitAndInstall());
  }
  /** Squirrel.Mac finally has the update. */
  squirrelFinished(): void {
    this.squirrelDownloaded = true;
    this.native.emit('update-downloaded');
  }
}
