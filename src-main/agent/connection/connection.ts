/**
 * Connection manager: one TCP (or TLS) connection to the StreamServer, authenticated first, kept alive with
 * heartbeats, re-established forever with jittered backoff (protocol.md §1–§3, §11, §14).
 *
 * States: idle → connecting → authenticating → connected, plus paused and the error states unreachable / denied /
 * no-auth-reply / tls-error / protocol-error (each waits for the next retry, `view().nextRetryAt`).
 *
 * Why things are done the way they are:
 * - Auth is the first frame on every connection and has a timeout: the server stays silent for an unknown group.
 * - Heartbeats have a reply timeout: a blackholed peer is otherwise invisible (TCP says nothing for many minutes).
 *   Every heartbeat costs the real server a database commit, so a barrier (a heartbeat the delivery pump sends)
 *   counts as the periodic one: the next periodic heartbeat is due `heartbeatIntervalMs` after the last heartbeat
 *   of either kind.
 * - Reconnects tell "nobody home" from "server in trouble" (backoff.ts): a refused or unanswered TCP connect is
 *   retried every 1–3 s forever; failures after the connect back off exponentially. The first authentication after
 *   refused connects (the server just came back, the whole fleet with it) is spread over `rejoinWindowMs`.
 * - EOF, RST and write errors end the connection at once (the reference agent noticed neither, §3.5).
 * - Every frame is copied whole into a pooled write buffer (frame-writer.ts) and leaves in one `write` (split
 *   prefixes confuse the server, §14). The socket never holds a view of a caller's memory: `sendEncoded` may be
 *   given a spool reader's payload, which the reader reuses, and write buffers are reused once written instead of
 *   left to the GC. `cork()`/`uncork()` gather whole frames into one write; a cork never outlives one event-loop
 *   turn.
 * - The per-frame path does no work nobody asked for: trace entries are built when read (or when a 'wire' listener
 *   exists), and spooled frames go out as their stored bytes (`sendEncoded`), validated when they were spooled and
 *   decoded only if a sampled trace entry is built from them.
 * - Deliberate closes (pause, reconfigure, stop) first make sure every written frame was received (a heartbeat
 *   round trip), then reset the socket: the real server never notices a FIN and would poll a CLOSE-WAIT socket
 *   forever (§14), and an RST discards data the peer has not read yet, hence the round trip first.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type tls from 'node:tls';
import {
  type ConnectionStateName,
  type ConnectionView,
  type FrameData,
  type VerbCounters,
  type WireFrame,
  type WireTraceEntry,
} from '../../../src-shared/view-models';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  encodeFrameTransient,
  FrameDecoder,
} from '../protocol/codec';
import { FrameValidationError, ProtocolError } from '../protocol/errors';
import { authFrame, heartbeatFrame } from '../protocol/frames';
import { checkMaxFrameBytes, frameByteLength, validateOutgoingFrame } from '../protocol/validate';
import { spooledFrameVerb } from '../protocol/wire-bytes';
import { Backoff, type BackoffOptions } from './backoff';
import { FrameWriter, type FrameWriterStats } from './frame-writer';
import { describeSocketError, describeState, ERROR_STATES } from './states';
import { KeyRedactor, WireTrace } from './wire-trace';

export interface ConnectionTlsOptions {
  enabled: boolean;
  /** PEM file with the CA(s) that sign the server certificate; default: the system store. */
  caFile?: string;
  /** Client certificate + key (PEM files), when the server asks for one. */
  certFile?: string;
  keyFile?: string;
  /** Name checked against the server certificate (and sent as SNI); default: `host`. */
  serverName?: string;
  /** Default true. false accepts any certificate (testing only). */
  rejectUnauthorized?: boolean;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  groupId: string;
  serverId: string;
  groupKey: string;
  tls?: ConnectionTlsOptions;
  /** TCP connect + TLS handshake. Default 10 s. */
  connectTimeoutMs?: number;
  /** Wait for the `accepted`/`denied` verdict. Default 10 s. */
  authTimeoutMs?: number;
  /** Default 60 s. */
  heartbeatIntervalMs?: number;
  /** Reply timeout of a heartbeat (and a barrier). Default min(0.9 × interval, 30 s), so a dead peer shows within two intervals. */
  heartbeatTimeoutMs?: number;
  /** Reconnect schedule (see BackoffOptions); the rejoin window is `rejoinWindowMs` below. */
  backoff?: Pick<
    BackoffOptions,
    'baseMs' | 'capMs' | 'deniedMs' | 'stableMs' | 'refusedMinMs' | 'refusedMaxMs'
  >;
  /**
   * After refused connects, the first successful TCP connect (the server is back — and so is every agent of the
   * fleet) may wait before authenticating so the server's auth work spreads; every such authentication still happens
   * within this long of the server's return (Backoff.rejoinDelay). Default 4500 ms; 0 = at once.
   */
  rejoinWindowMs?: number;
  /** Outgoing frame budget incl. the 2-byte header (config `max_frame_bytes`). Default 8192. */
  maxFrameBytes?: number;
  /** Wire trace ring size. Default 500; 0 disables the ring (the 'wire' event still fires). */
  traceCapacity?: number;
  /**
   * Frames traced (ring and 'wire' event) per second at most; the others are only counted (`unsampled` of the next
   * entry). A 100k-line burst would otherwise build an entry per frame for a view that shows a few. Default 200.
   */
  traceSamplePerSecond?: number;
  /** Bound on the "make sure the server got everything" round trip of a deliberate close. Default 2 s. */
  closeFlushTimeoutMs?: number;
  /** Uniform random in [0, 1) for the backoff jitter; injectable for tests. */
  random?: () => number;
}

