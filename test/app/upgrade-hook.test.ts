import { describe, expect, it } from 'vitest';
import { desktopUpgradeHook } from '../../src-main/app/upgrade-hook';
import { FakeUpdates, updateView } from '../bridge/fake-core';

describe('desktopUpgradeHook', () => {
  it('downloads an available update and says so', async () => {
    const updates = new FakeUpdates();
    const downloads: number[] = [];
    updates.check = async () => updateView({ state: 'available', availableVersion: '1.0.0' });
    updates.download = async () => (
      downloads.push(1),
      updateView({ state: 'ready', availableVersion: '1.0.0' })
    );
    const result = await desktopUpgradeHook(() => updates).upgrade([]);
    expect(downloads).toHaveLength(1);
    expect(result).toEqual({
      stdout: 'update 1.0.0 downloaded; it installs when the app restarts\n',
      stderr: '',
    });
  });

  it('a deb says an update exists and that apt installs it', async () => {
    const updates = new FakeUpdates();
    const hint = 'This copy was installed from the .deb package, so apt updates it.';
    updates.check = async () =>
      updateView({ state: 'available', availableVersion: '1.0.0', installHint: hint });
    updates.download = async () =>
      updateView({ state: 'available', availableVersion: '1.0.0', installHint: hint, detail: hint });
    expect(await desktopUpgradeHook(() => updates).upgrade([])).toEqual({
      stdout: `update 1.0.0 available, not installed by the app: ${hint}\n`,
      stderr: '',
    });
  });

  it('reports up to date and errors', async () => {
    const updates = new FakeUpdates();
    expect((await desktopUpgradeHook(() => updates).upgrade([])).stdout).toBe('already up to date (0.3.0)\n');
    updates.check = async () => updateView({ state: 'error', error: 'feed unreachable' });
    expect(await desktopUpgradeHook(() => updates).upgrade([])).toEqual({
      stdout: '',
      stderr: 'update check failed: feed unreachable\n',
    });
  });

  it('answers honestly before the update service exists', async () => {
    const hook = desktopUpgradeHook(() => null);
    expect(hook.view!().state).toBe('off');
    expect((await hook.upgrade([])).stderr).toBe('the update service is not running yet\n');
  });
});
