/**
 * When the spool calls a record durable (and what it fsyncs for that), how it survives failing writes and fsyncs,
 * and what it leaves running after close. The data fsync and the write are wrapped (pass-through unless a test holds
 * or fails them) so a test can see what was fsynced and control when an fsync completes.
 */
import type * as FsModule from 'node:fs';
import { mkdirSync, promises as fsp, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as CursorModule from '../../../src-main/agent/spool/cursor';
import { fsyncDir } from '../../../src-main/agent/spool/cursor';
import { SpoolError } from '../../../src-main/agent/spool/errors';
import { emptyTally, scanSegment } from '../../../src-main/agent/spool/segment-log';
import { Spool, spoolPaths } from '../../../src-main/agent/spool/spool';
import { frameOf, waitFor } from './helpers';
import { readAll, segmentFiles, spoolTestKit, textsOf } from './spool-harness';

const io = vi.hoisted(() => ({
  /** fds passed to fdatasync, in call order. */
  fdatasyncCalls: [] as number[],
  /** While set, fdatasync calls wait in `held` until the test releases them. */
  hold: false,
  held: [] as Array<() => void>,
  /** Error code the next fdatasync fails with. */
  failNextFdatasync: null as string | null,
  /** While set, every fdatasync fails with this code (a disk that keeps failing). */
  failEveryFdatasync: null as string | null,
  /** While set, every writeSync fails with this code. */
  writeFailure: null as string | null,
  writeCalls: 0,
}));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof FsModule>();
  const fdatasync = (fd: number, cb: (e: NodeJS.ErrnoException | null) => void): void => {
    io.fdatasyncCalls.push(fd);
    const failure = io.failNextFdatasync ?? io.failEveryFdatasync;
    // A spool that retries a failing disk at once would spin here without ever yielding: past 20 attempts the
    // call never answers, so such a test fails on its count instead of hanging the worker.
    if (io.failEveryFdatasync && io.fdatasyncCalls.length > 20) return;
    if (failure) {
      io.failNextFdatasync = null;
      process.nextTick(() =>
        cb(Object.assign(new Error(`${failure}: simulated fdatasync failure`), { code: failure })),
      );
      return;
    }
    if (io.hold) io.held.push(() => fs.fdatasync(fd, cb));
    else fs.fdatasync(fd, cb);
  };
  const writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    io.writeCalls++;
    if (io.writeFailure) {
      throw Object.assign(new Error(`${io.writeFailure}: simulated write failure`), {
        code: io.writeFailure,
      });
    }
    return (fs.writeSync as (...a: unknown[]) => number)(...args);
  }) as typeof fs.writeSync;
  return { ...fs, default: { ...fs, fdatasync, writeSync }, fdatasync, writeSync };
});

vi.mock('../../../src-main/agent/spool/cursor', async (importOriginal) => {
  const original = await importOriginal<typeof CursorModule>();
  return { ...original, fsyncDir: vi.fn(original.fsyncDir) };
});

// No default fsync: each durability test names the policy it is about.
const { cleanups, dataDir, openSpool } = spoolTestKit('spool-durability-', {});
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  io.hold = false;
  for (const release of io.held.splice(0)) release();
  io.failNextFdatasync = null;
  io.failEveryFdatasync = null;
  io.writeFailure = null;
  await cleanups.runAll();
  io.fdatasyncCalls = [];
  io.writeCalls = 0;
  vi.mocked(fsyncDir).mockClear();
});

/**
 * Lets I/O callbacks and immediates run until `cond` holds. Polls with setImmediate, not a timer: some tests fake
 * setTimeout. The deadline only bounds a hang.
 */
async function turnsUntil(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error(`never happened: ${what}`);
}

function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  void promise.then(() => (done = true));
  return () => done;
}

function dirFsyncs(dir: string): number {
  return vi.mocked(fsyncDir).mock.calls.filter((c) => c[0] === spoolPaths(dir).segments).length;
}

