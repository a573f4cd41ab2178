/**
 * Fixed-capacity FIFO: the newest `capacity` items survive, older ones are overwritten. Used for logs and wire
 * frames so a chatty agent can never grow the renderer's memory without bound.
 */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private count = 0;
  /** Items pushed since creation, including overwritten ones (lets views tell "new data" apart cheaply). */
  private pushedTotal = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  get totalPushed(): number {
    return this.pushedTotal;
  }

  /** Items that fell off the front because the buffer was full. */
  get overwritten(): number {
    return this.pushedTotal - this.count;
  }

  push(item: T): void {
    const end = (this.start + this.count) % this.capacity;
    this.items[end] = item;
    if (this.count < this.capacity) this.count += 1;
    else this.start = (this.start + 1) % this.capacity;
    this.pushedTotal += 1;
  }

  pushMany(items: readonly T[]): void {
    // Only the tail can survive a batch larger than the buffer.
    const from = Math.max(0, items.length - this.capacity);
    this.pushedTotal += from;
    for (let i = from; i < items.length; i += 1) this.push(items[i] as T);
  }

  /** Oldest-first index access. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.items[(this.start + index) % this.capacity];
  }

  last(): T | undefined {
    return this.at(this.count - 1);
  }

  toArray(): T[] {
    const out = new Array<T>(this.count);
    for (let i = 0; i < this.count; i += 1) out[i] = this.items[(this.start + i) % this.capacity] as T;
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.start = 0;
    this.count = 0;
  }
}
