/**
 * Command approval for the `ask` policy, shell side. The core decides what needs approval and emits the pending
 * list; the shell makes sure a person sees each request (a notification whose click opens the dashboard, where
 * the renderer shows the full command with Approve / Deny) and that an unanswered request is denied when it
 * expires — even if the core's own timer were late, nothing runs without a yes.
 */
import type { AgentCoreApi } from '../agent/core-api';
import type { ApprovalRequestView } from '../../src-shared/view-models';
import type { Notify, ShownNotification } from './notifications';

export interface ApprovalPresenterOptions {
  core: Pick<AgentCoreApi, 'on' | 'off' | 'decideApproval'>;
  notify: Notify;
  /** Opens the dashboard, where pending approvals are shown. */
  openWindow: () => void;
  onPendingChange?: (count: number) => void;
  now?: () => number;
}

const MAX_BODY_CHARS = 240;

interface Shown {
  notification: ShownNotification | null;
  expiryTimer: NodeJS.Timeout;
}

export class ApprovalPresenter {
  private readonly shown = new Map<string, Shown>();
  private readonly now: () => number;
  private readonly onApprovals = (pending: ApprovalRequestView[]): void => this.update(pending);
  private started = false;

  constructor(private readonly options: ApprovalPresenterOptions) {
    this.now = options.now ?? Date.now;
  }

  start(initial: ApprovalRequestView[] = []): void {
    if (this.started) return;
    this.started = true;
    this.options.core.on('approvals', this.onApprovals);
    this.update(initial);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.options.core.off('approvals', this.onApprovals);
    for (const id of [...this.shown.keys()]) this.forget(id);
  }

  pendingCount(): number {
    return this.shown.size;
  }

  /** Approve or deny from the shell (the renderer goes through the IPC handler, which calls the core directly). */
  decide(id: string, approve: boolean): boolean {
    const decided = this.options.core.decideApproval(id, approve);
    this.forget(id);
    this.options.onPendingChange?.(this.shown.size);
    return decided;
  }

  /** Applies the core's current list of pending approvals. */
  update(pending: ApprovalRequestView[]): void {
    const ids = new Set(pending.map((request) => request.id));
    for (const id of [...this.shown.keys()]) if (!ids.has(id)) this.forget(id);
    for (const request of pending) if (!this.shown.has(request.id)) this.present(request);
    this.options.onPendingChange?.(this.shown.size);
  }

  private present(request: ApprovalRequestView): void {
    const seconds = Math.max(0, Math.round((request.expiresAt - this.now()) / 1000));
    const command =
      request.commandLine.length > MAX_BODY_CHARS
        ? `${request.commandLine.slice(0, MAX_BODY_CHARS - 1)}…`
        : request.commandLine;
    const notification = this.options.notify({
      title: 'A command is waiting for your approval',
      body: `${command}\nDenied automatically in ${seconds} s unless you approve it.`,
      onClick: this.options.openWindow,
    });
    const expiryTimer = setTimeout(
      () => this.expire(request.id),
      Math.max(0, request.expiresAt - this.now()),
    );
    expiryTimer.unref?.();
    this.shown.set(request.id, { notification, expiryTimer });
  }

  private expire(id: string): void {
    if (!this.shown.has(id)) return;
    this.options.core.decideApproval(id, false);
    this.forget(id);
    this.options.onPendingChange?.(this.shown.size);
  }

  private forget(id: string): void {
    const entry = this.shown.get(id);
    if (!entry) return;
    clearTimeout(entry.expiryTimer);
    entry.notification?.close();
    this.shown.delete(id);
  }
}
