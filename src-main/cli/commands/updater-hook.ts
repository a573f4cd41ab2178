/**
 * The server's `internal upgrade` for a running headless agent, and the config → upgrade options mapping it shares
 * with `minion-agent upgrade` (commands/upgrade.ts). Kept out of that command's module so the run-only bundle does
 * not load the command's legacy check (node:http, node:https); the update service loads on the first request.
 */
import { join } from 'node:path';
import { type AgentConfig } from '../../../src-shared/config';
import { blankUpdateView } from '../../../src-shared/update-view';
import type { UpdateView } from '../../../src-shared/view-models';
import type { AgentUpdaterHook } from '../../agent/agent';
import { loadConfigFile } from '../../agent/config';
import { AGENT_VERSION } from '../../agent/version';
import { BUILT_IN_FEED_URL } from '../../updates/feed';
import { serverUpgradeHandler } from '../../updates/policy';
import type { UpdateService } from '../../updates/update-service';
import type { UpgradeCommandOptions } from './upgrade';

/** Maps the agent config (`updates.*`, the original `upgrade` key, `data_dir`) to the command's options. */
export function upgradeOptionsFromConfig(
  config: AgentConfig,
  dataDir: string,
  checkOnly: boolean,
  currentVersion: string = AGENT_VERSION,
): UpgradeCommandOptions {
  return {
    currentVersion,
    feedUrl: config.updates.feed_url ?? BUILT_IN_FEED_URL,
    channel: config.updates.channel,
    policy: config.updates.policy,
    allowDowngrade: config.updates.allow_downgrade,
    legacyUrl: config.upgrade,
    cacheDir: join(dataDir, 'updates'),
    checkOnly,
  };
}

/**
 * `CliExtensions.updater`: the server's `internal upgrade` for a headless agent, under `updates.policy`. The
 * update service (and electron-updater) is created on the first request; from an AppImage an accepted update
 * replaces the file and is run by the next start (systemd restart).
 */
export function headlessUpdaterHook(configPath: string): AgentUpdaterHook | undefined {
  let options: UpgradeCommandOptions;
  try {
    // Reads only: the agent's core generates and persists a missing server id (updates never send it).
    const loaded = loadConfigFile(configPath, { host: 'headless', readOnly: true });
    options = upgradeOptionsFromConfig(loaded.config, loaded.dataDir, false);
  } catch {
    return undefined; // the agent itself reports config errors
  }
  let service: UpdateService | null = null;
  const idle: UpdateView = blankUpdateView({
    state: options.policy === 'off' ? 'off' : 'idle',
    currentVersion: options.currentVersion,
    policy: options.policy,
  });
  const getService = async (): Promise<UpdateService> => {
    if (service != null) return service;
    const { createHeadlessUpdateService } = await import('../updater');
    service = createHeadlessUpdateService(options);
    return service;
  };
  return {
    async upgrade(argv) {
      const handler = serverUpgradeHandler(await getService(), options.policy);
      return handler(argv);
    },
    view: () => service?.view() ?? { ...idle },
  };
}
