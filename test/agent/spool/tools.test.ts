import { mkdirSync, promises as fsp, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runSpoolCommand } from '../../../src-main/cli/commands/spool';
import { scanSegment } from '../../../src-main/agent/spool/segment-log';
import { initialCursor, writeCursorAtomic } from '../../../src-main/agent/spool/cursor';
import { type RecoveryReport, Spool, spoolPaths } from '../../../src-main/agent/spool/spool';
import {
  formatBytes,
  formatInspection,
  formatRecovery,
  inspectSpool,
  type SpoolInspection,
  spoolOwner,
} from '../../../src-main/agent/spool/tools';
import { frameOf, tempDir } from './helpers';

const cleanups: Array<() => void> = [];
afterEach(() => {
  vi.restoreAllMocks();
  cleanups.splice(0).forEach((c) => c());
});

async function filled(): Promise<string> {
  const t = tempDir('tools-');
  cleanups.push(t.cleanup);
  const spool = await Spool.open(t.dir, { fsync: 'never', segmentBytes: 2048 });
  for (let i = 0; i < 60; i++)
    spool.append(i % 2 ? 'log' : 'telemetry', frameOf(i % 2 ? 'log' : 'telemetry', `t${i}`));
  await spool.close();
  return t.dir;
}

async function run(
  action: 'stats' | 'verify' | 'repair',
  dataDir: string,
): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await runSpoolCommand({ action, dataDir }, (l) => lines.push(l));
  return { code, text: lines.join('\n') };
}

describe('spool tools and CLI', () => {
  it('stats shows counts per class, cursor and oldest age on a healthy spool', async () => {
    const dir = await filled();
    const i = await inspectSpool(dir);
    expect(i.queued.log.frames).toBe(30);
    expect(i.queued.telemetry.frames).toBe(30);
    expect(i.damaged).toEqual([]);
    expect(i.inUseBy).toBeNull();
    const { code, text } = await run('stats', dir);
    expect(code).toBe(0);
    expect(text).toMatch(/queued: 60 frames — log 30 .*telemetry 30/);
    expect(text).toMatch(/cursor: ok, confirmed up to seq 0/);
    expect(text).toMatch(/delivery: no record of an agent delivering from this spool yet/);
    expect(text).toMatch(/oldest queued: \d{4}-/);
    expect((await run('verify', dir)).code).toBe(0);
  });

  it('verify reports damage and what repair would do; repair fixes it; verify is clean again', async () => {
    const dir = await filled();
    const segDir = spoolPaths(dir).segments;
    const files = readdirSync(segDir).sort();
    const middle = join(segDir, files[1] as string);
    const buf = readFileSync(middle);
    const rec = scanSegment(buf).records[1];
    const at = (rec?.offset ?? 0) + 27;
    buf[at] = (buf[at] as number) ^ 0x10;
    writeFileSync(middle, buf);
    const last = join(segDir, files.at(-1) as string);
    truncateSync(last, readFileSync(last).length - 5);

    const before = readdirSync(segDir).length;
    const verify = await run('verify', dir);
    expect(verify.code).toBe(1);
    expect(verify.text).toMatch(/crc-mismatch/);
    expect(verify.text).toMatch(/move to quarantine/);
    expect(verify.text).toMatch(/truncate the torn tail/);
    // verify changed nothing
    expect(readdirSync(segDir).length).toBe(before);
    expect(readdirSync(spoolPaths(dir).quarantine)).toEqual([]);

    const repair = await run('repair', dir);
    expect(repair.code).toBe(0);
    expect(repair.text).toMatch(/quarantined .*salvaged \d+ records/);
    expect(repair.text).toMatch(/truncated the torn tail/);
    expect(readdirSync(spoolPaths(dir).quarantine)).toHaveLength(1);
    const after = await run('verify', dir);
    expect(after.code).toBe(0);
    expect(after.text).toMatch(/queued: 58 frames/);
  });

  it('repair refuses while an agent has the spool open; stats still works', async () => {
    const dir = await filled();
    writeFileSync(join(spoolPaths(dir).dir, 'owner.pid'), `${process.ppid}\n`);
    const repair = await run('repair', dir);
    expect(repair.code).toBe(2);
    expect(repair.text).toMatch(/in use by process/);
    const stats = await run('stats', dir);
    expect(stats.code).toBe(0);
    expect(stats.text).toMatch(/in use by running process/);
  });

  it('stats on a data dir without a spool says so', async () => {
    const t = tempDir('tools-empty-');
    cleanups.push(t.cleanup);
    const { code, text } = await run('stats', t.dir);
    expect(code).toBe(0);
    expect(text).toMatch(/does not exist yet/);
    expect(await inspectSpool(t.dir)).toMatchObject({
      exists: false,
      segments: 0,
      quarantineFiles: [],
      leftoverFiles: [],
      damaged: [],
    });
  });

  it('fails, rather than calling the spool missing, when its segments cannot be listed', async () => {
    const t = tempDir('tools-notdir-');
    cleanups.push(t.cleanup);
    mkdirSync(spoolPaths(t.dir).dir, { recursive: true });
    writeFileSync(spoolPaths(t.dir).segments, 'not a directory');
    await expect(inspectSpool(t.dir)).rejects.toThrow(/ENOTDIR/);
  });

  it('plans to quarantine a last segment whose damage has valid records after it, and truncates a torn tail by its size', async () => {
    const dir = await filled();
    const segDir = spoolPaths(dir).segments;
    const last = join(segDir, readdirSync(segDir).sort().at(-1) as string);
    const buf = readFileSync(last);
    const second = scanSegment(buf).records[1]!;
    buf[second.offset + 27] = (buf[second.offset + 27] as number) ^ 0x10;
    writeFileSync(last, buf);
    const damaged = (await inspectSpool(dir)).damaged;
    expect(damaged).toHaveLength(1);
    expect(damaged[0]?.action).toMatch(/^move to quarantine\/ and keep the \d+ valid records$/);

    // An earlier segment damaged in its last record is quarantined too: only the newest one can have a torn tail.
    const first = join(segDir, readdirSync(segDir).sort()[0] as string);
    const firstBuf = readFileSync(first);
    const lastRecord = scanSegment(firstBuf).records.at(-1)!;
    firstBuf[lastRecord.offset + 27] = (firstBuf[lastRecord.offset + 27] as number) ^ 0x10;
    writeFileSync(first, firstBuf);
    const both = (await inspectSpool(dir)).damaged;
    expect(both.map((d) => d.action.startsWith('move to quarantine/'))).toEqual([true, true]);

    // Now a torn write at the end of the (again healthy) last segment.
    buf[second.offset + 27] = (buf[second.offset + 27] as number) ^ 0x10;
    writeFileSync(last, buf.subarray(0, buf.length - 5));
    const torn = scanSegment(buf.subarray(0, buf.length - 5));
    expect((await inspectSpool(dir)).damaged.at(-1)?.action).toBe(
      `truncate the torn tail (${buf.length - 5 - torn.validPrefixEnd} bytes)`,
    );
  });
});

