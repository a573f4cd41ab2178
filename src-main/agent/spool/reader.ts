/**
 * Sequential reader over the spool's segments, used by the delivery pump. Reads fixed-size chunks (bounded memory
 * whatever the backlog), skips records of classes dropped by the overflow policy, and never reads past what the
 * writer has put in the file (a record in the staging buffer is not readable yet).
 */
import { type FileHandle, open } from 'node:fs/promises';
import { type FrameClass } from '../../../src-shared/view-models';
import { type SegmentInfo } from './segment-info';
import { parseRecordAt } from './segment-log';

export interface SpoolRecord {
  seq: number;
  cls: FrameClass;
  appendedAt: number;
  /** The wire-encoded frame (2-byte length + msgpack), a private copy. */
  payload: Buffer;
}

export interface SpoolReaderHost {
  segments(): readonly SegmentInfo[];
  isActive(seg: SegmentInfo): boolean;
  flush(): void;
  problem(message: string): void;
}

const CHUNK_BYTES = 256 * 1024;
/** Room for the largest record (65 537-byte payload + 32) plus a full chunk. */
const BUFFER_BYTES = CHUNK_BYTES + 70 * 1024;

export class SpoolReader {
  private seg: SegmentInfo | null = null;
  private handle: FileHandle | null = null;
  /** File offset of the next byte to read into the buffer. */
  private fileOffset = 0;
  private readonly buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private bufStart = 0;
  private bufEnd = 0;
  private wantSeq: number;
  private highest: number;
  private busy = false;

  constructor(
    private readonly host: SpoolReaderHost,
    fromSeq: number,
    private readonly onClose: () => void,
  ) {
    this.wantSeq = fromSeq;
    this.highest = fromSeq - 1;
  }

  /** Highest sequence handed out since the last seek (the spool never drops a segment at or below it). */
  get highestYielded(): number {
    return this.highest;
  }

  /**
   * Frames handed out so far are no longer on the wire (the connection died): let the overflow policy drop them
   * again. The reader skips records dropped meanwhile.
   */
  releaseProtection(upToSeq: number): void {
    this.highest = Math.min(this.highest, upToSeq);
  }

  /** Next sequence this reader will return (or the first one after it that exists). */
  get position(): number {
    return this.wantSeq;
  }

  /** Re-positions at `seq` (e.g. the first unconfirmed record after a reconnect). */
  async seek(seq: number): Promise<void> {
    this.wantSeq = seq;
    this.highest = seq - 1;
    await this.releaseSegment();
  }

  /**
   * Up to `max` records in order, starting at the current position; an empty array means the reader has caught up
   * with everything written so far. Not re-entrant (one pump owns a reader).
   */
  async read(max: number): Promise<SpoolRecord[]> {
    if (this.busy) throw new Error('SpoolReader.read is not re-entrant');
    this.busy = true;
    try {
      return await this.readInner(max);
    } finally {
      this.busy = false;
    }
  }

  private async readInner(max: number): Promise<SpoolRecord[]> {
    const out: SpoolRecord[] = [];
    this.host.flush();
    while (out.length < max) {
      if (!this.seg) {
        const next = this.findSegment();
        if (!next) break;
        await this.openSegment(next);
      }
      const seg = this.seg as SegmentInfo;
      const parsed = parseRecordAt(this.buf, this.bufStart, this.bufEnd, 0);
      if (parsed.ok) {
        const r = parsed.record;
        this.bufStart += r.size;
        if (r.seq < this.wantSeq || seg.dropped.has(r.cls)) continue;
        const start = r.offset + 24;
        const payload = Buffer.allocUnsafe(r.payloadBytes);
        this.buf.copy(payload, 0, start, start + r.payloadBytes);
        out.push({ seq: r.seq, cls: r.cls, appendedAt: r.appendedAt, payload });
        this.wantSeq = r.seq + 1;
        this.highest = r.seq;
        continue;
      }
      if (parsed.reason !== 'truncated') {
        // Damage that appeared after the start-up scan (bit rot): skip the rest of this segment, report it.
        this.host.problem(
          `spool segment ${seg.name} damaged at read time (${parsed.reason}); skipping its rest`,
        );
        await this.advanceSegment(seg);
        continue;
      }
      const got = await this.fill(seg);
      if (got > 0) continue;
      if (this.host.isActive(seg)) break; // caught up with the writer
      // End of a closed segment: any remainder in the buffer is a torn record the recovery would have cut.
      await this.advanceSegment(seg);
    }
    return out;
  }

  /** The segment holding `wantSeq`, or the first one after it. */
  private findSegment(): SegmentInfo | null {
    const segments = this.host.segments();
    let candidate: SegmentInfo | null = null;
    for (const s of segments) {
      if (s.deleted) continue;
      if (s.firstSeq <= this.wantSeq) candidate = s;
      else return candidate && candidate.lastSeq >= this.wantSeq ? candidate : s;
    }
    // Past every closed segment: only the active one can still grow.
    if (candidate && (candidate.lastSeq >= this.wantSeq || this.host.isActive(candidate))) return candidate;
    return null;
  }

  private async openSegment(seg: SegmentInfo): Promise<void> {
    this.seg = seg;
    this.fileOffset = 0;
    this.bufStart = 0;
    this.bufEnd = 0;
    try {
      this.handle = await open(seg.path, 'r');
    } catch (e) {
      // Deleted meanwhile (confirmed) or compacted away: move on.
      this.handle = null;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.host.problem(`cannot open ${seg.path}: ${String(e)}`);
    }
  }

  /** Reads more bytes of the current segment into the buffer; 0 at its (current) end. */
  private async fill(seg: SegmentInfo): Promise<number> {
    if (!this.handle) return 0;
    if (this.bufStart > 0) {
      this.buf.copy(this.buf, 0, this.bufStart, this.bufEnd);
      this.bufEnd -= this.bufStart;
      this.bufStart = 0;
    }
    let room = this.buf.length - this.bufEnd;
    if (this.host.isActive(seg)) room = Math.min(room, seg.fileBytes - this.fileOffset);
    if (room <= 0) return 0;
    const { bytesRead } = await this.handle.read(this.buf, this.bufEnd, room, this.fileOffset);
    this.fileOffset += bytesRead;
    this.bufEnd += bytesRead;
    return bytesRead;
  }

  private async advanceSegment(seg: SegmentInfo): Promise<void> {
    await this.releaseSegment();
    // Continue after this segment even if it is gone from the list now.
    const next = this.host.segments().find((s) => !s.deleted && s.firstSeq > seg.firstSeq);
    if (next) await this.openSegment(next);
    else this.wantSeq = Math.max(this.wantSeq, seg.lastSeq + 1);
  }

  private async releaseSegment(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    this.seg = null;
    this.bufStart = 0;
    this.bufEnd = 0;
    if (h) await h.close();
  }

  async close(): Promise<void> {
    await this.releaseSegment();
    this.onClose();
  }
}
