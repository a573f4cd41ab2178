import { afterEach, describe, expect, it, vi } from 'vitest';
import { type WireFrame, type WireTraceEntry } from '../../../src-shared/view-models';
import { ConnectionManager } from '../../../src-main/agent/connection/connection';
import * as codec from '../../../src-main/agent/protocol/codec';
import { logFrame } from '../../../src-main/agent/protocol/frames';
import { DeliveryPump } from '../../../src-main/agent/spool/delivery';
import { type SpoolRecord } from '../../../src-main/agent/spool/reader';
import { Spool } from '../../../src-main/agent/spool/spool';
import { startSandboxServer } from '../../../src-main/sandbox/sandbox-server';
import { GROUP_ID, GROUP_KEY, SERVER_ID, managerOptions, nextReady } from '../../support/connection-helpers';
import { FakeTransport, GROUP, SERVER, frameOf, tempDir, textOf, waitFor } from './helpers';
import { interceptReads } from './pump-harness';

// Counts every decodeFrame in the process (the pump, the recent-sent ring, the wire trace all import it from here).
const decodes = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../../src-main/agent/protocol/codec', async (importOriginal) => {
  const actual = await importOriginal<typeof codec>();
  return {
    ...actual,
    decodeFrame: (...args: Parameters<typeof actual.decodeFrame>): WireFrame => {
      decodes.count++;
      return actual.decodeFrame(...args);
    },
  };
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Takes the fast path like the real connection and keeps the bytes it was given, decoding nothing. */
class BytesTransport extends FakeTransport {
  bytesSent: Uint8Array[] = [];
  framesGiven = 0;
  /** Throws like a validation refusal for the n-th fast-path send (1-based), once. */
  refuseNth = 0;

  override sendEncoded = (bytes: Uint8Array, frame?: WireFrame): boolean => {
    if (!this.isReady()) return false;
    if (--this.refuseNth === 0) throw new Error('frame over the budget');
    if (frame) this.framesGiven++;
    // Copied like the real connection does: the bytes are the reader's, reused by its next read.
    this.bytesSent.push(Buffer.from(bytes));
    return true;
  };
}

type RecordEdit = (record: SpoolRecord) => void;

/** Payloads handed out by the reader, each compared with its copy before it expires. */
class HandedPayloads {
  pending: Array<{ payload: Buffer; copy: Buffer }> = [];
  seen = 0;
  writtenInto = 0;

  check(): void {
    for (const { payload, copy } of this.pending.splice(0)) {
      this.seen++;
      if (!payload.equals(copy)) this.writtenInto++;
    }
  }
}

async function setup<T extends FakeTransport>(
  transport: T,
  edit?: RecordEdit,
): Promise<{
  spool: Spool;
  pump: DeliveryPump;
  transport: T;
  handed: HandedPayloads;
  problems: string[];
}> {
  const { dir, cleanup } = tempDir('delivery-fwd-');
  cleanups.push(cleanup);
  const spool = await Spool.open(dir, { fsync: 'never' });
  // Every payload the reader hands out, with a copy to prove the pump never writes into it (compared when the
  // payload expires: at the reader's next read).
  const handed = new HandedPayloads();
  interceptReads(
    spool,
    (r) => {
      edit?.(r);
      handed.pending.push({ payload: r.payload, copy: Buffer.from(r.payload) });
    },
    () => handed.check(),
  );
  const problems: string[] = [];
  const pump = new DeliveryPump(spool, transport, {
    groupId: GROUP,
    serverId: SERVER,
    idleBarrierMs: 5,
    confirmIntervalMs: 10,
    settleMs: 10,
    writeMarks: false,
    onProblem: (m) => problems.push(m),
  });
  cleanups.push(async () => {
    await pump.stop();
    await spool.close();
  });
  return { spool, pump, transport, handed, problems };
}

