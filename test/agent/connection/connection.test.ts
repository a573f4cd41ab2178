/**
 * Integration tests of the connection manager against the sandbox StreamServer, directly and through the fault
 * proxy. Loopback only, short intervals.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type WireTraceEntry } from '../../../src-shared/view-models';
import {
  ConnectionLostError,
  ConnectionManager,
  testConnection,
} from '../../../src-main/agent/connection/connection';
import { WRITE_BUFFER_BYTES } from '../../../src-main/agent/connection/frame-writer';
import { encodeFrame, MAX_FRAME_BYTES_LIMIT } from '../../../src-main/agent/protocol/codec';
import { FrameValidationError } from '../../../src-main/agent/protocol/errors';
import { logFrame, resultFrame } from '../../../src-main/agent/protocol/frames';
import { newMinionUuid } from '../../../src-main/agent/protocol/uuid';
import { type SandboxServer, startSandboxServer } from '../../../src-main/sandbox/sandbox-server';
import {
  freePort,
  GROUP_ID,
  GROUP_KEY,
  managerOptions,
  nextReady,
  SERVER_ID,
  sleep,
  waitFor,
  waitForState,
} from '../../support/connection-helpers';
import { type FaultProxy, startFaultProxy } from '../../support/fault-proxy';

const cleanups: Array<() => Promise<void> | void> = [];
const sandboxes: SandboxServer[] = [];

afterEach(async () => {
  // Every frame any test sent must have been harmless to the real server.
  for (const sandbox of sandboxes) expect(sandbox.poisonFrames).toEqual([]);
  sandboxes.length = 0;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sandbox(
  options: Partial<Parameters<typeof startSandboxServer>[0]> = {},
): Promise<SandboxServer> {
  const server = await startSandboxServer({ groups: [{ id: GROUP_ID, key: GROUP_KEY }], ...options });
  sandboxes.push(server);
  cleanups.push(() => server.close());
  return server;
}

async function proxyTo(port: number): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ targetPort: port });
  cleanups.push(() => proxy.close());
  return proxy;
}

function manager(port: number, overrides: Parameters<typeof managerOptions>[1] = {}): ConnectionManager {
  const m = new ConnectionManager(managerOptions(port, overrides));
  cleanups.push(() => m.stop());
  return m;
}

let message = 0;
function log(): ReturnType<typeof logFrame> {
  // Distinct consecutive messages: the real server culls repeats (§4.3).
  message += 1;
  return logFrame(GROUP_ID, SERVER_ID, 'syslog', `line ${message}`);
}

describe('authentication outcomes', () => {
  it('accepted: connected, ready with connection id 1, counters per verb', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    const ready = nextReady(m);
    m.start();
    expect(await ready).toBe(1);
    expect(m.state).toBe('connected');
    expect(m.isReady()).toBe(true);
    expect(m.connectionId).toBe(1);
    const view = m.view();
    expect(view.explanation).toMatch(/authenticated/);
    expect(view.fixHint).toBe('');
    expect(view.connectedSince).not.toBeNull();
    expect(view.out.frames.C).toBe(1);
    expect(view.in.frames.R).toBe(1);
    expect(view.out.bytes.C).toBeGreaterThan(100);
    expect(server.openConnections()[0]?.authenticated).toBe(true);
  });

  it("denied: state 'denied' with the key hint, long back-off (no hammering)", async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { groupKey: 'wrong-key-123' });
    m.start();
    const view = await waitForState(m, 'denied');
    expect(view.explanation).toMatch(/denied/);
    expect(view.fixHint).toMatch(/check the group key/);
    expect(view.nextRetryAt).toBeGreaterThanOrEqual(Date.now() + 55_000);
    await sleep(300);
    expect(server.connections).toHaveLength(1);
    expect(server.connections[0]?.closeCause).toBe('server-denied');
  });

  it("unknown group: no reply, state 'no-auth-reply' after the auth timeout", async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { groupId: 'no-such-group', authTimeoutMs: 200 });
    const startedAt = Date.now();
    m.start();
    const view = await waitForState(m, 'no-auth-reply');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(190);
    expect(view.explanation).toMatch(/did not answer the authentication: no answer within 200 ms/);
    expect(view.fixHint).toMatch(
      /group is not known to the server, or the server has no command\/PostgreSQL config/,
    );
    // It keeps trying (config problems get fixed on the server side too).
    await waitFor(() => server.connections.length >= 2, 2_000, 'a second attempt');
  });

  it("server without command config closes on auth: 'no-auth-reply' explains the close", async () => {
    const server = await sandbox({ commandsEnabled: false });
    const m = manager(server.address.port);
    m.start();
    const view = await waitForState(m, 'no-auth-reply');
    expect(view.explanation).toMatch(/closed the connection .*before answering the authentication/);
    expect(server.connections[0]?.closeCause).toBe('server-no-command-config');
  });

  it("nothing listening: 'unreachable' with the refused reason", async () => {
    const m = manager(await freePort());
    m.start();
    const view = await waitForState(m, 'unreachable');
    expect(view.explanation).toMatch(/connection refused.*ECONNREFUSED/);
    expect(view.fixHint).toMatch(/streamserver_host/);
    expect(view.lastError).toMatch(/ECONNREFUSED/);
  });
});

describe('surviving faults', () => {
  it('survives a server restart and works afterwards', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.start();
    await nextReady(m);
    await server.stop();
    await waitFor(() => !m.isReady(), 2_000, 'the drop to be noticed');
    expect(['unreachable', 'connecting']).toContain(m.state);
    const ready = nextReady(m);
    await server.restart();
    expect(await ready).toBe(2);
    expect(m.send(log())).toBe(true);
    await m.barrier();
    expect(server.logs.at(-1)?.message).toBe(`line ${message}`);
    expect(m.view().reconnects).toBeGreaterThanOrEqual(1);
  });

  for (const fault of ['rst', 'fin'] as const) {
    it(`survives a ${fault.toUpperCase()} from the network and works afterwards`, async () => {
      const server = await sandbox();
      const proxy = await proxyTo(server.address.port);
      const m = manager(proxy.port);
      const downs: string[] = [];
      m.on('down', (d) => downs.push(d.reason));
      m.start();
      await nextReady(m);
      const ready = nextReady(m);
      if (fault === 'rst') proxy.cut();
      else proxy.closeWithFin();
      expect(await ready).toBe(2);
      expect(downs).toHaveLength(1);
      expect(downs[0]).toMatch(fault === 'rst' ? /ECONNRESET|closed/ : /EOF|closed/);
      expect(m.send(log())).toBe(true);
      await m.barrier();
      expect(server.logs).toHaveLength(1);
      expect(proxy.accepted).toBe(2);
    });
  }

  it('works over a 1-byte dribble (auth, logs, heartbeats, barrier)', async () => {
    const server = await sandbox();
    const proxy = await proxyTo(server.address.port);
    proxy.setMode({ kind: 'dribble' });
    const m = manager(proxy.port, {
      heartbeatIntervalMs: 300,
      heartbeatTimeoutMs: 2_000,
      authTimeoutMs: 3_000,
    });
    m.start();
    await nextReady(m, 5_000);
    for (let i = 0; i < 3; i++) expect(m.send(log())).toBe(true);
    const { connectionId } = await m.barrier();
    expect(connectionId).toBe(1);
    expect(server.logs.map((l) => l.message)).toEqual([
      `line ${message - 2}`,
      `line ${message - 1}`,
      `line ${message}`,
    ]);
    expect(m.state).toBe('connected');
  });

  it('survives delayed delivery', async () => {
    const server = await sandbox();
    const proxy = await proxyTo(server.address.port);
    proxy.setMode({ kind: 'delay', ms: 50 });
    const m = manager(proxy.port);
    m.start();
    await nextReady(m);
    expect(m.send(log())).toBe(true);
    const { rttMs } = await m.barrier();
    expect(rttMs).toBeGreaterThanOrEqual(95);
    expect(server.logs).toHaveLength(1);
  });

  it('detects a blackhole with the first heartbeat after it (within two intervals) and reconnects after it', async () => {
    const intervalMs = 300;
    const server = await sandbox();
    const proxy = await proxyTo(server.address.port);
    const m = manager(proxy.port, { heartbeatIntervalMs: intervalMs });
    m.start();
    await nextReady(m);
    // Heartbeats written after the blackhole began, up to the loss of the connection.
    let blackholed = false;
    let heartbeatsIntoTheHole = 0;
    m.on('wire', (entry) => {
      if (blackholed && entry.direction === 'out' && entry.frame?.[0] === 'C') heartbeatsIntoTheHole += 1;
    });
    const down = new Promise<void>((resolve) => m.once('down', () => resolve()));
    proxy.setMode({ kind: 'blackhole' });
    blackholed = true;
    await down;
    // Detection is the reply timeout of the first heartbeat after the blackhole (≤ 1 interval away, timeout 0.9 ×
    // interval), not a later one: no second heartbeat went out before the connection was declared dead.
    expect(heartbeatsIntoTheHole).toBe(1);
    expect(m.view().lastError).toMatch(/no heartbeat reply within 270 ms/);
    const ready = nextReady(m);
    proxy.setMode({ kind: 'pass' });
    expect(await ready).toBe(2);
  });

  it('retries a refused connect forever in its own 1–3 s-style window, without growing the backoff', async () => {
    const port = await freePort();
    const m = manager(port, {
      backoff: { baseMs: 10, capMs: 10_000, refusedMinMs: 30, refusedMaxMs: 50 },
    });
    let attempts = 0;
    const waits: number[] = [];
    m.on('state', (view) => {
      if (view.state === 'connecting') attempts += 1;
      if (view.state === 'unreachable' && view.nextRetryAt !== null)
        waits.push(view.nextRetryAt - Date.now());
    });
    m.start();
    await waitFor(() => attempts >= 15, 10_000, '15 refused attempts');
    // Every wait inside the refused window (the exponential schedule would have reached seconds by now).
    expect(waits.length).toBeGreaterThanOrEqual(14);
    for (const wait of waits) {
      expect(wait).toBeLessThanOrEqual(50);
      expect(wait).toBeGreaterThanOrEqual(25); // nextRetryAt is computed a moment before the event
    }
    expect(m.view().lastError).toMatch(/ECONNREFUSED/);
    const server = await sandbox({ port });
    await waitForState(m, 'connected', 2_000);
    expect(server.connections.length).toBe(1);
    expect(m.view().reconnects).toBe(attempts - 1);
  });

  it('backs off exponentially after failures past the TCP connect (server resets the session)', async () => {
    // A server that accepts and resets at once: the signs of a struggling server.
    const rude = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => rude.close(() => resolve())));
    const port = (rude.address() as net.AddressInfo).port;
    const m = manager(port, {
      backoff: { baseMs: 10, capMs: 80, refusedMinMs: 5_000, refusedMaxMs: 5_000 },
      random: () => 0.999,
    });
    const waits: number[] = [];
    m.on('state', (view) => {
      if (view.nextRetryAt !== null && view.state !== 'connecting') waits.push(view.nextRetryAt - Date.now());
    });
    m.start();
    await waitFor(() => waits.length >= 6, 10_000, 'six failed sessions');
    // Windows 10, 20, 40, 80, 80…: growing, capped, never the 5 s refused window.
    expect(waits[0]).toBeLessThanOrEqual(10);
    expect(waits[3]).toBeGreaterThan(40);
    for (const wait of waits) expect(wait).toBeLessThanOrEqual(80);
  });

  it('spreads the first authentication after refused connects over the rejoin window', async () => {
    const port = await freePort();
    // Refused retries wait 20 + 0.5 × 40 = 40 ms; the rejoin then waits 0.5 × (2040 − 40) = 1000 ms.
    const m = manager(port, { rejoinWindowMs: 2_040, random: () => 0.5 });
    let refused = 0;
    m.on('state', (view) => {
      if (view.state === 'unreachable') refused += 1;
    });
    m.start();
    await waitFor(() => refused >= 2, 5_000, 'refused connects');
    const server = await sandbox({ port });
    let tcpAt = 0;
    server.on('connection', () => (tcpAt = Date.now()));
    let authAt = 0;
    server.on('auth', () => (authAt = Date.now()));
    await waitForState(m, 'connected', 5_000);
    expect(authAt - tcpAt).toBeGreaterThanOrEqual(990);
    // A reconnect after a session loss (not refused) authenticates right away.
    const authsBefore = server.connections.length;
    let secondTcp = 0;
    let secondAuth = 0;
    server.on('connection', () => (secondTcp = Date.now()));
    server.on('auth', () => (secondAuth = Date.now()));
    for (const c of server.openConnections()) expect(c.authenticated).toBe(true);
    m.reconnectNow();
    await waitFor(() => server.connections.length > authsBefore && secondAuth > 0, 3_000, 'second auth');
    expect(secondAuth - secondTcp).toBeLessThan(900);
  });

  it('a protocol error from the server resets the connection and reconnects', async () => {
    let connections = 0;
    const garbage = net.createServer((socket) => {
      connections += 1;
      socket.on('error', () => undefined);
      // Read (and discard) like a real server; a socket nobody reads never reports the agent's reset.
      socket.resume();
      // A valid length prefix followed by a msgpack map: not a frame.
      socket.write(Buffer.from([0x00, 0x01, 0x80]));
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => garbage.close(() => resolve())));
    const port = (garbage.address() as net.AddressInfo).port;
    const m = manager(port);
    const wire: WireTraceEntry[] = [];
    m.on('wire', (e) => wire.push(e));
    m.start();
    const view = await waitForState(m, 'protocol-error');
    expect(view.explanation).toMatch(/malformed/);
    expect(view.fixHint).toMatch(/not Minion frames/);
    expect(wire.find((e) => e.direction === 'in')?.error).toMatch(/msgpack|map|shape/);
    await waitFor(() => connections >= 2, 2_000, 'a reconnect after the protocol error');
    await m.stop();
  });
});

describe('sending', () => {
  it('refuses invalid frames with FrameValidationError and counts them; false while not connected', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    expect(m.send(log())).toBe(false);
    expect(() => m.send(['L', 'deadbeef', [GROUP_ID, SERVER_ID, 'syslog', 'x']])).toThrow(
      FrameValidationError,
    );
    expect(() => m.send(['T', newMinionUuid(), [GROUP_ID, SERVER_ID]])).toThrow(FrameValidationError);
    expect(m.view().invalidFramesRefused).toBe(2);
    m.start();
    await nextReady(m);
    expect(() => m.send(['L', newMinionUuid(), [GROUP_ID, SERVER_ID, 'syslog', '']])).toThrow(/message/);
    expect(m.view().invalidFramesRefused).toBe(3);
    expect(m.send(log())).toBe(true);
    await m.barrier();
    expect(server.logs).toHaveLength(1);
    expect(m.view().out.frames.L).toBe(1);
  });

  it('writes each frame with exactly one socket write', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.start();
    await nextReady(m);
    const link = (m as unknown as { link: { io: net.Socket } }).link;
    const writes: number[] = [];
    const original = link.io.write.bind(link.io);
    link.io.write = ((chunk: Buffer, ...rest: never[]) => {
      writes.push(chunk.length);
      return original(chunk, ...rest);
    }) as typeof link.io.write;
    const frame = log();
    m.send(frame);
    expect(writes).toEqual([encodeFrame(frame).length]);
  });
});

/**
 * Records (as copies: the connection reuses its write buffers) what is handed to the socket's `write`, which still
 * gets it; `sources` are the ArrayBuffers the chunks were views of.
 */
