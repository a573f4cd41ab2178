import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src-renderer/state/ring-buffer';

describe('RingBuffer', () => {
  it('keeps the newest items in order and counts what fell off', () => {
    const ring = new RingBuffer<number>(3);
    ring.pushMany([1, 2, 3, 4]);
    ring.push(5);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.size).toBe(3);
    expect(ring.totalPushed).toBe(5);
    expect(ring.overwritten).toBe(2);
    expect(ring.at(0)).toBe(3);
    expect(ring.last()).toBe(5);
    expect(ring.at(3)).toBeUndefined();
  });

  it('takes only the tail of a batch larger than itself', () => {
    const ring = new RingBuffer<number>(2);
    ring.pushMany([1, 2, 3, 4, 5]);
    expect(ring.toArray()).toEqual([4, 5]);
    expect(ring.totalPushed).toBe(5);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(1.5)).toThrow(RangeError);
  });

  it('always equals the last `capacity` items of everything pushed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.array(fc.integer(), { maxLength: 30 }), { maxLength: 10 }),
        (capacity, batches) => {
          const ring = new RingBuffer<number>(capacity);
          const all: number[] = [];
          for (const batch of batches) {
            ring.pushMany(batch);
            all.push(...batch);
          }
          expect(ring.toArray()).toEqual(all.slice(-capacity));
          expect(ring.totalPushed).toBe(all.length);
        },
      ),
    );
  });
});
