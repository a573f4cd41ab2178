/**
 * `ask` policy: a command waits until the person at the machine approves or rejects it, or the request expires
 * (which denies). The host (GUI) shows `pending()` and calls `decide()`.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { type ApprovalRequestView } from '../../../src-shared/view-models';
import { formatCommandLine } from './policy';

export type ApprovalOutcome = 'approved' | 'rejected' | 'timed-out';

interface Pending {
  view: ApprovalRequestView;
  resolve: (outcome: ApprovalOutcome) => void;
  timer: NodeJS.Timeout;
}

export interface ApprovalBrokerEvents {
  /** The full list of pending requests after every change. */
  changed: [ApprovalRequestView[]];
}

export class ApprovalBroker extends EventEmitter<ApprovalBrokerEvents> {
  private readonly pendingById = new Map<string, Pending>();

  constructor(private timeoutMs: number) {
    super();
  }

  setTimeoutMs(ms: number): void {
    this.timeoutMs = ms;
  }

  pending(): ApprovalRequestView[] {
    return [...this.pendingById.values()].map((p) => p.view);
  }

  request(command: { uuid: string; type: string; argv: string[] }): Promise<ApprovalOutcome> {
    const now = Date.now();
    const id = randomUUID();
    const view: ApprovalRequestView = {
      id,
      uuid: command.uuid,
      type: command.type,
      argv: [...command.argv],
      commandLine: formatCommandLine(command.argv),
      requestedAt: now,
      expiresAt: now + this.timeoutMs,
    };
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, 'timed-out'), this.timeoutMs);
      this.pendingById.set(id, { view, resolve, timer });
      this.emit('changed', this.pending());
    });
  }

  /** False when `id` is unknown, already decided or expired. */
  decide(id: string, approve: boolean): boolean {
    return this.settle(id, approve ? 'approved' : 'rejected');
  }

  /** Rejects everything still pending (agent stopping). */
  rejectAll(): void {
    for (const id of [...this.pendingById.keys()]) this.settle(id, 'rejected');
  }

  private settle(id: string, outcome: ApprovalOutcome): boolean {
    const p = this.pendingById.get(id);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pendingById.delete(id);
    p.resolve(outcome);
    this.emit('changed', this.pending());
    return true;
  }
}