describe('durability: fsync before "durable"', () => {
  it("'always': a record is durable only once the data fsync of its file completed", async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { fsync: 'always' });
    const durable: number[] = [];
    spool.on('durable', (seq) => durable.push(seq));
    io.hold = true;
    spool.append('log', frameOf('log', 'a'));
    spool.flush();
    await turnsUntil(() => io.held.length === 1, 'the fsync started');
    const isDurable = settled(spool.whenDurable(1));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(isDurable()).toBe(false);
    expect(spool.durableSeq).toBe(0);
    io.hold = false;
    io.held.splice(0).forEach((release) => release());
    await turnsUntil(isDurable, 'durable after the fsync');
    expect(spool.durableSeq).toBe(1);
    expect(durable).toEqual([1]);
    // The first commit also makes the new segment's directory entry durable.
    expect(dirFsyncs(dir)).toBe(1);
  });

  it("'always': records written while an fsync runs get a second one, and only then count as durable", async () => {
    const spool = await openSpool(dataDir(), { fsync: 'always' });
    const durable: number[] = [];
    spool.on('durable', (seq) => durable.push(seq));
    io.hold = true;
    spool.append('log', frameOf('log', 'a'));
    spool.flush();
    await turnsUntil(() => io.held.length === 1, 'first fsync started');
    spool.append('log', frameOf('log', 'b'));
    spool.flush();
    const secondDurable = settled(spool.whenDurable(2));
    // No second fsync while the first is in flight.
    expect(io.fdatasyncCalls).toHaveLength(1);
    io.held.splice(0).forEach((release) => release());
    await turnsUntil(() => io.held.length === 1, 'second fsync started');
    expect(spool.durableSeq).toBe(1);
    expect(secondDurable()).toBe(false);
    io.hold = false;
    io.held.splice(0).forEach((release) => release());
    await turnsUntil(secondDurable, 'second record durable');
    expect(durable).toEqual([1, 2]);
    expect(io.fdatasyncCalls).toHaveLength(2);
  });

  it('sync() fsyncs the rotated segments too, not just the one being written', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { fsync: { groupCommitMs: 60_000 }, segmentBytes: 1024 });
    for (let i = 0; i < 40; i++) spool.append('log', frameOf('log', `r${i}`));
    await spool.sync();
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(new Set(io.fdatasyncCalls).size).toBe(files.length);
    expect(spool.durableSeq).toBe(40);
    expect(dirFsyncs(dir)).toBe(1);
    // Nothing new: a second sync() has nothing to fsync.
    const calls = io.fdatasyncCalls.length;
    await spool.sync();
    expect(io.fdatasyncCalls.length).toBe(calls);
    // Something new in the same segment: its data is fsynced again, the directory is not.
    spool.append('log', frameOf('log', 'late'));
    await spool.sync();
    expect(io.fdatasyncCalls.length).toBe(calls + 1);
    expect(spool.durableSeq).toBe(41);
    expect(dirFsyncs(dir)).toBe(1);
  });

  it('sync() waits for the fsync in flight instead of starting another for the same records', async () => {
    const spool = await openSpool(dataDir(), { fsync: 'always' });
    io.hold = true;
    spool.append('log', frameOf('log', 'a'));
    spool.flush();
    await turnsUntil(() => io.held.length === 1, 'fsync started');
    const synced = settled(spool.sync());
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(synced()).toBe(false);
    io.hold = false;
    io.held.splice(0).forEach((release) => release());
    await turnsUntil(synced, 'sync resolved');
    expect(spool.durableSeq).toBe(1);
    expect(io.fdatasyncCalls).toHaveLength(1);
  });

  it("'never': appends never fsync, but every sync() does, and 'durable' never repeats a sequence", async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { fsync: 'never', segmentBytes: 1024 });
    const durable: number[] = [];
    spool.on('durable', (seq) => durable.push(seq));
    for (let i = 0; i < 30; i++) spool.append('log', frameOf('log', `n${i}`));
    spool.flush();
    expect(spool.durableSeq).toBe(30);
    expect(segmentFiles(dir).length).toBeGreaterThan(1);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(io.fdatasyncCalls).toEqual([]);
    await spool.sync();
    const first = io.fdatasyncCalls.length;
    expect(first).toBeGreaterThan(0);
    spool.append('log', frameOf('log', 'more'));
    spool.flush();
    await spool.sync();
    expect(io.fdatasyncCalls.length).toBeGreaterThan(first);
    // Durable as each flush wrote (rotations included), each sequence announced once, never going back.
    expect(durable.slice(-2)).toEqual([30, 31]);
    expect(durable).toEqual([...new Set(durable)].sort((a, b) => a - b));
  });

  it("flush() writes the staged records now and announces them once as 'written'", async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { fsync: 'never' });
    const written: number[] = [];
    spool.on('written', (seq) => written.push(seq));
    spool.append('log', frameOf('log', 'a'));
    spool.append('log', frameOf('log', 'b'));
    const file = join(spoolPaths(dir).segments, segmentFiles(dir)[0] as string);
    expect(readFileSync(file).length).toBe(0);
    spool.flush();
    expect(scanSegment(readFileSync(file)).records.map((r) => r.seq)).toEqual([1, 2]);
    expect(written).toEqual([2]);
    // Nothing new staged: no second announcement.
    spool.flush();
    await new Promise((r) => setImmediate(r));
    expect(written).toEqual([2]);
  });

  it('whenDurable resolves at once for a sequence that already is durable', async () => {
    const spool = await openSpool(dataDir(), { fsync: 'never' });
    spool.append('log', frameOf('log', 'a'));
    spool.append('log', frameOf('log', 'b'));
    spool.flush();
    expect(spool.durableSeq).toBe(2);
    const both = settled(Promise.all([spool.whenDurable(1), spool.whenDurable(2)]));
    await new Promise((r) => setImmediate(r));
    expect(both()).toBe(true);
  });

  it('after a restart, only what was on disk counts as durable: new records wait for their fsync', async () => {
    const dir = dataDir();
    const first = await Spool.open(dir, { fsync: 'never' });
    for (let i = 0; i < 10; i++) first.append('log', frameOf('log', `old${i}`));
    await first.close();
    const spool = await openSpool(dir, { fsync: 'always' });
    expect(spool.durableSeq).toBe(10);
    await spool.sync();
    expect(spool.durableSeq).toBe(10);
    io.hold = true;
    spool.append('log', frameOf('log', 'new'));
    spool.flush();
    await turnsUntil(() => io.held.length > 0, 'fsync started');
    const isDurable = settled(spool.whenDurable(11));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(isDurable()).toBe(false);
    io.hold = false;
    io.held.splice(0).forEach((release) => release());
    await turnsUntil(isDurable, 'new record durable');
  });
});

