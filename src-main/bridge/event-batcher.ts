/**
 * Core events → batched `EventChannel` payloads. The core can emit thousands of log lines a second; a renderer wants
 * at most ~10 updates a second and bounded memory. State channels keep only the latest value; list channels
 * accumulate up to a per-batch cap (oldest dropped first, counted in `stats()`).
 * Shared by the Electron shell and the web bridge; plain Node.
 */
import type { AgentCoreApi, AgentCoreEvents } from '../agent/core-api';
import { EventChannel, type EventPayloads } from '../../src-shared/ipc';
import type { CommandRecordView } from '../../src-shared/view-models';
import type { UpdatesApi } from '../../src-shared/ipc';

export type EventSink = <E extends EventChannel>(channel: E, payload: EventPayloads[E]) => void;

type ListChannel =
  | typeof EventChannel.Logs
  | typeof EventChannel.Wire
  | typeof EventChannel.Telemetry
  | typeof EventChannel.Commands
  | typeof EventChannel.Notice;

export const DEFAULT_BATCH_CAPS: Record<ListChannel, number> = {
  [EventChannel.Logs]: 1000,
  [EventChannel.Wire]: 500,
  [EventChannel.Telemetry]: 500,
  [EventChannel.Commands]: 200,
  [EventChannel.Notice]: 50,
};

export interface EventBatcherOptions {
  core: Pick<AgentCoreApi, 'on' | 'off'>;
  updates?: Pick<UpdatesApi, 'on' | 'off'>;
  emit: EventSink;
  /** Minimum time between two batches; 100 ms gives ≤ 10 batches a second. */
  intervalMs?: number;
  caps?: Partial<Record<ListChannel, number>>;
  now?: () => number;
}

export interface EventBatcherStats {
  batches: number;
  /** List items dropped because a batch hit its cap (the renderer can fetch history with `logs:recent`). */
  dropped: Record<ListChannel, number>;
}

export interface EventBatcher {
  /** Emits whatever is pending right now (e.g. before quitting or when a new window subscribes). */
  flush(): void;
  /** Unsubscribes from the core and drops anything pending. */
  stop(): void;
  stats(): EventBatcherStats;
}

/** A list that keeps its newest `cap` items. */
class CappedList<T> {
  private items: T[] = [];
  dropped = 0;
  constructor(private readonly cap: number) {}
  push(item: T): void {
    this.items.push(item);
    // Trim in chunks so a flood costs amortised O(1) per item rather than a shift per push.
    if (this.items.length >= this.cap * 2) this.trim();
  }
  private trim(): void {
    const excess = this.items.length - this.cap;
    if (excess > 0) {
      this.items.splice(0, excess);
      this.dropped += excess;
    }
  }
  take(): T[] {
    this.trim();
    const out = this.items;
    this.items = [];
    return out;
  }
  get size(): number {
    return this.items.length;
  }
}

