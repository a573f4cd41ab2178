/**
 * The update service of a headless agent (electron-updater's machinery, the feed client), created on the server's
 * first `internal upgrade`. Its own bundle (dist/cli/updater.js): a running agent loads it only then.
 */
import { BUILT_IN_FEED_URL } from '../updates/feed';
import { createHeadlessUpdater } from '../updates/headless-updater';
import { UpdateService } from '../updates/update-service';
import type { UpgradeCommandOptions } from './commands/upgrade';

export function createHeadlessUpdateService(options: UpgradeCommandOptions): UpdateService {
  const headless = createHeadlessUpdater({
    feedUrl: options.feedUrl ?? BUILT_IN_FEED_URL,
    currentVersion: options.currentVersion,
    cacheDir: options.cacheDir,
    appImagePath: process.env.APPIMAGE ?? null,
  });
  return new UpdateService({
    updater: headless.updater,
    currentVersion: options.currentVersion,
    feedUrl: options.feedUrl,
    channel: options.channel,
    policy: options.policy,
    allowDowngrade: options.allowDowngrade,
    checkOnStart: false,
    checkIntervalHours: 0,
    canApply: headless.canApply,
    applyUpdate: (file) => {
      if (file == null) throw new Error('the downloaded file is missing');
      headless.apply(file);
    },
  });
}