function spyOnWrites(io: net.Socket): Buffer[] & { sources: ArrayBufferLike[] } {
  const writes = Object.assign([] as Buffer[], { sources: [] as ArrayBufferLike[] });
  const original = io.write.bind(io);
  io.write = ((chunk: Uint8Array, ...rest: never[]) => {
    writes.push(Buffer.from(chunk));
    writes.sources.push(chunk.buffer);
    return original(chunk, ...rest);
  }) as typeof io.write;
  return writes;
}

/** A TCP pass-through that records every byte the client sends: to see exactly what went on the wire. */
async function tapTo(port: number): Promise<{ port: number; clientBytes: () => Buffer }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, clientBytes: () => Buffer.concat(chunks) };
}

type LinkInternals = { link: { io: net.Socket } | null };

describe('fast path: sendEncoded', () => {
  it('writes a copy of the stored bytes, byte-identical, one write per frame, counts and traces them; false while not connected', async () => {
    const server = await sandbox();
    const tap = await tapTo(server.address.port);
    const m = manager(tap.port);
    const first = log();
    expect(m.sendEncoded(encodeFrame(first))).toBe(false);
    m.start();
    await nextReady(m);
    const writes = spyOnWrites((m as unknown as LinkInternals).link!.io);
    const frames = Array.from({ length: 20 }, () => log());
    const encoded = frames.map((f) => encodeFrame(f));
    const scratch = Buffer.alloc(512);
    encoded.forEach((bytes) => {
      // The caller's buffer is reused right after each call (a spool reader's payload is valid until its next read).
      bytes.copy(scratch);
      expect(m.sendEncoded(scratch.subarray(0, bytes.length))).toBe(true);
      scratch.fill(0xee);
    });
    // One write per frame, of a copy (not the caller's memory), byte-identical (no re-encoding).
    expect(writes).toHaveLength(20);
    writes.forEach((w, i) => expect(w.equals(encoded[i]!)).toBe(true));
    expect(writes.sources.filter((source) => source === scratch.buffer)).toEqual([]);
    await m.barrier();
    expect(tap.clientBytes().indexOf(Buffer.concat(encoded))).toBeGreaterThan(0);
    expect(server.logs.map((l) => l.message)).toEqual(frames.map((f) => f[2][3]));
    const view = m.view();
    expect(view.out.frames.L).toBe(20);
    expect(view.out.bytes.L).toBe(encoded.reduce((n, b) => n + b.length, 0));
    const traced = m.trace().filter((e) => e.direction === 'out' && e.frame?.[0] === 'L');
    expect(traced.map((e) => e.hex)).toEqual(encoded.map((b) => b.toString('hex')));
    expect(traced.map((e) => e.frame)).toEqual(frames);
  });

  it('traces the bytes each frame went out as, though the encoder reuses its scratch buffer for the next one', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.start();
    await nextReady(m);
    const frames = Array.from({ length: 5 }, () => log());
    const other = log();
    const encoded = frames.map((f) => encodeFrame(f));
    frames.forEach((f) => expect(m.send(f)).toBe(true));
    // A layout the encoder would not write, given with its decoding (traced from the bytes, not re-encoded).
    const spooled = encodeFrame(other);
    const body = Buffer.concat([spooled.subarray(2, 5), Buffer.from([0xda, 0x00]), spooled.subarray(6)]);
    const unusual = Buffer.concat([Buffer.from([body.length >> 8, body.length & 255]), body]);
    const scratch = Buffer.from(unusual);
    expect(m.sendEncoded(scratch, other)).toBe(true);
    scratch.fill(0);
    await m.barrier();
    const traced = m.trace().filter((e) => e.direction === 'out' && e.frame?.[0] === 'L');
    expect(traced.map((e) => e.hex)).toEqual([...encoded, unusual].map((b) => b.toString('hex')));
  });

  it('refuses bytes that are not one whole frame, and frames over the budget, with FrameValidationError', async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { maxFrameBytes: 200 });
    m.start();
    await nextReady(m);
    const frame = log();
    const bytes = encodeFrame(frame);
    expect(() => m.sendEncoded(bytes.subarray(0, bytes.length - 1))).toThrow(FrameValidationError);
    expect(() => m.sendEncoded(Buffer.alloc(2))).toThrow(FrameValidationError);
    const big = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'x'.repeat(300));
    expect(() => m.sendEncoded(encodeFrame(big))).toThrow(FrameValidationError);
    expect(m.view().invalidFramesRefused).toBe(3);
    expect(m.sendEncoded(bytes)).toBe(true);
    await m.barrier();
    expect(server.logs.map((l) => l.message)).toEqual([frame[2][3]]);
  });

  it('bytes in another layout are decoded for their verb; whole-frame bytes that do not decode are refused', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.start();
    await nextReady(m);
    const frame = log();
    const spooled = encodeFrame(frame);
    // The same frame with its UUID as a str16 instead of a str8: valid msgpack, not the encoder's layout.
    const body = Buffer.concat([spooled.subarray(2, 5), Buffer.from([0xda, 0x00]), spooled.subarray(6)]);
    const other = Buffer.concat([Buffer.from([body.length >> 8, body.length & 255]), body]);
    expect(m.sendEncoded(other)).toBe(true);
    const result = resultFrame(GROUP_ID, SERVER_ID, newMinionUuid(), 'out', 'err');
    expect(m.sendEncoded(encodeFrame(result), result)).toBe(true);
    expect(() => m.sendEncoded(Buffer.from([0x00, 0x02, 0xc1, 0xc1]))).toThrow(FrameValidationError);
    expect(m.view().invalidFramesRefused).toBe(1);
    await m.barrier();
    expect(server.logs.map((l) => l.message)).toEqual([frame[2][3]]);
    const view = m.view();
    expect(view.out.frames.L).toBe(1);
    expect(view.out.bytes.L).toBe(other.length);
    expect(view.out.frames.R).toBe(1);
    const traced = m.trace().filter((e) => e.direction === 'out' && e.frame?.[0] !== 'C');
    expect(traced.map((e) => e.frame)).toEqual([frame, result]);
  });

  it('keeps the key redacted in the trace and in wire events', async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { groupKey: GROUP_KEY });
    m.start();
    await nextReady(m);
    const leaky = logFrame(GROUP_ID, SERVER_ID, 'syslog', `oops ${GROUP_KEY}`);
    // Read lazily from the ring (nobody listening)…
    expect(m.sendEncoded(encodeFrame(leaky))).toBe(true);
    // …and built at once for a listener.
    const events: WireTraceEntry[] = [];
    m.on('wire', (e) => events.push(e));
    const leaky2 = logFrame(GROUP_ID, SERVER_ID, 'syslog', `again ${GROUP_KEY}`);
    expect(m.sendEncoded(encodeFrame(leaky2))).toBe(true);
    await m.barrier();
    expect(events.map((e) => e.frame?.[2][3])).toContain('again ***');
    const text = JSON.stringify([m.trace(), events]);
    expect(text).toContain('oops ***');
    expect(text).not.toContain(GROUP_KEY);
    expect(text).not.toContain(Buffer.from(GROUP_KEY).toString('hex'));
    expect(server.logs.map((l) => l.message)).toEqual([`oops ${GROUP_KEY}`, `again ${GROUP_KEY}`]);
  });
});