export interface ConnectionDown {
  connectionId: number;
  reason: string;
}

export interface IncomingCommand {
  uuid: string;
  data: FrameData;
}

export interface BarrierResult {
  connectionId: number;
  rttMs: number;
}

export interface ConnectionEvents {
  /** Every state change (and a new retry time). Counters change without an event: poll `view()`. */
  state: [ConnectionView];
  /** A connection was authenticated; the argument is its connection id. */
  ready: [number];
  /** An authenticated connection ended (deliberately or not). */
  down: [ConnectionDown];
  /** A `C` frame from the server: a command to run. */
  command: [IncomingCommand];
  /** Every frame in and out (key redacted). */
  wire: [WireTraceEntry];
  /** The socket buffer went below its high-water mark again (see `writableNeedsDrain`). */
  drain: [];
}

/** Rejection of `barrier()` / pending requests when the connection is not usable or dies. */
export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';
}

interface ResolvedOptions {
  host: string;
  port: number;
  groupId: string;
  serverId: string;
  groupKey: string;
  tls: ConnectionTlsOptions | null;
  connectTimeoutMs: number;
  authTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  maxFrameBytes: number;
  traceCapacity: number;
  traceSamplePerSecond: number;
  closeFlushTimeoutMs: number;
}

interface PendingRequest {
  kind: 'auth' | 'heartbeat';
  sentAt: number;
  timer: NodeJS.Timeout;
  resolve: (reply: FrameData) => void;
  reject: (error: Error) => void;
}

interface Link {
  raw: net.Socket;
  /** The stream frames travel on: `raw`, or the TLS socket layered on it. */
  io: net.Socket;
  decoder: FrameDecoder;
  phase: 'connecting' | 'tls' | 'authenticating' | 'connected';
  connectionId: number | null;
  pending: Map<string, PendingRequest>;
  timers: Set<NodeJS.Timeout>;
  heartbeat: NodeJS.Timeout | null;
  /** When the last heartbeat (periodic or barrier) was sent on this link. */
  lastHeartbeatAt: number;
  /** Set once: nothing done on behalf of this link after it ended. */
  dead: boolean;
  /** A deliberate close is flushing: no new frames are accepted. */
  closing: boolean;
}

interface Failure {
  state: ConnectionStateName;
  /** Detail appended to the state's explanation. */
  detail: string;
  denied?: boolean;
  /** The state's own explanation says it all: do not append the detail. */
  quiet?: boolean;
  /** The TCP connect itself failed (refused, unreachable, timed out): nobody home, retry soon. */
  beforeConnect?: boolean;
}

function emptyCounters(): VerbCounters {
  return { frames: {}, bytes: {} };
}

function resolveOptions(options: ConnectionOptions): ResolvedOptions {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 60_000;
  if (!(heartbeatIntervalMs > 0))
    throw new RangeError(`heartbeatIntervalMs must be > 0, got ${heartbeatIntervalMs}`);
  return {
    host: options.host,
    port: options.port,
    groupId: options.groupId,
    serverId: options.serverId,
    groupKey: options.groupKey,
    tls: options.tls?.enabled ? options.tls : null,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    authTimeoutMs: options.authTimeoutMs ?? 10_000,
    heartbeatIntervalMs,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? Math.min(Math.floor(heartbeatIntervalMs * 0.9), 30_000),
    maxFrameBytes: checkMaxFrameBytes(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES),
    traceCapacity: options.traceCapacity ?? 500,
    traceSamplePerSecond: Math.max(1, Math.floor(options.traceSamplePerSecond ?? 200)),
    closeFlushTimeoutMs: options.closeFlushTimeoutMs ?? 2_000,
  };
}

export class ConnectionManager extends EventEmitter<ConnectionEvents> {
  private opts: ResolvedOptions;
  private backoff: Backoff;
  private redactor: KeyRedactor;
  private readonly wireTrace: WireTrace;
  private readonly random: (() => number) | undefined;
  /** false for the one-shot `testConnection`: failures end in their state without a retry. */
  private readonly retry: boolean;

  private started = false;
  private paused = false;
  private link: Link | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Pending deliberate close; a new connection waits for it. */
  private closing: Promise<void> | null = null;
  /** Connect attempts so far since start; all but the first count as reconnects. */
  private attempts = 0;
  private lastConnectionId = 0;
  /** The last attempt's TCP connect failed: the next connect that succeeds is a rejoin (spread the auth). */
  private refusedStreak = false;
  /** The retry delay after the last refused connect (the server came back within it). */
  private lastRefusedDelayMs = 0;

