// The DeliveryPump as it was before two-step confirmation (git ea71c6b), kept only so bench/delivery.bench.ts can
// measure bulk throughput and barrier counts side by side with the current one in the same run. Not used by the agent.
/**
 * Delivery pump: drains the spool to the connection in spool order with at-least-once semantics over a protocol
 * without acknowledgements (docs/spool.md "Delivery guarantee").
 *
 * - After a batch (≤ maxBatchFrames or ≤ maxBatchMs, or when caught up) it sends a heartbeat barrier. The server
 *   handles one connection in order, so the `recorded` reply proves every earlier frame arrived; only then does
 *   the durable cursor advance. Several barriers may be outstanding (pipelining) so the round trip costs no
 *   throughput; they complete in order.
 * - When the connection dies, everything after the cursor is sent again on the next connection, backlog first.
 *   Any record that may already have been on the wire (in this process, or by a previous process: everything that
 *   existed when the spool was opened) goes out with `withNewIdentifier(uuid)`: same time, new identifier, so a
 *   duplicate never hits the server's primary key and no UUID is ever written twice.
 */
import { EventEmitter } from 'node:events';
import {
  FRAME_CLASSES,
  type FrameClass,
  type FrameView,
  type SpoolView,
  type WireFrame,
} from '../../src-shared/view-models';
import { decodeFrame } from '../../src-main/agent/protocol/codec';
import { logFrame } from '../../src-main/agent/protocol/frames';
import { withNewIdentifier } from '../../src-main/agent/protocol/uuid';
import { type SpoolReader, type SpoolRecord } from '../../src-main/agent/spool/reader';
import { type PerClassTally, addToTally, emptyTally } from '../../src-main/agent/spool/segment-log';
import { type Spool } from '../../src-main/agent/spool/spool';

/** The subset of ConnectionManager the pump needs (a fake implements it in unit tests). */
export interface DeliveryTransport {
  isReady(): boolean;
  readonly connectionId: number | null;
  /** false = not connected (the frame was not written). May throw for a frame that must never be sent. */
  send(frame: WireFrame): boolean;
  /**
   * Optional fast path: `bytes` is exactly `encodeFrame(frame)` and the frame passed validation when it was spooled,
   * so the transport may write the bytes as they are (no second validation and encoding per frame). Used for
   * first transmissions; re-sends get a new identifier and go through `send`.
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
  /** Default 1000. */
  maxBatchFrames?: number;
  /** Default 1000 ms. */
  maxBatchMs?: number;
  /** When caught up, a partial batch gets its barrier after this long (coalesces trickles). Default 50 ms. */
  idleBarrierMs?: number;
  /** Barriers outstanding at once (bounds the unconfirmed window to this × maxBatchFrames). Default 4. */
  maxOutstandingBarriers?: number;
  /**
   * Bytes sent but not yet confirmed, at most. A barrier's heartbeat queues behind everything written before it and
   * must be answered within the heartbeat timeout, so on a slow link an unbounded window would time out, reconnect
   * and resend the same data forever. Default 1 MiB (≈ 35 kB/s still confirms within a 30 s timeout).
   */
  maxUnconfirmedBytes?: number;
  /** Recent sent frames kept for the status. Default 50. */
  recentFrames?: number;
  /** Minimum interval between 'status' events. Default 250 ms. */
  statusIntervalMs?: number;
  now?: () => number;
  onProblem?: (message: string) => void;
}

export const DROP_REPORT_SERVICE = 'minion-agent';

export function dropReportMessage(report: { telemetry: number; log: number }): string {
  return `dropped ${report.telemetry} telemetry and ${report.log} log frames while the spool was full`;
}

interface Batch {
  connectionId: number | null;
  lastSeq: number;
  count: number;
  /** Wire bytes of the batch's records (the part of the unconfirmed window it accounts for). */
  bytes: number;
  tally: PerClassTally;
  firstAppendedAt: number | null;
  startedAt: number;
  confirmed: boolean;
}

export interface DeliveryEvents {
  status: [SpoolView];
  /** The cursor advanced (a barrier succeeded). */
  confirmed: [info: { upToSeq: number; frames: number; rttMs: number }];
  problem: [message: string];
}

export interface DeliveryCounters {
  /** Frames written to a connection (incl. re-sends). */
  sent: number;
  /** Of those, re-sends with a fresh identifier. */
  resent: number;
  barriers: number;
  /** Records that could not be decoded or were refused by validation (skipped, never sent). */
  skippedInvalid: number;
}

