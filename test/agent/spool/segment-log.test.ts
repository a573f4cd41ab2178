import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FrameClass } from '../../../src-shared/view-models';
import { crc32 } from 'node:zlib';
import {
  MAX_RECORD_PAYLOAD_BYTES,
  RECORD_MAGIC,
  RECORD_OVERHEAD_BYTES,
  type RecordMeta,
  addToTally,
  checkRecordAt,
  classCode,
  classOfCode,
  emptyTally,
  encodeRecord,
  recordProblemOf,
  tallyTotal,
  parseRecordAt,
  parseSegmentFileName,
  recordPayload,
  scanSegment,
  scanSegmentSliced,
  segmentFileName,
} from '../../../src-main/agent/spool/segment-log';

function payload(i: number, len = 20): Buffer {
  return Buffer.alloc(len, i % 251);
}

function segmentOf(n: number, classes: FrameClass[] = ['log', 'telemetry', 'result']): Buffer {
  const parts: Buffer[] = [];
  for (let i = 1; i <= n; i++)
    parts.push(
      encodeRecord(i, classes[i % classes.length] as FrameClass, 1000 + i, payload(i, 10 + (i % 50))),
    );
  return Buffer.concat(parts);
}

describe('segment record format', () => {
  it('round-trips sequence, class, time and payload', () => {
    const rec = encodeRecord(2 ** 40 + 7, 'telemetry', 1_764_000_000_123, Buffer.from('hello'));
    expect(rec.length).toBe(RECORD_OVERHEAD_BYTES + 5);
    const parsed = parseRecordAt(rec, 0, rec.length, 0);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.record).toMatchObject({
      seq: 2 ** 40 + 7,
      cls: 'telemetry',
      appendedAt: 1_764_000_000_123,
      payloadBytes: 5,
    });
    expect(Buffer.from(recordPayload(rec, parsed.record)).toString()).toBe('hello');
  });

  it('names segments by their first sequence and ignores other files', () => {
    expect(segmentFileName(42)).toBe('0000000000000042.seg');
    expect(parseSegmentFileName('0000000000000042.seg')).toBe(42);
    expect(parseSegmentFileName('0000000000000042.seg.compact')).toBeNull();
    expect(parseSegmentFileName('cursor.json')).toBeNull();
  });

  it('detects each kind of damage', () => {
    const rec = encodeRecord(5, 'log', 1, Buffer.from('abc'));
    expect(parseRecordAt(rec.subarray(0, rec.length - 1), 0, rec.length - 1, 0)).toEqual({
      ok: false,
      reason: 'truncated',
    });
    const flipped = Buffer.from(rec);
    flipped[26] = (flipped[26] as number) ^ 1;
    expect(parseRecordAt(flipped, 0, flipped.length, 0)).toEqual({ ok: false, reason: 'crc-mismatch' });
    const badTrailer = Buffer.from(rec);
    badTrailer.writeUInt32BE(4, badTrailer.length - 4);
    expect(parseRecordAt(badTrailer, 0, badTrailer.length, 0)).toEqual({
      ok: false,
      reason: 'trailer-mismatch',
    });
    const badMagic = Buffer.from(rec);
    badMagic[0] = 0;
    expect(parseRecordAt(badMagic, 0, badMagic.length, 0)).toEqual({ ok: false, reason: 'bad-magic' });
    expect(parseRecordAt(rec, 0, rec.length, 5)).toEqual({ ok: false, reason: 'seq-not-increasing' });
  });

  it('scans a clean segment completely', () => {
    const seg = segmentOf(100);
    const scan = scanSegment(seg);
    expect(scan.records.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(scan.corrupt).toEqual([]);
    expect(scan.validPrefixEnd).toBe(seg.length);
  });

  it('recognises a torn tail and resynchronises after a damaged middle record', () => {
    const seg = segmentOf(10);
    const torn = seg.subarray(0, seg.length - 3);
    const t = scanSegment(torn);
    expect(t.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(t.validAfterCorruption).toBe(false);

    const mid = Buffer.from(seg);
    const r5 = scanSegment(seg).records[4];
    if (!r5) throw new Error('no record 5');
    mid[r5.offset + 30] = (mid[r5.offset + 30] as number) ^ 0xff;
    const m = scanSegment(mid);
    expect(m.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10]);
    expect(m.validAfterCorruption).toBe(true);
    expect(m.validPrefixEnd).toBe(r5.offset);
    expect(m.corrupt[0]).toMatchObject({ offset: r5.offset, length: r5.size, reason: 'crc-mismatch' });
  });

  it('never returns a wrong record whatever bytes are truncated or flipped (property)', () => {
    const seg = segmentOf(60);
    const clean = scanSegment(seg).records;
    const bySeq = new Map(clean.map((r) => [r.seq, r]));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seg.length }),
        fc.array(fc.record({ at: fc.nat(seg.length - 1), bit: fc.integer({ min: 0, max: 7 }) }), {
          maxLength: 4,
        }),
        (cut, flips) => {
          const damaged = Buffer.from(seg.subarray(0, cut));
          for (const f of flips)
            if (f.at < damaged.length) damaged[f.at] = (damaged[f.at] as number) ^ (1 << f.bit);
          const scan = scanSegment(damaged);
          let last = 0;
          for (const r of scan.records) {
            expect(r.seq).toBeGreaterThan(last);
            last = r.seq;
            const orig = bySeq.get(r.seq);
            expect(orig).toBeDefined();
            expect(r.offset).toBe(orig?.offset);
            expect(
              Buffer.compare(
                Buffer.from(recordPayload(damaged, r)),
                Buffer.from(recordPayload(seg, orig as never)),
              ),
            ).toBe(0);
          }
          // Every record entirely before the first damaged byte survives.
          const firstDamage = Math.min(cut, ...flips.map((f) => f.at));
          const intact = clean.filter((r) => r.offset + r.size <= firstDamage).length;
          expect(scan.records.length).toBeGreaterThanOrEqual(intact);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('scans in slices (sliced = whole-buffer scan, damage included), yielding to the event loop between them', async () => {
    const seg = segmentOf(3000); // ~100 KiB
    const mid = Buffer.from(seg);
    const r7 = scanSegment(seg).records[700];
    if (!r7) throw new Error('no record 701');
    mid[r7.offset + 30] = (mid[r7.offset + 30] as number) ^ 0xff;
    for (const buf of [seg, mid, mid.subarray(0, mid.length - 5)]) {
      const whole = scanSegment(buf, 0);
      const visited: Array<[number, number, number, FrameClass, number]> = [];
      let ticks = 0;
      let ticking = true;
      const tick = (): void => {
        ticks++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const sliced = await scanSegmentSliced(buf, 0, (...args) => visited.push(args), 16 * 1024);
      ticking = false;
      expect(visited).toEqual(whole.records.map((r) => [r.offset, r.size, r.seq, r.cls, r.appendedAt]));
      expect(sliced).toEqual({
        records: whole.records.length,
        lastSeq: whole.records[whole.records.length - 1]?.seq,
        validPrefixEnd: whole.validPrefixEnd,
        corrupt: whole.corrupt,
        validAfterCorruption: whole.validAfterCorruption,
      });
      // ~100 KiB in 16 KiB slices: other callbacks ran between them.
      expect(ticks).toBeGreaterThanOrEqual(5);
    }
  });
});

/** A record with header fields changed after encoding and its CRC recomputed: valid but for those fields. */
function reforged(rec: Buffer, change: (r: Buffer) => void): Buffer {
  const out = Buffer.from(rec);
  change(out);
  const n = out.readUInt32BE(4);
  if (RECORD_OVERHEAD_BYTES + n === out.length) out.writeUInt32BE(crc32(out.subarray(0, 24 + n)), 24 + n);
  return out;
}

/** How many event-loop turns other work got while `run` ran. */
async function turnsDuring(run: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  let spinning = true;
  const spin = (): void => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  await run();
  spinning = false;
  return turns;
}

describe('segment record checks', () => {
  it('maps classes to codes and back, and anything else to no class', () => {
    for (const cls of ['log', 'telemetry', 'result'] as const) expect(classOfCode(classCode(cls))).toBe(cls);
    expect(new Set(['log', 'telemetry', 'result'].map((c) => classCode(c as FrameClass))).size).toBe(3);
    expect(classOfCode(0)).toBeUndefined();
    expect(classOfCode(200)).toBeUndefined();
    expect(recordProblemOf(-99)).toBe('bad-magic');
  });

  it('takes only the exact segment file name', () => {
    expect(parseSegmentFileName('x0000000000000042.seg')).toBeNull();
    expect(parseSegmentFileName('00000000000000042.seg')).toBeNull();
    expect(parseSegmentFileName('000000000000042.seg')).toBeNull();
  });

  it('calls a CRC-valid record with an unknown class or non-zero reserved bytes bad-class', () => {
    const rec = encodeRecord(5, 'log', 1, Buffer.from('abc'));
    expect(parseRecordAt(rec, 0, rec.length, 0).ok).toBe(true);
    const variants = [
      reforged(rec, (r) => (r[1] = 77)),
      reforged(rec, (r) => (r[2] = 1)),
      reforged(rec, (r) => (r[3] = 1)),
    ];
    for (const v of variants) {
      expect(parseRecordAt(v, 0, v.length, 0)).toEqual({ ok: false, reason: 'bad-class' });
      expect(recordProblemOf(checkRecordAt(v, 0, v.length, 0))).toBe('bad-class');
    }
  });

  it('calls a length of 0 or above the maximum bad-length (damage, not a torn tail); the maximum itself is fine', () => {
    const empty = encodeRecord(5, 'log', 1, Buffer.alloc(0));
    expect(parseRecordAt(empty, 0, empty.length, 0)).toEqual({ ok: false, reason: 'bad-length' });
    const rec = encodeRecord(5, 'log', 1, Buffer.from('abc'));
    const tooLong = reforged(rec, (r) => r.writeUInt32BE(MAX_RECORD_PAYLOAD_BYTES + 1, 4));
    expect(parseRecordAt(tooLong, 0, tooLong.length, 0)).toEqual({ ok: false, reason: 'bad-length' });
    const largest = encodeRecord(5, 'log', 1, Buffer.alloc(MAX_RECORD_PAYLOAD_BYTES, 1));
    expect(parseRecordAt(largest, 0, largest.length, 0)).toMatchObject({
      ok: true,
      record: { payloadBytes: MAX_RECORD_PAYLOAD_BYTES },
    });
  });

  it('gives a payload from a buffer that starts at a known file offset', () => {
    const seg = segmentOf(5);
    const r3 = scanSegment(seg).records[2] as RecordMeta;
    const fromFile = seg.subarray(r3.offset - 10);
    expect(Buffer.from(recordPayload(fromFile, r3, r3.offset - 10))).toEqual(payload(3, 13));
  });

  it('totals a per-class tally', () => {
    const tally = emptyTally();
    addToTally(tally, 'log', 100, 2);
    addToTally(tally, 'telemetry', 30);
    addToTally(tally, 'result', 5, 4);
    expect(tallyTotal(tally)).toEqual({ frames: 7, bytes: 135 });
    expect(tallyTotal(emptyTally())).toEqual({ frames: 0, bytes: 0 });
  });
});

describe('segment scan damage ranges', () => {
  /** Record 1 damaged (offset 0) and record `later` damaged; records with 0xa7 bytes in their payloads. */
  function twiceDamaged(later: number): { buf: Buffer; recs: RecordMeta[] } {
    const parts: Buffer[] = [];
    for (let i = 1; i <= 12; i++)
      parts.push(encodeRecord(i, 'log', 1000 + i, Buffer.alloc(60, RECORD_MAGIC)));
    const buf = Buffer.concat(parts);
    const recs = scanSegment(buf).records;
    for (const r of [recs[0], recs[later - 1]] as RecordMeta[]) buf[r.offset + 30] = 0x00;
    return { buf, recs };
  }

  it('reports each damaged record as one range, even with magic bytes inside it; the valid prefix ends at 0', async () => {
    const { buf, recs } = twiceDamaged(6);
    const expected = {
      validPrefixEnd: 0,
      corrupt: [
        { offset: 0, length: recs[0]?.size, reason: 'crc-mismatch' },
        { offset: recs[5]?.offset, length: recs[5]?.size, reason: 'crc-mismatch' },
      ],
      validAfterCorruption: true,
    };
    const whole = scanSegment(buf);
    expect(whole).toMatchObject(expected);
    expect(whole.records.map((r) => r.seq)).toEqual([2, 3, 4, 5, 7, 8, 9, 10, 11, 12]);
    const sliced = await scanSegmentSliced(buf, 0, () => undefined, 200);
    expect(sliced).toMatchObject({ ...expected, records: 10, lastSeq: 12 });
  });

  it('yields about once per slice, also while searching through a long damaged stretch', async () => {
    const garbage = Buffer.alloc(64 * 1024, 0x55);
    const tail = encodeRecord(1, 'log', 1, Buffer.from('after the damage'));
    const buf = Buffer.concat([garbage, tail]);
    let result: Awaited<ReturnType<typeof scanSegmentSliced>> | undefined;
    const turns = await turnsDuring(async () => {
      result = await scanSegmentSliced(buf, 0, () => undefined, 4096);
    });
    expect(result).toMatchObject({
      records: 1,
      validPrefixEnd: 0,
      corrupt: [{ offset: 0, length: 64 * 1024 }],
    });
    // 16 slices of damage: ~16 turns for other work, not 0 and not one per byte.
    expect(turns).toBeGreaterThanOrEqual(14);
    expect(turns).toBeLessThanOrEqual(20);

    const clean = segmentOf(3000); // ~200 KiB of valid records
    const slices = Math.ceil(clean.length / (16 * 1024));
    const cleanTurns = await turnsDuring(() => scanSegmentSliced(clean, 0, () => undefined, 16 * 1024));
    expect(cleanTurns).toBeGreaterThanOrEqual(slices - 2);
    expect(cleanTurns).toBeLessThanOrEqual(slices + 3);
  });
});
