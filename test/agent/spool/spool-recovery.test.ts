/**
 * What `Spool.open` rebuilds from the files a previous process (or a crash) left behind, and what `close` leaves on
 * disk for the next start: which records come back, which files go, what the recovery report and the status say.
 */
import * as fs from 'node:fs';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as CursorModule from '../../../src-main/agent/spool/cursor';
import { fsyncDir, initialCursor, serializeCursor } from '../../../src-main/agent/spool/cursor';
import { SpoolError } from '../../../src-main/agent/spool/errors';
import { scanSegment } from '../../../src-main/agent/spool/segment-log';
import { OWNER_FILE, Spool, spoolPaths } from '../../../src-main/agent/spool/spool';
import { frameOf, waitFor } from './helpers';
import { readAll, segmentFiles, spoolTestKit, textsOf } from './spool-harness';

// Records which directories the spool fsyncs (a rename into quarantine is durable only after its directory's fsync).
vi.mock('../../../src-main/agent/spool/cursor', async (importOriginal) => {
  const original = await importOriginal<typeof CursorModule>();
  return { ...original, fsyncDir: vi.fn(original.fsyncDir) };
});

const { cleanups, dataDir, openSpool } = spoolTestKit('spool-recovery-');
afterEach(async () => {
  vi.restoreAllMocks();
  await cleanups.runAll();
  vi.mocked(fsyncDir).mockClear();
});

/** Sequences of the records in each segment file, in name order. */
function seqsPerSegment(dir: string): Array<{ name: string; seqs: number[] }> {
  return segmentFiles(dir).map((name) => ({
    name,
    seqs: scanSegment(readFileSync(join(spoolPaths(dir).segments, name))).records.map((r) => r.seq),
  }));
}

/** Writes `n` log records `rec0…` through a spool of its own and closes it. */
async function filled(dir: string, n: number, segmentBytes = 2048, now?: () => number): Promise<void> {
  const spool = await Spool.open(dir, { fsync: 'never', segmentBytes, ...(now ? { now } : {}) });
  for (let i = 0; i < n; i++) spool.append('log', frameOf('log', `rec${i}`));
  await spool.close();
}

function writeCursor(dir: string, confirmedSeq: number): void {
  writeFileSync(
    join(spoolPaths(dir).dir, 'cursor.json'),
    serializeCursor({ ...initialCursor(), confirmedSeq }),
  );
}

function fsyncedDirs(): string[] {
  return vi.mocked(fsyncDir).mock.calls.map((c) => c[0]);
}

describe('Spool.open: options', () => {
  it('refuses a maxBytes that is not a positive integer before touching the disk, and accepts 1', async () => {
    const dir = dataDir();
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      const error = await Spool.open(dir, { maxBytes: bad }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SpoolError);
      expect((error as SpoolError).code).toBe('bad-option');
      expect((error as SpoolError).message).toBe(`maxBytes must be a positive integer, got ${String(bad)}`);
    }
    expect(readdirSync(dir)).toEqual([]);
    const tiny = await openSpool(dir, { maxBytes: 1 });
    expect(tiny.maxBytes).toBe(1);
  });

  it('sizes segments at a sixteenth of maxBytes, between 64 KiB and 8 MiB, unless told', async () => {
    const sizes: Array<[number | undefined, number]> = [
      [undefined, 8 * 1024 * 1024],
      [1024 ** 3, 8 * 1024 * 1024],
      [16 * 1024 * 1024, 1024 * 1024],
      [512 * 1024, 64 * 1024],
    ];
    for (const [maxBytes, expected] of sizes) {
      const spool = await openSpool(dataDir(), maxBytes === undefined ? {} : { maxBytes });
      expect(spool.segmentBytes).toBe(expected);
    }
    expect((await openSpool(dataDir(), { maxBytes: 1024 ** 3, segmentBytes: 4096 })).segmentBytes).toBe(4096);
  });

  it('announces the owning process in owner.pid while open and removes it on close', async () => {
    const dir = dataDir();
    const spool = await Spool.open(dir, { fsync: 'never' });
    const owner = join(spoolPaths(dir).dir, OWNER_FILE);
    expect(readFileSync(owner, 'utf8')).toBe(`${process.pid}\n`);
    await spool.close();
    expect(fs.existsSync(owner)).toBe(false);
  });

  it('closes cleanly when owner.pid and its own empty segment were already removed by someone else', async () => {
    const dir = dataDir();
    await filled(dir, 5);
    const spool = await Spool.open(dir, { fsync: 'never' });
    rmSync(join(spoolPaths(dir).dir, OWNER_FILE));
    const before = new Set(segmentFiles(dir));
    const own = [...before].find(
      (name) => seqsPerSegment(dir).find((s) => s.name === name)?.seqs.length === 0,
    );
    if (own) rmSync(join(spoolPaths(dir).segments, own));
    await expect(spool.close()).resolves.toBeUndefined();
  });
});

