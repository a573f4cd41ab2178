/**
 * A small in-process stand-in for the Crystal Minion StreamServer (protocol.md §3–§6, §14), for tests and the
 * "try it locally" mode. It answers like the real server towards an agent:
 *
 * - the same strict decoding: the connection is closed on every input §14 lists (zero-length frame, bad
 *   MessagePack, top-level map, 2-element array, integer/nil/map in data, non-hex UUID, `L` with < 4 items);
 * - `authenticate-agent`: `accepted` / `denied` then close / silence for an unknown group;
 *   `heartbeat`: `recorded`; with `commandsEnabled: false` both close the connection (a server without a
 *   `command:` section);
 * - in-memory stores of logs, telemetry and command results, and `dispatchCommand()` to send a `C` frame to an
 *   authenticated server id and await its `R`;
 * - a poison detector: frames that would have silently killed the real server's writers (§14) are not stored but
 *   recorded in `poisonFrames` and emitted as `'poison'`. Tests assert it stays empty.
 *
 * - optionally the real server's storage model (`storage`): frames are read at once (a heartbeat answered after them
 *   proves only that) but stored at the next flush, like a file destination's `syncinterval` or a PostgreSQL
 *   destination's queue; `kill()` loses what was not flushed yet. Heartbeats are counted and can be made slow
 *   (`heartbeatDelayMs`, like the `heartbeat_at` commit, which holds the connection's later frames back too).
 *
 * Differences from the real server are listed in docs/sandbox.md.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { type FrameData, type WireFrame } from '../../src-shared/view-models';
import { encodeFrame, FrameDecoder } from '../agent/protocol/codec';
import { ProtocolError } from '../agent/protocol/errors';
import { isMinionUuid, newMinionUuid, serverCanParseUuidString } from '../agent/protocol/uuid';
import { frameByteLength } from '../agent/protocol/validate';

export interface SandboxGroup {
  id: string;
  key: string;
}

export interface SandboxTlsOptions {
  /** PEM private key and certificate of the server. */
  key: string | Buffer;
  cert: string | Buffer;
  /** PEM CA used to verify client certificates (with `requestCert`). */
  ca?: string | Buffer;
  /** Ask for (and require) a client certificate signed by `ca`. */
  requestCert?: boolean;
}

export interface SandboxServerOptions {
  host?: string;
  port?: number;
  groups: SandboxGroup[];
  /** false = a server without a `command:` section: auth and heartbeat close the connection without a reply. */
  commandsEnabled?: boolean;
  tls?: SandboxTlsOptions;
  /** Entries kept per store (logs, telemetry, results, frames), oldest dropped first (trimmed in chunks of 10 %). Default 100 000. */
  maxStored?: number;
  /**
   * Real-server storage model: received `L`/`T`/`R` frames are stored only at the next flush, every
   * `flushDelayMs` (default 1000), and `kill()` loses the unflushed ones. Without it, frames are stored on receipt.
   */
  storage?: { flushDelayMs?: number };
  /** Each heartbeat takes this long before its reply (a database commit); later frames on its connection wait. */
  heartbeatDelayMs?: number;
}

export type SandboxCloseCause =
  | 'client-fin'
  | 'client-reset'
  | 'server-protocol'
  | 'server-denied'
  | 'server-no-command-config'
  | 'server-stop'
  | 'error';

export interface SandboxConnectionInfo {
  id: number;
  remoteAddress: string;
  remotePort: number;
  openedAt: number;
  /** Group and server id of the last `accepted` authentication on this connection. */
  groupId: string | null;
  serverId: string | null;
  authenticated: boolean;
  framesIn: number;
  framesOut: number;
  closedAt: number | null;
  closeCause: SandboxCloseCause | null;
  /** Error text for protocol closes and socket errors. */
  closeDetail: string | null;
}