describe('fast path: cork', () => {
  it('holds a batch back until uncork, then writes it in one write, whole and in order', async () => {
    const server = await sandbox();
    const tap = await tapTo(server.address.port);
    const m = manager(tap.port);
    m.start();
    await nextReady(m);
    const io = (m as unknown as LinkInternals).link!.io;
    const writes = spyOnWrites(io);
    const frames = Array.from({ length: 200 }, () => log());
    const encoded = frames.map((f) => encodeFrame(f));
    m.cork();
    m.cork(); // nested: only the outermost uncork releases
    frames.forEach((f, i) => expect(i % 2 ? m.send(f) : m.sendEncoded(encoded[i]!, f)).toBe(true));
    // Held in the connection's write buffer: nothing handed to the socket yet.
    expect(writes).toHaveLength(0);
    m.uncork();
    expect(writes).toHaveLength(0);
    m.uncork();
    // ~22 KB: one write buffer, one write.
    expect(writes).toHaveLength(1);
    expect(writes[0]!.equals(Buffer.concat(encoded))).toBe(true);
    expect(io.writableCorked).toBe(0);
    m.uncork(); // unmatched: ignored
    await m.barrier();
    expect(server.logs.map((l) => l.message)).toEqual(frames.map((f) => f[2][3]));
    expect(tap.clientBytes().indexOf(Buffer.concat(encoded))).toBeGreaterThan(0);
    expect(m.view().out.frames.L).toBe(200);
  });

  it('corked frames beyond one write buffer leave in several writes, each of whole frames, all in order', async () => {
    const server = await sandbox();
    const tap = await tapTo(server.address.port);
    const m = manager(tap.port, { maxFrameBytes: MAX_FRAME_BYTES_LIMIT });
    m.start();
    await nextReady(m);
    const writes = spyOnWrites((m as unknown as LinkInternals).link!.io);
    // Small frames, one that does not fit the rest of the buffer, one larger than a whole buffer (65,537 bytes, the
    // protocol's largest), and small ones again; a barrier's heartbeat goes through the same buffer, in order.
    const largest = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'x'.repeat(60_000));
    const extra = MAX_FRAME_BYTES_LIMIT - encodeFrame(largest).length;
    largest[2][3] += 'y'.repeat(extra);
    const frames = [
      ...Array.from({ length: 300 }, () => log()),
      logFrame(GROUP_ID, SERVER_ID, 'syslog', 'z'.repeat(40_000)),
      largest,
      ...Array.from({ length: 300 }, () => log()),
    ];
    const encoded = frames.map((f) => encodeFrame(f));
    expect(encoded[301]!.length).toBe(MAX_FRAME_BYTES_LIMIT);
    expect(encoded[301]!.length).toBeGreaterThan(WRITE_BUFFER_BYTES);
    const scratch = Buffer.alloc(MAX_FRAME_BYTES_LIMIT);
    m.cork();
    encoded.forEach((bytes, i) => {
      bytes.copy(scratch);
      expect(m.sendEncoded(scratch.subarray(0, bytes.length))).toBe(true);
      scratch.fill(0);
      if (i === 150) void m.barrier();
    });
    m.uncork();
    expect(writes.length).toBeGreaterThan(2);
    // Every write is a run of whole frames: its length prefixes walk exactly to its end.
    for (const w of writes) {
      let at = 0;
      while (at < w.length) at += 2 + ((w[at]! << 8) | w[at + 1]!);
      expect(at).toBe(w.length);
    }
    await m.barrier();
    expect(server.logs.map((l) => l.message)).toEqual(frames.map((f) => f[2][3]));
    const sent = tap.clientBytes();
    const firstAt = sent.indexOf(encoded[0]!);
    expect(firstAt).toBeGreaterThan(0);
    let at = firstAt;
    for (const bytes of encoded.slice(0, 151)) {
      expect(sent.subarray(at, at + bytes.length).equals(bytes)).toBe(true);
      at += bytes.length;
    }
    // The barrier's heartbeat where it was written, between frames 150 and 151.
    expect(sent[at + 4]).toBe('C'.charCodeAt(0));
  });

  it('reuses its write buffers: many corked chunks written as the pump does (minding drain) allocate a few', async () => {
    const server = await sandbox();
    const proxy = await proxyTo(server.address.port);
    proxy.setMode({ kind: 'delay', ms: 5 });
    const m = manager(proxy.port);
    m.start();
    await nextReady(m);
    const frames: ReturnType<typeof log>[] = [];
    // 400 chunks of 100 frames (~4.5 MB), a barrier now and then; the socket lags behind at times (the pump then
    // waits for 'drain', which bounds what is in flight).
    for (let chunk = 0; chunk < 400; chunk++) {
      if (m.writableNeedsDrain) await new Promise<void>((resolve) => m.once('drain', () => resolve()));
      m.cork();
      for (let i = 0; i < 100; i++) {
        const frame = log();
        frames.push(frame);
        m.sendEncoded(encodeFrame(frame));
      }
      m.uncork();
      if (chunk % 40 === 39) await m.barrier();
    }
    await m.barrier();
    expect(server.logs).toHaveLength(frames.length);
    expect(server.logs.at(-1)?.message).toBe(frames.at(-1)?.[2][3]);
    // Without reuse, every chunk took a buffer of its own (400); without a bound on spares, as many as ever waited.
    expect(m.writeBufferStats.buffersAllocated).toBeLessThanOrEqual(2);
    expect(m.writeBufferStats.spareBuffers).toBeLessThanOrEqual(4);
  });

  it('a forgotten uncork lasts one event-loop turn: heartbeats and barriers still go out', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.start();
    await nextReady(m);
    const io = (m as unknown as LinkInternals).link!.io;
    m.cork();
    const frame = log();
    m.send(frame);
    const barrier = m.barrier();
    expect(io.writableCorked).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(io.writableCorked).toBe(0);
    await barrier;
    expect(server.logs.map((l) => l.message)).toEqual([frame[2][3]]);
    // The guard reset the nesting: the next cork/uncork pair works normally.
    m.cork();
    m.send(log());
    m.uncork();
    expect(io.writableCorked).toBe(0);
    await m.barrier();
    expect(server.logs).toHaveLength(2);
  });

  it('a cork ends with its connection; not-ready sends return false and the next connection is not corked', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.start();
    await nextReady(m);
    const internals = m as unknown as LinkInternals & {
      corkDepth: number;
      corkGuard: unknown;
      fail(link: unknown, failure: { state: 'unreachable'; detail: string }): void;
    };
    const firstLink = internals.link!;
    const ready = nextReady(m);
    m.cork();
    m.cork();
    expect(m.send(log())).toBe(true);
    // The connection is lost while corked (synchronously, before the end-of-turn guard could release the cork).
    internals.fail(firstLink, { state: 'unreachable', detail: 'simulated loss while corked' });
    expect(firstLink.io.destroyed).toBe(true);
    expect(internals.corkDepth).toBe(0);
    expect(internals.corkGuard).toBeNull();
    const frame = log();
    expect(m.sendEncoded(encodeFrame(frame))).toBe(false);
    expect(m.send(frame)).toBe(false);
    m.uncork();
    m.uncork();
    expect(await ready).toBe(2);
    const second = (m as unknown as LinkInternals).link!.io;
    expect(second.writableCorked).toBe(0);
    expect(m.sendEncoded(encodeFrame(frame))).toBe(true);
    await m.barrier();
    expect(server.logs.map((l) => l.message)).toContain(frame[2][3]);
  });
});

