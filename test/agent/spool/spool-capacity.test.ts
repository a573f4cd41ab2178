/**
 * The spool's capacity and accounting: segment rotation, the max_bytes cap and its overflow drops (which frames go,
 * which are refused and why, what is counted), the on-disk bound during a synchronous burst, the compaction that
 * gives the disk back, and the segment deletion after a confirmation. Views and readers: spool-views.test.ts.
 */
import {
  existsSync,
  mkdirSync,
  promises as fsPromises,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FrameClass } from '../../../src-shared/view-models';
import { decodeFrame, encodeFrame } from '../../../src-main/agent/protocol/codec';
import { heartbeatFrame } from '../../../src-main/agent/protocol/frames';
import { SpoolError } from '../../../src-main/agent/spool/errors';
import {
  RECORD_OVERHEAD_BYTES,
  emptyTally,
  scanSegment,
  tallyTotal,
} from '../../../src-main/agent/spool/segment-log';
import { Spool, spoolPaths } from '../../../src-main/agent/spool/spool';
import { GROUP, SERVER, frameOf, waitFor } from './helpers';
import { readAll, segmentBytesOnDisk, segmentFiles, spoolTestKit } from './spool-harness';

const { cleanups, dataDir, openSpool } = spoolTestKit('spool-capacity-');
afterEach(async () => {
  vi.restoreAllMocks();
  await cleanups.runAll();
});

/** On-disk size of a record holding `frameOf(cls, text)` (the same for every text of that length). */
function recordBytes(cls: FrameClass, text: string): number {
  return encodeFrame(frameOf(cls, text)).length + RECORD_OVERHEAD_BYTES;
}

function segmentPath(dir: string, name: string): string {
  return join(spoolPaths(dir).segments, name);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Segment files and their sizes, oldest first. */
function segmentSizes(dir: string): number[] {
  return segmentFiles(dir).map((name) => statSync(segmentPath(dir, name)).size);
}

/** File descriptors of this process open on anything under `dir`. */
function openFilesUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) open.push(target);
    } catch {
      // closed meanwhile (the fd of the readdir itself)
    }
  }
  return open;
}

