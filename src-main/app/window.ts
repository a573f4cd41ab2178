/**
 * The one dashboard window: created lazily (the app starts in the tray), hidden rather than destroyed on close
 * (reopening is instant and the renderer keeps its state), shown near the tray icon or centred.
 */
import type { BrowserWindow, BrowserWindowConstructorOptions, Rectangle, WebContents } from 'electron';

export const DASHBOARD_WINDOW_NAME = 'minion-dashboard';
/** The tray-popover size the renderer is designed for; people can enlarge it and the size is persisted. */
export const DEFAULT_WINDOW_SIZE = { width: 420, height: 640 } as const;

export interface DashboardWindowOptionsInput {
  preloadPath: string;
  iconPath?: string;
  /** DevTools are for development builds only. */
  devTools: boolean;
  /** Electron 44+: the OS-level window state store; older runtimes ignore unknown options. */
  persistState: boolean;
}

/** The BrowserWindow options, every security-relevant preference spelled out (asserted by a test). */
export function dashboardWindowOptions(input: DashboardWindowOptionsInput): BrowserWindowConstructorOptions {
  return {
    ...DEFAULT_WINDOW_SIZE,
    minWidth: 360,
    minHeight: 480,
    show: false,
    title: 'Minion Agent',
    autoHideMenuBar: true,
    ...(input.iconPath ? { icon: input.iconPath } : {}),
    ...(input.persistState
      ? { name: DASHBOARD_WINDOW_NAME, windowStatePersistence: { bounds: true, displayMode: true } }
      : {}),
    webPreferences: {
      preload: input.preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: input.devTools,
    },
  };
}

/**
 * Where to put a window of `size` next to a tray icon at `tray`, inside `workArea`: below a tray at the top of the
 * screen (macOS, most Linux panels), above one at the bottom (Windows), beside a tray on the left/right edge.
 * Returns null when the tray has no usable position (Linux AppIndicator reports zeros): then centre instead.
 */
export function positionNearTray(
  tray: Rectangle | null,
  size: { width: number; height: number },
  workArea: Rectangle,
): { x: number; y: number } | null {
  if (!tray || (tray.width === 0 && tray.height === 0)) return null;
  const margin = 4;
  const trayCentreX = tray.x + tray.width / 2;
  const trayCentreY = tray.y + tray.height / 2;
  const clamp = (value: number, min: number, max: number): number => Math.max(min, Math.min(value, max));
  const maxX = workArea.x + workArea.width - size.width;
  const maxY = workArea.y + workArea.height - size.height;
  const screenMidY = workArea.y + workArea.height / 2;
  const onSide = tray.x + tray.width <= workArea.x || tray.x >= workArea.x + workArea.width;
  let x: number;
  let y: number;
  if (onSide) {
    x = tray.x < workArea.x ? workArea.x + margin : workArea.x + workArea.width - size.width - margin;
    y = trayCentreY - size.height / 2;
  } else {
    x = trayCentreX - size.width / 2;
    y = trayCentreY < screenMidY ? tray.y + tray.height + margin : tray.y - size.height - margin;
  }
  return { x: Math.round(clamp(x, workArea.x, maxX)), y: Math.round(clamp(y, workArea.y, maxY)) };
}

export type WindowLike = Pick<
  BrowserWindow,
  | 'show'
  | 'hide'
  | 'focus'
  | 'isVisible'
  | 'isDestroyed'
  | 'isMinimized'
  | 'restore'
  | 'setPosition'
  | 'getSize'
  | 'center'
  | 'loadURL'
  | 'on'
  | 'once'
> & { webContents: Pick<WebContents, 'id' | 'send' | 'isDestroyed'> };

export interface DashboardWindowDeps {
  create: (options: BrowserWindowConstructorOptions) => WindowLike;
  options: BrowserWindowConstructorOptions;
  url: string;
  /** True when a tray keeps the app alive: closing hides. False: closing really closes (and the app quits). */
  hideOnClose: boolean;
  trayBounds?: () => Rectangle | null;
  workAreaNear?: (point: { x: number; y: number }) => Rectangle;
  onLoadFailed?: (error: unknown) => void;
  /** The window really closed (not hidden). */
  onClosed?: () => void;
}

export class DashboardWindow {
  private window: WindowLike | null = null;
  private quitting = false;
  private restoredFromPersistence = false;
  private positioned = false;

  constructor(private readonly deps: DashboardWindowDeps) {}

  /** The live window, if one exists (never creates). */
  get(): WindowLike | null {
    return this.window && !this.window.isDestroyed() ? this.window : null;
  }

  webContentsId(): number | null {
    return this.get()?.webContents.id ?? null;
  }

  /** Lets the window close for real (quitting, installing an update). */
  allowClose(): void {
    this.setClosable(true);
  }

  /** False again after an update that did not install: closing hides (tray app) as before. */
  setClosable(closable: boolean): void {
    this.quitting = closable;
  }

  show(options: { nearTray?: boolean } = {}): WindowLike {
    const existing = this.get();
    if (!existing) return this.create(options.nearTray ?? false);
    if (!this.positioned || options.nearTray) this.place(existing, options.nearTray ?? false);
    if (existing.isMinimized()) existing.restore();
    existing.show();
    existing.focus();
    return existing;
  }

  hide(): void {
    this.get()?.hide();
  }

  toggle(): void {
    const window = this.get();
    if (window?.isVisible()) window.hide();
    else this.show({ nearTray: true });
  }

  private create(nearTray: boolean): WindowLike {
    const window = this.deps.create(this.deps.options);
    this.window = window;
    this.positioned = false;
    window.on('close', (event) => {
      if (this.deps.hideOnClose && !this.quitting) {
        event.preventDefault();
        window.hide();
      }
    });
    window.on('closed', () => {
      if (this.window === window) this.window = null;
      this.deps.onClosed?.();
    });
    window.on('persisted-state-restored', () => {
      this.restoredFromPersistence = true;
    });
    // Placed and shown once painted: no white first frame, and by then `persisted-state-restored` has arrived —
    // Electron emits it with EmitEventSoon, after the constructor returned (BaseWindow::OnWindowStateRestored), so
    // placing right after creation would centre the window over the bounds it just restored.
    window.once('ready-to-show', () => {
      if (!this.positioned) this.place(window, nearTray);
      window.show();
      window.focus();
    });
    window.loadURL(this.deps.url).catch((error: unknown) => this.deps.onLoadFailed?.(error));
    return window;
  }

  private place(window: WindowLike, nearTray: boolean): void {
    this.positioned = true;
    // Respect where the person left the window (restored by windowStatePersistence) unless opened from the tray.
    if (this.restoredFromPersistence && !nearTray) return;
    const tray = nearTray ? (this.deps.trayBounds?.() ?? null) : null;
    const [width = 0, height = 0] = window.getSize();
    const workArea = tray && this.deps.workAreaNear?.({ x: tray.x, y: tray.y });
    const position = tray && workArea ? positionNearTray(tray, { width, height }, workArea) : null;
    if (position) window.setPosition(position.x, position.y);
    else if (!this.restoredFromPersistence) window.center();
  }
}
