/**
 * The app's life: one instance (a second launch focuses the first one's window), the shell and then the core
 * start on `ready`, the app lives in the tray when its window closes, and quitting is graceful — the core flushes
 * its spool and stops commands before the process exits. Without a tray the window is the app: closing it quits.
 *
 * Installing an update is a quit the updater starts, in an order the normal quit does not have (electron.d.ts,
 * Electron 45): after `autoUpdater.quitAndInstall()` windows are closed first and `before-quit` comes after them
 * (App `before-quit` note, ~l. 285); `before-quit-for-update` is the event that comes before the windows close
 * (AutoUpdater, ~l. 2443). So the update path stops the core itself (`stopForUpdate`), lets the windows close, and
 * frees the single-instance lock for the copy the installer starts; `resumeAfterFailedUpdate` undoes all that when
 * the installer never takes over.
 */
import type { App } from 'electron';
import type { AgentCoreApi } from '../agent/core-api';

export type LifecycleApp = Pick<
  App,
  'requestSingleInstanceLock' | 'releaseSingleInstanceLock' | 'quit' | 'exit' | 'on' | 'whenReady'
>;

export type LifecycleCore = Pick<AgentCoreApi, 'start' | 'stop'>;

export interface ShellHandle {
  core: LifecycleCore;
  hasTray: boolean;
  /**
   * The person has to see the window even on a hidden (autostart) launch: first run, or no server configured yet.
   * A tray icon alone is not enough then (Windows 11 hides new icons in the overflow; GNOME may have no status area).
   */
  needsAttention?: boolean;
}

export interface LifecycleDeps {
  app: LifecycleApp;
  /**
   * Builds the core, tray, IPC and window machinery after `ready` — only in the instance that holds the lock, so a
   * second launch never opens the spool. Returns the core and whether a tray icon exists.
   */
  createShell: () => Promise<ShellHandle> | ShellHandle;
  showWindow: () => void;
  /**
   * True when started by autostart (`--hidden`, or macOS "opened at login"): the app stays in the tray unless the
   * shell says it needs attention. Any other launch is a person who wants to see the app.
   */
  launchedHidden?: boolean;
  /** Runs first when quitting: let the window close for real, stop event forwarding, remove the tray. */
  beforeStop?: () => void;
  /** Lets the window close for real (true) or hide on close again (false, after an update that did not install). */
  setWindowsClosable?: (closable: boolean) => void;
  /** The app is really quitting (the update watchdog stands down). */
  onQuitting?: () => void;
  /** A core that does not stop within this time is abandoned so quitting never hangs (default 15 s). */
  stopTimeoutMs?: number;
  onError: (message: string, error: unknown) => void;
}

export type LifecyclePhase = 'starting' | 'running' | 'updating' | 'stopping' | 'stopped';

class StopTimeout extends Error {}

export class AppLifecycle {
  private phase: LifecyclePhase = 'starting';
  private hasTray = true;
  private showWhenReady = false;
  private core: LifecycleCore | null = null;
  private shellStopped = false;

  constructor(private readonly deps: LifecycleDeps) {}

  get currentPhase(): LifecyclePhase {
    return this.phase;
  }

  /** Returns 'secondary' when another instance already runs (it has been asked to show itself; we quit). */
  run(): 'primary' | 'secondary' {
    const { app } = this.deps;
    if (!app.requestSingleInstanceLock()) {
      app.quit();
      return 'secondary';
    }
    app.on('second-instance', () => this.requestShow());
    // macOS: clicking the Dock icon of a running app.
    app.on('activate', () => this.requestShow());
    // Subscribing keeps Electron from quitting when the last window closes; only a tray-less app should.
    app.on('window-all-closed', () => {
      if (!this.hasTray && this.phase === 'running') app.quit();
    });
    app.on('before-quit', (event) => {
      this.deps.onQuitting?.();
      if (this.phase === 'stopped') return;
      if (this.phase === 'updating') {
        // The core already stopped for the installer: holding the quit back would only delay the install.
        this.stopShell();
        this.phase = 'stopped';
        return;
      }
      event.preventDefault();
      void this.stopThenQuit();
    });
    void app.whenReady().then(() => this.onReady());
    return 'primary';
  }

