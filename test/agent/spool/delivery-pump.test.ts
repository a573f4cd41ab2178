/**
 * The pump's life cycle, its status, its options and its window accounting, on a fake clock with barriers answered
 * by hand (ManualTransport).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeFrame, encodeFrame } from '../../../src-main/agent/protocol/codec';
import { DeliveryPump, type DeliveryOptions } from '../../../src-main/agent/spool/delivery';
import { DELIVERY_MARKS_FILE } from '../../../src-main/agent/spool/delivery-marks';
import { type Spool } from '../../../src-main/agent/spool/spool';
import { GROUP, SERVER, frameOf, textOf, waitFor } from './helpers';
import { ManualTransport } from './manual-transport';
import { advance, interceptReads, openManualPumpOnFakeClock, type PumpHarness, until } from './pump-harness';
import { spoolTestKit } from './spool-harness';

const kit = spoolTestKit('pump-');
const cleanups = kit.cleanups;
afterEach(() => cleanups.runAll());

/** A spool in a folder of its own, for tests that build their pump themselves. */
function openSpool(): Promise<Spool> {
  return kit.openSpool(kit.dataDir());
}

function setup(options: Partial<DeliveryOptions> = {}): Promise<PumpHarness<ManualTransport>> {
  return openManualPumpOnFakeClock(cleanups, 'pump-', options);
}

/** Wire bytes of what was sent (first sends are the stored bytes). */
function wireBytes(sent: ManualTransport['sent']): number {
  return sent.reduce((n, s) => n + encodeFrame(s.frame).length, 0);
}

const noReplay = { active: false, total: 0, done: 0 };

describe('DeliveryPump options', () => {
  it.each(['settleMs', 'confirmIntervalMs', 'idleBarrierMs'] as const)(
    'refuses a negative or non-finite %s with an error naming it, and accepts 0',
    async (name) => {
      const spool = await openSpool();
      const transport = new ManualTransport();
      const make = (value: number): DeliveryPump =>
        new DeliveryPump(spool, transport, {
          groupId: GROUP,
          serverId: SERVER,
          writeMarks: false,
          [name]: value,
        });
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => make(bad)).toThrow(RangeError);
        expect(() => make(bad)).toThrow(`delivery ${name} must be a non-negative number of ms`);
      }
      expect(() => make(0)).not.toThrow();
    },
  );

  it('keeps the delivery marks file for spool stats unless told not to', async () => {
    for (const writeMarks of [undefined, false]) {
      const spool = await openSpool();
      const transport = new ManualTransport();
      const pump = new DeliveryPump(spool, transport, { groupId: GROUP, serverId: SERVER, writeMarks });
      pump.start();
      transport.connect();
      spool.append('log', frameOf('log', 'a'));
      await pump.stop();
      expect(existsSync(join(spool.dir, DELIVERY_MARKS_FILE)), `writeMarks ${writeMarks}`).toBe(
        writeMarks !== false,
      );
    }
  });
});

describe('DeliveryPump life cycle', () => {
  it('subscribes once however often started, and stop leaves no listener or timer behind; a restart delivers again', async () => {
    const { spool, transport, pump } = await setup();
    const counts = (): number[] => [
      transport.listenerCount('ready'),
      transport.listenerCount('down'),
      transport.listenerCount('drain'),
      spool.listenerCount('written'),
    ];
    const before = counts();
    pump.start();
    pump.start();
    expect(counts()).toEqual(before.map((n) => n + 1));
    const statuses: number[] = [];
    pump.on('status', () => statuses.push(Date.now()));
    transport.connect();
    spool.append('log', frameOf('log', 'a'));
    await until(() => transport.barriersSent.length === 1, 1_000, 'barrier for a');
    // A new frame: a status event and the next barrier are now pending on timers.
    spool.append('log', frameOf('log', 'b'));
    await until(() => transport.sent.length === 2, 1_000, 'b written');
    const statusesAtStop = statuses.length;
    await pump.stop();
    expect(counts()).toEqual(before);
    expect(vi.getTimerCount()).toBe(0);
    await advance(10_000, 100);
    expect(statuses).toHaveLength(statusesAtStop);
    expect(transport.barriersSent).toHaveLength(1);
    // Started again on the same connection: what was not confirmed goes out again.
    pump.start();
    await until(() => transport.sent.length === 4, 1_000, 'a and b sent again');
    expect(transport.sent.map((s) => textOf(s.frame))).toEqual(['a', 'b', 'a', 'b']);
  });

  it('sends as soon as the transport drains, not at its next look', async () => {
    const { spool, transport, pump } = await setup();
    transport.needsDrain = true;
    for (const t of ['a', 'b', 'c']) spool.append('log', frameOf('log', t));
    pump.start();
    transport.connect();
    await advance(100);
    expect(transport.sent).toHaveLength(0);
    transport.drain();
    await advance(20);
    expect(transport.sent.map((s) => textOf(s.frame))).toEqual(['a', 'b', 'c']);
  });

  it('sends a frame as soon as it is spooled, also while idle', async () => {
    const { spool, transport, pump } = await setup();
    pump.start();
    transport.connect();
    await advance(300);
    spool.append('log', frameOf('log', 'a'));
    await advance(20);
    expect(transport.sent.map((s) => textOf(s.frame))).toEqual(['a']);
  });
});

