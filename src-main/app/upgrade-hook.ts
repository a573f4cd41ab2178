/**
 * The server's `internal upgrade` command in the desktop app (allowed only when `commands.internal.upgrade` is on):
 * check the feed and download; the update service installs per its policy (on quit, or at a quiet moment with
 * `auto`). The answer tells the server what happened in one line.
 * The core is built before the update service (which reads the core's config), hence the getter.
 */
import type { AgentUpdaterHook } from '../agent/agent';
import { AGENT_VERSION } from '../agent/version';
import type { UpdatesApi } from '../../src-shared/ipc';
import type { UpdateView } from '../../src-shared/view-models';
import { blankUpdateView } from '../../src-shared/update-view';

type UpdatesPart = Pick<UpdatesApi, 'view' | 'check' | 'download'>;

const NOT_READY: UpdateView = blankUpdateView({
  state: 'off',
  currentVersion: AGENT_VERSION,
  policy: 'off',
  detail: 'the update service is not running yet',
});

export function desktopUpgradeHook(getUpdates: () => UpdatesPart | null): AgentUpdaterHook {
  return {
    view: () => getUpdates()?.view() ?? NOT_READY,
    async upgrade() {
      const updates = getUpdates();
      if (!updates) return { stdout: '', stderr: 'the update service is not running yet\n' };
      let view = await updates.check();
      if (view.state === 'available') view = await updates.download();
      switch (view.state) {
        case 'ready':
          return {
            stdout: `update ${view.availableVersion ?? ''} downloaded; it installs when the app restarts\n`,
            stderr: '',
          };
        case 'downloading':
          return { stdout: `downloading update ${view.availableVersion ?? ''}\n`, stderr: '' };
        case 'available':
          // This copy cannot replace itself (a deb updates through apt): say how instead.
          return {
            stdout: `update ${view.availableVersion ?? ''} available, not installed by the app: ${view.installHint ?? view.detail ?? 'install it from the update feed'}\n`,
            stderr: '',
          };
        case 'not-available':
          return { stdout: `already up to date (${view.currentVersion})\n`, stderr: '' };
        case 'off':
          return { stdout: '', stderr: `updates are turned off${view.detail ? `: ${view.detail}` : ''}\n` };
        default:
          return { stdout: '', stderr: `update check failed: ${view.error ?? view.state}\n` };
      }
    },
  };
}