describe('durability: group commit timing (fake timers)', () => {
  it('flushes in one window share one fsync when the window ends, and sync() takes the window over', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const spool = await openSpool(dataDir(), { fsync: { groupCommitMs: 1000 } });
    for (let i = 0; i < 3; i++) {
      spool.append('log', frameOf('log', `g${i}`));
      spool.flush();
      await new Promise((r) => setImmediate(r));
    }
    expect(io.fdatasyncCalls).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    await turnsUntil(() => spool.durableSeq === 3, 'window committed');
    expect(io.fdatasyncCalls).toHaveLength(1);

    spool.append('log', frameOf('log', 'g3'));
    spool.flush();
    expect(vi.getTimerCount()).toBe(1);
    await spool.sync();
    expect(spool.durableSeq).toBe(4);
    expect(vi.getTimerCount()).toBe(0);
    expect(io.fdatasyncCalls).toHaveLength(2);
  });

  it("'always' does not wait for any timer", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const spool = await openSpool(dataDir(), { fsync: 'always' });
    spool.append('log', frameOf('log', 'a'));
    spool.flush();
    await turnsUntil(() => spool.durableSeq === 1, 'durable without a timer');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close leaves no group-commit timer behind, even for a record appended while it ran', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const spool = await Spool.open(dataDir(), { fsync: { groupCommitMs: 1000 } });
    spool.append('log', frameOf('log', 'a'));
    const closing = spool.close();
    spool.append('log', frameOf('log', 'during close'));
    await closing;
    expect(vi.getTimerCount()).toBe(0);
    const calls = io.fdatasyncCalls.length;
    vi.advanceTimersByTime(5000);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(io.fdatasyncCalls.length).toBe(calls);
  });
});