export interface SandboxLog {
  uuid: string;
  connectionId: number;
  groupId: string;
  serverId: string;
  service: string;
  message: string;
  /** Everything after the message (printed by io/file destinations, ignored by PostgreSQL). */
  extra: FrameData;
  receivedAt: number;
}

export interface SandboxTelemetry {
  uuid: string;
  connectionId: number;
  groupId: string;
  serverId: string;
  /** data[2..]: a name and its values, or a single `JSON:…` string. */
  values: string[];
  receivedAt: number;
}

export interface SandboxResult {
  /** UUID of the `R` frame itself. */
  uuid: string;
  connectionId: number;
  groupId: string;
  serverId: string;
  /** data[2]: the UUID of the `C` dispatch frame it answers. */
  commandUuid: string;
  /** data[3] / data[4] joined without separator, as the real server stores them. */
  stdout: string;
  stderr: string;
  data: FrameData;
  receivedAt: number;
}

export interface SandboxPoison {
  connectionId: number;
  frame: WireFrame;
  reason: string;
  receivedAt: number;
}

export interface SandboxFrameEvent {
  connectionId: number;
  frame: WireFrame;
  bytes: number;
  at: number;
}

export interface SandboxAuthEvent {
  connectionId: number;
  groupId: string;
  serverId: string;
  outcome: 'accepted' | 'denied' | 'unknown-group' | 'no-command-config';
}

export interface SandboxEvents {
  frame: [SandboxFrameEvent];
  log: [SandboxLog];
  telemetry: [SandboxTelemetry];
  result: [SandboxResult];
  poison: [SandboxPoison];
  auth: [SandboxAuthEvent];
  heartbeat: [{ connectionId: number; groupId: string; serverId: string }];
  connection: [SandboxConnectionInfo];
  disconnect: [SandboxConnectionInfo];
  'protocol-error': [{ connectionId: number; error: ProtocolError | Error }];
  /** Frames the real server drops silently: unknown group, unknown verb, Q/S. */
  dropped: [{ connectionId: number; frame: WireFrame; reason: string }];
}

export interface DispatchOptions {
  /** Reject when no `R` arrived within this time. Default 10 s. */
  timeoutMs?: number;
}

/** Thrown by dispatchCommand when the target is not connected (the real server drops such commands silently). */
export class SandboxDispatchError extends Error {
  override readonly name = 'SandboxDispatchError';
}

interface LiveConnection {
  info: SandboxConnectionInfo;
  socket: net.Socket;
  decoder: FrameDecoder;
  /** Frames decoded but not handled yet (a slow heartbeat holds the rest of the connection back). */
  queue: WireFrame[];
  /** A protocol error found after the queued frames (handled once they are). */
  failure: ProtocolError | null;
  /** A slow heartbeat is being "committed". */
  busy: NodeJS.Timeout | null;
}

interface PendingDispatch {
  serverId: string;
  resolve: (result: SandboxResult) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_MAX_STORED = 100_000;

export class SandboxServer extends EventEmitter<SandboxEvents> {
  readonly logs: SandboxLog[] = [];
  readonly telemetry: SandboxTelemetry[] = [];
  readonly results: SandboxResult[] = [];
  readonly poisonFrames: SandboxPoison[] = [];
  /** Every connection since the first start (open and closed), in order. */
  readonly connections: SandboxConnectionInfo[] = [];
  /** Every decoded frame received, in order (bounded like the stores). */
  readonly frames: SandboxFrameEvent[] = [];

  /** Mutable at runtime: tests flip it to simulate a reconfigured server. */
  commandsEnabled: boolean;
  /**
   * Mutable at runtime: when true, heartbeats get no reply (a hung server whose TCP stack still works).
   * Auth still works.
   */
  ignoreHeartbeats = false;
  /** Mutable at runtime: how long each heartbeat takes before its reply (see the option). */
  heartbeatDelayMs: number;
  /** Heartbeats received (auth excluded), in total and per server id: what barriers cost the server. */
  heartbeatCount = 0;
  readonly heartbeatsByServer = new Map<string, number>();
  /** Frames received but not stored yet (storage model); `kill()` loses them. */
  get unflushedFrames(): number {
    return this.unflushed.length;
  }
  /** Frames received and lost by `kill()` before they were stored. */
  lostOnKill = 0;

