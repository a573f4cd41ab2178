import { type WireFrame } from '../../../src-shared/view-models';
import { decodeFrame } from '../../../src-main/agent/protocol/codec';
import { type DeliveryTransport } from '../../../src-main/agent/spool/delivery';
import { TestConnections } from './helpers';

interface PendingBarrier {
  connectionId: number;
  sentAt: number;
  resolve: (v: { connectionId: number; rttMs: number }) => void;
  reject: (e: Error) => void;
}

/**
 * A transport whose server answers barriers only when the test says so (`answer`), and that records when each frame
 * and barrier went out (`Date.now()`, faked in the cadence tests). For tests of what the pump does between a barrier
 * and its answer: the timing of barriers, the two confirmation steps, the rate estimate.
 */
export class ManualTransport extends TestConnections implements DeliveryTransport {
  sent: Array<{ frame: WireFrame; at: number; connectionId: number }> = [];
  barriersSent: Array<{ at: number; connectionId: number }> = [];
  /** Thrown by the backpressure check, as an unexpected fault inside the pump's loop would be. */
  drainCheckError: Error | null = null;
  /** Texts whose send throws, as the connection's validation does for a frame that must never be sent. */
  invalid = new Set<string>();
  /** Sends answered "not connected". */
  refused = 0;
  /** When false, isReady() answers false while the connection is still up (it is closing; 'down' not emitted yet). */
  ready = true;
  private pending: PendingBarrier[] = [];

  isReady(): boolean {
    return this.current !== null && this.ready;
  }

  get writableNeedsDrain(): boolean {
    if (this.drainCheckError) throw this.drainCheckError;
    return this.needsDrain;
  }

  get pendingBarriers(): number {
    return this.pending.length;
  }

  send(frame: WireFrame): boolean {
    if (!this.isReady()) {
      this.refused++;
      return false;
    }
    const text = frame[2][3];
    if (typeof text === 'string' && this.invalid.has(text)) throw new Error(`frame "${text}" refused`);
    this.sent.push({ frame, at: Date.now(), connectionId: this.current as number });
    return true;
  }

  sendEncoded?: (bytes: Uint8Array, frame?: WireFrame) => boolean = (bytes) => this.send(decodeFrame(bytes));

  barrier(): Promise<{ connectionId: number; rttMs: number }> {
    const id = this.current;
    if (id === null) return Promise.reject(new Error('not connected'));
    this.barriersSent.push({ at: Date.now(), connectionId: id });
    return new Promise((resolve, reject) => {
      this.pending.push({ connectionId: id, sentAt: Date.now(), resolve, reject });
    });
  }

  /**
   * Answers the oldest pending barrier (as the server would, in order). `asConnection` makes the answer claim another
   * connection id than the one the barrier went out on.
   */
  answer(asConnection?: number): void {
    const b = this.pending.shift();
    if (!b) throw new Error('no barrier pending');
    b.resolve({ connectionId: asConnection ?? b.connectionId, rttMs: Date.now() - b.sentAt });
  }

  /** A new connection is ready until the test says it is closing. */
  override connect(): number {
    this.ready = true;
    return super.connect();
  }

  /** Kills the connection: pending barriers reject, 'down' follows. */
  kill(reason = 'killed'): void {
    this.disconnect(reason, () => {
      for (const b of this.pending.splice(0)) b.reject(new Error(reason));
    });
  }

  /**
   * Like `kill`, but keeps the pending barriers: their answers can still be delivered afterwards (`answer`), as a
   * late reply racing the connection's close.
   */
  killKeepingBarriers(reason = 'killed'): void {
    this.disconnect(reason);
  }
}
