/** The fault proxy itself: each mode does what the connection tests rely on. */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from './connection-helpers';
import { type FaultProxy, startFaultProxy } from './fault-proxy';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Upstream {
  port: number;
  received: Buffer[];
  events: string[];
  sockets: net.Socket[];
}

async function upstream(): Promise<Upstream> {
  const state: Upstream = { port: 0, received: [], events: [], sockets: [] };
  const server = net.createServer((socket) => {
    state.sockets.push(socket);
    socket.on('data', (chunk: Buffer) => state.received.push(chunk));
    socket.on('end', () => state.events.push('fin'));
    socket.on('error', (e: NodeJS.ErrnoException) => state.events.push(e.code ?? 'error'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  cleanups.push(() => {
    for (const s of state.sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

async function through(
  target: Upstream,
): Promise<{ proxy: FaultProxy; client: net.Socket; clientEvents: string[] }> {
  const proxy = await startFaultProxy({ targetPort: target.port });
  cleanups.push(() => proxy.close());
  const client = net.connect({ host: '127.0.0.1', port: proxy.port });
  const clientEvents: string[] = [];
  client.on('end', () => clientEvents.push('fin'));
  client.on('error', (e: NodeJS.ErrnoException) => clientEvents.push(e.code ?? 'error'));
  cleanups.push(() => void client.destroy());
  await new Promise<void>((resolve) => client.once('connect', resolve));
  await waitFor(() => target.sockets.length === 1, 1_000, 'the upstream connection');
  return { proxy, client, clientEvents };
}

describe('fault proxy', () => {
  it('passes bytes both ways', async () => {
    const target = await upstream();
    const { client } = await through(target);
    const echoed: Buffer[] = [];
    client.on('data', (c: Buffer) => echoed.push(c));
    client.write('hello');
    await waitFor(() => Buffer.concat(target.received).toString() === 'hello', 1_000, 'upstream bytes');
    target.sockets[0]?.write('back');
    await waitFor(() => Buffer.concat(echoed).toString() === 'back', 1_000, 'downstream bytes');
  });

  it('dribbles: one byte per write, each write in its own event-loop turn', async () => {
    const target = await upstream();
    const { proxy, client } = await through(target);
    proxy.setMode({ kind: 'dribble' });
    // What the proxy controls is its writes: one byte each, in separate turns. How the receiver's reads group
    // them is up to its kernel and event loop (a loaded machine reads two queued bytes at once), so the test
    // watches the proxy's writes to the upstream socket rather than the upstream's reads.
    const upstreamWrites: string[] = [];
    // Set at each write, cleared by a setImmediate: still set at the next write means both came in one turn.
    let previousWriteThisTurn = false;
    let writesInOneTurn = 0;
    const write = net.Socket.prototype.write;
    net.Socket.prototype.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
      if (this.remotePort === target.port) {
        upstreamWrites.push(Buffer.from(args[0] as Uint8Array).toString());
        if (previousWriteThisTurn) writesInOneTurn++;
        previousWriteThisTurn = true;
        setImmediate(() => (previousWriteThisTurn = false));
      }
      return write.apply(this, args);
    } as net.Socket['write'];
    try {
      client.write('abcdef');
      await waitFor(() => Buffer.concat(target.received).toString() === 'abcdef', 2_000, 'all bytes');
    } finally {
      net.Socket.prototype.write = write;
    }
    expect(upstreamWrites).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(writesInOneTurn).toBe(0);
  });

  it('delays delivery', async () => {
    const target = await upstream();
    const { proxy, client } = await through(target);
    proxy.setMode({ kind: 'delay', ms: 100 });
    const sentAt = Date.now();
    client.write('late');
    await waitFor(() => target.received.length > 0, 1_000, 'the delayed bytes');
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(95);
  });

  it('blackholes without closing anything, and delivers the held bytes afterwards', async () => {
    const target = await upstream();
    const { proxy, client, clientEvents } = await through(target);
    proxy.setMode({ kind: 'blackhole' });
    client.write('held');
    await sleep(100);
    expect(target.received).toEqual([]);
    expect(clientEvents).toEqual([]);
    expect(target.events).toEqual([]);
    proxy.setMode({ kind: 'pass' });
    await waitFor(() => Buffer.concat(target.received).toString() === 'held', 1_000, 'the held bytes');
  });

  it('cut() resets both sides; closeWithFin() sends FINs', async () => {
    const target = await upstream();
    const { proxy, clientEvents } = await through(target);
    proxy.cut();
    await waitFor(() => clientEvents.length > 0 && target.events.length > 0, 1_000, 'both sides to notice');
    expect(clientEvents).toEqual(['ECONNRESET']);
    expect(target.events).toEqual(['ECONNRESET']);

    const target2 = await upstream();
    const second = await through(target2);
    second.proxy.closeWithFin();
    await waitFor(() => second.clientEvents.length > 0 && target2.events.length > 0, 1_000, 'both FINs');
    expect(second.clientEvents).toEqual(['fin']);
    expect(target2.events).toEqual(['fin']);
  });
});
