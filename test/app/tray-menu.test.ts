import { describe, expect, it } from 'vitest';
import { trayIconFor, trayMenu, trayTooltip, trayView, type TrayState } from '../../src-main/app/tray-menu';
import type { ConnectionStateName, UpdateView } from '../../src-shared/view-models';

function update(
  updateState: UpdateView['state'],
  availableVersion: string | null = null,
  extra: Partial<TrayState['update']> = {},
): TrayState['update'] {
  return {
    state: updateState,
    availableVersion,
    currentVersion: '1.0.0',
    policy: 'manual',
    percent: null,
    installHint: null,
    ...extra,
  };
}

function state(overrides: Partial<TrayState> = {}, conn: ConnectionStateName = 'connected'): TrayState {
  return {
    connection: { state: conn, host: 'stream.example', port: 7070 },
    queued: 0,
    update: update('idle'),
    pendingApprovals: 0,
    startAtLogin: false,
    loginItemsSupported: true,
    ...overrides,
  };
}

const ALL_STATES: ConnectionStateName[] = [
  'idle',
  'connecting',
  'authenticating',
  'connected',
  'paused',
  'unreachable',
  'denied',
  'no-auth-reply',
  'tls-error',
  'protocol-error',
];

function labels(s: TrayState): string[] {
  return trayMenu(s).map((item) => (item.type === 'separator' ? '---' : item.label));
}

describe('tray icon', () => {
  it.each([
    ['connected', 'connected'],
    ['connecting', 'connecting'],
    ['authenticating', 'connecting'],
    ['idle', 'connecting'],
    ['paused', 'paused'],
    ['unreachable', 'offline'],
    ['no-auth-reply', 'offline'],
    ['denied', 'attention'],
    ['tls-error', 'attention'],
    ['protocol-error', 'attention'],
  ] as const)('%s → %s', (conn, icon) => {
    expect(trayIconFor(state({}, conn))).toBe(icon);
  });

  it('update ready shows when healthy, not over problems', () => {
    const ready = { update: update('ready', '1.2.3') };
    expect(trayIconFor(state(ready))).toBe('update');
    expect(trayIconFor(state(ready, 'unreachable'))).toBe('offline');
    expect(trayIconFor(state(ready, 'denied'))).toBe('attention');
  });

  it('pending approvals need attention', () => {
    expect(trayIconFor(state({ pendingApprovals: 1 }))).toBe('attention');
  });
});

describe('tray tooltip', () => {
  it('connected with a queue', () => {
    expect(trayTooltip(state({ queued: 12 }))).toBe(
      'Minion Agent — connected to stream.example:7070 · 12 queued',
    );
  });
  it('connected with nothing queued says nothing about the queue', () => {
    expect(trayTooltip(state())).toBe('Minion Agent — connected to stream.example:7070');
  });
  it.each([
    ['connecting', 'Minion Agent — connecting to stream.example:7070 · 3 queued'],
    ['paused', 'Minion Agent — sending paused · 3 queued'],
    ['unreachable', 'Minion Agent — offline — stream.example:7070 unreachable · 3 queued'],
    ['no-auth-reply', 'Minion Agent — offline — stream.example:7070 did not answer the login · 3 queued'],
    ['denied', 'Minion Agent — denied by stream.example:7070 — check the group key · 3 queued'],
    ['tls-error', 'Minion Agent — TLS error with stream.example:7070 · 3 queued'],
    ['protocol-error', 'Minion Agent — protocol error with stream.example:7070 · 3 queued'],
  ] as const)('%s', (conn, text) => {
    expect(trayTooltip(state({ queued: 3 }, conn))).toBe(text);
  });
  it('mentions approvals and a ready update', () => {
    expect(trayTooltip(state({ pendingApprovals: 2, update: update('ready', '1.2.3') }))).toBe(
      'Minion Agent — connected to stream.example:7070 · 2 approvals waiting · update 1.2.3 ready',
    );
  });
  it('unconfigured agent', () => {
    expect(trayTooltip(state({ connection: { state: 'idle', host: '', port: 0 } }))).toBe(
      'Minion Agent — not configured',
    );
  });
  it('stays within the Windows tooltip limit', () => {
    const long = state({ connection: { state: 'denied', host: 'h'.repeat(200), port: 1 } });
    const text = trayTooltip(long);
    expect(text.length).toBeLessThanOrEqual(127);
    expect(text.endsWith('…')).toBe(true);
  });
});

