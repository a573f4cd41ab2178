import { describe, expect, it } from 'vitest';
import type { UpdateView } from '../../src-shared/view-models';
import {
  compareVersions,
  decideServerUpgrade,
  decideUserRequest,
  isDowngrade,
  isQuietMoment,
  serverUpgradeHandler,
  trayUpdateItem,
  type ServerUpgradeTarget,
  type UpdatePolicy,
} from '../../src-main/updates/policy';

function view(
  state: UpdateView['state'],
  availableVersion: string | null = null,
  extra: Partial<UpdateView> = {},
): UpdateView {
  return {
    state,
    currentVersion: '0.3.0',
    availableVersion,
    releaseNotes: null,
    sizeBytes: null,
    percent: null,
    bytesPerSecond: null,
    transferred: null,
    lastCheckAt: null,
    error: null,
    policy: 'manual',
    legacyAnnouncedVersion: null,
    ...extra,
  };
}

describe('UI clicks', () => {
  it('refuses everything when updates are off', () => {
    for (const request of ['check', 'download', 'install'] as const) {
      expect(decideUserRequest('off', request, view('ready', '0.4.0'))).toEqual({
        action: 'none',
        refused: true,
        message: 'Updates are turned off on this agent (updates.policy: off).',
      });
    }
  });

  it('lets a user check, download and install under manual and auto', () => {
    for (const policy of ['manual', 'auto'] as const) {
      expect(decideUserRequest(policy, 'check', view('idle')).action).toBe('check');
      expect(decideUserRequest(policy, 'download', view('available', '0.4.0')).action).toBe('download');
      expect(decideUserRequest(policy, 'install', view('ready', '0.4.0'))).toEqual({
        action: 'install',
        refused: false,
        message: 'Installing Minion Agent 0.4.0 and restarting.',
      });
    }
  });

  it('does nothing twice and explains why', () => {
    expect(decideUserRequest('manual', 'check', view('checking')).message).toBe(
      'A check for updates is already running.',
    );
    expect(decideUserRequest('manual', 'download', view('downloading', '0.4.0')).message).toBe(
      'Minion Agent 0.4.0 is downloading.',
    );
    expect(decideUserRequest('manual', 'check', view('ready', '0.4.0'))).toMatchObject({
      action: 'none',
      message: 'Minion Agent 0.4.0 is downloaded and ready to install.',
    });
    expect(decideUserRequest('manual', 'install', view('not-available'))).toMatchObject({
      action: 'none',
      refused: false,
      message: 'No update is ready to install; check for updates first.',
    });
  });

  it('refuses downloads and installs in a copy that updates through its package manager', () => {
    const hint = 'Installed from the .deb package: update through apt.';
    const deb = view('available', '0.4.0', { installHint: hint });
    expect(decideUserRequest('manual', 'download', deb)).toEqual({
      action: 'none',
      refused: true,
      message: hint,
    });
    expect(decideUserRequest('auto', 'install', deb).refused).toBe(true);
    expect(decideUserRequest('manual', 'check', deb).action).toBe('check');
  });

  it('retries a check after an error', () => {
    expect(decideUserRequest('manual', 'check', view('error', null, { error: 'feed down' })).action).toBe(
      'check',
    );
  });

  it('never downloads or installs a downgrade unless allowed', () => {
    const older = view('ready', '0.2.0');
    expect(decideUserRequest('manual', 'install', older)).toEqual({
      action: 'none',
      refused: true,
      message: 'Refusing to install 0.2.0 over 0.3.0: downgrades need updates.allow_downgrade.',
    });
    expect(decideUserRequest('auto', 'download', view('available', '0.2.0')).refused).toBe(true);
    expect(decideUserRequest('manual', 'install', older, true).action).toBe('install');
  });
});

describe('tray item', () => {
  it('follows the state so one click does the next step', () => {
    expect(trayUpdateItem('manual', view('idle'))).toEqual({
      label: 'Check for updates…',
      enabled: true,
      request: 'check',
    });
    expect(trayUpdateItem('manual', view('checking'))).toEqual({
      label: 'Checking for updates…',
      enabled: false,
      request: null,
    });
    expect(trayUpdateItem('manual', view('available', '0.4.0'))).toEqual({
      label: 'Download update 0.4.0',
      enabled: true,
      request: 'download',
    });
    expect(trayUpdateItem('auto', view('downloading', '0.4.0', { percent: 42.7 }))).toEqual({
      label: 'Downloading update… 42 %',
      enabled: false,
      request: null,
    });
    expect(trayUpdateItem('manual', view('ready', '0.4.0'))).toEqual({
      label: 'Restart to install 0.4.0',
      enabled: true,
      request: 'install',
    });
    expect(trayUpdateItem('manual', view('error'))).toMatchObject({ request: 'check' });
    expect(trayUpdateItem('off', view('off'))).toEqual({
      label: 'Updates are turned off',
      enabled: false,
      request: null,
    });
  });

  it('a tray click goes through the same decision as a UI click', () => {
    const ready = view('ready', '0.4.0');
    const item = trayUpdateItem('manual', ready);
    expect(item.request).toBe('install');
    expect(decideUserRequest('manual', item.request ?? 'check', ready).action).toBe('install');
  });
});

