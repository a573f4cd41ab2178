/**
 * The app's life: one instance (a second launch focuses the first one's window), the shell and then the core
 * start on `ready`, the app lives in the tray when its window closes, and quitting is graceful — the core flushes
 * its spool and stops commands before the process exits. Without a tray the window is the app: closing it quits.
 */
import type { App } from 'electron';
import type { AgentCoreApi } from '../agent/core-api';

export type LifecycleApp = Pick<App, 'requestSingleInstanceLock' | 'quit' | 'exit' | 'on' | 'whenReady'>;

export type LifecycleCore = Pick<AgentCoreApi, 'start' | 'stop'>;

export interface LifecycleDeps {
  app: LifecycleApp;
  /**
   * Builds the core, tray, IPC and window machinery after `ready` — only in the instance that holds the lock, so a
   * second launch never opens the spool. Returns the core and whether a tray icon exists.
   */
  createShell: () =>
    Promise<{ core: LifecycleCore; hasTray: boolean }> | { core: LifecycleCore; hasTray: boolean };
  showWindow: () => void;
  /** Runs first when quitting: let the window close for real, stop event forwarding, remove the tray. */
  beforeStop?: () => void;
  /** A core that does not stop within this time is abandoned so quitting never hangs (default 15 s). */
  stopTimeoutMs?: number;
  onError: (message: string, error: unknown) => void;
}

export type LifecyclePhase = 'starting' | 'running' | 'stopping' | 'stopped';

export class AppLifecycle {
  private phase: LifecyclePhase = 'starting';
  private hasTray = true;
  private showWhenReady = false;
  private core: LifecycleCore | null = null;

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
      if (!this.hasTray) app.quit();
    });
    app.on('before-quit', (event) => {
      if (this.phase === 'stopped') return;
      event.preventDefault();
      void this.stopThenQuit();
    });
    void app.whenReady().then(() => this.onReady());
    return 'primary';
  }

  private requestShow(): void {
    if (this.phase === 'running') this.deps.showWindow();
    else if (this.phase === 'starting') this.showWhenReady = true;
  }

  private async onReady(): Promise<void> {
    try {
      const shell = await this.deps.createShell();
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
    if (!this.hasTray || this.showWhenReady) this.deps.showWindow();
    try {
      await this.core.start();
    } catch (error) {
      // The window stays usable so the settings can be fixed.
      this.deps.onError('The agent could not start', error);
    }
  }

  private async stopThenQuit(): Promise<void> {
    if (this.phase === 'stopping') return;
    this.phase = 'stopping';
    try {
      this.deps.beforeStop?.();
    } catch (error) {
      this.deps.onError('Closing the window failed', error);
    }
    const timeoutMs = this.deps.stopTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const stopped = this.core
        ? this.core.stop().then(() => 'stopped' as const)
        : Promise.resolve('stopped' as const);
      const outcome = await Promise.race([stopped, timedOut]);
      if (outcome === 'timeout') {
        this.deps.onError(`The agent did not stop within ${timeoutMs / 1000} s; quitting anyway`, null);
      }
    } catch (error) {
      this.deps.onError('The agent did not stop cleanly', error);
    } finally {
      clearTimeout(timer);
    }
    this.phase = 'stopped';
    this.deps.app.quit();
  }
}