describe('durability: failing writes and fsyncs', () => {
  it('a failed fsync is reported and retried, directory entry included; nothing counts as durable before', async () => {
    const dir = dataDir();
    const problems: string[] = [];
    const events: string[] = [];
    const spool = await openSpool(dir, { fsync: 'always', onProblem: (m) => problems.push(m) });
    spool.on('problem', (m) => events.push(m));
    io.failNextFdatasync = 'EIO';
    const durable: number[] = [];
    spool.on('durable', (seq) => durable.push(seq));
    spool.append('log', frameOf('log', 'a'));
    spool.flush();
    await turnsUntil(() => spool.durableSeq === 1, 'durable after the retry');
    expect(problems).toEqual([
      'fsync of the spool failed: EIO: simulated fdatasync failure',
      'fsync of the spool recovered after 1 failed attempt',
    ]);
    expect(events).toEqual(problems);
    expect(io.fdatasyncCalls.length).toBe(2);
    expect(durable).toEqual([1]);
    expect(dirFsyncs(dir)).toBe(1);
  });

  it("a disk whose fsync keeps failing is retried every 500 ms, not at once ('always' used to spin)", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const problems: string[] = [];
    const spool = await openSpool(dataDir(), { fsync: 'always', onProblem: (m) => problems.push(m) });
    io.failEveryFdatasync = 'EIO';
    spool.append('log', frameOf('log', 'a'));
    spool.flush();
    await turnsUntil(() => problems.length === 1, 'the first failure reported');
    // Many event-loop turns later, still only the one attempt: the retry waits for its timer.
    for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
    expect(io.fdatasyncCalls).toHaveLength(1);
    expect(problems).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(499);
    expect(io.fdatasyncCalls).toHaveLength(1);
    vi.advanceTimersByTime(1);
    // The retry fails too (reported in a summary line later: spool-problem-rate.test.ts) and arms the next one.
    await turnsUntil(
      () => io.fdatasyncCalls.length === 2 && vi.getTimerCount() === 1,
      'the retry failed too',
    );
    expect(problems).toHaveLength(1);
    expect(spool.durableSeq).toBe(0);
    // The disk recovers: the next retry makes the record durable, and nothing is left scheduled.
    io.failEveryFdatasync = null;
    vi.advanceTimersByTime(500);
    await turnsUntil(() => spool.durableSeq === 1, 'durable after the disk recovered');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sync() rejects while the data cannot be made durable, and resolves once it can', async () => {
    const spool = await openSpool(dataDir(), {
      fsync: { groupCommitMs: 60_000 },
      onProblem: () => undefined,
    });
    spool.append('log', frameOf('log', 'a'));
    io.failEveryFdatasync = 'EIO';
    await expect(spool.sync()).rejects.toMatchObject({
      name: 'SpoolError',
      code: 'sync-failed',
      message: 'EIO: simulated fdatasync failure',
    });
    expect(spool.durableSeq).toBe(0);
    io.failEveryFdatasync = null;
    await spool.sync();
    expect(spool.durableSeq).toBe(1);
  });

  it('a failed write keeps the staged records and retries them in order; the producer learns when staging is full', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const dir = dataDir();
    const problems: string[] = [];
    const spool = await openSpool(dir, { fsync: 'never', onProblem: (m) => problems.push(m) });
    io.writeFailure = 'ENOSPC';
    spool.append('log', frameOf('log', 'w0'));
    spool.flush();
    const activePath = join(spoolPaths(dir).segments, segmentFiles(dir)[0] as string);
    expect(problems).toEqual([
      `spool write failed, retrying: cannot write to ${activePath}: ENOSPC: simulated write failure`,
    ]);
    expect(vi.getTimerCount()).toBe(1);
    // Further appends while the disk is full are staged; their failed flushes share the one retry timer.
    let accepted = 1;
    let refused: unknown = null;
    for (let i = 1; i < 2000 && refused === null; i++) {
      try {
        spool.append('log', frameOf('log', `w${i}`));
        accepted++;
      } catch (e) {
        refused = e;
      }
      if (i % 100 === 0) {
        spool.flush();
        await new Promise((r) => setImmediate(r));
      }
    }
    expect(refused).toBeInstanceOf(SpoolError);
    expect((refused as SpoolError).code).toBe('write-failed');
    expect(((refused as SpoolError).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect((refused as SpoolError).message).toBe(
      `cannot write to ${activePath}: ENOSPC: simulated write failure`,
    );
    expect(vi.getTimerCount()).toBe(1);
    expect(spool.durableSeq).toBe(0);

    io.writeFailure = null;
    vi.advanceTimersByTime(500);
    expect(spool.durableSeq).toBe(accepted);
    const records = await readAll(spool);
    expect(textsOf(records)).toEqual(Array.from({ length: accepted }, (_, i) => `w${i}`));
  });

  it('close with the disk still failing reports it, leaves no retry timer, and never writes again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const problems: string[] = [];
    const spool = await Spool.open(dataDir(), { fsync: 'never', onProblem: (m) => problems.push(m) });
    io.writeFailure = 'EIO';
    spool.append('log', frameOf('log', 'lost'));
    spool.flush();
    expect(vi.getTimerCount()).toBe(1);
    await spool.close();
    expect(problems.at(-1)).toMatch(
      /^final spool fsync failed: cannot write to .*: EIO: simulated write failure$/,
    );
    expect(vi.getTimerCount()).toBe(0);
    io.writeFailure = null;
    const writes = io.writeCalls;
    spool.flush();
    vi.advanceTimersByTime(5000);
    expect(io.writeCalls).toBe(writes);
  });

  it('a failing cursor write is reported and retried until it lands', async () => {
    const dir = dataDir();
    const problems: string[] = [];
    const spool = await openSpool(dir, { fsync: 'never', onProblem: (m) => problems.push(m) });
    for (let i = 0; i < 5; i++) spool.append('log', frameOf('log', `c${i}`));
    spool.flush();
    // The cursor is written through a temp file: a directory in its place makes the write fail.
    const blocker = join(spoolPaths(dir).dir, 'cursor.json.tmp');
    mkdirSync(blocker);
    spool.confirm(5, { ...emptyTally(), log: { frames: 5, bytes: 500 } }, null);
    await waitFor(() => problems.length > 0, 5000, 'cursor problem');
    expect(problems[0]).toMatch(/^cannot write the spool cursor: EISDIR/);
    rmSync(blocker, { recursive: true });
    await waitFor(
      () => {
        try {
          return (
            JSON.parse(readFileSync(join(spoolPaths(dir).dir, 'cursor.json'), 'utf8')).confirmedSeq === 5
          );
        } catch {
          return false;
        }
      },
      5000,
      'cursor written',
    );
  });
});