export class OneStepDeliveryPump extends EventEmitter<DeliveryEvents> {
  private readonly reader: SpoolReader;
  private readonly maxBatchFrames: number;
  private readonly maxBatchMs: number;
  private readonly idleBarrierMs: number;
  private readonly maxOutstanding: number;
  private readonly maxUnconfirmedBytes: number;
  private readonly recentLimit: number;
  private readonly statusIntervalMs: number;
  private readonly now: () => number;
  private readonly onProblem: (message: string) => void;

  private epoch = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  /** Every record ≤ this may already have been written to some connection: re-send with a new identifier. */
  private maybeSentHigh: number;
  private open: Batch;
  private inflight: Batch[] = [];
  private readonly recentSent: FrameView[] = [];
  private replay = { active: false, total: 0, done: 0 };
  private wakers: Array<() => void> = [];
  private statusTimer: NodeJS.Timeout | null = null;
  private lastStatusAt = 0;
  readonly counters: DeliveryCounters = { sent: 0, resent: 0, barriers: 0, skippedInvalid: 0 };

  private readonly onReady = (connectionId: number): void => this.startConnection(connectionId);
  private readonly onDown = (): void => this.connectionLost();
  private readonly onWake = (): void => this.wake();

  constructor(
    private readonly spool: Spool,
    private readonly transport: DeliveryTransport,
    private readonly options: DeliveryOptions,
  ) {
    super();
    this.maxBatchFrames = options.maxBatchFrames ?? 1000;
    this.maxBatchMs = options.maxBatchMs ?? 1000;
    this.idleBarrierMs = options.idleBarrierMs ?? 50;
    this.maxOutstanding = options.maxOutstandingBarriers ?? 4;
    this.maxUnconfirmedBytes = options.maxUnconfirmedBytes ?? 1024 * 1024;
    this.recentLimit = options.recentFrames ?? 50;
    this.statusIntervalMs = options.statusIntervalMs ?? 250;
    this.now = options.now ?? Date.now;
    this.onProblem = options.onProblem ?? (() => undefined);
    this.reader = spool.createReader();
    this.maybeSentHigh = spool.lastSeqAtOpen;
    this.open = this.newBatch(null);
  }

  /** Starts listening; if the transport is already connected, starts draining at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.transport.on('ready', this.onReady);
    this.transport.on('down', this.onDown);
    this.transport.on('drain', this.onWake);
    this.spool.on('written', this.onWake);
    const id = this.transport.connectionId;
    if (this.transport.isReady() && id !== null) this.startConnection(id);
  }

  /** Stops draining (frames stay in the spool). Does not close the spool or the transport. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.epoch++;
    this.transport.off('ready', this.onReady);
    this.transport.off('down', this.onDown);
    this.transport.off('drain', this.onWake);
    this.spool.off('written', this.onWake);
    this.wake();
    await this.loop;
    await this.reader.close();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = null;
  }

  // ---- status ----------------------------------------------------------------------------------------------------

  view(): SpoolView {
    const awaiting: Record<FrameClass, number> = { log: 0, telemetry: 0, result: 0 };
    for (const b of [...this.inflight, this.open]) {
      for (const cls of FRAME_CLASSES) awaiting[cls] += b.tally[cls].frames;
    }
    return this.spool.view({ awaiting, replay: { ...this.replay }, recentSent: [...this.recentSent] });
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
    this.resetWindow();
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
    this.resetWindow();
    // During the outage the oldest telemetry/logs must be droppable again if the spool fills up.
    this.reader.releaseProtection(this.spool.confirmedSeq);
    this.replay.active = false;
    this.wake();
    this.statusChanged();
  }

  /** Unconfirmed frames are forgotten here; they are read again from the spool (after the cursor) next time. */
  private resetWindow(): void {
    this.inflight = [];
    this.open = this.newBatch(null);
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
      confirmed: false,
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
    while (epoch === this.epoch) {
      if (
        this.transport.writableNeedsDrain ||
        this.inflight.length >= this.maxOutstanding ||
        this.unconfirmedBytes() >= this.maxUnconfirmedBytes
      ) {
        await this.sleep(1000);
        continue;
      }
      const want = Math.min(256, this.maxBatchFrames - this.open.count);
      const records = await this.reader.read(want);
      if (epoch !== this.epoch) return;
      if (records.length === 0) {
        if (this.open.count > 0) {
          const age = this.now() - this.open.startedAt;
          if (age >= this.idleBarrierMs) this.closeBatch(epoch);
          else await this.sleep(this.idleBarrierMs - age);
        } else {
          await this.sleep(1000);
        }
        continue;
      }
      const resumeAt = this.sendChunk(records, epoch, connectionId);
      this.statusChanged();
      if (resumeAt !== null && epoch === this.epoch) {
        // Cut short: not connected any more ('down' follows, or already came, and bumps the epoch), or the
        // unconfirmed window is full (the loop waits for barriers above). Either way the reader goes back to the first
        // unsent record, so nothing after a gap can ever be sent (and confirmed) on this connection.
        await this.reader.seek(resumeAt);
        if (!this.transport.isReady()) await this.sleep(100);
      }
    }
  }

