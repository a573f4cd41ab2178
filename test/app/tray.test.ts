import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Menu, MenuItemConstructorOptions } from 'electron';
import { EventEmitter } from 'node:events';
import {
  bindTrayClick,
  toMenuTemplate,
  TrayController,
  trayIconPath,
  trayStateFrom,
} from '../../src-main/app/tray';
import type { TrayState } from '../../src-main/app/tray-menu';
import { connectionView, spoolView } from '../bridge/fake-core';

function state(overrides: Partial<TrayState> = {}): TrayState {
  return {
    connection: { state: 'connected', host: 'h', port: 1 },
    queued: 0,
    update: {
      state: 'idle',
      availableVersion: null,
      currentVersion: '1.0.0',
      policy: 'manual',
      percent: null,
      installHint: null,
    },
    pendingApprovals: 0,
    startAtLogin: false,
    loginItemsSupported: true,
    ...overrides,
  };
}

function fakeTray() {
  const calls = { setImage: [] as unknown[], setToolTip: [] as string[], setContextMenu: [] as unknown[] };
  const tray = {
    setImage: (image: unknown) => void calls.setImage.push(image),
    setToolTip: (text: string) => void calls.setToolTip.push(text),
    setContextMenu: (menu: unknown) => void calls.setContextMenu.push(menu),
  };
  return { tray, calls };
}

describe('TrayController', () => {
  beforeEach(() => vi.useFakeTimers({ now: 10_000 }));
  afterEach(() => vi.useRealTimers());

  function setup() {
    const { tray, calls } = fakeTray();
    const actions: string[] = [];
    const templates: MenuItemConstructorOptions[][] = [];
    const controller = new TrayController({
      tray: tray as never,
      buildMenu: (template) => (templates.push(template), { template } as unknown as Menu),
      loadIcon: (name) => `icon:${name}`,
      onAction: (action) => actions.push(action),
      throttleMs: 500,
    });
    return { controller, calls, actions, templates };
  }

  it('shows the first state at once, then at most one refresh per throttle window with the latest state', () => {
    const { controller, calls } = setup();
    controller.update(state({ queued: 1 }));
    expect(calls.setToolTip).toEqual(['Minion Agent — connected to h:1 · 1 queued']);
    for (let i = 2; i <= 50; i++) controller.update(state({ queued: i }));
    expect(calls.setToolTip).toHaveLength(1);
    vi.advanceTimersByTime(500);
    expect(calls.setToolTip).toEqual([
      'Minion Agent — connected to h:1 · 1 queued',
      'Minion Agent — connected to h:1 · 50 queued',
    ]);
    controller.dispose();
  });

  it('pushes only what changed', () => {
    const { controller, calls } = setup();
    controller.update(state());
    controller.update(state());
    vi.advanceTimersByTime(1_000);
    expect(calls.setImage).toEqual(['icon:connected']);
    expect(calls.setContextMenu).toHaveLength(1);
    controller.update(state({ connection: { state: 'unreachable', host: 'h', port: 1 } }));
    vi.advanceTimersByTime(1_000);
    expect(calls.setImage).toEqual(['icon:connected', 'icon:offline']);
    expect(calls.setContextMenu).toHaveLength(2);
    controller.dispose();
  });

  it('menu clicks reach onAction', () => {
    const { controller, actions, templates } = setup();
    controller.update(state());
    const quit = templates[0]!.find((item) => item.label === 'Quit Minion Agent')!;
    const pause = templates[0]!.find((item) => item.label === 'Pause sending')!;
    (quit.click as () => void)();
    (pause.click as () => void)();
    expect(actions).toEqual(['quit', 'pause']);
    expect(templates[0]![0]).toMatchObject({ enabled: false });
    expect(templates[0]![0]!.click).toBeUndefined();
    controller.dispose();
  });

  it('dispose cancels a pending refresh', () => {
    const { controller, calls } = setup();
    controller.update(state());
    controller.update(state({ queued: 5 }));
    controller.dispose();
    vi.advanceTimersByTime(1_000);
    expect(calls.setToolTip).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('tray helpers', () => {
  it('picks template images on macOS only', () => {
    expect(trayIconPath('/r/icons', 'paused', 'darwin')).toBe('/r/icons/tray-pausedTemplate.png');
    expect(trayIconPath('/r/icons', 'paused', 'linux')).toBe('/r/icons/tray-paused.png');
    expect(trayIconPath('/r/icons', 'update', 'win32')).toBe('/r/icons/tray-update.ico');
  });

  it('a click on the icon toggles the window, except on macOS where it opens the menu', () => {
    for (const platform of ['darwin', 'win32', 'linux'] as const) {
      const tray = new EventEmitter();
      let toggles = 0;
      bindTrayClick(tray, platform, () => toggles++);
      tray.emit('click');
      expect([platform, toggles]).toEqual([platform, platform === 'darwin' ? 0 : 1]);
    }
  });

  it('converts checkboxes and separators', () => {
    const template = toMenuTemplate(
      [
        { type: 'separator' },
        {
          type: 'checkbox',
          label: 'Start at login',
          enabled: true,
          checked: true,
          action: 'toggle-start-at-login',
        },
      ],
      () => undefined,
    );
    expect(template[0]).toEqual({ type: 'separator' });
    expect(template[1]).toMatchObject({ type: 'checkbox', checked: true, label: 'Start at login' });
  });

  it('derives tray state from view models, counting every queued class', () => {
    const spool = spoolView(4);
    spool.perClass.result.queuedFrames = 2;
    const tray = trayStateFrom({
      connection: connectionView({ state: 'unreachable' }),
      spool,
      update: {
        state: 'idle',
        availableVersion: null,
        currentVersion: '1.0.0',
        policy: 'manual',
        percent: null,
      },
      pendingApprovals: 0,
      startAtLogin: true,
      loginItemsSupported: true,
    });
    expect(tray).toMatchObject({
      queued: 6,
      connection: { state: 'unreachable', host: 'stream.example', port: 7070 },
    });
  });
});
