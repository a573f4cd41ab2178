/**
 * The pump's barriers on a fake clock, answered by hand (ManualTransport): their cadence, the two confirmation steps
 * and what a confirmation tells the spool.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { type DeliveryOptions } from '../../../src-main/agent/spool/delivery';
import { type Spool } from '../../../src-main/agent/spool/spool';
import { Cleanups, frameOf, textOf } from './helpers';
import { type ManualTransport } from './manual-transport';
import { advance, openManualPumpOnFakeClock, type PumpHarness, realPause, until } from './pump-harness';

const cleanups = new Cleanups();
afterEach(() => cleanups.runAll());

function setup(options: Partial<DeliveryOptions> = {}): Promise<PumpHarness<ManualTransport>> {
  return openManualPumpOnFakeClock(cleanups, 'barriers-', options);
}

/** Starts the pump on a new connection, appends log frame `a` and waits for the barrier after it. */
async function startAndAwaitFirstBarrier(
  harness: PumpHarness<ManualTransport>,
): Promise<PumpHarness<ManualTransport> & { connectionId: number }> {
  const { spool, transport, pump } = harness;
  pump.start();
  const connectionId = transport.connect();
  spool.append('log', frameOf('log', 'a'));
  await until(() => transport.barriersSent.length === 1, 1_000, 'first barrier');
  return { ...harness, connectionId };
}

/** The append time the spool stored for a frame, by its text (from the recent-queued view). */
function appendedAtOf(spool: Spool, text: string): number {
  const f = spool.view().recentQueued.find((q) => q.data[3] === text);
  if (!f) throw new Error(`no queued frame ${text}`);
  return f.at;
}

describe('DeliveryPump barrier cadence', () => {
  it('spaces barriers by the confirm interval plus the jitter drawn at each barrier, clamped to 0–10 %', async () => {
    // One draw per barrier: 0.5 → +5 %, 2 → clamped to +10 %, NaN → no jitter.
    const draws = [0.5, 2, Number.NaN];
    const { spool, transport } = await startAndAwaitFirstBarrier(
      await setup({ random: () => draws.shift() ?? 0 }),
    );
    // Not rate-limited yet: the idle barrier goes out idleBarrierMs after the frame (coalescing what follows).
    expect(transport.barriersSent[0]!.at - transport.sent[0]!.at).toBe(50);
    transport.answer();
    spool.append('log', frameOf('log', 'b'));
    await until(() => transport.barriersSent.length === 2, 10_000, 'second barrier');
    transport.answer();
    // b is received; its settle barrier is due 2 s later but held back by the (jittered) interval.
    await until(() => transport.barriersSent.length === 3, 10_000, 'third barrier');
    transport.answer();
    await until(() => spool.confirmedSeq === 2, 1_000, 'both confirmed');
    spool.append('log', frameOf('log', 'c'));
    await until(() => transport.barriersSent.length === 4, 10_000, 'fourth barrier');
    const at = transport.barriersSent.map((b) => b.at);
    expect([at[1]! - at[0]!, at[2]! - at[1]!, at[3]! - at[2]!]).toEqual([5_250, 5_500, 5_000]);
  });

  it('sends no further barrier while one is unanswered, even when a settle barrier is due', async () => {
    const { spool, transport, pump } = await startAndAwaitFirstBarrier(await setup());
    transport.answer();
    spool.append('log', frameOf('log', 'b'));
    await until(() => transport.barriersSent.length === 2, 10_000, 'second barrier');
    // The server is slow to answer: a's settle barrier would be due now, but it must queue behind the pending one.
    await advance(20_000, 100);
    expect(transport.barriersSent).toHaveLength(2);
    expect(spool.confirmedSeq).toBe(0);
    transport.answer();
    await until(() => spool.confirmedSeq === 1, 1_000, 'a confirmed by the answered barrier');
    expect(pump.receivedSeq).toBe(2);
    await until(() => transport.barriersSent.length === 3, 10_000, 'settle barrier for b');
    transport.answer();
    await until(() => spool.confirmedSeq === 2, 1_000, 'b confirmed');
    // Idle with nothing to confirm: only the loop's poll timer is left, no barrier timer re-arming itself.
    await advance(100);
    expect(vi.getTimerCount()).toBe(1);
    await advance(20_000, 100);
    expect(transport.barriersSent).toHaveLength(3);
  });
});

