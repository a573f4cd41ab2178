import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { RecentSentRing } from '../../../src-main/agent/spool/recent-sent';
import { frameOf } from './helpers';

describe('RecentSentRing', () => {
  it('keeps the newest entries oldest first across wrap-arounds, as frame views', () => {
    const ring = new RecentSentRing(3);
    const frames = Array.from({ length: 8 }, (_, i) => frameOf('telemetry', `t${i}`));
    frames.forEach((f, i) => ring.push(i + 1, 'telemetry', encodeFrame(f), encodeFrame(f).length, 1000 + i));
    expect(ring.views()).toEqual(
      frames.slice(5).map((f, k) => ({
        seq: 6 + k,
        cls: 'telemetry',
        verb: 'T',
        uuid: f[1],
        data: f[2],
        bytes: encodeFrame(f).length,
        at: 1005 + k,
      })),
    );
  });

  it('copies borrowed bytes (a reader payload, reused by its next read) however small their buffer', () => {
    const ring = new RecentSentRing(2);
    const scratch = Buffer.alloc(256);
    const frames = [frameOf('log', 'first'), frameOf('log', 'second')];
    frames.forEach((f, i) => {
      const bytes = encodeFrame(f);
      bytes.copy(scratch);
      ring.push(i + 1, 'log', scratch.subarray(0, bytes.length), bytes.length, 10, true);
    });
    scratch.fill(0);
    expect(ring.views().map((v) => v.data)).toEqual(frames.map((f) => f[2]));
  });

  it('takes a frame that was sent decoded as it is, and leaves out bytes that do not decode', () => {
    const ring = new RecentSentRing(4);
    const decoded = frameOf('result', 'r');
    ring.push(1, 'result', decoded, 99, 5);
    ring.push(2, 'log', Buffer.from([0x00, 0x02, 0xc1, 0xc1]), 4, 6);
    const log = frameOf('log', 'l');
    ring.push(3, 'log', encodeFrame(log), 77, 7);
    const views = ring.views();
    expect(views.map((v) => [v.seq, v.verb, v.bytes])).toEqual([
      [1, 'R', 99],
      [3, 'L', 77],
    ]);
    expect(views[0]?.data).toBe(decoded[2]);
    // Built once per slot: the same objects on the next read, a fresh one for a new frame in a reused slot.
    expect(ring.views()[1]).toBe(views[1]);
    ring.push(4, 'log', encodeFrame(log), 77, 8);
    ring.push(5, 'log', encodeFrame(frameOf('log', 'overwrites seq 1')), 70, 9);
    expect(ring.views().map((v) => v.seq)).toEqual([3, 4, 5]);
    expect(ring.views()[2]?.data[3]).toBe('overwrites seq 1');
  });

  it('copies bytes that are a view into a large buffer, so the ring never keeps a whole reader chunk alive', () => {
    const ring = new RecentSentRing(2);
    const frames = [frameOf('log', 'in a chunk'), frameOf('log', 'a longer one in the same chunk')];
    const encoded = frames.map((f) => encodeFrame(f));
    const chunk = Buffer.alloc(256 * 1024);
    encoded[0]!.copy(chunk, 100);
    encoded[1]!.copy(chunk, 1000);
    ring.push(1, 'log', chunk.subarray(100, 100 + encoded[0]!.length), encoded[0]!.length, 1);
    ring.push(2, 'log', chunk.subarray(1000, 1000 + encoded[1]!.length), encoded[1]!.length, 2);
    // The chunk is reused for something else: the ring still shows what was sent.
    chunk.fill(0);
    expect(ring.views().map((v) => v.data)).toEqual(frames.map((f) => f[2]));
    // Slots reuse their copy buffer for the next frames.
    ring.push(3, 'log', chunk.subarray(0, 0), 0, 3);
    encoded[1]!.copy(chunk, 5000);
    ring.push(4, 'log', chunk.subarray(5000, 5000 + encoded[1]!.length), encoded[1]!.length, 4);
    expect(ring.views().map((v) => v.seq)).toEqual([4]);
    expect(ring.views()[0]?.data).toEqual(frames[1]![2]);
  });

  it('a slot reusing its copy buffer for a shorter frame shows only that frame', () => {
    const ring = new RecentSentRing(1);
    const long = frameOf('log', 'a long line '.repeat(40));
    const short = frameOf('log', 'short');
    const arena = Buffer.alloc(64 * 1024);
    const longBytes = encodeFrame(long);
    longBytes.copy(arena, 0);
    ring.push(1, 'log', arena.subarray(0, longBytes.length), longBytes.length, 1);
    expect(ring.views()[0]?.data).toEqual(long[2]);
    const shortBytes = encodeFrame(short);
    shortBytes.copy(arena, 8000);
    ring.push(2, 'log', arena.subarray(8000, 8000 + shortBytes.length), shortBytes.length, 2);
    arena.fill(0);
    expect(ring.views().map((v) => [v.seq, v.data])).toEqual([[2, short[2]]]);
  });

  it('a slot grows its copy buffer for a longer frame, and keeps the larger buffer for a shorter one', () => {
    const ring = new RecentSentRing(1);
    const arena = Buffer.alloc(256 * 1024);
    // Past the slot's first 512-byte buffer, then longer still, then shorter again.
    for (const [seq, length] of [
      [1, 600],
      [2, 5000],
      [3, 700],
      [4, 20_000],
    ] as const) {
      const frame = frameOf('log', `${seq}:`.padEnd(length, 'g'));
      const bytes = encodeFrame(frame);
      bytes.copy(arena, 1000);
      ring.push(seq, 'log', arena.subarray(1000, 1000 + bytes.length), bytes.length, seq);
      arena.fill(0);
      expect(ring.views().map((v) => [v.seq, v.data])).toEqual([[seq, frame[2]]]);
    }
  });

  it('references bytes that are their whole buffer, or a view into a buffer of up to 16 KiB, instead of copying', () => {
    const ring = new RecentSentRing(2);
    const whole = encodeFrame(frameOf('log', 'w'.repeat(20_000)));
    const own = Buffer.allocUnsafeSlow(whole.length);
    whole.copy(own);
    ring.push(1, 'log', own, own.length, 1);
    const small = encodeFrame(frameOf('log', 'in a 16 KiB buffer'));
    const pool = Buffer.alloc(16 * 1024);
    small.copy(pool, 100);
    ring.push(2, 'log', pool.subarray(100, 100 + small.length), small.length, 2);
    // Observed by changing the bytes afterwards (which senders never do): a referenced frame shows the change.
    const changed = encodeFrame(frameOf('log', 'v'.repeat(20_000)));
    changed.copy(own);
    const changedSmall = encodeFrame(frameOf('log', 'IN A 16 KiB BUFFER'));
    changedSmall.copy(pool, 100);
    expect(ring.views().map((v) => v.data[3])).toEqual(['v'.repeat(20_000), 'IN A 16 KiB BUFFER']);
  });

  it('keeps nothing with a capacity of 0', () => {
    const ring = new RecentSentRing(0);
    ring.push(1, 'log', encodeFrame(frameOf('log', 'x')), 10, 1);
    expect(ring.views()).toEqual([]);
  });
});
