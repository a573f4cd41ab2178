import { afterEach, describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { DROP_REPORT_SERVICE } from '../../../src-main/agent/spool/delivery';
import { type Spool, type SpoolOptions } from '../../../src-main/agent/spool/spool';
import { runSpoolCommand } from '../../../src-main/cli/commands/spool';
import { Cleanups, FakeTransport, frameOf, textOf, waitFor } from './helpers';
import { advance, openPumpHarness, type PumpHarness, until } from './pump-harness';

const cleanups = new Cleanups();
afterEach(() => cleanups.runAll());

/** Barriers within milliseconds, so the real-clock tests run fast. */
const FAST_CADENCE = { idleBarrierMs: 5, confirmIntervalMs: 10, settleMs: 10 };

/** A pump (not started) with the fast cadence over a FakeTransport; in `dir` if given, else in a fresh temp folder. */
function setup(options: SpoolOptions = {}, dir?: string): Promise<PumpHarness<FakeTransport>> {
  return openPumpHarness(cleanups, new FakeTransport(), {
    dirPrefix: 'delivery-',
    dir,
    spool: options,
    pump: FAST_CADENCE,
  });
}

/** Appends log frames `<prefix>0`… `<prefix><count - 1>` and returns their texts. */
function appendLogs(spool: Spool, prefix: string, count: number): string[] {
  const texts = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (const text of texts) spool.append('log', frameOf('log', text));
  return texts;
}

/** Checks the at-least-once contract on what the fake server received. */
function checkDelivery(received: WireFrame[], expected: string[]): void {
  const uuids = received.map((f) => f[1]);
  expect(new Set(uuids).size).toBe(uuids.length); // no UUID ever twice on the wire
  const got = received.map(textOf);
  // Every expected frame arrived, and the first arrivals are in spool order.
  const firstIndex = new Map<string, number>();
  got.forEach((t, i) => {
    if (!firstIndex.has(t)) firstIndex.set(t, i);
  });
  for (const t of expected) expect(firstIndex.has(t), `missing ${t}`).toBe(true);
  const order = expected.map((t) => firstIndex.get(t) as number);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
}

describe('DeliveryPump', () => {
  it('drains in order and advances the cursor only after a barrier', async () => {
    const { spool, transport, pump } = await setup();
    transport.barrierDelayMs = 30;
    const texts = Array.from({ length: 2500 }, (_, i) => `m${i}`);
    for (const t of texts) spool.append('log', frameOf('log', t));
    pump.start();
    transport.connect();
    await waitFor(() => transport.received.length >= 1000, 5000, 'first frames');
    // Written but the barrier has not answered yet: nothing confirmed.
    expect(spool.confirmedSeq).toBe(0);
    await waitFor(() => spool.confirmedSeq === 2500, 10_000, 'all confirmed');
    checkDelivery(transport.received, texts);
    expect(transport.received).toHaveLength(2500);
    const view = pump.view();
    expect(view.perClass.log.confirmed).toBe(2500);
    expect(view.perClass.log.queuedFrames).toBe(0);
    expect(view.perClass.log.awaitingConfirmation).toBe(0);
    expect(view.recentSent.at(-1)?.data[3]).toBe('m2499');
    expect(pump.counters.barriers).toBeGreaterThanOrEqual(3);
    expect(pump.counters.resent).toBe(0);
    // Frames leave in corked bursts, and every cork was undone.
    expect(transport.corkedWrites).toBe(2500);
    expect(transport.corked).toBe(0);
    expect(transport.maxCorkDepth).toBe(1);
  });

  it('never confirms past a record the transport did not take, even if it takes later ones on that connection', async () => {
    const { spool, transport, pump } = await setup();
    const texts = Array.from({ length: 10 }, (_, i) => `m${i}`);
    for (const t of texts) spool.append('log', frameOf('log', t));
    transport.refuseOnce.add('m5');
    pump.start();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 10, 5000, 'all confirmed');
    checkDelivery(transport.received, texts);
    expect(transport.received.map(textOf)).toEqual(texts);
  });

  it('re-sends the unconfirmed window after a connection dies, with fresh identifiers, backlog first', async () => {
    const { spool, transport, pump } = await setup();
    pump.start();
    transport.connect();
    const texts = appendLogs(spool, 'a', 50);
    await waitFor(() => spool.confirmedSeq === 50, 5000, 'first batch');
    // Blackhole: frames are "written" but never arrive, the barrier never answers.
    transport.blackhole = true;
    texts.push(...appendLogs(spool, 'b', 30));
    await waitFor(() => pump.view().perClass.log.awaitingConfirmation === 30, 5000, 'window in flight');
    transport.kill('blackholed');
    // New frames while offline.
    texts.push(...appendLogs(spool, 'c', 20));
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 100, 5000, 'all confirmed after reconnect');
    checkDelivery(transport.received, texts);
    expect(pump.counters.resent).toBe(30);
    expect(transport.received).toHaveLength(100);
    // The re-sent frames keep their time bytes but have a new identifier.
    const original = spool.view().recentQueued; // newest 50 appended, incl. b* and c*
    const b0 = original.find((f) => f.data[3] === 'b0');
    const sentB0 = transport.received.find((f) => f[2][3] === 'b0');
    expect(sentB0?.[1]).not.toBe(b0?.uuid);
    expect(sentB0?.[1].slice(0, 24)).toBe(b0?.uuid.slice(0, 24));
  });

  it('duplicates come only from the unconfirmed window and never reuse a UUID', async () => {
    const { spool, transport, pump } = await setup();
    pump.start();
    transport.connect();
    const texts = appendLogs(spool, 'x', 40);
    await waitFor(() => spool.confirmedSeq === 40, 5000);
    // Frames arrive, but the connection dies before the barrier answers: the server has them, we don't know.
    transport.barrierDelayMs = 10_000;
    texts.push(...appendLogs(spool, 'y', 10));
    await waitFor(() => transport.received.length === 50, 5000);
    transport.kill();
    transport.barrierDelayMs = 0;
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 50, 5000);
    expect(transport.received).toHaveLength(60);
    const dupTexts = transport.received.slice(50).map(textOf);
    expect(dupTexts).toEqual(texts.slice(40));
    checkDelivery(transport.received, texts);
  });

  it('frames from a previous process are re-sent with fresh identifiers after a restart', async () => {
    const first = await setup();
    const appended: WireFrame[] = [];
    for (let i = 0; i < 10; i++) {
      const f = frameOf('log', `p${i}`);
      appended.push(f);
      first.spool.append('log', f);
    }
    await first.spool.close();
    const second = await setup({}, first.dir);
    second.pump.start();
    second.transport.connect();
    await waitFor(() => second.spool.confirmedSeq === 10, 5000);
    const sent = second.transport.received;
    expect(sent.map(textOf)).toEqual(appended.map(textOf));
    for (let i = 0; i < 10; i++) expect(sent[i]?.[1]).not.toBe(appended[i]?.[1]);
    // New frames of this process go out with their own UUID.
    const fresh = frameOf('log', 'fresh');
    second.spool.append('log', fresh);
    await waitFor(() => second.spool.confirmedSeq === 11, 5000);
    expect(sent.at(-1)?.[1]).toBe(fresh[1]);
  });

  it('sends the stored bytes as they are, and a re-send as a copy with only a new identifier', async () => {
    const { spool, transport, pump } = await setup();
    pump.start();
    transport.connect();
    const appended = Array.from({ length: 20 }, (_, i) => frameOf('log', `e${i}`));
    for (const f of appended) spool.append('log', f);
    await waitFor(() => spool.confirmedSeq === 20, 5000);
    expect(transport.encodedSends).toHaveLength(20);
    transport.encodedSends.forEach(({ bytes, frame }, i) => {
      expect(Buffer.compare(Buffer.from(bytes), encodeFrame(appended[i]!))).toBe(0);
      // Forwarded without a decode: the pump had no frame to give along.
      expect(frame).toBeUndefined();
    });
    // A re-send goes out with a new identifier, patched into a copy of the stored bytes.
    transport.blackhole = true;
    const again = frameOf('log', 'again');
    spool.append('log', again);
    await waitFor(() => pump.view().perClass.log.awaitingConfirmation === 1, 5000);
    transport.kill();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 21, 5000);
    expect(transport.encodedSends).toHaveLength(22);
    const stored = encodeFrame(again);
    const resent = Buffer.from(transport.encodedSends.at(-1)!.bytes);
    expect(transport.encodedSends.at(-1)!.frame).toBeUndefined();
    expect(resent.length).toBe(stored.length);
    const differing = [...resent.keys()].filter((i) => resent[i] !== stored[i]);
    expect(differing.length).toBeGreaterThan(0);
    expect(Math.min(...differing)).toBeGreaterThanOrEqual(31);
    expect(Math.max(...differing)).toBeLessThanOrEqual(42);
    const sentAgain = transport.received.at(-1)!;
    expect(sentAgain[2]).toEqual(again[2]);
    expect(sentAgain[1]).not.toBe(again[1]);
    expect(sentAgain[1].slice(0, 24)).toBe(again[1].slice(0, 24));
    expect(pump.counters.resent).toBe(1);
  });

  it('respects backpressure: waits for drain before writing more', async () => {
    const { spool, transport, pump } = await setup();
    pump.start();
    transport.connect();
    transport.needsDrain = true;
    for (let i = 0; i < 10; i++) spool.append('log', frameOf('log', `d${i}`));
    // The frames are on disk and the pump has looked at the backpressure flag again since: it held back.
    await waitFor(() => spool.durableSeq === 10, 5000, 'frames written');
    const checks = transport.drainChecks;
    await waitFor(() => transport.drainChecks > checks, 5000, 'the pump to look again');
    expect(transport.received).toHaveLength(0);
    transport.drain();
    await waitFor(() => spool.confirmedSeq === 10, 5000);
  });

  it('bounds the bytes in flight, so a slow link is not flooded past its heartbeat timeout', async () => {
    const limit = 4096;
    const { spool, transport, pump } = await openPumpHarness(cleanups, new FakeTransport(), {
      dirPrefix: 'delivery-',
      pump: { ...FAST_CADENCE, maxUnconfirmedBytes: limit, maxInFlightBytesCeiling: limit },
    });
    let writtenBytes = 0;
    let largestFrame = 0;
    const send = transport.send.bind(transport);
    transport.send = (frame) => {
      const ok = send(frame);
      if (ok) {
        const size = encodeFrame(frame).length;
        writtenBytes += size;
        largestFrame = Math.max(largestFrame, size);
      }
      return ok;
    };
    pump.start();
    transport.connect();
    transport.blackhole = true; // barriers are not answered: nothing is received or confirmed
    for (let i = 0; i < 200; i++) spool.append('log', frameOf('log', `slow link ${i} ${'x'.repeat(80)}`));
    // The window filled and the pump sent a barrier at each half of it, then stopped writing.
    await waitFor(() => writtenBytes >= limit - largestFrame && transport.barrierTimes.length >= 2, 5000);
    const checks = transport.drainChecks;
    await waitFor(() => transport.drainChecks > checks + 1, 5000, 'the pump to look again');
    expect(writtenBytes).toBeLessThanOrEqual(limit + largestFrame);
    expect(pump.view().perClass.log.awaitingReceipt).toBe(pump.view().perClass.log.awaitingConfirmation);
    // Barriers answer again on a new connection: everything drains, in order.
    transport.kill();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 200, 10_000, 'all confirmed');
    const texts = transport.received.map(textOf);
    expect(texts.filter((x, i) => texts.indexOf(x) === i)).toHaveLength(200);
  });

  it('reports overflow drops as one log line from minion-agent after reconnecting', async () => {
    const { spool, transport, pump } = await setup({ maxBytes: 32 * 1024, segmentBytes: 2048 });
    pump.start();
    for (let i = 0; i < 600; i++) {
      const cls = i % 2 === 0 ? 'log' : 'telemetry';
      spool.append(cls, frameOf(cls, `o${i}`));
    }
    const dropped = spool.view().perClass;
    expect(dropped.telemetry.dropped + dropped.log.dropped).toBeGreaterThan(0);
    transport.connect();
    await waitFor(
      () =>
        spool.view().perClass.log.queuedFrames === 0 && spool.view().perClass.telemetry.queuedFrames === 0,
      5000,
    );
    const reports = transport.received.filter((f) => f[0] === 'L' && f[2][2] === DROP_REPORT_SERVICE);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.[2][3]).toBe(
      `dropped ${dropped.telemetry.dropped} telemetry and ${dropped.log.dropped} log frames while the spool was full`,
    );
    // Reported after the backlog: it is the last frame.
    expect(transport.received.at(-1)).toBe(reports[0]);
  });

  it('frames that were in flight when the link died become droppable again during the outage', async () => {
    const { spool, transport, pump } = await setup({ maxBytes: 24 * 1024, segmentBytes: 2048 });
    for (let i = 0; i < 60; i++) spool.append('telemetry', frameOf('telemetry', `${i}`));
    transport.connect();
    transport.blackhole = true;
    pump.start();
    await waitFor(() => pump.view().perClass.telemetry.awaitingConfirmation === 60, 5000, 'in flight');
    transport.kill();
    // The outage goes on and logs keep coming: the oldest telemetry (seq 1…) must go first.
    for (let i = 0; i < 300; i++) spool.append('log', frameOf('log', `l${i}`));
    expect(spool.view().perClass.telemetry.dropped).toBeGreaterThan(0);
    transport.connect();
    await waitFor(() => spool.confirmedSeq === spool.lastSeq, 5000, 'drained');
    const telemetry = transport.received.filter((f) => f[0] === 'T').map(textOf);
    expect(telemetry).not.toContain('0');
    expect(telemetry.length).toBe(60 - spool.view().perClass.telemetry.dropped);
  });

  it('emits throttled status events with replay progress', async () => {
    const { spool, transport, pump } = await setup();
    for (let i = 0; i < 3000; i++) spool.append('telemetry', frameOf('telemetry', `${i}`));
    const statuses: Array<{ active: boolean; total: number; done: number }> = [];
    pump.on('status', (v) => statuses.push(v.replay));
    pump.start();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 3000, 10_000);
    await waitFor(() => statuses.at(-1)?.done === 3000, 2000, 'final status');
    expect(statuses[0]?.total).toBe(3000);
    expect(statuses.at(-1)).toEqual({ active: false, total: 3000, done: 3000 });
    expect(statuses.length).toBeLessThan(50);
  });
});

