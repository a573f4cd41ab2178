/**
 * The durable outbox (docs/spool.md). Every frame the agent originates is appended here before it counts as
 * accepted; the delivery pump reads it back in order and advances the cursor only after a heartbeat barrier proved
 * the server received it.
 *
 * Memory stays flat whatever the backlog: appends go through a 64 KiB staging arena that is written to the segment
 * file at the end of the tick (or when full), full arenas are recycled once every reader has passed them, and the
 * spool keeps only per-segment summaries, never per-record state. Producers never wait: `append` is synchronous and
 * cheap, fsync runs on the libuv thread pool.
 */
import { EventEmitter } from 'node:events';
import { closeSync, fdatasync, unlinkSync, openSync, promises as fsp, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  FRAME_CLASSES,
  type FrameClass,
  type FrameView,
  type SpoolView,
  type WireFrame,
} from '../../../src-shared/view-models';
import { decodeFrame, encodeFrameTransient, FRAME_HEADER_BYTES } from '../protocol/codec';
import { FrameValidationError, ProtocolError } from '../protocol/errors';
import { frameClassOf } from '../protocol/frames';
import { validateOutgoingFrame } from '../protocol/validate';
import { CursorWriter, type CursorState, fsyncDir, readCursor } from './cursor';
import { SpoolError } from './errors';
import { BufferPool } from '../buffer-pool';
import { SpoolReader, type SpoolReaderHost } from './reader';
import { type SegmentInfo } from './segment-info';
import {
  RECORD_HEADER_BYTES,
  type PerClassTally,
  addToTally,
  emptyTally,
  parseSegmentFileName,
  recordSize,
  scanSegmentSliced,
  segmentFileName,
  tallyTotal,
  writeRecordFrom,
} from './segment-log';

/** `spool.fsync`: fsync after every append, group commit every N ms (one fsync per window), or never. */
export type FsyncPolicy = 'always' | 'never' | { groupCommitMs: number } | number;

export interface SpoolOptions {
  fsync?: FsyncPolicy;
  /** `spool.max_bytes`, default 1 GiB. */
  maxBytes?: number;
  /** Size at which a segment is closed and a new one started; default min(8 MiB, maxBytes / 16), ≥ 64 KiB. */
  segmentBytes?: number;
  /** Validate every appended frame against this budget (config `max_frame_bytes`); default 8192. */
  maxFrameBytes?: number;
  /** How many recent appended frames the status shows in the "queued vs sent" view. Default 50. */
  recentFrames?: number;
  now?: () => number;
  /** Human-readable problems (quarantine, write errors, …) for the agent log. */
  onProblem?: (message: string) => void;
}

export interface QuarantineEntry {
  segment: string;
  /** Path of the original (damaged) file, kept for inspection. */
  movedTo: string;
  salvagedRecords: number;
  damagedBytes: number;
  reason: string;
}

export interface RecoveryReport {
  segmentsScanned: number;
  recordsFound: number;
  tornTail: { segment: string; truncatedBytes: number } | null;
  quarantined: QuarantineEntry[];
  cursor: 'ok' | 'missing' | 'damaged';
  cursorDetail: string | null;
  /** Leftover temp files and empty or fully confirmed segments removed during recovery. */
  removedFiles: string[];
  durationMs: number;
}

export type AppendResult = { seq: number; dropped: false } | { seq: null; dropped: true };

/** Part of the status only the delivery pump knows. */
export interface DeliveryViewPart {
  awaiting: Record<FrameClass, number>;
  replay: { active: boolean; total: number; done: number };
  recentSent: FrameView[];
}

export type { SegmentInfo } from './segment-info';

const DEFAULT_MAX_BYTES = 1024 ** 3;
/** Spooled frames can hold anything a log line holds: readable by the agent's user only. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Pid of the process that has the spool open (advisory, for the offline tools). */
export const OWNER_FILE = 'owner.pid';
/**
 * Appended records go into an arena of this size (a larger record gets an arena of its own size): written to the
 * file at the end of the tick, then kept unchanged while it is in the in-memory tail, so a caught-up reader copies
 * them from memory. A full arena is flushed and replaced by a spare one (or a new one). Nobody outside the spool
 * keeps a view of an arena (readers copy what they take, the recent-queued ring copies out before a reuse), so an
 * arena every reader has passed is recycled at once instead of left to the GC: left to it, arenas outlived two
 * scavenges, were promoted, and up to ~20 MiB of dead ones waited for the next mark-compact during a burst.
 */
const ARENA_BYTES = 64 * 1024;
/** Spare arenas kept for reuse; one or two suffice while the pump keeps up, a few absorb a short lag. */
const MAX_SPARE_ARENAS = 4;
/**
 * The in-memory tail: at most this many of the newest appended bytes stay in memory for readers that have not
 * reached them yet (a pump behind by more reads the file); arenas every reader has passed are let go at once.
 */
const MEMORY_TAIL_BYTES = 1024 * 1024;
const MIN_SEGMENT_BYTES = 64 * 1024;
const MAX_DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
/** Overflow drops this order: oldest telemetry, then oldest logs; results never make room for anything. */
const DROP_ORDER: readonly FrameClass[] = ['telemetry', 'log'];
/** How long a failed fsync waits before it is tried again (any policy). */
const SYNC_RETRY_MS = 500;
/**
 * While the same fsync error keeps repeating, at most one problem line per this interval (with the count of failed
 * attempts): the retry every SYNC_RETRY_MS would otherwise write a line twice a second for as long as the disk fails.
 */
const SYNC_FAILURE_REPORT_MS = 60_000;
/** The verb (a fixstr(1) byte) each spooled class's frames carry. */
const VERB_CODES: Record<FrameClass, number> = { log: 0x4c, telemetry: 0x54, result: 0x52 };

type NormalizedPolicy = { kind: 'always' } | { kind: 'never' } | { kind: 'group'; ms: number };

export function normalizeFsyncPolicy(policy: FsyncPolicy | undefined): NormalizedPolicy {
  if (policy === undefined) return { kind: 'group', ms: 100 };
  if (policy === 'always') return { kind: 'always' };
  if (policy === 'never') return { kind: 'never' };
  const ms = typeof policy === 'number' ? policy : policy.groupCommitMs;
  if (!Number.isInteger(ms) || ms < 1 || ms > 60_000) {
    throw new SpoolError('bad-option', `group commit interval must be 1…60000 ms, got ${String(ms)}`);
  }
  return { kind: 'group', ms };
}

export function spoolPaths(dataDir: string): { dir: string; segments: string; quarantine: string } {
  const dir = join(dataDir, 'spool');
  return { dir, segments: join(dir, 'segments'), quarantine: join(dir, 'quarantine') };
}