export function createEventBatcher(options: EventBatcherOptions): EventBatcher {
  const intervalMs = options.intervalMs ?? 100;
  const now = options.now ?? Date.now;
  const caps = { ...DEFAULT_BATCH_CAPS, ...options.caps };
  const { core, emit } = options;

  const lists = {
    [EventChannel.Logs]: new CappedList<EventPayloads[typeof EventChannel.Logs][number]>(
      caps[EventChannel.Logs],
    ),
    [EventChannel.Wire]: new CappedList<EventPayloads[typeof EventChannel.Wire][number]>(
      caps[EventChannel.Wire],
    ),
    [EventChannel.Telemetry]: new CappedList<EventPayloads[typeof EventChannel.Telemetry][number]>(
      caps[EventChannel.Telemetry],
    ),
    [EventChannel.Notice]: new CappedList<EventPayloads[typeof EventChannel.Notice][number]>(
      caps[EventChannel.Notice],
    ),
  };
  // Command records are updates of the same command (queued → running → done): keep the latest per uuid.
  let commands = new Map<string, CommandRecordView>();
  let commandsDropped = 0;
  const latest: Partial<{
    [EventChannel.Connection]: EventPayloads[typeof EventChannel.Connection];
    [EventChannel.Spool]: EventPayloads[typeof EventChannel.Spool];
    [EventChannel.Approvals]: EventPayloads[typeof EventChannel.Approvals];
    [EventChannel.Updates]: EventPayloads[typeof EventChannel.Updates];
  }> = {};

  let timer: NodeJS.Timeout | null = null;
  let lastFlushAt = -Infinity;
  let batches = 0;
  let stopped = false;

  const schedule = (): void => {
    if (stopped || timer) return;
    const wait = Math.max(0, lastFlushAt + intervalMs - now());
    timer = setTimeout(() => {
      timer = null;
      flush();
    }, wait);
    // A pending batch must not keep a headless process alive on its own.
    timer.unref?.();
  };

  const flush = (): void => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (stopped) return;
    lastFlushAt = now();
    let emitted = false;
    const send: EventSink = (channel, payload) => {
      emitted = true;
      emit(channel, payload);
    };
    // State first, so list items (e.g. log lines) never arrive before the connection state they belong to.
    const { [EventChannel.Connection]: connection, [EventChannel.Spool]: spool } = latest;
    const { [EventChannel.Approvals]: approvals, [EventChannel.Updates]: update } = latest;
    if (connection) send(EventChannel.Connection, connection);
    if (spool) send(EventChannel.Spool, spool);
    if (approvals) send(EventChannel.Approvals, approvals);
    if (update) send(EventChannel.Updates, update);
    for (const key of Object.keys(latest) as Array<keyof typeof latest>) delete latest[key];
    for (const channel of [
      EventChannel.Logs,
      EventChannel.Wire,
      EventChannel.Telemetry,
      EventChannel.Notice,
    ] as const) {
      if (lists[channel].size > 0) send(channel, lists[channel].take() as never);
    }
    if (commands.size > 0) {
      const records = [...commands.values()];
      commands = new Map();
      send(EventChannel.Commands, records);
    }
    if (emitted) batches++;
  };

  const listeners: { [E in keyof AgentCoreEvents]: (...args: AgentCoreEvents[E]) => void } = {
    connection: (view) => {
      latest[EventChannel.Connection] = view;
      schedule();
    },
    spool: (view) => {
      latest[EventChannel.Spool] = view;
      schedule();
    },
    approvals: (pending) => {
      latest[EventChannel.Approvals] = pending;
      schedule();
    },
    log: (line) => {
      lists[EventChannel.Logs].push(line);
      schedule();
    },
    wire: (entry) => {
      lists[EventChannel.Wire].push(entry);
      schedule();
    },
    telemetry: (sample) => {
      lists[EventChannel.Telemetry].push(sample);
      schedule();
    },
    notice: (notice) => {
      lists[EventChannel.Notice].push(notice);
      schedule();
    },
    command: (record) => {
      commands.delete(record.uuid); // re-insert so the batch stays in update order
      commands.set(record.uuid, record);
      if (commands.size > caps[EventChannel.Commands]) {
        const oldest = commands.keys().next().value;
        if (oldest !== undefined) commands.delete(oldest);
        commandsDropped++;
      }
      schedule();
    },
  };

  for (const event of Object.keys(listeners) as Array<keyof AgentCoreEvents>) {
    core.on(event, listeners[event] as never);
  }
  const onUpdate = (view: EventPayloads[typeof EventChannel.Updates]): void => {
    latest[EventChannel.Updates] = view;
    schedule();
  };
  options.updates?.on('update', onUpdate);

  return {
    flush,
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const event of Object.keys(listeners) as Array<keyof AgentCoreEvents>) {
        core.off(event, listeners[event] as never);
      }
      options.updates?.off('update', onUpdate);
    },
    stats() {
      return {
        batches,
        dropped: {
          [EventChannel.Logs]: lists[EventChannel.Logs].dropped,
          [EventChannel.Wire]: lists[EventChannel.Wire].dropped,
          [EventChannel.Telemetry]: lists[EventChannel.Telemetry].dropped,
          [EventChannel.Notice]: lists[EventChannel.Notice].dropped,
          [EventChannel.Commands]: commandsDropped,
        },
      };
    },
  };
}
