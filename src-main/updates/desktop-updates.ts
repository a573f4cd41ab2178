// Wiring for the Electron app: electron-updater inside the UpdateService, configured from the agent config and from
// how this copy was installed (install-kind.ts).
import { AppImageUpdater, autoUpdater, type Logger } from 'electron-updater';
import { DEFAULT_UPGRADE_URL, type AgentConfig } from '../../src-shared/config';
import { updateCapability, type InstallKind } from './install-kind';
import { fetchLegacyAnnouncement } from './legacy';
import { UpdateService, type UpdaterLike } from './update-service';

export interface DesktopUpdatesOptions {
  updates: AgentConfig['updates'];
  /** The original `upgrade` key; its dead default is not queried. */
  legacyUrl: string | null;
  currentVersion: string;
  /** How this copy was installed: a deb or a tar.gz only checks and says how to update. */
  installKind: InstallKind;
  /** The agent flushes its spool and stops; a throw cancels the install. */
  beforeInstall: () => Promise<void>;
  /** The installer did not take over: the agent is started again. */
  onInstallFailed?: () => Promise<void> | void;
  /**
   * No command running, nothing queued, no approval pending: a good moment for an automatic restart (`auto`).
   * Required: without it an automatic update would install the moment its download finishes.
   */
  isQuiet: () => boolean;
  /** Install a downloaded update when the app quits normally. Default true. */
  installOnQuit?: boolean;
  /** electron-updater's log (the main log file): packaged failures must be diagnosable. */
  logger?: Logger | null;
}

/**
 * The updater for this copy. An AppImage gets an AppImageUpdater even when `resources/package-type` says deb (what
 * `autoUpdater` would pick: out/main.js l. 50–70), so it never runs dpkg; everything else uses `autoUpdater`.
 */
export function desktopUpdater(kind: InstallKind): UpdaterLike {
  return kind === 'appimage' ? new AppImageUpdater() : autoUpdater;
}

/**
 * Builds (but does not start) the desktop update service; call `start()` once the app is ready. `updater`: the one
 * from `desktopUpdater(kind)` when the caller listens to it too (main.ts: `appimage-filename-updated`), or a fake in
 * tests; by default `desktopUpdater(options.installKind)`.
 */
export function createDesktopUpdateService(
  options: DesktopUpdatesOptions,
  updater?: UpdaterLike,
): UpdateService {
  const target = updater ?? desktopUpdater(options.installKind);
  if (options.logger !== undefined) (target as { logger?: Logger | null }).logger = options.logger;
  const { updates } = options;
  const capability = updateCapability(options.installKind);
  const service = new UpdateService({
    updater: target,
    currentVersion: options.currentVersion,
    feedUrl: updates.feed_url ?? null,
    channel: updates.channel,
    policy: updates.policy,
    allowDowngrade: updates.allow_downgrade,
    // `auto` means "download and install at the next quiet moment", whatever auto_download says.
    autoDownload: updates.auto_download || updates.policy === 'auto',
    installOnQuit: options.installOnQuit ?? true,
    checkIntervalHours: updates.check_interval_hours,
    canApply: capability.canApply,
    installHint: capability.installHint,
    beforeInstall: options.beforeInstall,
    onInstallFailed: options.onInstallFailed,
    isQuiet: options.isQuiet,
  });
  const legacyUrl = options.legacyUrl;
  if (legacyUrl != null && legacyUrl !== '' && legacyUrl !== DEFAULT_UPGRADE_URL) {
    // Shown next to the feed's answer; a dead legacy endpoint is not worth an error state.
    fetchLegacyAnnouncement(legacyUrl).then(
      (announcement) => service.setLegacyAnnouncedVersion(announcement.version),
      () => undefined,
    );
  }
  return service;
}
