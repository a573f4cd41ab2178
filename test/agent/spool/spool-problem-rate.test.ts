/**
 * How often a disk whose fsync keeps failing is reported. The retry runs every 500 ms; the problem lines must not:
 * the first failure at once, then while the same error repeats at most one line a minute with the count of failed
 * attempts, and one line when fsync works again. fdatasync is wrapped so a test can make it fail.
 */
import type * as FsModule from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Spool } from '../../../src-main/agent/spool/spool';
import { frameOf, tempDir } from './helpers';

const io = vi.hoisted(() => ({
  /** How many times fdatasync was called. */
  fdatasyncCalls: 0,
  /** While set, every fdatasync fails with this code. */
  failure: null as string | null,
}));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof FsModule>();
  const fdatasync = (fd: number, cb: (e: NodeJS.ErrnoException | null) => void): void => {
    io.fdatasyncCalls++;
    // A spool that retried at once would spin here: past this many calls the call never answers, so such a test
    // fails on its count instead of hanging the worker.
    if (io.failure && io.fdatasyncCalls > 2000) return;
    const failure = io.failure;
    if (failure) {
      process.nextTick(() =>
        cb(Object.assign(new Error(`${failure}: simulated fdatasync failure`), { code: failure })),
      );
      return;
    }
    fs.fdatasync(fd, cb);
  };
  return { ...fs, default: { ...fs, fdatasync }, fdatasync };
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  io.failure = null;
  for (const c of cleanups.splice(0).reverse()) await c();
  io.fdatasyncCalls = 0;
});

/** A spool with `fsync: 'always'` on fake timers (setTimeout and Date), collecting its problem lines. */
async function failingSpool(): Promise<{ spool: Spool; problems: string[] }> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const t = tempDir('spool-problem-rate-');
  cleanups.push(t.cleanup);
  const problems: string[] = [];
  const spool = await Spool.open(t.dir, { fsync: 'always', onProblem: (m) => problems.push(m) });
  cleanups.push(() => spool.close());
  return { spool, problems };
}

/**
 * Lets I/O callbacks and immediates run until `cond` holds (setImmediate and `performance` are not faked). The
 * deadline only bounds a hang.
 */
async function turnsUntil(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!cond() && performance.now() < deadline) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error(`never happened: ${what}`);
}

/** One retry interval: the retry timer fires, its fsync fails (or not), and the next retry is armed (or none). */
async function nextRetry(): Promise<void> {
  const calls = io.fdatasyncCalls;
  vi.advanceTimersByTime(500);
  await turnsUntil(() => io.fdatasyncCalls === calls + 1, 'the retry ran');
  await turnsUntil(() => vi.getTimerCount() === (io.failure ? 1 : 0), 'the retry settled');
}

const FAILED = 'fsync of the spool failed: EIO: simulated fdatasync failure';
const stillFailing = (n: number): string =>
  `fsync of the spool still failing: ${n} failed attempts since the last report (EIO: simulated fdatasync failure)`;

describe('a failing fsync is reported at a bounded rate', () => {
  it('the first failure at once, then one line a minute with the count, and one line when it recovers', async () => {
    const { spool, problems } = await failingSpool();
    io.failure = 'EIO';
    spool.append('log', frameOf('log', 'a'));
    spool.flush();
    await turnsUntil(() => problems.length === 1 && vi.getTimerCount() === 1, 'the first failure');
    expect(problems).toEqual([FAILED]);

    // Two minutes of retries every 500 ms: every one of them fails, two lines more in all.
    for (let i = 1; i < 120; i++) await nextRetry();
    expect(io.fdatasyncCalls).toBe(120);
    expect(problems).toEqual([FAILED]); // 59.5 s: nothing new yet
    await nextRetry(); // 60 s
    expect(problems).toEqual([FAILED, stillFailing(120)]);
    for (let i = 0; i < 120; i++) await nextRetry();
    expect(io.fdatasyncCalls).toBe(241);
    expect(problems).toEqual([FAILED, stillFailing(120), stillFailing(120)]);
    for (let i = 0; i < 10; i++) await nextRetry();
    expect(problems).toHaveLength(3);
    expect(spool.durableSeq).toBe(0);

    // The disk recovers: the next retry makes the record durable and says how long it took.
    io.failure = null;
    await nextRetry();
    await turnsUntil(() => spool.durableSeq === 1, 'durable once the disk recovered');
    expect(problems).toEqual([
      FAILED,
      stillFailing(120),
      stillFailing(120),
      'fsync of the spool recovered after 251 failed attempts',
    ]);

    // A new failure later is a new run: reported at once again.
    io.failure = 'EIO';
    spool.append('log', frameOf('log', 'b'));
    spool.flush();
    await turnsUntil(() => problems.length === 5, 'the new failure');
    expect(problems[4]).toBe(FAILED);
  });

  it('another error is reported at once, and the recovery counts every failed attempt', async () => {
    const { spool, problems } = await failingSpool();
    io.failure = 'EIO';
    spool.append('log', frameOf('log', 'a'));
    spool.flush();
    await turnsUntil(() => problems.length === 1 && vi.getTimerCount() === 1, 'the first failure');
    await nextRetry();
    io.failure = 'ENOSPC';
    await nextRetry();
    await nextRetry();
    expect(problems).toEqual([FAILED, 'fsync of the spool failed: ENOSPC: simulated fdatasync failure']);
    io.failure = null;
    await nextRetry();
    await turnsUntil(() => spool.durableSeq === 1, 'durable once the disk recovered');
    expect(problems).toEqual([
      FAILED,
      'fsync of the spool failed: ENOSPC: simulated fdatasync failure',
      'fsync of the spool recovered after 4 failed attempts',
    ]);
  });
});