  private server: net.Server | null = null;
  private readonly groups = new Map<string, string>();
  private readonly live = new Map<number, LiveConnection>();
  /** server id → connection id of the last accepted auth (a later auth with the same id takes over, like §14). */
  private readonly registry = new Map<string, number>();
  private readonly pending = new Map<string, PendingDispatch>();
  private readonly seenUuids = new Set<string>();
  private nextConnectionId = 1;
  private boundPort: number;
  private readonly host: string;
  private readonly maxStored: number;
  private readonly flushDelayMs: number | null;
  private unflushed: Array<() => void> = [];
  private flushTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: SandboxServerOptions) {
    super();
    for (const group of options.groups) this.groups.set(group.id, group.key);
    this.commandsEnabled = options.commandsEnabled ?? true;
    this.host = options.host ?? '127.0.0.1';
    this.boundPort = options.port ?? 0;
    this.maxStored = options.maxStored ?? DEFAULT_MAX_STORED;
    this.flushDelayMs = options.storage ? Math.max(1, options.storage.flushDelayMs ?? 1000) : null;
    this.heartbeatDelayMs = options.heartbeatDelayMs ?? 0;
  }

  static async start(options: SandboxServerOptions): Promise<SandboxServer> {
    const sandbox = new SandboxServer(options);
    await sandbox.listen();
    return sandbox;
  }

