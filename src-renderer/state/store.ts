/**
 * The renderer's one store: snapshot-then-subscribe over the typed IPC contract, with bounded buffers.
 *
 * Events are subscribed to *before* the snapshot is requested and held until it arrives, so nothing that happens in
 * between is lost; whole-state events (connection, spool, updates) simply replace what the snapshot said.
 * Listeners are notified at most once per scheduled tick, so a burst of events costs one render.
 */
import { EventChannel, type MinionApi, type Notice } from '../../src-shared/ipc';
import type {
  AgentSnapshot,
  ApprovalRequestView,
  CommandRecordView,
  ConnectionView,
  LogLineView,
  SpoolView,
  TelemetrySampleView,
  UpdateView,
  WireTraceEntry,
} from '../../src-shared/view-models';
import { RingBuffer } from './ring-buffer';

export interface ThroughputSample {
  at: number;
  outBytesPerSec: number;
  inBytesPerSec: number;
  /** Log lines taken into the spool (tailed files and the agent's own lines) per second. */
  inLinesPerSec: number;
  /** Log lines (`L` frames) written to the server per second. */
  outLinesPerSec: number;
}

export interface NoticeItem extends Notice {
  id: number;
  at: number;
}

export interface DashboardState {
  phase: 'loading' | 'ready' | 'failed';
  loadError: string | null;
  snapshot: AgentSnapshot | null;
  connection: ConnectionView | null;
  spool: SpoolView | null;
  updates: UpdateView | null;
  approvals: ApprovalRequestView[];
  /** Newest first. */
  commands: CommandRecordView[];
  /** Recent samples per telemetry name, oldest first. */
  telemetry: Record<string, TelemetrySampleView[]>;
  /** Bumped whenever `logs` changes; the ring itself is mutated in place to avoid copying 100k lines. */
  logsVersion: number;
  logServices: string[];
  wireVersion: number;
  throughput: ThroughputSample[];
  notices: NoticeItem[];
}

export interface DashboardStoreOptions {
  logCapacity?: number;
  wireCapacity?: number;
  commandCapacity?: number;
  telemetryHistory?: number;
  throughputHistory?: number;
  /** How often the throughput sparkline takes a sample; 0 disables the timer (tests). */
  throughputIntervalMs?: number;
  /** Coalesces notifications; defaults to the next animation frame. */
  schedule?: (flush: () => void) => void;
  now?: () => number;
}

type Listener = () => void;

// Reached through globalThis so this module also type-checks (and unit-tests) under Node.
const raf = (globalThis as { requestAnimationFrame?: (cb: () => void) => number }).requestAnimationFrame;
const defaultSchedule = (flush: () => void): void => {
  if (raf) raf(() => flush());
  else setTimeout(flush, 0);
};

function totalBytes(counters: Record<string, number>): number {
  let sum = 0;
  for (const value of Object.values(counters)) sum += value;
  return sum;
}

export class DashboardStore {
  readonly logs: RingBuffer<LogLineView>;
  readonly wire: RingBuffer<WireTraceEntry>;
  private state: DashboardState;
  private readonly listeners = new Set<Listener>();
  private readonly unsubscribers: (() => void)[] = [];
  private notifyPending = false;
  private pendingEvents: (() => void)[] | null = null;
  private throughputTimer: ReturnType<typeof setInterval> | null = null;
  private lastCounter: { at: number; out: number; in: number; linesIn: number; linesOut: number } | null =
    null;
  private noticeSeq = 0;
  /** Approvals answered from this page: their outcome needs no notice here. */
  private readonly decidedHere = new Set<string>();
  /** Command uuid → its command line, for approvals that left the list without an answer from this page. */
  private readonly decidedElsewhere = new Map<string, string>();
  private readonly services = new Set<string>();
  private readonly opts: Required<DashboardStoreOptions>;

  constructor(
    readonly api: MinionApi,
    options: DashboardStoreOptions = {},
  ) {
    this.opts = {
      logCapacity: options.logCapacity ?? 100_000,
      wireCapacity: options.wireCapacity ?? 5_000,
      commandCapacity: options.commandCapacity ?? 500,
      telemetryHistory: options.telemetryHistory ?? 120,
      throughputHistory: options.throughputHistory ?? 60,
      throughputIntervalMs: options.throughputIntervalMs ?? 1_000,
      schedule: options.schedule ?? defaultSchedule,
      now: options.now ?? Date.now,
    };
    this.logs = new RingBuffer(this.opts.logCapacity);
    this.wire = new RingBuffer(this.opts.wireCapacity);
    this.state = {
      phase: 'loading',
      loadError: null,
      snapshot: null,
      connection: null,
      spool: null,
      updates: null,
      approvals: [],
      commands: [],
      telemetry: {},
      logsVersion: 0,
      logServices: [],
      wireVersion: 0,
      throughput: [],
      notices: [],
    };
  }