describe('barrier', () => {
  it('resolves only after every earlier frame was received by the server', async () => {
    const server = await sandbox();
    const proxy = await proxyTo(server.address.port);
    proxy.setMode({ kind: 'delay', ms: 30 });
    const m = manager(proxy.port);
    m.start();
    const id = await nextReady(m);
    for (let i = 0; i < 50; i++) m.send(log());
    expect(server.logs.length).toBeLessThan(50);
    const result = await m.barrier();
    expect(server.logs).toHaveLength(50);
    expect(result.connectionId).toBe(id);
    expect(result.rttMs).toBeGreaterThanOrEqual(55);
  });

  it('a barrier counts as the periodic heartbeat: no extra heartbeat while barriers keep coming', async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { heartbeatIntervalMs: 1_000 });
    m.start();
    await nextReady(m);
    const before = server.heartbeatCount;
    // A barrier every ~100 ms for 2 s (two intervals): the periodic heartbeat never falls due.
    for (let i = 0; i < 20; i++) {
      await m.barrier();
      await sleep(100);
    }
    expect(server.heartbeatCount - before).toBe(20);
    // Once barriers stop, the periodic heartbeat resumes.
    await waitFor(() => server.heartbeatCount - before > 20, 3_000, 'a periodic heartbeat');
  });

  it('rejects when its connection dies, and when not connected', async () => {
    const server = await sandbox();
    const proxy = await proxyTo(server.address.port);
    const m = manager(proxy.port, { heartbeatIntervalMs: 5_000 });
    await expect(m.barrier()).rejects.toBeInstanceOf(ConnectionLostError);
    m.start();
    await nextReady(m);
    proxy.setMode({ kind: 'blackhole' });
    const barrier = m.barrier();
    proxy.cut();
    await expect(barrier).rejects.toBeInstanceOf(ConnectionLostError);
  });

  it('rejects on reply timeout (dead peer) and the connection is replaced', async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { heartbeatIntervalMs: 5_000, heartbeatTimeoutMs: 150 });
    m.start();
    await nextReady(m);
    server.ignoreHeartbeats = true;
    await expect(m.barrier()).rejects.toThrow(/timed out/);
    server.ignoreHeartbeats = false;
    await waitForState(m, 'connected');
    expect(m.connectionId).toBe(2);
  });

  it('ignores unknown and late R replies', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.start();
    await nextReady(m);
    // Inject an R for a request nobody made, straight from the server side.
    const [info] = server.openConnections();
    const socket = (server as unknown as { live: Map<number, { socket: net.Socket }> }).live.get(
      info?.id ?? 0,
    )?.socket;
    socket?.write(encodeFrame(['R', newMinionUuid(), [newMinionUuid(), 'recorded']]));
    await m.barrier();
    expect(m.state).toBe('connected');
    expect(m.connectionId).toBe(1);
    expect(m.view().in.frames.R).toBe(3);
  });
});

