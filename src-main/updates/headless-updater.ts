// electron-updater without Electron: an AppImageUpdater driven by a plain app adapter and a node:http executor.
// Used by `minion-agent upgrade` / `version --check` and by the integration tests; the Electron app uses the
// stock `autoUpdater` instead. The check/download/sha512 logic is electron-updater's own, unchanged.
import { chmodSync, copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AppImageUpdater, type AppUpdater, type Logger } from 'electron-updater';
import { NodeHttpExecutor } from './node-http-executor';

export interface HeadlessUpdaterOptions {
  feedUrl: string;
  currentVersion: string;
  /** Where the updater keeps its staging id and downloaded files (e.g. `<dataDir>/updates`). */
  cacheDir: string;
  /**
   * The AppImage this process runs from (the AppImage runtime sets `$APPIMAGE`). Without it the updater can check
   * and report, but has nothing to replace.
   */
  appImagePath?: string | null;
  /** electron-updater's logger; `null` keeps it silent (the service reports everything that matters). */
  logger?: Logger | null;
}

export interface HeadlessUpdater {
  updater: AppUpdater;
  /** True when a downloaded update can be applied (running from an AppImage). */
  canApply: boolean;
  /**
   * Replaces the running AppImage with the downloaded file, atomically (copy beside it, chmod 0755, rename), so a
   * crash mid-way never leaves a half-written executable. The next start (systemd, autostart) runs the new version.
   */
  apply(downloadedFile: string): void;
}

class HeadlessAppAdapter {
  readonly name = 'minion-agent';
  // electron-updater only updates packaged apps; the headless path is always "packaged" as far as it is concerned.
  readonly isPackaged = true;
  private readonly quitHandlers: Array<(exitCode: number) => void> = [];
  constructor(
    readonly version: string,
    readonly appUpdateConfigPath: string,
    readonly userDataPath: string,
    readonly baseCachePath: string,
  ) {}
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  relaunch(): void {
    // A headless agent is restarted by its supervisor (systemd), never by itself.
  }
  quit(): void {
    for (const handler of this.quitHandlers) handler(0);
  }
  onQuit(handler: (exitCode: number) => void): void {
    this.quitHandlers.push(handler);
  }
}

export function createHeadlessUpdater(options: HeadlessUpdaterOptions): HeadlessUpdater {
  mkdirSync(options.cacheDir, { recursive: true });
  // electron-updater reads `updaterCacheDirName` from app-update.yml even when the feed is set in code.
  const appUpdateConfigPath = join(options.cacheDir, 'app-update.yml');
  writeFileSync(
    appUpdateConfigPath,
    `provider: generic\nurl: ${JSON.stringify(options.feedUrl)}\nupdaterCacheDirName: minion-agent-updater\n`,
  );
  const adapter = new HeadlessAppAdapter(
    options.currentVersion,
    appUpdateConfigPath,
    options.cacheDir,
    options.cacheDir,
  );
  const appImagePath = options.appImagePath ?? null;
  // AppImageUpdater reads the running file from $APPIMAGE (set by the AppImage runtime); mirror an explicit path.
  if (appImagePath != null) process.env.APPIMAGE = appImagePath;

  const updater = new AppImageUpdater(null, adapter);
  // Internal field (not in the .d.ts): with a custom adapter electron-updater leaves the transport unset.
  (updater as unknown as { httpExecutor: NodeHttpExecutor }).httpExecutor = new NodeHttpExecutor();
  // Skips the "$APPIMAGE must be set" gate for checks: checking and reporting works from any install.
  updater.forceDevUpdateConfig = true;
  updater.logger = options.logger ?? null;
  updater.setFeedURL({ provider: 'generic', url: options.feedUrl });

  return {
    updater,
    canApply: appImagePath != null,
    apply(downloadedFile: string): void {
      if (appImagePath == null)
        throw new Error('This copy does not run from an AppImage, so there is nothing to replace.');
      const staged = join(dirname(appImagePath), `.${process.pid}.minion-agent-update`);
      try {
        copyFileSync(downloadedFile, staged);
        chmodSync(staged, 0o755);
        renameSync(staged, appImagePath);
      } catch (error) {
        rmSync(staged, { force: true });
        throw error;
      }
    },
  };
}