  get address(): { host: string; port: number } {
    return { host: this.host, port: this.boundPort };
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** Connections currently open. */
  openConnections(): SandboxConnectionInfo[] {
    return [...this.live.values()].map((c) => c.info);
  }

  /** Server ids that can receive commands right now. */
  connectedServerIds(): string[] {
    return [...this.registry.keys()];
  }

  /** Adds or changes a group at runtime (e.g. a test rotates the key). */
  setGroup(group: SandboxGroup): void {
    this.groups.set(group.id, group.key);
  }

  /**
   * Sends `C [type, ...argv]` with a random v4 UUID (like PostgreSQL's gen_random_uuid) to the connection that last
   * authenticated as `serverId`, and resolves with the matching `R`.
   */
  dispatchCommand(
    serverId: string,
    type: string,
    argv: string[],
    options: DispatchOptions = {},
  ): Promise<SandboxResult> {
    const connectionId = this.registry.get(serverId);
    const connection = connectionId === undefined ? undefined : this.live.get(connectionId);
    if (!connection) {
      return Promise.reject(
        new SandboxDispatchError(`server ${serverId} is not connected and authenticated`),
      );
    }
    const uuid = randomUUID();
    const frame: WireFrame = ['C', uuid, [type, ...argv]];
    return new Promise<SandboxResult>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.pending.delete(uuid);
        reject(new SandboxDispatchError(`no result for command ${uuid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(uuid, { serverId, resolve, reject, timer });
      this.write(connection, frame);
    });
  }

  /** Stops listening and closes every connection (FIN, like a clean process exit: it flushes); the stores are kept. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const connection of [...this.live.values()]) this.closeConnection(connection, 'server-stop', null);
    this.flush();
    this.stopFlushing();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * The server process dies (SIGKILL): every connection is reset, nothing more is read or answered, and what was
   * received but not flushed yet is lost. The stores (the database, the files) keep what was flushed.
   */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.lostOnKill += this.unflushed.length;
    this.unflushed = [];
    this.stopFlushing();
    for (const connection of [...this.live.values()]) {
      this.closeConnection(connection, 'server-stop', 'killed');
      if (!connection.socket.destroyed) connection.socket.resetAndDestroy();
    }
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Stores everything received so far (the storage model's periodic flush, also run by a clean stop). */
  flush(): void {
    const pending = this.unflushed;
    this.unflushed = [];
    for (const store of pending) store();
  }

  private stopFlushing(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
  }

  /** Listens again on the same port (after `stop()`), keeping the stores: a server restart. */
  async restart(): Promise<void> {
    if (this.server) await this.stop();
    await this.listen();
  }

  /** Final close: stops and rejects pending dispatches. */
  async close(): Promise<void> {
    for (const [uuid, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new SandboxDispatchError(`sandbox closed before command ${uuid} answered`));
    }
    this.pending.clear();
    await this.stop();
  }

  private async listen(): Promise<void> {
    const tlsOptions = this.options.tls;
    const server = tlsOptions
      ? tls.createServer(
          {
            key: tlsOptions.key,
            cert: tlsOptions.cert,
            ca: tlsOptions.ca,
            requestCert: tlsOptions.requestCert ?? false,
            rejectUnauthorized: tlsOptions.requestCert ?? false,
          },
          (socket) => this.onConnection(socket),
        )
      : net.createServer((socket) => this.onConnection(socket));
    // A failed TLS handshake is the client's problem; keep serving.
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address && typeof address !== 'string') this.boundPort = address.port;
    this.server = server;
    if (this.flushDelayMs !== null && !this.flushTimer) {
      this.flushTimer = setInterval(() => this.flush(), this.flushDelayMs);
      this.flushTimer.unref();
    }
  }

  /** Stored now, or at the next flush under the storage model. */
  private store(write: () => void): void {
    if (this.flushDelayMs === null) write();
    else this.unflushed.push(write);
  }

  private onConnection(socket: net.Socket): void {
    socket.setNoDelay(true);
    const info: SandboxConnectionInfo = {
      id: this.nextConnectionId++,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      openedAt: Date.now(),
      groupId: null,
      serverId: null,
      authenticated: false,
      framesIn: 0,
      framesOut: 0,
      closedAt: null,
      closeCause: null,
      closeDetail: null,
    };
    // Mirrors the real server: it accepts `bin` strings and extra top-level elements (§14).
    const connection: LiveConnection = {
      info,
      socket,
      decoder: new FrameDecoder({ serverCompatible: true }),
      queue: [],
      failure: null,
      busy: null,
    };
    this.live.set(info.id, connection);
    this.pushBounded(this.connections, info);
    this.emit('connection', info);

    socket.on('data', (chunk: Buffer) => this.onData(connection, chunk));
    // The real server never notices a FIN (§14); the sandbox records it (tests assert the agent resets instead) and
    // closes its side so nothing leaks.
    socket.on('end', () => this.closeConnection(connection, 'client-fin', null));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const cause: SandboxCloseCause = error.code === 'ECONNRESET' ? 'client-reset' : 'error';
      this.closeConnection(connection, cause, error.message);
    });
    socket.on('close', () => {
      if (info.closedAt === null) this.closeConnection(connection, 'error', 'socket closed');
    });
  }

  private onData(connection: LiveConnection, chunk: Buffer): void {
    if (connection.info.closedAt !== null) return;
    let frames: WireFrame[];
    let failure: ProtocolError | null = null;
    try {
      frames = connection.decoder.push(chunk);
    } catch (e) {
      failure = e instanceof ProtocolError ? e : new ProtocolError('bad-msgpack', String(e));
      frames = failure.framesBeforeError;
    }
    connection.queue.push(...frames);
    if (failure) connection.failure ??= failure;
    this.process(connection);
  }

  /** Handles queued frames in order until a slow heartbeat holds the connection (like the server's one fiber). */
  private process(connection: LiveConnection): void {
    while (connection.busy === null && connection.info.closedAt === null) {
      const frame = connection.queue.shift();
      if (!frame) break;
      this.onFrame(connection, frame);
    }
    if (connection.busy !== null || connection.queue.length > 0) return;
    const failure = connection.failure;
    if (failure && connection.info.closedAt === null) {
      this.emit('protocol-error', { connectionId: connection.info.id, error: failure });
      this.closeConnection(connection, 'server-protocol', failure.message);
    }
  }

  private onFrame(connection: LiveConnection, frame: WireFrame): void {
    const info = connection.info;
    info.framesIn += 1;
    const event: SandboxFrameEvent = {
      connectionId: info.id,
      frame,
      bytes: frameByteLength(frame),
      at: Date.now(),
    };
    this.pushBounded(this.frames, event);
    this.emit('frame', event);
    const [verb, uuid, data] = frame;

    // The real server parses every frame UUID; odd-length or non-hex raises and closes the connection.
    if (!serverCanParseUuidString(uuid)) {
      return this.protocolClose(connection, `frame UUID ${JSON.stringify(uuid)} is not hex`);
    }
    const groupId = data[0];
    switch (verb) {
      case 'C':
        return this.onCommand(connection, frame);
      case 'L':
        if (data.length < 4)
          return this.protocolClose(connection, `L frame with ${data.length} data items (needs 4)`);
        if (!this.knownGroup(groupId)) return this.drop(connection, frame, 'unknown group');
        return this.onLog(connection, frame);
      case 'T':
        if (!this.knownGroup(groupId)) return this.drop(connection, frame, 'unknown group');
        return this.onTelemetry(connection, frame);
      case 'R':
        if (data.length < 5)
          return this.protocolClose(connection, `R frame with ${data.length} data items (needs 5)`);
        if (!this.knownGroup(groupId)) return this.drop(connection, frame, 'unknown group');
        return this.onResult(connection, frame);
      default:
        return this.drop(
          connection,
          frame,
          verb === 'Q' || verb === 'S' ? 'Q/S not implemented' : 'unknown verb',
        );
    }
  }

  private onCommand(connection: LiveConnection, frame: WireFrame): void {
    const [, uuid, data] = frame;
    const [groupItem, serverItem, nameItem, keyItem] = data;
    const groupId = joined(groupItem);
    const serverId = joined(serverItem);
    const groupKey = this.groups.get(groupId);
    // Unknown group: ignored, no reply at all (the agent needs its own auth timeout).
    if (groupKey === undefined) {
      if (nameItem === 'authenticate-agent') {
        this.emit('auth', { connectionId: connection.info.id, groupId, serverId, outcome: 'unknown-group' });
      }
      return this.drop(connection, frame, 'unknown group');
    }
    if (data.length < 3) return this.protocolClose(connection, `C frame with ${data.length} data items`);
    const name = joined(nameItem);
    if (name === 'authenticate-agent') {
      if (joined(keyItem) !== groupKey) {
        this.emit('auth', { connectionId: connection.info.id, groupId, serverId, outcome: 'denied' });
        this.write(connection, ['R', newMinionUuid(), [uuid, 'denied']]);
        return this.closeConnection(connection, 'server-denied', null);
      }
      if (!this.commandsEnabled) {
        // The real server raises in the PostgreSQL step and drops the connection without a verdict.
        this.emit('auth', {
          connectionId: connection.info.id,
          groupId,
          serverId,
          outcome: 'no-command-config',
        });
        return this.closeConnection(connection, 'server-no-command-config', null);
      }
      connection.info.authenticated = true;
      connection.info.groupId = groupId;
      connection.info.serverId = serverId;
      this.registry.set(serverId, connection.info.id);
      this.emit('auth', { connectionId: connection.info.id, groupId, serverId, outcome: 'accepted' });
      this.write(connection, ['R', newMinionUuid(), [uuid, 'accepted']]);
      return;
    }
    if (name === 'heartbeat') {
      if (!this.commandsEnabled) return this.closeConnection(connection, 'server-no-command-config', null);
      this.heartbeatCount += 1;
      this.heartbeatsByServer.set(serverId, (this.heartbeatsByServer.get(serverId) ?? 0) + 1);
      this.emit('heartbeat', { connectionId: connection.info.id, groupId, serverId });
      if (this.ignoreHeartbeats) return;
      const reply: WireFrame = ['R', newMinionUuid(), [uuid, 'recorded']];
      if (this.heartbeatDelayMs <= 0) return this.write(connection, reply);
      connection.busy = setTimeout(() => {
        connection.busy = null;
        this.write(connection, reply);
        this.process(connection);
      }, this.heartbeatDelayMs);
      return;
    }
    this.drop(connection, frame, `command ${JSON.stringify(name)} from an agent is not handled`);
  }

  private onLog(connection: LiveConnection, frame: WireFrame): void {
    const [, uuid, data] = frame;
    const poison = this.poisonReason(frame);
    if (poison) return this.recordPoison(connection, frame, poison);
    const log: SandboxLog = {
      uuid,
      connectionId: connection.info.id,
      groupId: joined(data[0]),
      serverId: joined(data[1]),
      service: joined(data[2]),
      message: joined(data[3]),
      extra: data.slice(4),
      receivedAt: Date.now(),
    };
    this.store(() => {
      this.pushBounded(this.logs, log);
      this.emit('log', log);
    });
  }

  private onTelemetry(connection: LiveConnection, frame: WireFrame): void {
    const [, uuid, data] = frame;
    const poison = this.poisonReason(frame);
    if (poison) return this.recordPoison(connection, frame, poison);
    const sample: SandboxTelemetry = {
      uuid,
      connectionId: connection.info.id,
      groupId: joined(data[0]),
      serverId: joined(data[1]),
      values: data.slice(2).map(joined),
      receivedAt: Date.now(),
    };
    this.store(() => {
      this.pushBounded(this.telemetry, sample);
      this.emit('telemetry', sample);
    });
  }

  private onResult(connection: LiveConnection, frame: WireFrame): void {
    const [, uuid, data] = frame;
    const poison = this.poisonReason(frame);
    if (poison) return this.recordPoison(connection, frame, poison);
    const result: SandboxResult = {
      uuid,
      connectionId: connection.info.id,
      groupId: joined(data[0]),
      serverId: joined(data[1]),
      commandUuid: joined(data[2]),
      stdout: joined(data[3]),
      stderr: joined(data[4]),
      data,
      receivedAt: Date.now(),
    };
    this.store(() => {
      this.pushBounded(this.results, result);
      this.emit('result', result);
    });
    const pending = this.pending.get(result.commandUuid);
    if (pending) {
      clearTimeout(pending.timer);
      this.pending.delete(result.commandUuid);
      pending.resolve(result);
    }
  }

  /**
   * Why this frame would have hurt the real server without closing the connection (§4.3, §4.4, §14), or null.
   * Such frames silently kill io/file writer fibers (for every agent) or fail a whole PostgreSQL insert batch.
   */
  private poisonReason(frame: WireFrame): string | null {
    const [verb, uuid, data] = frame;
    if (verb === 'L' || verb === 'T') {
      // Hex-parsable but not a decodable 16-byte Minion UUID: `deadbeef` killed the file writer in §14.
      if (!isMinionUuid(uuid)) return `frame UUID ${JSON.stringify(uuid)} is not a canonical Minion UUID`;
      if (this.seenUuids.has(uuid))
        return `duplicate frame UUID ${uuid} (fails the whole PostgreSQL insert batch)`;
    }
    if (verb === 'L') {
      if (joined(data[2]) === '') return 'empty service name';
      if (joined(data[3]) === '') return 'empty log message';
    }
    if (verb === 'T') {
      if (data.length < 3) return 'telemetry frame with only [group, server]';
      const name = joined(data[2]);
      if (name === '') return 'empty telemetry name';
      if (name.startsWith('JSON:')) {
        try {
          JSON.parse(name.slice(5));
        } catch {
          return 'invalid JSON after JSON: (fails the PostgreSQL insert batch)';
        }
      } else if (data.length < 4) return 'telemetry without a value';
    }
    if (verb === 'R' && !/^[0-9a-f-]{36}$/i.test(joined(data[2]))) {
      return `result for ${JSON.stringify(data[2])}, which is not a command UUID`;
    }
    const last = data[data.length - 1];
    if (last === '' || (Array.isArray(last) && verb !== 'R' && last.join('') === ''))
      return 'empty last element';
    if (verb === 'L' || verb === 'T') {
      this.seenUuids.add(uuid);
      // Bounded like the stores: a long "try it locally" session must not grow without limit.
      if (this.seenUuids.size > this.maxStored * 2) {
        for (const old of this.seenUuids) {
          this.seenUuids.delete(old);
          if (this.seenUuids.size <= this.maxStored) break;
        }
      }
    }
    return null;
  }

  private recordPoison(connection: LiveConnection, frame: WireFrame, reason: string): void {
    const poison: SandboxPoison = { connectionId: connection.info.id, frame, reason, receivedAt: Date.now() };
    this.pushBounded(this.poisonFrames, poison);
    this.emit('poison', poison);
  }

  private knownGroup(item: string | string[] | undefined): boolean {
    return this.groups.has(joined(item));
  }

  private drop(connection: LiveConnection, frame: WireFrame, reason: string): void {
    this.emit('dropped', { connectionId: connection.info.id, frame, reason });
  }

  private protocolClose(connection: LiveConnection, detail: string): void {
    this.emit('protocol-error', { connectionId: connection.info.id, error: new Error(detail) });
    this.closeConnection(connection, 'server-protocol', detail);
  }

  private write(connection: LiveConnection, frame: WireFrame): void {
    if (connection.socket.destroyed || connection.info.closedAt !== null) return;
    connection.info.framesOut += 1;
    connection.socket.write(encodeFrame(frame));
  }

  private closeConnection(connection: LiveConnection, cause: SandboxCloseCause, detail: string | null): void {
    const info = connection.info;
    if (info.closedAt !== null) return;
    info.closedAt = Date.now();
    info.closeCause = cause;
    info.closeDetail = detail;
    if (connection.busy) clearTimeout(connection.busy);
    connection.busy = null;
    connection.queue = [];
    this.live.delete(info.id);
    if (info.serverId !== null && this.registry.get(info.serverId) === info.id)
      this.registry.delete(info.serverId);
    for (const [uuid, pending] of this.pending) {
      if (pending.serverId === info.serverId) {
        clearTimeout(pending.timer);
        this.pending.delete(uuid);
        pending.reject(
          new SandboxDispatchError(`connection of ${info.serverId} closed before command ${uuid} answered`),
        );
      }
    }
    // Server-side closes are FINs after the pending reply (e.g. `denied`) was flushed, like the Crystal server.
    if (!connection.socket.destroyed) {
      connection.socket.end();
      connection.socket.destroySoon();
    }
    this.emit('disconnect', info);
  }

  private pushBounded<T>(list: T[], item: T): void {
    list.push(item);
    // Trim in chunks: splicing one element off a 100k array per frame would make a full store O(n) per frame.
    const slack = Math.max(1, Math.floor(this.maxStored / 10));
    if (list.length > this.maxStored + slack) list.splice(0, list.length - this.maxStored);
  }
}

function joined(item: string | string[] | undefined): string {
  if (item === undefined) return '';
  return Array.isArray(item) ? item.join('') : item;
}

export function startSandboxServer(options: SandboxServerOptions): Promise<SandboxServer> {
  return SandboxServer.start(options);
}
