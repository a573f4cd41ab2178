import { beforeEach, describe, expect, it, vi } from 'vitest';
import { apiMethods, EventChannel, InvokeChannel, type MinionApi } from '../src-shared/ipc';

const exposed: Record<string, unknown> = {};
const listeners = new Map<string, Set<(...args: unknown[]) => void>>();
const invoke = vi.fn(async (channel: string, ...args: unknown[]) => ({ ok: true, value: { channel, args } }));

vi.mock('electron', () => ({
  contextBridge: {
    exposeInMainWorld: (key: string, api: unknown) => {
      exposed[key] = api;
    },
  },
  ipcRenderer: {
    invoke: (channel: string, ...args: unknown[]) => invoke(channel, ...args),
    on: (channel: string, listener: (...args: unknown[]) => void) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(listener);
    },
    removeListener: (channel: string, listener: (...args: unknown[]) => void) => {
      listeners.get(channel)?.delete(listener);
    },
    send: () => {
      throw new Error('preload must not use send');
    },
  },
}));

async function loadApi(): Promise<MinionApi> {
  await import('../src-main/preload');
  return exposed.minion as MinionApi;
}

describe('preload', () => {
  beforeEach(() => invoke.mockClear());

  it('exposes exactly window.minion with the task methods and on()', async () => {
    const api = await loadApi();
    expect(Object.keys(exposed)).toEqual(['minion']);
    expect(Object.keys(api).sort()).toEqual([...Object.keys(apiMethods), 'on'].sort());
    expect(Object.isFrozen(api)).toBe(true);
  });

  it('each method invokes exactly its one channel, passing only the request', async () => {
    const api = await loadApi();
    await api.pause();
    expect(invoke).toHaveBeenLastCalledWith(InvokeChannel.Pause);
    await api.recentLogs({ limit: 5 });
    expect(invoke).toHaveBeenLastCalledWith(InvokeChannel.RecentLogs, { limit: 5 });
    // Extra arguments from a page never reach main.
    await (api.decideApproval as (...a: unknown[]) => Promise<unknown>)({ id: 'a', approve: true }, 'extra');
    expect(invoke).toHaveBeenLastCalledWith(InvokeChannel.ApprovalDecide, { id: 'a', approve: true });
    for (const [method, channel] of Object.entries(apiMethods)) {
      invoke.mockClear();
      await (api[method as keyof typeof apiMethods] as () => Promise<unknown>)();
      expect(invoke.mock.calls).toEqual([[channel]]);
    }
  });

  it('turns a rejected invoke into a failed result', async () => {
    const api = await loadApi();
    invoke.mockRejectedValueOnce(new Error('No handler registered'));
    expect(await api.snapshot()).toEqual({
      ok: false,
      error: { code: 'failed', message: 'IPC failed: No handler registered' },
    });
  });

  it('on() delivers only the payload and returns a working unsubscribe', async () => {
    const api = await loadApi();
    const received: unknown[][] = [];
    const off = api.on(EventChannel.Logs, (...args: unknown[]) => received.push(args));
    const fakeEvent = { sender: { send: () => undefined }, ports: [] };
    for (const l of listeners.get(EventChannel.Logs)!) l(fakeEvent, [{ id: 1 }]);
    expect(received).toEqual([[[{ id: 1 }]]]);
    off();
    off();
    expect(listeners.get(EventChannel.Logs)!.size).toBe(0);
  });

  it('on() refuses channels outside the contract', async () => {
    const api = await loadApi();
    expect(() => api.on('agent:pause' as EventChannel, () => undefined)).toThrow(/Unknown event channel/);
    expect(listeners.has('agent:pause')).toBe(false);
  });
});