  private currentState: ConnectionStateName = 'idle';
  private explanation: string;
  private fixHint = '';
  private connectedSince: number | null = null;
  private offlineSince: number | null = null;
  private lastHeartbeatRttMs: number | null = null;
  private reconnects = 0;
  private nextRetryAt: number | null = null;
  private lastError: string | null = null;
  private readonly countersIn = emptyCounters();
  private readonly countersOut = emptyCounters();
  private invalidFramesRefused = 0;
  /** Nesting depth of `cork()` calls not yet matched by `uncork()`. */
  private corkDepth = 0;
  /** The socket corked by the outermost `cork()` (it may be gone by the time of `uncork()`). */
  private corkedSocket: net.Socket | null = null;
  /** Releases a cork at the end of the event-loop turn if `uncork()` never comes. */
  private corkGuard: NodeJS.Immediate | null = null;
  /** Copies every outgoing frame into a pooled buffer and writes it (held back while corked). */
  private readonly frameWriter = new FrameWriter();
  /** Trace sampling: the current one-second window, frames traced in it, frames skipped since the last entry. */
  private traceWindowStartedAt = 0;
  private tracedInWindow = 0;
  private unsampledFrames = 0;

  constructor(options: ConnectionOptions, internal: { retry?: boolean } = {}) {
    super();
    this.opts = resolveOptions(options);
    this.random = options.random;
    this.backoff = new Backoff({
      ...options.backoff,
      rejoinWindowMs: options.rejoinWindowMs,
      random: options.random,
    });
    this.redactor = new KeyRedactor(options.groupKey);
    this.wireTrace = new WireTrace(this.opts.traceCapacity);
    this.retry = internal.retry ?? true;
    this.explanation = describeState('idle', this.where()).explanation;
  }

  // ---- public API ----------------------------------------------------------------------------------------------

  get state(): ConnectionStateName {
    return this.currentState;
  }

  /** Id of the current authenticated connection (1, 2, … per manager), or null when not connected. */
  get connectionId(): number | null {
    return this.isReady() ? (this.link?.connectionId ?? null) : null;
  }

  isReady(): boolean {
    const link = this.link;
    return link !== null && link.phase === 'connected' && !link.closing && !link.dead;
  }

  /** Reply timeout of heartbeats and barriers (the delivery pump sizes its in-flight window from it). */
  get heartbeatTimeoutMs(): number {
    return this.opts.heartbeatTimeoutMs;
  }

  /** The write buffers' pool: how many were allocated, how many wait for reuse (tests, the bench). */
  get writeBufferStats(): FrameWriterStats {
    return this.frameWriter.stats;
  }

  /**
   * True when the socket buffer is above its high-water mark: wait for 'drain' before sending more. The socket
   * counts what this connection wrote and the socket has not sent yet (a cork's frames once it ends).
   */
  get writableNeedsDrain(): boolean {
    return this.link?.io.writableNeedDrain ?? false;
  }

  view(): ConnectionView {
    return {
      state: this.currentState,
      explanation: this.explanation,
      fixHint: this.fixHint,
      host: this.opts.host,
      port: this.opts.port,
      tls: this.opts.tls !== null,
      connectedSince: this.connectedSince,
      offlineSince: this.offlineSince,
      lastHeartbeatRttMs: this.lastHeartbeatRttMs,
      reconnects: this.reconnects,
      nextRetryAt: this.nextRetryAt,
      lastError: this.lastError,
      in: structuredClone(this.countersIn),
      out: structuredClone(this.countersOut),
      invalidFramesRefused: this.invalidFramesRefused,
    };
  }

  /** The wire trace ring buffer, oldest first (group key redacted). */
  trace(): WireTraceEntry[] {
    return this.wireTrace.entries();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.paused = false;
    this.attempts = 0;
    this.backoff.reset();
    this.connectNow();
  }

  /** Finishes whole frames (bounded round trip), resets the socket, and stays idle until `start()`. */
  async stop(): Promise<void> {
    this.started = false;
    this.paused = false;
    this.cancelRetry();
    await this.closeDeliberately('stopped');
    this.offlineSince = null;
    this.setState('idle');
  }

  /** Closes the connection on purpose and does not reconnect until `resume()`. */
  pause(): void {
    if (!this.started || this.paused) return;
    this.paused = true;
    this.cancelRetry();
    void this.closeDeliberately('paused');
    this.setState('paused');
  }

  resume(): void {
    if (!this.started || !this.paused) return;
    this.paused = false;
    this.backoff.reset();
    this.connectNow();
  }

  /** Skips the wait before the next retry; a healthy connection is closed and re-established. No-op when paused. */
  reconnectNow(): void {
    if (!this.started || this.paused) return;
    const link = this.link;
    if (link && (link.phase !== 'connected' || link.closing)) return;
    this.cancelRetry();
    this.backoff.reset();
    if (link) void this.closeDeliberately('reconnect requested');
    this.connectNow();
  }

  /** Applies new options: a deliberate close and an immediate reconnect when running (not when paused/stopped). */
  reconfigure(options: ConnectionOptions): void {
    const resolved = resolveOptions(options);
    this.opts = resolved;
    this.backoff = new Backoff({
      ...options.backoff,
      rejoinWindowMs: options.rejoinWindowMs,
      random: options.random ?? this.random,
    });
    this.redactor = new KeyRedactor(options.groupKey);
    this.wireTrace.setCapacity(resolved.traceCapacity);
    if (!this.started || this.paused) {
      if (!this.started) this.setState('idle');
      return;
    }
    this.cancelRetry();
    if (this.link) void this.closeDeliberately('reconfigured');
    this.connectNow();
  }