describe('DeliveryPump status', () => {
  it('reports changes at most once per status interval, the last change always', async () => {
    const { spool, transport, pump } = await setup();
    const statuses: number[] = [];
    pump.on('status', () => statuses.push(Date.now()));
    pump.start();
    const t0 = Date.now();
    transport.connect();
    await advance(10);
    spool.append('log', frameOf('log', 'a'));
    await advance(1_000);
    expect(statuses.map((t) => t - t0)).toEqual([0, 250]);
  });

  it('shows replay progress for the backlog of a connection only', async () => {
    const { spool, transport, pump } = await setup();
    expect(pump.view().replay).toEqual(noReplay);
    expect(pump.view().perClass.log.awaitingReceipt).toBe(0);
    // Nothing queued: connecting is no replay.
    pump.start();
    transport.connect();
    await advance(20);
    expect(pump.view().replay).toEqual(noReplay);
    transport.kill();
    for (let i = 0; i < 5; i++) spool.append('log', frameOf('log', `old${i}`));
    transport.needsDrain = true;
    transport.connect();
    await advance(20);
    expect(pump.view().replay).toEqual({ active: true, total: 5, done: 0 });
    transport.kill();
    expect(pump.view().replay.active).toBe(false);
    transport.connect();
    transport.drain();
    await until(() => transport.sent.length === 5, 1_000, 'backlog sent');
    expect(pump.view().replay).toEqual({ active: false, total: 5, done: 5 });
    // New frames after the backlog are not replay.
    for (let i = 0; i < 3; i++) spool.append('log', frameOf('log', `new${i}`));
    await until(() => transport.sent.length === 8, 1_000, 'new frames sent');
    expect(pump.view().replay).toEqual({ active: false, total: 5, done: 5 });
  });
});