describe('DeliveryPump confirmation steps', () => {
  it('a barrier sent within settle_ms of a receipt does not confirm it; the next one settle_ms later does', async () => {
    // A short interval, so barriers for new data go out well within the 2 s settle window.
    const harness = await setup({ confirmIntervalMs: 100 });
    const { spool, transport, pump } = harness;
    const received: unknown[] = [];
    const confirmed: unknown[] = [];
    pump.on('received', (info) => received.push(info));
    pump.on('confirmed', (info) => confirmed.push(info));
    await startAndAwaitFirstBarrier(harness);
    await advance(30);
    transport.answer(); // a received, rtt 30
    const aReceivedAt = Date.now();
    spool.append('log', frameOf('log', 'b1'));
    await advance(20);
    spool.append('log', frameOf('log', 'b2'));
    await until(() => transport.barriersSent.length === 2, 1_000, 'barrier for b');
    expect(transport.barriersSent[1]!.at - aReceivedAt).toBeLessThan(2_000);
    transport.answer();
    await advance(10);
    // Read by the server, but the barrier after it went out too early to prove a was stored.
    expect(pump.receivedSeq).toBe(3);
    expect(spool.confirmedSeq).toBe(0);
    expect(confirmed).toEqual([]);
    await until(() => transport.barriersSent.length === 3, 3_000, 'settle barrier');
    expect(transport.barriersSent[2]!.at - aReceivedAt).toBe(2_000);
    await advance(40);
    transport.answer(); // confirms a (b was received 20 + ms after a: not settled by this barrier yet)
    await advance(10);
    expect(spool.confirmedSeq).toBe(1);
    // The oldest unconfirmed frame is now b1, the first of the next batch (not b2, not a).
    expect(spool.view().oldestQueuedAt).toBe(appendedAtOf(spool, 'b1'));
    await until(() => transport.barriersSent.length === 4, 3_000, 'settle barrier for b');
    transport.answer();
    await until(() => spool.confirmedSeq === 3, 1_000, 'b confirmed');
    expect(received).toEqual([
      { upToSeq: 1, frames: 1, rttMs: 30 },
      { upToSeq: 3, frames: 2, rttMs: expect.any(Number) as number },
    ]);
    expect(confirmed).toEqual([
      { upToSeq: 1, frames: 1, rttMs: 40 },
      { upToSeq: 3, frames: 2, rttMs: 0 },
    ]);
    // Everything confirmed: the spool's queue is empty in frames and in bytes, and no age is shown.
    const log = spool.view().perClass.log;
    expect([log.queuedFrames, log.queuedBytes, log.confirmed]).toEqual([0, 0, 3]);
    expect(spool.view().oldestQueuedAt).toBeNull();
    expect(pump.counters.confirmed).toBe(3);
  });

  it('after a confirmation the oldest unconfirmed frame may be one written but not yet behind a barrier', async () => {
    const { spool, transport } = await startAndAwaitFirstBarrier(await setup());
    transport.answer();
    await until(() => transport.barriersSent.length === 2, 10_000, 'settle barrier');
    // Written after the settle barrier went out: in no barrier yet when that barrier confirms a.
    await advance(20);
    spool.append('log', frameOf('log', 'c'));
    await until(() => transport.sent.length === 2, 1_000, 'c written');
    transport.answer();
    await advance(10);
    expect(spool.confirmedSeq).toBe(1);
    expect(spool.view().oldestQueuedAt).toBe(appendedAtOf(spool, 'c'));
  });

  it('ignores a barrier answer that names another connection than the one the barrier went out on', async () => {
    const { spool, transport, pump, connectionId: first } = await startAndAwaitFirstBarrier(await setup());
    transport.answer(first + 1);
    await advance(3_000);
    expect(pump.receivedSeq).toBe(0);
    expect(pump.counters.receivedByServer).toBe(0);
    expect(spool.confirmedSeq).toBe(0);
    // The next connection sends a again (new identifier) and confirms it normally.
    transport.kill();
    transport.connect();
    await until(() => transport.barriersSent.length === 2, 1_000, 'barrier on the new connection');
    transport.answer();
    await until(() => transport.barriersSent.length === 3, 10_000, 'settle barrier');
    transport.answer();
    await until(() => spool.confirmedSeq === 1, 1_000, 'a confirmed');
    expect(transport.sent.map((s) => textOf(s.frame))).toEqual(['a', 'a']);
    expect(transport.sent[1]!.frame[1]).not.toBe(transport.sent[0]!.frame[1]);
  });
});

