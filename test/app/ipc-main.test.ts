import { describe, expect, it } from 'vitest';
import { registerIpcHandlers, senderProblem, webContentsSink } from '../../src-main/app/ipc-main';
import { isAppUrl } from '../../src-main/app/renderer-protocol';
import { createInvokeHandlers } from '../../src-main/bridge/handlers';
import { EventChannel, INVOKE_CHANNELS, InvokeChannel } from '../../src-shared/ipc';
import { FakeCore, FakeUpdates } from '../bridge/fake-core';

type Handler = (event: unknown, ...args: unknown[]) => Promise<unknown>;

function setup(windowId: number | null = 7) {
  const registered = new Map<string, Handler>();
  const rejected: Array<[string, string]> = [];
  const core = new FakeCore();
  const unregister = registerIpcHandlers({
    ipcMain: {
      handle: (channel: string, handler: Handler) => void registered.set(channel, handler),
      removeHandler: (channel: string) => void registered.delete(channel),
    } as never,
    handlers: createInvokeHandlers({ core, updates: new FakeUpdates() }),
    senderPolicy: { dashboardWebContentsId: () => windowId, isAppUrl: (url) => isAppUrl(url) },
    onRejected: (channel, reason) => rejected.push([channel, reason]),
  });
  const invoke = (channel: string, event: unknown, ...args: unknown[]) =>
    registered.get(channel)!(event, ...args);
  return { registered, rejected, core, invoke, unregister };
}

const ours = { sender: { id: 7 }, senderFrame: { url: 'app://minion/index.html', parent: null } };

describe('registerIpcHandlers', () => {
  it('registers every invoke channel and removes them again', () => {
    const { registered, unregister } = setup();
    expect([...registered.keys()].sort()).toEqual([...INVOKE_CHANNELS].sort());
    unregister();
    expect(registered.size).toBe(0);
  });

  it('runs handlers for our own window', async () => {
    const { invoke, core } = setup();
    expect(await invoke(InvokeChannel.Pause, ours)).toMatchObject({ ok: true, value: { state: 'paused' } });
    expect(core.calls).toEqual([['pause']]);
  });

  it.each([
    ['another webContents', { ...ours, sender: { id: 8 } }, 'not the dashboard window'],
    [
      'a subframe',
      { ...ours, senderFrame: { url: 'app://minion/index.html', parent: {} } },
      'not the main frame',
    ],
    [
      'a remote page',
      { ...ours, senderFrame: { url: 'https://evil.example/', parent: null } },
      'not the dashboard page',
    ],
    [
      'a file page',
      { ...ours, senderFrame: { url: 'file:///tmp/x.html', parent: null } },
      'not the dashboard page',
    ],
    [
      'another app host',
      { ...ours, senderFrame: { url: 'app://other/index.html', parent: null } },
      'not the dashboard page',
    ],
    ['a destroyed frame', { ...ours, senderFrame: null }, 'sender frame is gone'],
  ])('refuses %s', async (_name, event, reason) => {
    const { invoke, core, rejected } = setup();
    expect(await invoke(InvokeChannel.Pause, event)).toEqual({
      ok: false,
      error: { code: 'forbidden', message: `Refused: ${reason}.` },
    });
    expect(core.calls).toEqual([]);
    expect(rejected).toEqual([[InvokeChannel.Pause, reason]]);
  });

  it('refuses everyone when there is no dashboard window', async () => {
    const { invoke } = setup(null);
    expect(await invoke(InvokeChannel.Snapshot, ours)).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
  });

  it('rejects bad payloads and extra arguments', async () => {
    const { invoke, core } = setup();
    expect(await invoke(InvokeChannel.RecentLogs, ours, { limit: 'all' })).toMatchObject({
      ok: false,
      error: { code: 'invalid-request', issues: [{ path: 'limit' }] },
    });
    expect(await invoke(InvokeChannel.RecentLogs, ours, { limit: 1 }, 'extra')).toMatchObject({
      ok: false,
      error: { code: 'invalid-request', message: `${InvokeChannel.RecentLogs} takes at most one argument.` },
    });
    expect(await invoke(InvokeChannel.Pause, ours, 'surprise')).toMatchObject({ ok: false });
    expect(core.calls).toEqual([]);
  });

  it('refuses a foreign sender also when nobody listens for rejections', async () => {
    const registered = new Map<string, Handler>();
    registerIpcHandlers({
      ipcMain: {
        handle: (channel: string, handler: Handler) => void registered.set(channel, handler),
        removeHandler: (channel: string) => void registered.delete(channel),
      } as never,
      handlers: createInvokeHandlers({ core: new FakeCore(), updates: new FakeUpdates() }),
      senderPolicy: { dashboardWebContentsId: () => 7, isAppUrl: (url) => isAppUrl(url) },
    });
    const foreign = { ...ours, sender: { id: 8 } };
    expect(await registered.get(InvokeChannel.Pause)!(foreign)).toMatchObject({
      ok: false,
      error: { code: 'forbidden', message: 'Refused: not the dashboard window.' },
    });
  });
});

describe('senderProblem', () => {
  it('accepts the dev server origin only when configured', () => {
    const dev = { sender: { id: 1 }, senderFrame: { url: 'http://localhost:5173/', parent: null } };
    expect(senderProblem(dev, { dashboardWebContentsId: () => 1, isAppUrl: (u) => isAppUrl(u) })).toBe(
      'not the dashboard page',
    );
    expect(
      senderProblem(dev, {
        dashboardWebContentsId: () => 1,
        isAppUrl: (u) => isAppUrl(u, 'http://localhost:5173'),
      }),
    ).toBeNull();
  });
});

describe('webContentsSink', () => {
  it('sends to a live window and drops events when there is none', () => {
    const sent: unknown[] = [];
    let destroyed = false;
    const contents = { send: (...args: unknown[]) => void sent.push(args), isDestroyed: () => destroyed };
    let current: typeof contents | null = null;
    const sink = webContentsSink(() => current);
    sink(EventChannel.Notice, [{ level: 'info', message: 'a' }]);
    current = contents;
    sink(EventChannel.Notice, [{ level: 'info', message: 'b' }]);
    destroyed = true;
    sink(EventChannel.Notice, [{ level: 'info', message: 'c' }]);
    expect(sent).toEqual([[EventChannel.Notice, [{ level: 'info', message: 'b' }]]]);
  });
});