/**
 * Cadence and the two steps of a confirmation, on a fake clock (timers and Date are faked; file I/O is real, so the
 * clock advances in small steps with a real pause for the disk in between).
 */
describe('DeliveryPump cadence (fake clock)', () => {
  /** The pump's defaults: confirm interval 5 s, settle 2 s. */
  function fakeSetup(): Promise<PumpHarness<FakeTransport>> {
    return openPumpHarness(cleanups, new FakeTransport(), { dirPrefix: 'cadence-', fakeClock: true });
  }

  it('confirms only after a second barrier sent ≥ settle_ms after the first one was answered', async () => {
    const { spool, transport, pump } = await fakeSetup();
    pump.start();
    transport.connect();
    for (let i = 0; i < 10; i++) spool.append('log', frameOf('log', `s${i}`));
    await until(() => pump.receivedSeq === 10, 2_000, 'first step');
    const firstBarrierAt = transport.barrierTimes[0] as number;
    expect(transport.barrierTimes).toHaveLength(1);
    expect(spool.confirmedSeq).toBe(0);
    let view = pump.view().perClass.log;
    expect([view.sent, view.receivedByServer, view.confirmed, view.awaitingReceipt]).toEqual([10, 10, 0, 0]);
    expect(view.awaitingConfirmation).toBe(10);
    // Past the settle window but within the confirm interval: no barrier yet (fleet-safe cadence), nothing confirmed.
    await advance(3_000, 25);
    expect(transport.barrierTimes).toHaveLength(1);
    expect(spool.confirmedSeq).toBe(0);
    await until(() => spool.confirmedSeq === 10, 5_000, 'second step');
    expect(transport.barrierTimes).toHaveLength(2);
    expect((transport.barrierTimes[1] as number) - firstBarrierAt).toBeGreaterThanOrEqual(5_000);
    view = pump.view().perClass.log;
    expect([view.sent, view.receivedByServer, view.confirmed, view.awaitingConfirmation]).toEqual([
      10, 10, 10, 0,
    ]);
    // Idle now: no further barrier (the connection's periodic heartbeat is all).
    await advance(60_000, 500);
    expect(transport.barrierTimes).toHaveLength(2);
  });

  it('re-sends what the server read but had not been proven to store when the connection dies', async () => {
    const { spool, transport, pump } = await fakeSetup();
    pump.start();
    transport.connect();
    for (let i = 0; i < 5; i++) spool.append('log', frameOf('log', `r${i}`));
    await until(() => pump.receivedSeq === 5, 2_000, 'first step');
    transport.kill('server crashed');
    transport.connect();
    await until(() => spool.confirmedSeq === 5, 20_000, 'confirmed on the new connection');
    expect(transport.received.map(textOf)).toEqual([
      'r0',
      'r1',
      'r2',
      'r3',
      'r4',
      'r0',
      'r1',
      'r2',
      'r3',
      'r4',
    ]);
    expect(new Set(transport.received.map((f) => f[1])).size).toBe(10);
    expect(pump.counters.resent).toBe(5);
  });

  it('sends at most one barrier per confirm interval while 50 lines/s flow', async () => {
    const { spool, transport, pump } = await fakeSetup();
    pump.start();
    transport.connect();
    const seconds = 60;
    for (let s = 0; s < seconds; s++) {
      for (let i = 0; i < 50; i++) spool.append('log', frameOf('log', `f${s}-${i}`));
      await advance(1_000, 50);
    }
    const times = transport.barrierTimes;
    for (let i = 1; i < times.length; i++)
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(5_000);
    expect(times.length).toBeLessThanOrEqual(seconds / 5 + 1);
    // Still confirming as it goes: everything but the last interval or two.
    expect(spool.confirmedSeq).toBeGreaterThan(50 * (seconds - 12));
  });

  it('a clean stop settles: a barrier now, a second one settle_ms after its answer, nothing left to re-send', async () => {
    const { spool, transport, pump } = await fakeSetup();
    pump.start();
    transport.connect();
    for (let i = 0; i < 3; i++) spool.append('log', frameOf('log', `c${i}`));
    await until(() => transport.received.length === 3, 2_000, 'sent');
    let settled: boolean | null = null;
    void pump.settle(10_000).then((ok) => (settled = ok));
    await until(() => settled !== null, 5_000, 'settled');
    expect(settled).toBe(true);
    expect(spool.confirmedSeq).toBe(3);
    expect(transport.barrierTimes).toHaveLength(2);
    expect(
      (transport.barrierTimes[1] as number) - (transport.barrierTimes[0] as number),
    ).toBeGreaterThanOrEqual(2_000);
  });

  it('a clean stop that cannot finish in time reports it (the rest is re-sent after the restart)', async () => {
    const { spool, transport, pump } = await fakeSetup();
    pump.start();
    transport.connect();
    transport.blackhole = true;
    spool.append('log', frameOf('log', 'stuck'));
    let settled: boolean | null = null;
    void pump.settle(1_000).then((ok) => (settled = ok));
    await until(() => settled !== null, 3_000, 'settle gave up');
    expect(settled).toBe(false);
    expect(spool.confirmedSeq).toBe(0);
  });
});

