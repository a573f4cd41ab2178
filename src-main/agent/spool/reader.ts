/**
 * Sequential reader over the spool's segments, used by the delivery pump. Skips records of classes dropped by the
 * overflow policy and never reads past what the writer has appended.
 *
 * Where the bytes come from: while the reader is caught up with the writer, the records appended since are still in
 * the spool's memory (its arenas, written to the file by the normal flush path), and the reader copies them from
 * there into a buffer of its own (one bulk copy per fill, not per record), without a file read or a CRC check: the
 * spool recycles an arena once every reader has passed it, so nobody may keep a view of one. The file is read only
 * for a backlog (after an outage, a restart, or when the pump fell behind by more than the in-memory tail), in chunks
 * of bounded size, into that same buffer. Either way a record's payload is a view, valid until the next `read`, `seek`
 * or `close` of the reader.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { type FrameClass } from '../../../src-shared/view-models';
import { type SegmentInfo } from './segment-info';
import {
  RECORD_HEADER_BYTES,
  RECORD_OVERHEAD_BYTES,
  checkRecordAt,
  recordAppendedAtAt,
  recordClassAt,
  recordProblemOf,
  recordSeqAt,
} from './segment-log';

export interface SpoolRecord {
  seq: number;
  cls: FrameClass;
  appendedAt: number;
  /**
   * The wire-encoded frame (2-byte length + msgpack): a read-only VIEW of a buffer shared with other records (the
   * reader's own buffer, which it reuses for file reads and copies from memory alike). Valid until the next `read`, `seek` or `close` of the reader
   * that returned it: whoever keeps it longer copies it (the connection copies what it writes, the recent-sent ring
   * copies too). It must not be mutated: copy it first (a re-send that patches the identifier does).
   */
  payload: Buffer;
}

export interface SpoolReaderHost {
  segments(): readonly SegmentInfo[];
  isActive(seg: SegmentInfo): boolean;
  /**
   * `seg`'s bytes from `fileOffset` to what was appended so far, as a view of the spool's memory: empty at the end,
   * null when that part is not in memory (then the file is read). Valid only until the next append: copy it at once.
   */
  memoryTail(seg: SegmentInfo, fileOffset: number): Buffer | null;
  /** Writes staged records to the file (before reading the active segment from the file). */
  flush(): void;
  problem(message: string): void;
}

/** Where the reader's bytes came from, for tests and the bench. */
export interface SpoolReaderStats {
  /** File reads (into the reader's own buffer, like copies from memory) and the bytes they returned. */
  fileReads: number;
  fileBytes: number;
  /** Bytes taken from the spool's memory instead. */
  memoryBytes: number;
  /** Buffers allocated for copies from the spool's memory (the reader reuses one while it can). */
  copyBuffersAllocated: number;
}

const CHUNK_BYTES = 256 * 1024;
/**
 * Size of the reader's own buffer for copies from the spool's memory and file reads. A fill copies (or reads) what
 * fits after the records the current read handed out, so a new buffer is needed only when one read takes more than
 * this (or a record does not fit).
 */
