import { describe, expect, it } from 'vitest';
import { blankUpdateView } from '../../src-shared/update-view';

describe('blankUpdateView', () => {
  it('fills every unknown field with null and keeps what it is given', () => {
    expect(blankUpdateView({ state: 'idle', currentVersion: '1.2.3', policy: 'manual' })).toEqual({
      state: 'idle',
      currentVersion: '1.2.3',
      policy: 'manual',
      availableVersion: null,
      releaseNotes: null,
      sizeBytes: null,
      percent: null,
      bytesPerSecond: null,
      transferred: null,
      lastCheckAt: null,
      error: null,
      legacyAnnouncedVersion: null,
      installHint: null,
    });
  });

  it('lets the caller set optional fields such as the detail and the legacy announcement', () => {
    const view = blankUpdateView({
      state: 'off',
      currentVersion: '1.0.0',
      policy: 'off',
      detail: 'updates are off',
      legacyAnnouncedVersion: '0.9.0',
    });
    expect(view.detail).toBe('updates are off');
    expect(view.legacyAnnouncedVersion).toBe('0.9.0');
    expect(view.availableVersion).toBeNull();
  });
});
