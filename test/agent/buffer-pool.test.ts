import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src-main/agent/buffer-pool';

describe('BufferPool', () => {
  it('hands a given-back buffer out again instead of allocating', () => {
    const pool = new BufferPool(1024, 2);
    const first = pool.take();
    expect(first.length).toBe(1024);
    pool.give(first);
    expect(pool.spareCount).toBe(1);
    expect(pool.take(100)).toBe(first);
    expect(pool.allocated).toBe(1);
    expect(pool.spareCount).toBe(0);
  });

  it('gives a larger request a buffer of its own, and never keeps it', () => {
    const pool = new BufferPool(1024, 2);
    pool.give(pool.take());
    const big = pool.take(5000);
    expect(big.length).toBe(5000);
    expect(pool.spareCount).toBe(1);
    pool.give(big);
    expect(pool.spareCount).toBe(1);
    expect(pool.take()).not.toBe(big);
    expect(pool.allocated).toBe(2);
  });

  it('keeps at most maxSpare buffers, each once', () => {
    const pool = new BufferPool(64, 2);
    const taken = [pool.take(), pool.take(), pool.take()];
    pool.give(taken[0]!);
    pool.give(taken[0]!);
    expect(pool.spareCount).toBe(1);
    taken.forEach((b) => pool.give(b));
    expect(pool.spareCount).toBe(2);
    expect(pool.allocated).toBe(3);
  });
});
