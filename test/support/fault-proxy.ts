/**
 * Loopback TCP proxy that injects network faults between the agent and a (sandbox) server, switchable at runtime:
 *
 * - `pass`      forward bytes as they come
 * - `delay`     forward every chunk after `ms` (order kept)
 * - `dribble`   forward one byte per write, in separate event-loop turns, so the peer mostly sees 1-byte reads (a busy
 *               receiver may read a few queued bytes at once)
 * - `blackhole` stop forwarding in both directions but keep both sockets open (like a dead route: TCP says
 *               nothing). Held bytes are forwarded when the mode goes back to pass/delay/dribble, as TCP would
 *               retransmit them.
 * - `reset`     cut every connection (now and new ones) with an RST on both sides
 * - `fin`       close every connection (now and new ones) with a FIN on both sides
 *
 * `cut()` / `closeWithFin()` act once on the current connections without changing the mode.
 */
import net from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'delay'; ms: number }
  | { kind: 'dribble' }
  | { kind: 'blackhole' }
  | { kind: 'reset' }
  | { kind: 'fin' };

export interface FaultProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Listen port, 0 = ephemeral. A fixed port lets a test restart the proxy on the same address. */
  port?: number;
  mode?: FaultMode;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Bytes held while blackholed, per direction. */
  heldToUpstream: Buffer[];
  heldToClient: Buffer[];
  /** Dribble/delay queues keep order across mode switches. */
  queueToUpstream: Promise<void>;
  queueToClient: Promise<void>;
  closed: boolean;
}

export class FaultProxy {
  private mode: FaultMode;
  private readonly pairs = new Set<Pair>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Total connections accepted since start (tests check reconnects went through the proxy). */
  accepted = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly targetHost: string,
    private readonly targetPort: number,
    mode: FaultMode,
  ) {
    this.mode = mode;
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = net.createServer({ allowHalfOpen: true });
    const proxy = new FaultProxy(
      server,
      options.targetHost ?? '127.0.0.1',
      options.targetPort,
      options.mode ?? { kind: 'pass' },
    );
    server.on('connection', (socket) => proxy.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('fault proxy is not listening');
    return address.port;
  }

  get host(): string {
    return '127.0.0.1';
  }

  /** Connections currently open through the proxy. */
  get openConnections(): number {
    return this.pairs.size;
  }

  get currentMode(): FaultMode {
    return this.mode;
  }

  setMode(mode: FaultMode): void {
    this.mode = mode;
    for (const pair of [...this.pairs]) {
      if (mode.kind === 'reset') this.resetPair(pair);
      else if (mode.kind === 'fin') this.finPair(pair);
      else if (mode.kind !== 'blackhole') this.releaseHeld(pair);
    }
  }

  /** RST on both sides of every current connection. */
  cut(): void {
    for (const pair of [...this.pairs]) this.resetPair(pair);
  }

  /** FIN on both sides of every current connection. */
  closeWithFin(): void {
    for (const pair of [...this.pairs]) this.finPair(pair);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const pair of [...this.pairs]) this.resetPair(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(client: net.Socket): void {
    this.accepted += 1;
    client.setNoDelay(true);
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort, allowHalfOpen: true });
    upstream.setNoDelay(true);
    const pair: Pair = {
      client,
      upstream,
      heldToUpstream: [],
      heldToClient: [],
      queueToUpstream: Promise.resolve(),
      queueToClient: Promise.resolve(),
      closed: false,
    };
    this.pairs.add(pair);

    if (this.mode.kind === 'reset') return this.resetPair(pair);
    if (this.mode.kind === 'fin') return this.finPair(pair);

    client.on('data', (chunk: Buffer) => this.forward(pair, chunk, 'up'));
    upstream.on('data', (chunk: Buffer) => this.forward(pair, chunk, 'down'));
    // A FIN is passed on as a FIN, an RST/error as an RST, so the far side sees what the near side did.
    client.on('end', () => void pair.queueToUpstream.then(() => !upstream.destroyed && upstream.end()));
    upstream.on('end', () => void pair.queueToClient.then(() => !client.destroyed && client.end()));
    client.on('error', () => this.resetPair(pair));
    upstream.on('error', () => this.resetPair(pair));
    const maybeDone = (): void => {
      if (client.destroyed && upstream.destroyed) {
        pair.closed = true;
        this.pairs.delete(pair);
      }
    };
    client.on('close', maybeDone);
    upstream.on('close', maybeDone);
  }

  private forward(pair: Pair, chunk: Buffer, direction: 'up' | 'down'): void {
    const target = direction === 'up' ? pair.upstream : pair.client;
    const held = direction === 'up' ? pair.heldToUpstream : pair.heldToClient;
    const mode = this.mode;
    if (mode.kind === 'blackhole') {
      held.push(chunk);
      return;
    }
    if (mode.kind === 'reset' || mode.kind === 'fin') return;
    this.enqueue(pair, direction, () => this.deliver(target, chunk, mode));
  }

  private releaseHeld(pair: Pair): void {
    const mode = this.mode;
    for (const [held, target, direction] of [
      [pair.heldToUpstream, pair.upstream, 'up'],
      [pair.heldToClient, pair.client, 'down'],
    ] as const) {
      const chunks = held.splice(0);
      for (const chunk of chunks) this.enqueue(pair, direction, () => this.deliver(target, chunk, mode));
    }
  }

  private enqueue(pair: Pair, direction: 'up' | 'down', step: () => Promise<void>): void {
    if (direction === 'up') pair.queueToUpstream = pair.queueToUpstream.then(step, step);
    else pair.queueToClient = pair.queueToClient.then(step, step);
  }

  private async deliver(target: net.Socket, chunk: Buffer, mode: FaultMode): Promise<void> {
    if (mode.kind === 'delay') await this.sleep(mode.ms);
    if (mode.kind === 'dribble') {
      for (let i = 0; i < chunk.length; i++) {
        if (target.destroyed) return;
        target.write(chunk.subarray(i, i + 1));
        // A timer turn (not just a microtask) lets each byte leave as its own segment.
        await this.sleep(1);
      }
      return;
    }
    if (!target.destroyed) target.write(chunk);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private resetPair(pair: Pair): void {
    pair.heldToClient.length = 0;
    pair.heldToUpstream.length = 0;
    for (const socket of [pair.client, pair.upstream]) {
      if (socket.destroyed) continue;
      // resetAndDestroy needs a connected handle; a socket still connecting is simply destroyed.
      if (socket.readyState === 'opening') socket.destroy();
      else socket.resetAndDestroy();
    }
    this.pairs.delete(pair);
  }

  private finPair(pair: Pair): void {
    for (const socket of [pair.client, pair.upstream]) {
      if (!socket.destroyed) socket.end();
    }
    // Destroy after the FIN went out so no half-open sockets outlive the test.
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      for (const socket of [pair.client, pair.upstream]) if (!socket.destroyed) socket.destroy();
      this.pairs.delete(pair);
    }, 50);
    this.timers.add(timer);
  }
}

export function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  return FaultProxy.start(options);
}
