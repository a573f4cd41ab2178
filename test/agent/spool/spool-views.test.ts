/**
 * What the spool shows (SpoolView, confirmation counters, the fsync option it accepts) and what a caught-up reader is
 * served from memory. Capacity and overflow accounting: spool-capacity.test.ts.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FrameView } from '../../../src-shared/view-models';
import { decodeFrame, encodeFrame } from '../../../src-main/agent/protocol/codec';
import { SpoolError } from '../../../src-main/agent/spool/errors';
import { type SpoolRecord } from '../../../src-main/agent/spool/reader';
import { RECORD_OVERHEAD_BYTES, emptyTally } from '../../../src-main/agent/spool/segment-log';
import { normalizeFsyncPolicy, Spool, type SpoolOptions } from '../../../src-main/agent/spool/spool';
import { frameOf, tempDir, textOf } from './helpers';
import { spoolTestKit } from './spool-harness';

const kit = spoolTestKit('spool-test-');
const cleanups = kit.cleanups;
afterEach(() => cleanups.runAll());

/** A spool in a folder of its own. */
function openSpool(options: SpoolOptions = {}): Promise<Spool> {
  return kit.openSpool(kit.dataDir(), options);
}

/** On-disk size of one record holding `frame` (all test log frames of the same text length have the same size). */
function recordBytesOf(text: string): number {
  return encodeFrame(frameOf('log', text)).length + RECORD_OVERHEAD_BYTES;
}

function logTally(frames: number, bytesEach: number): ReturnType<typeof emptyTally> {
  return { ...emptyTally(), log: { frames, bytes: frames * bytesEach } };
}

describe('normalizeFsyncPolicy (config spool.fsync)', () => {
  it('maps every accepted form to the policy the spool runs', () => {
    expect(normalizeFsyncPolicy(undefined)).toEqual({ kind: 'group', ms: 100 });
    expect(normalizeFsyncPolicy('always')).toEqual({ kind: 'always' });
    expect(normalizeFsyncPolicy('never')).toEqual({ kind: 'never' });
    expect(normalizeFsyncPolicy(1)).toEqual({ kind: 'group', ms: 1 });
    expect(normalizeFsyncPolicy(60_000)).toEqual({ kind: 'group', ms: 60_000 });
    expect(normalizeFsyncPolicy({ groupCommitMs: 250 })).toEqual({ kind: 'group', ms: 250 });
  });

  it('refuses an interval outside 1…60000 ms or not a whole number, naming the value', () => {
    for (const bad of [0, -5, 60_001, 1.5, Number.NaN, { groupCommitMs: 70_000 }]) {
      let error: unknown;
      try {
        normalizeFsyncPolicy(bad);
      } catch (e) {
        error = e;
      }
      expect(error, `accepted ${JSON.stringify(bad)}`).toBeInstanceOf(SpoolError);
      expect(error).toMatchObject({ code: 'bad-option' });
      const shown = typeof bad === 'number' ? String(bad) : String(bad.groupCommitMs);
      expect((error as Error).message).toBe(`group commit interval must be 1…60000 ms, got ${shown}`);
    }
  });
});

describe('Spool.view', () => {
  it('without the delivery part shows no replay, nothing awaiting and nothing sent', async () => {
    const spool = await openSpool();
    spool.append('log', frameOf('log', 'queued'));
    const view = spool.view();
    expect(view.replay).toEqual({ active: false, total: 0, done: 0 });
    expect(view.recentSent).toEqual([]);
    expect(view.perClass.log).toMatchObject({ queuedFrames: 1, awaitingConfirmation: 0, confirmed: 0 });
    // With the pump's part, its figures are shown as given.
    const sent: FrameView[] = [view.recentQueued[0] as FrameView];
    const withDelivery = spool.view({
      awaiting: { log: 1, telemetry: 0, result: 0 },
      replay: { active: true, total: 3, done: 1 },
      recentSent: sent,
    });
    expect(withDelivery.replay).toEqual({ active: true, total: 3, done: 1 });
    expect(withDelivery.recentSent).toEqual(sent);
    expect(withDelivery.perClass.log.awaitingConfirmation).toBe(1);
  });

  it('oldestQueuedAt: the append time of the oldest unconfirmed frame, as exact as the confirmations allow', async () => {
    let clock = 1000;
    const size = recordBytesOf('x');
    // Three records per segment: a, b, c in the first, d and e in the second.
    const spool = await openSpool({ now: () => clock, segmentBytes: 3 * size });
    const appendAt = (at: number): void => {
      clock = at;
      spool.append('log', frameOf('log', 'x'));
    };
    expect(spool.view().oldestQueuedAt).toBeNull();
    appendAt(1000);
    appendAt(2000);
    appendAt(3000);
    appendAt(4000);
    expect(spool.view().oldestQueuedAt).toBe(1000);

    // The pump knows the next record's append time: shown as is (not the segment's first append).
    spool.confirm(1, logTally(1, size), 2000);
    expect(spool.view().oldestQueuedAt).toBe(2000);

    // It does not know it: the first append of the oldest segment still holding unconfirmed records.
    spool.confirm(3, logTally(2, size), null);
    expect(spool.view().oldestQueuedAt).toBe(4000);

    spool.confirm(4, logTally(1, size), null);
    expect(spool.view().oldestQueuedAt).toBeNull();

    // A new frame after everything was confirmed is the oldest queued one, even in a segment that began earlier.
    appendAt(5000);
    appendAt(6000);
    expect(spool.view().oldestQueuedAt).toBe(5000);
    expect(spool.view().perClass.log).toMatchObject({ queuedFrames: 2, queuedBytes: 2 * size, confirmed: 4 });
  });
});

