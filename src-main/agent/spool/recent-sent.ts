/**
 * The delivery pump's recent sent frames (the dashboard's Messages view, `spool` status). The pump sends frames as
 * their stored bytes without decoding them, so the ring keeps what a view is made of — sequence, class, the bytes
 * written, size, time — and decodes a frame only when a view is asked for, i.e. when someone watches. A built view
 * is kept with its slot, so a status refreshed every 250 ms decodes each frame once.
 *
 * Bytes are referenced, not copied — unless they are borrowed (a reader's payload, valid only until its next read)
 * or a small view into a large buffer: keeping such a view would keep the whole buffer alive. Those bytes are copied
 * into the slot's own buffer, reused from push to push, and the slot remembers their length: no allocation per push
 * once the slots have grown to the frame sizes seen (a view object per push was ~9 MiB of garbage per 100k-line
 * burst).
 */
import { type FrameClass, type FrameView, type WireFrame } from '../../../src-shared/view-models';
import { decodeFrame } from '../protocol/codec';

/** A view into a backing buffer larger than this is copied rather than referenced (Node's Buffer pool is 8 KiB). */
const MAX_PINNED_BUFFER_BYTES = 16 * 1024;

export class RecentSentRing {
  private readonly capacity: number;
  private readonly seqs: Float64Array;
  private readonly ats: Float64Array;
  private readonly sizes: Uint32Array;
  private readonly classes: FrameClass[];
  /**
   * What was written: the bytes (decoded when viewed), or the frame itself when it was sent decoded; null when the
   * bytes were copied into `owned[i]` (its first `ownedLengths[i]` bytes).
   */
  private readonly sent: Array<Uint8Array | WireFrame | null>;
  private readonly built: Array<FrameView | null>;
  /** Each slot's own buffer for copied bytes. */
  private readonly owned: Array<Buffer | null>;
  private readonly ownedLengths: Uint32Array;
  /** Slot of the next push; the oldest slot once the ring is full. */
  private next = 0;
  private size = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
    this.seqs = new Float64Array(this.capacity);
    this.ats = new Float64Array(this.capacity);
    this.sizes = new Uint32Array(this.capacity);
    this.classes = new Array<FrameClass>(this.capacity).fill('log');
    this.sent = new Array<Uint8Array | WireFrame | null>(this.capacity).fill(null);
    this.built = new Array<FrameView | null>(this.capacity).fill(null);
    this.owned = new Array<Buffer | null>(this.capacity).fill(null);
    this.ownedLengths = new Uint32Array(this.capacity);
  }

  /**
   * Records a sent frame: `sent` is the bytes written or the frame when it was sent decoded; `bytes` is its wire
   * size. `borrowed`: the bytes may change after this call (a reader's payload), so they are copied; otherwise they
   * must not change afterwards.
   */
  push(
    seq: number,
    cls: FrameClass,
    sent: Uint8Array | WireFrame,
    bytes: number,
    at: number,
    borrowed = false,
  ): void {
    if (this.capacity === 0) return;
    const i = this.next;
    this.seqs[i] = seq;
    this.classes[i] = cls;
    if (
      sent instanceof Uint8Array &&
      (borrowed || (sent.buffer.byteLength > MAX_PINNED_BUFFER_BYTES && sent.buffer.byteLength > sent.length))
    ) {
      this.copyIntoSlot(i, sent);
      this.sent[i] = null;
    } else {
      this.sent[i] = sent;
    }
    this.sizes[i] = bytes;
    this.ats[i] = at;
    this.built[i] = null;
    this.next = i + 1 === this.capacity ? 0 : i + 1;
    if (this.size < this.capacity) this.size++;
  }

  private copyIntoSlot(i: number, bytes: Uint8Array): void {
    let own = this.owned[i];
    if (!own || own.length < bytes.length) {
      own = Buffer.allocUnsafeSlow(Math.max(bytes.length, 512));
      this.owned[i] = own;
    }
    own.set(bytes);
    this.ownedLengths[i] = bytes.length;
  }

  /**
   * Oldest first, as FrameViews (verb, UUID — for a re-send the one actually sent — and data). A frame whose bytes do
   * not decode (never expected: they were validated when spooled) is left out rather than failing the whole status.
   */
  views(): FrameView[] {
    const out: FrameView[] = [];
    const first = (this.next - this.size + this.capacity) % this.capacity;
    for (let k = 0; k < this.size; k++) {
      const i = (first + k) % this.capacity;
      const view = (this.built[i] ??= this.build(i));
      if (view) out.push(view);
    }
    return out;
  }

  private build(i: number): FrameView | null {
    // Only pushed slots are visited: a null `sent` has its bytes in `owned`.
    const sent = this.sent[i] ?? (this.owned[i] as Buffer).subarray(0, this.ownedLengths[i] as number);
    let frame: WireFrame;
    if (sent instanceof Uint8Array) {
      try {
        frame = decodeFrame(sent);
      } catch {
        return null;
      }
    } else {
      frame = sent;
    }
    return {
      seq: this.seqs[i] as number,
      cls: this.classes[i] as FrameClass,
      verb: frame[0],
      uuid: frame[1],
      data: frame[2],
      bytes: this.sizes[i] as number,
      at: this.ats[i] as number,
    };
  }
}
