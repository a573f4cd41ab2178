/**
 * Equal-sized buffers taken and given back, so the memory of a hot path is reused instead of left to the GC: a
 * buffer still referenced after two scavenges is promoted, and its memory then waits for the next mark-compact (up
 * to ~20 MiB of dead ones during a log burst: docs/performance.md, round 7). A request larger than the pool's size
 * gets a buffer of its own, which is never kept; at most `maxSpare` buffers wait for reuse. The pool cannot know
 * who still holds a view of a buffer: its owner gives one back only when nobody does.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];
  private allocatedCount = 0;

  constructor(
    readonly size: number,
    private readonly maxSpare: number,
  ) {}

  /** A spare buffer of `size` bytes, or a new one (of `minBytes` when that is more). */
  take(minBytes = this.size): Buffer {
    const spare = minBytes <= this.size ? this.spare.pop() : undefined;
    if (spare) return spare;
    this.allocatedCount++;
    return Buffer.allocUnsafe(Math.max(this.size, minBytes));
  }

  /** `buffer` is free: kept for `take` if it is of the pool's size and there is room (else left to the GC). */
  give(buffer: Buffer): void {
    if (buffer.length !== this.size || this.spare.length >= this.maxSpare || this.spare.includes(buffer))
      return;
    this.spare.push(buffer);
  }

  /** Buffers allocated so far, pooled and oversized (a reused one is not counted again). */
  get allocated(): number {
    return this.allocatedCount;
  }

  get spareCount(): number {
    return this.spare.length;
  }
}