  getState = (): DashboardState => this.state;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Subscribes to every event channel, then loads the snapshot and recent logs. Never rejects. */
  async start(): Promise<void> {
    this.pendingEvents = [];
    const on = <T>(channel: Parameters<MinionApi['on']>[0], apply: (payload: T) => void): void => {
      const off = this.api.on(channel, ((payload: T) => {
        if (this.pendingEvents) this.pendingEvents.push(() => apply(payload));
        else apply(payload);
      }) as never);
      this.unsubscribers.push(off);
    };
    on<ConnectionView>(EventChannel.Connection, (c) => this.applyConnection(c));
    on<SpoolView>(EventChannel.Spool, (s) => this.update({ spool: s }));
    on<LogLineView[]>(EventChannel.Logs, (lines) => this.applyLogs(lines));
    on<WireTraceEntry[]>(EventChannel.Wire, (entries) => this.applyWire(entries));
    on<TelemetrySampleView[]>(EventChannel.Telemetry, (samples) => this.applyTelemetry(samples));
    on<CommandRecordView[]>(EventChannel.Commands, (records) => this.applyCommands(records));
    on<ApprovalRequestView[]>(EventChannel.Approvals, (approvals) => this.applyApprovals(approvals));
    on<UpdateView>(EventChannel.Updates, (updates) => this.update({ updates }));
    on<Notice[]>(EventChannel.Notice, (notices) => notices.forEach((n) => this.addNotice(n)));

    const snap = await this.api
      .snapshot()
      .catch((e: unknown) => ({ ok: false as const, error: { message: String(e) } }));
    if (!snap.ok) {
      this.update({ phase: 'failed', loadError: snap.error.message });
    } else {
      this.applySnapshot(snap.value);
      const recent = await this.api.recentLogs({ limit: this.opts.logCapacity }).catch(() => null);
      if (recent?.ok) this.applyLogs(recent.value);
    }
    // Events that raced the snapshot are newer than it: apply them now, in order.
    const pending = this.pendingEvents ?? [];
    this.pendingEvents = null;
    for (const apply of pending) apply();
    if (this.opts.throughputIntervalMs > 0 && !this.throughputTimer) {
      this.throughputTimer = setInterval(() => this.sampleThroughput(), this.opts.throughputIntervalMs);
    }
  }

  stop(): void {
    for (const off of this.unsubscribers.splice(0)) off();
    if (this.throughputTimer) clearInterval(this.throughputTimer);
    this.throughputTimer = null;
  }

  applySnapshot(snapshot: AgentSnapshot): void {
    const telemetry: Record<string, TelemetrySampleView[]> = {};
    for (const sample of snapshot.telemetry) (telemetry[sample.name] ??= []).push(sample);
    this.update({
      phase: 'ready',
      loadError: null,
      snapshot,
      connection: snapshot.connection,
      spool: snapshot.spool,
      updates: snapshot.updates,
      approvals: snapshot.approvals,
      commands: [...snapshot.commands]
        .sort((a, b) => b.receivedAt - a.receivedAt)
        .slice(0, this.opts.commandCapacity),
      telemetry,
    });
    this.sampleThroughput();
  }

  applyConnection(connection: ConnectionView): void {
    this.update({ connection });
  }

  applyLogs(lines: readonly LogLineView[]): void {
    if (lines.length === 0) return;
    const last = this.logs.last();
    // The initial `recentLogs` fetch can overlap with events buffered during start: drop what we already hold.
    const fresh = last ? lines.filter((l) => l.id > last.id || l.at > last.at) : lines;
    this.logs.pushMany(fresh);
    let servicesChanged = false;
    for (const line of fresh) {
      if (!this.services.has(line.service)) {
        this.services.add(line.service);
        servicesChanged = true;
      }
    }
    this.update({
      logsVersion: this.state.logsVersion + 1,
      ...(servicesChanged ? { logServices: [...this.services].sort() } : {}),
    });
  }

