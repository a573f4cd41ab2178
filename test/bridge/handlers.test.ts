import { describe, expect, it } from 'vitest';
import { createInvokeHandlers, dispatchInvoke } from '../../src-main/bridge/handlers';
import { INVOKE_CHANNELS, InvokeChannel } from '../../src-shared/ipc';
import { FakeCore, FakeUpdates } from './fake-core';

function setup(extra: Partial<Parameters<typeof createInvokeHandlers>[0]> = {}) {
  const core = new FakeCore();
  const updates = new FakeUpdates();
  const handlers = createInvokeHandlers({ core, updates, ...extra });
  return { core, updates, handlers };
}

describe('createInvokeHandlers', () => {
  it('has exactly one handler per invoke channel of the contract', () => {
    const { handlers } = setup();
    expect(Object.keys(handlers).sort()).toEqual([...INVOKE_CHANNELS].sort());
  });

  it('merges the update view into the snapshot', async () => {
    const { handlers, updates } = setup();
    updates.set({ state: 'ready', availableVersion: '9.9.9' });
    const result = await dispatchInvoke(handlers, InvokeChannel.Snapshot, undefined);
    expect(result).toMatchObject({
      ok: true,
      value: { updates: { state: 'ready', availableVersion: '9.9.9' } },
    });
  });

  it('pause calls the core and returns the new connection view', async () => {
    const { handlers, core } = setup();
    const result = await dispatchInvoke(handlers, InvokeChannel.Pause, undefined);
    expect(core.calls).toEqual([['pause']]);
    expect(result).toMatchObject({ ok: true, value: { state: 'paused' } });
  });

  it('passes validated payloads through', async () => {
    const { handlers, core } = setup();
    const result = await dispatchInvoke(handlers, InvokeChannel.ApprovalDecide, { id: 'a1', approve: true });
    expect(core.calls).toEqual([['decideApproval', 'a1', true]]);
    expect(result).toEqual({ ok: true, value: { decided: false } });
  });

  it('reports sandbox as unavailable when the host cannot start one', async () => {
    const { handlers } = setup();
    const result = await dispatchInvoke(handlers, InvokeChannel.SandboxStart, undefined);
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'failed', message: /cannot start a local sandbox/ },
    });
  });

  it('open data folder: uses the opener when given, otherwise reports the path', async () => {
    const opened: string[] = [];
    const withOpener = setup({ openDataFolder: async () => (opened.push('x'), '/data') });
    expect(await dispatchInvoke(withOpener.handlers, InvokeChannel.OpenDataFolder, undefined)).toEqual({
      ok: true,
      value: { path: '/data' },
    });
    expect(opened).toHaveLength(1);
    const headless = setup();
    expect(await dispatchInvoke(headless.handlers, InvokeChannel.OpenDataFolder, undefined)).toEqual({
      ok: true,
      value: { path: '/tmp/minion-data' },
    });
  });
});

describe('dispatchInvoke validation', () => {
  it('rejects unknown channels without calling anything', async () => {
    const { handlers, core } = setup();
    for (const channel of ['nope', 42, null, undefined, { toString: () => 'agent:pause' }, '__proto__']) {
      const result = await dispatchInvoke(handlers, channel, undefined);
      expect(result).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
    }
    expect(core.calls).toEqual([]);
  });

  it('rejects bad payloads with field issues and never calls the core', async () => {
    const { handlers, core } = setup();
    const cases: Array<[string, unknown]> = [
      [InvokeChannel.Pause, { surprise: true }],
      [InvokeChannel.RecentLogs, { limit: 0 }],
      [InvokeChannel.RecentLogs, { limit: '10' }],
      [InvokeChannel.RecentLogs, { limit: 10, extra: 1 }],
      [InvokeChannel.ApprovalDecide, { id: '', approve: true }],
      [InvokeChannel.ApprovalDecide, { id: 'a', approve: 'yes' }],
      [InvokeChannel.ConsoleSend, { line: '' }],
      [InvokeChannel.ConfigSave, { patch: 'server.port=1' }],
      [InvokeChannel.ConfigImportYaml, { yaml: 'x'.repeat(1_000_001) }],
    ];
    for (const [channel, payload] of cases) {
      const result = await dispatchInvoke(handlers, channel, payload);
      expect(result, channel).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
      if (!result.ok) expect(result.error.issues?.length, channel).toBeGreaterThan(0);
    }
    expect(core.calls).toEqual([]);
  });

  it('names the offending field', async () => {
    const { handlers } = setup();
    const result = await dispatchInvoke(handlers, InvokeChannel.RecentLogs, { limit: -1 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.issues?.[0]?.path).toBe('limit');
  });

  it('turns ConfigPatchError into field issues', async () => {
    const { handlers } = setup();
    const result = await dispatchInvoke(handlers, InvokeChannel.ConfigSave, {
      patch: { 'server.port': 70000 },
    });
    expect(result).toEqual({
      ok: false,
      error: {
        code: 'invalid-request',
        message: 'server.port: Port must be 1–65535',
        issues: [{ path: 'server.port', message: 'Port must be 1–65535' }],
      },
    });
  });

  it('turns other thrown errors into failed results instead of rejecting', async () => {
    const { handlers, core } = setup();
    core.saveError = new Error('disk full');
    const result = await dispatchInvoke(handlers, InvokeChannel.ConfigSave, {
      patch: { 'server.host': 'h' },
    });
    expect(result).toEqual({ ok: false, error: { code: 'failed', message: 'disk full' } });
  });
});
