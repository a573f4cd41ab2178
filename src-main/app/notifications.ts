/**
 * Desktop notifications, each sent once per occasion: the agent has been disconnected for longer than N minutes
 * (once per outage, not every retry), an update is ready (once per version). Approvals notify through
 * approvals.ts. The OS notification is injected (`notify`), so the rules are tested without Electron.
 */
import type { ConnectionStateName, ConnectionView, UpdateView } from '../../src-shared/view-models';

export interface NotificationRequest {
  title: string;
  body: string;
  onClick?: () => void;
}
export interface ShownNotification {
  close(): void;
}
/** Shows a notification; null when the platform cannot (no notification daemon). */
export type Notify = (request: NotificationRequest) => ShownNotification | null;

/** States in which nothing reaches the server although it should: they count towards the outage. */
const OUTAGE_STATES: ReadonlySet<ConnectionStateName> = new Set([
  'connecting',
  'authenticating',
  'unreachable',
  'denied',
  'no-auth-reply',
  'tls-error',
  'protocol-error',
]);

export interface ShellNotificationsOptions {
  notify: Notify;
  openWindow: () => void;
  /** Notify after this long offline (default 5 minutes). */
  disconnectedAfterMs?: number;
  now?: () => number;
}

export class ShellNotifications {
  private readonly disconnectedAfterMs: number;
  private readonly now: () => number;
  private outageStartedAt: number | null = null;
  private outageNotified = false;
  private outageTimer: NodeJS.Timeout | null = null;
  private lastConnection: ConnectionView | null = null;
  private notifiedUpdateVersion: string | null = null;

  constructor(private readonly options: ShellNotificationsOptions) {
    this.disconnectedAfterMs = options.disconnectedAfterMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  onConnection(view: ConnectionView): void {
    this.lastConnection = view;
    if (!OUTAGE_STATES.has(view.state)) {
      // Connected, paused by the person, or not configured: any outage is over.
      this.outageStartedAt = null;
      this.outageNotified = false;
      this.clearTimer();
      return;
    }
    if (this.outageStartedAt === null) {
      this.outageStartedAt = view.offlineSince ?? this.now();
      const wait = Math.max(0, this.outageStartedAt + this.disconnectedAfterMs - this.now());
      this.outageTimer = setTimeout(() => this.outageDue(), wait);
      this.outageTimer.unref?.();
    }
  }

  onUpdate(view: UpdateView): void {
    if (
      view.state !== 'ready' ||
      !view.availableVersion ||
      view.availableVersion === this.notifiedUpdateVersion
    )
      return;
    this.notifiedUpdateVersion = view.availableVersion;
    this.options.notify({
      title: `Minion Agent ${view.availableVersion} is ready`,
      body: 'Restart Minion Agent to install the update.',
      onClick: this.options.openWindow,
    });
  }

  dispose(): void {
    this.clearTimer();
  }

  private outageDue(): void {
    this.outageTimer = null;
    const view = this.lastConnection;
    if (this.outageNotified || !view || !OUTAGE_STATES.has(view.state)) return;
    this.outageNotified = true;
    const minutes = Math.round((this.now() - (this.outageStartedAt ?? this.now())) / 60_000);
    const server = view.host ? `${view.host}:${view.port}` : 'the server';
    const detail = [view.explanation, view.fixHint].filter(Boolean).join(' ');
    this.options.notify({
      title: `Minion Agent has been offline for ${minutes} minute${minutes === 1 ? '' : 's'}`,
      body: `Not connected to ${server}. ${detail} Data is kept on disk and sent when the connection returns.`.replace(
        /\s+/g,
        ' ',
      ),
      onClick: this.options.openWindow,
    });
  }

  private clearTimer(): void {
    if (this.outageTimer) clearTimeout(this.outageTimer);
    this.outageTimer = null;
  }
}

/** The part of Electron's `Notification` the shell uses (electron.d.ts `class Notification`). */
export interface NotificationLike {
  show(): void;
  close(): void;
  on(event: 'click' | 'close' | 'failed', listener: () => void): unknown;
}

/** At most this many notifications are kept referenced; the oldest are let go first. */
const MAX_RETAINED_NOTIFICATIONS = 50;

/**
 * Electron notifications shown through `Notify`. Each is kept referenced until it is clicked, closed or fails:
 * a Notification object that is garbage-collected loses its `click` handler (electron.d.ts notes GC among the ways a
 * notification goes away), and the locals of `notify` are gone the moment it returns.
 */
export function electronNotify(options: {
  isSupported: () => boolean;
  create: (init: { title: string; body: string }) => NotificationLike;
}): Notify & { retained(): number } {
  const retained = new Set<NotificationLike>();
  const notify = (({ title, body, onClick }: NotificationRequest): ShownNotification | null => {
    if (!options.isSupported()) return null;
    const notification = options.create({ title, body });
    const release = (): void => void retained.delete(notification);
    if (onClick) notification.on('click', onClick);
    notification.on('click', release);
    notification.on('close', release);
    notification.on('failed', release);
    retained.add(notification);
    if (retained.size > MAX_RETAINED_NOTIFICATIONS) {
      const oldest = retained.values().next().value;
      if (oldest) retained.delete(oldest);
    }
    notification.show();
    return {
      close: () => {
        release();
        notification.close();
      },
    };
  }) as Notify & { retained(): number };
  notify.retained = () => retained.size;
  return notify;
}