class FakeService implements ServerUpgradeTarget {
  calls: string[] = [];
  constructor(private readonly result: UpdateView) {}
  check(): Promise<UpdateView> {
    this.calls.push('check');
    return Promise.resolve(this.result);
  }
  download(): Promise<UpdateView> {
    this.calls.push('download');
    return Promise.resolve({ ...this.result, state: 'downloading' });
  }
  promptUser(): void {
    this.calls.push('prompt');
  }
  installWhenQuiet(): void {
    this.calls.push('installWhenQuiet');
  }
}

describe('server-issued internal upgrade', () => {
  it('plans by policy', () => {
    const plans = (['manual', 'auto', 'off'] as UpdatePolicy[]).map(decideServerUpgrade);
    expect(plans).toEqual(['check-and-prompt', 'check-download-install-when-quiet', 'refuse']);
  });

  it('manual: prompts the user and tells the server it is waiting, never installs', async () => {
    const service = new FakeService(view('available', '0.4.0'));
    const reply = await serverUpgradeHandler(service, 'manual')([]);
    expect(reply).toEqual({
      stdout: 'update 0.4.0 available, waiting for the user to install it (updates.policy: manual)',
      stderr: '',
    });
    expect(service.calls).toEqual(['check', 'prompt']);
  });

  it('auto: downloads and installs at the next quiet moment', async () => {
    const service = new FakeService(view('available', '0.4.0'));
    const reply = await serverUpgradeHandler(service, 'auto')([]);
    expect(reply.stdout).toBe(
      'update 0.4.0 available; downloading, will install at the next quiet moment (updates.policy: auto)',
    );
    expect(service.calls).toEqual(['check', 'installWhenQuiet', 'download']);
  });

  it('auto with the update already downloaded only schedules the install', async () => {
    const service = new FakeService(view('ready', '0.4.0'));
    const reply = await serverUpgradeHandler(service, 'auto')([]);
    expect(reply.stdout).toMatch(/^update 0\.4\.0 downloaded; installing at the next quiet moment/);
    expect(service.calls).toEqual(['check', 'installWhenQuiet']);
  });

  it('off: refuses with a clear message without touching the feed', async () => {
    const service = new FakeService(view('available', '0.4.0'));
    const reply = await serverUpgradeHandler(service, 'off')(['now']);
    expect(reply).toEqual({
      stdout: '',
      stderr:
        'upgrade refused: Updates are turned off on this agent (updates.policy: off). (arguments ignored: now)',
    });
    expect(service.calls).toEqual([]);
  });

  it('reports "no update" and errors in words', async () => {
    const none = new FakeService(
      view('not-available', null, { detail: '0.3.0 is the latest version on the latest channel.' }),
    );
    expect(await serverUpgradeHandler(none, 'auto')([])).toEqual({
      stdout: 'no update available: 0.3.0 is the latest version on the latest channel.',
      stderr: '',
    });
    const broken = new FakeService(
      view('error', null, { error: 'The update feed at x could not be reached (ECONNREFUSED).' }),
    );
    expect(await serverUpgradeHandler(broken, 'manual')([])).toEqual({
      stdout: '',
      stderr: 'upgrade failed: The update feed at x could not be reached (ECONNREFUSED).',
    });
    expect(broken.calls).toEqual(['check']);
  });
});

describe('quiet moment for an automatic install', () => {
  const idle = { runningCommands: 0, queuedCommands: 0, pendingApprovals: 0, queuedFrames: 0 };
  it('only when nothing runs, waits, awaits approval or is still to be sent', () => {
    expect(isQuietMoment(idle)).toBe(true);
    expect(isQuietMoment({ ...idle, runningCommands: 1 })).toBe(false);
    expect(isQuietMoment({ ...idle, queuedCommands: 2 })).toBe(false);
    expect(isQuietMoment({ ...idle, pendingApprovals: 1 })).toBe(false);
    expect(isQuietMoment({ ...idle, queuedFrames: 12 })).toBe(false);
  });
});

describe('versions', () => {
  it('orders by semver precedence', () => {
    expect(compareVersions('0.4.0', '0.3.9')).toBe(1);
    expect(compareVersions('0.10.0', '0.9.0')).toBe(1);
    expect(compareVersions('1.0.0-beta.2', '1.0.0-beta.10')).toBe(-1);
    expect(compareVersions('1.0.0-beta', '1.0.0')).toBe(-1);
    expect(compareVersions('1.0.0-alpha', '1.0.0-1')).toBe(1);
    expect(compareVersions('v1.2.3+build.5', '1.2.3')).toBe(0);
    expect(compareVersions('banana', '1.0.0')).toBeNull();
  });

  it('detects downgrades only for real semver', () => {
    expect(isDowngrade('0.3.0', '0.2.9')).toBe(true);
    expect(isDowngrade('0.3.0', '0.3.0')).toBe(false);
    expect(isDowngrade('0.3.0', '0.3.1-beta.1')).toBe(false);
    expect(isDowngrade('0.3.0', 'latest')).toBe(false);
  });
});
