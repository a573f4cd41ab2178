import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FrameClass } from '../../../src-shared/view-models';
import {
  RECORD_OVERHEAD_BYTES,
  encodeRecord,
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