  /**
   * Sends a chunk of records corked (when the transport can). Returns the sequence to resume reading from when the
   * chunk was cut short (the transport is not connected, or the unconfirmed window reached maxUnconfirmedBytes),
   * else null.
   */
  private sendChunk(records: SpoolRecord[], epoch: number, connectionId: number): number | null {
    this.transport.cork?.();
    try {
      for (const record of records) {
        if (epoch !== this.epoch) return null;
        if (!this.sendRecord(record, connectionId)) return record.seq;
        const full = this.unconfirmedBytes() >= this.maxUnconfirmedBytes;
        if (
          full ||
          this.open.count >= this.maxBatchFrames ||
          this.now() - this.open.startedAt >= this.maxBatchMs
        ) {
          this.closeBatch(epoch);
        }
        // The rest of the chunk waits until barriers confirm some of the window (the reader goes back to it).
        if (full) return record.seq + 1;
      }
      return null;
    } finally {
      this.transport.uncork?.();
    }
  }

  /** Writes one record; false when the transport is not connected. */
  private sendRecord(record: SpoolRecord, connectionId: number): boolean {
    let frame: WireFrame | null = null;
    try {
      frame = decodeFrame(record.payload);
    } catch (e) {
      this.counters.skippedInvalid++;
      this.problem(`spool record ${record.seq} cannot be decoded, skipped: ${(e as Error).message}`);
    }
    let sentFrame = frame;
    if (frame) {
      const resend = record.seq <= this.maybeSentHigh;
      sentFrame = resend ? [frame[0], withNewIdentifier(frame[1]), frame[2]] : frame;
      let written: boolean;
      try {
        written =
          !resend && this.transport.sendEncoded
            ? this.transport.sendEncoded(record.payload, sentFrame)
            : this.transport.send(sentFrame);
      } catch (e) {
        // A frame that must never be sent (validation): skip it for good, but count it through the barrier so the
        // cursor moves past it.
        this.counters.skippedInvalid++;
        this.problem(`spool record ${record.seq} refused by validation, skipped: ${(e as Error).message}`);
        written = true;
        sentFrame = null;
      }
      if (!written) return false;
      if (sentFrame) {
        this.counters.sent++;
        if (resend) this.counters.resent++;
      }
    }
    this.maybeSentHigh = Math.max(this.maybeSentHigh, record.seq);
    const b = this.open;
    if (b.count === 0) {
      b.startedAt = this.now();
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
    if (sentFrame) {
      this.recentSent.push({
        seq: record.seq,
        cls: record.cls,
        verb: sentFrame[0],
        uuid: sentFrame[1],
        data: sentFrame[2],
        bytes: record.payload.length,
        at: this.now(),
      });
      if (this.recentSent.length > this.recentLimit) this.recentSent.shift();
    }
    return true;
  }

  private unconfirmedBytes(): number {
    let bytes = this.open.bytes;
    for (const batch of this.inflight) bytes += batch.bytes;
    return bytes;
  }

  private closeBatch(epoch: number): void {
    const batch = this.open;
    this.open = this.newBatch(batch.connectionId);
    this.inflight.push(batch);
    this.counters.barriers++;
    this.transport.barrier().then(
      (result) => {
        if (epoch !== this.epoch || result.connectionId !== batch.connectionId) return;
        batch.confirmed = true;
        this.confirmInOrder(result.rttMs);
      },
      () => {
        // The connection died or the barrier timed out: 'down' resets the window; nothing is confirmed.
      },
    );
  }

  private confirmInOrder(rttMs: number): void {
    while (this.inflight[0]?.confirmed) {
      const batch = this.inflight.shift() as Batch;
      const next = this.inflight[0] ?? (this.open.count > 0 ? this.open : null);
      this.spool.confirm(batch.lastSeq, batch.tally, next?.firstAppendedAt ?? null);
      this.emit('confirmed', { upToSeq: batch.lastSeq, frames: batch.count, rttMs });
    }
    this.queueDropReport();
    this.wake();
    this.statusChanged();
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
