import { describe, expect, it } from 'vitest';
import {
  type FrameSink,
  FrameWriter,
  WRITE_BUFFER_BYTES,
} from '../../../src-main/agent/connection/frame-writer';

/** A socket whose writes finish only when the test says so (as under backpressure). */
class SlowSink implements FrameSink {
  destroyed = false;
  /** Copies of what was written, in order. */
  readonly written: Buffer[] = [];
  /** The ArrayBuffers the writes were views of. */
  readonly sources: ArrayBufferLike[] = [];
  private readonly pending: Array<{ bytes: number; done: () => void }> = [];

  get writableLength(): number {
    return this.pending.reduce((n, p) => n + p.bytes, 0);
  }

  write(chunk: Uint8Array, callback: () => void): boolean {
    this.written.push(Buffer.from(chunk));
    this.sources.push(chunk.buffer);
    this.pending.push({ bytes: chunk.length, done: callback });
    return true;
  }

  /** Finishes the oldest `count` writes (all by default). */
  finish(count = this.pending.length): void {
    for (const p of this.pending.splice(0, count)) p.done();
  }
}

/** A whole frame of `length` bytes (length prefix + filler `fill`). */
function frame(length: number, fill: number): Buffer {
  const bytes = Buffer.alloc(length, fill);
  bytes.writeUInt16BE(length - 2, 0);
  return bytes;
}

describe('FrameWriter', () => {
  it('copies frames (the caller may reuse its bytes at once) and writes each uncorked one at once, in order', () => {
    const writer = new FrameWriter();
    const sink = new SlowSink();
    const scratch = Buffer.alloc(100);
    for (let i = 0; i < 5; i++) {
      frame(100, i).copy(scratch);
      writer.add(sink, scratch, false);
      scratch.fill(0xff);
    }
    expect(sink.written).toEqual([0, 1, 2, 3, 4].map((i) => frame(100, i)));
    expect(sink.sources.filter((s) => s === scratch.buffer)).toEqual([]);
  });

  it('holds frames until flush, then writes them in one write; a full buffer is written first, never a split frame', () => {
    const writer = new FrameWriter();
    const sink = new SlowSink();
    const frames = Array.from({ length: 30 }, (_, i) => frame(5000, i));
    for (const f of frames) writer.add(sink, f, true);
    // 13 frames fill 65,000 of 65,536 bytes: the 14th goes to a second buffer, after the first is written (and so
    // on); the last 4 wait for the flush.
    expect(sink.written).toEqual([Buffer.concat(frames.slice(0, 13)), Buffer.concat(frames.slice(13, 26))]);
    writer.flush();
    expect(Buffer.concat(sink.written).equals(Buffer.concat(frames))).toBe(true);
    expect(sink.written.map((w) => w.length)).toEqual([65_000, 65_000, 20_000]);
  });

  it('gives a frame larger than a pooled buffer a buffer of its own, which is not pooled', () => {
    const writer = new FrameWriter();
    const sink = new SlowSink();
    const big = frame(WRITE_BUFFER_BYTES + 1, 7);
    writer.add(sink, frame(10, 1), true);
    writer.add(sink, big, true);
    writer.add(sink, frame(10, 2), true);
    writer.flush();
    expect(sink.written).toEqual([frame(10, 1), big, frame(10, 2)]);
    sink.finish();
    // The first pooled buffer is a spare again, the oversized one is garbage, the third is still the current one.
    expect(writer.stats).toEqual({ buffersAllocated: 3, spareBuffers: 1 });
  });

  it('reuses a buffer once its writes are done (callback), keeps at most 4 spares however many were in flight', () => {
    const writer = new FrameWriter();
    const sink = new SlowSink();
    // 10 buffers' worth in flight (the socket lags): each full buffer is retired and a new one taken.
    for (let i = 0; i < 130; i++) writer.add(sink, frame(5000, i % 250), true);
    writer.flush();
    expect(writer.stats.buffersAllocated).toBe(10);
    sink.finish();
    expect(writer.stats.spareBuffers).toBe(4);
    // Later rounds (3 buffers' worth each) take the spares; written and finished, they keep being reused.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 39; i++) writer.add(sink, frame(5000, i), true);
      writer.flush();
      sink.finish();
    }
    expect(writer.stats.buffersAllocated).toBe(10);
    expect(writer.stats.spareBuffers).toBeLessThanOrEqual(4);
  });

  it('when the socket holds nothing any more, reuses the buffers at once; their late callbacks change nothing', () => {
    const writer = new FrameWriter();
    const sink = new SlowSink();
    for (let i = 0; i < 26; i++) writer.add(sink, frame(5000, i), true);
    writer.flush();
    expect(writer.stats.buffersAllocated).toBe(2);
    // The writes are done but their callbacks come later (a write the kernel took at once).
    const late = sink['pending'].splice(0);
    writer.settle(sink);
    expect(writer.stats.spareBuffers).toBe(1);
    for (const p of late) p.done();
    expect(writer.stats.spareBuffers).toBe(1);
    for (let i = 0; i < 26; i++) writer.add(sink, frame(5000, 100 + i), true);
    writer.flush();
    expect(writer.stats.buffersAllocated).toBe(2);
    expect(sink.written.slice(2).map((w) => w[2])).toEqual([100, 113]);
  });

  it('drops what it holds for a destroyed socket, and starts a new buffer for the next socket', () => {
    const writer = new FrameWriter();
    const first = new SlowSink();
    writer.add(first, frame(100, 1), true);
    first.destroyed = true;
    writer.flush();
    expect(first.written).toEqual([]);
    writer.add(first, frame(100, 2), true);
    writer.discard(first);
    writer.flush();
    expect(first.written).toEqual([]);
    const second = new SlowSink();
    writer.add(second, frame(100, 3), false);
    expect(second.written).toEqual([frame(100, 3)]);
  });
});