  /**
   * `UpdateService.beforeInstall`: flush and stop the agent, let the window close (quitAndInstall closes every window
   * and a close veto would cancel the install), and free the single-instance lock so the copy the installer starts
   * (an AppImage is spawned before this process exits) does not lose the race and quit. Throws, undoing everything,
   * when the agent cannot stop: the install is then cancelled.
   */
  async stopForUpdate(): Promise<void> {
    if (this.phase !== 'running') throw new Error(`the app is ${this.phase}, not running`);
    this.phase = 'updating';
    this.deps.setWindowsClosable?.(true);
    try {
      await this.stopCore();
    } catch (error) {
      this.phase = 'running';
      this.deps.setWindowsClosable?.(false);
      await this.startCore();
      throw error;
    }
    this.deps.app.releaseSingleInstanceLock();
  }

  /** `UpdateService.onInstallFailed`: the installer did not take over, so the app goes on as before. */
  async resumeAfterFailedUpdate(): Promise<void> {
    if (this.phase !== 'updating') return;
    if (!this.deps.app.requestSingleInstanceLock()) {
      // A new copy started in the meantime and holds the lock: it is the app now.
      this.phase = 'stopped';
      this.stopShell();
      this.deps.app.quit();
      return;
    }
    this.phase = 'running';
    this.deps.setWindowsClosable?.(false);
    await this.startCore();
  }

  /**
   * `autoUpdater` `before-quit-for-update`: emitted before the windows close (electron.d.ts ~l. 2443), also when
   * Squirrel.Mac finishes late and electron-updater's MacUpdater calls the native quitAndInstall by itself.
   */
  onQuitForUpdate(): void {
    this.deps.setWindowsClosable?.(true);
    this.deps.onQuitting?.();
  }

  /**
   * Windows shutdown or logoff (`session-end` of a window, win32 only): `before-quit` never comes (electron.d.ts
   * App `before-quit` note), so stop the agent now and exit when it has stopped.
   */
  onSessionEnd(): void {
    if (this.phase === 'stopped' || this.phase === 'stopping') return;
    void this.stopThenQuit(() => this.deps.app.exit(0));
  }

  private requestShow(): void {
    if (this.phase === 'running') this.deps.showWindow();
    else if (this.phase === 'starting') this.showWhenReady = true;
  }

  private async onReady(): Promise<void> {
    let shell: ShellHandle;
    try {
      shell = await this.deps.createShell();
      this.hasTray = shell.hasTray;
      this.core = shell.core;
    } catch (error) {
      // Nothing to run: say why and leave (a config file that cannot be read, a broken install…).
      this.deps.onError('Minion Agent could not start', error);
      this.phase = 'stopped';
      this.deps.app.quit();
      return;
    }
    if (this.phase !== 'starting') return; // quit while starting
    this.phase = 'running';
    const hidden = (this.deps.launchedHidden ?? false) && !shell.needsAttention;
    if (!this.hasTray || !hidden || this.showWhenReady) this.deps.showWindow();
    await this.startCore();
  }

  private async startCore(): Promise<void> {
    try {
      await this.core?.start();
    } catch (error) {
      // The window stays usable so the settings can be fixed.
      this.deps.onError('The agent could not start', error);
    }
  }

  /** Stops the core, giving up (with an error) after `stopTimeoutMs`; rejects when the core's stop fails. */
  private async stopCore(): Promise<void> {
    const timeoutMs = this.deps.stopTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const stopped = this.core
        ? this.core.stop().then(() => 'stopped' as const)
        : Promise.resolve('stopped' as const);
      if ((await Promise.race([stopped, timedOut])) === 'timeout') {
        throw new StopTimeout(`The agent did not stop within ${timeoutMs / 1000} s`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private stopShell(): void {
    if (this.shellStopped) return;
    this.shellStopped = true;
    try {
      this.deps.beforeStop?.();
    } catch (error) {
      this.deps.onError('Closing the window failed', error);
    }
  }

  private async stopThenQuit(finish: () => void = () => this.deps.app.quit()): Promise<void> {
    if (this.phase === 'stopping') return;
    this.phase = 'stopping';
    this.stopShell();
    try {
      await this.stopCore();
    } catch (error) {
      if (error instanceof StopTimeout) {
        this.deps.onError(`${error.message}; quitting anyway`, null);
      } else {
        this.deps.onError('The agent did not stop cleanly', error);
      }
    }
    this.phase = 'stopped';
    finish();
  }
}
