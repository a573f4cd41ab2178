// The update service: one state machine around an injected electron-updater `AppUpdater` (the stock `autoUpdater`
// in the Electron app, a headless AppImageUpdater in the CLI and tests). It owns when to check, whether to download,
// and the order "agent flushed and stopped, then quitAndInstall"; electron-updater owns HTTP, staging and sha512.
import { EventEmitter } from 'node:events';
import type {
  AppUpdater,
  ProgressInfo,
  UpdateDownloadedEvent,
  UpdateFileInfo,
  UpdateInfo,
} from 'electron-updater';
import type { UpdateView } from '../../src-shared/view-models';
import { blankUpdateView } from '../../src-shared/update-view';
import { BUILT_IN_FEED_URL } from './feed';
import { decideUserRequest, isDowngrade, type UpdatePolicy, type UpdateRequest } from './policy';
import type { UpdatesApi } from '../../src-shared/ipc';

export type UpdateChannel = 'latest' | 'beta';

/** What the service needs from electron-updater's AppUpdater (kept narrow so the Electron and headless ones fit). */
export type UpdaterLike = Pick<
  AppUpdater,
  | 'autoDownload'
  | 'autoInstallOnAppQuit'
  | 'allowDowngrade'
  | 'setFeedURL'
  | 'checkForUpdates'
  | 'downloadUpdate'
  | 'quitAndInstall'
  | 'on'
  | 'off'
>;

export interface UpdateServiceOptions {
  updater: UpdaterLike;
  currentVersion: string;
  /**
   * `updates.feed_url`: base URL of a generic electron-builder feed (holds `latest*.yml`). Null: the feed built into
   * the package (BUILT_IN_FEED_URL, the same URL electron-builder writes into `resources/app-update.yml`).
   */
  feedUrl: string | null;
  /** `updates.channel`; `beta` reads `beta*.yml`. */
  channel?: UpdateChannel;
  /** `updates.policy`. */
  policy: UpdatePolicy;
  /** `updates.allow_downgrade`: off unless a person deliberately rolls back. */
  allowDowngrade?: boolean;
  /** `updates.auto_download`; defaults to true with policy `auto`, false with `manual`. */
  autoDownload?: boolean;
  /** `updates.install_on_quit`: a downloaded update is installed when the app quits normally. Default true. */
  installOnQuit?: boolean;
  /** `updates.check_interval_hours`; 0 disables periodic checks. Default 6. */
  checkIntervalHours?: number;
  /** Check once when `start()` is called. Default true. */
  checkOnStart?: boolean;
  /** False when this copy cannot replace itself (headless, not an AppImage): checks still work, downloads do not. */
  canApply?: boolean;
  /**
   * With `canApply: false`: how this copy is updated instead, shown to the person (e.g. a deb: through apt). Also
   * lands in `UpdateView.installHint` so the UI can say it before anyone clicks.
   */
  installHint?: string | null;
  /** Runs before the app is replaced: the agent flushes its spool and stops cleanly. A throw cancels the install. */
  beforeInstall?: () => Promise<void>;
  /** Applies the downloaded update. Default: `updater.quitAndInstall(true, true)` (silent install, relaunch). */
  applyUpdate?: (downloadedFile: string | null) => void;
  /**
   * The install was handed over but the app did not quit: electron-updater reported an error (BaseUpdater catches
   * installer failures and returns false), or nothing happened within `installWatchdogMs` (MacUpdater waits for
   * Squirrel.Mac without a timeout). The host restarts the agent that `beforeInstall` stopped.
   */
  onInstallFailed?: () => Promise<void> | void;
  /** How long after handing over to the installer the app must have started quitting. Default 30 s. */
  installWatchdogMs?: number;
  /** With policy `auto`: whether now is a quiet moment to restart (no command running, spool drained…). */
  isQuiet?: () => boolean;
  /** How often a pending automatic install re-asks `isQuiet`. Default 60 s. */
  quietPollMs?: number;
  /** Version announced by the original agent's legacy `upgrade` endpoint (see legacy.ts), shown alongside. */
  legacyAnnouncedVersion?: string | null;
  now?: () => number;
}

const HOUR_MS = 3_600_000;

export class UpdateService implements UpdatesApi {
  private readonly emitter = new EventEmitter();
  private readonly updater: UpdaterLike;
  private readonly feedUrl: string | null;
  private readonly channel: UpdateChannel;
  private readonly policy: UpdatePolicy;
  private readonly allowDowngrade: boolean;
  private readonly autoDownload: boolean;
  private readonly canApply: boolean;
  private readonly now: () => number;
  private state: UpdateView;
  private downloadedFile: string | null = null;
  private periodicTimer: NodeJS.Timeout | null = null;
  private quietTimer: NodeJS.Timeout | null = null;
  private installPending = false;
  private installWatchdog: NodeJS.Timeout | null = null;
  private installing = false;
  private readonly detachUpdater: () => void;