  applyWire(entries: readonly WireTraceEntry[]): void {
    if (entries.length === 0) return;
    this.wire.pushMany(entries);
    this.update({ wireVersion: this.state.wireVersion + 1 });
  }

  applyTelemetry(samples: readonly TelemetrySampleView[]): void {
    if (samples.length === 0) return;
    const telemetry = { ...this.state.telemetry };
    for (const sample of samples) {
      const history = [...(telemetry[sample.name] ?? []), sample];
      telemetry[sample.name] = history.slice(-this.opts.telemetryHistory);
    }
    this.update({ telemetry });
  }

  /** Call before answering an approval from this page (so its outcome is not announced as someone else's). */
  markDecidedHere(approvalId: string): void {
    this.decidedHere.add(approvalId);
  }

  applyApprovals(approvals: ApprovalRequestView[]): void {
    const still = new Set(approvals.map((a) => a.id));
    for (const gone of this.state.approvals) {
      if (still.has(gone.id)) continue;
      if (!this.decidedHere.delete(gone.id)) this.decidedElsewhere.set(gone.uuid, gone.commandLine);
    }
    this.update({ approvals });
  }

  applyCommands(records: readonly CommandRecordView[]): void {
    if (records.length === 0) return;
    // Another tab, window or session answered a request this page showed: say so, the card just went away.
    for (const record of records) {
      const line = this.decidedElsewhere.get(record.uuid);
      if (line === undefined || record.decision === 'unknown') continue;
      this.decidedElsewhere.delete(record.uuid);
      if (record.decision === 'approved' || record.decision === 'rejected')
        this.addNotice({
          level: 'info',
          message: `${record.decision === 'approved' ? 'Approved' : 'Denied'} in another window or tab: ${line}`,
        });
    }
    const byUuid = new Map(this.state.commands.map((c) => [c.uuid, c]));
    for (const record of records) byUuid.set(record.uuid, record);
    const commands = [...byUuid.values()]
      .sort((a, b) => b.receivedAt - a.receivedAt)
      .slice(0, this.opts.commandCapacity);
    this.update({ commands });
  }

  addNotice(notice: Notice): void {
    this.noticeSeq += 1;
    const item: NoticeItem = { ...notice, id: this.noticeSeq, at: this.opts.now() };
    this.update({ notices: [...this.state.notices, item].slice(-5) });
  }

  dismissNotice(id: number): void {
    this.update({ notices: this.state.notices.filter((n) => n.id !== id) });
  }

  /** Replaces pieces that an invoke answered directly (e.g. pause returns the new connection view). */
  patch(partial: Partial<Pick<DashboardState, 'connection' | 'updates'>>): void {
    this.update(partial);
  }

  private sampleThroughput(): void {
    const connection = this.state.connection;
    if (!connection) return;
    const now = this.opts.now();
    const out = totalBytes(connection.out.bytes);
    const inn = totalBytes(connection.in.bytes);
    const log = this.state.spool?.perClass.log;
    // Every log line appended to the spool is still queued, or was confirmed or dropped since.
    const linesIn = log ? log.queuedFrames + log.confirmed + log.dropped : 0;
    const linesOut = connection.out.frames.L ?? 0;
    const previous = this.lastCounter;
    this.lastCounter = { at: now, out, in: inn, linesIn, linesOut };
    if (!previous || now <= previous.at) return;
    const seconds = (now - previous.at) / 1000;
    // Counters reset when the core restarts; never show a negative rate.
    const rate = (current: number, before: number): number => Math.max(0, (current - before) / seconds);
    const sample: ThroughputSample = {
      at: now,
      outBytesPerSec: rate(out, previous.out),
      inBytesPerSec: rate(inn, previous.in),
      inLinesPerSec: rate(linesIn, previous.linesIn),
      outLinesPerSec: rate(linesOut, previous.linesOut),
    };
    this.update({ throughput: [...this.state.throughput, sample].slice(-this.opts.throughputHistory) });
  }

  private update(partial: Partial<DashboardState>): void {
    this.state = { ...this.state, ...partial };
    if (this.notifyPending) return;
    this.notifyPending = true;
    this.opts.schedule(() => {
      this.notifyPending = false;
      for (const listener of [...this.listeners]) listener();
    });
  }
}