function cursorOnDisk(dir: string): { confirmedSeq: number; dropped: Record<FrameClass, number> } | null {
  try {
    return JSON.parse(readFileSync(join(spoolPaths(dir).dir, 'cursor.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** A 16 KiB spool of 4 KiB segments in a fresh data dir, its problem lines collected. */
async function openSmallSpoolReportingProblems(): Promise<{ dir: string; spool: Spool; problems: string[] }> {
  const dir = dataDir();
  const problems: string[] = [];
  const spool = await openSpool(dir, {
    maxBytes: 16 * 1024,
    segmentBytes: 4 * 1024,
    onProblem: (m) => problems.push(m),
  });
  return { dir, spool, problems };
}

describe('append refuses what cannot be spooled', () => {
  it('after close, and a frame of another class, with a code and a message saying why', async () => {
    const spool = await openSpool(dataDir());
    expect(() => spool.append('log', heartbeatFrame(GROUP, SERVER))).toThrow(
      expect.objectContaining({ code: 'wrong-class', message: 'a C frame cannot be spooled as log' }),
    );
    expect(() => spool.append('result', frameOf('telemetry', '1'))).toThrow(
      expect.objectContaining({ code: 'wrong-class', message: 'a T frame cannot be spooled as result' }),
    );
    await spool.close();
    let error: unknown;
    try {
      spool.append('log', frameOf('log', 'late'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpoolError);
    expect(error).toMatchObject({ code: 'closed', message: 'the spool is closed' });
  });
});

describe('segment rotation', () => {
  it('fills a segment exactly to segmentBytes, and gives a record larger than a segment one of its own', async () => {
    const dir = dataDir();
    const size = recordBytes('log', 'r');
    const spool = await openSpool(dir, { segmentBytes: 3 * size });
    for (let i = 0; i < 7; i++) spool.append('log', frameOf('log', 'r'));
    await spool.sync();
    expect(segmentSizes(dir)).toEqual([3 * size, 3 * size, size]);
    expect(segmentFiles(dir)).toEqual([
      '0000000000000001.seg',
      '0000000000000004.seg',
      '0000000000000007.seg',
    ]);

    const bigDir = dataDir();
    const big = await openSpool(bigDir, { segmentBytes: size - 1 });
    for (let i = 0; i < 3; i++) big.append('log', frameOf('log', 'r'));
    await big.sync();
    // One record per segment, and no empty segment in between.
    expect(segmentSizes(bigDir)).toEqual([size, size, size]);
    expect((await readAll(big)).map((r) => r.seq)).toEqual([1, 2, 3]);
  });
});

describe('the max_bytes cap', () => {
  it('takes frames up to exactly max_bytes, then drops the oldest segment of logs and counts it', async () => {
    const dir = dataDir();
    const size = recordBytes('log', 'c');
    const spool = await openSpool(dir, { maxBytes: 10 * size, segmentBytes: 3 * size });
    const drops: Array<{ cls: FrameClass; frames: number; reason: string }> = [];
    spool.on('drop', (d) => drops.push(d));
    for (let i = 0; i < 10; i++) expect(spool.append('log', frameOf('log', 'c')).dropped).toBe(false);
    expect(drops).toEqual([]);
    expect(spool.bytesOnDisk).toBe(10 * size);

    expect(spool.append('log', frameOf('log', 'c'))).toEqual({ seq: 11, dropped: false });
    expect(drops).toEqual([{ cls: 'log', frames: 3, reason: 'overflow' }]);
    expect(spool.bytesOnDisk).toBe(8 * size);
    expect(spool.view().perClass.log).toMatchObject({ queuedFrames: 8, queuedBytes: 8 * size, dropped: 3 });
    expect((await readAll(spool)).map((r) => r.seq)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(spool.takeDropReport()).toEqual({ telemetry: 0, log: 3 });
    expect(spool.takeDropReport()).toBeNull();
  });

  it('a drop listener that appends at once (the agent ships its own warning) does not corrupt the frame being stored', async () => {
    const dir = dataDir();
    const size = recordBytes('log', 'c');
    const spool = await openSpool(dir, { maxBytes: 10 * size, segmentBytes: 3 * size });
    // The core's 'drop' → notice → own log line → spool.append chain, synchronously inside the append that drops.
    let drops = 0;
    spool.on('drop', () => {
      drops++;
      spool.append('log', frameOf('log', 'W'));
    });
    for (let i = 0; i < 10; i++) spool.append('log', frameOf('log', 'c'));
    // Both entry points, each making room at least once: appendPayload from a scratch-like buffer, then append.
    const kept = encodeFrame(frameOf('log', 'x'));
    expect(spool.appendPayload('log', kept, 0, kept.length).dropped).toBe(false);
    const ys = Array.from({ length: 2 }, () => frameOf('log', 'y'));
    for (const y of ys) expect(spool.append('log', y).dropped).toBe(false);
    expect(drops).toBeGreaterThanOrEqual(2);

    // Every stored record decodes to the whole frame it was given.
    const frames = (await readAll(spool)).map((r) => decodeFrame(r.payload));
    const texts = frames.map((f) => f[2][3]);
    // (Older warnings may themselves have been dropped as the oldest frames since.)
    expect(texts.filter((t) => t === 'W').length).toBeGreaterThan(0);
    expect(new Set(texts)).toEqual(new Set(['c', 'W', 'x', 'y']));
    expect(texts.slice(texts.indexOf('x'))).toEqual(expect.arrayContaining(['x', 'y', 'y']));
    const x = frames.filter((f) => f[2][3] === 'x');
    expect(x).toHaveLength(1);
    expect(encodeFrame(x[0]!).equals(kept)).toBe(true);
    expect(frames.filter((f) => f[2][3] === 'y').map((f) => f[1])).toEqual(ys.map((y) => y[1]));
  });

  it('full of results: refuses a new log or telemetry frame, counts it at once, and keeps the queue as it was', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { maxBytes: 8 * 1024, segmentBytes: 2048 });
    // Results up to the cap (not beyond: the spool is full, not over-full).
    const resultBytes = recordBytes('result', 'r');
    while (spool.bytesOnDisk + resultBytes <= spool.maxBytes) spool.append('result', frameOf('result', 'r'));
    expect(recordBytes('log', 'no room')).toBeGreaterThan(spool.maxBytes - spool.bytesOnDisk);
    const before = spool.queuedTally;
    const drops: Array<{ cls: FrameClass; frames: number; reason: string }> = [];
    spool.on('drop', (d) => drops.push(d));
    expect(spool.append('log', frameOf('log', 'no room'))).toEqual({ seq: null, dropped: true });
    expect(drops).toEqual([{ cls: 'log', frames: 1, reason: 'full-of-results' }]);
    expect(spool.queuedTally).toEqual(before);
    expect(spool.droppedTotals).toEqual({ log: 1, telemetry: 0, result: 0 });
    // Not tied to any compaction: the counter reaches the cursor file by itself.
    await waitFor(() => cursorOnDisk(dir)?.dropped.log === 1, 5000, 'the drop counter in the cursor file');
    expect(spool.takeDropReport()).toEqual({ telemetry: 0, log: 1 });

    expect(spool.append('telemetry', frameOf('telemetry', 'no room')).dropped).toBe(true);
    expect(spool.takeDropReport()).toEqual({ telemetry: 1, log: 0 });
    expect(spool.takeDropReport()).toBeNull();
    expect(spool.queuedTally).toEqual(before);
  });

  it('a segment a reader handed frames from is never dropped; once the reader is closed it is again', async () => {
    const dir = dataDir();
    const size = recordBytes('log', 'p');
    const spool = await openSpool(dir, { maxBytes: 16 * size, segmentBytes: 4 * size });
    for (let i = 0; i < 16; i++) spool.append('log', frameOf('log', 'p'));
    const reader = spool.createReader();
    // Up to exactly the first record of the second segment (seqs 5…8): both may be on the wire now.
    expect((await reader.read(5)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 0; i < 4; i++) spool.append('log', frameOf('log', 'p'));
    const seqsOnDisk = async (): Promise<number[]> => (await readAll(spool)).map((r) => r.seq);
    expect(await seqsOnDisk()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 17, 18, 19, 20]);

    await reader.close();
    spool.append('log', frameOf('log', 'p'));
    expect(await seqsOnDisk()).toEqual([5, 6, 7, 8, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
  });

  it('dropping from the active segment closes it first: nothing appended afterwards is lost', async () => {
    const dir = dataDir();
    const size = recordBytes('log', 'a');
    // Everything fits one segment: the first drop hits the segment being written.
    const spool = await openSpool(dir, { maxBytes: 20 * size, segmentBytes: 1024 * 1024 });
    for (let i = 0; i < 10; i++) {
      spool.append('telemetry', frameOf('telemetry', 'a'));
      spool.append('log', frameOf('log', `a${i}`));
    }
    for (let i = 10; i < 14; i++) spool.append('log', frameOf('log', `a${i}`));
    expect(spool.droppedTotals.telemetry).toBe(10);
    await spool.reclaimed();
    for (let i = 14; i < 18; i++) spool.append('log', frameOf('log', `a${i}`));
    const expected = (await readAll(spool)).map((r) => r.seq);
    expect(expected).toHaveLength(18);
    await spool.close();
    const again = await openSpool(dir, { maxBytes: 20 * size, segmentBytes: 1024 * 1024 });
    expect((await readAll(again)).map((r) => r.seq)).toEqual(expected);
  });
});

describe('the on-disk bound during a synchronous burst', () => {
  /**
   * `openDeleted`: also count unlinked files still open. Not with a partly dropped segment: its compaction's read
   * holds the file open until the burst yields, so a segment reclaimed meanwhile keeps its blocks until then (one
   * segment at most: one compaction runs at a time).
   */
  async function burst(
    dir: string,
    pattern: FrameClass[],
    frames: number,
    openDeleted: boolean,
  ): Promise<{
    spool: Spool;
    worst: number;
    drops: Array<{ cls: FrameClass; frames: number; reason: string }>;
    problems: string[];
  }> {
    const problems: string[] = [];
    // Group commit: segments closed in the burst keep their fd until the next fsync, which never comes in it.
    const spool = await Spool.open(dir, {
      fsync: { groupCommitMs: 60_000 },
      maxBytes: 256 * 1024,
      segmentBytes: 32 * 1024,
      onProblem: (m) => problems.push(m),
    });
    cleanups.push(() => spool.close());
    const drops: Array<{ cls: FrameClass; frames: number; reason: string }> = [];
    spool.on('drop', (d) => drops.push(d));
    let worst = 0;
    for (let i = 0; i < frames; i++) {
      const cls = pattern[i % pattern.length] as FrameClass;
      spool.append(cls, frameOf(cls, `${cls}-${i}-${'b'.repeat(900)}`));
      // Flushed first: the staged records count too (they are on disk at the end of the tick).
      spool.flush();
      worst = Math.max(worst, openDeleted ? segmentBytesOnDisk(dir) : sum(segmentSizes(dir)));
    }
    return { spool, worst, drops, problems };
  }

  it('telemetry and logs: stays within max_bytes + one segment, drops the oldest, counts every byte', async () => {
    const dir = dataDir();
    const { spool, worst, drops, problems } = await burst(dir, ['telemetry', 'log'], 3000, false);
    expect(worst).toBeLessThanOrEqual(spool.maxBytes + spool.segmentBytes);
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.every((d) => d.reason === 'overflow' && d.frames > 0)).toBe(true);
    const queued = spool.queuedTally;
    expect(spool.bytesOnDisk).toBe(tallyTotal(queued).bytes);
    expect(spool.bytesOnDisk).toBeLessThanOrEqual(spool.maxBytes);
    const dropped = spool.droppedTotals;
    expect(queued.log.frames + dropped.log).toBe(1500);
    expect(queued.telemetry.frames + dropped.telemetry).toBe(1500);

    await spool.reclaimed();
    await spool.sync();
    expect(problems).toEqual([]);
    // What is left is the newest of each class, exactly what the counters say, and nothing else is on disk.
    const records = await readAll(spool);
    const seqsOf = (cls: FrameClass): number[] => records.filter((r) => r.cls === cls).map((r) => r.seq);
    const logs = seqsOf('log');
    const telemetry = seqsOf('telemetry');
    expect(logs).toHaveLength(queued.log.frames);
    expect(telemetry).toHaveLength(queued.telemetry.frames);
    expect(logs.at(-1)).toBe(3000);
    expect(logs).toEqual(Array.from({ length: logs.length }, (_, i) => 3000 - 2 * (logs.length - 1 - i)));
    expect(telemetry).toEqual(
      Array.from({ length: telemetry.length }, (_, i) => 2999 - 2 * (telemetry.length - 1 - i)),
    );
    expect(sum(segmentSizes(dir))).toBe(spool.bytesOnDisk);
  });

  it('logs only: every dropped segment is unlinked and its fd closed at once', async () => {
    const dir = dataDir();
    const { spool, worst, problems } = await burst(dir, ['log'], 2000, true);
    // Whole segments are dropped, nothing waits for a compaction: within max_bytes itself.
    expect(worst).toBeLessThanOrEqual(spool.maxBytes);
    expect(problems).toEqual([]);
    expect(spool.queuedTally.log.frames + spool.droppedTotals.log).toBe(2000);
  });

  it('a first segment holding results stays; the logs after it are dropped and their space freed', async () => {
    const dir = dataDir();
    const spool = await Spool.open(dir, {
      fsync: { groupCommitMs: 60_000 },
      maxBytes: 256 * 1024,
      segmentBytes: 32 * 1024,
    });
    cleanups.push(() => spool.close());
    for (let i = 0; i < 30; i++) spool.append('result', frameOf('result', `r${i}-${'b'.repeat(900)}`));
    let worst = 0;
    for (let i = 0; i < 2000; i++) {
      spool.append('log', frameOf('log', `l${i}-${'b'.repeat(900)}`));
      spool.flush();
      worst = Math.max(worst, segmentBytesOnDisk(dir));
    }
    expect(worst).toBeLessThanOrEqual(spool.maxBytes);
    expect(spool.queuedTally.result.frames).toBe(30);
    expect((await readAll(spool)).filter((r) => r.cls === 'result')).toHaveLength(30);
  });

  it('segments that all hold results: new logs are refused while the drops wait for the compaction', async () => {
    const dir = dataDir();
    // No on-disk bound asserted here: results are never refused, and each one still drops logs into segments that
    // wait for their compaction, so a burst with results can pass max_bytes + one segment.
    const { spool, drops, problems } = await burst(dir, ['result', 'log', 'log', 'log'], 800, false);
    const refused = drops.filter((d) => d.reason === 'reclaiming');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((d) => d.cls === 'log' && d.frames === 1)).toBe(true);
    expect(drops.filter((d) => d.reason === 'full-of-results')).toEqual([]);
    // Results are never dropped, not even to free the disk at once.
    expect(spool.queuedTally.result.frames).toBe(200);
    expect(spool.bytesOnDisk).toBe(tallyTotal(spool.queuedTally).bytes);

    await spool.reclaimed();
    // The compaction gave the disk back: logs are taken again.
    expect(spool.append('log', frameOf('log', 'after')).dropped).toBe(false);
    expect((await readAll(spool)).filter((r) => r.cls === 'result')).toHaveLength(200);
    expect(problems).toEqual([]);
  });
});

describe('freeing the disk at once (segments of logs and telemetry only)', () => {
  it('frees only segments already partly dropped; a log-only segment is not dropped out of turn', async () => {
    const dir = dataDir();
    const spool = await Spool.open(dir, { fsync: 'never', maxBytes: 256 * 1024, segmentBytes: 32 * 1024 });
    cleanups.push(() => spool.close());
    const drops: Array<{ cls: FrameClass; frames: number; reason: string }> = [];
    spool.on('drop', (d) => drops.push(d));
    const pattern: FrameClass[] = ['result', 'log', 'log', 'log'];
    // Three segments holding results, then logs only: the oldest logs go first, from the segments with results, and
    // those bytes wait for the compaction; the log-only segments after them must not be emptied to make room.
    for (let i = 0; i < 100; i++) {
      const cls = pattern[i % 4] as FrameClass;
      spool.append(cls, frameOf(cls, `${cls}-${i}-${'b'.repeat(900)}`));
    }
    let refusedAt = -1;
    for (let i = 0; i < 300 && refusedAt < 0; i++) {
      if (spool.append('log', frameOf('log', `l-${i}-${'b'.repeat(900)}`)).dropped) refusedAt = i;
    }
    expect(refusedAt).toBeGreaterThan(0);
    expect(drops.at(-1)).toEqual({ cls: 'log', frames: 1, reason: 'reclaiming' });
    // The logs dropped so far came from the segments with results (about 31 records each, the last result is seq
    // 97): every log from a little past them on is still there.
    const logs = new Set((await readAll(spool)).filter((r) => r.cls === 'log').map((r) => r.seq));
    for (let seq = 131; seq <= spool.lastSeq; seq++) expect(logs.has(seq), `log ${seq}`).toBe(true);
    expect(spool.droppedTotals.log).toBeGreaterThan(40);
  });
});

describe('deleting and compacting segments', () => {
  it('reports a dropped segment it cannot delete, ignores one already gone, and keeps taking frames', async () => {
    const dir = dataDir();
    const size = recordBytes('log', 'u');
    const problems: string[] = [];
    const spool = await openSpool(dir, {
      maxBytes: 12 * size,
      segmentBytes: 4 * size,
      onProblem: (m) => problems.push(m),
    });
    for (let i = 0; i < 12; i++) spool.append('log', frameOf('log', 'u'));
    await spool.sync();
    const [first, second] = segmentFiles(dir) as [string, string];
    // The first segment's path now holds a directory (unlink fails), the second is gone already.
    rmSync(segmentPath(dir, first));
    mkdirSync(segmentPath(dir, first));
    writeFileSync(join(segmentPath(dir, first), 'keep'), 'x');
    rmSync(segmentPath(dir, second));
    for (let i = 0; i < 8; i++) expect(spool.append('log', frameOf('log', 'u')).dropped).toBe(false);
    expect(spool.droppedTotals.log).toBe(8);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^cannot delete dropped segment ${first}: `));
  });

  it('reports a compaction that fails, and keeps serving the records it kept', async () => {
    const { dir, spool, problems } = await openSmallSpoolReportingProblems();
    for (let i = 0; i < 12; i++) {
      spool.append('telemetry', frameOf('telemetry', `t${i}`));
      spool.append('log', frameOf('log', `l${i}-${'x'.repeat(300)}`));
    }
    await spool.sync();
    const first = segmentFiles(dir)[0] as string;
    const original = readFileSync(segmentPath(dir, first));
    // Unreadable as a file from now on: the compaction's read fails.
    rmSync(segmentPath(dir, first));
    mkdirSync(segmentPath(dir, first));
    for (let i = 0; i < 40 && spool.droppedTotals.telemetry === 0; i++)
      spool.append('log', frameOf('log', `more${i}-${'x'.repeat(300)}`));
    expect(spool.droppedTotals.telemetry).toBeGreaterThan(0);
    await spool.reclaimed();
    expect(
      problems.filter((m) => m.startsWith(`cannot compact ${first} after an overflow drop: `)),
    ).toHaveLength(1);
    expect(problems).toHaveLength(1);
    // Put the bytes back: the records it kept are still read (dropped telemetry skipped).
    rmSync(segmentPath(dir, first), { recursive: true });
    writeFileSync(segmentPath(dir, first), original);
    const records = await readAll(spool);
    expect(records.some((r) => r.cls === 'telemetry' && r.seq <= scanSegment(original).records.length)).toBe(
      false,
    );
    expect(records.filter((r) => r.cls === 'log')).toHaveLength(spool.queuedTally.log.frames);
  });

  it('compaction writes a temp file beside the segment; a segment deleted meanwhile does not come back', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { maxBytes: 16 * 1024, segmentBytes: 4 * 1024 });
    for (let i = 0; i < 12; i++) {
      spool.append('telemetry', frameOf('telemetry', `t${i}`));
      spool.append('log', frameOf('log', `l${i}-${'x'.repeat(300)}`));
    }
    await spool.sync();
    const first = segmentFiles(dir)[0] as string;
    const sizeBefore = statSync(segmentPath(dir, first)).size;
    const rename = fsPromises.rename.bind(fsPromises);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let atRename: { from: string; tempExists: boolean; originalSize: number } | null = null;
    vi.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => {
      if (String(to) === segmentPath(dir, first) && atRename === null) {
        atRename = {
          from: String(from),
          tempExists: existsSync(String(from)),
          originalSize: statSync(segmentPath(dir, first)).size,
        };
        await gate;
      }
      return rename(from, to);
    });
    for (let i = 0; i < 40 && spool.droppedTotals.telemetry === 0; i++)
      spool.append('log', frameOf('log', `more${i}-${'x'.repeat(300)}`));
    await waitFor(() => atRename !== null, 5000, 'the compaction to reach its rename');
    expect(atRename).toEqual({
      from: `${segmentPath(dir, first)}.compact`,
      tempExists: true,
      originalSize: sizeBefore,
    });

    // Everything confirmed while the compaction waits: the segment is deleted under it.
    const records = await readAll(spool);
    const tally = emptyTally();
    for (const r of records)
      tally[r.cls] = { frames: tally[r.cls].frames + 1, bytes: tally[r.cls].bytes + 1 };
    spool.confirm(spool.lastSeq, tally, null);
    await waitFor(() => !existsSync(segmentPath(dir, first)), 5000, 'the confirmed segment to be deleted');
    release();
    await spool.reclaimed();
    expect(segmentFiles(dir)).not.toContain(first);
    expect(segmentFiles(dir).filter((n) => n.endsWith('.compact'))).toEqual([]);
  });

  it('a segment dropped whole before its compaction could read it is no problem to report', async () => {
    const { spool, problems } = await openSmallSpoolReportingProblems();
    const readFile = fsPromises.readFile.bind(fsPromises);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held: string | null = null;
    // The compaction's read of the first segment starts only once the test lets it (a thread pool that is late).
    vi.spyOn(fsPromises, 'readFile').mockImplementation((async (path: string, ...rest: unknown[]) => {
      if (held === null && String(path).endsWith('0000000000000001.seg')) {
        held = String(path);
        await gate;
      }
      return (readFile as (...a: unknown[]) => Promise<Buffer>)(path, ...rest);
    }) as typeof fsPromises.readFile);
    for (let i = 0; i < 400 && (held === null || existsSync(held)); i++) {
      spool.append('telemetry', frameOf('telemetry', `t${i}`));
      spool.append('log', frameOf('log', `l${i}-${'x'.repeat(300)}`));
    }
    expect(held).not.toBeNull();
    expect(existsSync(held as unknown as string)).toBe(false);
    release();
    await spool.reclaimed();
    expect(problems).toEqual([]);
    expect(spool.bytesOnDisk).toBe(tallyTotal(spool.queuedTally).bytes);
  });

  it('closes every file it opened: segments, compaction temp files, salvaged copies', async () => {
    const dir = dataDir();
    const spool = await Spool.open(dir, { fsync: 'never', maxBytes: 16 * 1024, segmentBytes: 2048 });
    for (let i = 0; i < 60; i++) {
      spool.append('telemetry', frameOf('telemetry', `t${i}`));
      spool.append('log', frameOf('log', `l${i}-${'x'.repeat(200)}`));
    }
    await spool.reclaimed();
    expect(spool.droppedTotals.telemetry).toBeGreaterThan(0);
    await spool.close();
    expect(openFilesUnder(dir)).toEqual([]);

    // A damaged earlier segment: salvaged at the next open.
    const victim = segmentPath(dir, segmentFiles(dir)[0] as string);
    const buf = readFileSync(victim);
    const record = scanSegment(buf).records[1];
    if (!record) throw new Error('segment too small');
    buf[record.offset + 28] = (buf[record.offset + 28] as number) ^ 0x40;
    writeFileSync(victim, buf);
    const again = await Spool.open(dir, { fsync: 'never' });
    expect(again.recovery.quarantined).toHaveLength(1);
    await again.close();
    expect(openFilesUnder(dir)).toEqual([]);
  });
});

describe('segment deletion after a confirmation', () => {
  it('gives the bytes back and keeps sequence numbers increasing even if the cursor is lost afterwards', async () => {
    const dir = dataDir();
    const size = recordBytes('log', 'q');
    const first = await Spool.open(dir, { fsync: 'never', segmentBytes: 5 * size });
    for (let i = 0; i < 10; i++) first.append('log', frameOf('log', 'q'));
    await first.close();

    const spool = await Spool.open(dir, { fsync: 'never', segmentBytes: 5 * size });
    expect(spool.bytesOnDisk).toBe(10 * size);
    spool.confirm(10, { ...emptyTally(), log: { frames: 10, bytes: 10 * size } }, null);
    await waitFor(() => segmentFiles(dir).length === 1, 5000, 'the confirmed segments to be deleted');
    expect(spool.bytesOnDisk).toBe(0);
    await spool.close();
    // The empty segment named after the next sequence stays: without a cursor it is what bounds the sequence.
    expect(segmentFiles(dir)).toEqual(['0000000000000011.seg']);
    rmSync(join(spoolPaths(dir).dir, 'cursor.json'));
    const again = await openSpool(dir);
    expect(again.append('log', frameOf('log', 'next')).seq).toBe(11);
  });
});