describe('inspectSpool figures', () => {
  it('splits records at the cursor: confirmed ones awaiting deletion, the rest queued per class from the oldest', async () => {
    const dir = await filled();
    const paths = spoolPaths(dir);
    await writeCursorAtomic(paths.dir, { ...initialCursor(), confirmedSeq: 10 });
    const records = readdirSync(paths.segments)
      .sort()
      .flatMap((name) => scanSegment(readFileSync(join(paths.segments, name))).records);
    const i = await inspectSpool(dir);
    expect(i.cursor).toMatchObject({ status: 'ok', confirmedSeq: 10 });
    expect(i.confirmedOnDisk).toBe(10);
    expect(i.queued.log.frames + i.queued.telemetry.frames).toBe(50);
    expect(i.queued.telemetry.bytes).toBe(
      records.filter((r) => r.seq > 10 && r.cls === 'telemetry').reduce((n, r) => n + r.size, 0),
    );
    expect([i.firstSeq, i.lastSeq]).toEqual([1, 60]);
    expect(i.oldestQueuedAt).toBe(records.find((r) => r.seq === 11)?.appendedAt);
    expect(i.segments).toBe(readdirSync(paths.segments).length);
    expect(i.segmentBytes).toBe(
      readdirSync(paths.segments).reduce((n, name) => n + readFileSync(join(paths.segments, name)).length, 0),
    );
  });

  it('scans segments in sequence order whatever order the directory lists them in', async () => {
    const dir = await filled();
    const expected = await inspectSpool(dir);
    const readdir = fsp.readdir.bind(fsp) as (path: string) => Promise<string[]>;
    // ext4 lists by hash, not by name: hand the segments over reversed.
    vi.spyOn(fsp, 'readdir').mockImplementation((async (path: string) =>
      (await readdir(path)).reverse()) as unknown as typeof fsp.readdir);
    const i = await inspectSpool(dir);
    expect([i.firstSeq, i.lastSeq, i.damaged]).toEqual([1, 60, []]);
    expect(i).toEqual(expected);
  });

  it('lists leftover and quarantined files, and has no sequence range while empty', async () => {
    const t = tempDir('tools-leftover-');
    cleanups.push(t.cleanup);
    await (await Spool.open(t.dir, { fsync: 'never' })).close();
    const paths = spoolPaths(t.dir);
    writeFileSync(join(paths.segments, '0000000000000001.seg.tmp'), 'x');
    writeFileSync(join(paths.quarantine, 'old.seg'), 'x');
    const i = await inspectSpool(t.dir);
    expect(i.exists).toBe(true);
    // The leftover is listed, not read as a segment.
    expect(i.segments).toBe(readdirSync(paths.segments).filter((n) => n.endsWith('.seg')).length);
    expect(i.damaged).toEqual([]);
    expect(i.leftoverFiles).toEqual(['0000000000000001.seg.tmp']);
    expect(i.quarantineFiles).toEqual(['old.seg']);
    expect([i.firstSeq, i.lastSeq, i.oldestQueuedAt]).toEqual([null, null, null]);
    expect(formatInspection(i)).toContain(
      'leftover temp files (repair removes them): 0000000000000001.seg.tmp',
    );
  });

  it('names the owner only when the owner file holds the pid of another live process', async () => {
    const dir = await filled();
    const owner = join(spoolPaths(dir).dir, 'owner.pid');
    for (const text of [`${process.pid}\n`, 'garbage', '0', '-5', `${process.ppid}.5`]) {
      writeFileSync(owner, text);
      expect(await spoolOwner(dir), text).toBeNull();
    }
    writeFileSync(owner, ` ${process.ppid}\n`);
    expect(await spoolOwner(dir)).toBe(process.ppid);
  });
});

