import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApprovalPresenter } from '../../src-main/app/approvals';
import type { NotificationRequest } from '../../src-main/app/notifications';
import { createInvokeHandlers, dispatchInvoke } from '../../src-main/bridge/handlers';
import { InvokeChannel } from '../../src-shared/ipc';
import type { ApprovalRequestView } from '../../src-shared/view-models';
import { FakeCore, FakeUpdates } from '../bridge/fake-core';

function request(id: string, expiresInMs = 60_000): ApprovalRequestView {
  return {
    id,
    uuid: `uuid-${id}`,
    type: 'shell',
    argv: ['systemctl', 'restart', 'nginx'],
    commandLine: 'systemctl restart nginx',
    requestedAt: Date.now(),
    expiresAt: Date.now() + expiresInMs,
  };
}

describe('ApprovalPresenter', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  function setup() {
    const core = new FakeCore();
    const shown: Array<NotificationRequest & { closed: boolean }> = [];
    const opened: number[] = [];
    const counts: number[] = [];
    const presenter = new ApprovalPresenter({
      core,
      notify: (n) => {
        const entry = { ...n, closed: false };
        shown.push(entry);
        return { close: () => void (entry.closed = true) };
      },
      openWindow: () => opened.push(1),
      onPendingChange: (count) => counts.push(count),
    });
    presenter.start();
    return { core, presenter, shown, opened, counts };
  }

  it('notifies once per request with the full command; clicking opens the dashboard', () => {
    const { core, shown, opened, presenter } = setup();
    core.emitCore('approvals', [request('a')]);
    core.emitCore('approvals', [request('a')]);
    expect(shown).toHaveLength(1);
    expect(shown[0]!.body).toContain('systemctl restart nginx');
    expect(shown[0]!.body).toContain('Denied automatically in 60 s');
    shown[0]!.onClick!();
    expect(opened).toHaveLength(1);
    expect(presenter.pendingCount()).toBe(1);
    presenter.stop();
  });

  it('approve: goes to the core and clears the notification', async () => {
    const { core, shown, presenter } = setup();
    core.pendingApprovalIds.add('a');
    core.emitCore('approvals', [request('a')]);
    // The renderer approves through the IPC contract…
    const handlers = createInvokeHandlers({ core, updates: new FakeUpdates() });
    expect(await dispatchInvoke(handlers, InvokeChannel.ApprovalDecide, { id: 'a', approve: true })).toEqual({
      ok: true,
      value: { decided: true },
    });
    // …and the core reports the new pending list.
    core.emitCore('approvals', []);
    expect(core.calls).toEqual([['decideApproval', 'a', true]]);
    expect(shown[0]!.closed).toBe(true);
    expect(presenter.pendingCount()).toBe(0);
    vi.advanceTimersByTime(120_000);
    expect(core.calls).toHaveLength(1); // no late timeout denial after a decision
    presenter.stop();
  });

  it('deny from the shell', () => {
    const { core, shown, presenter, counts } = setup();
    core.pendingApprovalIds.add('b');
    core.emitCore('approvals', [request('b')]);
    expect(presenter.decide('b', false)).toBe(true);
    expect(core.calls).toEqual([['decideApproval', 'b', false]]);
    expect(shown[0]!.closed).toBe(true);
    expect(counts.at(-1)).toBe(0);
    presenter.stop();
  });

  it('timeout denies', () => {
    const { core, shown, presenter } = setup();
    core.pendingApprovalIds.add('c');
    core.emitCore('approvals', [request('c', 30_000)]);
    vi.advanceTimersByTime(29_999);
    expect(core.calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(core.calls).toEqual([['decideApproval', 'c', false]]);
    expect(shown[0]!.closed).toBe(true);
    expect(presenter.pendingCount()).toBe(0);
    presenter.stop();
  });

  it('stop unsubscribes and clears timers', () => {
    const { core, presenter } = setup();
    core.emitCore('approvals', [request('d')]);
    presenter.stop();
    expect(core.listenerCount('approvals')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('survives a platform without notifications', () => {
    const core = new FakeCore();
    const presenter = new ApprovalPresenter({ core, notify: () => null, openWindow: () => undefined });
    presenter.start([request('e', 1_000)]);
    expect(presenter.pendingCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(core.calls).toEqual([['decideApproval', 'e', false]]);
    presenter.stop();
  });
});