describe('tray menu', () => {
  it('is always complete, for every connection state', () => {
    for (const conn of ALL_STATES) {
      const items = labels(state({}, conn));
      expect(items[0], conn).not.toBe('---');
      for (const label of [
        'Open Minion Agent',
        'Reconnect now',
        'Check for updates…',
        'Start at login',
        'Open data folder',
        'Quit Minion Agent',
      ]) {
        expect(items, conn).toContain(label);
      }
      expect(
        items.some((l) => l === 'Pause sending' || l === 'Resume sending'),
        conn,
      ).toBe(true);
      // Every enabled item does something.
      for (const item of trayMenu(state({}, conn))) {
        if (item.type !== 'separator' && item.enabled)
          expect(item.action, `${conn}: ${item.label}`).toBeDefined();
      }
    }
  });

  it('starts with a disabled status line', () => {
    const [first] = trayMenu(state({ queued: 12 }));
    expect(first).toEqual({
      type: 'normal',
      label: 'Connected to stream.example:7070 · 12 queued',
      enabled: false,
    });
  });

  it('connected: exact layout', () => {
    expect(labels(state())).toEqual([
      'Connected to stream.example:7070',
      '---',
      'Open Minion Agent',
      'Pause sending',
      'Reconnect now',
      '---',
      'Check for updates…',
      'Start at login',
      'Open data folder',
      '---',
      'Quit Minion Agent',
    ]);
  });

  it('paused offers Resume and disables Reconnect', () => {
    const items = trayMenu(state({}, 'paused'));
    expect(items).toContainEqual({
      type: 'normal',
      label: 'Resume sending',
      enabled: true,
      action: 'resume',
    });
    expect(items).toContainEqual({
      type: 'normal',
      label: 'Reconnect now',
      enabled: false,
      action: 'reconnect',
    });
  });

  it('start at login is a checkbox reflecting the setting', () => {
    const on = trayMenu(state({ startAtLogin: true })).find((i) => i.type === 'checkbox');
    expect(on).toMatchObject({
      label: 'Start at login',
      checked: true,
      enabled: true,
      action: 'toggle-start-at-login',
    });
    const unsupported = trayMenu(state({ loginItemsSupported: false })).find((i) => i.type === 'checkbox');
    expect(unsupported).toMatchObject({ enabled: false, checked: false });
  });

  it.each([
    ['ready', 'Restart to install 1.2.3', true, 'install-update'],
    ['checking', 'Checking for updates…', false, undefined],
    ['downloading', 'Downloading update…', false, undefined],
    ['off', 'Updates are off in this build', false, undefined],
    ['error', 'Check for updates…', true, 'check-updates'],
    // Before: an available update was labelled "Check for updates…", and clicking it checked again.
    ['available', 'Download update 1.2.3', true, 'download-update'],
  ] as const)('update state %s → %s', (updateState, label, enabled, action) => {
    const items = trayMenu(state({ update: update(updateState, '1.2.3') }));
    expect(items[6]).toEqual({ type: 'normal', label, enabled, ...(action ? { action } : {}) });
  });

  it('says what is available but offers no download in a copy that updates through apt', () => {
    const hint = 'Installed from the .deb package: update through apt.';
    const items = trayMenu(state({ update: update('available', '1.2.3', { installHint: hint }) }));
    expect(items[6]).toEqual({ type: 'normal', label: 'Update 1.2.3 available', enabled: false });
    expect(trayMenu(state({ update: update('idle', null, { policy: 'off' }) }))[6]).toMatchObject({
      label: 'Updates are turned off',
      enabled: false,
    });
  });

  it('pending approvals add a review item after Open', () => {
    expect(labels(state({ pendingApprovals: 1 }))[3]).toBe('Review 1 command awaiting approval…');
    expect(trayMenu(state({ pendingApprovals: 2 }))[3]).toMatchObject({ action: 'open-approvals' });
  });

  it('trayView bundles icon, tooltip and menu', () => {
    const view = trayView(state({}, 'denied'));
    expect(view.icon).toBe('attention');
    expect(view.menu[0]).toMatchObject({ label: 'Denied by stream.example:7070 — check the group key' });
  });
});
