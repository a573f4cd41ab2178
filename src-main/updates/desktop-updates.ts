// Wiring for the Electron app: the stock electron-updater `autoUpdater` (reads resources/app-update.yml unless
// `updates.feed_url` overrides it) inside the UpdateService, configured from the agent config.
import { autoUpdater, type Logger } from 'electron-updater';
import { DEFAULT_UPGRADE_URL, type AgentConfig } from '../../src-shared/config';
import { fetchLegacyAnnouncement } from './legacy';
import { UpdateService, type UpdaterLike } from './update-service';

export interface DesktopUpdatesOptions {
  updates: AgentConfig['updates'];
  /** The original `upgrade` key; its dead default is not queried. */
  legacyUrl: string | null;
  currentVersion: string;
  /** The agent flushes its spool and stops; a throw cancels the install. */
  beforeInstall: () => Promise<void>;
  /** No command running, nothing urgent to deliver: a good moment for an automatic restart (policy `auto`). */
  isQuiet?: () => boolean;
  /** Install a downloaded update when the app quits normally. Default true. */
  installOnQuit?: boolean;
  logger?: Logger | null;
}

/**
 * Builds (but does not start) the desktop update service; call `start()` once the app is ready. `updater` is only
 * for tests: touching `autoUpdater` needs a running Electron.
 */
export function createDesktopUpdateService(
  options: DesktopUpdatesOptions,
  updater?: UpdaterLike,
): UpdateService {
  const target = updater ?? autoUpdater;
  if (updater == null) autoUpdater.logger = options.logger ?? null;
  const { updates } = options;
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
    beforeInstall: options.beforeInstall,
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
