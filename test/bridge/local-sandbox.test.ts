import { describe, expect, it } from 'vitest';
import { createSandboxStarter } from '../../src-main/bridge/local-sandbox';
import { createInvokeHandlers, dispatchInvoke } from '../../src-main/bridge/handlers';
import { SandboxServer } from '../../src-main/sandbox/sandbox-server';
import { InvokeChannel } from '../../src-shared/ipc';
import { FakeCore, FakeUpdates } from './fake-core';

describe('createSandboxStarter', () => {
  it('starts a real sandbox on 127.0.0.1 and points the config at it, once', async () => {
    const core = new FakeCore();
    const starter = createSandboxStarter({ core, startServer: (options) => SandboxServer.start(options) });
    const handlers = createInvokeHandlers({ core, updates: new FakeUpdates(), startSandbox: starter.start });
    try {
      const [first, second] = await Promise.all([
        dispatchInvoke(handlers, InvokeChannel.SandboxStart, undefined),
        dispatchInvoke(handlers, InvokeChannel.SandboxStart, undefined),
      ]);
      expect(first).toEqual(second);
      if (!first.ok) throw new Error(first.error.message);
      const info = first.value as { host: string; port: number; groupId: string };
      expect(info.host).toBe('127.0.0.1');
      expect(info.port).toBeGreaterThan(0);
      expect(info.groupId).toMatch(/^sandbox-[0-9a-f]{8}$/);
      const saves = core.calls.filter(([name]) => name === 'saveConfig');
      expect(saves).toHaveLength(1);
      expect(saves[0]![1]).toMatchObject({
        streamserver_host: '127.0.0.1',
        streamserver_port: info.port,
        group_id: info.groupId,
        'tls.enabled': false,
      });
      expect(String((saves[0]![1] as Record<string, unknown>).group_key).length).toBeGreaterThanOrEqual(32);
    } finally {
      await starter.stop();
    }
  });

  it('closes the sandbox again when the config cannot be saved', async () => {
    const core = new FakeCore();
    core.saveError = new Error('config file is read-only');
    let closed = 0;
    const starter = createSandboxStarter({
      core,
      startServer: async () => ({
        address: { host: '127.0.0.1', port: 1234 },
        close: async () => void closed++,
      }),
    });
    await expect(starter.start()).rejects.toThrow('read-only');
    expect(closed).toBe(1);
  });
});