describe('DeliveryPump forwarding', () => {
  it('forwards first sends and re-sends without decoding a record, and never writes into a payload', async () => {
    const { spool, pump, transport, handed } = await setup(new BytesTransport());
    const appended = Array.from({ length: 300 }, (_, i) => frameOf(i % 3 ? 'log' : 'telemetry', `f${i}`));
    appended.forEach((f) => spool.append(f[0] === 'L' ? 'log' : 'telemetry', f));
    decodes.count = 0;
    pump.start();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 300, 5000, 'first 300 confirmed');
    // The connection dies with 20 frames written and unanswered: they go out again with new identifiers.
    transport.blackhole = true;
    const later = Array.from({ length: 20 }, (_, i) => frameOf('log', `g${i}`));
    later.forEach((f) => spool.append('log', f));
    await waitFor(() => transport.bytesSent.length === 320, 5000, 'the 20 written');
    transport.kill();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 320, 5000, 'all confirmed after the reconnect');
    expect(decodes.count).toBe(0);
    expect(transport.framesGiven).toBe(0);
    expect(pump.counters).toMatchObject({ sent: 340, resent: 20, skippedInvalid: 0 });

    const all = [...appended, ...later];
    transport.bytesSent.slice(0, 320).forEach((bytes, i) => {
      expect(Buffer.compare(Buffer.from(bytes), codec.encodeFrame(all[i]!)), `send #${i}`).toBe(0);
    });
    const resent = transport.bytesSent.slice(320).map((b) => codec.decodeFrame(b));
    expect(resent.map(textOf)).toEqual(later.map(textOf));
    resent.forEach((frame, i) => {
      const original = later[i]!;
      expect(frame[1]).not.toBe(original[1]);
      expect(frame[1].slice(0, 24)).toBe(original[1].slice(0, 24));
      expect(frame[2]).toEqual(original[2]);
    });
    const uuids = [...all.map((f) => f[1]), ...resent.map((f) => f[1])];
    expect(new Set(uuids).size).toBe(uuids.length);
    handed.check();
    expect(handed.seen).toBeGreaterThanOrEqual(340);
    expect(handed.writtenInto).toBe(0);
  });

  it('builds the recent-sent view only when asked, with the frames as they were sent', async () => {
    const { spool, pump, transport } = await setup(new BytesTransport());
    const appended = Array.from({ length: 60 }, (_, i) => frameOf('log', `v${i}`));
    appended.forEach((f) => spool.append('log', f));
    decodes.count = 0;
    pump.start();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 60, 5000, 'all confirmed');
    expect(decodes.count).toBe(0);

    const view = pump.view().recentSent;
    // The newest 50 (the default), oldest first, each decoded once; the view also carries the spool's 50 recent
    // queued frames, decoded by the spool's own ring.
    expect(decodes.count).toBe(100);
    expect(view).toEqual(
      appended.slice(10).map((f, i) => ({
        seq: 11 + i,
        cls: 'log',
        verb: 'L',
        uuid: f[1],
        data: f[2],
        bytes: codec.encodeFrame(f).length,
        at: expect.any(Number) as number,
      })),
    );
    // A status refresh does not decode the sent frames again (only the spool's queued ones, which it does not keep).
    expect(pump.view().recentSent).toEqual(view);
    expect(decodes.count).toBe(150);

    // A re-sent frame shows the identifier it went out with.
    transport.blackhole = true;
    spool.append('log', frameOf('log', 'again'));
    await waitFor(() => transport.bytesSent.length === 61, 5000, 'written once');
    transport.kill();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 61, 5000, 're-sent and confirmed');
    const sentUuids = transport.bytesSent.slice(-2).map((b) => codec.decodeFrame(b)[1]);
    expect(sentUuids[0]).not.toBe(sentUuids[1]);
    const last = pump.view().recentSent.slice(-2);
    expect(last.map((f) => [f.seq, f.data[3], f.uuid])).toEqual([
      [61, 'again', sentUuids[0]],
      [61, 'again', sentUuids[1]],
    ]);
  });

  it('skips a record that cannot be decoded with a problem report; the cursor moves past it', async () => {
    const garbage = Buffer.from([0x00, 0x02, 0xc1, 0xc1]); // one whole frame by its prefix, not msgpack
    const { spool, pump, transport, problems } = await setup(new BytesTransport(), (r) => {
      if (r.seq === 3) r.payload = garbage;
    });
    for (let i = 0; i < 5; i++) spool.append('log', frameOf('log', `s${i}`));
    pump.start();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 5, 5000, 'all confirmed');
    expect(transport.bytesSent.map((b) => textOf(codec.decodeFrame(b)))).toEqual(['s0', 's1', 's3', 's4']);
    expect(pump.counters).toMatchObject({ sent: 4, skippedInvalid: 1 });
    expect(problems).toEqual([expect.stringContaining('spool record 3 cannot be decoded, skipped')]);
  });

  it('skips a record the transport refuses (validation) with a problem report; the cursor moves past it', async () => {
    const transport = new BytesTransport();
    transport.refuseNth = 2;
    const { spool, pump, problems } = await setup(transport);
    for (let i = 0; i < 4; i++) spool.append('log', frameOf('log', `r${i}`));
    pump.start();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 4, 5000, 'all confirmed');
    expect(transport.bytesSent.map((b) => textOf(codec.decodeFrame(b)))).toEqual(['r0', 'r2', 'r3']);
    expect(pump.counters).toMatchObject({ sent: 3, skippedInvalid: 1 });
    expect(problems).toEqual([expect.stringContaining('spool record 2 refused by validation, skipped')]);
  });

  it('decodes and sends frames through `send` for a transport without the fast path, re-sends included', async () => {
    const transport = new FakeTransport();
    transport.sendEncoded = undefined;
    const { spool, pump } = await setup(transport);
    const first = Array.from({ length: 10 }, (_, i) => frameOf('result', `a${i}`));
    first.forEach((f) => spool.append('result', f));
    pump.start();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 10, 5000, 'first confirmed');
    transport.blackhole = true;
    spool.append('result', frameOf('result', 'b'));
    await waitFor(() => pump.counters.sent === 11, 5000, 'written once');
    transport.kill();
    transport.connect();
    await waitFor(() => spool.confirmedSeq === 11, 5000, 're-sent and confirmed');
    expect(transport.received.slice(0, 10)).toEqual(first);
    expect(transport.received.map(textOf)).toEqual([...first.map(textOf), 'b']);
    expect(pump.counters.resent).toBe(1);
    const uuids = transport.received.map((f) => f[1]);
    expect(new Set(uuids).size).toBe(11);
  });

  it('through the real connection to the sandbox: no decode unless someone watches the wire, then a bounded sample', async () => {
    const server = await startSandboxServer({ groups: [{ id: GROUP_ID, key: GROUP_KEY }] });
    cleanups.push(() => server.close());
    const { dir, cleanup } = tempDir('delivery-fwd-real-');
    cleanups.push(cleanup);
    const spool = await Spool.open(dir, { fsync: 'never' });
    const connection = new ConnectionManager({
      ...managerOptions(server.address.port),
      traceCapacity: 0,
      traceSamplePerSecond: 20,
    });
    const pump = new DeliveryPump(spool, connection, {
      groupId: GROUP_ID,
      serverId: SERVER_ID,
      idleBarrierMs: 5,
      confirmIntervalMs: 10,
      settleMs: 10,
      writeMarks: false,
    });
    cleanups.push(async () => {
      await pump.stop();
      connection.stop();
      await spool.close();
    });
    // Distinct messages: the server culls repeats.
    const unwatched = Array.from({ length: 500 }, (_, i) => `unwatched ${i}`);
    for (const m of unwatched) spool.append('log', logFrame(GROUP_ID, SERVER_ID, 'syslog', m));
    decodes.count = 0;
    connection.start();
    await nextReady(connection);
    pump.start();
    await waitFor(() => spool.confirmedSeq === 500, 10_000, 'unwatched frames confirmed');
    expect(decodes.count).toBe(0);
    expect(server.logs.map((l) => l.message)).toEqual(unwatched);
    expect(connection.view().out.frames.L).toBe(500);

    // Someone watches the wire (a console, --debug): the traced sample is decoded, at most 20 a second here.
    const traced: WireTraceEntry[] = [];
    connection.on('wire', (e) => {
      if (e.direction === 'out' && e.frame?.[0] === 'L') traced.push(e);
    });
    const watched = Array.from({ length: 300 }, (_, i) => `watched ${i}`);
    for (const m of watched) spool.append('log', logFrame(GROUP_ID, SERVER_ID, 'syslog', m));
    await waitFor(() => spool.confirmedSeq === 800, 10_000, 'watched frames confirmed');
    expect(traced.length).toBeGreaterThan(0);
    expect(traced.length).toBeLessThan(300);
    expect(decodes.count).toBe(traced.length);
    for (const e of traced) expect(watched).toContain(e.frame?.[2][3]);
    expect(server.logs.map((l) => l.message)).toEqual([...unwatched, ...watched]);
    expect(server.poisonFrames).toEqual([]);
  });
});
