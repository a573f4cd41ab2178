/**
 * `ask` policy: a command waits until a person approves or rejects it, or the request expires (which denies).
 * The host shows `pending()` and calls `decide()`: on the desktop the shell (a notification that opens the
 * dashboard), headless the web dashboard — in every open session, since they all get the same pending list.
 *
 * Headless, nobody may be looking: `ApproverPresence` counts the dashboard sessions, so a request that expires
 * without any session having been open says so ("no dashboard session connected") instead of "nobody approved".
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { type ApprovalRequestView } from '../../../src-shared/view-models';
import { formatCommandLine } from './policy';

/**
 * `unattended`: expired while no dashboard session was connected at any moment of the wait.
 * `cancelled`: the agent stopped before anyone answered (nobody said no).
 */
export type ApprovalOutcome = 'approved' | 'rejected' | 'timed-out' | 'unattended' | 'cancelled';

/** A place approvals can be shown to someone (the headless web dashboard); see `ApproverPresence.openSurface`. */
export interface ApprovalSurface {
  /** One browser session that shows pending requests is open; call the returned function when it closes. */
  sessionOpened(): () => void;
  /** The dashboard stopped serving: `ask` is refused at once again (nobody could ever see the request). */
  close(): void;
}

export interface ApproverPresenceEvents {
  changed: [];
}

/** Who could answer an `ask` request on a headless agent: open dashboards, and the sessions connected to them. */
export class ApproverPresence extends EventEmitter<ApproverPresenceEvents> {
  private surfaces = 0;
  private sessions = 0;

  /** True while at least one dashboard serves (a request can wait for a session to connect). */
  get surfaceOpen(): boolean {
    return this.surfaces > 0;
  }

  get sessionCount(): number {
    return this.sessions;
  }

  openSurface(): ApprovalSurface {
    this.surfaces++;
    let closed = false;
    let sessionsHere = 0;
    return {
      sessionOpened: () => {
        if (closed) return () => undefined;
        this.sessions++;
        sessionsHere++;
        this.emit('changed');
        let gone = false;
        return () => {
          // Already counted out when the whole dashboard closed.
          if (gone || closed) return;
          gone = true;
          this.sessions--;
          sessionsHere--;
          this.emit('changed');
        };
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.surfaces--;
        // Sessions of a closed dashboard cannot answer any more.
        this.sessions -= sessionsHere;
        sessionsHere = 0;
        this.emit('changed');
      },
    };
  }
}

interface Pending {
  view: ApprovalRequestView;
  resolve: (outcome: ApprovalOutcome) => void;
  timer: NodeJS.Timeout;
  /** Someone could have seen the request (always on the desktop; headless: a session was connected). */
  seen: boolean;
}

export interface ApprovalBrokerEvents {
  /** The full list of pending requests after every change. */
  changed: [ApprovalRequestView[]];
}

export class ApprovalBroker extends EventEmitter<ApprovalBrokerEvents> {
  private readonly pendingById = new Map<string, Pending>();
  private readonly onPresence = (): void => this.markSeen();

  /** `presence`: the headless dashboard's sessions; without it a person is assumed to be there (desktop). */
  constructor(
    private timeoutMs: number,
    private readonly presence?: ApproverPresence,
  ) {
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
      const timer = setTimeout(() => this.expire(id), this.timeoutMs);
      const seen = !this.presence || this.presence.sessionCount > 0;
      if (this.pendingById.size === 0) this.presence?.on('changed', this.onPresence);
      this.pendingById.set(id, { view, resolve, timer, seen });
      this.emit('changed', this.pending());
    });
  }

  /** False when `id` is unknown, already decided or expired. */
  decide(id: string, approve: boolean): boolean {
    return this.settle(id, approve ? 'approved' : 'rejected');
  }

  /** Refuses everything still pending (agent stopping). */
  rejectAll(): void {
    for (const id of [...this.pendingById.keys()]) this.settle(id, 'cancelled');
  }

  private markSeen(): void {
    if ((this.presence?.sessionCount ?? 0) === 0) return;
    for (const p of this.pendingById.values()) p.seen = true;
  }

  private expire(id: string): void {
    this.settle(id, this.pendingById.get(id)?.seen === false ? 'unattended' : 'timed-out');
  }

  private settle(id: string, outcome: ApprovalOutcome): boolean {
    const p = this.pendingById.get(id);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pendingById.delete(id);
    if (this.pendingById.size === 0) this.presence?.off('changed', this.onPresence);
    p.resolve(outcome);
    this.emit('changed', this.pending());
    return true;
  }
}
