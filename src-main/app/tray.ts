/**
 * Applies `trayView(state)` to an Electron Tray, throttled: the core can change state many times a second, and
 * rebuilding a context menu is visible on Linux (AppIndicator re-exports the whole menu over D-Bus). Only what
 * changed is pushed to the OS.
 */
import type { Menu, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import { join } from 'node:path';
import { FRAME_CLASSES, type ConnectionView, type SpoolView } from '../../src-shared/view-models';
import {
  trayView,
  type TrayAction,
  type TrayIconName,
  type TrayMenuItem,
  type TrayState,
  type TrayView,
} from './tray-menu';

export type TrayLike = Pick<Tray, 'setImage' | 'setToolTip' | 'setContextMenu'>;

export interface TrayControllerOptions {
  tray: TrayLike;
  /** `Menu.buildFromTemplate`. */
  buildMenu: (template: MenuItemConstructorOptions[]) => Menu;
  /** Loads the image for an icon name (see `trayIconPath`). */
  loadIcon: (name: TrayIconName) => NativeImage | string;
  onAction: (action: TrayAction) => void;
  /** Minimum time between two refreshes. */
  throttleMs?: number;
}

/**
 * Icon file for a state. macOS gets monochrome template images (the menu bar tints them; `@2x` is found by
 * Electron); Windows a multi-size .ico (16–48 px: sharp at 125 %/150 % display scale, where a 16 px PNG is blurred);
 * Linux the PNGs.
 */
export function trayIconPath(iconsDir: string, name: TrayIconName, platform: NodeJS.Platform): string {
  if (platform === 'darwin') return join(iconsDir, `tray-${name}Template.png`);
  if (platform === 'win32') return join(iconsDir, `tray-${name}.ico`);
  return join(iconsDir, `tray-${name}.png`);
}

/**
 * What a click on the icon itself does. macOS opens the context menu on click once one is set and emits `click`
 * too, so toggling the window there would open window and menu at once: the menu's "Open" does it. Windows: left
 * click toggles (right click shows the menu). Linux: `click` is an activation, when the desktop sends one at all
 * (electron.d.ts Tray `click`).
 */
export function bindTrayClick(
  tray: { on(event: 'click', listener: () => void): unknown },
  platform: NodeJS.Platform,
  toggleWindow: () => void,
): void {
  if (platform === 'darwin') return;
  tray.on('click', () => toggleWindow());
}

export function toMenuTemplate(
  items: readonly TrayMenuItem[],
  onAction: (action: TrayAction) => void,
): MenuItemConstructorOptions[] {
  return items.map((item): MenuItemConstructorOptions => {
    if (item.type === 'separator') return { type: 'separator' };
    const action = item.action;
    const base: MenuItemConstructorOptions = {
      type: item.type,
      label: item.label,
      enabled: item.enabled,
      ...(action ? { click: () => onAction(action) } : {}),
    };
    return item.type === 'checkbox' ? { ...base, checked: item.checked } : base;
  });
}

/** Frames waiting to be sent, all classes together (what "12 queued" means in the tooltip). */
export function queuedFrames(spool: Pick<SpoolView, 'perClass'>): number {
  return FRAME_CLASSES.reduce((sum, cls) => sum + spool.perClass[cls].queuedFrames, 0);
}

export function trayStateFrom(input: {
  connection: Pick<ConnectionView, 'state' | 'host' | 'port'>;
  spool: Pick<SpoolView, 'perClass'>;
  update: TrayState['update'];
  pendingApprovals: number;
  startAtLogin: boolean;
  loginItemsSupported: boolean;
}): TrayState {
  return {
    connection: { state: input.connection.state, host: input.connection.host, port: input.connection.port },
    queued: queuedFrames(input.spool),
    update: {
      state: input.update.state,
      availableVersion: input.update.availableVersion,
      currentVersion: input.update.currentVersion,
      policy: input.update.policy,
      percent: input.update.percent,
      installHint: input.update.installHint ?? null,
    },
    pendingApprovals: input.pendingApprovals,
    startAtLogin: input.startAtLogin,
    loginItemsSupported: input.loginItemsSupported,
  };
}

export class TrayController {
  private readonly throttleMs: number;
  private pending: TrayState | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastRefreshAt = -Infinity;
  private shown: { icon: TrayIconName | null; tooltip: string | null; menuKey: string | null } = {
    icon: null,
    tooltip: null,
    menuKey: null,
  };
  private view: TrayView | null = null;
  private disposed = false;

  constructor(private readonly options: TrayControllerOptions) {
    this.throttleMs = options.throttleMs ?? 500;
  }

  /** Records the newest state; the tray shows it at most once per `throttleMs`. */
  update(state: TrayState): void {
    if (this.disposed) return;
    this.pending = state;
    if (this.timer) return;
    const wait = Math.max(0, this.lastRefreshAt + this.throttleMs - Date.now());
    if (wait === 0) return this.refresh();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, wait);
  }

  /** What the tray shows now (for tests and the window's status). */
  current(): TrayView | null {
    return this.view;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private refresh(): void {
    const state = this.pending;
    this.pending = null;
    if (!state || this.disposed) return;
    this.lastRefreshAt = Date.now();
    const view = trayView(state);
    this.view = view;
    const { tray } = this.options;
    if (view.icon !== this.shown.icon) {
      tray.setImage(this.options.loadIcon(view.icon));
      this.shown.icon = view.icon;
    }
    if (view.tooltip !== this.shown.tooltip) {
      tray.setToolTip(view.tooltip);
      this.shown.tooltip = view.tooltip;
    }
    const menuKey = JSON.stringify(view.menu);
    if (menuKey !== this.shown.menuKey) {
      tray.setContextMenu(this.options.buildMenu(toMenuTemplate(view.menu, this.options.onAction)));
      this.shown.menuKey = menuKey;
    }
  }
}