  /**
   * Sends one frame. Throws FrameValidationError for a frame that must never reach the server (a caller bug; it is
   * counted in `invalidFramesRefused`). Returns false when not connected: the caller keeps the frame.
   */
  send(frame: WireFrame): boolean {
    try {
      validateOutgoingFrame(frame, { maxFrameBytes: this.opts.maxFrameBytes });
    } catch (e) {
      if (e instanceof FrameValidationError) this.invalidFramesRefused += 1;
      throw e;
    }
    const link = this.link;
    if (!link || !this.isReady()) return false;
    return this.write(link, frame);
  }

  /**
   * Sends a frame already encoded and validated (a spool record: validated when spooled) as its bytes, which are
   * copied before this returns: the caller may reuse them at once. Skips the second validation and encoding, and
   * the decoding too: `frame`, when the caller has it, must be the decoding of `bytes`; without it the bytes are
   * decoded only for a sampled trace entry. Checks in O(1) that the bytes are one whole frame within
   * `maxFrameBytes` (the budget may have shrunk since the frame was spooled: then `send` refuses it with the usual
   * FrameValidationError). Returns false when not connected: the caller keeps the frame.
   */
  sendEncoded(bytes: Uint8Array, frame?: WireFrame): boolean {
    const length = bytes.length;
    if (length < 3 || (((bytes[0] as number) << 8) | (bytes[1] as number)) !== length - 2) {
      this.invalidFramesRefused += 1;
      throw new FrameValidationError(
        'encoding-mismatch',
        `sendEncoded got ${length} bytes that are not one whole frame (length prefix disagrees)`,
        frame ? this.redactor.frame(frame) : null,
      );
    }
    if (length > this.opts.maxFrameBytes) return this.send(frame ?? this.decodeForValidation(bytes));
    let known = frame ?? null;
    let verb = spooledFrameVerb(bytes);
    if (verb === null) {
      // Not the layout the core's encoder writes: the verb (for the counters) needs a decode.
      known ??= this.decodeForValidation(bytes);
      verb = known[0];
    }
    const link = this.link;
    if (!link || !this.isReady() || link.dead || link.io.destroyed) return false;
    return this.writeBytes(link, verb, bytes, known);
  }

  /** Whole-frame bytes that do not decode are refused like any frame that must never be sent. */
  private decodeForValidation(bytes: Uint8Array): WireFrame {
    try {
      return decodeFrame(bytes);
    } catch (e) {
      this.invalidFramesRefused += 1;
      throw new FrameValidationError(
        'encoding-mismatch',
        `sendEncoded got bytes that do not decode as a frame: ${(e as Error).message}`,
        null,
      );
    }
  }

  /**
   * Holds frames back until the matching `uncork()`, so a burst leaves in one write instead of one syscall per frame:
   * they are copied into one write buffer (a full one is written and the next one taken; a frame is never split
   * between two writes, §14). Frames written meanwhile for any reason (heartbeats, barriers) go into the same buffer,
   * in order. Nestable. A cork lasts at most until the end of the current event-loop turn (a forgotten `uncork()`
   * cannot hold heartbeats back), and ends with the connection.
   */
  cork(): void {
    this.corkDepth += 1;
    if (this.corkDepth > 1) return;
    const link = this.link;
    if (!link || link.dead || link.io.destroyed) return;
    link.io.cork();
    this.corkedSocket = link.io;
    this.corkGuard = setImmediate(() => {
      this.corkGuard = null;
      this.releaseCork();
    });
  }

  /** Ends a `cork()`; the outermost one writes everything held back. Extra calls are ignored. */
  uncork(): void {
    if (this.corkDepth === 0) return;
    this.corkDepth -= 1;
    if (this.corkDepth === 0) this.releaseCork();
  }

  /**
   * Sends a heartbeat now and resolves on its reply on the same connection. The server handles a connection in
   * order, so every frame sent before the barrier has then been received. Rejects when not ready, when the
   * connection dies first, or when the reply times out (which also ends the connection: the peer is dead).
   */
  barrier(): Promise<BarrierResult> {
    const link = this.link;
    if (!link || !this.isReady() || link.connectionId === null) {
      return Promise.reject(new ConnectionLostError('not connected'));
    }
    return this.heartbeatOn(link);
  }

  // ---- connecting ------------------------------------------------------------------------------------------------