  constructor(private readonly options: UpdateServiceOptions) {
    this.updater = options.updater;
    this.feedUrl = options.feedUrl;
    this.channel = options.channel ?? 'latest';
    this.policy = options.policy;
    this.allowDowngrade = options.allowDowngrade ?? false;
    this.autoDownload = options.autoDownload ?? options.policy === 'auto';
    this.canApply = options.canApply ?? true;
    this.now = options.now ?? Date.now;

    const disabledReason = this.disabledReason();
    this.state = blankUpdateView({
      state: disabledReason == null ? 'idle' : 'off',
      currentVersion: options.currentVersion,
      policy: options.policy,
      legacyAnnouncedVersion: options.legacyAnnouncedVersion ?? null,
      detail: disabledReason,
      installHint: this.canApply ? null : (options.installHint ?? null),
    });

    // The service decides when to download, so it can honour the policy and never leave a download promise
    // unobserved (an unhandled rejection would crash the process).
    this.updater.autoDownload = false;
    // A copy that cannot replace itself must not try at quit either (a deb would ask for a root password).
    this.updater.autoInstallOnAppQuit = this.canApply && (options.installOnQuit ?? true);
    // Always set, also for the built-in feed: electron-updater reads `channel` only from these options (the
    // app-update.yml electron-builder writes has `channel: latest`), and the `updater.channel` setter would
    // silently allow downgrades.
    this.updater.setFeedURL({
      provider: 'generic',
      url: this.feedUrl ?? BUILT_IN_FEED_URL,
      channel: this.channel,
    });
    this.updater.allowDowngrade = this.allowDowngrade;
    this.detachUpdater = this.attachUpdaterEvents();
  }

  view(): UpdateView {
    return { ...this.state };
  }

