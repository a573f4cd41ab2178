import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  electronNotify,
  ShellNotifications,
  type NotificationRequest,
} from '../../src-main/app/notifications';
import { connectionView, updateView } from '../bridge/fake-core';

describe('ShellNotifications', () => {
  beforeEach(() => vi.useFakeTimers({ now: 10_000_000 }));
  afterEach(() => vi.useRealTimers());

  function setup() {
    const shown: NotificationRequest[] = [];
    const opened: number[] = [];
    const notifications = new ShellNotifications({
      notify: (n) => (shown.push(n), { close: () => undefined }),
      openWindow: () => opened.push(1),
      disconnectedAfterMs: 5 * 60_000,
    });
    return { notifications, shown, opened };
  }

  const offline = () =>
    connectionView({
      state: 'unreachable',
      offlineSince: Date.now(),
      explanation: 'Connection refused.',
      fixHint: 'Is the server running?',
    });

  it('notifies once after N minutes offline, not on every retry', () => {
    const { notifications, shown, opened } = setup();
    notifications.onConnection(offline());
    vi.advanceTimersByTime(4 * 60_000);
    notifications.onConnection(connectionView({ state: 'connecting' }));
    notifications.onConnection(offline());
    expect(shown).toHaveLength(0);
    vi.advanceTimersByTime(60_000);
    expect(shown).toHaveLength(1);
    expect(shown[0]!.title).toBe('Minion Agent has been offline for 5 minutes');
    expect(shown[0]!.body).toBe(
      'Not connected to stream.example:7070. Connection refused. Is the server running? Data is kept on disk and sent when the connection returns.',
    );
    for (let i = 0; i < 10; i++) {
      notifications.onConnection(connectionView({ state: 'connecting' }));
      notifications.onConnection(connectionView({ state: 'unreachable' }));
      vi.advanceTimersByTime(60_000);
    }
    expect(shown).toHaveLength(1);
    shown[0]!.onClick!();
    expect(opened).toHaveLength(1);
    notifications.dispose();
  });

  it('a short outage stays silent, and a new outage after reconnecting notifies again', () => {
    const { notifications, shown } = setup();
    notifications.onConnection(offline());
    vi.advanceTimersByTime(60_000);
    notifications.onConnection(connectionView({ state: 'connected' }));
    vi.advanceTimersByTime(10 * 60_000);
    expect(shown).toHaveLength(0);
    notifications.onConnection(offline());
    vi.advanceTimersByTime(5 * 60_000);
    expect(shown).toHaveLength(1);
    notifications.onConnection(connectionView({ state: 'connected' }));
    notifications.onConnection(offline());
    vi.advanceTimersByTime(5 * 60_000);
    expect(shown).toHaveLength(2);
    notifications.dispose();
  });

  it('pausing is not an outage', () => {
    const { notifications, shown } = setup();
    notifications.onConnection(offline());
    notifications.onConnection(connectionView({ state: 'paused' }));
    vi.advanceTimersByTime(60 * 60_000);
    expect(shown).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts from the core’s offlineSince', () => {
    const { notifications, shown } = setup();
    notifications.onConnection(
      connectionView({ state: 'unreachable', offlineSince: Date.now() - 10 * 60_000 }),
    );
    vi.advanceTimersByTime(0);
    expect(shown[0]!.title).toBe('Minion Agent has been offline for 10 minutes');
    notifications.dispose();
  });

  it('update ready: once per version', () => {
    const { notifications, shown } = setup();
    notifications.onUpdate(updateView({ state: 'downloading', availableVersion: '1.0.0' }));
    notifications.onUpdate(updateView({ state: 'ready', availableVersion: '1.0.0' }));
    notifications.onUpdate(updateView({ state: 'ready', availableVersion: '1.0.0' }));
    notifications.onUpdate(updateView({ state: 'ready', availableVersion: '1.1.0' }));
    expect(shown.map((n) => n.title)).toEqual(['Minion Agent 1.0.0 is ready', 'Minion Agent 1.1.0 is ready']);
  });
});

describe('electronNotify', () => {
  /** Like Electron's Notification: an EventEmitter the OS talks to while JS holds a reference. */
  class FakeNotification extends EventEmitter {
    shown = 0;
    closed = 0;
    show(): void {
      this.shown++;
    }
    close(): void {
      this.closed++;
    }
  }

  it('keeps each notification referenced until it is clicked, closed or fails, so its click handler survives GC', () => {
    const created: FakeNotification[] = [];
    const notify = electronNotify({
      isSupported: () => true,
      create: () => {
        const notification = new FakeNotification();
        created.push(notification);
        return notification;
      },
    });
    let clicks = 0;
    notify({ title: 'a', body: 'b', onClick: () => clicks++ });
    notify({ title: 'c', body: 'd' });
    const shown = notify({ title: 'e', body: 'f' });
    expect(created.map((n) => n.shown)).toEqual([1, 1, 1]);
    expect(notify.retained()).toBe(3);
    created[0]!.emit('click');
    expect(clicks).toBe(1);
    created[1]!.emit('failed');
    expect(notify.retained()).toBe(1);
    shown?.close();
    expect(created[2]!.closed).toBe(1);
    expect(notify.retained()).toBe(0);
  });

  it('shows nothing where notifications are unsupported', () => {
    const notify = electronNotify({ isSupported: () => false, create: () => new FakeNotification() });
    expect(notify({ title: 'a', body: 'b' })).toBeNull();
    expect(notify.retained()).toBe(0);
  });
});
