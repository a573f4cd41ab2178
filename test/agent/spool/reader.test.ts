import { appendFileSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FrameClass, type WireFrame } from '../../../src-shared/view-models';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { SpoolReader, type SpoolReaderHost, type SpoolRecord } from '../../../src-main/agent/spool/reader';
import { type SegmentInfo } from '../../../src-main/agent/spool/segment-info';
import {
  RECORD_HEADER_BYTES,
  type RecordMeta,
  emptyTally,
  encodeRecord,
  recordPayload,
  scanSegment,
  segmentFileName,
} from '../../../src-main/agent/spool/segment-log';
import { Spool, spoolPaths } from '../../../src-main/agent/spool/spool';
import { frameOf } from './helpers';
import { spoolTestKit } from './spool-harness';

const { cleanups, dataDir, openSpool } = spoolTestKit('spool-reader-');
afterEach(() => cleanups.runAll());

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

/** The records with their payloads copied: a payload is valid only until the reader's next read. */
function copied(records: SpoolRecord[]): SpoolRecord[] {
  return records.map((r) => ({ ...r, payload: Buffer.from(r.payload) }));
}

async function readToEnd(reader: SpoolReader, into: SpoolRecord[] = []): Promise<SpoolRecord[]> {
  for (;;) {
    const batch = await reader.read(256);
    if (batch.length === 0) return into;
    into.push(...copied(batch));
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

  it('reads a backlog from the file chunk after chunk into one reused buffer, each batch intact until the next read', async () => {
    const dir = dataDir();
    const first = await Spool.open(dir, { fsync: 'never', segmentBytes: 1024 * 1024 });
    // ~3 MiB over a few segments: a dozen file reads or more.
    const before = appendMany(first, 12_000, 250, 'old');
    await first.close();
    const spool = await openSpool(dir);
    const reader = spool.createReader();
    const buffers = new Set<ArrayBufferLike>();
    const seqs: number[] = [];
    for (;;) {
      const batch = await reader.read(256);
      if (batch.length === 0) break;
      expect(mismatches(batch, before)).toEqual([]);
      for (const r of batch) buffers.add(r.payload.buffer);
      seqs.push(...batch.map((r) => r.seq));
    }
    expect(seqs).toEqual([...before.keys()]);
    expect(reader.stats.memoryBytes).toBe(0);
    expect(reader.stats.fileReads).toBeGreaterThan(12);
    // A fresh buffer per file read would be one per read here.
    expect(buffers.size).toBeLessThanOrEqual(2);
    expect(reader.stats.copyBuffersAllocated).toBeLessThanOrEqual(2);
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

  it('never hands out a view that appends, arena switches, rotations or other readers change before its next read', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { segmentBytes: 64 * 1024 });
    const reader = spool.createReader();
    const second = spool.createReader();
    const handedOut: number[] = [];
    const expected = new Map<number, WireFrame>();
    // Interleave appends and reads (memory path), with bursts the reader falls behind on (file path). Each batch is
    // checked only after the appends that follow it (arena switches recycle the arenas it was copied from,
    // rotations) and another reader's reads.
    for (let round = 0; round < 24; round++) {
      const batch = await reader.read(200);
      const count = round % 8 === 7 ? 1500 : 300;
      for (const [seq, frame] of appendMany(spool, count, 200 + round * 37, `x${round}-`))
        expected.set(seq, frame);
      await readToEnd(second);
      expect(mismatches(batch, expected)).toEqual([]);
      handedOut.push(...batch.map((r) => r.seq));
    }
    for (const r of await readToEnd(reader)) handedOut.push(r.seq);
    await second.close();
    expect(reader.stats.fileReads).toBeGreaterThan(0);
    expect(reader.stats.memoryBytes).toBeGreaterThan(0);
    // ~7 MiB went through ~110 arena fills: the passed arenas were reused (at most the 1 MiB tail, the current
    // arena and a few spares exist at once).
    expect(spool.arenaStats.allocated).toBeLessThanOrEqual(16 + 1 + 4);
    expect(handedOut).toEqual([...expected.keys()]);
  });

  it('reuses one copy buffer for a backlog in memory read 256 records at a time', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir);
    const reader = spool.createReader();
    expect(await reader.read(10)).toEqual([]);
    // ~0.7 MiB behind (within the in-memory tail), ~220-byte records: each read takes ~56 KB, fills cross arenas.
    const frames = appendMany(spool, 3000, 180);
    let reads = 0;
    let got = 0;
    for (;;) {
      const batch = await reader.read(256);
      if (batch.length === 0) break;
      reads++;
      expect(mismatches(batch, frames)).toEqual([]);
      got += batch.length;
    }
    expect(got).toBe(3000);
    expect(reader.stats.fileReads).toBe(0);
    expect(reads).toBeGreaterThan(10);
    // Every fill copies into the free part of the same buffer (a whole extent per fill needed a new one every
    // other read).
    expect(reader.stats.copyBuffersAllocated).toBe(1);
  });

  it('keeps the records of one read intact when a later fill of the same read brings more bytes from memory', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir);
    const reader = spool.createReader();
    const expected = new Map<number, WireFrame>();
    for (let round = 0; round < 20; round++) {
      // ~1.4 arenas per round: every read spans an arena switch, i.e. two fills from memory, the second after the
      // records of the first were handed out.
      for (const [seq, frame] of appendMany(spool, 90, 1000, `f${round}-`)) expected.set(seq, frame);
      const batch = await reader.read(90);
      expect(batch).toHaveLength(90);
      expect(mismatches(batch, expected)).toEqual([]);
    }
    expect(reader.stats.fileReads).toBe(0);
    // The reader's own buffer is reused from read to read, not allocated per fill.
    expect(reader.stats.copyBuffersAllocated).toBeLessThanOrEqual(3);
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
      kept.push(...copied(await reader.read(40)));
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

