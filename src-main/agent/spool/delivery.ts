/**
 * Delivery pump: drains the spool to the connection in spool order with at-least-once semantics over a protocol
 * without acknowledgements (docs/spool.md "Delivery guarantee").
 *
 * - Two-step confirmation. The server handles one connection in order and answers a heartbeat once it has *read*
 *   the frames before it — not once it has *stored* them (its destinations flush later). So a frame is
 *   (1) received once a barrier sent after it is answered, and (2) confirmed — the cursor passes it, its segment may
 *   be deleted — once a later barrier, sent at least `settleMs` after that answer, is answered on the same
 *   connection: the server process lived past its flush interval.
 * - Fleet-safe cadence: at most one barrier per `confirmIntervalMs` while data flows; a barrier doubles as the
 *   connection's heartbeat. Bulk is the exception: a barrier every half of the in-flight window, a window sized from
 *   the measured delivery rate so a barrier's reply still fits the heartbeat timeout on a slow link.
 * - When the connection dies, everything after the cursor is sent again on the next connection, backlog first.
 *   Any record that may already have been on the wire (in this process, or by a previous process: everything that
 *   existed when the spool was opened) goes out with `withNewIdentifier(uuid)`: same time, new identifier, so a
 *   duplicate never hits the server's primary key and no UUID is ever written twice.
 */
import { EventEmitter } from 'node:events';
import {
  FRAME_CLASSES,
  type FrameClass,
  type SpoolView,
  type WireFrame,
} from '../../../src-shared/view-models';
import { decodeFrame } from '../protocol/codec';
import { DeliveryMarksWriter } from './delivery-marks';
import { logFrame } from '../protocol/frames';
import { withNewIdentifier } from '../protocol/uuid';
import { spooledFrameVerb, withNewIdentifierBytes } from '../protocol/wire-bytes';
import { type SpoolReader, type SpoolRecord } from './reader';
import { type PerClassTally, addToTally, emptyTally } from './segment-log';
import { RecentSentRing } from './recent-sent';
import { type Spool } from './spool';

