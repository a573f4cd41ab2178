import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppLifecycle, type ShellHandle } from '../../src-main/app/lifecycle';
import { CountingCore } from './counting-core';
import { FakeApp, FakeLockRegistry } from './fake-electron';

interface SetupOptions {
  locks?: FakeLockRegistry;
  hasTray?: boolean;
  stopTimeoutMs?: number;
  shellFails?: boolean;
  launchedHidden?: boolean;
  needsAttention?: boolean;
}

function setup(options: SetupOptions = {}) {
  const app = new FakeApp(options.locks);
  const core = new CountingCore();
  const events: string[] = [];
  const errors: string[] = [];
  const lifecycle = new AppLifecycle({
    app: app as never,
    createShell: (): ShellHandle => {
      if (options.shellFails) throw new Error('config.yml: line 3: bad indentation');
      events.push('shell');
      return { core, hasTray: options.hasTray ?? true, needsAttention: options.needsAttention ?? false };
    },
    showWindow: () => events.push('show'),
    launchedHidden: options.launchedHidden ?? true,
    beforeStop: () => events.push('beforeStop'),
    stopTimeoutMs: options.stopTimeoutMs,
    onError: (message) => errors.push(message),
  });
  return { app, core, events, errors, lifecycle };
}

/** Lets the promise chains started by run()/quit() settle (fake timers do not hold microtasks back). */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('AppLifecycle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a second instance quits at once and starts nothing', async () => {
    const locks = new FakeLockRegistry();
    const first = setup({ locks });
    first.lifecycle.run();
    await settle();
    const second = setup({ locks });
    expect(second.lifecycle.run()).toBe('secondary');
    await settle();
    expect(second.app.ended).toBe(true);
    expect(second.core.starts).toBe(0);
    expect(second.events).toEqual([]);
    // …and the first one was asked to show itself.
    expect(first.events).toEqual(['shell', 'show']);
  });

  it('an autostart launch builds the shell, starts the core and stays in the tray', async () => {
    const { core, events, lifecycle } = setup({ launchedHidden: true });
    expect(lifecycle.run()).toBe('primary');
    await settle();
    expect(events).toEqual(['shell']);
    expect(core.starts).toBe(1);
    expect(lifecycle.currentPhase).toBe('running');
  });

  it('a launch by a person shows the window even with a tray', async () => {
    const { events, lifecycle } = setup({ launchedHidden: false });
    lifecycle.run();
    await settle();
    expect(events).toEqual(['shell', 'show']);
  });

  it('an autostart launch still shows the window on first run or while no server is configured', async () => {
    const { events, lifecycle } = setup({ launchedHidden: true, needsAttention: true });
    lifecycle.run();
    await settle();
    expect(events).toEqual(['shell', 'show']);
  });

  it('a second launch focuses the window of the first', async () => {
    const { app, events, lifecycle } = setup();
    lifecycle.run();
    await settle();
    app.emit('second-instance', {}, ['minion-agent-desktop'], '/');
    expect(events).toEqual(['shell', 'show']);
  });

  it('a second launch during startup shows the window once ready', async () => {
    const { app, events, lifecycle } = setup();
    lifecycle.run();
    app.emit('second-instance', {}, [], '/');
    await settle();
    expect(events).toEqual(['shell', 'show']);
  });

  it('closing the last window keeps a tray app alive but quits a tray-less one', async () => {
    const tray = setup();
    tray.lifecycle.run();
    await settle();
    tray.app.emit('window-all-closed');
    await settle();
    expect(tray.app.ended).toBe(false);
    expect(tray.core.stops).toBe(0);

    const noTray = setup({ hasTray: false });
    noTray.lifecycle.run();
    await settle();
    expect(noTray.events).toEqual(['shell', 'show']);
    noTray.app.emit('window-all-closed');
    await settle();
    expect(noTray.core.stops).toBe(1);
    expect(noTray.app.exited).toBe(0);
  });

  it('quitting stops the core first, then exits', async () => {
    const { app, core, events, lifecycle } = setup();
    lifecycle.run();
    await settle();
    core.stopDelayMs = 20;
    app.quit();
    expect(app.ended).toBe(false); // held until the core has stopped
    expect(events).toContain('beforeStop');
    app.quit(); // a second request while stopping changes nothing
    await vi.advanceTimersByTimeAsync(19);
    expect(core.stops).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(core.stops).toBe(1);
    expect(app.exited).toBe(0);
    expect(app.log).toEqual(['before-quit', 'before-quit', 'before-quit', 'will-quit', 'exit 0']);
    expect(lifecycle.currentPhase).toBe('stopped');
  });

  it('a core that hangs on stop does not keep the app from quitting', async () => {
    const { app, core, errors, lifecycle } = setup({ stopTimeoutMs: 30 });
    lifecycle.run();
    await settle();
    core.hang = true;
    app.quit();
    await vi.advanceTimersByTimeAsync(29);
    expect(app.ended).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(app.exited).toBe(0);
    expect(errors).toEqual(['The agent did not stop within 0.03 s; quitting anyway']);
  });

  it('Windows shutdown (session-end, no before-quit) stops the core and exits', async () => {
    const { app, core, events, lifecycle } = setup();
    lifecycle.run();
    await settle();
    core.stopDelayMs = 50;
    lifecycle.onSessionEnd();
    lifecycle.onSessionEnd();
    expect(events).toEqual(['shell', 'beforeStop']);
    await vi.advanceTimersByTimeAsync(50);
    expect(core.stops).toBe(1);
    expect(app.log).toEqual(['exit 0']);
  });

  it('a core that fails to start leaves the shell running and reports it', async () => {
    const { core, errors, lifecycle } = setup();
    core.start = async () => {
      throw new Error('bad config');
    };
    lifecycle.run();
    await settle();
    expect(errors).toEqual(['The agent could not start']);
    expect(lifecycle.currentPhase).toBe('running');
  });

  it('a shell that cannot be built is reported and the app quits', async () => {
    const { app, core, errors, lifecycle } = setup({ shellFails: true });
    lifecycle.run();
    await settle();
    expect(errors).toEqual(['Minion Agent could not start']);
    expect(app.exited).toBe(0);
    expect(core.starts).toBe(0);
  });
});