/**
 * A reader over hand-made segment files, with a host the test controls: what is active, what is still in memory,
 * which segments are listed or deleted. Covers the paths the real spool rarely takes (damage at read time, a file
 * gone or unopenable, a segment list without an active segment, a seek racing a file open).
 */
interface FakeSegment extends SegmentInfo {
  records: Buffer[];
}

class FakeHost implements SpoolReaderHost {
  readonly list: FakeSegment[] = [];
  active: FakeSegment | null = null;
  /** Per segment: file offset from which the rest of the segment is "in memory" (the host returns views of it). */
  readonly memoryFrom = new Map<FakeSegment, { from: number; bytes: Buffer }>();
  /** Bytes staged for the active segment, written to its file by flush(). */
  staged: Buffer = Buffer.alloc(0);
  flushes = 0;
  readonly problems: string[] = [];

  constructor(private readonly dir: string) {}

  segments(): readonly SegmentInfo[] {
    return this.list;
  }
  isActive(seg: SegmentInfo): boolean {
    return seg === this.active;
  }
  memoryTail(seg: SegmentInfo, fileOffset: number): Buffer | null {
    const m = this.memoryFrom.get(seg as FakeSegment);
    if (!m || fileOffset < m.from) return null;
    return m.bytes.subarray(fileOffset - m.from);
  }
  flush(): void {
    this.flushes++;
    const seg = this.active;
    if (!seg || this.staged.length === 0) return;
    appendFileSync(seg.path, this.staged);
    seg.fileBytes += this.staged.length;
    this.staged = Buffer.alloc(0);
  }
  problem(message: string): void {
    this.problems.push(message);
    // A reader that keeps hitting the same damage would loop forever: fail the test instead.
    if (this.problems.length > 5) throw new Error(`problem loop: ${message}`);
  }

  /** A segment file holding records `firstSeq … firstSeq + count − 1` (classes in turn). */
  addSegment(firstSeq: number, count: number, payloadBytes = 50): FakeSegment {
    const records: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const seq = firstSeq + i;
      records.push(
        encodeRecord(seq, CLASSES[seq % 3] as FrameClass, 1000 + seq, Buffer.alloc(payloadBytes, seq % 251)),
      );
    }
    const bytes = Buffer.concat(records);
    const name = segmentFileName(firstSeq);
    const path = join(this.dir, name);
    writeFileSync(path, bytes);
    const seg: FakeSegment = {
      firstSeq,
      lastSeq: firstSeq + count - 1,
      name,
      path,
      fileBytes: bytes.length,
      liveBytes: bytes.length,
      perClass: emptyTally(),
      firstAppendedAt: null,
      dropped: new Set(),
      compacted: new Set(),
      deleted: false,
      records,
    };
    this.list.push(seg);
    return seg;
  }
}

function fakeReader(host: FakeHost, fromSeq = 1): { reader: SpoolReader; closed: () => number } {
  let closes = 0;
  const reader = new SpoolReader(host, fromSeq, () => closes++);
  cleanups.push(() => reader.close());
  return { reader, closed: () => closes };
}

