/**
 * A barrier that comes due while the transport is not ready (the connection is closing, 'down' not emitted yet) waits
 * for the pump's next event instead of re-arming a timer until 'down' comes (it used to re-arm a 1 ms timer, a
 * thousand callbacks a second). On a fake clock with barriers answered by hand (ManualTransport).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeliveryPump } from '../../../src-main/agent/spool/delivery';
import { Spool } from '../../../src-main/agent/spool/spool';
import { GROUP, SERVER, frameOf, tempDir, textOf } from './helpers';
import { ManualTransport } from './manual-transport';
import { advance, realPause, until } from './pump-harness';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const IDLE_PASS_MS = 1000;

/**
 * A pump that has written `a` and `b` on connection 1, whose barrier is not due yet (idle coalescing), and a log of
 * the delays of every timer armed (the fake setTimeout, wrapped) from then on.
 */
async function pumpWithUnansweredFrames(): Promise<{
  spool: Spool;
  transport: ManualTransport;
  armedDelays: number[];
}> {
  const t = tempDir('pump-not-ready-');
  cleanups.push(t.cleanup);
  const spool = await Spool.open(t.dir, { fsync: 'never' });
  cleanups.push(() => spool.close());
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  const transport = new ManualTransport();
  const pump = new DeliveryPump(spool, transport, {
    groupId: GROUP,
    serverId: SERVER,
    random: () => 0,
    writeMarks: false,
    idleBarrierMs: 200,
    confirmIntervalMs: 100,
    settleMs: 100,
  });
  cleanups.push(async () => {
    vi.useRealTimers();
    await pump.stop();
  });
  pump.start();
  transport.connect();
  spool.append('log', frameOf('log', 'a'));
  spool.append('log', frameOf('log', 'b'));
  // One fake ms per real pause: the reads are real file I/O, and however slow they are on a loaded machine, the fake
  // clock must not reach the 200 ms idle barrier before both frames are out.
  for (let fakeMs = 0; transport.sent.length < 2; fakeMs++) {
    if (fakeMs > 100) throw new Error('a and b not written within 100 fake ms');
    await vi.advanceTimersByTimeAsync(1);
    await realPause();
  }
  expect(transport.barriersSent).toHaveLength(0);

  const armedDelays: number[] = [];
  const fakeSetTimeout = globalThis.setTimeout;
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
    callback: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    armedDelays.push(ms ?? 0);
    return fakeSetTimeout(callback, ms, ...args);
  }) as typeof setTimeout);
  return { spool, transport, armedDelays };
}

/** Answers the barrier pending now, then the settle barrier that follows it, until `upToSeq` is confirmed. */
async function confirmUpTo(spool: Spool, transport: ManualTransport, upToSeq: number): Promise<void> {
  await until(() => transport.pendingBarriers > 0, 2 * IDLE_PASS_MS, 'the barrier after the frames');
  transport.answer();
  await until(() => transport.pendingBarriers > 0, 2 * IDLE_PASS_MS, 'the settle barrier');
  transport.answer();
  await until(() => spool.confirmedSeq === upToSeq, 1000, `confirmed up to ${upToSeq}`);
}

function textsOn(transport: ManualTransport, connectionId: number): string[] {
  return transport.sent.filter((s) => s.connectionId === connectionId).map((s) => textOf(s.frame));
}

describe('DeliveryPump: a barrier due while the transport is not ready', () => {
  it('arms no timer loop for 5 s, and goes out once the same connection is ready again', async () => {
    const { spool, transport, armedDelays } = await pumpWithUnansweredFrames();
    transport.ready = false; // closing: still has its id, 'down' not emitted yet

    await advance(5000); // the barrier came due 200 ms after the frames

    expect(transport.barriersSent).toHaveLength(0);
    // Only the loop's idle pass (once a second, as when connected and idle); no barrier timer re-armed.
    expect(armedDelays.filter((ms) => ms < IDLE_PASS_MS)).toEqual([]);
    expect(armedDelays.length).toBeLessThanOrEqual(5000 / IDLE_PASS_MS + 1);

    transport.ready = true;
    await confirmUpTo(spool, transport, 2);
    expect(transport.barriersSent.map((b) => b.connectionId)).toEqual([1, 1]);
    expect(textsOn(transport, 1)).toEqual(['a', 'b']);
    expect(transport.refused).toBe(0);
  });

  it("arms no timer loop for 5 s, and after 'down' everything goes out once on the next connection", async () => {
    const { spool, transport, armedDelays } = await pumpWithUnansweredFrames();
    transport.ready = false;

    await advance(5000);

    expect(transport.barriersSent).toHaveLength(0);
    expect(armedDelays.filter((ms) => ms < IDLE_PASS_MS)).toEqual([]);
    expect(armedDelays.length).toBeLessThanOrEqual(5000 / IDLE_PASS_MS + 1);

    transport.kill('closed');
    spool.append('log', frameOf('log', 'c'));
    const second = transport.connect();
    await confirmUpTo(spool, transport, 3);
    // Nothing was confirmed on the first connection: all of it again on the second, each frame once, in order.
    expect(textsOn(transport, 1)).toEqual(['a', 'b']);
    expect(textsOn(transport, second)).toEqual(['a', 'b', 'c']);
    expect(transport.barriersSent.every((b) => b.connectionId === second)).toBe(true);
  });
});
