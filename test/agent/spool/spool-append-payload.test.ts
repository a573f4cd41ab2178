import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { FrameValidationError, ProtocolError } from '../../../src-main/agent/protocol/errors';
import { logFrame } from '../../../src-main/agent/protocol/frames';
import { SpoolError } from '../../../src-main/agent/spool/errors';
import { Spool, type SpoolOptions, spoolPaths } from '../../../src-main/agent/spool/spool';
import { GROUP, SERVER, frameOf, tempDir } from './helpers';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openSpool(options: SpoolOptions = {}): Promise<{ spool: Spool; dir: string }> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const spool = await Spool.open(t.dir, { fsync: 'never', now: () => 1_700_000_000_000, ...options });
  cleanups.push(() => spool.close());
  return { spool, dir: t.dir };
}

function segmentBytes(dir: string): Buffer[] {
  const segments = spoolPaths(dir).segments;
  return readdirSync(segments)
    .sort()
    .map((name) => readFileSync(join(segments, name)));
}

/** The frame as a range inside a larger buffer, as the byte path hands it over (a scratch buffer). */
function embedded(frame: WireFrame): { source: Buffer; start: number; end: number } {
  const bytes = encodeFrame(frame);
  const source = Buffer.concat([Buffer.from('junk'), bytes, Buffer.from('more junk')]);
  return { source, start: 4, end: 4 + bytes.length };
}

describe('Spool.appendPayload (frames the core encoded itself)', () => {
  it('stores exactly what append stores for the same frame: records, rotation, tallies, drops, the recent view', async () => {
    // Small segments and a small spool: the run crosses rotations and drops the oldest logs to make room.
    const options: SpoolOptions = { segmentBytes: 64 * 1024, maxBytes: 200 * 1024 };
    const a = await openSpool(options);
    const b = await openSpool(options);
    const results: Array<[unknown, unknown]> = [];
    for (let i = 0; i < 3000; i++) {
      const frame = logFrame(GROUP, SERVER, 'syslog', `line ${i} ${'é'.repeat(i % 40)}`);
      const { source, start, end } = embedded(frame);
      results.push([a.spool.append('log', frame), b.spool.appendPayload('log', source, start, end)]);
      if (i % 500 === 0) {
        const t = frameOf('telemetry', String(i));
        const bytes = encodeFrame(t);
        results.push([
          a.spool.append('telemetry', t),
          b.spool.appendPayload('telemetry', bytes, 0, bytes.length),
        ]);
      }
    }
    for (const [viaAppend, viaPayload] of results) expect(viaPayload).toEqual(viaAppend);
    expect(results.some(([r]) => (r as { dropped: boolean }).dropped)).toBe(false);
    expect(b.spool.queuedTally).toEqual(a.spool.queuedTally);
    expect(a.spool.droppedTotals.log).toBeGreaterThan(0);
    expect(b.spool.droppedTotals).toEqual(a.spool.droppedTotals);
    expect(b.spool.view().recentQueued).toEqual(a.spool.view().recentQueued);
    await a.spool.reclaimed();
    await b.spool.reclaimed();
    await a.spool.sync();
    await b.spool.sync();
    const filesA = segmentBytes(a.dir);
    expect(filesA.length).toBeGreaterThan(2);
    expect(segmentBytes(b.dir)).toEqual(filesA);
    // And a reader gets the same payloads back.
    const readerA = a.spool.createReader();
    const readerB = b.spool.createReader();
    const batchA = await readerA.read(100);
    const batchB = await readerB.read(100);
    expect(batchB.map((r) => r.payload)).toEqual(batchA.map((r) => r.payload));
    await readerA.close();
    await readerB.close();
  });

  it('still enforces max_frame_bytes: a frame over the budget is refused and nothing is stored', async () => {
    const { spool } = await openSpool({ maxFrameBytes: 200 });
    const fits = encodeFrame(logFrame(GROUP, SERVER, 'syslog', 'x'.repeat(80)));
    expect(fits.length).toBeLessThanOrEqual(200);
    expect(spool.appendPayload('log', fits, 0, fits.length).seq).toBe(1);
    const over = encodeFrame(logFrame(GROUP, SERVER, 'syslog', 'x'.repeat(200)));
    expect(() => spool.appendPayload('log', over, 0, over.length)).toThrow(FrameValidationError);
    try {
      spool.appendPayload('log', over, 0, over.length);
    } catch (e) {
      expect((e as FrameValidationError).reason).toBe('too-large');
      expect((e as Error).message).toContain(`frame is ${over.length} bytes`);
    }
    // The string path refuses the same frame the same way.
    expect(() => spool.append('log', logFrame(GROUP, SERVER, 'syslog', 'x'.repeat(200)))).toThrow(
      FrameValidationError,
    );
    expect(spool.lastSeq).toBe(1);
    expect(spool.queuedTally.log.frames).toBe(1);
  });

  it('refuses bytes that are not a framed frame of that class, and a closed spool', async () => {
    const { spool } = await openSpool();
    const log = encodeFrame(logFrame(GROUP, SERVER, 'syslog', 'hello'));
    expect(() => spool.appendPayload('telemetry', log, 0, log.length)).toThrow(SpoolError);
    // Length prefix not matching the range.
    expect(() => spool.appendPayload('log', log, 0, log.length - 1)).toThrow(ProtocolError);
    expect(() => spool.appendPayload('log', Buffer.from([0, 1, 0x93]), 0, 3)).toThrow(ProtocolError);
    const notArray = Buffer.from([0, 3, 0x92, 0xa1, 0x4c]);
    expect(() => spool.appendPayload('log', notArray, 0, notArray.length)).toThrow(ProtocolError);
    expect(spool.lastSeq).toBe(0);
    await spool.close();
    expect(() => spool.appendPayload('log', log, 0, log.length)).toThrow(SpoolError);
  });
});