describe('deliberate closes', () => {
  it('stop() resets the socket (the server sees ECONNRESET, never a FIN) after delivering what was sent', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.start();
    await nextReady(m);
    for (let i = 0; i < 20; i++) m.send(log());
    await m.stop();
    expect(m.state).toBe('idle');
    await waitFor(() => server.connections[0]?.closedAt != null, 2_000, 'the server to see the close');
    expect(server.connections[0]?.closeCause).toBe('client-reset');
    expect(server.logs).toHaveLength(20);
  });

  it('pause() closes with a reset and stays paused; resume() reconnects', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    const downs: number[] = [];
    m.on('down', (d) => downs.push(d.connectionId));
    m.start();
    await nextReady(m);
    m.pause();
    expect(m.state).toBe('paused');
    expect(m.isReady()).toBe(false);
    expect(m.send(log())).toBe(false);
    await waitFor(() => server.connections[0]?.closedAt != null, 2_000, 'the close');
    expect(server.connections[0]?.closeCause).toBe('client-reset');
    await sleep(100);
    expect(server.connections).toHaveLength(1);
    expect(downs).toEqual([1]);
    const ready = nextReady(m);
    m.resume();
    expect(await ready).toBe(2);
  });

  it('reconfigure() moves to the new server with a reset of the old connection', async () => {
    const first = await sandbox();
    const second = await sandbox();
    const m = manager(first.address.port);
    m.start();
    await nextReady(m);
    const ready = nextReady(m);
    m.reconfigure(managerOptions(second.address.port));
    expect(await ready).toBe(2);
    expect(second.openConnections()).toHaveLength(1);
    await waitFor(() => first.connections[0]?.closedAt != null, 2_000, 'the old connection to close');
    expect(first.connections[0]?.closeCause).toBe('client-reset');
    expect(m.view().port).toBe(second.address.port);
  });

  it('reconnectNow() skips the wait of a long back-off', async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { groupKey: 'wrong-key-123' });
    m.start();
    await waitForState(m, 'denied');
    server.setGroup({ id: GROUP_ID, key: 'wrong-key-123' });
    const ready = nextReady(m);
    m.reconnectNow();
    expect(await ready).toBe(1);
  });
});