describe('DeliveryPump window', () => {
  it('sizes the in-flight window from the delivery rate of sizeable batches (smoothed), above the floor', async () => {
    const floor = 256 * 1024;
    const { spool, transport, pump } = await setup({
      maxUnconfirmedBytes: floor,
      confirmIntervalMs: 100,
      settleMs: 100,
    });
    const timeoutMs = 30_000; // the default barrier timeout
    const windowFor = (rate: number): number =>
      Math.floor(Math.min(16 * 1024 * 1024, Math.max(floor, (rate * timeoutMs) / 1000 / 4)));
    pump.start();
    transport.connect();
    // A small batch measures the barrier, not the link: no rate from it.
    spool.append('log', frameOf('log', 'small'));
    await until(() => transport.barriersSent.length === 1, 1_000, 'barrier for the small batch');
    await advance(20);
    transport.answer();
    let lastReceiptAt = Date.now();
    await advance(10);
    expect(pump.inFlightWindowBytes).toBe(floor);

    let rate = 0;
    const bigBatch = async (n: number, tag: string, answerAfterMs: number): Promise<void> => {
      const first = transport.sent.length;
      for (let i = 0; i < n; i++) spool.append('log', frameOf('log', `${tag}${i} ${'x'.repeat(1000)}`));
      await until(() => transport.sent.length === first + n, 1_000, `${tag} written`);
      const batch = transport.sent.slice(first);
      const startedAt = batch[0]!.at;
      await until(() => transport.barriersSent.some((b) => b.at > startedAt), 1_000, `barrier for ${tag}`);
      await advance(answerAfterMs);
      // Answer everything pending (a settle-only barrier may be ahead of the one after the batch).
      while (transport.pendingBarriers > 0) transport.answer();
      const receivedAt = Date.now();
      const sample = (wireBytes(batch) * 1000) / Math.max(1, receivedAt - Math.max(startedAt, lastReceiptAt));
      rate = rate === 0 ? sample : 0.5 * rate + 0.5 * sample;
      lastReceiptAt = receivedAt;
      await advance(10);
    };
    await bigBatch(100, 'p', 200);
    expect(pump.inFlightWindowBytes).toBeGreaterThan(floor);
    expect(pump.inFlightWindowBytes).toBe(windowFor(rate));
    await bigBatch(150, 'q', 500);
    expect(pump.inFlightWindowBytes).toBe(windowFor(rate));
  });

  it('writes no more than the in-flight window while the server has not answered, and each record once', async () => {
    const windowBytes = 2000;
    const { spool, transport, pump } = await setup({ maxUnconfirmedBytes: windowBytes });
    const texts = Array.from({ length: 40 }, (_, i) => `w${i} ${'y'.repeat(200)}`);
    for (const t of texts) spool.append('log', frameOf('log', t));
    const recordBytes = encodeFrame(frameOf('log', texts[0]!)).length;
    pump.start();
    transport.connect();
    await advance(5_000, 50);
    const written = wireBytes(transport.sent);
    expect(written).toBeGreaterThanOrEqual(windowBytes);
    expect(written).toBeLessThan(windowBytes + recordBytes);
    // Answer every barrier: the rest follows, every record exactly once on this connection.
    await until(
      () => {
        if (transport.pendingBarriers > 0) transport.answer();
        return spool.confirmedSeq === texts.length;
      },
      120_000,
      'all confirmed',
    );
    expect(transport.sent.map((s) => textOf(s.frame))).toEqual(texts);
  });

  it('writes no more than the unsettled bound while nothing can be confirmed', async () => {
    const { spool, transport, pump } = await setup({
      maxUnconfirmedBytes: 2000,
      maxInFlightBytesCeiling: 2000,
      maxUnsettledBytes: 5000,
      confirmIntervalMs: 10,
      settleMs: 1e9, // nothing is ever settled in this test
    });
    const texts = Array.from({ length: 60 }, (_, i) => `u${i} ${'z'.repeat(200)}`);
    for (const t of texts) spool.append('log', frameOf('log', t));
    const recordBytes = encodeFrame(frameOf('log', texts[0]!)).length;
    pump.start();
    transport.connect();
    // The server reads everything promptly (first step), but no settle barrier can confirm it.
    for (let i = 0; i < 100; i++) {
      if (transport.pendingBarriers > 0) transport.answer();
      await advance(50);
    }
    const written = wireBytes(transport.sent);
    expect(written).toBeGreaterThanOrEqual(5000);
    expect(written).toBeLessThan(5000 + recordBytes);
    expect(pump.receivedSeq).toBe(transport.sent.length);
    expect(spool.confirmedSeq).toBe(0);
  });
});

