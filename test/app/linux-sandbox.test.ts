import { describe, expect, it } from 'vitest';
import { sandboxNotice } from '../../src-main/app/linux-sandbox';

describe('sandboxNotice', () => {
  it('tells an AppImage user on Ubuntu 24.04+ that the deb runs sandboxed', () => {
    expect(sandboxNotice({ platform: 'linux', noSandbox: true, installKind: 'appimage' })).toBe(
      "Minion Agent is running without Chromium's sandbox. This system blocks the user namespaces it needs for " +
        'AppImages (Ubuntu 24.04 and later do). Install the .deb package instead: it brings an AppArmor profile, ' +
        'and the app runs sandboxed.',
    );
  });
  it('says nothing when the sandbox runs, or off Linux', () => {
    expect(sandboxNotice({ platform: 'linux', noSandbox: false, installKind: 'appimage' })).toBeNull();
    expect(sandboxNotice({ platform: 'darwin', noSandbox: true, installKind: 'mac' })).toBeNull();
  });
});
