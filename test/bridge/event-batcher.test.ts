import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEventBatcher } from '../../src-main/bridge/event-batcher';
import { EventChannel } from '../../src-shared/ipc';
import { connectionView, FakeCore, FakeUpdates, logLine, spoolView } from './fake-core';
import type { CommandRecordView } from '../../src-shared/view-models';

function command(uuid: string, state: CommandRecordView['state']): CommandRecordView {
  return {
    uuid,
    type: 'shell',
    argv: ['uptime'],
    receivedAt: 1,
    decision: 'allowed',
    state,
    exitCode: null,
    signal: null,
    timedOut: false,
    durationMs: null,
    stdout: '',
    stderr: '',
    stdoutBytesCut: 0,
    stderrBytesCut: 0,
  };
}

describe('createEventBatcher', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  function setup(caps?: Parameters<typeof createEventBatcher>[0]['caps']) {
    const core = new FakeCore();
    const updates = new FakeUpdates();
    const emitted: Array<{ at: number; channel: string; payload: unknown }> = [];
    const batcher = createEventBatcher({
      core,
      updates,
      caps,
      emit: (channel, payload) => emitted.push({ at: Date.now(), channel, payload }),
    });
    return { core, updates, emitted, batcher };
  }

  it('emits at most ~10 batches a second under a flood of log lines', () => {
    const { core, emitted, batcher } = setup({ [EventChannel.Logs]: 100_000 });
    // 10,000 lines over 1 s, one every 0.1 ms.
    for (let i = 0; i < 10_000; i++) {
      core.emitCore('log', logLine(i));
      if (i % 10 === 9) vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(200);
    const logBatches = emitted.filter((e) => e.channel === EventChannel.Logs);
    expect(logBatches.length).toBeGreaterThanOrEqual(5);
    expect(logBatches.length).toBeLessThanOrEqual(12);
    // Batches are ≥ 100 ms apart and lose nothing below the cap, in order.
    for (let i = 1; i < logBatches.length; i++) {
      expect(logBatches[i]!.at - logBatches[i - 1]!.at).toBeGreaterThanOrEqual(100);
    }
    const ids = logBatches.flatMap((b) => (b.payload as Array<{ id: number }>).map((l) => l.id));
    expect(ids).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(batcher.stats().dropped[EventChannel.Logs]).toBe(0);
    batcher.stop();
  });

  it('caps list batches, keeping the newest items and counting drops', () => {
    const { core, emitted, batcher } = setup({ [EventChannel.Logs]: 50 });
    for (let i = 0; i < 1_000; i++) core.emitCore('log', logLine(i));
    vi.advanceTimersByTime(100);
    const batch = emitted.find((e) => e.channel === EventChannel.Logs)!.payload as Array<{ id: number }>;
    expect(batch).toHaveLength(50);
    expect(batch[0]!.id).toBe(950);
    expect(batch.at(-1)!.id).toBe(999);
    expect(batcher.stats().dropped[EventChannel.Logs]).toBe(950);
    batcher.stop();
  });

  it('keeps only the latest value of state channels', () => {
    const { core, updates, emitted, batcher } = setup();
    core.emitCore('connection', connectionView({ state: 'connecting' }));
    core.emitCore('connection', connectionView({ state: 'connected' }));
    core.emitCore('spool', spoolView(1));
    core.emitCore('spool', spoolView(7));
    updates.set({ state: 'checking' });
    updates.set({ state: 'available', availableVersion: '1.0.0' });
    core.emitCore('approvals', []);
    vi.advanceTimersByTime(100);
    expect(emitted.map((e) => e.channel)).toEqual([
      EventChannel.Connection,
      EventChannel.Spool,
      EventChannel.Approvals,
      EventChannel.Updates,
    ]);
    expect(emitted[0]!.payload).toMatchObject({ state: 'connected' });
    expect(emitted[1]!.payload).toMatchObject({ perClass: { log: { queuedFrames: 7 } } });
    expect(emitted[3]!.payload).toMatchObject({ state: 'available' });
    batcher.stop();
  });

  it('emits the first event of a quiet period without waiting, later ones throttled', () => {
    const { core, emitted, batcher } = setup();
    vi.advanceTimersByTime(1_000);
    core.emitCore('notice', { level: 'info', message: 'a' });
    vi.advanceTimersByTime(0);
    expect(emitted).toHaveLength(1);
    core.emitCore('notice', { level: 'info', message: 'b' });
    vi.advanceTimersByTime(50);
    expect(emitted).toHaveLength(1);
    vi.advanceTimersByTime(50);
    expect(emitted).toHaveLength(2);
    expect(emitted[1]!.payload).toEqual([{ level: 'info', message: 'b' }]);
    batcher.stop();
  });

  it('merges command updates per uuid, latest state wins', () => {
    const { core, emitted, batcher } = setup();
    core.emitCore('command', command('c1', 'queued'));
    core.emitCore('command', command('c2', 'queued'));
    core.emitCore('command', command('c1', 'running'));
    vi.advanceTimersByTime(100);
    const batch = emitted.find((e) => e.channel === EventChannel.Commands)!.payload as CommandRecordView[];
    expect(batch.map((c) => [c.uuid, c.state])).toEqual([
      ['c2', 'queued'],
      ['c1', 'running'],
    ]);
    batcher.stop();
  });

  it('stop unsubscribes from the core and the updates and emits nothing more', () => {
    const { core, updates, emitted, batcher } = setup();
    core.emitCore('log', logLine(1));
    batcher.stop();
    expect(core.listenerCount('log')).toBe(0);
    expect(core.listenerCount('connection')).toBe(0);
    expect(updates.listenerCount).toBe(0);
    core.emitCore('log', logLine(2));
    vi.advanceTimersByTime(1_000);
    expect(emitted).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('flush emits pending items immediately', () => {
    const { core, emitted, batcher } = setup();
    core.emitCore('wire', { id: 1, direction: 'out', at: 1, frame: null, hex: '00', bytes: 1 });
    batcher.flush();
    expect(emitted.map((e) => e.channel)).toEqual([EventChannel.Wire]);
    expect(vi.getTimerCount()).toBe(0);
    batcher.stop();
  });
});