const COPY_BUFFER_BYTES = 128 * 1024;
/** A fill that could copy less than this (of what is there) takes a new buffer instead of creeping on in small steps. */
const MIN_COPY_BYTES = 16 * 1024;
/** Smallest file read of a closed segment: its recorded size can be below what an old file handle still sees. */
const MIN_CLOSED_READ_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class SpoolReader {
  private seg: SegmentInfo | null = null;
  private handle: FileHandle | null = null;
  /** The segment file is opened on the first read that needs it (a caught-up reader never does). */
  private handleOpened = false;
  /** File offset of the next byte not yet in `chunk`. */
  private fileOffset = 0;
  /** Bytes being parsed: a file chunk or a memory view, `chunk[chunkStart … chunkEnd)` not parsed yet. */
  private chunk: Buffer = EMPTY;
  private chunkStart = 0;
  private chunkEnd = 0;
  /** The chunk came from the spool's memory: its records were never on disk, a CRC check could only agree. */
  private chunkInMemory = false;
  /** The reader's own buffer that fills copy (from the spool's memory) or read (from the file) into. */
  private copyBuffer: Buffer = EMPTY;
  /**
   * The part of `copyBuffer` holding records handed out by the current `read` call, which a later fill of the same
   * call must not overwrite: from `copyBufferHandedFrom` (-1: none yet) to `copyBufferHandedOut`, or, once a fill
   * wrapped around to the buffer's start, from `copyBufferHandedFrom` to the end plus 0 … `copyBufferHandedOut`.
   * A new call starts over: its predecessor's payloads have expired.
   */
  private copyBufferHandedFrom = -1;
  private copyBufferHandedOut = 0;
  private copyBufferWrapped = false;
  private wantSeq: number;
  private highest: number;
  private busy = false;
  /**
   * Segments found damaged at read time, skipped until the next seek: the active one would otherwise be found again
   * (it can still grow) and its damage re-read and re-reported in an endless loop.
   */
  private damaged = new WeakSet<SegmentInfo>();
  private readonly counters: SpoolReaderStats = {
    fileReads: 0,
    fileBytes: 0,
    memoryBytes: 0,
    copyBuffersAllocated: 0,
  };

  constructor(
    private readonly host: SpoolReaderHost,
    fromSeq: number,
    private readonly onClose: () => void,
  ) {
    this.wantSeq = fromSeq;
    this.highest = fromSeq - 1;
  }

  get stats(): SpoolReaderStats {
    return { ...this.counters };
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
    this.damaged = new WeakSet();
    await this.releaseSegment();
  }

  /**
   * Up to `max` records in order, starting at the current position; an empty array means the reader has caught up
   * with everything appended so far. Not re-entrant (one pump owns a reader). The records' payloads are valid until
   * the next `read`, `seek` or `close`.
   */
  async read(max: number): Promise<SpoolRecord[]> {
    if (this.busy) throw new Error('SpoolReader.read is not re-entrant');
    this.busy = true;
    // The payloads handed out by the previous call are expired: the whole copy buffer may be reused.
    this.copyBufferHandedFrom = -1;
    this.copyBufferHandedOut = 0;
    this.copyBufferWrapped = false;
    try {
      return await this.readInner(max);
    } finally {
      this.busy = false;
    }
  }

  private async readInner(max: number): Promise<SpoolRecord[]> {
    const out: SpoolRecord[] = [];
    while (out.length < max) {
      if (!this.seg) {
        const next = this.findSegment();
        if (!next) break;
        this.openSegment(next);
      }
      const seg = this.seg as SegmentInfo;
      const chunk = this.chunk;
      const at = this.chunkStart;
      const size = checkRecordAt(chunk, at, this.chunkEnd, 0, !this.chunkInMemory);
      if (size > 0) {
        this.chunkStart += size;
        const seq = recordSeqAt(chunk, at);
        const cls = recordClassAt(chunk, at);
        if (seq < this.wantSeq || seg.dropped.has(cls)) continue;
        const payloadAt = at + RECORD_HEADER_BYTES;
        out.push({
          seq,
          cls,
          appendedAt: recordAppendedAtAt(chunk, at),
          payload: chunk.subarray(payloadAt, payloadAt + size - RECORD_OVERHEAD_BYTES),
        });
        this.wantSeq = seq + 1;
        this.highest = seq;
        if (chunk === this.copyBuffer) {
          if (this.copyBufferHandedFrom < 0) this.copyBufferHandedFrom = at;
          this.copyBufferHandedOut = this.chunkStart;
        }
        continue;
      }
      const reason = recordProblemOf(size);
      if (reason !== 'truncated') {
        // Damage that appeared after the start-up scan (bit rot): skip the rest of this segment, report it.
        this.host.problem(`spool segment ${seg.name} damaged at read time (${reason}); skipping its rest`);
        this.damaged.add(seg);
        await this.advanceSegment(seg);
        continue;
      }
      const got = await this.fill(seg);
      if (got > 0) continue;
      // Released (a seek) while the file was opened or read: start over at the new position.
      if (this.seg !== seg) continue;
      if (this.host.isActive(seg)) break; // caught up with the writer
      // End of a closed segment: any remainder in the chunk is a torn record the recovery would have cut.
      await this.advanceSegment(seg);
    }
    return out;
  }

  /** The segment holding `wantSeq`, or the first one after it. */
  private findSegment(): SegmentInfo | null {
    const segments = this.host.segments();
    let candidate: SegmentInfo | null = null;
    for (const s of segments) {
      if (s.deleted || this.damaged.has(s)) continue;
      if (s.firstSeq <= this.wantSeq) candidate = s;
      else return candidate && candidate.lastSeq >= this.wantSeq ? candidate : s;
    }
    // Past every closed segment: only the active one can still grow.
    if (candidate && (candidate.lastSeq >= this.wantSeq || this.host.isActive(candidate))) return candidate;
    return null;
  }

  private openSegment(seg: SegmentInfo): void {
    this.seg = seg;
    this.fileOffset = 0;
    this.handle = null;
    this.handleOpened = false;
    this.setChunk(EMPTY, 0, false);
  }

  private setChunk(chunk: Buffer, end: number, inMemory: boolean): void {
    this.chunk = chunk;
    this.chunkStart = 0;
    this.chunkEnd = end;
    this.chunkInMemory = inMemory;
  }

  /**
   * Brings more bytes of the current segment into the chunk, from the spool's memory if it still holds them, else
   * from the file; 0 at the segment's (current) end.
   */
  private async fill(seg: SegmentInfo): Promise<number> {
    const leftover = this.chunkEnd - this.chunkStart;
    const memory = this.host.memoryTail(seg, this.fileOffset);
    if (memory !== null) {
      if (memory.length === 0) return 0;
      // Copied now, in one piece (or what fits; a cut record is completed by the next fill): the spool recycles an
      // arena once every reader has passed it.
      const { at, end } = this.copyRoom(leftover, memory.length);
      const copy = this.copyBuffer;
      const taken = Math.min(memory.length, end - at - leftover);
      // The leftover (the unparsed start of a record) may be in `copy` itself, after `at`: copy() handles overlaps.
      this.chunk.copy(copy, at, this.chunkStart, this.chunkEnd);
      memory.copy(copy, at + leftover, 0, taken);
      this.fileOffset += taken;
      this.counters.memoryBytes += taken;
      // A leftover from a file chunk (it ended inside a record whose rest is in memory) gets its CRC checked.
      const inMemory = leftover === 0 || this.chunkInMemory;
      this.chunk = copy;
      this.chunkStart = at;
      this.chunkEnd = at + leftover + taken;
      this.chunkInMemory = inMemory;
      return taken;
    }
    const active = this.host.isActive(seg);
    if (active) this.host.flush(); // the tail is not in memory any more: it must be in the file to be read
    let room = CHUNK_BYTES;
    if (active) room = Math.min(room, seg.fileBytes - this.fileOffset);
    else room = Math.min(room, Math.max(MIN_CLOSED_READ_BYTES, seg.fileBytes - this.fileOffset));
    if (room <= 0) return 0;
    const handle = await this.openedHandle(seg);
    if (!handle) return 0;
    // Into the same buffer as copies from memory, under the same rule (never over records this read handed out):
    // a backlog read chunk by chunk reuses one buffer instead of leaving a fresh one per read to the GC.
    const { at, end } = this.copyRoom(leftover, room);
    const buffer = this.copyBuffer;
    // The leftover moves first, and the chunk with it: it may overlap its old place.
    this.chunk.copy(buffer, at, this.chunkStart, this.chunkEnd);
    this.setChunk(buffer, at + leftover, false);
    this.chunkStart = at;
    const { bytesRead } = await handle.read(
      buffer,
      at + leftover,
      Math.min(room, end - at - leftover),
      this.fileOffset,
    );
    this.counters.fileReads++;
    // Released (a seek) while the read ran: what it brought belongs to no current position.
    if (bytesRead === 0 || this.seg !== seg || this.chunk !== buffer) return bytesRead;
    this.counters.fileBytes += bytesRead;
    this.fileOffset += bytesRead;
    this.chunkEnd += bytesRead;
    return bytesRead;
  }

  /**
   * Where in `copyBuffer` a fill copies `leftover` bytes (the start of a cut record) and then up to `available` bytes
   * (of memory, or read from the file), and where the free part it may use ends: after what this read call handed out, or
   * (once per call) at the buffer's start, up to where those records begin. A new buffer when too little fits either
   * way (the records already handed out keep the old one alive until their consumer lets go).
   */
  private copyRoom(leftover: number, available: number): { at: number; end: number } {
    const need = leftover + Math.min(available, MIN_COPY_BYTES);
    const from = this.copyBufferHandedFrom;
    const end = this.copyBufferWrapped ? from : this.copyBuffer.length;
    if (this.copyBufferHandedOut + need <= end) return { at: this.copyBufferHandedOut, end };
    if (!this.copyBufferWrapped && need <= from) {
      // The leftover lies after the records handed out, so copying it to the start overwrites none of them.
      this.copyBufferWrapped = true;
      this.copyBufferHandedOut = 0;
      return { at: 0, end: from };
    }
    this.copyBuffer = Buffer.allocUnsafe(Math.max(COPY_BUFFER_BYTES, leftover + available));
    this.counters.copyBuffersAllocated++;
    this.copyBufferHandedFrom = -1;
    this.copyBufferHandedOut = 0;
    this.copyBufferWrapped = false;
    return { at: 0, end: this.copyBuffer.length };
  }

  private async openedHandle(seg: SegmentInfo): Promise<FileHandle | null> {
    if (this.handleOpened) return this.handle;
    this.handleOpened = true;
    try {
      this.handle = await open(seg.path, 'r');
    } catch (e) {
      // Deleted meanwhile (confirmed) or compacted away: move on.
      this.handle = null;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.host.problem(`cannot open ${seg.path}: ${String(e)}`);
    }
    // Released (seek, close) while the open ran: this segment is not current any more.
    if (this.seg !== seg) {
      const h = this.handle;
      this.handle = null;
      if (h) await h.close();
      return null;
    }
    return this.handle;
  }

  private async advanceSegment(seg: SegmentInfo): Promise<void> {
    // Re-positioned before the close is awaited, so a seek made meanwhile is not overridden.
    const h = this.detachSegment();
    // Continue after this segment even if it is gone from the list now.
    const next = this.host
      .segments()
      .find((s) => !s.deleted && !this.damaged.has(s) && s.firstSeq > seg.firstSeq);
    if (next) this.openSegment(next);
    else this.wantSeq = Math.max(this.wantSeq, seg.lastSeq + 1);
    if (h) await h.close();
  }

  private async releaseSegment(): Promise<void> {
    const h = this.detachSegment();
    if (h) await h.close();
  }

  /** Forgets the current segment; returns its file handle, for the caller to close. */
  private detachSegment(): FileHandle | null {
    const h = this.handle;
    this.handle = null;
    this.seg = null;
    this.handleOpened = false;
    this.setChunk(EMPTY, 0, false);
    return h;
  }

  async close(): Promise<void> {
    await this.releaseSegment();
    this.onClose();
  }
}
