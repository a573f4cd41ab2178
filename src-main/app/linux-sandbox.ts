/**
 * Ubuntu 24.04 and later block unprivileged user namespaces for programs without an AppArmor profile, and
 * Chromium's sandbox needs them. Only the deb installs a profile (app-builder-lib's FpmTarget copies
 * `apparmor-profile` into the package, its after-install script loads it). The AppImage's AppRun then starts the app
 * with `--no-sandbox` (app-builder-lib appImageUtil.js, the `unshare -Ur true` probe); a tar.gz does not start at all
 * (docs/desktop.md). Running unsandboxed is worth telling the person, with the way out.
 */
import type { InstallKind } from '../updates/install-kind';

export function sandboxNotice(input: {
  platform: NodeJS.Platform;
  /** `app.commandLine.hasSwitch('no-sandbox')`. */
  noSandbox: boolean;
  installKind: InstallKind;
}): string | null {
  if (input.platform !== 'linux' || !input.noSandbox) return null;
  const why =
    input.installKind === 'appimage'
      ? 'This system blocks the user namespaces it needs for AppImages (Ubuntu 24.04 and later do)'
      : 'It was turned off with --no-sandbox';
  return (
    `Minion Agent is running without Chromium's sandbox. ${why}. Install the .deb package instead: it brings an ` +
    'AppArmor profile, and the app runs sandboxed.'
  );
}