describe('DeliveryPump bulk', () => {
  it('drains a backlog larger than the window with a barrier per half window, and one as soon as it caught up', async () => {
    // A small window (64–256 KiB) so the 2.4 MB backlog must be bulk, and a long confirm interval: only bulk barriers
    // (and the closing one) can explain a prompt drain.
    const { spool, transport, pump } = await openPumpHarness(cleanups, new FakeTransport(), {
      dirPrefix: 'bulk-',
      pump: {
        confirmIntervalMs: 60_000,
        maxUnconfirmedBytes: 64 * 1024,
        maxInFlightBytesCeiling: 256 * 1024,
      },
    });
    const texts = Array.from({ length: 20_000 }, (_, i) => `burst ${i} ${'x'.repeat(60)}`);
    let bytes = 0;
    for (const text of texts) bytes += encodeFrame(frameOf('log', text)).length;
    for (const text of texts) spool.append('log', frameOf('log', text));
    pump.start();
    transport.connect();
    await waitFor(() => pump.receivedSeq === 20_000, 30_000, 'the backlog read by the server');
    // One barrier per half window at least 32 KiB, at most 128 KiB apart (+ the first one and the closing one).
    expect(pump.counters.bulkBarriers).toBeGreaterThanOrEqual(Math.floor(bytes / (128 * 1024)) - 1);
    expect(pump.counters.barriers).toBeLessThanOrEqual(Math.ceil(bytes / (32 * 1024)) + 2);
    // The settle barrier waits for the (long) interval: received, not confirmed yet.
    expect(spool.confirmedSeq).toBeLessThan(20_000);
    checkDelivery(transport.received, texts);
  });
});

describe('delivery marks for spool stats', () => {
  it('spool stats shows sent / received by the server / confirmed as the pump left them', async () => {
    const { dir, spool, transport, pump } = await setup();
    pump.start();
    transport.connect();
    for (let i = 0; i < 8; i++) spool.append('log', frameOf('log', `k${i}`));
    await waitFor(() => spool.confirmedSeq === 8, 5000, 'confirmed');
    // The server reads two more, but the connection dies before the second step.
    transport.barrierDelayMs = 0;
    for (let i = 8; i < 10; i++) spool.append('log', frameOf('log', `k${i}`));
    await waitFor(() => pump.receivedSeq === 10, 5000, 'received');
    transport.blackhole = true;
    await pump.stop();
    const lines: string[] = [];
    expect(await runSpoolCommand({ action: 'stats', dataDir: dir }, (l) => lines.push(l))).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(
      new RegExp(
        `delivery \\(agent pid ${process.pid}, as of \\d{4}-.*\\): sent up to seq 10, ` +
          'received by the server up to seq 10, confirmed up to seq (8|10); since that start 10 sent, ' +
          '10 received by the server, (8|10) confirmed',
      ),
    );
  });
});