describe('DeliveryPump with a transport that is closing or at fault', () => {
  it('does not start on a connection that is not ready, and shows no replay', async () => {
    const { spool, transport, pump } = await setup();
    transport.connect();
    transport.ready = false; // closing: still has its id, 'down' not emitted yet
    for (let i = 0; i < 3; i++) spool.append('log', frameOf('log', `b${i}`));
    pump.start();
    await advance(500);
    expect(transport.refused).toBe(0);
    expect(pump.view().replay).toEqual(noReplay);
  });

  it('while writes are refused without a "down" yet, retries every 100 ms and sends no barrier', async () => {
    const { spool, transport, pump } = await setup();
    pump.start();
    transport.connect();
    spool.append('log', frameOf('log', 'a'));
    await until(() => transport.sent.length === 1, 1_000, 'a written');
    transport.ready = false;
    spool.append('log', frameOf('log', 'b'));
    await advance(1_000);
    // a's barrier came due meanwhile, but a connection that is not ready cannot carry it.
    expect(transport.barriersSent).toHaveLength(0);
    expect(transport.refused).toBeGreaterThanOrEqual(5);
    expect(transport.refused).toBeLessThanOrEqual(12);
    transport.ready = true;
    await until(
      () => transport.barriersSent.length > 0 && transport.sent.length === 2,
      1_000,
      'barrier and b once ready again',
    );
    expect(transport.sent.map((s) => textOf(s.frame))).toEqual(['a', 'b']);
  });

  it('reports an unexpected error that stops delivery, as a problem event and to onProblem', async () => {
    const problems: string[] = [];
    const { spool, transport, pump } = await setup({ onProblem: (m) => problems.push(m) });
    const events: string[] = [];
    pump.on('problem', (m) => events.push(m));
    transport.drainCheckError = new Error('boom');
    spool.append('log', frameOf('log', 'a'));
    pump.start();
    transport.connect();
    await advance(50);
    expect(problems).toEqual(['delivery stopped on an unexpected error: Error: boom']);
    expect(events).toEqual(problems);
  });

  it('without the fast path: re-sends with a new identifier, and skips (and reports) a frame validation refuses', async () => {
    const problems: string[] = [];
    const { spool, transport, pump } = await setup({ onProblem: (m) => problems.push(m) });
    transport.sendEncoded = undefined;
    transport.invalid.add('bad');
    for (const t of ['a', 'bad', 'c']) spool.append('log', frameOf('log', t));
    pump.start();
    transport.connect();
    await until(() => transport.sent.length === 2, 1_000, 'first sends');
    expect(pump.counters.skippedInvalid).toBe(1);
    expect(problems).toEqual([expect.stringMatching(/^spool record 2 refused by validation, skipped: /)]);
    // The barrier is never answered: the next connection sends a and c again, each under a new identifier.
    transport.kill();
    transport.connect();
    await until(() => transport.sent.length === 4, 1_000, 're-sends');
    expect(transport.sent.map((s) => textOf(s.frame))).toEqual(['a', 'c', 'a', 'c']);
    const uuids = transport.sent.map((s) => s.frame[1]);
    expect(new Set(uuids).size).toBe(4);
    expect(pump.counters.resent).toBe(2);
    // And the cursor moves past the refused frame once the rest is confirmed.
    await until(
      () => {
        if (transport.pendingBarriers > 0) transport.answer();
        return spool.confirmedSeq === 3;
      },
      20_000,
      'all confirmed',
    );
  });

  it('re-sends a stored record whose UUID is not in lowercase under a new canonical identifier', async () => {
    // Such records predate the lowercase rule (the spool refuses them now): the byte-level patch cannot take them,
    // the decoding path must.
    const spool = await openSpool();
    spool.append('log', frameOf('log', 'upper'));
    interceptReads(spool, (r) => {
      const frame = decodeFrame(r.payload);
      r.payload = encodeFrame([frame[0], frame[1].toUpperCase(), frame[2]]);
    });
    const transport = new ManualTransport();
    const pump = new DeliveryPump(spool, transport, { groupId: GROUP, serverId: SERVER, writeMarks: false });
    cleanups.push(() => pump.stop());
    pump.start();
    transport.connect();
    await waitFor(() => transport.sent.length === 1, 5_000, 'first send');
    transport.kill();
    transport.connect();
    await waitFor(() => transport.sent.length === 2, 5_000, 're-send');
    const [first, again] = transport.sent.map((s) => s.frame[1]);
    expect(first).toBe(first!.toUpperCase());
    expect(again).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(again!.slice(0, 24)).toBe(first!.slice(0, 24).toLowerCase());
    expect(pump.counters).toMatchObject({ resent: 1, skippedInvalid: 0 });
  });

  it('reports a delivery marks file it cannot write as a problem', async () => {
    const spool = await openSpool();
    mkdirSync(join(spool.dir, DELIVERY_MARKS_FILE)); // a directory where the file should be
    const transport = new ManualTransport();
    const problems: string[] = [];
    const pump = new DeliveryPump(spool, transport, { groupId: GROUP, serverId: SERVER });
    pump.on('problem', (m) => problems.push(m));
    pump.start();
    transport.connect();
    spool.append('log', frameOf('log', 'a'));
    await pump.stop();
    expect(problems).toEqual([expect.stringMatching(/^delivery marks: /)]);
  });
});

describe('DeliveryPump slices', () => {
  it('does not yield to the event loop while a slice is within its time budget', async () => {
    // A clock that never moves: every slice is within budget however much it sends.
    const { spool, transport, pump } = await setup({ clock: () => 10 });
    for (let i = 0; i < 1000; i++) spool.append('log', frameOf('log', `s${i}`));
    pump.start();
    transport.connect();
    await until(() => transport.sent.length === 1000, 1_000, 'all sent');
    expect(pump.counters.sliceYields).toBe(0);
  });
});