describe('commands', () => {
  it('emits server C frames as commands; the result reaches dispatchCommand', async () => {
    const server = await sandbox();
    const m = manager(server.address.port);
    m.on('command', ({ uuid, data }) => {
      m.send(resultFrame(GROUP_ID, SERVER_ID, uuid, `ran ${data.slice(1).join(' ')}`, ''));
    });
    m.start();
    await nextReady(m);
    const result = await server.dispatchCommand(SERVER_ID, 'external', ['ls', '-la'], { timeoutMs: 2_000 });
    expect(result.stdout).toBe('ran ls -la');
    expect(result.serverId).toBe(SERVER_ID);
    expect(server.results).toHaveLength(1);
  });
});

describe('group key redaction', () => {
  it('never shows the key in trace, hex, events, views or errors', async () => {
    const server = await sandbox();
    const seen: unknown[] = [];
    const m = manager(server.address.port, { groupKey: GROUP_KEY });
    m.on('wire', (e) => seen.push(e));
    m.on('state', (v) => seen.push(v));
    m.on('down', (d) => seen.push(d));
    m.start();
    await nextReady(m);
    // Even a log line that happens to contain the key is masked in the trace.
    m.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', `oops ${GROUP_KEY}`));
    await m.barrier();
    server.setGroup({ id: GROUP_ID, key: 'another-key-456' });
    m.reconnectNow();
    await waitForState(m, 'denied');
    seen.push(m.trace(), m.view());
    const text = JSON.stringify(seen);
    expect(text).not.toContain(GROUP_KEY);
    expect(text).not.toContain(Buffer.from(GROUP_KEY).toString('hex'));
    const auth = m.trace().find((e) => e.direction === 'out' && e.frame?.[2][2] === 'authenticate-agent');
    expect(auth?.frame?.[2][3]).toEqual(['***']);
    // The server did get the real key (auth worked above).
    expect(server.connections[0]?.authenticated).toBe(true);
  });

  it('traces a bounded sample during a burst and says how many frames it left out', async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { traceSamplePerSecond: 5 });
    const wire: WireTraceEntry[] = [];
    m.on('wire', (e) => wire.push(e));
    m.start();
    await nextReady(m);
    await m.barrier();
    const clock = vi.spyOn(Date, 'now');
    try {
      // One fixed second for the whole burst, well after every frame traced so far.
      const second = Date.now() + 10_000;
      clock.mockReturnValue(second);
      wire.length = 0;
      for (let i = 0; i < 20; i++) expect(m.send(log())).toBe(true);
      expect(wire).toHaveLength(5);
      expect(wire.every((e) => e.unsampled === undefined)).toBe(true);
      expect(m.view().out.frames.L).toBe(20); // counters still count every frame
      // The next second traces again, and its first entry accounts for the 15 left out.
      clock.mockReturnValue(second + 1000);
      m.send(log());
      expect(wire).toHaveLength(6);
      expect(wire[5]?.unsampled).toBe(15);
      expect(m.trace().at(-1)?.unsampled).toBe(15);
    } finally {
      clock.mockRestore();
    }
    await m.barrier();
    expect(server.logs).toHaveLength(21);
  });

  it('keeps a bounded trace ring', async () => {
    const server = await sandbox();
    const m = manager(server.address.port, { traceCapacity: 5 });
    m.start();
    await nextReady(m);
    for (let i = 0; i < 10; i++) m.send(log());
    await m.barrier();
    const trace = m.trace();
    expect(trace).toHaveLength(5);
    expect(trace.at(-1)?.frame?.[2][1]).toBe('recorded');
    expect(trace.at(-1)?.direction).toBe('in');
    expect(trace[0]!.id).toBeLessThan(trace.at(-1)!.id);
  });
});