describe('spool stats and repair text', () => {
  const inspection = (overrides: Partial<SpoolInspection> = {}): SpoolInspection => ({
    dir: '/data/spool',
    exists: true,
    segments: 3,
    segmentBytes: 3 * 1024 * 1024 + 512 * 1024,
    cursor: {
      status: 'ok',
      confirmedSeq: 40,
      state: {
        confirmedSeq: 40,
        dropped: { telemetry: 7, log: 2, result: 1 },
        unreportedDrops: { telemetry: 3, log: 1 },
      },
    },
    queued: {
      log: { frames: 5, bytes: 500 },
      telemetry: { frames: 6, bytes: 2048 },
      result: { frames: 1, bytes: 100 },
    },
    confirmedOnDisk: 4,
    firstSeq: 37,
    lastSeq: 52,
    oldestQueuedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
    damaged: [],
    quarantineFiles: ['a', 'b'],
    leftoverFiles: [],
    inUseBy: null,
    delivery: null,
    ...overrides,
  });

  it('formats sizes in B up to 1023, then KiB, MiB, GiB and TiB with one decimal', () => {
    expect(
      [0, 1023, 1024, 1536, 1024 ** 2 - 1, 1024 ** 2, 5 * 1024 ** 3, 1024 ** 4, 2048 * 1024 ** 4].map(
        formatBytes,
      ),
    ).toEqual([
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '1024.0 KiB',
      '1.0 MiB',
      '5.0 GiB',
      '1.0 TiB',
      '2048.0 TiB',
    ]);
  });

  it('stats prints every figure of a healthy spool', () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(formatInspection(inspection(), at + 90_000)).toEqual([
      'spool: /data/spool',
      'segments: 3 (3.5 MiB), quarantined files: 2',
      'cursor: ok, confirmed up to seq 40',
      'delivery: no record of an agent delivering from this spool yet',
      'records on disk: seq 37 … 52, 4 confirmed awaiting deletion',
      'queued: 12 frames — log 5 (500 B), telemetry 6 (2.0 KiB), result 1 (100 B)',
      'oldest queued: 2026-01-02T03:04:05.000Z (90s ago)',
      'dropped while full: telemetry 7, log 2, result 1; not yet reported: telemetry 3, log 1',
      'damaged segments: none',
    ]);
  });

  it('stats names the owner, the last delivery, damage and an empty or missing spool', () => {
    const lines = formatInspection(
      inspection({
        exists: false,
        inUseBy: 777,
        firstSeq: null,
        lastSeq: null,
        oldestQueuedAt: null,
        leftoverFiles: ['x.tmp', 'y.tmp'],
        damaged: [
          {
            segment: 's1',
            problems: ['crc-mismatch at byte 9 (20 bytes)', 'bad'],
            validRecords: 3,
            action: 'fix',
          },
        ],
        delivery: {
          at: Date.UTC(2026, 0, 2),
          pid: 99,
          sentSeq: 50,
          receivedSeq: 48,
          confirmedSeq: 45,
          sent: 10,
          receivedByServer: 8,
          confirmed: 5,
        },
      }),
    );
    expect(lines).toEqual([
      'spool: /data/spool (does not exist yet)',
      'in use by running process 777 (figures may be changing)',
      'segments: 3 (3.5 MiB), quarantined files: 2',
      'cursor: ok, confirmed up to seq 40',
      'delivery (agent pid 99, as of 2026-01-02T00:00:00.000Z): sent up to seq 50, received by the server up to ' +
        'seq 48, confirmed up to seq 45; since that start 10 sent, 8 received by the server, 5 confirmed',
      'records on disk: seq - … -, 4 confirmed awaiting deletion',
      'queued: 12 frames — log 5 (500 B), telemetry 6 (2.0 KiB), result 1 (100 B)',
      'oldest queued: -',
      'dropped while full: telemetry 7, log 2, result 1; not yet reported: telemetry 3, log 1',
      'damaged: s1: crc-mismatch at byte 9 (20 bytes); bad — repair: fix',
      'leftover temp files (repair removes them): x.tmp, y.tmp',
    ]);
  });

  it('states the age of the oldest queued frame in s, m, h or d, rounded', () => {
    const at = 1_000_000_000_000;
    const age = (ms: number): string | undefined =>
      /\((.*) ago\)$/.exec(formatInspection(inspection({ oldestQueuedAt: at }), at + ms)[6] ?? '')?.[1];
    const s = 1000;
    expect(
      [
        -5 * s,
        0,
        119 * s,
        120 * s,
        149 * s,
        7199 * s,
        7200 * s,
        172_799 * s,
        172_800 * s,
        30 * 86_400 * s,
      ].map(age),
    ).toEqual(['0s', '0s', '119s', '2m', '2m', '120m', '2h', '48h', '2d', '30d']);
  });

  it('repair says what recovery did, or that there was nothing to repair', () => {
    const report: RecoveryReport = {
      segmentsScanned: 4,
      recordsFound: 120,
      tornTail: null,
      quarantined: [],
      cursor: 'ok',
      cursorDetail: null,
      removedFiles: [],
      durationMs: 3,
    };
    expect(formatRecovery(report)).toEqual([
      'scanned 4 segments, 120 records, cursor ok',
      'nothing to repair',
    ]);
    expect(
      formatRecovery({
        ...report,
        cursor: 'damaged',
        cursorDetail: 'cursor file failed its checksum',
        tornTail: { segment: 's9', truncatedBytes: 17 },
        quarantined: [
          { segment: 's2', movedTo: 'q/s2', salvagedRecords: 8, damagedBytes: 40, reason: 'crc-mismatch' },
        ],
        removedFiles: ['a', 'b'],
      }),
    ).toEqual([
      'scanned 4 segments, 120 records, cursor damaged',
      'cursor problem: cursor file failed its checksum (unconfirmed frames will be re-sent)',
      'truncated the torn tail of s9 (17 bytes)',
      'quarantined s2 → q/s2: crc-mismatch; salvaged 8 records',
      'removed 2 leftover/confirmed files',
    ]);
    // Each kind of work alone is enough not to claim "nothing to repair".
    expect(formatRecovery({ ...report, cursorDetail: 'x' })).not.toContain('nothing to repair');
    expect(formatRecovery({ ...report, tornTail: { segment: 's', truncatedBytes: 1 } })).not.toContain(
      'nothing to repair',
    );
    expect(
      formatRecovery({
        ...report,
        quarantined: [{ segment: 's', movedTo: 'q', salvagedRecords: 0, damagedBytes: 1, reason: 'r' }],
      }),
    ).not.toContain('nothing to repair');
  });
});
