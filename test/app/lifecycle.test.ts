import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppLifecycle } from '../../src-main/app/lifecycle';
import { FakeCore } from '../bridge/fake-core';
import { FakeEvent } from './fake-electron';

/** A fake `app` whose quit() emits before-quit like Electron and records whether it went through. */
class FakeApp extends EventEmitter {
  quits = 0;
  exited = false;
  constructor(private readonly gotLock: boolean) {
    super();
  }
  requestSingleInstanceLock(): boolean {
    return this.gotLock;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  quit(): void {
    const event = new FakeEvent();
    this.emit('before-quit', event);
    if (!event.defaultPrevented) this.quits++;
  }
  exit(): void {
    this.exited = true;
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function setup(
  options: { lock?: boolean; hasTray?: boolean; stopTimeoutMs?: number; shellFails?: boolean } = {},
) {
  const app = new FakeApp(options.lock ?? true);
  const core = new FakeCore();
  const events: string[] = [];
  const errors: string[] = [];
  const lifecycle = new AppLifecycle({
    app: app as never,
    createShell: () => {
      if (options.shellFails) throw new Error('config.yml: line 3: bad indentation');
      events.push('shell');
      return { core, hasTray: options.hasTray ?? true };
    },
    showWindow: () => events.push('show'),
    beforeStop: () => events.push('beforeStop'),
    stopTimeoutMs: options.stopTimeoutMs,
    onError: (message) => errors.push(message),
  });
  return { app, core, events, errors, lifecycle };
}

describe('AppLifecycle', () => {
  afterEach(() => vi.useRealTimers());

  it('a second instance quits at once and starts nothing', async () => {
    const { app, core, events, lifecycle } = setup({ lock: false });
    expect(lifecycle.run()).toBe('secondary');
    await flush();
    expect(app.quits).toBe(1);
    expect(core.started).toBe(false);
    expect(events).toEqual([]);
  });

  it('the first instance builds the shell, starts the core and stays in the tray', async () => {
    const { core, events, lifecycle } = setup();
    expect(lifecycle.run()).toBe('primary');
    await flush();
    expect(events).toEqual(['shell']);
    expect(core.started).toBe(true);
    expect(lifecycle.currentPhase).toBe('running');
  });

  it('a second launch focuses the window of the first', async () => {
    const { app, events, lifecycle } = setup();
    lifecycle.run();
    await flush();
    app.emit('second-instance', {}, ['minion-agent'], '/');
    expect(events).toEqual(['shell', 'show']);
  });

  it('a second launch during startup shows the window once ready', async () => {
    const { app, events, lifecycle } = setup();
    lifecycle.run();
    app.emit('second-instance', {}, [], '/');
    await flush();
    expect(events).toEqual(['shell', 'show']);
  });

  it('closing the last window keeps a tray app alive but quits a tray-less one', async () => {
    const tray = setup();
    tray.lifecycle.run();
    await flush();
    tray.app.emit('window-all-closed');
    await flush();
    expect(tray.app.quits).toBe(0);
    expect(tray.core.stopped).toBe(false);

    const noTray = setup({ hasTray: false });
    noTray.lifecycle.run();
    await flush();
    expect(noTray.events).toEqual(['shell', 'show']);
    noTray.app.emit('window-all-closed');
    await flush();
    expect(noTray.core.stopped).toBe(true);
    expect(noTray.app.quits).toBe(1);
  });

  it('quitting stops the core first, then exits', async () => {
    const { app, core, events, lifecycle } = setup();
    lifecycle.run();
    await flush();
    core.stopDelayMs = 20;
    app.quit();
    expect(app.quits).toBe(0); // held until the core has stopped
    expect(events).toContain('beforeStop');
    app.quit(); // a second request while stopping changes nothing
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(core.stopped).toBe(true);
    expect(app.quits).toBe(1);
    expect(lifecycle.currentPhase).toBe('stopped');
  });

  it('a core that hangs on stop does not keep the app from quitting', async () => {
    const { app, core, errors, lifecycle } = setup({ stopTimeoutMs: 30 });
    lifecycle.run();
    await flush();
    core.stop = () => new Promise<void>(() => undefined);
    app.quit();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(app.quits).toBe(1);
    expect(errors).toEqual(['The agent did not stop within 0.03 s; quitting anyway']);
  });

  it('a core that fails to start leaves the shell running and reports it', async () => {
    const { core, errors, lifecycle } = setup();
    core.start = async () => {
      throw new Error('bad config');
    };
    lifecycle.run();
    await flush();
    expect(errors).toEqual(['The agent could not start']);
    expect(lifecycle.currentPhase).toBe('running');
  });

  it('a shell that cannot be built is reported and the app quits', async () => {
    const { app, core, errors, lifecycle } = setup({ shellFails: true });
    lifecycle.run();
    await flush();
    expect(errors).toEqual(['Minion Agent could not start']);
    expect(app.quits).toBe(1);
    expect(core.started).toBe(false);
  });
});