/** The subset of ConnectionManager the pump needs (a fake implements it in unit tests). */
export interface DeliveryTransport {
  isReady(): boolean;
  readonly connectionId: number | null;
  /** false = not connected (the frame was not written). May throw for a frame that must never be sent. */
  send(frame: WireFrame): boolean;
  /**
   * Optional fast path: `bytes` is one whole encoded frame that passed validation when it was spooled (for a re-send,
   * a copy with only the identifier changed), so the transport may write the bytes as they are: no second
   * validation, encoding or decoding per frame. The bytes are copied before the call returns: the caller may reuse
   * them (they are usually a reader's payload, valid only until its next read). `frame`, when given, is the decoding
   * of `bytes`; the pump passes it only when it had to decode anyway. Without this method every record is decoded
   * and goes through `send`.
   */
  sendEncoded?(bytes: Uint8Array, frame?: WireFrame): boolean;
  /**
   * Optional: hold writes back until `uncork()` so a burst of frames leaves in one `writev` instead of one syscall per
   * frame (the pump corks around each chunk of up to 256 records it sends).
   */
  cork?(): void;
  uncork?(): void;
  readonly writableNeedsDrain: boolean;
  /** Heartbeat round trip on the current connection; rejects if it dies or times out. */
  barrier(): Promise<{ connectionId: number; rttMs: number }>;
  on(event: 'ready', listener: (connectionId: number) => void): unknown;
  on(event: 'down', listener: (info: { connectionId: number; reason: string }) => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
  off(event: 'ready', listener: (connectionId: number) => void): unknown;
  off(event: 'down', listener: (info: { connectionId: number; reason: string }) => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

export interface DeliveryOptions {
  /** For the drop report line (`L` from service `minion-agent`). */
  groupId: string;
  serverId: string;
  /**
   * Second step of a confirmation: a frame is confirmed only once a barrier sent at least this long after the answer
   * to its first barrier was answered on the same connection (the server process outlived its flush interval).
   * Config `delivery.settle_ms`. Default 2000 ms.
   */
  settleMs?: number;
  /** While data flows, at most one barrier per this interval (bulk excepted). Config `delivery.confirm_interval`. Default 5000 ms. */
  confirmIntervalMs?: number;
  /** When caught up, a partial batch gets its barrier no earlier than this after its first frame (coalesces). Default 50 ms. */
  idleBarrierMs?: number;
  /**
   * Floor of the in-flight window: bytes written but not yet known to be read by the server. A barrier's heartbeat
   * queues behind everything written before it and must be answered within the heartbeat timeout, so on a slow link
   * an unbounded window would time out, reconnect and resend the same data forever. The window grows above this
   * floor only as fast as the measured delivery rate allows (rate × barrierTimeoutMs / 4). Default 1 MiB
   * (≈ 35 kB/s still gets a reply within a 30 s timeout).
   */
  maxUnconfirmedBytes?: number;
  /** Ceiling of the adaptive in-flight window. Default 16 MiB. */
  maxInFlightBytesCeiling?: number;
  /**
   * Bytes written but not yet confirmed (in flight + received, awaiting the settle barrier), at most: the bound on
   * what one connection loss can duplicate. Default 64 MiB.
   */
  maxUnsettledBytes?: number;
  /** The transport's barrier reply timeout (the heartbeat timeout); sizes the adaptive window. Default 30 s. */
  barrierTimeoutMs?: number;
  /** Recent sent frames kept for the status. Default 50. */
  recentFrames?: number;
  /** Keep `<spool>/delivery.json` (sent / received / confirmed marks for `spool stats`). Default true. */
  writeMarks?: boolean;
  /** Minimum interval between 'status' events. Default 250 ms. */
  statusIntervalMs?: number;
  now?: () => number;
  /**
   * Time the pump may spend sending chunk after chunk before it yields to the event loop. Records served from memory
   * resolve the reader's promise without a macrotask, so without this a pump that lags (a backlog in memory, a
   * drain after backpressure) sends all of it in one tick. Default 4 ms (like the tailer's slice).
   */
  maxSliceMs?: number;
  /** Monotonic clock in ms for the slice budget; default `performance.now`. */
  clock?: () => number;
  /** Uniform random in [0, 1) for the cadence jitter; injectable for tests. */
  random?: () => number;
  onProblem?: (message: string) => void;
}

export const DELIVERY_DEFAULTS = {
  settleMs: 2000,
  confirmIntervalMs: 5000,
  idleBarrierMs: 50,
  maxUnconfirmedBytes: 1024 * 1024,
  maxInFlightBytesCeiling: 16 * 1024 * 1024,
  maxUnsettledBytes: 64 * 1024 * 1024,
  barrierTimeoutMs: 30_000,
} as const;

export const DROP_REPORT_SERVICE = 'minion-agent';

/** Resolves in the check phase of the next event-loop turn, after the timers and I/O callbacks that are due. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `transmit`'s answer for a record that can never be sent: skipped, but counted through the barrier. */
const SKIPPED = Symbol('skipped');

export function dropReportMessage(report: { telemetry: number; log: number }): string {
  return `dropped ${report.telemetry} telemetry and ${report.log} log frames while the spool was full`;
}

/** Records written between two barriers: first awaiting receipt, then (received) awaiting the settle barrier. */
interface Batch {
  connectionId: number | null;
  lastSeq: number;
  count: number;
  /** Wire bytes of the batch's records (the part of the window it accounts for). */
  bytes: number;
  tally: PerClassTally;
  firstAppendedAt: number | null;
  /** When its first record was written. */
  startedAt: number;
  /** When the answer to the barrier after it arrived (received by the server), else null. */
  receivedAt: number | null;
}

/** A barrier in flight; `batch` is null for a settle-only barrier (nothing new was written before it). */
interface Barrier {
  batch: Batch | null;
  sentAt: number;
  answered: boolean;
}

export interface DeliveryEvents {
  status: [SpoolView];
  /** A barrier was answered: the server has read every frame up to `upToSeq` (first step). */
  received: [info: { upToSeq: number; frames: number; rttMs: number }];
  /** The cursor advanced: both steps done for every frame up to `upToSeq`. */
  confirmed: [info: { upToSeq: number; frames: number; rttMs: number }];
  problem: [message: string];
}

export interface DeliveryCounters {
  /** Frames written to a connection (incl. re-sends). */
  sent: number;
  /** Of those, re-sends with a fresh identifier. */
  resent: number;
  /** Frames a barrier proved the server has read (first step), incl. ones later lost with their connection. */
  receivedByServer: number;
  /** Frames confirmed (both steps): the cursor passed them. */
  confirmed: number;
  barriers: number;
  /** Of those, barriers sent early because the window was full (bulk). */
  bulkBarriers: number;
  /** Times the pump yielded to the event loop because a slice of sending used up its time budget. */
  sliceYields: number;
  /** Records that could not be decoded or were refused by validation (skipped, never sent). */
  skippedInvalid: number;
}

interface ClassTotals {
  sent: Record<FrameClass, number>;
  receivedByServer: Record<FrameClass, number>;
}

export class DeliveryPump extends EventEmitter<DeliveryEvents> {
  private readonly reader: SpoolReader;
  private readonly settleMs: number;
  private readonly confirmIntervalMs: number;
  private readonly idleBarrierMs: number;
  private readonly windowFloor: number;
  private readonly windowCeiling: number;
  private readonly maxUnsettledBytes: number;
  private readonly barrierTimeoutMs: number;
  private readonly statusIntervalMs: number;
  private readonly now: () => number;
  private readonly maxSliceMs: number;
  private readonly clock: () => number;
  private readonly onProblem: (message: string) => void;

  private epoch = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  /** Every record ≤ this may already have been written to some connection: re-send with a new identifier. */
  private maybeSentHigh: number;
  private currentConnection: number | null = null;
  /** Written since the last barrier. */
  private open: Batch;
  /** Barriers sent and not yet answered, in order. */
  private barriers: Barrier[] = [];
  /** Batches whose barrier was sent and not answered yet, in order. */
  private inflight: Batch[] = [];
  /** Batches the server has read (first step), awaiting a settle barrier, in order. */
  private received: Batch[] = [];
  /** Send time of the last barrier on this connection (0 = none yet). */
  private lastBarrierSentAt = 0;
  /**
   * The rate-limited gap before the next barrier: confirmIntervalMs plus up to 10 % jitter, drawn per barrier, so a
   * fleet that reconnected together does not keep committing heartbeats together.
   */
  private barrierGapMs: number;
  private readonly random: () => number;
  /** Time of the last receipt (for the delivery-rate estimate). */
  private lastReceiptAt = 0;
  /** Measured delivery rate (bytes/s) on this connection; sizes the in-flight window. */
  private rateBytesPerSec = 0;
  /** The last barrier was sent because the window was full: the drain ends with a barrier as soon as it catches up. */
  private inBulk = false;
  /** The reader found nothing more to send (the last read came back empty). */
  private caughtUp = false;
  /** Highest sequence written to a connection by this process. */
  private sentHigh = 0;
  private readonly marks: DeliveryMarksWriter | null;
  /** Highest sequence the server is known to have read on some connection (first step). */
  private receivedHigh = 0;
  private barrierTimer: NodeJS.Timeout | null = null;
  private barrierTimerAt = 0;
  /** A clean stop is settling: barriers go out without waiting for the confirm interval. */
  private finishing = false;
  private readonly recentSent: RecentSentRing;
  private replay = { active: false, total: 0, done: 0 };
  private wakers: Array<() => void> = [];
  private statusTimer: NodeJS.Timeout | null = null;
  private lastStatusAt = 0;
  readonly counters: DeliveryCounters = {
    sent: 0,
    resent: 0,
    receivedByServer: 0,
    confirmed: 0,
    barriers: 0,
    bulkBarriers: 0,
    sliceYields: 0,
    skippedInvalid: 0,
  };
  private readonly classTotals: ClassTotals = {
    sent: { log: 0, telemetry: 0, result: 0 },
    receivedByServer: { log: 0, telemetry: 0, result: 0 },
  };

  private readonly onReady = (connectionId: number): void => this.startConnection(connectionId);
  private readonly onDown = (): void => this.connectionLost();
  private readonly onWake = (): void => this.wake();

  constructor(
    private readonly spool: Spool,
    private readonly transport: DeliveryTransport,
    private readonly options: DeliveryOptions,
  ) {
    super();
    this.settleMs = nonNegative(options.settleMs, DELIVERY_DEFAULTS.settleMs, 'settleMs');
    this.confirmIntervalMs = nonNegative(
      options.confirmIntervalMs,
      DELIVERY_DEFAULTS.confirmIntervalMs,
      'confirmIntervalMs',
    );
    this.idleBarrierMs = nonNegative(options.idleBarrierMs, DELIVERY_DEFAULTS.idleBarrierMs, 'idleBarrierMs');
    this.windowFloor = Math.max(1, options.maxUnconfirmedBytes ?? DELIVERY_DEFAULTS.maxUnconfirmedBytes);
    this.windowCeiling = Math.max(
      this.windowFloor,
      options.maxInFlightBytesCeiling ?? DELIVERY_DEFAULTS.maxInFlightBytesCeiling,
    );
    this.maxUnsettledBytes = Math.max(
      this.windowCeiling,
      options.maxUnsettledBytes ?? DELIVERY_DEFAULTS.maxUnsettledBytes,
    );
    this.barrierTimeoutMs = options.barrierTimeoutMs ?? DELIVERY_DEFAULTS.barrierTimeoutMs;
    this.recentSent = new RecentSentRing(options.recentFrames ?? 50);
    this.statusIntervalMs = options.statusIntervalMs ?? 250;
    this.now = options.now ?? Date.now;
    this.maxSliceMs = options.maxSliceMs ?? 4;
    this.clock = options.clock ?? (() => performance.now());
    this.random = options.random ?? Math.random;
    this.barrierGapMs = this.confirmIntervalMs;
    this.onProblem = options.onProblem ?? (() => undefined);
    this.marks =
      options.writeMarks === false
        ? null
        : new DeliveryMarksWriter(spool.dir, (m) => this.problem(`delivery marks: ${m}`));
    this.reader = spool.createReader();
    this.maybeSentHigh = spool.lastSeqAtOpen;
    this.receivedHigh = spool.confirmedSeq;
    this.open = this.newBatch(null);
  }

  /** Starts listening; if the transport is already connected, starts draining at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.finishing = false;
    this.transport.on('ready', this.onReady);
    this.transport.on('down', this.onDown);
    this.transport.on('drain', this.onWake);
    this.spool.on('written', this.onWake);
    const id = this.transport.connectionId;
    if (this.transport.isReady() && id !== null) this.startConnection(id);
  }

  /**
   * For a clean stop: sends barriers without waiting for the confirm interval until everything written is confirmed
   * (both steps: one barrier now, a second one `settleMs` after its answer), or `timeoutMs` passes, or the
   * connection is lost. Resolves true when everything spooled before the call is confirmed. What is not confirmed by then is sent again
   * (with new identifiers) after the next start.
   */
  async settle(timeoutMs: number): Promise<boolean> {
    // Everything in the spool now (producers are stopped by then), sent or not yet.
    const target = this.spool.lastSeq;
    const done = (): boolean => this.spool.confirmedSeq >= target;
    if (!this.running) return done();
    this.finishing = true;
    this.scheduleBarrier();
    const deadline = this.now() + timeoutMs;
    try {
      while (this.transport.isReady() && !done() && this.now() < deadline) {
        await this.sleep(Math.min(50, Math.max(1, deadline - this.now())));
        this.scheduleBarrier();
      }
    } finally {
      this.finishing = false;
      this.scheduleBarrier();
    }
    return done();
  }

  /** Stops draining (frames stay in the spool). Does not close the spool or the transport. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.epoch++;
    this.clearBarrierTimer();
    this.transport.off('ready', this.onReady);
    this.transport.off('down', this.onDown);
    this.transport.off('drain', this.onWake);
    this.spool.off('written', this.onWake);
    this.wake();
    await this.loop;
    await this.reader.close();
    this.noteMarks();
    await this.marks?.flush();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = null;
  }

  /** Highest sequence a barrier proved the server has read (first step); the cursor (`confirmedSeq`) follows. */
  get receivedSeq(): number {
    return this.receivedHigh;
  }

  /** Bytes currently allowed in flight (written, not yet known to be read): the adaptive window. */
  get inFlightWindowBytes(): number {
    const byRate = (this.rateBytesPerSec * this.barrierTimeoutMs) / 1000 / 4;
    return Math.floor(Math.min(this.windowCeiling, Math.max(this.windowFloor, byRate)));
  }

  // ---- status ----------------------------------------------------------------------------------------------------

  view(): SpoolView {
    const awaiting: Record<FrameClass, number> = { log: 0, telemetry: 0, result: 0 };
    const awaitingReceipt: Record<FrameClass, number> = { log: 0, telemetry: 0, result: 0 };
    for (const b of [...this.inflight, this.open]) {
      for (const cls of FRAME_CLASSES) awaitingReceipt[cls] += b.tally[cls].frames;
    }
    for (const b of this.received) {
      for (const cls of FRAME_CLASSES) awaiting[cls] += b.tally[cls].frames;
    }
    for (const cls of FRAME_CLASSES) awaiting[cls] += awaitingReceipt[cls];
    const view = this.spool.view({
      awaiting,
      replay: { ...this.replay },
      recentSent: this.recentSent.views(),
    });
    for (const cls of FRAME_CLASSES) {
      const c = view.perClass[cls];
      c.awaitingReceipt = awaitingReceipt[cls];
      c.sent = this.classTotals.sent[cls];
      c.receivedByServer = this.classTotals.receivedByServer[cls];
    }
    return view;
  }

  /** Throttled 'status' event: at most one per statusIntervalMs, the last change always reported. */
  private statusChanged(): void {
    if (this.statusTimer || this.listenerCount('status') === 0) return;
    const wait = Math.max(0, this.lastStatusAt + this.statusIntervalMs - this.now());
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      this.lastStatusAt = this.now();
      this.emit('status', this.view());
    }, wait);
    this.statusTimer.unref();
  }

  // ---- connection lifecycle --------------------------------------------------------------------------------------

  private startConnection(connectionId: number): void {
    if (!this.running) return;
    const epoch = ++this.epoch;
    this.resetWindow(connectionId);
    const previous = this.loop;
    this.loop = previous
      .then(() => this.runConnection(epoch, connectionId))
      .catch((e: unknown) => {
        this.problem(`delivery stopped on an unexpected error: ${String(e)}`);
      });
    this.wake();
  }

  private connectionLost(): void {
    this.epoch++;
    this.resetWindow(null);
    // During the outage the oldest telemetry/logs must be droppable again if the spool fills up.
    this.reader.releaseProtection(this.spool.confirmedSeq);
    this.replay.active = false;
    this.wake();
    this.statusChanged();
  }

  /**
   * Everything not confirmed is forgotten here — also what the server had read but not yet proven to have stored:
   * it is read again from the spool (after the cursor) on the next connection.
   */
  private resetWindow(connectionId: number | null): void {
    this.clearBarrierTimer();
    this.currentConnection = connectionId;
    this.barriers = [];
    this.inflight = [];
    this.received = [];
    this.open = this.newBatch(connectionId);
    this.lastBarrierSentAt = 0;
    this.lastReceiptAt = 0;
    this.rateBytesPerSec = 0;
    this.inBulk = false;
    this.caughtUp = false;
  }

  private newBatch(connectionId: number | null): Batch {
    return {
      connectionId,
      lastSeq: 0,
      count: 0,
      bytes: 0,
      tally: emptyTally(),
      firstAppendedAt: null,
      startedAt: this.now(),
      receivedAt: null,
    };
  }

  private async runConnection(epoch: number, connectionId: number): Promise<void> {
    if (epoch !== this.epoch) return;
    await this.reader.seek(this.spool.confirmedSeq + 1);
    this.queueDropReport();
    const backlog = Object.values(this.spool.queuedTally).reduce((n, t) => n + t.frames, 0);
    this.replay = { active: backlog > 0, total: backlog, done: 0 };
    this.open = this.newBatch(connectionId);
    this.statusChanged();
    // Where the current slice of sending began: reset after every wait that returns to the event loop.
    let sliceStartedAt = this.clock();
    while (epoch === this.epoch) {
      if (this.transport.writableNeedsDrain || this.windowFull()) {
        this.scheduleBarrier();
        await this.sleep(1000);
        sliceStartedAt = this.clock();
        continue;
      }
      const records = await this.reader.read(256);
      if (epoch !== this.epoch) return;
      this.caughtUp = records.length === 0;
      if (records.length === 0) {
        this.scheduleBarrier();
        await this.sleep(1000);
        sliceStartedAt = this.clock();
        continue;
      }
      const resumeAt = this.sendChunk(records, epoch, connectionId);
      this.scheduleBarrier();
      this.statusChanged();
      if (this.clock() - sliceStartedAt >= this.maxSliceMs) {
        this.counters.sliceYields++;
        await yieldToEventLoop();
        sliceStartedAt = this.clock();
        if (epoch !== this.epoch) return;
      }
      if (resumeAt !== null && epoch === this.epoch) {
        // Cut short: not connected any more ('down' follows, or already came, and bumps the epoch), or the window is
        // full (the loop waits for barriers above). Either way the reader goes back to the first unsent record, so
        // nothing after a gap can ever be sent (and confirmed) on this connection.
        await this.reader.seek(resumeAt);
        if (!this.transport.isReady()) await this.sleep(100);
      }
    }
  }

  /** Bytes written on this connection that the server has not been proven to have read. */
  private inFlightBytes(): number {
    let bytes = this.open.bytes;
    for (const batch of this.inflight) bytes += batch.bytes;
    return bytes;
  }

  /** Bytes written on this connection and not confirmed (the duplicate bound of a connection loss). */
  private unconfirmedBytes(): number {
    let bytes = this.inFlightBytes();
    for (const batch of this.received) bytes += batch.bytes;
    return bytes;
  }

  /** Sending more now would exceed the in-flight window or the unsettled bound. */
  private windowFull(): boolean {
    return (
      this.inFlightBytes() >= this.inFlightWindowBytes || this.unconfirmedBytes() >= this.maxUnsettledBytes
    );
  }

  /**
   * Sends a chunk of records corked (when the transport can). Returns the sequence to resume reading from when the
   * chunk was cut short (the transport is not connected, or the window is full), else null. In bulk, a barrier goes
   * out every half window so the next half can be written while the server reads the first.
   */
  private sendChunk(records: SpoolRecord[], epoch: number, connectionId: number): number | null {
    // Once per chunk, not per record: the clock, and the room left in the window. Nothing else changes the window
    // while this synchronous loop runs (barrier answers and the rate estimate arrive between chunks), so the room
    // only shrinks by what is written here: `room <= 0` is `windowFull()`.
    const now = this.now();
    const window = this.inFlightWindowBytes;
    let room = Math.min(window - this.inFlightBytes(), this.maxUnsettledBytes - this.unconfirmedBytes());
    this.transport.cork?.();
    try {
      for (const record of records) {
        if (epoch !== this.epoch) return null;
        if (!this.sendRecord(record, connectionId, now)) return record.seq;
        room -= record.payload.length;
        if (this.open.bytes >= window / 2) {
          this.counters.bulkBarriers++;
          this.sendBarrier(epoch, true);
        }
        // The rest of the chunk waits until barriers free some of the window (the reader goes back to it).
        if (room <= 0) return record.seq + 1;
      }
      return null;
    } finally {
      this.transport.uncork?.();
    }
  }

  /** Writes one record; false when the transport is not connected. */
  private sendRecord(record: SpoolRecord, connectionId: number, now: number): boolean {
    const resend = record.seq <= this.maybeSentHigh;
    const sent = this.transmit(record, resend);
    if (sent === null) return false;
    if (sent !== SKIPPED) {
      this.counters.sent++;
      this.classTotals.sent[record.cls]++;
      if (resend) this.counters.resent++;
      // The payload is the reader's, valid until its next read: the ring copies it (a re-send's copy is ours).
      this.recentSent.push(record.seq, record.cls, sent, record.payload.length, now, sent === record.payload);
    }
    // A skipped record is counted through the barrier too, so the cursor moves past it.
    this.maybeSentHigh = Math.max(this.maybeSentHigh, record.seq);
    this.sentHigh = Math.max(this.sentHigh, record.seq);
    const b = this.open;
    if (b.count === 0) {
      b.startedAt = now;
      b.firstAppendedAt = record.appendedAt;
      b.connectionId = connectionId;
    }
    b.count++;
    b.bytes += record.payload.length;
    b.lastSeq = record.seq;
    addToTally(b.tally, record.cls, record.payload.length + 32);
    if (this.replay.active) {
      this.replay.done++;
      if (this.replay.done >= this.replay.total) this.replay.active = false;
    }
    return true;
  }

  /**
   * Writes a record: as its stored bytes (a re-send: a copy with a new identifier patched in), without decoding it —
   * it was validated when spooled and the spool's CRC vouches for the bytes. Only a record not in the layout the
   * core's encoder writes (or a transport without the fast path) is decoded. Returns what was written (the bytes,
   * or the frame when it went out decoded), SKIPPED for a record that must never be sent (reported and counted), or
   * null when the transport is not connected.
   */
  private transmit(record: SpoolRecord, resend: boolean): Uint8Array | WireFrame | typeof SKIPPED | null {
    const payload = record.payload;
    const fastPath = this.transport.sendEncoded !== undefined;
    try {
      if (fastPath && spooledFrameVerb(payload) !== null) {
        // Null when the UUID text is not canonical lowercase: the decoding path below handles (or refuses) it.
        const bytes = resend ? withNewIdentifierBytes(payload) : payload;
        if (bytes) return this.transport.sendEncoded?.(bytes) ? bytes : null;
      }
    } catch (e) {
      return this.skip(record, 'refused by validation', e);
    }
    let frame: WireFrame;
    try {
      frame = decodeFrame(payload);
    } catch (e) {
      return this.skip(record, 'cannot be decoded', e);
    }
    try {
      if (resend) frame = [frame[0], withNewIdentifier(frame[1]), frame[2]];
      const written =
        fastPath && !resend ? this.transport.sendEncoded?.(payload, frame) : this.transport.send(frame);
      return written ? frame : null;
    } catch (e) {
      // A frame that must never be sent (validation): skip it for good.
      return this.skip(record, 'refused by validation', e);
    }
  }

  private skip(record: SpoolRecord, why: string, error: unknown): typeof SKIPPED {
    this.counters.skippedInvalid++;
    this.problem(`spool record ${record.seq} ${why}, skipped: ${(error as Error).message}`);
    return SKIPPED;
  }

  // ---- barriers ------------------------------------------------------------------------------------------------

  /**
   * When the next barrier is due (ms timestamp), or null when none is needed. Cadence (docs/spool.md "Cadence"):
   * - new frames written: `idleBarrierMs` after the first, but at most one barrier per `confirmIntervalMs` (+ up to
   *   10 % jitter) — except
   *   right after a bulk drain caught up (its closing barrier is not held back);
   * - received frames awaiting the second step: `settleMs` after their receipt, also at most one per interval —
   *   except when the window is full (waiting would stall the pump) or a clean stop is settling.
   */
  private barrierDue(): number | null {
    if (this.currentConnection === null) return null;
    const rateLimited = this.lastBarrierSentAt + this.barrierGapMs;
    let due = Infinity;
    if (this.open.count > 0) {
      const coalesced = this.open.startedAt + this.idleBarrierMs;
      // Not held back: the end of a bulk drain, a clean stop, or a window that filled without a barrier in flight
      // (it shrank with the measured rate) — waiting would stall the pump.
      const urgent = (this.inBulk && this.caughtUp) || this.finishing || this.windowFull();
      due = urgent ? coalesced : Math.max(coalesced, rateLimited);
    }
    const head = this.received[0];
    if (head && head.receivedAt !== null && this.inflight.length === 0) {
      const settleAt = head.receivedAt + this.settleMs;
      const urgent = this.finishing || this.windowFull();
      due = Math.min(due, urgent ? settleAt : Math.max(settleAt, rateLimited));
    }
    return Number.isFinite(due) ? due : null;
  }

  /**
   * (Re)arms the one barrier timer for the next due time. Not while the transport is not ready (closing, 'down' not
   * emitted yet): it cannot carry the barrier, and a due barrier re-armed its timer every 1 ms until 'down' came. The
   * pump calls this again on its next event ('ready' and 'down' start over, a write, a drain) or idle pass.
   */
  private scheduleBarrier(): void {
    const due = this.barrierDue();
    if (due === null || !this.transport.isReady()) {
      this.clearBarrierTimer();
      return;
    }
    if (this.barrierTimer && this.barrierTimerAt === due) return;
    this.clearBarrierTimer();
    const epoch = this.epoch;
    this.barrierTimerAt = due;
    this.barrierTimer = setTimeout(
      () => {
        this.barrierTimer = null;
        if (epoch !== this.epoch || !this.running) return;
        const stillDue = this.barrierDue();
        if (stillDue !== null && stillDue <= this.now()) this.sendBarrier(epoch);
        this.scheduleBarrier();
      },
      Math.max(0, due - this.now()),
    );
  }

  private clearBarrierTimer(): void {
    if (this.barrierTimer) clearTimeout(this.barrierTimer);
    this.barrierTimer = null;
  }

  /** Sends a barrier after everything written so far (the open batch, if any). */
  private sendBarrier(epoch: number, bulk = false): void {
    const connectionId = this.currentConnection;
    if (connectionId === null || !this.transport.isReady()) return;
    let batch: Batch | null = null;
    if (this.open.count > 0) {
      batch = this.open;
      this.open = this.newBatch(connectionId);
      this.inflight.push(batch);
    }
    // Only a barrier sent because the window filled keeps the bulk going; any other one closes it.
    this.inBulk = bulk;
    const barrier: Barrier = { batch, sentAt: this.now(), answered: false };
    this.barriers.push(barrier);
    this.lastBarrierSentAt = barrier.sentAt;
    const jitter = Math.min(Math.max(this.random(), 0), 1) || 0;
    this.barrierGapMs = this.confirmIntervalMs * (1 + 0.1 * jitter);
    this.counters.barriers++;
    this.transport.barrier().then(
      (result) => {
        if (epoch !== this.epoch || result.connectionId !== connectionId) return;
        barrier.answered = true;
        this.barrierAnswered(result.rttMs);
      },
      () => {
        // The connection died or the barrier timed out: 'down' resets the window; nothing is confirmed.
      },
    );
  }

  /**
   * Barriers are answered in order (one connection, handled in order). First step: the batches before an answered
   * barrier are received. Second step: a received batch is confirmed by an answered barrier sent ≥ settleMs after
   * its receipt.
   */
  private barrierAnswered(rttMs: number): void {
    const now = this.now();
    while (this.barriers[0]?.answered) {
      const barrier = this.barriers.shift() as Barrier;
      // Second step first: the batches this barrier itself carries were received just now, after it was sent.
      let confirmedUpTo = 0;
      let confirmedFrames = 0;
      const tally = emptyTally();
      while (this.received[0] && (this.received[0].receivedAt as number) + this.settleMs <= barrier.sentAt) {
        const batch = this.received.shift() as Batch;
        confirmedUpTo = batch.lastSeq;
        confirmedFrames += batch.count;
        for (const cls of FRAME_CLASSES) {
          tally[cls].frames += batch.tally[cls].frames;
          tally[cls].bytes += batch.tally[cls].bytes;
        }
      }
      if (confirmedFrames > 0) {
        const next = this.received[0] ?? this.inflight[0] ?? (this.open.count > 0 ? this.open : null);
        this.spool.confirm(confirmedUpTo, tally, next?.firstAppendedAt ?? null);
        this.counters.confirmed += confirmedFrames;
        this.emit('confirmed', { upToSeq: confirmedUpTo, frames: confirmedFrames, rttMs });
      }
      const batch = barrier.batch;
      if (batch && this.inflight[0] === batch) {
        this.inflight.shift();
        batch.receivedAt = now;
        this.received.push(batch);
        this.noteReceipt(batch, now);
        this.counters.receivedByServer += batch.count;
        for (const cls of FRAME_CLASSES) this.classTotals.receivedByServer[cls] += batch.tally[cls].frames;
        this.receivedHigh = Math.max(this.receivedHigh, batch.lastSeq);
        this.emit('received', { upToSeq: batch.lastSeq, frames: batch.count, rttMs });
      }
    }
    this.queueDropReport();
    this.scheduleBarrier();
    this.wake();
    this.statusChanged();
    this.noteMarks();
  }

  private noteMarks(): void {
    this.marks?.update({
      at: this.now(),
      pid: process.pid,
      sentSeq: this.sentHigh,
      receivedSeq: this.receivedHigh,
      confirmedSeq: this.spool.confirmedSeq,
      sent: this.counters.sent,
      receivedByServer: this.counters.receivedByServer,
      confirmed: this.counters.confirmed,
    });
  }

  /** Delivery-rate estimate from receipts of sizeable batches (small ones measure the barrier, not the link). */
  private noteReceipt(batch: Batch, now: number): void {
    const since = Math.max(batch.startedAt, this.lastReceiptAt);
    this.lastReceiptAt = now;
    if (batch.bytes < 64 * 1024) return;
    const sample = (batch.bytes * 1000) / Math.max(1, now - since);
    this.rateBytesPerSec = this.rateBytesPerSec === 0 ? sample : 0.5 * this.rateBytesPerSec + 0.5 * sample;
  }

  /** Spools the overflow report (after the backlog, like any new frame) once connected again. */
  private queueDropReport(): void {
    const report = this.spool.takeDropReport();
    if (!report) return;
    const message = dropReportMessage(report);
    try {
      this.spool.append(
        'log',
        logFrame(this.options.groupId, this.options.serverId, DROP_REPORT_SERVICE, message),
      );
    } catch (e) {
      this.problem(`cannot spool the drop report "${message}": ${(e as Error).message}`);
    }
  }

  // ---- waiting ---------------------------------------------------------------------------------------------------

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const resolve of w) resolve();
  }

  /** Until something changes (data written, drain, barrier, connection event) or `ms` passes. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.wakers.indexOf(done);
        if (i >= 0) this.wakers.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.wakers.push(done);
    });
  }

  private problem(message: string): void {
    this.onProblem(message);
    this.emit('problem', message);
  }
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0)
    throw new RangeError(`delivery ${name} must be a non-negative number of ms, got ${value}`);
  return value;
}