describe('DeliveryPump barriers in bulk', () => {
  it('answering the first of several pending barriers receives only the batch before it', async () => {
    const windowBytes = 2000;
    const { spool, transport, pump } = await setup({ maxUnconfirmedBytes: windowBytes });
    for (let i = 0; i < 20; i++) spool.append('log', frameOf('log', `k${i} ${'v'.repeat(200)}`));
    pump.start();
    transport.connect();
    await advance(100);
    // In bulk a barrier follows every half window: the first after the record that filled half of it.
    expect(transport.pendingBarriers).toBeGreaterThanOrEqual(2);
    let firstBatch = 0;
    for (let bytes = 0; bytes < windowBytes / 2; firstBatch++) {
      bytes += encodeFrame(transport.sent[firstBatch]!.frame).length;
    }
    transport.answer();
    await advance(10);
    expect(pump.receivedSeq).toBe(firstBatch);
    expect(pump.counters.receivedByServer).toBe(firstBatch);
    expect(pump.view().perClass.log.awaitingReceipt).toBe(transport.sent.length - firstBatch);
    // What the answer freed is written again, but the bytes in flight stay within the window (+ one record).
    const inFlight = transport.sent.slice(firstBatch).reduce((n, s) => n + encodeFrame(s.frame).length, 0);
    const recordBytes = encodeFrame(transport.sent[0]!.frame).length;
    expect(transport.sent.length).toBeGreaterThan(firstBatch + 1);
    expect(inFlight).toBeLessThan(windowBytes + recordBytes);
  });
});

describe('DeliveryPump settle', () => {
  it('on a pump that is not running answers at once, without waiting for its timeout', async () => {
    const { spool, transport, pump } = await setup();
    transport.connect();
    spool.append('log', frameOf('log', 'a'));
    let answer: boolean | undefined;
    void pump.settle(60_000).then((v) => (answer = v));
    for (let i = 0; i < 5 && answer === undefined; i++) await realPause();
    expect(answer).toBe(false);
    expect(transport.barriersSent).toHaveLength(0);
  });

  it('returns to the rate-limited cadence once it is over', async () => {
    const { spool, transport, pump } = await setup();
    pump.start();
    transport.connect();
    spool.append('log', frameOf('log', 'a'));
    await until(() => transport.sent.length === 1, 1_000, 'a written');
    let settled: boolean | undefined;
    void pump.settle(10_000).then((v) => (settled = v));
    await until(() => transport.barriersSent.length === 1, 1_000, 'settle: first barrier');
    transport.answer();
    await until(() => transport.barriersSent.length === 2, 3_000, 'settle: second barrier');
    // Not held back by the 5 s interval while settling.
    expect(transport.barriersSent[1]!.at - transport.barriersSent[0]!.at).toBeLessThan(5_000);
    transport.answer();
    await until(() => settled !== undefined, 1_000, 'settle done');
    expect(settled).toBe(true);
    // Back to normal: a new frame's barrier waits for the confirm interval again.
    spool.append('log', frameOf('log', 'b'));
    await until(() => transport.barriersSent.length === 3, 10_000, 'barrier for b');
    expect(transport.barriersSent[2]!.at - transport.barriersSent[1]!.at).toBe(5_000);
  });
});