describe('Spool.close: what stays on disk', () => {
  it('removes its own empty segment, but keeps a segment holding even a single record', async () => {
    const dir = dataDir();
    await filled(dir, 10);
    const afterFirst = segmentFiles(dir);
    expect(afterFirst.length).toBeGreaterThan(0);

    // A start that appends nothing leaves the files as it found them (no empty file per restart).
    const idle = await Spool.open(dir, { fsync: 'never', segmentBytes: 2048 });
    expect(segmentFiles(dir).length).toBe(afterFirst.length + 1);
    await idle.close();
    expect(segmentFiles(dir)).toEqual(afterFirst);

    const one = await Spool.open(dir, { fsync: 'never', segmentBytes: 2048 });
    expect(one.append('log', frameOf('log', 'only')).seq).toBe(11);
    await one.close();
    expect(segmentFiles(dir)).toEqual([...afterFirst, '0000000000000011.seg']);

    const again = await openSpool(dir, { segmentBytes: 2048 });
    const records = await readAll(again);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(textsOf(records).at(-1)).toBe('only');
  });
});

describe('recoverSpool: the cursor', () => {
  it('a clean start reports nothing; a damaged cursor is reported with its reason and everything on disk is resent', async () => {
    const dir = dataDir();
    const problems: string[] = [];
    const first = await Spool.open(dir, {
      fsync: 'never',
      segmentBytes: 2048,
      onProblem: (m) => problems.push(m),
    });
    expect(first.recovery.cursor).toBe('missing');
    expect(first.recovery.cursorDetail).toBeNull();
    for (let i = 0; i < 100; i++) first.append('log', frameOf('log', `m${i}`));
    const records = await readAll(first);
    const before = segmentFiles(dir).length;
    first.confirm(
      60,
      {
        log: { frames: 60, bytes: 6000 },
        telemetry: { frames: 0, bytes: 0 },
        result: { frames: 0, bytes: 0 },
      },
      records[60]?.appendedAt ?? null,
    );
    await waitFor(() => segmentFiles(dir).length < before, 5000, 'confirmed segments deleted');
    await first.close();

    const reopened = await Spool.open(dir, {
      fsync: 'never',
      segmentBytes: 2048,
      onProblem: (m) => problems.push(m),
    });
    expect(reopened.recovery.cursor).toBe('ok');
    expect(reopened.recovery.cursorDetail).toBeNull();
    expect(reopened.confirmedSeq).toBe(60);
    await reopened.close();
    expect(problems).toEqual([]);

    const firstOnDisk = seqsPerSegment(dir)[0]?.seqs[0] as number;
    expect(firstOnDisk).toBeGreaterThan(1);
    writeFileSync(join(spoolPaths(dir).dir, 'cursor.json'), '{"confirmedSeq": 99');
    const damaged = await openSpool(dir, { segmentBytes: 2048, onProblem: (m) => problems.push(m) });
    expect(damaged.recovery.cursor).toBe('damaged');
    expect(damaged.recovery.cursorDetail).toBe('cursor file failed its checksum');
    expect(problems).toEqual([
      'spool cursor damaged (cursor file failed its checksum); unconfirmed frames will be re-sent with fresh identifiers',
    ]);
    // Confirmed is now "just before the oldest record on disk": the pump's barrier confirmations start from there.
    expect(damaged.confirmedSeq).toBe(firstOnDisk - 1);
    expect((await readAll(damaged))[0]?.seq).toBe(firstOnDisk);
  });

  it('a damaged cursor with no segment on disk still opens and starts at sequence 1', async () => {
    const dir = dataDir();
    mkdirSync(spoolPaths(dir).dir, { recursive: true });
    writeFileSync(join(spoolPaths(dir).dir, 'cursor.json'), 'garbage');
    const spool = await openSpool(dir);
    expect(spool.recovery.cursor).toBe('damaged');
    expect(spool.confirmedSeq).toBe(0);
    expect(spool.append('log', frameOf('log', 'first')).seq).toBe(1);
  });

  it('after a crash between the cursor write and the deletion: confirmed segments go, a partly confirmed one stays', async () => {
    const dir = dataDir();
    let clock = 1_000;
    await filled(dir, 60, 2048, () => clock++);
    const layout = seqsPerSegment(dir);
    expect(layout.length).toBeGreaterThanOrEqual(3);
    const [seg1, seg2] = layout as [{ name: string; seqs: number[] }, { name: string; seqs: number[] }];
    const filesBefore = segmentFiles(dir);

    // Confirmed exactly through the first segment's last record: that segment is fully confirmed.
    writeCursor(dir, seg1.seqs.at(-1) as number);
    const started = Date.now();
    const spool = await Spool.open(dir, { fsync: 'never', segmentBytes: 2048 });
    const elapsed = Date.now() - started;
    expect(spool.recovery.removedFiles).toEqual([seg1.name]);
    expect(spool.recovery.segmentsScanned).toBe(filesBefore.length);
    expect(spool.recovery.recordsFound).toBe(60);
    expect(spool.recovery.durationMs).toBeGreaterThanOrEqual(0);
    expect(spool.recovery.durationMs).toBeLessThanOrEqual(elapsed);
    expect(segmentFiles(dir)).not.toContain(seg1.name);
    const left = 60 - (seg1.seqs.at(-1) as number);
    expect(spool.view().perClass.log.queuedFrames).toBe(left);
    // What the status counts on disk is what the remaining segment files hold (the new active one is empty).
    const onDisk = segmentFiles(dir).reduce(
      (n, f) => n + statSync(join(spoolPaths(dir).segments, f)).size,
      0,
    );
    expect(spool.bytesOnDisk).toBe(onDisk);
    const records = await readAll(spool);
    expect(records[0]?.seq).toBe((seg1.seqs.at(-1) as number) + 1);
    expect(records.length).toBe(left);
    // The oldest queued record is the first one after the cursor.
    expect(spool.view().oldestQueuedAt).toBe(records[0]?.appendedAt);
    await spool.close();

    // Confirmed through the second segment's FIRST record: the segment is partly confirmed and stays.
    const through = seg2.seqs[0] as number;
    writeCursor(dir, through);
    const partly = await openSpool(dir, { segmentBytes: 2048 });
    expect(partly.recovery.removedFiles).toEqual([]);
    expect(segmentFiles(dir)).toContain(seg2.name);
    expect(partly.view().perClass.log.queuedFrames).toBe(60 - through);
    const rest = await readAll(partly);
    expect(rest[0]?.seq).toBe(through + 1);
    expect(partly.view().oldestQueuedAt).toBe(rest[0]?.appendedAt);
    expect(rest[0]?.appendedAt).toBe(1_000 + through);
  });
});