  on(event: 'update' | 'prompt', listener: (view: UpdateView) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  off(event: 'update' | 'prompt', listener: (view: UpdateView) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  /** Checks now (unless off) and then every `checkIntervalHours`. */
  start(): void {
    if (this.state.state === 'off') return;
    if (this.options.checkOnStart ?? true) void this.check();
    const hours = this.options.checkIntervalHours ?? 6;
    if (hours > 0 && this.periodicTimer == null) {
      this.periodicTimer = setInterval(() => void this.check(), hours * HOUR_MS);
      this.periodicTimer.unref();
    }
  }

  stop(): void {
    this.clearInstallWatchdog();
    if (this.periodicTimer != null) clearInterval(this.periodicTimer);
    if (this.quietTimer != null) clearTimeout(this.quietTimer);
    this.periodicTimer = null;
    this.quietTimer = null;
    this.installPending = false;
    this.detachUpdater();
    this.emitter.removeAllListeners();
  }

  /** Asks the feed. Never rejects: failures become the `error` state with an explanation. */
  async check(): Promise<UpdateView> {
    if (this.state.state === 'off') return this.view();
    // Re-checking would throw away a download in progress or a verified file waiting to be installed.
    if (this.state.state === 'downloading' || this.state.state === 'ready') return this.view();
    this.patch({ state: 'checking', error: null, detail: null });
    try {
      const result = await this.updater.checkForUpdates();
      if (result == null) {
        this.patch({
          state: 'off',
          lastCheckAt: this.now(),
          detail: 'This copy is not a packaged build, so it cannot update itself.',
        });
        return this.view();
      }
      // The events normally set the state; this covers updaters that resolve without emitting.
      if (this.currentState() === 'checking') this.onChecked(result.updateInfo, result.isUpdateAvailable);
    } catch (error) {
      this.fail(error);
      return this.view();
    }
    if (this.currentState() === 'available' && this.autoDownload && this.canApply) void this.download();
    return this.view();
  }

  /** Downloads the available update (sha512-verified by electron-updater). Never rejects. */
  async download(): Promise<UpdateView> {
    if (this.state.state === 'ready' || this.state.state === 'downloading') return this.view();
    if (this.state.state !== 'available') {
      this.patch({ detail: 'There is no update to download; check for updates first.' });
      return this.view();
    }
    if (this.refuseDowngrade()) return this.view();
    if (!this.canApply) {
      this.patch({
        detail:
          this.options.installHint ??
          `This copy does not run from an AppImage or installer, so it cannot replace itself: install ${this.state.availableVersion ?? 'the new version'} from the update feed or your package manager.`,
      });
      return this.view();
    }
    this.patch({ state: 'downloading', percent: 0, transferred: 0, bytesPerSecond: null, detail: null });
    try {
      const files = await this.updater.downloadUpdate();
      // 'update-downloaded' normally arrived already; take the path from the promise if it did not.
      if (this.currentState() === 'downloading') this.onDownloaded(files[0] ?? null);
    } catch (error) {
      this.fail(error);
    }
    return this.view();
  }

  /**
   * "Install and restart": lets the agent flush and stop, then hands over to the installer. Refuses politely (in
   * `detail`) when nothing verified is ready.
   */
  async install(): Promise<UpdateView> {
    if (this.state.state !== 'ready') {
      this.patch({ detail: 'No downloaded update is ready to install yet.' });
      return this.view();
    }
    if (this.installing) return this.view();
    if (this.refuseDowngrade()) return this.view();
    this.cancelQuietInstall();
    try {
      await this.options.beforeInstall?.();
    } catch (error) {
      this.patch({
        state: 'error',
        error: `The agent could not stop cleanly, so the update was not installed (nothing was lost): ${firstLine(error)}`,
      });
      return this.view();
    }
    this.installing = true;
    const version = this.state.availableVersion
      ? `Minion Agent ${this.state.availableVersion}`
      : 'the update';
    try {
      const apply = this.options.applyUpdate ?? (() => this.updater.quitAndInstall(true, true));
      apply(this.downloadedFile);
    } catch (error) {
      await this.abandonInstall(`Installing ${version} failed: ${firstLine(error)}.`);
      return this.view();
    }
    if (!this.installing) return this.view(); // the updater reported an error while applying
    this.patch({ error: null, detail: `Installing ${version} and restarting.` });
    const watchdogMs = this.options.installWatchdogMs ?? 30_000;
    this.installWatchdog = setTimeout(() => {
      this.installWatchdog = null;
      void this.abandonInstall(
        `${capitalizeFirst(version)} was not installed: the app was not restarted within ${Math.round(watchdogMs / 1000)} s.`,
      );
    }, watchdogMs);
    this.installWatchdog.unref();
    return this.view();
  }

  /** The app is really quitting (before-quit/will-quit seen): the install went ahead, the watchdog stands down. */
  quitting(): void {
    this.clearInstallWatchdog();
  }

  /**
   * A click in the UI or the tray: goes through `decideUserRequest` (policy, downgrades, a copy that cannot replace
   * itself), so both ask the same question and say the same sentence when the answer is no.
   */
  async userRequest(request: UpdateRequest): Promise<UpdateView> {
    const decision = decideUserRequest(this.policy, request, this.state, this.allowDowngrade);
    switch (decision.action) {
      case 'check':
        return this.check();
      case 'download':
        return this.download();
      case 'install':
        return this.install();
      default:
        this.patch({ detail: decision.message });
        return this.view();
    }
  }

  /**
   * The surface the UI's buttons get (IPC handlers): check/download/install are clicks, so they go through
   * `userRequest` and the same decision as the tray. Events and the view are the service's own.
   */
  userFacing(): UpdatesApi {
    return {
      view: () => this.view(),
      check: () => this.userRequest('check'),
      download: () => this.userRequest('download'),
      install: () => this.userRequest('install'),
      on: (event, listener) => this.on(event, listener),
      off: (event, listener) => this.off(event, listener),
    };
  }

  /** Alias kept for the tray/UI wording. */
  installAndRestart(): Promise<UpdateView> {
    return this.install();
  }

  /**
   * Installs as soon as an update is ready and `isQuiet()` says nothing important is happening (policy `auto`, or
   * a server-issued upgrade under `auto`). Re-asks every `quietPollMs`.
   */
  installWhenQuiet(): void {
    this.installPending = true;
    this.tryQuietInstall();
  }

  /** Asks the shell to show the update prompt (policy `manual`; the desktop listens to 'prompt'). */
  promptUser(): void {
    this.emitter.emit('prompt', this.view());
  }

  setLegacyAnnouncedVersion(version: string | null): void {
    this.patch({ legacyAnnouncedVersion: version });
  }

  /** Read through a method: TypeScript would otherwise keep a narrowing across awaits that the events invalidate. */
  private currentState(): UpdateView['state'] {
    return this.state.state;
  }

  private disabledReason(): string | null {
    return this.options.policy === 'off' ? 'Updates are turned off (updates.policy: off).' : null;
  }

  private attachUpdaterEvents(): () => void {
    const onChecking = (): void => {
      if (this.state.state !== 'checking') this.patch({ state: 'checking', error: null, detail: null });
    };
    const onAvailable = (info: UpdateInfo): void => this.onChecked(info, true);
    const onNotAvailable = (info: UpdateInfo): void => this.onChecked(info, false);
    const onProgress = (progress: ProgressInfo): void => {
      if (this.state.state !== 'downloading') return;
      this.patch({
        percent: Math.min(100, Math.max(0, progress.percent)),
        bytesPerSecond: progress.bytesPerSecond,
        transferred: progress.transferred,
        sizeBytes: progress.total > 0 ? progress.total : this.state.sizeBytes,
      });
    };
    const onDownloaded = (event: UpdateDownloadedEvent): void => this.onDownloaded(event.downloadedFile);
    // Errors also reject the promise the service awaits; this catches those raised outside (install on quit), and
    // the installer's own failures, which BaseUpdater reports only through this event.
    const onError = (error: Error): void => {
      if (this.installing) {
        const version = this.state.availableVersion
          ? `Minion Agent ${this.state.availableVersion}`
          : 'the update';
        void this.abandonInstall(`Installing ${version} failed: ${firstLine(error)}.`);
        return;
      }
      if (this.state.state !== 'checking' && this.state.state !== 'downloading') this.fail(error);
    };
    const updater = this.updater;
    updater.on('checking-for-update', onChecking);
    updater.on('update-available', onAvailable);
    updater.on('update-not-available', onNotAvailable);
    updater.on('download-progress', onProgress);
    updater.on('update-downloaded', onDownloaded);
    updater.on('error', onError);
    return () => {
      updater.off('checking-for-update', onChecking);
      updater.off('update-available', onAvailable);
      updater.off('update-not-available', onNotAvailable);
      updater.off('download-progress', onProgress);
      updater.off('update-downloaded', onDownloaded);
      updater.off('error', onError);
    };
  }

  private onChecked(info: UpdateInfo, available: boolean): void {
    const offered = info.version;
    const downgrade = isDowngrade(this.state.currentVersion, offered);
    if (available && downgrade && !this.allowDowngrade) available = false;
    if (!available) {
      this.patch({
        state: 'not-available',
        lastCheckAt: this.now(),
        availableVersion: null,
        releaseNotes: null,
        sizeBytes: null,
        error: null,
        detail: downgrade
          ? `The feed offers ${offered}, older than this ${this.state.currentVersion}; downgrades are refused unless updates.allow_downgrade is set.`
          : `${this.state.currentVersion} is the latest version on the ${this.channel} channel.`,
      });
      return;
    }
    this.patch({
      state: 'available',
      lastCheckAt: this.now(),
      availableVersion: offered,
      releaseNotes: releaseNotesText(info.releaseNotes),
      sizeBytes: platformFileSize(info.files),
      percent: null,
      bytesPerSecond: null,
      transferred: null,
      error: null,
      detail: downgrade
        ? `${offered} is older than this ${this.state.currentVersion} (downgrade allowed).`
        : null,
    });
  }

  private onDownloaded(file: string | null): void {
    this.downloadedFile = file;
    this.patch({ state: 'ready', percent: 100, bytesPerSecond: null, error: null, detail: null });
    if (this.policy === 'auto') this.installPending = true;
    if (this.installPending) this.tryQuietInstall();
  }

  private tryQuietInstall(): void {
    if (!this.installPending || this.state.state !== 'ready') return;
    if (this.quietTimer != null) return;
    const isQuiet = this.options.isQuiet ?? (() => true);
    if (isQuiet()) {
      this.installPending = false;
      void this.install();
      return;
    }
    this.quietTimer = setTimeout(() => {
      this.quietTimer = null;
      this.tryQuietInstall();
    }, this.options.quietPollMs ?? 60_000);
    this.quietTimer.unref();
  }

  /** The installer did not take over: the agent runs again and the update stays ready for another try. */
  private async abandonInstall(message: string): Promise<void> {
    if (!this.installing) return;
    this.installing = false;
    this.clearInstallWatchdog();
    let restarted = 'The agent was restarted; nothing was lost.';
    try {
      await this.options.onInstallFailed?.();
    } catch (error) {
      restarted = `Restarting the agent failed too: ${firstLine(error)}`;
    }
    this.patch({ state: 'ready', error: `${message} ${restarted}`, detail: null });
  }

  private clearInstallWatchdog(): void {
    if (this.installWatchdog != null) clearTimeout(this.installWatchdog);
    this.installWatchdog = null;
  }

  private cancelQuietInstall(): void {
    this.installPending = false;
    if (this.quietTimer != null) clearTimeout(this.quietTimer);
    this.quietTimer = null;
  }

  private refuseDowngrade(): boolean {
    const offered = this.state.availableVersion;
    if (offered == null || this.allowDowngrade || !isDowngrade(this.state.currentVersion, offered))
      return false;
    this.patch({
      state: 'not-available',
      availableVersion: null,
      detail: `Refusing to install ${offered} over ${this.state.currentVersion}: downgrades need updates.allow_downgrade.`,
    });
    return true;
  }

  private fail(error: unknown): void {
    this.patch({
      state: 'error',
      lastCheckAt: this.state.state === 'checking' ? this.now() : this.state.lastCheckAt,
      percent: null,
      bytesPerSecond: null,
      error: explainUpdateError(error, { feedUrl: this.feedUrl, channel: this.channel }),
      detail: null,
    });
  }

  private patch(changes: Partial<UpdateView>): void {
    this.state = { ...this.state, ...changes };
    this.emitter.emit('update', this.view());
  }
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ESOCKETTIMEDOUT',
]);

/** Turns electron-updater / network failures into one sentence a person can act on. */
export function explainUpdateError(
  error: unknown,
  context: { feedUrl: string | null; channel?: string },
): string {
  const feed = context.feedUrl ?? 'the update feed';
  const code = errorCode(error);
  const message = firstLine(error);
  if (code === 'ERR_CHECKSUM_MISMATCH' || /checksum mismatch/i.test(message)) {
    return 'The downloaded update did not match the sha512 checksum published in the feed and was discarded: the file on the server is corrupt or has been tampered with.';
  }
  if (code != null && UNREACHABLE_CODES.has(code)) {
    return `The update feed at ${feed} could not be reached (${code}); check the network connection and updates.feed_url.`;
  }
  if (code === 'ERR_UPDATER_CHANNEL_FILE_NOT_FOUND' || code === 'HTTP_ERROR_404') {
    return `The update feed at ${feed} has no ${context.channel ?? 'latest'} release for this platform (HTTP 404): the URL or channel is wrong, or nothing was published yet.`;
  }
  const status = /^HTTP_ERROR_(\d+)$/.exec(code ?? '')?.[1];
  if (status != null)
    return `The update feed at ${feed} answered HTTP ${status}; try again later or ask whoever runs it.`;
  if (code === 'ERR_UPDATER_INVALID_VERSION') {
    return 'The update feed announces a version that is not a valid semantic version, so it was ignored.';
  }
  if (code === 'ERR_UPDATER_INVALID_UPDATE_INFO' || /YAMLException|Cannot parse update info/i.test(message)) {
    return `The update feed at ${feed} returned unreadable release metadata (latest*.yml); the release was published incorrectly.`;
  }
  if (code === 'ERR_UPDATER_OLD_FILE_NOT_FOUND') {
    return 'This copy does not run from an AppImage, so it cannot replace itself; install the new version from the feed or your package manager.';
  }
  if (
    /Cannot find .* in the latest release artifacts|ERR_UPDATER_NO_FILES_PROVIDED/.test(
      `${code ?? ''} ${message}`,
    )
  ) {
    return `The release on ${feed} has no file for this platform.`;
  }
  if (/Cannot download .*status (\d+)/.test(message)) {
    return `Downloading the update from ${feed} failed: ${message.replace(/^.*status /, 'HTTP ')}.`;
  }
  return `Updating failed: ${message}`;
}

function errorCode(error: unknown): string | null {
  if (typeof error !== 'object' || error == null) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const cause = (error as { cause?: unknown }).cause;
  return cause != null && cause !== error ? errorCode(cause) : null;
}

function capitalizeFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]?.trim() || 'unknown error';
}

function releaseNotesText(notes: UpdateInfo['releaseNotes']): string | null {
  if (notes == null) return null;
  if (typeof notes === 'string') return notes;
  const parts = notes
    .map((n) => (n.note == null ? '' : `${n.version}: ${n.note}`))
    .filter((t) => t.length > 0);
  return parts.length > 0 ? parts.join('\n\n') : null;
}

/** Size of the file this platform's updater will download (AppImage / zip / exe), as the feed announces it. */
function platformFileSize(files: UpdateFileInfo[] | undefined): number | null {
  if (files == null || files.length === 0) return null;
  const extension =
    process.platform === 'darwin' ? '.zip' : process.platform === 'win32' ? '.exe' : '.AppImage';
  const file = files.find((f) => f.url.endsWith(extension)) ?? files[0];
  return file?.size ?? null;
}