/** Open file descriptors of this process that point at `path` (Linux /proc). */
function openFdsOf(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

function seqs(records: SpoolRecord[]): number[] {
  return records.map((r) => r.seq);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Flips one payload byte of record `index` in the segment's file (bit rot after the start-up scan). */
function rot(seg: FakeSegment, index: number): void {
  let at = 0;
  for (let i = 0; i < index; i++) at += (seg.records[i] as Buffer).length;
  const buf = readFileSync(seg.path);
  const pos = at + RECORD_HEADER_BYTES + 3;
  buf[pos] = (buf[pos] as number) ^ 0xff;
  writeFileSync(seg.path, buf);
}

describe('SpoolReader over hand-made segments', () => {
  it('walks closed segments in order, byte-exact, counting what it read from the file', async () => {
    const host = new FakeHost(dataDir());
    const a = host.addSegment(1, 10);
    const b = host.addSegment(11, 10);
    const { reader } = fakeReader(host);
    expect(reader.highestYielded).toBe(0);
    const first = await reader.read(3);
    expect(seqs(first)).toEqual([1, 2, 3]);
    expect(reader.position).toBe(4);
    expect(reader.highestYielded).toBe(3);
    const rest = await readToEnd(reader);
    expect(seqs(rest)).toEqual(range(4, 20));
    const all = [...first, ...rest];
    const stored = [...a.records, ...b.records];
    expect(
      all.filter(
        (r, i) =>
          !r.payload.equals(
            recordPayload(stored[i] as Buffer, scanSegment(stored[i] as Buffer).records[0] as RecordMeta),
          ),
      ),
    ).toEqual([]);
    expect(all.map((r) => r.appendedAt)).toEqual(range(1001, 1020));
    expect(reader.stats.fileBytes).toBe(a.fileBytes + b.fileBytes);
    expect(reader.stats.memoryBytes).toBe(0);
    // A backlog of closed segments needs no flush of the writer's staging.
    expect(host.flushes).toBe(0);
    expect(reader.position).toBe(21);
    expect(await reader.read(10)).toEqual([]);
  });

  it('reads nothing (and no file) when there is no segment, or the position is past every closed one', async () => {
    const host = new FakeHost(dataDir());
    const { reader } = fakeReader(host);
    expect(await reader.read(5)).toEqual([]);
    host.addSegment(1, 5);
    const { reader: past } = fakeReader(host, 6);
    expect(await past.read(5)).toEqual([]);
    expect(past.stats.fileReads).toBe(0);
    expect(past.highestYielded).toBe(5);
  });

  it('starts at the segment holding the position: its first, middle or last record, or the next one after a gap', async () => {
    const host = new FakeHost(dataDir());
    host.addSegment(5, 5); // 5..9
    host.addSegment(10, 5); // 10..14
    host.addSegment(20, 5); // 20..24 (15..19 gone)
    const cases: Array<[number, number]> = [
      [1, 5], // before the first segment (older ones deleted)
      [9, 9], // last record of the first segment
      [10, 10], // first record of a segment
      [12, 12], // the middle of one
      [14, 14],
      [16, 20], // in the gap
      [20, 20], // first record of the last segment
      [24, 24], // last record of the last (closed) segment
    ];
    for (const [from, firstSeen] of cases) {
      const { reader } = fakeReader(host, from);
      const got = await readToEnd(reader);
      expect([from, got[0]?.seq]).toEqual([from, firstSeen]);
      expect(got.at(-1)?.seq).toBe(24);
      await reader.close();
    }
  });

  it('starts at the active segment when the position is its first sequence', async () => {
    const host = new FakeHost(dataDir());
    host.addSegment(1, 5);
    host.active = host.addSegment(6, 5);
    const { reader } = fakeReader(host, 6);
    expect(seqs(await readToEnd(reader))).toEqual(range(6, 10));
  });

  it('skips a segment marked deleted even while its file is still there', async () => {
    const host = new FakeHost(dataDir());
    host.addSegment(1, 5).deleted = true;
    host.addSegment(6, 5);
    const { reader } = fakeReader(host);
    expect(seqs(await readToEnd(reader))).toEqual(range(6, 10));
  });

  it('reports damage that appeared after the scan once, skips the rest of that segment, and goes on', async () => {
    const host = new FakeHost(dataDir());
    const a = host.addSegment(1, 10);
    host.addSegment(11, 3).deleted = true; // confirmed, file not yet removed
    host.addSegment(14, 5);
    rot(a, 4); // record 5
    const { reader } = fakeReader(host);
    const got = await readToEnd(reader);
    expect(seqs(got)).toEqual([1, 2, 3, 4, ...range(14, 18)]);
    expect(host.problems).toHaveLength(1);
    expect(host.problems[0]).toContain(a.name);
    expect(host.problems[0]).toContain('damaged at read time (crc-mismatch)');
  });

  it('after damage in the last segment, waits past it: no loop, no repeated report, later segments read', async () => {
    const host = new FakeHost(dataDir());
    const a = host.addSegment(1, 10);
    rot(a, 6); // record 7
    const { reader } = fakeReader(host);
    expect(seqs(await readToEnd(reader))).toEqual(range(1, 6));
    expect(await reader.read(10)).toEqual([]);
    expect(host.problems).toHaveLength(1);
    expect(reader.position).toBe(11);
    host.active = host.addSegment(11, 3);
    expect(seqs(await readToEnd(reader))).toEqual(range(11, 13));
    expect(host.problems).toHaveLength(1);
  });

  it('moves on quietly past a segment file deleted meanwhile, and reports one it cannot open for another reason', async () => {
    const host = new FakeHost(dataDir());
    const gone = host.addSegment(1, 5);
    rmSync(gone.path);
    const unopenable = host.addSegment(6, 5);
    // A path below a regular file: ENOTDIR, not "deleted".
    unopenable.path = join(gone.path.replace(/[^/]+$/, ''), segmentFileName(1) + '-x', 'inner.seg');
    writeFileSync(unopenable.path.replace(/\/inner\.seg$/, ''), 'a file');
    host.addSegment(11, 5);
    const { reader } = fakeReader(host);
    expect(seqs(await readToEnd(reader))).toEqual(range(11, 15));
    expect(host.problems).toHaveLength(1);
    expect(host.problems[0]).toContain(`cannot open ${unopenable.path}`);
    expect(host.problems[0]).toContain('ENOTDIR');
  });

  it('rejects a second read while one is running, and reads normally afterwards', async () => {
    const host = new FakeHost(dataDir());
    host.addSegment(1, 5);
    const { reader } = fakeReader(host);
    const first = reader.read(2);
    await expect(reader.read(2)).rejects.toThrow('SpoolReader.read is not re-entrant');
    expect(seqs(await first)).toEqual([1, 2]);
    expect(seqs(await reader.read(10))).toEqual([3, 4, 5]);
  });

  it('reads a closed segment to its end even when its recorded size is below what the file holds', async () => {
    const host = new FakeHost(dataDir());
    const a = host.addSegment(1, 10);
    a.fileBytes = 0;
    const { reader } = fakeReader(host);
    expect(seqs(await readToEnd(reader))).toEqual(range(1, 10));
  });

  it('flushes the staging before reading the active segment from the file, and reads what the flush wrote', async () => {
    const host = new FakeHost(dataDir());
    const seg = host.addSegment(1, 3);
    host.active = seg;
    host.staged = Buffer.concat([
      encodeRecord(4, 'log', 1, Buffer.from('four')),
      encodeRecord(5, 'log', 1, Buffer.from('five')),
    ]);
    seg.lastSeq = 5;
    const { reader } = fakeReader(host);
    const got = await readToEnd(reader);
    expect(seqs(got)).toEqual(range(1, 5));
    expect(got[4]?.payload.toString()).toBe('five');
    expect(host.flushes).toBeGreaterThan(0);
  });

  it('joins a record split between the file and memory, checking the file part; damage there is reported once', async () => {
    const host = new FakeHost(dataDir());
    const seg = host.addSegment(1, 6, 100);
    host.active = seg;
    const whole = readFileSync(seg.path);
    // The file holds records 1..3 and half of 4; the rest is in memory.
    const split = (seg.records[0] as Buffer).length * 3 + 60;
    host.memoryFrom.set(seg, { from: split, bytes: whole.subarray(split) });
    writeFileSync(seg.path, whole.subarray(0, split));
    seg.fileBytes = split;
    const { reader } = fakeReader(host);
    const got = await readToEnd(reader);
    expect(seqs(got)).toEqual(range(1, 6));
    expect(got.filter((r, i) => !r.payload.equals(Buffer.alloc(100, (i + 1) % 251)))).toEqual([]);
    expect(reader.stats.memoryBytes).toBe(whole.length - split);

    // The same split with the file part of record 4 rotten: reported, not handed out.
    const bad = new FakeHost(dataDir());
    const s2 = bad.addSegment(1, 6, 100);
    bad.active = s2;
    rot(s2, 3);
    const rotten = readFileSync(s2.path);
    bad.memoryFrom.set(s2, { from: split, bytes: whole.subarray(split) });
    writeFileSync(s2.path, rotten.subarray(0, split));
    s2.fileBytes = split;
    const { reader: r2 } = fakeReader(bad);
    expect(seqs(await readToEnd(r2))).toEqual([1, 2, 3]);
    expect(bad.problems).toHaveLength(1);
    // The damaged segment was the active one: it is not read (and reported) again, the next one is.
    expect(await r2.read(10)).toEqual([]);
    expect(bad.problems).toHaveLength(1);
    bad.active = bad.addSegment(7, 2);
    expect(seqs(await readToEnd(r2))).toEqual([7, 8]);
    expect(bad.problems).toHaveLength(1);
    // A seek back (a reconnect) re-reads what precedes the damage, which is reported once more.
    await r2.seek(2);
    expect(seqs(await readToEnd(r2))).toEqual([2, 3, 7, 8]);
    expect(bad.problems).toHaveLength(2);
  });

  it('copies records that were in memory (at a record boundary) into its own buffer, in one copy per fill', async () => {
    const host = new FakeHost(dataDir());
    const seg = host.addSegment(1, 6, 100);
    host.active = seg;
    const whole = readFileSync(seg.path);
    const boundary = (seg.records[0] as Buffer).length * 2;
    host.memoryFrom.set(seg, { from: boundary, bytes: whole.subarray(boundary) });
    writeFileSync(seg.path, whole.subarray(0, boundary));
    seg.fileBytes = boundary;
    const { reader } = fakeReader(host);
    const got = await reader.read(10);
    expect(seqs(got)).toEqual(range(1, 6));
    // The spool may reuse its memory after the read: nothing taken from it is handed out as a view of it.
    expect(got.slice(2).filter((r) => r.payload.buffer === whole.buffer)).toEqual([]);
    expect(got.filter((r, i) => !r.payload.equals(Buffer.alloc(100, (i + 1) % 251)))).toEqual([]);
    expect(got[2]?.payload.buffer).toBe(got[5]?.payload.buffer);
    expect(reader.stats.memoryBytes).toBe(whole.length - boundary);
    expect(reader.stats.copyBuffersAllocated).toBe(1);
  });

  it('holds one file handle per segment at most and closes it on seek, on the next segment and on close', async () => {
    const host = new FakeHost(dataDir());
    const a = host.addSegment(1, 10);
    const b = host.addSegment(11, 10);
    const { reader, closed } = fakeReader(host);
    expect(seqs(await reader.read(3))).toEqual([1, 2, 3]);
    expect(openFdsOf(a.path)).toBe(1);
    await reader.seek(2);
    expect(reader.highestYielded).toBe(1);
    expect(openFdsOf(a.path)).toBe(0);
    expect(seqs(await reader.read(12))).toEqual(range(2, 13));
    expect(openFdsOf(a.path)).toBe(0);
    expect(openFdsOf(b.path)).toBe(1);
    // At the end of a closed segment its file is closed (read to the end twice: no second handle).
    expect(seqs(await readToEnd(reader))).toEqual(range(14, 20));
    expect(openFdsOf(b.path)).toBe(0);
    await reader.seek(15);
    expect(seqs(await reader.read(2))).toEqual([15, 16]);
    expect(openFdsOf(b.path)).toBe(1);
    await reader.close();
    expect(openFdsOf(b.path)).toBe(0);
    expect(closed()).toBe(1);
  });

  it('a seek while the read is opening the file: the handle is closed and nothing before the new position is lost', async () => {
    const host = new FakeHost(dataDir());
    const a = host.addSegment(1, 10);
    host.addSegment(11, 10);
    const { reader } = fakeReader(host, 5);
    const running = reader.read(100);
    await reader.seek(1);
    const first = await running;
    expect(openFdsOf(a.path)).toBe(0);
    const rest = await readToEnd(reader);
    const all = [...first, ...rest];
    expect(seqs(all).filter((s, i, xs) => xs.indexOf(s) === i)).toEqual(range(1, 20));
  });
});