describe('recoverSpool: the segment files', () => {
  it('reads segments in sequence order whatever order the directory lists them in', async () => {
    const dir = dataDir();
    await filled(dir, 80);
    const names = segmentFiles(dir);
    expect(names.length).toBeGreaterThanOrEqual(4);
    const { readdir } = fs.promises;
    const segmentsDir = spoolPaths(dir).segments;
    vi.spyOn(fs.promises, 'readdir').mockImplementation((async (path: fs.PathLike) => {
      const listed = (await readdir(path)) as string[];
      return String(path) === segmentsDir ? [...listed].sort().reverse() : listed;
    }) as typeof fs.promises.readdir);
    const spool = await openSpool(dir, { segmentBytes: 2048 });
    vi.restoreAllMocks();
    expect(spool.recovery.quarantined).toEqual([]);
    expect(spool.recovery.tornTail).toBeNull();
    const records = await readAll(spool);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    expect(textsOf(records)).toEqual(Array.from({ length: 80 }, (_, i) => `rec${i}`));
    expect(spool.append('log', frameOf('log', 'next')).seq).toBe(81);
  });

  it('removes leftover temp files and empty segments, and never reuses the sequence an empty segment was named for', async () => {
    const dir = dataDir();
    await filled(dir, 10, 1024 * 1024);
    const segDir = spoolPaths(dir).segments;
    writeFileSync(join(segDir, '0000000000000001.seg.compact'), 'half a compaction');
    mkdirSync(join(segDir, '0000000000000001.seg.salvage'));
    writeFileSync(join(segDir, '0000000000000001.seg.salvage', 'x'), 'odd');
    // A later start created segment 31 and died before writing to it: sequences up to 30 may have been used.
    writeFileSync(join(segDir, '0000000000000031.seg'), '');
    const spool = await openSpool(dir);
    expect([...spool.recovery.removedFiles].sort()).toEqual([
      '0000000000000001.seg.compact',
      '0000000000000001.seg.salvage',
      '0000000000000031.seg',
    ]);
    expect(spool.recovery.quarantined).toEqual([]);
    expect(spool.recovery.tornTail).toBeNull();
    expect(segmentFiles(dir)).toEqual(['0000000000000001.seg', '0000000000000031.seg']);
    expect(statSync(join(segDir, '0000000000000031.seg')).size).toBe(0);
    expect(textsOf(await readAll(spool))).toEqual(Array.from({ length: 10 }, (_, i) => `rec${i}`));
    expect(spool.append('log', frameOf('log', 'next')).seq).toBe(31);
  });

  it('cuts a torn tail of the last segment, reporting exactly the bytes cut; a clean start fsyncs no quarantine', async () => {
    const dir = dataDir();
    await filled(dir, 20, 1024 * 1024);
    const [name] = segmentFiles(dir) as [string];
    const path = join(spoolPaths(dir).segments, name);
    const torn = statSync(path).size - 7;
    truncateSync(path, torn);
    const spool = await openSpool(dir);
    expect(spool.recovery.tornTail).toEqual({ segment: name, truncatedBytes: torn - statSync(path).size });
    expect(spool.recovery.tornTail?.truncatedBytes).toBeGreaterThan(0);
    expect(spool.recovery.quarantined).toEqual([]);
    expect(fsyncedDirs()).not.toContain(spoolPaths(dir).quarantine);
    expect((await readAll(spool)).length).toBe(19);
  });

  it('an earlier segment with a torn end is quarantined and salvaged, not cut like a tail', async () => {
    const dir = dataDir();
    await filled(dir, 120);
    const layout = seqsPerSegment(dir);
    expect(layout.length).toBeGreaterThanOrEqual(3);
    const victim = layout[1] as { name: string; seqs: number[] };
    const path = join(spoolPaths(dir).segments, victim.name);
    const buf = readFileSync(path);
    const lastRecord = scanSegment(buf).records.at(-1) as { offset: number; seq: number };
    truncateSync(path, buf.length - 7);
    const problems: string[] = [];
    const spool = await openSpool(dir, { onProblem: (m) => problems.push(m) });
    expect(spool.recovery.tornTail).toBeNull();
    expect(spool.recovery.quarantined).toHaveLength(1);
    const entry = spool.recovery.quarantined[0];
    const damaged = buf.length - 7 - lastRecord.offset;
    expect(entry).toMatchObject({
      segment: victim.name,
      salvagedRecords: victim.seqs.length - 1,
      damagedBytes: damaged,
    });
    expect(entry?.reason).toMatch(new RegExp(`^[a-z-]+ at ${lastRecord.offset} \\(${damaged} bytes\\)$`));
    expect(entry?.movedTo.startsWith(join(spoolPaths(dir).quarantine, `${victim.name}.`))).toBe(true);
    expect(readFileSync(entry?.movedTo as string)).toEqual(buf.subarray(0, buf.length - 7));
    expect(fsyncedDirs()).toContain(spoolPaths(dir).quarantine);
    expect(problems).toHaveLength(1);
    const seqs = (await readAll(spool)).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: 120 }, (_, i) => i + 1).filter((s) => s !== lastRecord.seq));
  });

  it('damage in the middle of the last segment is quarantined, keeping the records after it', async () => {
    const dir = dataDir();
    await filled(dir, 30, 1024 * 1024);
    const [name] = segmentFiles(dir) as [string];
    const path = join(spoolPaths(dir).segments, name);
    const buf = readFileSync(path);
    const target = scanSegment(buf).records[10] as { offset: number; seq: number };
    buf[target.offset + 28] = (buf[target.offset + 28] as number) ^ 0x40;
    writeFileSync(path, buf);
    const spool = await openSpool(dir);
    expect(spool.recovery.tornTail).toBeNull();
    expect(spool.recovery.quarantined).toMatchObject([{ segment: name, salvagedRecords: 29 }]);
    const seqs = (await readAll(spool)).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1).filter((s) => s !== target.seq));
  });

  it('an unreadable segment is moved to quarantine whole and the start goes on', async () => {
    const dir = dataDir();
    await filled(dir, 10, 1024 * 1024);
    // A directory where a segment file should be: reading it fails (EISDIR), like an I/O error would.
    const odd = '0000000000000050.seg';
    mkdirSync(join(spoolPaths(dir).segments, odd));
    writeFileSync(join(spoolPaths(dir).segments, odd, 'inside'), 'x');
    const spool = await openSpool(dir);
    expect(spool.recovery.quarantined).toHaveLength(1);
    const entry = spool.recovery.quarantined[0];
    expect(entry).toMatchObject({ segment: odd, salvagedRecords: 0, damagedBytes: 0 });
    expect(entry?.reason).toMatch(/EISDIR/);
    expect(entry?.movedTo.startsWith(join(spoolPaths(dir).quarantine, `${odd}.`))).toBe(true);
    expect(readFileSync(join(entry?.movedTo as string, 'inside'), 'utf8')).toBe('x');
    // The name is taken by this start's own (empty) segment: sequences below 50 may have been used.
    expect(statSync(join(spoolPaths(dir).segments, odd)).isFile()).toBe(true);
    expect(fsyncedDirs()).toContain(spoolPaths(dir).quarantine);
    expect(spool.view().quarantinedSegments).toBe(1);
    expect(textsOf(await readAll(spool))).toEqual(Array.from({ length: 10 }, (_, i) => `rec${i}`));
  });
});