  private where(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  /** Connects right away (user action, start, new options) once a deliberate close in progress is done. */
  private connectNow(): void {
    this.cancelRetry();
    void this.connectWhenClosed();
  }

  /** Schedules the next attempt after a failure; always through a timer so the failure state is shown first. */
  private connectLater(delayMs: number): void {
    this.cancelRetry();
    this.nextRetryAt = Date.now() + delayMs;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.nextRetryAt = null;
      void this.connectWhenClosed();
    }, delayMs);
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.nextRetryAt = null;
  }

  private async connectWhenClosed(): Promise<void> {
    while (this.closing) await this.closing;
    if (!this.started || this.paused || this.link || this.retryTimer) return;
    this.openLink();
  }

  private openLink(): void {
    this.attempts += 1;
    if (this.attempts > 1) this.reconnects += 1;
    const opts = this.opts;
    const raw = new net.Socket();
    const link: Link = {
      raw,
      io: raw,
      decoder: new FrameDecoder(),
      phase: 'connecting',
      connectionId: null,
      pending: new Map(),
      timers: new Set(),
      heartbeat: null,
      lastHeartbeatAt: 0,
      dead: false,
      closing: false,
    };
    this.link = link;
    this.setState('connecting');

    raw.setNoDelay(true);
    this.addTimer(link, opts.connectTimeoutMs, () =>
      this.fail(link, {
        state: link.phase === 'tls' ? 'tls-error' : 'unreachable',
        beforeConnect: link.phase === 'connecting',
        detail:
          link.phase === 'tls'
            ? `TLS handshake did not finish within ${opts.connectTimeoutMs} ms`
            : `connect timed out after ${opts.connectTimeoutMs} ms`,
      }),
    );
    raw.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(link, error));
    raw.on('close', () => this.onSocketClose(link));
    raw.once('connect', () => {
      if (link.dead) return;
      raw.setKeepAlive(true, 10_000);
      if (opts.tls) {
        const tlsOptions = opts.tls;
        link.phase = 'tls';
        // node:tls is loaded by the first TLS connection: a plain-TCP agent never pays for it (~0.5 MB RSS).
        import('node:tls').then(
          ({ connect }) => {
            if (!link.dead) this.startTls(link, tlsOptions, connect);
          },
          (e: unknown) => this.fail(link, { state: 'tls-error', detail: String(e) }),
        );
      } else this.onTransportReady(link);
    });
    raw.connect({ host: opts.host, port: opts.port });
  }

  private startTls(link: Link, options: ConnectionTlsOptions, connectTls: typeof tls.connect): void {
    let secure: tls.TLSSocket;
    try {
      secure = connectTls({
        socket: link.raw,
        host: this.opts.host,
        // SNI must not be an IP address; the certificate is checked against servername, else host.
        servername: options.serverName ?? (net.isIP(this.opts.host) ? undefined : this.opts.host),
        ca: options.caFile ? readFileSync(options.caFile) : undefined,
        cert: options.certFile ? readFileSync(options.certFile) : undefined,
        key: options.keyFile ? readFileSync(options.keyFile) : undefined,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
      });
    } catch (e) {
      // Unreadable CA/cert/key files or bad PEM.
      this.fail(link, { state: 'tls-error', detail: e instanceof Error ? e.message : String(e) });
      return;
    }
    link.io = secure;
    secure.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(link, error));
    secure.on('close', () => this.onSocketClose(link));
    secure.once('secureConnect', () => {
      if (!link.dead) this.onTransportReady(link);
    });
  }

  /** TCP (and TLS) is up: wire the reader and authenticate. */
  private onTransportReady(link: Link): void {
    for (const timer of link.timers) clearTimeout(timer);
    link.timers.clear();
    link.phase = 'authenticating';
    this.setState('authenticating');
    link.io.on('data', (chunk: Buffer) => this.onData(link, chunk));
    link.io.on('end', () => this.onEnd(link));
    link.io.on('drain', () => {
      if (link === this.link && !link.dead) this.emit('drain');
    });

    const rejoin = this.refusedStreak;
    this.refusedStreak = false;
    const spreadMs = rejoin ? this.backoff.rejoinDelay(this.lastRefusedDelayMs) : 0;
    if (spreadMs > 0) this.addTimer(link, spreadMs, () => this.authenticate(link));
    else this.authenticate(link);
  }

  /** Sends the authentication frame (the first frame on every connection) and waits for the verdict. */
  private authenticate(link: Link): void {
    if (link.dead) return;
    const opts = this.opts;
    const frame = authFrame(opts.groupId, opts.serverId, opts.groupKey);
    let reply: Promise<FrameData>;
    try {
      validateOutgoingFrame(frame, { maxFrameBytes: opts.maxFrameBytes });
      reply = this.request(link, frame, 'auth', opts.authTimeoutMs);
    } catch (e) {
      // E.g. an empty key or a server id that is not a lowercase UUID: a configuration problem, shown as such.
      const detail = e instanceof Error ? e.message : String(e);
      this.fail(link, {
        state: 'no-auth-reply',
        detail: `the authentication frame was refused before sending: ${detail}`,
      });
      return;
    }
    reply.then(
      (data) => this.onAuthReply(link, data),
      (error: Error) => {
        if (error instanceof RequestTimeoutError) {
          this.fail(link, { state: 'no-auth-reply', detail: `no answer within ${opts.authTimeoutMs} ms` });
        }
        // Other rejections come from fail() itself.
      },
    );
  }

  private onAuthReply(link: Link, data: FrameData): void {
    if (link.dead) return;
    const verdict = data[1];
    const text = Array.isArray(verdict) ? verdict.join('') : (verdict ?? '');
    // Same rule as the reference agent: authenticated iff the verdict contains "accepted".
    if (!text.includes('accepted')) {
      // The usual verdict is exactly "denied"; anything else is shown, it may say more.
      const detail = text === 'denied' ? '' : `verdict ${JSON.stringify(text)}`;
      this.fail(link, { state: 'denied', detail: detail || 'denied', denied: true, quiet: detail === '' });
      return;
    }
    this.lastConnectionId += 1;
    link.connectionId = this.lastConnectionId;
    link.phase = 'connected';
    const now = Date.now();
    this.connectedSince = now;
    this.offlineSince = null;
    this.backoff.connected(now);
    link.lastHeartbeatAt = Date.now();
    this.scheduleHeartbeat(link);
    this.setState('connected');
    this.emit('ready', link.connectionId);
  }

  // ---- requests (auth, heartbeat) ---------------------------------------------------------------------------------

  /** Arms the periodic heartbeat for `heartbeatIntervalMs` after the last heartbeat of either kind. */
  private scheduleHeartbeat(link: Link): void {
    if (link.dead) return;
    if (link.heartbeat) clearTimeout(link.heartbeat);
    const due = link.lastHeartbeatAt + this.opts.heartbeatIntervalMs;
    link.heartbeat = setTimeout(
      () => {
        link.heartbeat = null;
        if (link.dead) return;
        // A barrier went out meanwhile: it was the heartbeat.
        if (Date.now() < link.lastHeartbeatAt + this.opts.heartbeatIntervalMs) this.scheduleHeartbeat(link);
        else this.heartbeatOn(link).catch(() => undefined);
      },
      Math.max(0, due - Date.now()),
    );
  }

  private heartbeatOn(link: Link): Promise<BarrierResult> {
    const connectionId = link.connectionId ?? 0;
    const sentAt = Date.now();
    link.lastHeartbeatAt = sentAt;
    if (link.phase === 'connected') this.scheduleHeartbeat(link);
    const frame = heartbeatFrame(this.opts.groupId, this.opts.serverId);
    return this.request(link, frame, 'heartbeat', this.opts.heartbeatTimeoutMs).then(
      () => {
        const rttMs = Date.now() - sentAt;
        this.lastHeartbeatRttMs = rttMs;
        return { connectionId, rttMs };
      },
      (error: Error) => {
        if (error instanceof RequestTimeoutError) {
          this.fail(link, {
            state: 'unreachable',
            detail: `no heartbeat reply within ${this.opts.heartbeatTimeoutMs} ms (the server or the network stopped answering)`,
          });
          throw new ConnectionLostError(error.message);
        }
        throw error;
      },
    );
  }

  private request(
    link: Link,
    frame: WireFrame,
    kind: PendingRequest['kind'],
    timeoutMs: number,
  ): Promise<FrameData> {
    return new Promise<FrameData>((resolve, reject) => {
      const uuid = frame[1];
      const timer = setTimeout(() => {
        link.pending.delete(uuid);
        reject(new RequestTimeoutError(`${kind} reply timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      link.pending.set(uuid, { kind, sentAt: Date.now(), timer, resolve, reject });
      if (!this.write(link, frame)) {
        clearTimeout(timer);
        link.pending.delete(uuid);
        reject(new ConnectionLostError('connection closed before the request was sent'));
      }
    });
  }

  // ---- I/O -------------------------------------------------------------------------------------------------------

  /** One encode (into the encoder's scratch buffer: the write copies it at once), one write. */
  private write(link: Link, frame: WireFrame): boolean {
    if (link.dead || link.io.destroyed) return false;
    return this.writeBytes(link, frame[0], encodeFrameTransient(frame), frame);
  }

  /**
   * One whole encoded frame (on a live link) copied into the write buffer and written (at once, or when the cork
   * ends), counted and traced. `frame` null: the bytes are decoded only if a trace entry is built from them. The
   * bytes are borrowed (a reader's payload, the encoder's scratch): they may change after this returns, so a kept
   * trace entry gets a copy.
   */
  private writeBytes(link: Link, verb: string, bytes: Uint8Array, frame: WireFrame | null): boolean {
    this.frameWriter.add(link.io, bytes, this.corkedSocket === link.io);
    count(this.countersOut, verb, bytes.length);
    if (frame) this.traceFrame('out', frame, bytes, true);
    else this.traceEncoded('out', bytes, true);
    return true;
  }

  /** Writes out what a cork held back (when its socket still lives) and forgets the cork. */
  private releaseCork(): void {
    this.corkDepth = 0;
    if (this.corkGuard) clearImmediate(this.corkGuard);
    this.corkGuard = null;
    const socket = this.corkedSocket;
    this.corkedSocket = null;
    if (!socket) return;
    this.frameWriter.flush();
    if (!socket.destroyed && socket.writableCorked > 0) socket.uncork();
    this.frameWriter.settle(socket);
  }

  private onData(link: Link, chunk: Buffer): void {
    if (link.dead) return;
    let frames: WireFrame[];
    let failure: ProtocolError | null = null;
    try {
      frames = link.decoder.push(chunk);
    } catch (e) {
      failure = e instanceof ProtocolError ? e : new ProtocolError('bad-msgpack', String(e));
      frames = failure.framesBeforeError;
    }
    for (const frame of frames) {
      if (link.dead) return;
      this.onFrame(link, frame);
    }
    if (failure && !link.dead) {
      this.traceRaw('in', chunk, failure.message);
      this.fail(link, { state: 'protocol-error', detail: failure.message });
    }
  }

  private onFrame(link: Link, frame: WireFrame): void {
    const [verb, uuid, data] = frame;
    count(this.countersIn, verb, frameByteLength(frame));
    // Incoming frames are strict (decoder), so re-encoding reproduces the wire bytes exactly (done when needed).
    this.traceFrame('in', frame, null);
    if (verb === 'R') {
      const pending = link.pending.get(typeof data[0] === 'string' ? data[0] : '');
      // Unknown or late replies (after their timeout) are ignored.
      if (!pending) return;
      clearTimeout(pending.timer);
      link.pending.delete(data[0] as string);
      pending.resolve(data);
      return;
    }
    if (verb === 'C') {
      if (link.phase !== 'connected') return;
      this.emit('command', { uuid, data });
    }
    // L, T, Q, S and unknown verbs from the server mean nothing to an agent: ignored like the reference.
  }

  private onEnd(link: Link): void {
    if (link.dead) return;
    this.fail(link, this.lossFailure(link, 'the server closed the connection (EOF)'));
  }

  private onSocketError(link: Link, error: NodeJS.ErrnoException): void {
    if (link.dead) return;
    // TLS 1.3 finishes the client side of the handshake before the server checks our certificate, so its alert
    // (e.g. "certificate required") arrives later, as an ERR_SSL_* error.
    if (link.phase === 'tls' || (error.code ?? '').startsWith('ERR_SSL_')) {
      this.fail(link, { state: 'tls-error', detail: error.message });
      return;
    }
    this.fail(link, this.lossFailure(link, describeSocketError(error), error.code));
  }

  private onSocketClose(link: Link): void {
    if (link.dead) return;
    if (link.phase === 'tls') {
      this.fail(link, {
        state: 'tls-error',
        detail: 'the server closed the connection during the TLS handshake',
      });
      return;
    }
    this.fail(link, this.lossFailure(link, 'connection closed'));
  }

  /** What a lost connection means depends on how far it got. */
  private lossFailure(link: Link, detail: string, code?: string): Failure {
    if (link.phase === 'authenticating') {
      // §14: a server without a command/PostgreSQL config drops the connection instead of answering.
      return { state: 'no-auth-reply', detail: `${detail} before answering the authentication` };
    }
    if (link.phase === 'connected') return { state: 'unreachable', detail: `connection lost: ${detail}` };
    // Refused / no route / no name: only a kernel (or nobody) answered. A reset here means a server accepted us.
    const nobodyHome = link.phase === 'connecting' && code !== undefined && NOBODY_HOME_CODES.has(code);
    return { state: 'unreachable', detail, beforeConnect: nobodyHome };
  }

  // ---- ending a connection ---------------------------------------------------------------------------------------

  /** An unplanned end: tear down, show the state, schedule the retry. */
  private fail(link: Link, failure: Failure): void {
    if (link.dead) return;
    this.teardown(link, failure.detail);
    const offline = this.offlineSince ?? Date.now();
    this.offlineSince = offline;
    const detail = failure.quiet ? describeState(failure.state, this.where()).explanation : failure.detail;
    this.lastError = this.redactor.text(`${failure.state}: ${detail}`);
    if (!this.started || this.paused || !this.retry) {
      if (!this.paused) this.setState(failure.state, failure.quiet ? undefined : failure.detail);
      return;
    }
    this.refusedStreak = failure.beforeConnect === true;
    const delay = failure.denied
      ? this.backoff.nextDenied()
      : failure.beforeConnect
        ? (this.lastRefusedDelayMs = this.backoff.nextRefused())
        : this.backoff.next();
    this.connectLater(delay);
    this.setState(failure.state, failure.quiet ? undefined : failure.detail);
  }

  /** Frees everything of the link and resets the socket. Emits 'down' if it had been authenticated. */
  private teardown(link: Link, reason: string): void {
    link.dead = true;
    if (this.corkedSocket === link.io) this.releaseCork();
    // Its buffer is not reused for a later connection while the socket may still be writing from it.
    this.frameWriter.discard(link.io);
    for (const timer of link.timers) clearTimeout(timer);
    link.timers.clear();
    if (link.heartbeat) clearTimeout(link.heartbeat);
    link.heartbeat = null;
    for (const pending of link.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new ConnectionLostError(this.redactor.text(reason)));
    }
    link.pending.clear();
    resetSocket(link);
    if (this.link === link) this.link = null;
    if (link.connectionId !== null) {
      this.connectedSince = null;
      this.backoff.disconnected();
      this.emit('down', { connectionId: link.connectionId, reason: this.redactor.text(reason) });
    }
  }

  /**
   * Deliberate close: no new frames, a bounded heartbeat round trip so every frame already written is known to be
   * received, then a reset. Waits for a close already in progress.
   */
  private closeDeliberately(reason: string): Promise<void> {
    const link = this.link;
    if (!link || link.closing) return this.closing ?? Promise.resolve();
    link.closing = true;
    const done = (async () => {
      if (link.phase === 'connected') {
        await withTimeout(this.heartbeatOn(link), this.opts.closeFlushTimeoutMs).catch(() => undefined);
      }
      if (!link.dead) this.teardown(link, reason);
    })();
    const closing = done.finally(() => {
      if (this.closing === closing) this.closing = null;
    });
    this.closing = closing;
    return closing;
  }

  // ---- state and trace -------------------------------------------------------------------------------------------

  private setState(state: ConnectionStateName, detail?: string): void {
    const text = describeState(state, this.where());
    this.currentState = state;
    this.explanation =
      detail && ERROR_STATES.has(state)
        ? `${text.explanation.replace(/\.$/, '')}: ${this.redactor.text(detail)}.`
        : text.explanation;
    this.fixHint = text.fixHint;
    if (state === 'connecting' || state === 'authenticating') this.offlineSince ??= Date.now();
    this.emit('state', this.view());
  }

  /** Tracing costs a hex string per frame: skip it when nobody keeps or listens to it. */
  private tracing(): boolean {
    return this.wireTrace.keeping || this.listenerCount('wire') > 0;
  }

  /**
   * At most `traceSamplePerSecond` frames a second are traced; the rest cost a counter. Without a ring and without a
   * listener, nothing at all.
   */
  private sampled(): boolean {
    if (!this.tracing()) return false;
    const now = Date.now();
    if (now - this.traceWindowStartedAt >= 1000) {
      this.traceWindowStartedAt = now;
      this.tracedInWindow = 0;
    }
    if (this.tracedInWindow >= this.opts.traceSamplePerSecond) {
      this.unsampledFrames += 1;
      return false;
    }
    this.tracedInWindow += 1;
    return true;
  }

  /** A listener gets its entry now; otherwise the ring keeps the parts and builds the entry if it is ever read. */
  private traceFrame(
    direction: 'in' | 'out',
    frame: WireFrame,
    bytes: Uint8Array | null,
    borrowed = false,
  ): void {
    if (!this.sampled()) return;
    // The entry keeps the bytes actually written: borrowed ones (they may change after the call) as a copy.
    if (borrowed && bytes) bytes = Buffer.from(bytes);
    const unsampled = this.unsampledFrames;
    this.unsampledFrames = 0;
    if (this.listenerCount('wire') > 0) {
      const wire = bytes ?? encodeFrame(frame);
      this.emit('wire', this.wireTrace.record(this.redactor, direction, frame, wire, undefined, unsampled));
    } else {
      this.wireTrace.recordLazily(this.redactor, direction, frame, bytes, unsampled);
    }
  }

  /**
   * `traceFrame` for encoded bytes whose frame was not decoded (a spooled frame): decoded only when traced.
   * `borrowed` bytes (they may change after the call) are copied for the entry.
   */
  private traceEncoded(direction: 'in' | 'out', bytes: Uint8Array, borrowed = false): void {
    if (!this.sampled()) return;
    if (borrowed) bytes = Buffer.from(bytes);
    const unsampled = this.unsampledFrames;
    this.unsampledFrames = 0;
    if (this.listenerCount('wire') > 0) {
      this.emit('wire', this.wireTrace.recordEncoded(this.redactor, direction, bytes, unsampled));
    } else {
      this.wireTrace.recordEncodedLazily(this.redactor, direction, bytes, unsampled);
    }
  }

  /** Undecodable input is always traced (it ends the connection: one entry). */
  private traceRaw(direction: 'in' | 'out', bytes: Uint8Array, error: string): void {
    if (!this.tracing()) return;
    const unsampled = this.unsampledFrames;
    this.unsampledFrames = 0;
    this.emit('wire', this.wireTrace.record(this.redactor, direction, null, bytes, error, unsampled));
  }

  private addTimer(link: Link, ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      link.timers.delete(timer);
      fn();
    }, ms);
    link.timers.add(timer);
  }
}

/** Connect errors that cost the server nothing: retried on the short refused schedule (backoff.ts). */
const NOBODY_HOME_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

function count(counters: VerbCounters, verb: string, bytes: number): void {
  counters.frames[verb] = (counters.frames[verb] ?? 0) + 1;
  counters.bytes[verb] = (counters.bytes[verb] ?? 0) + bytes;
}

/**
 * RST instead of FIN (§14): the real server never notices a FIN and keeps a CLOSE-WAIT socket forever. A socket
 * still connecting is reset as soon as it connects (the server may already have accepted it), and destroyed
 * outright a moment later in case it never does.
 */
function resetSocket(link: Link): void {
  const { raw, io } = link;
  if (!raw.destroyed) {
    raw.resetAndDestroy();
    if (raw.connecting) setTimeout(() => raw.destroy(), 1_000).unref();
  }
  // The TLS layer goes after the reset so its teardown cannot send a FIN first.
  if (io !== raw && !io.destroyed) io.destroy();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export interface ConnectionTestOutcome {
  ok: boolean;
  state: ConnectionStateName;
  explanation: string;
  fixHint: string;
  durationMs: number;
}

/** Connects and authenticates once, without retry, then closes (with a reset). For `minion-agent test` and the GUI. */
export async function testConnection(options: ConnectionOptions): Promise<ConnectionTestOutcome> {
  const startedAt = Date.now();
  let manager: ConnectionManager;
  try {
    manager = new ConnectionManager({ ...options, traceCapacity: 0 }, { retry: false });
  } catch (e) {
    // Bad options (e.g. max_frame_bytes out of range) are a configuration problem, reported like any other outcome.
    const detail = e instanceof Error ? e.message : String(e);
    return {
      ok: false,
      state: 'idle',
      explanation: `Invalid connection settings: ${detail}`,
      fixHint: 'Fix the configuration.',
      durationMs: 0,
    };
  }
  const outcome = await new Promise<ConnectionTestOutcome>((resolve) => {
    const finish = (view: ConnectionView): void => {
      manager.off('state', onState);
      resolve({
        ok: view.state === 'connected',
        state: view.state,
        explanation: view.explanation,
        fixHint: view.fixHint,
        durationMs: Date.now() - startedAt,
      });
    };
    const onState = (view: ConnectionView): void => {
      if (view.state === 'connected' || ERROR_STATES.has(view.state)) finish(view);
    };
    manager.on('state', onState);
    manager.start();
  });
  await manager.stop();
  return outcome;
}
