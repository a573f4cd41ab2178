// `minion-agent upgrade` (`-u`) and `minion-agent version --check`: asks the update feed (and, if configured, the
// original agent's legacy endpoint) and reports. Running from an AppImage, `upgrade` also downloads, verifies
// (sha512) and replaces the AppImage through the same UpdateService the desktop app uses.
import { DEFAULT_UPGRADE_URL, parseAgentConfig, type AgentConfig } from '../../../src-shared/config';
import { defaultDataDir, loadConfigFile } from '../../agent/config';
import { describeLegacyAnnouncement, fetchLegacyAnnouncement } from '../../updates/legacy';
import { type UpdatePolicy } from '../../updates/policy';
import type { UpdateChannel } from '../../updates/update-service';
import type { CliIo } from '../io';
import { upgradeOptionsFromConfig } from './updater-hook';

// The hook a running agent uses lives apart, so `run` does not load this command (http, https, the legacy check).
export { headlessUpdaterHook, upgradeOptionsFromConfig } from './updater-hook';

export interface UpgradeCommandOptions {
  currentVersion: string;
  /** `updates.feed_url`, or BUILT_IN_FEED_URL (src-main/updates/feed.ts) when unset. */
  feedUrl: string | null;
  channel: UpdateChannel;
  policy: UpdatePolicy;
  allowDowngrade: boolean;
  /** The original `upgrade` key. Its default (getminion.io, long gone) is not queried. */
  legacyUrl: string | null;
  /** Where downloads are staged, e.g. `<dataDir>/updates`. */
  cacheDir: string;
  /** `version --check`: report only, never download. */
  checkOnly?: boolean;
  /** The AppImage to replace; default `$APPIMAGE` (set by the AppImage runtime). */
  appImagePath?: string | null;
  legacyTimeoutMs?: number;
  /** Runs before the AppImage is replaced (e.g. stop a local agent). */
  beforeInstall?: () => Promise<void>;
}

export interface UpgradeOutput {
  stdout(line: string): void;
  stderr(line: string): void;
}

/**
 * Exit codes: 0 = reported or upgraded (including "update available" in check mode and "this copy cannot replace
 * itself"), 1 = the check, download or install failed, or updates are off and an upgrade was asked for.
 */
export async function runUpgradeCommand(opts: UpgradeCommandOptions, out: UpgradeOutput): Promise<number> {
  out.stdout(`Minion Agent ${opts.currentVersion}`);
  if (opts.legacyUrl != null && opts.legacyUrl !== '' && opts.legacyUrl !== DEFAULT_UPGRADE_URL) {
    try {
      const announcement = await fetchLegacyAnnouncement(opts.legacyUrl, { timeoutMs: opts.legacyTimeoutMs });
      out.stdout(describeLegacyAnnouncement(opts.legacyUrl, announcement, opts.currentVersion));
    } catch (error) {
      out.stderr(`Legacy upgrade endpoint: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (opts.policy === 'off') {
    out.stdout('Updates are turned off (updates.policy: off); the update feed was not asked.');
    return opts.checkOnly ? 0 : 1;
  }
  if (opts.feedUrl == null) {
    out.stderr('No update feed is configured (updates.feed_url).');
    return 1;
  }

  // Loaded lazily: electron-updater is only needed here, and the rest of the CLI starts faster without it.
  const [{ createHeadlessUpdater }, { UpdateService }] = await Promise.all([
    import('../../updates/headless-updater'),
    import('../../updates/update-service'),
  ]);
  const appImagePath = opts.appImagePath === undefined ? (process.env.APPIMAGE ?? null) : opts.appImagePath;
  const headless = createHeadlessUpdater({
    feedUrl: opts.feedUrl,
    currentVersion: opts.currentVersion,
    cacheDir: opts.cacheDir,
    appImagePath,
  });
  const service = new UpdateService({
    updater: headless.updater,
    currentVersion: opts.currentVersion,
    feedUrl: opts.feedUrl,
    channel: opts.channel,
    policy: opts.policy,
    allowDowngrade: opts.allowDowngrade,
    autoDownload: false,
    installOnQuit: false,
    checkOnStart: false,
    checkIntervalHours: 0,
    canApply: headless.canApply,
    beforeInstall: opts.beforeInstall,
    applyUpdate: (file) => {
      if (file == null) throw new Error('the downloaded file is missing');
      headless.apply(file);
    },
  });
  try {
    out.stdout(`Checking ${opts.feedUrl} (${opts.channel} channel)…`);
    const checked = await service.check();
    if (checked.state === 'error') {
      out.stderr(checked.error ?? 'The check failed.');
      return 1;
    }
    if (checked.state !== 'available') {
      out.stdout(checked.detail ?? `${opts.currentVersion} is up to date.`);
      return 0;
    }
    const size = checked.sizeBytes == null ? '' : ` (${(checked.sizeBytes / 1024 / 1024).toFixed(1)} MB)`;
    out.stdout(`Update available: ${checked.availableVersion ?? '?'}${size}.`);
    if (checked.detail != null) out.stdout(checked.detail);
    if (checked.releaseNotes != null) out.stdout(`Release notes:\n${checked.releaseNotes}`);
    if (opts.checkOnly) return 0;
    if (!headless.canApply) {
      out.stdout((await service.download()).detail ?? 'This copy cannot replace itself.');
      return 0;
    }

    let lastDecile = -1;
    service.on('update', (view) => {
      if (view.state !== 'downloading' || view.percent == null) return;
      const decile = Math.floor(view.percent / 10);
      if (decile === lastDecile) return;
      lastDecile = decile;
      const speed = view.bytesPerSecond == null ? '' : `, ${(view.bytesPerSecond / 1024).toFixed(0)} KiB/s`;
      out.stdout(`Downloading… ${Math.floor(view.percent)} %${speed}`);
    });
    const downloaded = await service.download();
    if (downloaded.state !== 'ready') {
      out.stderr(downloaded.error ?? downloaded.detail ?? 'The download did not complete.');
      return 1;
    }
    out.stdout('Download verified (sha512).');
    const installed = await service.install();
    if (installed.state === 'error') {
      out.stderr(installed.error ?? 'Installing failed.');
      return 1;
    }
    out.stdout(
      `Installed ${installed.availableVersion ?? 'the update'} as ${appImagePath ?? 'the AppImage'}; restart the agent to run it (e.g. systemctl restart minion-agent).`,
    );
    return 0;
  } finally {
    service.stop();
  }
}

/**
 * The `CliExtensions.upgrade` entry (`upgrade`, `-u`, `version --check`): loads the config (defaults without one)
 * and runs the command with the CLI's output.
 */
export async function upgradeExtension(
  options: { configPath: string | null; checkOnly: boolean },
  io: Pick<CliIo, 'out' | 'err'>,
): Promise<number> {
  let config: AgentConfig;
  let dataDir: string;
  try {
    if (options.configPath == null) {
      config = parseAgentConfig({}).config;
      dataDir = defaultDataDir();
    } else {
      // Reads only: an upgrade never sends the server id, so a missing one is not generated here.
      const loaded = loadConfigFile(options.configPath, { host: 'headless', readOnly: true });
      config = loaded.config;
      dataDir = loaded.dataDir;
    }
  } catch (error) {
    io.err(error instanceof Error ? error.message : String(error));
    return 2;
  }
  return runUpgradeCommand(upgradeOptionsFromConfig(config, dataDir, options.checkOnly), {
    stdout: (line) => io.out(line),
    stderr: (line) => io.err(line),
  });
}