describe('testConnection', () => {
  it('reports ok / denied / unreachable once, without retrying', async () => {
    const server = await sandbox();
    const ok = await testConnection(managerOptions(server.address.port));
    expect(ok).toMatchObject({ ok: true, state: 'connected' });
    const denied = await testConnection(managerOptions(server.address.port, { groupKey: 'nope-nope' }));
    expect(denied).toMatchObject({ ok: false, state: 'denied' });
    expect(denied.fixHint).toMatch(/group key/);
    const down = await testConnection(managerOptions(await freePort()));
    expect(down).toMatchObject({ ok: false, state: 'unreachable' });
    await sleep(100);
    expect(server.connections).toHaveLength(2);
    expect(server.connections.every((c) => c.closeCause !== 'client-fin')).toBe(true);
  });
});

describe('resource hygiene', () => {
  it('leaves no sockets or timers behind after many reconnects and stop()', async () => {
    const count = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
    const server = await sandbox();
    const proxy = await proxyTo(server.address.port);
    const before = count();
    const m = new ConnectionManager(managerOptions(proxy.port, { heartbeatIntervalMs: 100 }));
    m.start();
    for (let i = 1; i <= 15; i++) {
      expect(await nextReady(m)).toBe(i);
      proxy.cut();
    }
    await nextReady(m);
    await m.stop();
    await waitFor(() => server.openConnections().length === 0, 2_000, 'the server side to close');
    await sleep(50);
    expect(count()).toBeLessThanOrEqual(before);
    expect(m.listenerCount('state')).toBe(0);
  });
});