describe('segment deletion and compaction', () => {
  it('deletes a segment once the durable cursor reaches exactly its last record', async () => {
    const dir = dataDir();
    const spool = await openSpool(dir, { fsync: 'never', segmentBytes: 2048 });
    for (let i = 0; i < 60; i++) spool.append('log', frameOf('log', `d${i}`));
    spool.flush();
    const [firstName, secondName] = segmentFiles(dir) as [string, string];
    const firstSeqs = scanSegment(readFileSync(join(spoolPaths(dir).segments, firstName))).records;
    const last = firstSeqs.at(-1)?.seq as number;
    spool.confirm(last, { ...emptyTally(), log: { frames: last, bytes: 100 * last } }, null);
    await waitFor(() => !segmentFiles(dir).includes(firstName), 5000, 'first segment deleted');
    expect(segmentFiles(dir)).toContain(secondName);
    expect((await readAll(spool))[0]?.seq).toBe(last + 1);
  });

  it('a confirmed segment that cannot be deleted is reported; one already gone is not', async () => {
    const dir = dataDir();
    const problems: string[] = [];
    const spool = await openSpool(dir, {
      fsync: 'never',
      segmentBytes: 2048,
      onProblem: (m) => problems.push(m),
    });
    for (let i = 0; i < 60; i++) spool.append('log', frameOf('log', `u${i}`));
    spool.flush();
    const [first, second] = segmentFiles(dir).map((name) => ({
      name,
      last: scanSegment(readFileSync(join(spoolPaths(dir).segments, name))).records.at(-1)?.seq as number,
    })) as [{ name: string; last: number }, { name: string; last: number }];
    const failWith = (code: string) =>
      Object.assign(new Error(`${code}: simulated unlink failure`), { code }) as NodeJS.ErrnoException;
    const unlink = vi
      .spyOn(fsp, 'unlink')
      .mockRejectedValueOnce(failWith('EACCES'))
      .mockRejectedValueOnce(failWith('ENOENT'));
    spool.confirm(
      first.last,
      { ...emptyTally(), log: { frames: first.last, bytes: 100 * first.last } },
      null,
    );
    await waitFor(() => problems.length > 0, 5000, 'deletion problem');
    expect(problems).toEqual([
      `cannot delete confirmed segment ${first.name}: EACCES: simulated unlink failure`,
    ]);
    spool.confirm(second.last, { ...emptyTally(), log: { frames: 1, bytes: 100 } }, null);
    await waitFor(() => unlink.mock.calls.length === 2, 5000, 'second deletion');
    await new Promise((r) => setImmediate(r));
    expect(problems).toHaveLength(1);
    unlink.mockRestore();
  });

  it('an overflow drop is compacted away without any problem', async () => {
    const dir = dataDir();
    const problems: string[] = [];
    const spool = await openSpool(dir, {
      fsync: 'never',
      maxBytes: 16 * 1024,
      segmentBytes: 4 * 1024,
      onProblem: (m) => problems.push(m),
    });
    const drops: string[] = [];
    spool.on('drop', (d) => drops.push(d.cls));
    // Appends stop at the first drop: the oldest segment keeps its logs and is rewritten without its telemetry.
    for (let i = 0; drops.length === 0; i++) {
      const cls = i % 2 === 0 ? 'log' : 'telemetry';
      spool.append(cls, frameOf(cls, `${cls}${i}`));
    }
    expect(drops).toEqual(['telemetry']);
    await spool.reclaimed();
    expect(problems).toEqual([]);
    const oldest = scanSegment(readFileSync(join(spoolPaths(dir).segments, segmentFiles(dir)[0] as string)));
    expect(oldest.corrupt).toEqual([]);
    expect(oldest.records.length).toBeGreaterThan(0);
    expect(oldest.records.every((r) => r.cls === 'log')).toBe(true);
  });
});
