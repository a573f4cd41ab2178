/**
 * Copies outgoing frames into pooled buffers and writes them to the socket. The connection never hands the socket
 * a view of its caller's memory (a spool reader's payload, valid only until the reader's next read), and the memory
 * it does hand over is reused deterministically instead of left to the GC: a frame is copied into the current
 * buffer, the filled part leaves with one `socket.write(view, callback)` (at once, or at the end of a cork, or when
 * the buffer is full), and the buffer is reused once all of its writes are done: when their callbacks come, or
 * earlier, when the socket's `writableLength` shows it holds nothing any more (a write the kernel took at once is
 * done when `write` returns, but its callback only comes on a later tick: a pump sending many chunks in one go
 * would otherwise go through a new buffer per 64 KiB).
 *
 * Every frame is copied whole into one buffer, so it always leaves in one write: never a split prefix (§14).
 * Frames leave in the order they were added, whatever the buffer they went into.
 */

import { BufferPool } from '../buffer-pool';

/** Size of a pooled buffer; a frame larger than this gets a buffer of its own size (not pooled). */
export const WRITE_BUFFER_BYTES = 64 * 1024;
/** Spare buffers kept for reuse: one is enough while the socket keeps up, a few absorb backpressure. */
const MAX_SPARE_BUFFERS = 4;

/** The part of a socket the writer uses. */
export interface FrameSink {
  readonly destroyed: boolean;
  /** Bytes written and not yet done with (0: the socket keeps no reference to anything written). */
  readonly writableLength: number;
  write(chunk: Uint8Array, callback: (error?: Error | null) => void): boolean;
}

interface WriteBuffer {
  bytes: Buffer;
  /** Bytes copied in so far. */
  filled: number;
  /** Bytes handed to the socket so far (`written … filled` is held back). */
  written: number;
  /** `socket.write` calls not known to be done yet. */
  pendingWrites: number;
  /** Bumped when its writes are found done early: their callbacks, when they come, are then ignored. */
  generation: number;
  /** The socket its bytes are for. */
  sink: FrameSink;
}

export interface FrameWriterStats {
  /** Buffers allocated so far (pooled and oversized). */
  buffersAllocated: number;
  /** Spare buffers waiting for reuse. */
  spareBuffers: number;
}

export class FrameWriter {
  /** The buffer frames are copied into; null before the first frame and after a socket change. */
  private current: WriteBuffer | null = null;
  /** Buffers no more frames go into, waiting for their writes to be done. */
  private readonly retired = new Set<WriteBuffer>();
  private readonly pool = new BufferPool(WRITE_BUFFER_BYTES, MAX_SPARE_BUFFERS);

  get stats(): FrameWriterStats {
    return { buffersAllocated: this.pool.allocated, spareBuffers: this.pool.spareCount };
  }

  /**
   * Copies the whole frame `bytes` (the caller may reuse them as soon as this returns) for `sink`. `hold`: keep it
   * back until `flush()` (a cork), else write it now.
   */
  add(sink: FrameSink, bytes: Uint8Array, hold: boolean): void {
    let buffer = this.current;
    if (buffer !== null && (buffer.sink !== sink || buffer.bytes.length - buffer.filled < bytes.length)) {
      // Full, or for another socket: what it holds leaves first (a frame never splits across buffers).
      this.flush();
      this.retire(buffer);
      buffer = null;
    }
    buffer ??= this.current = this.take(sink, bytes.length);
    buffer.bytes.set(bytes, buffer.filled);
    buffer.filled += bytes.length;
    if (!hold) this.flush();
  }

  /** Writes what is held back (in one write). Frames held for a socket destroyed meanwhile are dropped. */
  flush(): void {
    const buffer = this.current;
    if (buffer === null || buffer.written === buffer.filled) return;
    const from = buffer.written;
    buffer.written = buffer.filled;
    if (buffer.sink.destroyed) return;
    buffer.pendingWrites++;
    const generation = buffer.generation;
    buffer.sink.write(buffer.bytes.subarray(from, buffer.filled), () => this.onWritten(buffer, generation));
    this.settle(buffer.sink);
  }

  /**
   * When `sink` holds nothing any more (its `writableLength` is 0: every write was taken by the kernel, none is
   * queued or in progress), the buffers written to it are free now, without waiting for their callbacks. The
   * connection calls this after a cork ends (a corked socket counts what it holds back).
   */
  settle(sink: FrameSink): void {
    if (sink.writableLength !== 0 || sink.destroyed) return;
    const buffer = this.current;
    if (buffer !== null && buffer.sink === sink && buffer.pendingWrites > 0) {
      buffer.pendingWrites = 0;
      buffer.generation++;
      if (buffer.written === buffer.filled) {
        buffer.filled = 0;
        buffer.written = 0;
      }
    }
    for (const old of this.retired) {
      if (old.sink !== sink) continue;
      old.generation++;
      this.retired.delete(old);
      this.giveBack(old);
    }
  }

  /** Drops what is held back for `sink` (its connection is gone) and forgets its buffer. */
  discard(sink: FrameSink): void {
    const buffer = this.current;
    if (buffer === null || buffer.sink !== sink) return;
    buffer.written = buffer.filled;
    this.retire(buffer);
  }

  /** A pooled buffer for a frame of `frameBytes` (an own one for a frame larger than a pooled buffer). */
  private take(sink: FrameSink, frameBytes: number): WriteBuffer {
    return {
      bytes: this.pool.take(frameBytes),
      filled: 0,
      written: 0,
      pendingWrites: 0,
      generation: 0,
      sink,
    };
  }

  /** No more frames go into `buffer`: it is given back once its last write is done. */
  private retire(buffer: WriteBuffer): void {
    if (this.current === buffer) this.current = null;
    if (buffer.pendingWrites === 0) this.giveBack(buffer);
    else this.retired.add(buffer);
  }

  private onWritten(buffer: WriteBuffer, generation: number): void {
    if (generation !== buffer.generation) return;
    buffer.pendingWrites--;
    if (buffer.pendingWrites > 0) return;
    if (buffer !== this.current) {
      this.retired.delete(buffer);
      this.giveBack(buffer);
    } else if (buffer.written === buffer.filled) {
      // Everything it held is out: start over at its beginning instead of moving on to another buffer.
      buffer.filled = 0;
      buffer.written = 0;
    }
  }

  private giveBack(buffer: WriteBuffer): void {
    // A buffer whose callback never comes (its socket was destroyed mid-write) is simply garbage.
    this.pool.give(buffer.bytes);
  }
}