describe('Spool.confirm', () => {
  it('moves queued frames and bytes to confirmed, and ignores a confirmation that is not ahead of the cursor', async () => {
    const size = recordBytesOf('y');
    const spool = await openSpool();
    for (let i = 0; i < 6; i++) spool.append('log', frameOf('log', 'y'));
    spool.confirm(4, logTally(4, size), null);
    const after = spool.view().perClass.log;
    expect(after).toMatchObject({ queuedFrames: 2, queuedBytes: 2 * size, confirmed: 4 });
    expect(spool.confirmedSeq).toBe(4);

    // A late or repeated barrier answer must neither count twice nor move the cursor back.
    spool.confirm(4, logTally(4, size), null);
    spool.confirm(2, logTally(2, size), null);
    expect(spool.view().perClass.log).toEqual(after);
    expect(spool.confirmedSeq).toBe(4);
    const reader = spool.createReader();
    expect((await reader.read(10)).map((r) => r.seq)).toEqual([5, 6]);
    await reader.close();
  });
});

describe('a caught-up reader (served from memory)', () => {
  it('gets every record once, in order and byte-exact, across arena switches and segment rotations', async () => {
    const spool = await openSpool({ segmentBytes: 200 * 1024 });
    const reader = spool.createReader();
    const got: SpoolRecord[] = [];
    const sent: string[] = [];
    // ~1 MiB in rounds the reader keeps up with: many 64 KiB arenas, about ten segments.
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 20; i++) {
        const text = `r${round}-${i}-${'z'.repeat((round * 37 + i * 11) % 900)}`;
        sent.push(text);
        spool.append('log', frameOf('log', text));
      }
      for (;;) {
        const batch = await reader.read(7);
        if (batch.length === 0) break;
        // Copies: the payload views must stay valid, but the check below is simpler on plain bytes.
        got.push(...batch.map((r) => ({ ...r, payload: Buffer.from(r.payload) })));
      }
    }
    expect(got.map((r) => r.seq)).toEqual(sent.map((_, i) => i + 1));
    expect(got.map((r) => textOf(decodeFrame(r.payload)))).toEqual(sent);
    // Caught up all along: everything came from memory, the files were never read back.
    expect(reader.stats).toMatchObject({ fileReads: 0, fileBytes: 0 });
    expect(reader.stats.memoryBytes).toBeGreaterThan(1024 * 1024);
    await reader.close();
  });

  it('one behind by less than the in-memory tail (1 MiB) is still served from memory; further behind reads the file', async () => {
    const spool = await openSpool({ segmentBytes: 100 * 1024 });
    const near = spool.createReader();
    const text = 'n'.repeat(900);
    // ~800 KiB appended before the reader reads anything: arenas switch and segments rotate mid-arena, and all of
    // it stays in memory for this reader.
    for (let i = 0; i < 850; i++) spool.append('log', frameOf('log', text));
    let seen = 0;
    for (let batch = await near.read(100); batch.length > 0; batch = await near.read(100))
      seen += batch.length;
    expect(seen).toBe(850);
    expect(near.stats.fileReads).toBe(0);
    await near.close();

    // ~3 MiB more for a reader that starts at the beginning: the oldest part comes from the file, all of it in order.
    const far = spool.createReader();
    for (let i = 0; i < 3000; i++) spool.append('log', frameOf('log', text));
    const seqs: number[] = [];
    for (let batch = await far.read(500); batch.length > 0; batch = await far.read(500))
      seqs.push(...batch.map((r) => r.seq));
    expect(seqs).toEqual(Array.from({ length: 3850 }, (_, i) => i + 1));
    expect(far.stats.fileReads).toBeGreaterThan(0);
    expect(far.stats.memoryBytes).toBeGreaterThan(0);
    await far.close();
  });

  it("reports a segment found damaged at read time as the spool's problem, and reads on past it", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const first = await Spool.open(t.dir, { fsync: 'never', segmentBytes: 4096 });
    for (let i = 0; i < 60; i++) first.append('log', frameOf('log', `d${i}`));
    await first.close();
    const problems: string[] = [];
    const spool = await Spool.open(t.dir, {
      fsync: 'never',
      segmentBytes: 4096,
      onProblem: (m) => problems.push(m),
    });
    cleanups.push(() => spool.close());
    const events: string[] = [];
    spool.on('problem', (m) => events.push(m));
    // Damaged after the open's recovery checked it (a disk going bad): only the reader can notice.
    const segDir = join(t.dir, 'spool', 'segments');
    const name = readdirSync(segDir).sort()[0] as string;
    const buf = readFileSync(join(segDir, name));
    buf[40] = (buf[40] as number) ^ 0xff;
    writeFileSync(join(segDir, name), buf);
    const reader = spool.createReader();
    const seqs: number[] = [];
    for (let batch = await reader.read(100); batch.length > 0; batch = await reader.read(100))
      seqs.push(...batch.map((r) => r.seq));
    await reader.close();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^spool segment ${name} damaged at read time`));
    expect(events).toEqual(problems);
    expect(seqs.at(-1)).toBe(60);
    expect(seqs.length).toBeLessThan(60);
  });
});
