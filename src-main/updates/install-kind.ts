/**
 * How this copy of the desktop app was installed, which decides how it can be updated:
 *   - AppImage: replaces its own file (electron-updater's AppImageUpdater);
 *   - deb: through apt. electron-updater's DebUpdater would run `pkexec dpkg -i` in a blocking spawnSync, and with
 *     autoInstallOnAppQuit on every Quit would ask for a root password: the app only checks and says so;
 *   - tar.gz: cannot replace itself (no APPIMAGE, no package manager);
 *   - macOS (zip via Squirrel.Mac) and Windows (NSIS) update themselves.
 * electron-updater decides between AppImage and deb by `resources/package-type` alone (out/main.js l. 50–70); the
 * deb target writes that file into the shared linux-unpacked folder (app-builder-lib FpmTarget.js l. 136–141), so an
 * AppImage built in the same run would carry it. `$APPIMAGE` is what really says "running from an AppImage".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type InstallKind = 'appimage' | 'deb' | 'linux-archive' | 'mac' | 'windows' | 'unpackaged';

export interface InstallFacts {
  platform: NodeJS.Platform;
  isPackaged: boolean;
  /** `$APPIMAGE`, set by the AppImage runtime. */
  appImagePath: string | undefined;
  /** Contents of `resources/package-type` (written by electron-builder's deb/rpm/pacman targets), or null. */
  packageType: string | null;
}

export function detectInstallKind(facts: InstallFacts): InstallKind {
  if (!facts.isPackaged) return 'unpackaged';
  if (facts.platform === 'darwin') return 'mac';
  if (facts.platform === 'win32') return 'windows';
  if (facts.appImagePath) return 'appimage';
  if (facts.packageType === 'deb') return 'deb';
  return 'linux-archive';
}

/** Reads `resources/package-type` once at startup; null when absent. */
export function readPackageType(resourcesPath: string): string | null {
  try {
    return readFileSync(join(resourcesPath, 'package-type'), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

export interface UpdateCapability {
  canApply: boolean;
  /** What the person is told instead of a Download button (null: the app updates itself). */
  installHint: string | null;
}

export const DEB_INSTALL_HINT =
  'This copy was installed from the .deb package, so apt updates it: install the new .deb with ' +
  '`sudo apt install ./minion-agent-<version>-amd64.deb`, or run `sudo apt upgrade` if it comes from an apt ' +
  'repository.';

export const ARCHIVE_INSTALL_HINT =
  'This copy runs from the tar.gz archive and cannot replace itself: download the new version (the .deb is ' +
  'recommended on Debian and Ubuntu) and unpack it over this one.';

export function updateCapability(kind: InstallKind): UpdateCapability {
  switch (kind) {
    case 'deb':
      return { canApply: false, installHint: DEB_INSTALL_HINT };
    case 'linux-archive':
      return { canApply: false, installHint: ARCHIVE_INSTALL_HINT };
    default:
      return { canApply: true, installHint: null };
  }
}
