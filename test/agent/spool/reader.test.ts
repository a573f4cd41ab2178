import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FrameClass, type WireFrame } from '../../../src-shared/view-models';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { type SpoolReader, type SpoolRecord } from '../../../src-main/agent/spool/reader';
import { recordPayload, scanSegment } from '../../../src-main/agent/spool/segment-log';
import { Spool, type SpoolOptions, spoolPaths } from '../../../src-main/agent/spool/spool';
import { frameOf, tempDir } from './helpers';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dataDir(): string {
  const t = tempDir('spool-reader-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function openSpool(dir: string, options: SpoolOptions = {}): Promise<Spool> {
  const spool = await Spool.open(dir, { fsync: 'never', ...options });
  cleanups.push(() => spool.close());
  return spool;
}

const CLASSES: readonly FrameClass[] = ['log', 'telemetry', 'result'];

/** Appends `count` frames (classes in turn, `bytes` of text each) and returns them by sequence. */
function appendMany(spool: Spool, count: number, bytes = 40, tag = 'r'): Map<number, WireFrame> {
  const out = new Map<number, WireFrame>();
  for (let i = 0; i < count; i++) {
    const cls = CLASSES[i % 3] as FrameClass;
    const frame = frameOf(cls, `${tag}${i}:`.padEnd(bytes, 'x'));
    const r = spool.append(cls, frame);
    if (r.dropped) throw new Error('unexpected drop');
    out.set(r.seq, frame);
  }
  return out;
}

/** Sequences whose payload is not the frame's encoding (an empty list is a pass; cheaper than deep equality). */
function mismatches(records: SpoolRecord[], frames: Map<number, WireFrame>): number[] {
  return records
    .filter((r) => {
      const frame = frames.get(r.seq);
      return !frame || !r.payload.equals(encodeFrame(frame));
    })
    .map((r) => r.seq);
}

async function readToEnd(reader: SpoolReader, into: SpoolRecord[] = []): Promise<SpoolRecord[]> {
  for (;;) {
    const batch = await reader.read(256);
    if (batch.length === 0) return into;
    into.push(...batch);
  }
}

/** Every record in the segment files, by sequence (payload bytes as stored). */
function fileRecords(dir: string): Map<number, Buffer> {
  const segDir = spoolPaths(dir).segments;
  const out = new Map<number, Buffer>();
  for (const name of readdirSync(segDir).sort()) {
    const buf = readFileSync(join(segDir, name));
    for (const r of scanSegment(buf).records) out.set(r.seq, Buffer.from(recordPayload(buf, r)));
  }
  return out;
}

describe('SpoolReader: caught up → from memory, backlog → from the file', () => {
  it('hands a caught-up reader the records appended since from memory, byte-equal to what reaches the file', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir);
    const reader = spool.createReader();
    expect(await reader.read(10)).toEqual([]);
    const frames = appendMany(spool, 30);
    // Read at once: the records are still staged (the flush runs at the end of the tick).
    const records = await readToEnd(reader);
    expect(records.map((r) => r.seq)).toEqual([...frames.keys()]);
    expect(mismatches(records, frames)).toEqual([]);
    expect(reader.stats.fileReads).toBe(0);
    expect(reader.stats.fileBytes).toBe(0);
    expect(reader.stats.memoryBytes).toBeGreaterThan(0);
    // What was handed out is protected from the overflow policy like a record read from the file.
    expect(reader.highestYielded).toBe(30);
    await spool.close();
    const onDisk = fileRecords(dir);
    expect([...onDisk.keys()]).toEqual(records.map((r) => r.seq));
    expect(records.filter((r) => !onDisk.get(r.seq)?.equals(r.payload))).toEqual([]);
  });

  it('reads a backlog after a restart from the file, then the new appends from memory', async () => {
    const dir = dataDir();
    const first = await Spool.open(dir, { fsync: 'never' });
    const before = appendMany(first, 200, 60, 'old');
    await first.close();
    const spool = await openSpool(dir);
    const reader = spool.createReader();
    const backlog = await readToEnd(reader);
    expect(backlog.map((r) => r.seq)).toEqual([...before.keys()]);
    expect(mismatches(backlog, before)).toEqual([]);
    expect(reader.stats.fileReads).toBeGreaterThan(0);
    expect(reader.stats.memoryBytes).toBe(0);
    const fileReads = reader.stats.fileReads;
    const after = appendMany(spool, 20, 60, 'new');
    const fresh = await readToEnd(reader);
    expect(fresh.map((r) => r.seq)).toEqual([...after.keys()]);
    expect(reader.stats.fileReads).toBe(fileReads);
    expect(reader.stats.memoryBytes).toBeGreaterThan(0);
  });

  it('reads from the file when the pump fell behind by more than the in-memory tail, in order, byte-exact', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { segmentBytes: 256 * 1024 });
    const reader = spool.createReader();
    expect(await reader.read(10)).toEqual([]);
    // ~3 MiB while the reader waits: far beyond the arenas the spool keeps.
    const frames = appendMany(spool, 3000, 1000);
    const records = await readToEnd(reader);
    expect(records.map((r) => r.seq)).toEqual([...frames.keys()]);
    expect(mismatches(records, frames)).toEqual([]);
    expect(reader.stats.fileReads).toBeGreaterThan(0);
    // The newest part still came from memory.
    expect(reader.stats.memoryBytes).toBeGreaterThan(0);
    expect(reader.stats.memoryBytes).toBeLessThan(2 * 1024 * 1024);
  });

  it('serves a reader that fell behind by up to the in-memory tail (~1 MiB, many arenas) from memory', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir);
    const reader = spool.createReader();
    expect(await reader.read(10)).toEqual([]);
    // ~0.8 MiB while the reader waits: a dozen arenas, all kept because the reader has not reached them.
    const frames = appendMany(spool, 800, 1000);
    const records = await readToEnd(reader);
    expect(records.map((r) => r.seq)).toEqual([...frames.keys()]);
    expect(mismatches(records, frames)).toEqual([]);
    expect(reader.stats.fileReads).toBe(0);
  });

  it('lets go of the arenas every reader has passed: going back means reading the file', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir);
    const reader = spool.createReader();
    const frames = new Map<number, WireFrame>();
    // ~0.3 MiB in steps the reader keeps up with (from memory); the arena switches in between drop what it passed.
    for (let round = 0; round < 10; round++) {
      for (const [seq, frame] of appendMany(spool, 30, 1000, `p${round}-`)) frames.set(seq, frame);
      await readToEnd(reader);
    }
    expect(reader.stats.fileReads).toBe(0);
    await reader.seek(1);
    const again = await readToEnd(reader);
    expect(again.map((r) => r.seq)).toEqual([...frames.keys()]);
    expect(mismatches(again, frames)).toEqual([]);
    expect(reader.stats.fileReads).toBeGreaterThan(0);
  });

  it('stores and hands out a record larger than an arena (up to the 64 KiB frame limit), from memory and file', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { maxFrameBytes: 65_535 });
    const reader = spool.createReader();
    const frames = new Map<number, WireFrame>();
    for (const [seq, frame] of appendMany(spool, 3, 100, 'small-')) frames.set(seq, frame);
    const big = frameOf('log', 'B'.repeat(65_400));
    const appended = spool.append('log', big);
    if (appended.dropped) throw new Error('unexpected drop');
    frames.set(appended.seq, big);
    for (const [seq, frame] of appendMany(spool, 3, 100, 'after-')) frames.set(seq, frame);
    const records = await readToEnd(reader);
    expect(records.map((r) => r.seq)).toEqual([...frames.keys()]);
    expect(mismatches(records, frames)).toEqual([]);
    expect(reader.stats.fileReads).toBe(0);
    await spool.close();
    const onDisk = fileRecords(dir);
    expect(records.filter((r) => !onDisk.get(r.seq)?.equals(r.payload))).toEqual([]);
  });

  it('never hands out a view that later appends, reads, arena switches or rotations change', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { segmentBytes: 64 * 1024 });
    const reader = spool.createReader();
    const kept: SpoolRecord[] = [];
    const expected = new Map<number, WireFrame>();
    // Interleave appends and reads (memory path), with bursts the reader falls behind on (file path).
    for (let round = 0; round < 12; round++) {
      const count = round % 4 === 3 ? 1500 : 40;
      for (const [seq, frame] of appendMany(spool, count, 200 + round * 37, `x${round}-`))
        expected.set(seq, frame);
      if (round % 2 === 0) await readToEnd(reader, kept);
    }
    await readToEnd(reader, kept);
    expect(reader.stats.fileReads).toBeGreaterThan(0);
    expect(reader.stats.memoryBytes).toBeGreaterThan(0);
    // Another reader over the same bytes, with file chunks of its own.
    const second = spool.createReader();
    await readToEnd(second);
    await second.close();
    expect(kept.map((r) => r.seq)).toEqual([...expected.keys()]);
    expect(mismatches(kept, expected)).toEqual([]);
  });

  it('skips what the overflow policy dropped meanwhile, from memory or file, and hands out the rest intact', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { maxBytes: 512 * 1024, segmentBytes: 64 * 1024 });
    const reader = spool.createReader();
    const kept: SpoolRecord[] = [];
    const appended = new Map<number, WireFrame>();
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 250; i++) {
        const cls: FrameClass = i % 2 === 0 ? 'log' : 'telemetry';
        const frame = frameOf(cls, `${round}-${i}:`.padEnd(500, 'y'));
        const r = spool.append(cls, frame);
        if (!r.dropped) appended.set(r.seq, frame);
      }
      // Read a little now and then: the reader stays behind, so older segments can be dropped under it.
      kept.push(...(await reader.read(40)));
      await spool.reclaimed();
    }
    await readToEnd(reader, kept);
    const dropped = spool.droppedTotals;
    expect(dropped.telemetry).toBeGreaterThan(0);
    expect(reader.stats.memoryBytes).toBeGreaterThan(0);
    expect(mismatches(kept, appended)).toEqual([]);
    const seqs = kept.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    // Every record handed out is one that was appended, and only dropped ones are missing.
    const sent = { log: 0, telemetry: 0, result: 0 };
    for (const r of kept) sent[r.cls]++;
    expect(sent.log + dropped.log).toBe([...appended.values()].filter((f) => f[0] === 'L').length);
    expect(sent.telemetry + dropped.telemetry).toBe(
      [...appended.values()].filter((f) => f[0] === 'T').length,
    );
  });
});
