import { describe, expect, it } from 'vitest';
import {
  apiMethods,
  EventChannel,
  type EventPayloads,
  type IpcResult,
  type MinionApi,
} from '../../src-shared/ipc';
import type { AgentSnapshot, ConnectionView, LogLineView } from '../../src-shared/view-models';
import { DashboardStore } from '../../src-renderer/state/store';
import { FakeAgentCore, FakeUpdates } from '../e2e/support/fake-core';

/** A MinionApi whose snapshot resolves when the test says so, to exercise the snapshot/event race. */
function controllableApi(snapshot: AgentSnapshot, logs: LogLineView[]) {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  let releaseSnapshot: () => void = () => undefined;
  const gate = new Promise<void>((r) => (releaseSnapshot = r));
  const api: Record<string, unknown> = {};
  for (const method of Object.keys(apiMethods))
    api[method] = async () => ({ ok: false, error: { code: 'failed', message: 'n/a' } });
  api.snapshot = async (): Promise<IpcResult<AgentSnapshot>> => {
    await gate;
    return { ok: true, value: snapshot };
  };
  api.recentLogs = async ({ limit }: { limit: number }): Promise<IpcResult<LogLineView[]>> => ({
    ok: true,
    value: logs.slice(-limit),
  });
  api.on = (channel: string, listener: (p: unknown) => void) => {
    let set = listeners.get(channel);
    if (!set) listeners.set(channel, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  };
  const emit = <E extends EventChannel>(channel: E, payload: EventPayloads[E]): void => {
    for (const l of listeners.get(channel) ?? []) l(payload);
  };
  return {
    api: api as unknown as MinionApi,
    emit,
    releaseSnapshot,
    listenerCount: () => [...listeners.values()].reduce((n, s) => n + s.size, 0),
  };
}

const line = (id: number, service = 'app'): LogLineView => ({
  id,
  at: 1000 + id,
  source: 'shipped',
  service,
  level: 'info',
  message: `line ${id}`,
});
const immediate = { schedule: (f: () => void) => f(), throughputIntervalMs: 0 };

describe('DashboardStore', () => {
  it('subscribes before the snapshot and applies racing events after it, in order', async () => {
    const snapshot = new FakeAgentCore().snapshot();
    const fake = controllableApi({ ...snapshot, updates: new FakeUpdates().view() }, [line(1), line(2)]);
    const store = new DashboardStore(fake.api, immediate);
    const started = store.start();
    // Events arrive while the snapshot is still in flight.
    const newer: ConnectionView = { ...snapshot.connection, state: 'unreachable' };
    fake.emit(EventChannel.Connection, newer);
    fake.emit(EventChannel.Logs, [line(2), line(3)]);
    expect(store.getState().phase).toBe('loading');
    fake.releaseSnapshot();
    await started;
    const state = store.getState();
    expect(state.phase).toBe('ready');
    expect(state.connection?.state).toBe('unreachable');
    // recentLogs gave 1,2; the racing batch repeated 2 — no duplicate.
    expect(store.logs.toArray().map((l) => l.id)).toEqual([1, 2, 3]);
    store.stop();
    expect(fake.listenerCount()).toBe(0);
  });

  it('bounds logs, keeps a sorted service list, and upserts commands by uuid', async () => {
    const snapshot = new FakeAgentCore().snapshot();
    const fake = controllableApi(snapshot, []);
    fake.releaseSnapshot();
    const store = new DashboardStore(fake.api, { ...immediate, logCapacity: 100 });
    await store.start();
    fake.emit(
      EventChannel.Logs,
      Array.from({ length: 250 }, (_, i) => line(i + 1, i % 2 ? 'web' : 'db')),
    );
    expect(store.logs.size).toBe(100);
    expect(store.logs.at(0)?.id).toBe(151);
    expect(store.getState().logServices).toEqual(['db', 'web']);

    const [first] = snapshot.commands;
    expect(first).toBeDefined();
    fake.emit(EventChannel.Commands, [{ ...first!, state: 'running' }]);
    fake.emit(EventChannel.Commands, [{ ...first!, state: 'done', exitCode: 3 }]);
    const matching = store.getState().commands.filter((c) => c.uuid === first!.uuid);
    expect(matching).toHaveLength(1);
    expect(matching[0]?.exitCode).toBe(3);
    store.stop();
  });

  it('coalesces a burst of events into one notification', async () => {
    const fake = controllableApi(new FakeAgentCore().snapshot(), []);
    fake.releaseSnapshot();
    const queued: (() => void)[] = [];
    const store = new DashboardStore(fake.api, { schedule: (f) => queued.push(f), throughputIntervalMs: 0 });
    let notified = 0;
    store.subscribe(() => (notified += 1));
    await store.start();
    queued.splice(0).forEach((f) => f());
    notified = 0;
    for (let i = 0; i < 50; i += 1) fake.emit(EventChannel.Logs, [line(1000 + i)]);
    expect(queued).toHaveLength(1);
    queued.splice(0).forEach((f) => f());
    expect(notified).toBe(1);
    expect(store.getState().logsVersion).toBeGreaterThanOrEqual(50);
    store.stop();
  });

  it('reports a failed snapshot instead of hanging', async () => {
    const fake = controllableApi(new FakeAgentCore().snapshot(), []);
    const api = {
      ...fake.api,
      snapshot: async () => ({ ok: false, error: { code: 'failed', message: 'core is down' } }),
    } as unknown as MinionApi;
    const store = new DashboardStore(api, immediate);
    await store.start();
    expect(store.getState()).toMatchObject({ phase: 'failed', loadError: 'core is down' });
    store.stop();
  });

  it('turns byte counters into a per-second throughput series', async () => {
    let now = 10_000;
    const snapshot = new FakeAgentCore().snapshot();
    const fake = controllableApi(snapshot, []);
    fake.releaseSnapshot();
    const store = new DashboardStore(fake.api, { ...immediate, now: () => now });
    await store.start();
    now += 2000;
    fake.emit(EventChannel.Connection, { ...snapshot.connection, out: { frames: {}, bytes: { L: 4000 } } });
    (store as unknown as { sampleThroughput(): void }).sampleThroughput();
    expect(store.getState().throughput.at(-1)?.outBytesPerSec).toBe(2000);
    store.stop();
  });

  it('turns log line counters into lines/s in (spooled) and out (sent)', async () => {
    let now = 10_000;
    const snapshot = new FakeAgentCore().snapshot();
    const fake = controllableApi(snapshot, []);
    fake.releaseSnapshot();
    const store = new DashboardStore(fake.api, { ...immediate, now: () => now });
    await store.start();
    const log = snapshot.spool.perClass.log;
    const sentBefore = snapshot.connection.out.frames.L ?? 0;
    now += 4000;
    // 40 lines came in (30 still queued, 6 confirmed, 4 dropped); 20 went out.
    fake.emit(EventChannel.Spool, {
      ...snapshot.spool,
      perClass: {
        ...snapshot.spool.perClass,
        log: {
          ...log,
          queuedFrames: log.queuedFrames + 30,
          confirmed: log.confirmed + 6,
          dropped: log.dropped + 4,
        },
      },
    });
    fake.emit(EventChannel.Connection, {
      ...snapshot.connection,
      out: { ...snapshot.connection.out, frames: { ...snapshot.connection.out.frames, L: sentBefore + 20 } },
    });
    (store as unknown as { sampleThroughput(): void }).sampleThroughput();
    expect(store.getState().throughput.at(-1)).toMatchObject({ inLinesPerSec: 10, outLinesPerSec: 5 });
    store.stop();
  });

  it('announces an approval answered elsewhere (another tab or window), not one answered here', async () => {
    const core = new FakeAgentCore();
    const mine = core.requestApproval(['uptime']);
    const theirs = core.requestApproval(['df', '-h']);
    const expired = core.requestApproval(['sleep', '1']);
    const snapshot = core.snapshot();
    const fake = controllableApi(snapshot, []);
    fake.releaseSnapshot();
    const store = new DashboardStore(fake.api, immediate);
    await store.start();
    const record = (uuid: string, decision: 'approved' | 'rejected' | 'timed-out') => ({
      ...(snapshot.commands[0] as (typeof snapshot.commands)[number]),
      uuid,
      decision,
      state: 'done' as const,
    });

    store.markDecidedHere(mine.id);
    fake.emit(EventChannel.Approvals, []);
    fake.emit(EventChannel.Commands, [
      record(mine.uuid, 'approved'),
      record(theirs.uuid, 'rejected'),
      record(expired.uuid, 'timed-out'),
    ]);
    expect(store.getState().notices.map((n) => n.message)).toEqual([
      'Denied in another window or tab: df -h',
    ]);
    // Once only.
    fake.emit(EventChannel.Commands, [record(theirs.uuid, 'rejected')]);
    expect(store.getState().notices).toHaveLength(1);
    store.stop();
  });
});
