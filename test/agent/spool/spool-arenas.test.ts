/**
 * The spool's staging arenas are recycled: once every reader has passed an arena (or it fell out of the in-memory
 * tail) it is reused for later appends instead of left to the GC. Nothing may then still show its old bytes: readers
 * copy what they take, the recent-queued ring copies its frames out first, a reader that fell behind reads the file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { type SpoolReader } from '../../../src-main/agent/spool/reader';
import { type Spool } from '../../../src-main/agent/spool/spool';
import { frameOf } from './helpers';
import { spoolTestKit } from './spool-harness';

const { cleanups, dataDir, openSpool } = spoolTestKit('spool-arenas-');
afterEach(() => cleanups.runAll());

/** Appends `count` log frames of ~`bytes` each, tagged `tag`; returns them by sequence. */
function appendLogs(spool: Spool, count: number, bytes: number, tag: string): Map<number, WireFrame> {
  const out = new Map<number, WireFrame>();
  for (let i = 0; i < count; i++) {
    const frame = frameOf('log', `${tag}-${i}:`.padEnd(bytes, '.'));
    const r = spool.append('log', frame);
    if (r.dropped) throw new Error('unexpected drop');
    out.set(r.seq, frame);
  }
  return out;
}

/** Reads everything available, checking each batch against `expected` before the next read; returns the seqs. */
async function readAndCheck(reader: SpoolReader, expected: Map<number, WireFrame>): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const batch = await reader.read(256);
    if (batch.length === 0) return seqs;
    const wrong = batch.filter((r) => !r.payload.equals(encodeFrame(expected.get(r.seq) as WireFrame)));
    expect(wrong.map((r) => r.seq)).toEqual([]);
    seqs.push(...batch.map((r) => r.seq));
  }
}

describe('spool arenas', () => {
  it('are reused while the reader keeps up: ~2 MiB of appends allocate a couple of arenas, not one per 64 KiB', async () => {
    const spool = await openSpool(dataDir());
    const reader = spool.createReader();
    const expected = new Map<number, WireFrame>();
    const seen: number[] = [];
    // 2 MiB in steps of ~20 KB, each read right away (the pump keeping up): ~32 arena fills.
    for (let step = 0; step < 100; step++) {
      for (const [seq, frame] of appendLogs(spool, 100, 200, `s${step}`)) expected.set(seq, frame);
      seen.push(...(await readAndCheck(reader, expected)));
    }
    expect(seen).toEqual([...expected.keys()]);
    expect(reader.stats.fileReads).toBe(0);
    expect(spool.arenaStats.allocated).toBeLessThanOrEqual(2);
  });

  it('are reused with no reader at all (nobody will read them from memory)', async () => {
    const spool = await openSpool(dataDir());
    appendLogs(spool, 10_000, 200, 'n');
    expect(spool.arenaStats.allocated).toBeLessThanOrEqual(2);
  });

  it('the recent-queued view still shows the right frames after the arena they were appended to was reused', async () => {
    // 200 recent frames of ~1 KB: more than the arenas in use (two, taking turns), so a reused arena overwrites some
    // frames the ring still shows.
    const spool = await openSpool(dataDir(), { recentFrames: 200 });
    const reader = spool.createReader();
    const expected = new Map<number, WireFrame>();
    for (let step = 0; step < 40; step++) {
      for (const [seq, frame] of appendLogs(spool, 10, 1000, `q${step}`)) expected.set(seq, frame);
      await readAndCheck(reader, expected);
      const recent = spool.view().recentQueued;
      const want = [...expected].slice(-200);
      expect(recent.map((v) => v.seq)).toEqual(want.map(([seq]) => seq));
      expect(recent.map((v) => v.data[3])).toEqual(want.map(([, frame]) => frame[2][3]));
    }
    expect(spool.arenaStats.allocated).toBeLessThanOrEqual(2);
  });

  it('a reader behind by more than the in-memory tail reads the right bytes from the file while arenas are reused', async () => {
    const spool = await openSpool(dataDir(), { segmentBytes: 512 * 1024 });
    const reader = spool.createReader();
    const expected = appendLogs(spool, 200, 300, 'early');
    const first = await reader.read(50);
    expect(first.map((r) => r.seq)).toEqual([...expected.keys()].slice(0, 50));
    // ~3 MiB while the reader waits: the tail keeps the newest 1 MiB, the older arenas are reused under it.
    for (const [seq, frame] of appendLogs(spool, 3000, 1000, 'late')) expected.set(seq, frame);
    const seqs = [...first.map((r) => r.seq), ...(await readAndCheck(reader, expected))];
    expect(seqs).toEqual([...expected.keys()]);
    expect(reader.stats.fileReads).toBeGreaterThan(0);
    expect(reader.stats.memoryBytes).toBeGreaterThan(0);
    // The tail (16 arenas), the current one and a few spares at most: ~50 arenas' worth went through them.
    expect(spool.arenaStats.allocated).toBeLessThanOrEqual(16 + 1 + 4);
  });
});