function newSegmentInfo(segDir: string, firstSeq: number): SegmentInfo {
  const name = segmentFileName(firstSeq);
  return {
    firstSeq,
    lastSeq: firstSeq - 1,
    name,
    path: join(segDir, name),
    fileBytes: 0,
    liveBytes: 0,
    perClass: emptyTally(),
    firstAppendedAt: null,
    dropped: new Set(),
    compacted: new Set(),
    deleted: false,
  };
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

export interface SpoolEvents {
  /** Records up to this sequence are in the segment file (readable). */
  written: [seq: number];
  /** Records up to this sequence are durable under the fsync policy. */
  durable: [seq: number];
  /** The overflow policy dropped frames. */
  /**
   * The overflow policy dropped frames: the oldest ones (`overflow`), or the new one because the spool holds only
   * results (`full-of-results`) or because the room freed by earlier drops is not given back on disk yet
   * (`reclaiming`: an async compaction still has to rewrite a segment that also holds results).
   */
  drop: [info: { cls: FrameClass; frames: number; reason: DropReason }];
  problem: [message: string];
}

type DropReason = 'overflow' | 'full-of-results' | 'reclaiming';

/**
 * Bytes of one segment, in file format, held in an arena: file offsets `fileStart` … `fileStart + (arenaEnd -
 * arenaStart)` of `seg`. The region is not rewritten while the extent exists (its arena is recycled only once no
 * extent refers to it); readers copy what they take from it at once.
 */
interface MemoryExtent {
  seg: SegmentInfo;
  fileStart: number;
  arena: Buffer;
  arenaStart: number;
  arenaEnd: number;
  /** Sequence of the last record in it: once every reader is past it, nobody reads it from memory any more. */
  lastSeq: number;
}

/** One appended record, for the "recently queued" view (decoded only when the view is built). */
interface RecentRecord {
  seq: number;
  cls: FrameClass;
  /** The arena the payload is in, or `owned` once that arena was recycled (the bytes were copied out). */
  arena: Buffer;
  /** Offset of the payload (the wire frame) in `arena`. */
  offset: number;
  /** This slot's own buffer for copied-out bytes (reused by later records in the slot), null until needed. */
  owned: Buffer | null;
  bytes: number;
  at: number;
}

/** A closed segment's fd kept open until its data is fsynced. */
interface RetiredFd {
  fd: number;
  seg: SegmentInfo;
}

export class Spool extends EventEmitter<SpoolEvents> {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly recovery: RecoveryReport;

  private readonly segDir: string;
  private readonly quarDir: string;
  private readonly policy: NormalizedPolicy;
  private readonly maxFrameBytes: number;
  private readonly recentLimit: number;
  private readonly now: () => number;
  private readonly onProblem: (message: string) => void;

  private readonly segments: SegmentInfo[];
  private active: SegmentInfo;
  private activeFd: number;
  /** Arenas no extent refers to any more, for `nextArena` to reuse; counts the allocations (`arenaStats`). */
  private readonly arenaPool = new BufferPool(ARENA_BYTES, MAX_SPARE_ARENAS);
  /** The arena appends go to: bytes before `arenaFlushed` are in the file, up to `arenaUsed` staged. */
  private arena: Buffer = this.arenaPool.take();
  private arenaFlushed = 0;
  private arenaUsed = 0;
  /**
   * What of the newest segments is still in memory (this arena and the earlier ones some reader has not passed yet,
   * up to MEMORY_TAIL_BYTES), oldest first: the in-memory tail a caught-up reader is served from.
   */
  private extents: MemoryExtent[] = [];
  private flushScheduled: NodeJS.Immediate | null = null;
  private flushRetry: NodeJS.Timeout | null = null;

  private nextSeq: number;
  private writtenSeq: number;
  private durableSeqValue: number;
  /** Sequences ≤ this existed when the spool was opened: a previous process may have sent them already. */
  readonly lastSeqAtOpen: number;

  // fsync engine
  private retiredFds: RetiredFd[] = [];
  private dirDirty = false;
  /** The fsync in flight, if any (never rejects). */
  private syncing: Promise<boolean> | null = null;
  /** What made the last failed fsync round fail (for `sync()`'s rejection). */
  private lastSyncError: unknown = null;
  /** The current run of failed fsync rounds (null while fsync works): what its problem lines have said so far. */
  private syncFailures: {
    message: string;
    /** Failed rounds since fsync last succeeded. */
    total: number;
    /** Failed rounds since the last problem line. */
    sinceReport: number;
    reportedAt: number;
  } | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private durableWaiters: Array<{ seq: number; resolve: () => void }> = [];

  // accounting
  private totalBytes = 0;
  /**
   * Bytes of dropped records still in their segment files (until compaction rewrites or removes them). The cap counts
   * them: what is on disk is what was not unlinked yet, whatever the bookkeeping says is live.
   */
  private readonly unreclaimed = new Map<SegmentInfo, number>();
  private unreclaimedBytes = 0;
  private readonly queued: PerClassTally = emptyTally();
  private readonly confirmedTotals: Record<FrameClass, number> = { log: 0, telemetry: 0, result: 0 };
  private cursorState: CursorState;
  private readonly cursor: CursorWriter;
  private headAppendedAt: number | null;
  private quarantinedCount: number;
  /** Ring of the last `recentLimit` appends; `recentNext` is the slot the next one goes to. */
  private readonly recentQueued: Array<RecentRecord | undefined>;
  private recentNext = 0;

  // overflow compaction
  private compactQueue: SegmentInfo[] = [];
  private compacting: Promise<void> | null = null;

  private readonly readers = new Set<SpoolReader>();
  private closed = false;

  private constructor(init: {
    dataDir: string;
    options: SpoolOptions;
    segments: SegmentInfo[];
    nextSeq: number;
    cursor: CursorState;
    queued: PerClassTally;
    headAppendedAt: number | null;
    quarantinedCount: number;
    recovery: RecoveryReport;
  }) {
    super();
    const paths = spoolPaths(init.dataDir);
    const o = init.options;
    this.dir = paths.dir;
    this.segDir = paths.segments;
    this.quarDir = paths.quarantine;
    this.policy = normalizeFsyncPolicy(o.fsync);
    this.maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
    this.segmentBytes =
      o.segmentBytes ??
      Math.max(MIN_SEGMENT_BYTES, Math.min(MAX_DEFAULT_SEGMENT_BYTES, Math.floor(this.maxBytes / 16)));
    this.maxFrameBytes = o.maxFrameBytes ?? 8192;
    this.recentLimit = Math.max(0, o.recentFrames ?? 50);
    this.recentQueued = new Array<RecentRecord | undefined>(this.recentLimit);
    this.now = o.now ?? Date.now;
    this.onProblem = o.onProblem ?? (() => undefined);
    this.recovery = init.recovery;
    this.segments = init.segments;
    this.nextSeq = init.nextSeq;
    this.writtenSeq = init.nextSeq - 1;
    this.durableSeqValue = init.nextSeq - 1;
    this.lastSeqAtOpen = init.nextSeq - 1;
    this.cursorState = init.cursor;
    this.headAppendedAt = init.headAppendedAt;
    this.quarantinedCount = init.quarantinedCount;
    for (const cls of FRAME_CLASSES) {
      this.queued[cls] = { ...init.queued[cls] };
    }
    for (const seg of this.segments) this.totalBytes += seg.liveBytes;
    // Every start writes into a fresh segment: recovered files are never appended to.
    this.active = newSegmentInfo(this.segDir, this.nextSeq);
    this.activeFd = openSync(this.active.path, 'a', FILE_MODE);
    this.segments.push(this.active);
    this.dirDirty = true;
    this.cursor = new CursorWriter(
      this.dir,
      init.cursor,
      (state) => this.onCursorDurable(state),
      (error) => this.problem(`cannot write the spool cursor: ${error.message}`),
    );
  }

  /**
   * Opens (creating if needed) the spool under `<dataDir>/spool`, recovering whatever a crash left behind.
   * Never fails because of damaged content: torn tails are truncated, damaged segments quarantined and salvaged.
   */
  static async open(dataDir: string, options: SpoolOptions = {}): Promise<Spool> {
    normalizeFsyncPolicy(options.fsync);
    if (options.maxBytes !== undefined && (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1)) {
      throw new SpoolError(
        'bad-option',
        `maxBytes must be a positive integer, got ${String(options.maxBytes)}`,
      );
    }
    const state = await recoverSpool(dataDir, options.onProblem ?? (() => undefined));
    // Tells `minion-agent spool repair` that a live process has the spool open (advisory only: a stale file from a
    // crash is simply overwritten, it never blocks a start).
    await fsp.writeFile(join(spoolPaths(dataDir).dir, OWNER_FILE), `${process.pid}\n`);
    return new Spool({ dataDir, options, ...state });
  }

  // ---- appending -------------------------------------------------------------------------------------------------

  /**
   * Appends one frame. Synchronous and non-blocking: the record goes into the staging buffer and reaches the file at
   * the end of the tick. Durable once `durableSeq ≥ seq` (see `whenDurable`). Throws FrameValidationError /
   * ProtocolError for a frame that must never be sent (nothing is stored), SpoolError when closed.
   */
  append(cls: FrameClass, frame: WireFrame): AppendResult {
    if (this.closed) throw new SpoolError('closed', 'the spool is closed');
    // Only L/T/R are spooled: heartbeats and auth belong to one connection and are never replayed.
    if (frameClassOf(frame) !== cls) {
      throw new SpoolError('wrong-class', `a ${String(frame[0])} frame cannot be spooled as ${cls}`);
    }
    validateOutgoingFrame(frame, { maxFrameBytes: this.maxFrameBytes });
    // A view of the encoder's scratch buffer: copied into the arena below, before anything else encodes.
    const payload = encodeFrameTransient(frame);
    return this.store(cls, payload, 0, payload.length);
  }

  /**
   * `append` for a frame the core already encoded (e.g. an `L` frame built from the line's bytes):
   * `source[start, end)` is the wire frame, length prefix included; it is copied, so it may be a scratch buffer.
   * Only what the encoder cannot vouch for is checked: the framing, that the verb is `cls`'s, and the frame budget
   * (FrameValidationError 'too-large'). Everything else (room, rotation, arenas, tallies) is `append`'s.
   */
  appendPayload(cls: FrameClass, source: Buffer, start: number, end: number): AppendResult {
    if (this.closed) throw new SpoolError('closed', 'the spool is closed');
    const length = end - start;
    if (
      length < FRAME_HEADER_BYTES + 3 ||
      ((source[start] as number) << 8) + (source[start + 1] as number) !== length - FRAME_HEADER_BYTES ||
      source[start + 2] !== 0x93 ||
      source[start + 3] !== 0xa1
    ) {
      throw new ProtocolError('bad-shape', 'not a framed [verb, uuid, data] with a one-letter verb');
    }
    if (source[start + 4] !== VERB_CODES[cls]) {
      const verb = String.fromCharCode(source[start + 4] as number);
      throw new SpoolError('wrong-class', `a ${verb} frame cannot be spooled as ${cls}`);
    }
    if (length > this.maxFrameBytes) {
      throw new FrameValidationError(
        'too-large',
        `refused to send ${String.fromCharCode(VERB_CODES[cls])} frame: frame is ${length} bytes, ` +
          `the budget (max_frame_bytes) is ${this.maxFrameBytes}`,
        null,
      );
    }
    return this.store(cls, source, start, end);
  }

  /** Stores the encoded frame `source[start, end)` (checked by the caller) as the next record. */
  private store(cls: FrameClass, source: Buffer, start: number, end: number): AppendResult {
    const size = recordSize(end - start);
    if (this.needsRoom(size)) {
      // Making room emits 'drop' (and may report a problem) synchronously, and a listener may append right away
      // (the core ships its own warning line): that append encodes into the same scratch buffer `source` usually
      // is. Only on this path, which drops frames anyway, the frame is copied out first.
      source = Buffer.from(source.subarray(start, end));
      end -= start;
      start = 0;
    }
    if (!this.makeRoom(size) && cls !== 'result') {
      this.countDrop(cls, 1, size, this.overLiveCap(size) ? 'full-of-results' : 'reclaiming');
      return { seq: null, dropped: true };
    }
    if (this.active.liveBytes + size > this.segmentBytes && this.active.lastSeq >= this.active.firstSeq) {
      this.rotate();
    }
    if (this.arenaUsed + size > this.arena.length) this.nextArena(size);
    const seq = this.nextSeq++;
    const at = this.now();
    const recordAt = this.arenaUsed;
    const seg = this.active;
    const extent = this.extentFor(seg);
    this.arenaUsed = writeRecordFrom(this.arena, recordAt, seq, cls, at, source, start, end);
    extent.arenaEnd = this.arenaUsed;
    extent.lastSeq = seq;
    seg.lastSeq = seq;
    seg.liveBytes += size;
    addToTally(seg.perClass, cls, size);
    seg.firstAppendedAt ??= at;
    this.totalBytes += size;
    addToTally(this.queued, cls, size);
    if (this.headAppendedAt === null) this.headAppendedAt = at;
    this.rememberRecent(seq, cls, recordAt + RECORD_HEADER_BYTES, end - start, at);
    this.flushScheduled ??= setImmediate(() => {
      this.flushScheduled = null;
      this.flushSafely();
    });
    return { seq, dropped: false };
  }

  /** Writes the staged records to the active segment now (a reader does before it reads that segment's file). */
  flush(): void {
    this.flushSafely();
  }

  private flushSafely(): void {
    // After close the fd number may already belong to another file: never write through it again.
    if (this.closed) return;
    try {
      this.flushStaging();
    } catch (e) {
      // Keep the staged records; retry shortly (e.g. disk full that clears up). Appends keep working until the
      // staging buffer is full, then `append` throws SpoolError('write-failed') to the producer.
      this.problem(`spool write failed, retrying: ${(e as Error).message}`);
      if (!this.flushRetry) {
        this.flushRetry = setTimeout(() => {
          this.flushRetry = null;
          this.flushSafely();
        }, 500);
        this.flushRetry.unref();
      }
    }
  }

  private flushStaging(): void {
    if (this.arenaUsed === this.arenaFlushed) return;
    try {
      while (this.arenaFlushed < this.arenaUsed) {
        const n = writeSync(this.activeFd, this.arena, this.arenaFlushed, this.arenaUsed - this.arenaFlushed);
        // Counted per write: after a failure the retry appends exactly the missing bytes, so the file stays
        // contiguous (a reader meanwhile sees an incomplete record and waits; recovery would cut it after a crash).
        this.arenaFlushed += n;
        this.active.fileBytes += n;
      }
    } catch (e) {
      throw new SpoolError('write-failed', `cannot write to ${this.active.path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.writtenSeq = this.active.lastSeq;
    this.emit('written', this.writtenSeq);
    this.scheduleSync();
  }

  /**
   * The arena has no room for a record of `recordBytes`: write it out and continue in a spare or fresh one (throws
   * when the write fails, which keeps every staged record). The old arena is not written again while an extent
   * refers to it (it stays in the in-memory tail while a reader still has to reach it); once none does, it is a
   * spare.
   */
  private nextArena(recordBytes: number): void {
    this.flushStaging();
    // Everything staged is in the file now, so every extent (the current arena's included) may be let go.
    this.releasePassedExtents();
    this.arena = this.arenaPool.take(recordBytes);
    this.arenaFlushed = 0;
    this.arenaUsed = 0;
  }

  /**
   * Drops from the in-memory tail what every reader has passed, and the oldest part beyond MEMORY_TAIL_BYTES (a
   * reader that gets there reads the file: everything in the tail was written to it before this runs). An arena no
   * remaining extent refers to becomes a spare. Called only when the current arena is full and flushed.
   */
  private releasePassedExtents(): void {
    let slowest = Number.POSITIVE_INFINITY;
    for (const r of this.readers) slowest = Math.min(slowest, r.position);
    const wanted = this.extents.filter((e) => e.lastSeq >= slowest);
    let bytes = 0;
    let from = wanted.length;
    while (from > 0) {
      const e = wanted[from - 1] as MemoryExtent;
      bytes += e.arenaEnd - e.arenaStart;
      if (bytes > MEMORY_TAIL_BYTES) break;
      from--;
    }
    const kept = wanted.slice(from);
    for (const e of this.extents) {
      // One arena can hold extents of two segments (a rotation in between): it is free once no kept one is in it.
      if (kept.some((k) => k.arena === e.arena)) continue;
      this.recycleArena(e.arena);
    }
    this.extents = kept;
  }

  /**
   * `arena` is out of the in-memory tail: keep it as a spare (unless it is an odd size or enough are kept). The
   * recent-queued ring's frames in it are copied out first, since its bytes will be overwritten.
   */
  private recycleArena(arena: Buffer): void {
    // An odd-sized arena is not reused (the pool leaves it to the GC): nothing to copy out.
    if (arena.length !== ARENA_BYTES) return;
    for (const r of this.recentQueued) {
      if (!r || r.arena !== arena) continue;
      if (!r.owned || r.owned.length < r.bytes) r.owned = Buffer.allocUnsafe(Math.max(r.bytes, 256));
      arena.copy(r.owned, 0, r.offset, r.offset + r.bytes);
      r.arena = r.owned;
      r.offset = 0;
    }
    this.arenaPool.give(arena);
  }

  /** How many arenas were ever allocated and how many spares wait for reuse (tests, the bench). */
  get arenaStats(): { allocated: number; spare: number } {
    return { allocated: this.arenaPool.allocated, spare: this.arenaPool.spareCount };
  }

  /** The extent the next record of `seg` goes into (a new one after a rotation or an arena switch). */
  private extentFor(seg: SegmentInfo): MemoryExtent {
    const last = this.extents[this.extents.length - 1];
    if (last && last.seg === seg && last.arena === this.arena) return last;
    // Everything staged belongs to the active segment (a rotation flushes first).
    const fileStart = seg.fileBytes + (this.arenaUsed - this.arenaFlushed);
    const extent = {
      seg,
      fileStart,
      arena: this.arena,
      arenaStart: this.arenaUsed,
      arenaEnd: this.arenaUsed,
      lastSeq: seg.lastSeq,
    };
    this.extents.push(extent);
    return extent;
  }

  /**
   * Bytes of `seg` from `fileOffset` up to what was appended so far, as a view of an arena (written to the file or
   * still staged); empty when `fileOffset` is the end, null when that part is not in memory (any more). The view is
   * valid only until the next append (the arena may then be recycled): the reader copies it at once. A segment with
   * dropped classes is not served: its compaction changes the file's offsets.
   */
  private memoryTail(seg: SegmentInfo, fileOffset: number): Buffer | null {
    if (seg.dropped.size > 0) return null;
    for (let i = this.extents.length - 1; i >= 0; i--) {
      const e = this.extents[i] as MemoryExtent;
      if (e.seg !== seg) continue;
      if (fileOffset < e.fileStart) continue;
      const length = e.arenaEnd - e.arenaStart;
      if (fileOffset > e.fileStart + length) return null;
      return e.arena.subarray(e.arenaStart + (fileOffset - e.fileStart), e.arenaEnd);
    }
    return null;
  }

  private rememberRecent(seq: number, cls: FrameClass, offset: number, bytes: number, at: number): void {
    if (this.recentLimit === 0) return;
    const slot = this.recentQueued[this.recentNext];
    if (slot) {
      slot.seq = seq;
      slot.cls = cls;
      slot.arena = this.arena;
      slot.offset = offset;
      slot.bytes = bytes;
      slot.at = at;
    } else {
      this.recentQueued[this.recentNext] = { seq, cls, arena: this.arena, offset, bytes, at, owned: null };
    }
    this.recentNext = (this.recentNext + 1) % this.recentLimit;
  }

  /** The recent appends, oldest first, decoded now (only a listener asks for them). */
  private recentQueuedViews(): FrameView[] {
    const views: FrameView[] = [];
    for (let i = 0; i < this.recentLimit; i++) {
      const r = this.recentQueued[(this.recentNext + i) % this.recentLimit];
      if (!r) continue;
      const frame = decodeFrame(r.arena.subarray(r.offset, r.offset + r.bytes));
      views.push({
        seq: r.seq,
        cls: r.cls,
        verb: frame[0],
        uuid: frame[1],
        data: frame[2],
        bytes: r.bytes,
        at: r.at,
      });
    }
    return views;
  }

  private rotate(): void {
    this.flushStaging();
    if (this.policy.kind === 'never') closeSync(this.activeFd);
    else this.retiredFds.push({ fd: this.activeFd, seg: this.active });
    this.active = newSegmentInfo(this.segDir, this.nextSeq);
    this.activeFd = openSync(this.active.path, 'a', FILE_MODE);
    this.segments.push(this.active);
    this.dirDirty = true;
  }

  // ---- durability ------------------------------------------------------------------------------------------------

  get durableSeq(): number {
    return this.durableSeqValue;
  }

  /** Highest sequence appended so far (0 when none ever). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get confirmedSeq(): number {
    return this.cursorState.confirmedSeq;
  }

  /** Resolves when `seq` is durable under the fsync policy (immediately if it already is). */
  whenDurable(seq: number): Promise<void> {
    if (seq <= this.durableSeqValue) return Promise.resolve();
    return new Promise((resolve) => this.durableWaiters.push({ seq, resolve }));
  }

  private scheduleSync(): void {
    if (this.policy.kind === 'never') {
      for (const r of this.retiredFds.splice(0)) closeSync(r.fd);
      this.markDurable(this.writtenSeq);
      return;
    }
    if (this.syncing || this.syncTimer) return;
    if (this.policy.kind === 'always') {
      void this.runSync();
    } else {
      this.syncTimer = setTimeout(() => {
        this.syncTimer = null;
        void this.runSync();
      }, this.policy.ms);
    }
  }

  /** Runs one fsync round and schedules what follows it; resolves whether it succeeded. */
  private runSync(): Promise<boolean> {
    const run = this.syncOnce().then((synced) => {
      if (this.syncing === run) this.syncing = null;
      if (this.closed) return synced;
      if (!synced) {
        // A failing disk is retried on a timer whatever the policy: 'always' would otherwise fsync again at once,
        // forever, with a problem report each time (a busy loop on the main thread).
        this.syncTimer ??= setTimeout(() => {
          this.syncTimer = null;
          void this.runSync();
        }, SYNC_RETRY_MS);
        return synced;
      }
      if (this.writtenSeq > this.durableSeqValue || this.retiredFds.length > 0) this.scheduleSync();
      return synced;
    });
    this.syncing = run;
    return run;
  }

  /** One fsync of everything written so far; false when it failed (reported, and retried by `runSync`). */
  private async syncOnce(): Promise<boolean> {
    const target = this.writtenSeq;
    const retired = this.retiredFds.splice(0);
    const dirDirty = this.dirDirty;
    this.dirDirty = false;
    try {
      await Promise.all([...retired.map((r) => r.fd), this.activeFd].map((fd) => fdatasyncAsync(fd)));
      if (dirDirty) await fsyncDir(this.segDir);
      for (const r of retired) closeSync(r.fd);
      this.markDurable(target);
      this.syncSucceeded();
      return true;
    } catch (e) {
      this.retiredFds.unshift(...retired);
      this.dirDirty ||= dirDirty;
      this.lastSyncError = e;
      this.syncFailed((e as Error).message);
      return false;
    }
  }

  /**
   * Reports a failed fsync round: the first one (or one with another error) at once; the same error again at most
   * once per SYNC_FAILURE_REPORT_MS, saying how many attempts failed since the last line.
   */
  private syncFailed(message: string): void {
    const now = this.now();
    const run = this.syncFailures;
    if (run?.message === message) {
      run.total++;
      run.sinceReport++;
      if (now - run.reportedAt < SYNC_FAILURE_REPORT_MS) return;
      this.problem(
        `fsync of the spool still failing: ${run.sinceReport} failed attempts since the last report (${message})`,
      );
      run.sinceReport = 0;
      run.reportedAt = now;
      return;
    }
    this.syncFailures = { message, total: (run?.total ?? 0) + 1, sinceReport: 0, reportedAt: now };
    this.problem(`fsync of the spool failed: ${message}`);
  }

  /** Closes a run of failed fsync rounds with one line (the log otherwise ends on "still failing"). */
  private syncSucceeded(): void {
    const run = this.syncFailures;
    if (!run) return;
    this.syncFailures = null;
    const attempts = run.total === 1 ? '1 failed attempt' : `${run.total} failed attempts`;
    this.problem(`fsync of the spool recovered after ${attempts}`);
  }

  private markDurable(seq: number): void {
    if (seq <= this.durableSeqValue) return;
    this.durableSeqValue = seq;
    if (this.durableWaiters.length > 0) {
      const still: typeof this.durableWaiters = [];
      for (const w of this.durableWaiters) {
        if (w.seq <= seq) w.resolve();
        else still.push(w);
      }
      this.durableWaiters = still;
    }
    this.emit('durable', seq);
  }

  /**
   * Writes and fsyncs everything appended so far, whatever the policy. Rejects (SpoolError `sync-failed`, or the fs
   * error itself with `never`) when the data could not be made durable; a failed round is retried on its own.
   */
  async sync(): Promise<void> {
    if (this.closed) throw new SpoolError('closed', 'the spool is closed');
    this.flushStaging();
    const target = this.writtenSeq;
    while (this.syncing) await this.syncing;
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = null;
    }
    if (this.policy.kind === 'never') {
      await fdatasyncAsync(this.activeFd);
      await fsyncDir(this.segDir);
      this.markDurable(target);
      return;
    }
    if (this.durableSeqValue < target || this.retiredFds.length > 0 || this.dirDirty) {
      // Callers act on durability (a checkpoint, deleting an imported file): a failed fsync must not look like one.
      if (!(await this.runSync())) {
        const cause = this.lastSyncError;
        throw new SpoolError('sync-failed', cause instanceof Error ? cause.message : String(cause), {
          cause,
        });
      }
    }
  }

  // ---- overflow --------------------------------------------------------------------------------------------------

  /** Highest sequence any reader handed out since its last seek: those frames may be on the wire right now. */
  private protectedSeq(): number {
    let high = this.cursorState.confirmedSeq;
    for (const r of this.readers) high = Math.max(high, r.highestYielded);
    return high;
  }

  /** `size` more live bytes would pass `maxBytes`: something has to be dropped first. */
  private overLiveCap(size: number): boolean {
    return this.totalBytes + size > this.maxBytes;
  }

  /** What is on disk (live bytes plus dropped ones no compaction removed yet) would pass `maxBytes` plus a segment. */
  private overDiskBound(size: number): boolean {
    return this.totalBytes + this.unreclaimedBytes + size > this.maxBytes + this.segmentBytes;
  }

  /** Whether `makeRoom(size)` has anything to do (drop or reclaim): the conditions it loops on. */
  private needsRoom(size: number): boolean {
    return this.overLiveCap(size) || this.overDiskBound(size);
  }

  /**
   * Drops whole classes of the oldest eligible segments until `size` more live bytes fit `maxBytes`, and refuses the
   * frame when what is on disk (live bytes plus dropped ones no compaction removed yet) would pass `maxBytes` plus
   * one segment: in a synchronous burst the async compaction cannot run, so without this bound the files grew far
   * beyond the cap. False when the frame cannot be taken.
   */
  private makeRoom(size: number): boolean {
    while (this.overLiveCap(size)) {
      if (!this.dropOldest()) return false;
    }
    while (this.overDiskBound(size)) {
      if (!this.reclaimOldestNow()) return false;
    }
    return true;
  }

  /**
   * Frees disk now instead of after the async compaction: the oldest partly dropped segment without results has its
   * remaining logs/telemetry dropped too and is unlinked at once. Under this pressure the segment order wins over the
   * class order (its logs may go before newer telemetry). False when every such segment holds results or is in flight.
   */
  private reclaimOldestNow(): boolean {
    const protect = this.protectedSeq();
    for (const seg of this.segments) {
      if (!this.unreclaimed.has(seg) || seg === this.active || seg.deleted || seg.firstSeq <= protect)
        continue;
      if (seg.perClass.result.frames > 0) continue;
      for (const cls of DROP_ORDER) {
        const { frames, bytes } = seg.perClass[cls];
        if (frames === 0) continue;
        seg.perClass[cls] = { frames: 0, bytes: 0 };
        seg.dropped.add(cls);
        seg.liveBytes -= bytes;
        this.totalBytes -= bytes;
        this.countDrop(cls, frames, bytes, 'overflow');
      }
      this.removeDroppedSegment(seg);
      return true;
    }
    return false;
  }

  private setUnreclaimed(seg: SegmentInfo, bytes: number): void {
    if (seg.deleted) bytes = 0;
    this.unreclaimedBytes += bytes - (this.unreclaimed.get(seg) ?? 0);
    if (bytes > 0) this.unreclaimed.set(seg, bytes);
    else this.unreclaimed.delete(seg);
  }

  /**
   * A closed segment whose every record was dropped is removed at once, synchronously (its fd closed first, or the
   * space would stay allocated): only overflow comes here, and an unlink is cheap, while waiting for the async
   * compaction let a synchronous burst fill the disk far beyond `max_bytes`.
   */
  private removeDroppedSegment(seg: SegmentInfo): void {
    const i = this.retiredFds.findIndex((r) => r.seg === seg);
    if (i >= 0) {
      closeSync((this.retiredFds[i] as RetiredFd).fd);
      this.retiredFds.splice(i, 1);
    }
    seg.deleted = true;
    this.removeSegment(seg);
    this.dirDirty = true;
    try {
      unlinkSync(seg.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.problem(`cannot delete dropped segment ${seg.name}: ${(e as Error).message}`);
    }
  }

  private dropOldest(): boolean {
    const protect = this.protectedSeq();
    for (const cls of DROP_ORDER) {
      for (const seg of this.segments) {
        if (seg.deleted || seg.firstSeq <= protect || seg.perClass[cls].frames === 0) continue;
        // Nothing in flight from it; the active segment is closed first so it can be rewritten.
        if (seg === this.active) this.rotate();
        const { frames, bytes } = seg.perClass[cls];
        seg.perClass[cls] = { frames: 0, bytes: 0 };
        seg.dropped.add(cls);
        seg.liveBytes -= bytes;
        this.totalBytes -= bytes;
        this.countDrop(cls, frames, bytes, 'overflow');
        if (seg.liveBytes === 0) this.removeDroppedSegment(seg);
        else {
          this.setUnreclaimed(seg, (this.unreclaimed.get(seg) ?? 0) + bytes);
          this.queueCompaction(seg);
        }
        return true;
      }
    }
    return false;
  }

  private countDrop(cls: FrameClass, frames: number, bytes: number, reason: DropReason): void {
    if (reason === 'overflow') {
      this.queued[cls].frames = Math.max(0, this.queued[cls].frames - frames);
      this.queued[cls].bytes = Math.max(0, this.queued[cls].bytes - bytes);
    }
    this.cursorState.dropped[cls] += frames;
    if (cls === 'telemetry' || cls === 'log') this.cursorState.unreportedDrops[cls] += frames;
    this.emit('drop', { cls, frames, reason });
    if (reason !== 'overflow') this.cursor.update(this.cursorState);
  }

  private queueCompaction(seg: SegmentInfo): void {
    if (!this.compactQueue.includes(seg)) this.compactQueue.push(seg);
    this.compacting ??= this.compactLoop().finally(() => {
      this.compacting = null;
    });
  }

  /** Resolves once no compaction is pending: dropped records are gone from the files. */
  async reclaimed(): Promise<void> {
    while (this.compacting) await this.compacting;
  }

  private async compactLoop(): Promise<void> {
    while (this.compactQueue.length > 0) {
      const seg = this.compactQueue.shift() as SegmentInfo;
      try {
        await this.compact(seg);
      } catch (e) {
        this.problem(`cannot compact ${seg.name} after an overflow drop: ${(e as Error).message}`);
      }
    }
    // The drop counters become durable with the next cursor write.
    this.cursor.update(this.cursorState);
  }

  /** Rewrites a closed segment without its dropped classes (temp, fsync, rename, fsync dir). */
  private async compact(seg: SegmentInfo): Promise<void> {
    if (seg.deleted) return;
    const dropping = new Set(seg.dropped);
    let buf: Buffer;
    try {
      buf = await fsp.readFile(seg.path);
    } catch (e) {
      // Dropped whole and unlinked (a synchronous burst) before the read opened it: nothing left to compact.
      if (seg.deleted) return;
      throw e;
    }
    // The kept records as [start, end) ranges, consecutive ones merged: no object per record.
    const keep: number[] = [];
    let bytes = 0;
    await scanSegmentSliced(buf, 0, (offset, size, _seq, cls) => {
      if (dropping.has(cls)) return;
      bytes += size;
      if (keep.length > 0 && keep[keep.length - 1] === offset) keep[keep.length - 1] = offset + size;
      else keep.push(offset, offset + size);
    });
    if (seg.deleted) return;
    if (bytes === 0) {
      seg.deleted = true;
      this.removeSegment(seg);
      await fsp.unlink(seg.path);
      return;
    }
    const temp = seg.path + '.compact';
    const handle = await fsp.open(temp, 'w', FILE_MODE);
    try {
      const out = Buffer.allocUnsafe(bytes);
      let at = 0;
      for (let i = 0; i < keep.length; i += 2) at += buf.copy(out, at, keep[i], keep[i + 1]);
      await handle.writeFile(out);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (seg.deleted) {
      await fsp.unlink(temp);
      return;
    }
    await fsp.rename(temp, seg.path);
    if (seg.deleted) {
      // Dropped whole (and unlinked) while the rename ran: the rename brought the file back.
      await fsp.rm(seg.path, { force: true });
      return;
    }
    await fsyncDir(this.segDir);
    seg.fileBytes = bytes;
    for (const cls of dropping) seg.compacted.add(cls);
    // What is still in the file but dropped (a drop during this compaction; the next one removes it).
    this.setUnreclaimed(seg, Math.max(0, bytes - seg.liveBytes));
  }

  private removeSegment(seg: SegmentInfo): void {
    const i = this.segments.indexOf(seg);
    if (i >= 0) this.segments.splice(i, 1);
    this.totalBytes -= seg.liveBytes;
    seg.liveBytes = 0;
    this.setUnreclaimed(seg, 0);
  }

  // ---- confirmation and cursor -----------------------------------------------------------------------------------

  /**
   * The server has received every record up to `upToSeq` (a barrier succeeded). `tally` = class counts of the
   * records confirmed by this call (the pump counted them while sending); `nextHeadAppendedAt` = append time of the
   * oldest record still unconfirmed, if the caller knows it.
   */
  confirm(upToSeq: number, tally: PerClassTally, nextHeadAppendedAt: number | null): void {
    if (upToSeq <= this.cursorState.confirmedSeq) return;
    for (const cls of FRAME_CLASSES) {
      this.queued[cls].frames = Math.max(0, this.queued[cls].frames - tally[cls].frames);
      this.queued[cls].bytes = Math.max(0, this.queued[cls].bytes - tally[cls].bytes);
      this.confirmedTotals[cls] += tally[cls].frames;
    }
    this.cursorState.confirmedSeq = upToSeq;
    this.headAppendedAt = tallyTotal(this.queued).frames === 0 ? null : nextHeadAppendedAt;
    this.cursor.update(this.cursorState);
  }

  /** Segments are deleted only once a durable cursor covers them (never the other way round). */
  private onCursorDurable(state: CursorState): void {
    for (const seg of [...this.segments]) {
      if (seg === this.active || seg.deleted || seg.lastSeq > state.confirmedSeq) continue;
      if (this.compactQueue.includes(seg)) continue;
      seg.deleted = true;
      this.removeSegment(seg);
      fsp.unlink(seg.path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') this.problem(`cannot delete confirmed segment ${seg.name}: ${e.message}`);
      });
    }
  }

  /**
   * Takes the pending overflow report ("dropped N telemetry and M log frames while the spool was full") and resets
   * it; null when there is nothing to report. The caller spools the report line itself.
   */
  takeDropReport(): { telemetry: number; log: number } | null {
    const u = this.cursorState.unreportedDrops;
    if (u.telemetry === 0 && u.log === 0) return null;
    const report = { ...u };
    this.cursorState.unreportedDrops = { telemetry: 0, log: 0 };
    this.cursor.update(this.cursorState);
    return report;
  }

  get droppedTotals(): Record<FrameClass, number> {
    return { ...this.cursorState.dropped };
  }

  // ---- reading ---------------------------------------------------------------------------------------------------

  /** A reader positioned at the first unconfirmed record. */
  createReader(): SpoolReader {
    const host: SpoolReaderHost = {
      segments: () => this.segments,
      isActive: (seg) => seg === this.active,
      memoryTail: (seg, fileOffset) => this.memoryTail(seg, fileOffset),
      flush: () => this.flushSafely(),
      problem: (m) => this.problem(m),
    };
    const reader = new SpoolReader(host, this.cursorState.confirmedSeq + 1, () =>
      this.readers.delete(reader),
    );
    this.readers.add(reader);
    return reader;
  }

  // ---- status ----------------------------------------------------------------------------------------------------

  get queuedTally(): PerClassTally {
    const t = emptyTally();
    for (const cls of FRAME_CLASSES) t[cls] = { ...this.queued[cls] };
    return t;
  }

  get bytesOnDisk(): number {
    return this.totalBytes;
  }

  /** The SpoolView for the UI/CLI; `delivery` adds what only the pump knows. */
  view(delivery?: DeliveryViewPart): SpoolView {
    const perClass = {} as SpoolView['perClass'];
    for (const cls of FRAME_CLASSES) {
      perClass[cls] = {
        queuedFrames: this.queued[cls].frames,
        queuedBytes: this.queued[cls].bytes,
        awaitingConfirmation: delivery?.awaiting[cls] ?? 0,
        confirmed: this.confirmedTotals[cls],
        dropped: this.cursorState.dropped[cls],
      };
    }
    let oldest = this.headAppendedAt;
    if (oldest === null && tallyTotal(this.queued).frames > 0) {
      const seg = this.segments.find((s) => s.lastSeq > this.cursorState.confirmedSeq && !s.deleted);
      oldest = seg?.firstAppendedAt ?? null;
    }
    return {
      perClass,
      totalBytes: this.totalBytes,
      maxBytes: this.maxBytes,
      notDurableFrames: Math.max(0, this.lastSeq - this.durableSeqValue),
      oldestQueuedAt: oldest,
      replay: delivery?.replay ?? { active: false, total: 0, done: 0 },
      quarantinedSegments: this.quarantinedCount,
      recentSent: delivery?.recentSent ?? [],
      recentQueued: this.recentQueuedViews(),
    };
  }

  private problem(message: string): void {
    this.onProblem(message);
    this.emit('problem', message);
  }

  // ---- shutdown --------------------------------------------------------------------------------------------------

  /** Flushes, fsyncs (whatever the policy), writes the cursor and closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushScheduled) {
      clearImmediate(this.flushScheduled);
      this.flushScheduled = null;
    }
    try {
      await this.sync();
    } catch (e) {
      this.problem(`final spool fsync failed: ${(e as Error).message}`);
    }
    this.closed = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    if (this.flushRetry) clearTimeout(this.flushRetry);
    this.flushRetry = null;
    while (this.compacting) await this.compacting;
    this.cursor.update(this.cursorState);
    await this.cursor.flush();
    for (const r of [...this.readers]) await r.close();
    for (const r of this.retiredFds.splice(0)) closeSync(r.fd);
    closeSync(this.activeFd);
    // An empty active segment carries no information (the cursor and file names bound the next sequence anyway).
    if (this.active.lastSeq < this.active.firstSeq && this.segments.length > 1) {
      await fsp.rm(this.active.path, { force: true });
    }
    await fsp.rm(join(this.dir, OWNER_FILE), { force: true });
  }
}

// ---- recovery ------------------------------------------------------------------------------------------------------

interface RecoveredState {
  segments: SegmentInfo[];
  nextSeq: number;
  cursor: CursorState;
  queued: PerClassTally;
  headAppendedAt: number | null;
  quarantinedCount: number;
  recovery: RecoveryReport;
}

/** A recovered segment's records after the cursor it was recovered with. */
interface UnconfirmedPart {
  tally: PerClassTally;
  firstAppendedAt: number | null;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Rebuilds a damaged segment from its valid records (the original moves to quarantine first). */
async function writeSalvaged(path: string, buf: Buffer, ranges: readonly number[]): Promise<number> {
  const parts: Buffer[] = [];
  for (let i = 0; i < ranges.length; i += 2) parts.push(buf.subarray(ranges[i], ranges[i + 1]));
  const out = Buffer.concat(parts);
  const temp = path + '.salvage';
  const handle = await fsp.open(temp, 'w', FILE_MODE);
  try {
    await handle.writeFile(out);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(temp, path);
  return out.length;
}

async function recoverSpool(dataDir: string, onProblem: (m: string) => void): Promise<RecoveredState> {
  const started = Date.now();
  const paths = spoolPaths(dataDir);
  await fsp.mkdir(paths.segments, { recursive: true, mode: DIR_MODE });
  await fsp.mkdir(paths.quarantine, { recursive: true, mode: DIR_MODE });
  const loaded = await readCursor(paths.dir);
  const report: RecoveryReport = {
    segmentsScanned: 0,
    recordsFound: 0,
    tornTail: null,
    quarantined: [],
    cursor: loaded.status,
    cursorDetail: loaded.status === 'damaged' ? loaded.detail : null,
    removedFiles: [],
    durationMs: 0,
  };
  if (loaded.status === 'damaged') {
    onProblem(
      `spool cursor damaged (${loaded.detail}); unconfirmed frames will be re-sent with fresh identifiers`,
    );
  }

  const names: Array<{ name: string; firstSeq: number }> = [];
  for (const name of await listDir(paths.segments)) {
    const firstSeq = parseSegmentFileName(name);
    if (firstSeq === null) {
      // Temp files of an interrupted compaction/salvage: the original is still in place.
      await fsp.rm(join(paths.segments, name), { force: true, recursive: true });
      report.removedFiles.push(name);
    } else {
      names.push({ name, firstSeq });
    }
  }
  names.sort((a, b) => a.firstSeq - b.firstSeq);

  // The segment that was being written when the process stopped is the last one with any bytes: a later empty file
  // (a start that died right after creating its segment) does not make a torn tail "earlier damage".
  const sizes: number[] = [];
  for (const { name } of names) {
    sizes.push(
      await fsp.stat(join(paths.segments, name)).then(
        (st) => st.size,
        () => 0,
      ),
    );
  }
  let lastWritten = sizes.length - 1;
  while (lastWritten > 0 && sizes[lastWritten] === 0) lastWritten--;

  const segments: SegmentInfo[] = [];
  /** Per segment, its records after the loaded cursor (for a partly confirmed one). */
  const unconfirmedParts = new Map<SegmentInfo, UnconfirmedPart>();
  let lastSeq = 0;
  let highestName = 0;
  let quarantinedNow = false;
  for (let i = 0; i < names.length; i++) {
    const { name, firstSeq } = names[i] as { name: string; firstSeq: number };
    highestName = Math.max(highestName, firstSeq);
    const path = join(paths.segments, name);
    const isLast = i === lastWritten;
    report.segmentsScanned++;
    let buf: Buffer;
    try {
      buf = await fsp.readFile(path);
    } catch (e) {
      // Unreadable (EIO…): keep it aside and go on.
      const movedTo = join(paths.quarantine, `${name}.${Date.now()}`);
      await fsp.rename(path, movedTo).catch(() => undefined);
      report.quarantined.push({
        segment: name,
        movedTo,
        salvagedRecords: 0,
        damagedBytes: 0,
        reason: String(e),
      });
      quarantinedNow = true;
      continue;
    }
    const seg = newSegmentInfo(paths.segments, firstSeq);
    const unconfirmed: UnconfirmedPart = { tally: emptyTally(), firstAppendedAt: null };
    // Valid records as [start, end) ranges (consecutive ones merged), for a salvage.
    const ranges: number[] = [];
    const confirmedSeq = loaded.state.confirmedSeq;
    const scan = await scanSegmentSliced(buf, lastSeq, (offset, size, seq, cls, appendedAt) => {
      seg.lastSeq = seq;
      seg.liveBytes += size;
      addToTally(seg.perClass, cls, size);
      seg.firstAppendedAt ??= appendedAt;
      if (seq > confirmedSeq) {
        addToTally(unconfirmed.tally, cls, size);
        unconfirmed.firstAppendedAt ??= appendedAt;
      }
      if (ranges.length > 0 && ranges[ranges.length - 1] === offset)
        ranges[ranges.length - 1] = offset + size;
      else ranges.push(offset, offset + size);
    });
    const records = scan.records;
    if (scan.corrupt.length > 0) {
      const damagedBytes = scan.corrupt.reduce((n, c) => n + c.length, 0);
      if (isLast && !scan.validAfterCorruption) {
        // A torn tail: the process died in the middle of a write. Cut it off.
        const handle = await fsp.open(path, 'r+');
        try {
          await handle.truncate(scan.validPrefixEnd);
          await handle.sync();
        } finally {
          await handle.close();
        }
        // No valid record follows the damage, so every record visited lies before the cut.
        report.tornTail = { segment: name, truncatedBytes: buf.length - scan.validPrefixEnd };
      } else {
        const movedTo = join(paths.quarantine, `${name}.${Date.now()}`);
        await fsp.rename(path, movedTo);
        const reason = scan.corrupt.map((c) => `${c.reason} at ${c.offset} (${c.length} bytes)`).join(', ');
        if (records > 0) await writeSalvaged(path, buf, ranges);
        report.quarantined.push({
          segment: name,
          movedTo,
          salvagedRecords: records,
          damagedBytes,
          reason,
        });
        onProblem(
          `spool segment ${name} is damaged (${reason}); moved to ${movedTo}, salvaged ${records} records`,
        );
        quarantinedNow = true;
      }
    }
    seg.fileBytes = seg.liveBytes;
    report.recordsFound += records;
    if (records === 0) {
      await fsp.rm(path, { force: true });
      report.removedFiles.push(name);
      continue;
    }
    lastSeq = seg.lastSeq;
    segments.push(seg);
    unconfirmedParts.set(seg, unconfirmed);
  }
  if (quarantinedNow) await fsyncDir(paths.quarantine);

  const cursor = loaded.state;
  if (loaded.status === 'damaged') {
    // Conservative: resend everything still on disk (duplicates get fresh identifiers, so nothing collides).
    cursor.confirmedSeq = Math.max(0, (segments[0]?.firstSeq ?? 1) - 1);
  }
  // A confirmed sequence can be higher than anything on disk (records lost before their fsync): new records must
  // never reuse a sequence the cursor already covers.
  const nextSeq = Math.max(lastSeq, cursor.confirmedSeq, highestName - 1) + 1;

  const queued = emptyTally();
  let headAppendedAt: number | null = null;
  const live: SegmentInfo[] = [];
  for (const seg of segments) {
    if (seg.lastSeq <= cursor.confirmedSeq && loaded.status === 'ok') {
      // Fully confirmed by a durable cursor; a crash came between the cursor write and the deletion.
      await fsp.rm(seg.path, { force: true });
      report.removedFiles.push(seg.name);
      continue;
    }
    live.push(seg);
    if (seg.firstSeq > cursor.confirmedSeq) {
      for (const cls of FRAME_CLASSES)
        addToTally(queued, cls, seg.perClass[cls].bytes, seg.perClass[cls].frames);
      headAppendedAt ??= seg.firstAppendedAt;
    } else {
      // Partially confirmed: what its scan counted after the cursor.
      const part = unconfirmedParts.get(seg) as UnconfirmedPart;
      for (const cls of FRAME_CLASSES) addToTally(queued, cls, part.tally[cls].bytes, part.tally[cls].frames);
      headAppendedAt ??= part.firstAppendedAt;
    }
  }
  const quarantinedCount = (await listDir(paths.quarantine)).length;
  report.durationMs = Date.now() - started;
  return { segments: live, nextSeq, cursor, queued, headAppendedAt, quarantinedCount, recovery: report };
}
