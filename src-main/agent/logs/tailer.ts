/**
 * Follows the `tail_logs` files and hands every line to a synchronous sink (the facade turns lines into `L` frames
 * in the durable spool). Polling is what finds the lines: it behaves the same on every platform and filesystem (NFS,
 * bind mounts, containers), and a poll of an idle file is two stat calls. Change notifications (change-watch.ts:
 * fs.watch of the files' directories) only decide when to poll: at once after a change, and while everything is
 * quiet only every `safetyPollIntervalMs`; where they are unavailable or prove unreliable, every `pollIntervalMs`.
 *
 * Guarantees: lines arrive in file order, once. Files are identified by device + inode and followed through rename
 * rotation (the old file is read to its end first), copytruncate (the remainder is recovered from the copy when it
 * sits next to the file), delete/recreate and files that appear later. The checkpoint (identity, offset, head
 * fingerprint per file) is written atomically after the sink accepted the lines it covers, so a restart neither
 * skips nor repeats lines. Memory is bounded: files are read in chunks; a line without a newline is held up to
 * `maxLineBytes`, then sent in marked parts.
 *
 * Known limits (inherent to the techniques, not to this code): lines written between the copy and the truncate of
 * a copytruncate are gone; a truncate-and-refill whose first bytes equal the old ones cannot be told from growth;
 * a crash after the sink accepted lines but before the checkpoint write repeats those lines on restart.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, type BigIntStats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { expandGlob, isGlobPattern } from './glob';
import {
  ChangeWatch,
  planPath,
  type WatchDirectory,
  watchDirectoryWithFs,
  type WatchPlan,
} from './change-watch';
import { type FileCheckpoint, loadCheckpoint, saveCheckpointAsync, type TailCheckpoint } from './checkpoint';
import {
  decodeLineRange,
  decodePrefixWithin,
  type ByteRange,
  lineTextAsBytes,
  lineToMessages,
  MIN_MESSAGE_BYTES,
  partBudget,
  partMarker,
} from './lines';

export interface TailEntry {
  service: string;
  /** A path or a glob (`/var/log/app/*.log`); relative paths are taken from `cwd`. */
  file: string;
}

export type TailLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogTailerOptions {
  entries: readonly TailEntry[];
  /** JSON file in the data dir; written atomically. */
  checkpointPath: string;
  /** Upper bound of one message in UTF-8 bytes (from the frame budget); longer lines are split into parts. */
  maxMessageBytes: number;
  /** Takes one line. Synchronous; throwing means "not accepted": the line is offered again on the next poll. */
  sink: (service: string, line: string) => void;
  /**
   * Optional: takes the common line as bytes, without making it a string: `line[start, end)` is valid UTF-8, not
   * empty, within `maxMessageBytes`, its `\r` and byte-order mark already cut (its text is what `sink` would get).
   * Same contract as `sink`; `line` is the tailer's read buffer, valid only during the call (copy what is kept).
   * Any other line (invalid UTF-8, longer, in parts) still goes to `sink`.
   */
  byteSink?: (service: string, line: Buffer, start: number, end: number) => void;
  /**
   * Resolves once everything the sink accepted so far is durable (e.g. the spool's group commit): the checkpoints
   * written while lines flow wait for it, so they never get ahead of the sink. A rejection skips that write. Default:
   * lines are durable once the sink accepted them (a sink that keeps nothing, benches, tests).
   */
  whenSinkDurable?: () => Promise<void>;
  /**
   * For `stopAndCheckpoint()`: resolves once everything the sink accepted is durable (e.g. an awaited spool sync).
   * A rejection skips the final write (the lines are read again after the next start).
   */
  beforeFinalCheckpoint?: () => Promise<void>;
  log?: (level: TailLogLevel, message: string) => void;
  /** Default 250 ms. */
  pollIntervalMs?: number;
  /**
   * Change notifications (fs.watch of the followed files' directories): a change is polled at once (at most every
   * `pollIntervalMs`), and while every file is quiet and watched the tailer polls only every
   * `safetyPollIntervalMs`. Default true; false polls every `pollIntervalMs`.
   */
  watch?: boolean;
  /** The poll that catches what notifications missed. Default 2000 ms (never below `pollIntervalMs`). */
  safetyPollIntervalMs?: number;
  /** How a directory is watched; default fs.watch (tests inject failures and silence). */
  watchDirectory?: WatchDirectory;
  /** How often globs are expanded and missing files looked for. Default 1000 ms. */
  scanIntervalMs?: number;
  /** A last line without newline is sent after the file was quiet this long. Default 2000 ms. */
  quietFlushMs?: number;
  /** A renamed-away file is read for this long after its last growth, then closed. Default 5000 ms. */
  rotatedGraceMs?: number;
  /** Files that already exist when their entry is first seen: `end` (the original agent) or `beginning`. */
  startAt?: 'end' | 'beginning';
  /** Read size. Default 64 KiB. */
  readChunkBytes?: number;
  /**
   * Least time between two checkpoint writes while lines flow (each an atomic write with fsync, on the thread pool).
   * A crash repeats at most this much; a clean stop always writes. Default 1000 ms.
   */
  checkpointIntervalMs?: number;
  /** Bytes read per file per poll before yielding (the next poll then follows immediately). Default 4 MiB. */
  maxBytesPerPoll?: number;
  /**
   * Time one poll may spend turning lines into sink calls before it yields to the event loop (the next poll follows
   * at once). A 100k-line burst then becomes many short slices instead of one long stall. Default 4 ms.
   */
  maxSliceMs?: number;
  /** Monotonic clock in ms for the slice budget; default `performance.now`. */
  clock?: () => number;
  /** A line without a newline longer than this is sent in parts as it arrives. Default 1 MiB. */
  maxLineBytes?: number;
  cwd?: string;
  now?: () => number;
}

export interface TailedFileView {
  path: string;
  service: string;
  offset: number;
  size: number | null;
  rotated: boolean;
}

export interface TailerStats {
  files: TailedFileView[];
  linesShipped: number;
  messagesShipped: number;
  bytesRead: number;
  rotations: number;
  truncations: number;
  partialFlushes: number;
  sinkRefusals: number;
}

/** Lines handed to the sink between two looks at the slice clock. */
const LINES_PER_CLOCK_CHECK = 16;

/** How many leading bytes identify a file's content (for truncation and copy detection). */
const HEAD_BYTES = 1024;
/** `whenSinkDurable` of a sink that has nothing to make durable. */
const sinkDurableAtOnce = (): Promise<void> => Promise.resolve();

interface FollowedFile {
  key: string;
  path: string;
  service: string;
  pattern: string;
  fd: number;
  dev: string;
  ino: string;
  /** Bytes whose lines the sink accepted. */
  offset: number;
  /** Bytes read so far; `buffer` holds [offset, readPos). */
  readPos: number;
  buffer: Buffer;
  /** Parts of an over-long line already sent early; their bytes are in `offset`. */
  streamedParts: number;
  /** Parts of the line at `offset` that the sink accepted before refusing the rest. */
  acceptedParts: number;
  head: string;
  headLength: number;
  rotated: boolean;
  lastGrowthAt: number;
  blocked: boolean;
  /** The slice budget ran out with complete lines still in `buffer`: they go first on the next poll. */
  yielded: boolean;
  /** Size and mtime at the last poll: the head is only re-checked when they change (keeps idle polls cheap). */
  seenSize: number;
  seenMtimeMs: number;
}

interface Identity {
  dev: string;
  ino: string;
  size: number;
  isFile: boolean;
}

function identityOf(stats: BigIntStats): Identity {
  return {
    dev: stats.dev.toString(),
    ino: stats.ino.toString(),
    size: Number(stats.size),
    isFile: stats.isFile(),
  };
}

function statPath(path: string): Identity | null {
  try {
    const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
    return stats ? identityOf(stats) : null;
  } catch {
    return null;
  }
}

const keyOf = (id: { dev: string; ino: string }) => `${id.dev}:${id.ino}`;

export class LogTailer {
  private entries: TailEntry[];
  private readonly pollIntervalMs: number;
  private readonly scanIntervalMs: number;
  private readonly quietFlushMs: number;
  private readonly rotatedGraceMs: number;
  private readonly startAt: 'end' | 'beginning';
  private readonly chunk: Buffer;
  /**
   * Where the followed files are read while lines flow: a file's carried-over partial line is copied to its start
   * and the next chunk read in behind it, so a read costs no allocation. Lines are decoded into strings before the
   * next read; a remainder that outlives the read (a yield, a refusal, a partial line) is copied out of it.
   */
  private readonly readBuffer: Buffer;
  private readonly maxBytesPerPoll: number;
  private readonly maxSliceMs: number;
  private readonly clock: () => number;
  /** When the current poll's slice ends (clock ms); Infinity outside a poll. */
  private sliceEndsAt = Number.POSITIVE_INFINITY;
  private readonly maxLineBytes: number;
  private readonly maxMessageBytes: number;
  /** Where `lineTextAsBytes` leaves the text of the line at hand (one object, not one per line). */
  private readonly lineText: ByteRange = { start: 0, end: 0 };
  private readonly cwd: string;
  private readonly now: () => number;

  /** Every open file by identity. */
  private readonly files = new Map<string, FollowedFile>();
  /** Path → identity key of the file currently at that path. */
  private readonly current = new Map<string, string>();
  /** Patterns followed before (from the checkpoint or this run): their new files are read from the start. */
  private knownPatterns = new Set<string>();
  private loadedRecords: FileCheckpoint[] = [];
  private started = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  /** When the pending timer fires (`now()` ms). */
  private timerDueAt = 0;
  private lastPollAt = Number.NEGATIVE_INFINITY;
  private readonly safetyPollIntervalMs: number;
  /** Null when notifications are off, or were given up on. */
  private changeWatch: ChangeWatch | null = null;
  /** A notification arrived since the last poll. */
  private changeSeen = false;
  /** Safety polls in a row that found changes no notification announced. */
  private missedChanges = 0;
  private nextScanAt = 0;
  private dirty = false;
  private lastCheckpointAt = Number.NEGATIVE_INFINITY;
  /** The asynchronous checkpoint write in flight, if any (one at a time). */
  private checkpointInFlight: Promise<void> | null = null;
  /** Its file I/O part (after the sink became durable); `settled()` waits for this one. */
  private checkpointSaving: Promise<boolean> | null = null;
  /** Bumped by the final write of a stop: an older write still in flight must not replace it. */
  private checkpointGeneration = 0;
  private readonly warnedDuplicates = new Set<string>();
  private readonly counters = {
    linesShipped: 0,
    messagesShipped: 0,
    bytesRead: 0,
    rotations: 0,
    truncations: 0,
    partialFlushes: 0,
    sinkRefusals: 0,
  };

  constructor(private readonly options: LogTailerOptions) {
    this.entries = [...options.entries];
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.safetyPollIntervalMs = Math.max(this.pollIntervalMs, options.safetyPollIntervalMs ?? 2000);
    this.scanIntervalMs = options.scanIntervalMs ?? 1000;
    this.quietFlushMs = options.quietFlushMs ?? 2000;
    this.rotatedGraceMs = options.rotatedGraceMs ?? 5000;
    this.startAt = options.startAt ?? 'end';
    this.chunk = Buffer.allocUnsafe(options.readChunkBytes ?? 64 * 1024);
    this.readBuffer = Buffer.allocUnsafe(2 * this.chunk.length);
    this.maxBytesPerPoll = options.maxBytesPerPoll ?? 4 * 1024 * 1024;
    this.maxSliceMs = options.maxSliceMs ?? 4;
    this.clock = options.clock ?? (() => performance.now());
    this.maxLineBytes = Math.max(options.maxLineBytes ?? 1024 * 1024, this.chunk.length);
    if (options.maxMessageBytes < MIN_MESSAGE_BYTES) {
      throw new RangeError(`maxMessageBytes must be at least ${MIN_MESSAGE_BYTES}`);
    }
    this.maxMessageBytes = options.maxMessageBytes;
    this.cwd = options.cwd ?? process.cwd();
    this.now = options.now ?? Date.now;
  }

  /** Resumes from the checkpoint and starts polling. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const loaded = loadCheckpoint(this.options.checkpointPath);
    if (loaded.state === 'corrupt') {
      this.log(
        'error',
        `log checkpoint ${this.options.checkpointPath} unreadable (${loaded.error}); starting fresh`,
      );
    }
    this.knownPatterns = new Set(loaded.checkpoint.patterns);
    this.loadedRecords = loaded.checkpoint.files;
    this.resumeFromCheckpoint();
    this.scan();
    this.loadedRecords = [];
    for (const entry of this.entries) this.knownPatterns.add(entry.file);
    this.dirty = true;
    if (this.options.watch !== false) {
      this.changeWatch = new ChangeWatch(
        this.options.watchDirectory ?? watchDirectoryWithFs,
        () => this.changed(),
        (message) => this.log('info', message),
      );
    }
    this.lastPollAt = this.now();
    this.pollNow();
    this.scheduleResting();
  }

  /**
   * Stops polling, closes every file and writes the final checkpoint, off the event loop: after any checkpoint write
   * still on disk and after `beforeFinalCheckpoint` (so it never gets ahead of the lines on disk). Lines not yet
   * handed over are read again after the next start.
   */
  async stopAndCheckpoint(): Promise<void> {
    if (!this.halt()) return;
    // An older asynchronous write still in flight must not replace this one.
    this.checkpointGeneration++;
    const checkpoint = this.snapshot();
    this.closeAll();
    await this.settled();
    try {
      await this.options.beforeFinalCheckpoint?.();
      await saveCheckpointAsync(this.options.checkpointPath, checkpoint, () => true);
      this.dirty = false;
    } catch (error) {
      this.log('error', `log checkpoint not written: ${(error as Error).message}`);
    }
  }

  /** Stops polling; false when not running. */
  private halt(): boolean {
    if (!this.started) return false;
    this.started = false;
    this.cancelTimer();
    this.changeWatch?.close();
    this.changeWatch = null;
    return true;
  }

  private cancelTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }
  }

  private closeAll(): void {
    for (const file of this.files.values()) this.close(file);
    this.files.clear();
    this.current.clear();
  }

  /**
   * Resolves when no checkpoint file write is in progress (a write still waiting for the sink's durability is not
   * waited for): the final write of a stop waits for this, so an older write on the thread pool cannot overtake it.
   */
  async settled(): Promise<void> {
    while (this.checkpointSaving) await this.checkpointSaving.catch(() => false);
  }

  /**
   * Resolves once no checkpoint write is pending at all, including one still waiting for `whenSinkDurable` (which may
   * never resolve: a stop does not wait for this). What the last poll decided to write is then on disk, or abandoned.
   */
  async checkpointWritten(): Promise<void> {
    while (this.checkpointInFlight) await this.checkpointInFlight;
  }

  /** Replaces the followed entries (config change). Files of removed entries are closed. */
  setEntries(entries: readonly TailEntry[]): void {
    this.entries = [...entries];
    const patterns = new Set(entries.map((e) => e.file));
    for (const file of [...this.files.values()]) {
      const entry = entries.find((e) => e.file === file.pattern);
      if (!entry) {
        this.forget(file);
      } else file.service = entry.service;
    }
    this.knownPatterns = new Set([...this.knownPatterns].filter((p) => patterns.has(p)));
    this.nextScanAt = 0;
    this.dirty = true;
    if (this.started) {
      this.scan();
      for (const pattern of patterns) this.knownPatterns.add(pattern);
      // New directories to watch, or to poll: not only after the next safety poll.
      this.pollSoon();
    }
  }

  stats(): TailerStats {
    return {
      ...this.counters,
      files: [...this.files.values()].map((f) => ({
        path: f.path,
        service: f.service,
        offset: f.offset,
        size: sizeOf(f.fd),
        rotated: f.rotated,
      })),
    };
  }

  /** One poll cycle, synchronously. Returns true when a file had more data than one poll may read (or time allowed). */
  pollNow(): boolean {
    this.sliceEndsAt = this.clock() + this.maxSliceMs;
    try {
      return this.pollSlice();
    } finally {
      this.sliceEndsAt = Number.POSITIVE_INFINITY;
    }
  }

  private pollSlice(): boolean {
    const now = this.now();
    if (now >= this.nextScanAt) {
      this.scan();
      this.nextScanAt = now + this.scanIntervalMs;
    }
    for (const [path, key] of [...this.current]) this.checkPath(path, key, now);
    let more = false;
    // Rotated files first: their lines precede the lines of the file that replaced them.
    const ordered = [...this.files.values()].sort((a, b) => Number(b.rotated) - Number(a.rotated));
    /** Paths whose rotated predecessor is not read to its end yet: the successor waits, to keep file order. */
    const held = new Set<string>();
    for (const file of ordered) {
      if (!file.rotated && held.has(file.path)) continue;
      try {
        const hasMore = this.readAvailable(file, now);
        if (hasMore) more = true;
        if ((hasMore || file.blocked) && file.rotated) held.add(file.path);
      } catch (error) {
        this.log('warn', `reading ${file.path} failed: ${(error as Error).message}`);
      }
      this.flushQuiet(file, now);
    }
    this.writeCheckpoint();
    return more;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Discovery
  // -------------------------------------------------------------------------------------------------------------

  private expand(pattern: string): string[] {
    const absolute = resolve(this.cwd, pattern);
    if (!isGlobPattern(pattern)) return [absolute];
    try {
      return expandGlob(absolute).map((p) => resolve(p));
    } catch (error) {
      this.log('warn', `tail_logs pattern ${pattern} could not be expanded: ${(error as Error).message}`);
      return [];
    }
  }

  private scan(): void {
    for (const entry of this.entries) {
      for (const path of this.expand(entry.file)) {
        if (this.current.has(path)) continue;
        const id = statPath(path);
        if (!id || !id.isFile) continue;
        this.discovered(path, entry, id);
      }
    }
  }

  /** A path that is not followed yet holds a file: adopt it if we know it, else open it at the right place. */
  private discovered(path: string, entry: TailEntry, id: Identity): void {
    const key = keyOf(id);
    const known = this.files.get(key);
    if (known) {
      if (known.rotated) {
        // A rotated file that this (glob) entry matches under its new name: keep following it where we were.
        known.rotated = false;
        known.path = path;
        this.current.set(path, key);
      } else if (!this.warnedDuplicates.has(path)) {
        this.warnedDuplicates.add(path);
        this.log(
          'warn',
          `${path} is already followed as ${known.path} (service ${known.service}); not read twice`,
        );
      }
      return;
    }
    const record = this.loadedRecords.find((r) => r.path === path && !r.rotated);
    let start = 0;
    let streamedParts = 0;
    if (record && record.dev === id.dev && record.ino === id.ino) {
      const fd = this.open(path);
      if (fd === null) return;
      if (id.size >= record.offset && this.headMatches(fd, record.head, record.headLength)) {
        start = record.offset;
        streamedParts = record.partsSent;
      } else {
        this.log('info', `${path} was truncated while the agent was stopped; reading it from the start`);
        this.counters.truncations++;
        this.rescueFromCopy(path, entry.service, record);
      }
      closeSync(fd);
    } else if (record) {
      // The file we followed was replaced while we were down (the old one was resumed by resumeFromCheckpoint):
      // this one was created after our last checkpoint, so all of it is new.
      start = 0;
    } else if (!this.knownPatterns.has(entry.file) && this.startAt === 'end') {
      start = this.lineAlignedEnd(path, id.size);
    }
    this.follow(path, entry, id, start, streamedParts);
  }

  private follow(path: string, entry: TailEntry, id: Identity, offset: number, streamedParts = 0): void {
    const fd = this.open(path);
    if (fd === null) return;
    // The path may have been replaced between stat and open: trust the descriptor.
    let opened: Identity;
    try {
      opened = identityOf(fstatSync(fd, { bigint: true }));
    } catch {
      closeSync(fd);
      return;
    }
    if (opened.dev !== id.dev || opened.ino !== id.ino) offset = 0;
    const file: FollowedFile = {
      key: keyOf(opened),
      path,
      service: entry.service,
      pattern: entry.file,
      fd,
      dev: opened.dev,
      ino: opened.ino,
      offset,
      readPos: offset,
      buffer: Buffer.alloc(0),
      streamedParts,
      acceptedParts: 0,
      head: '',
      headLength: 0,
      rotated: false,
      lastGrowthAt: this.now(),
      blocked: false,
      yielded: false,
      seenSize: -1,
      seenMtimeMs: -1,
    };
    this.updateHead(file);
    this.files.set(file.key, file);
    this.current.set(path, file.key);
    this.dirty = true;
    this.log('debug', `following ${path} as ${entry.service} from byte ${offset}`);
  }

  /**
   * Files of the checkpoint that are no longer at their path (rotated while we were down, or while being finished):
   * find them by identity next to their old path and read their remaining lines first.
   */
  private resumeFromCheckpoint(): void {
    for (const record of this.loadedRecords) {
      if (!this.entries.some((e) => e.file === record.pattern)) continue;
      if (record.rotated) {
        this.resumeRecord(record);
        continue;
      }
      const id = statPath(record.path);
      if (!id || id.dev !== record.dev || id.ino !== record.ino)
        this.resumeRecord({ ...record, rotated: true });
    }
  }

  private resumeRecord(record: FileCheckpoint): void {
    const key = keyOf(record);
    if (this.files.has(key)) return;
    const found = this.findByIdentity(dirname(record.path), record);
    if (!found) {
      this.log('warn', `${record.path}: the rotated file with unread lines is gone; its last lines are lost`);
      return;
    }
    const fd = this.open(found);
    if (fd === null) return;
    if (!this.headMatches(fd, record.head, record.headLength)) {
      closeSync(fd);
      return;
    }
    const service = this.entries.find((e) => e.file === record.pattern)?.service ?? record.service;
    this.files.set(
      key,
      this.rotatedFile(record, { key, path: found, service, fd, dev: record.dev, ino: record.ino }),
    );
    this.log('info', `finishing rotated file ${found} (was ${record.path}) from byte ${record.offset}`);
  }

  /** A file that is no longer at its path, to be read from the checkpointed offset to its end. */
  private rotatedFile(
    record: FileCheckpoint,
    at: Pick<FollowedFile, 'key' | 'path' | 'service' | 'fd' | 'dev' | 'ino'>,
  ): FollowedFile {
    return {
      ...at,
      pattern: record.pattern,
      offset: record.offset,
      readPos: record.offset,
      buffer: Buffer.alloc(0),
      streamedParts: record.partsSent,
      acceptedParts: 0,
      head: record.head,
      headLength: record.headLength,
      rotated: true,
      lastGrowthAt: this.now(),
      blocked: false,
      yielded: false,
      seenSize: -1,
      seenMtimeMs: -1,
    };
  }

  private findByIdentity(dir: string, id: { dev: string; ino: string }): string | null {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return null;
    }
    for (const name of names) {
      const path = join(dir, name);
      const found = statPath(path);
      if (found && found.dev === id.dev && found.ino === id.ino) return path;
    }
    return null;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Following
  // -------------------------------------------------------------------------------------------------------------

  /** Has the path been renamed away, deleted or replaced? */
  private checkPath(path: string, key: string, now: number): void {
    const file = this.files.get(key);
    if (!file) {
      this.current.delete(path);
      return;
    }
    const id = statPath(path);
    if (id && id.dev === file.dev && id.ino === file.ino) return;
    file.rotated = true;
    file.lastGrowthAt = now;
    this.current.delete(path);
    this.counters.rotations++;
    this.dirty = true;
    this.log(
      'info',
      `${path} was ${id ? 'replaced (rotation)' : 'moved or deleted'}; reading the old file to its end`,
    );
    if (id && id.isFile) {
      const entry = this.entries.find((e) => e.file === file.pattern) ?? {
        service: file.service,
        file: file.pattern,
      };
      if (this.files.has(keyOf(id))) this.discovered(path, entry, id);
      else this.follow(path, entry, id, 0);
    }
  }

  /** Reads what is new. Returns true when the per-poll budget stopped it before the end of the file. */
  private readAvailable(file: FollowedFile, now: number): boolean {
    if (file.blocked || file.yielded) {
      file.blocked = false;
      file.yielded = false;
      this.processBuffer(file, false, true);
      if (file.blocked) return false;
      if (file.yielded) return true;
    }
    const stats = fstatSync(file.fd);
    const size = stats.size;
    const changed = size !== file.seenSize || stats.mtimeMs !== file.seenMtimeMs;
    file.seenSize = size;
    file.seenMtimeMs = stats.mtimeMs;
    // Shrunk, or refilled after a truncate faster than we polled (its first bytes differ from what we read).
    if (size < file.readPos || (changed && !this.headMatches(file.fd, file.head, file.headLength))) {
      this.truncated(file);
    }
    let budget = this.maxBytesPerPoll;
    while (file.readPos < size && budget > 0 && !file.blocked && !file.yielded && !this.sliceSpent()) {
      const want = Math.min(this.chunk.length, size - file.readPos, budget);
      const carried = file.buffer.length;
      let n: number;
      if (carried + want <= this.readBuffer.length) {
        // The usual case: the carried partial line is shorter than a chunk.
        file.buffer.copy(this.readBuffer, 0);
        n = readSync(file.fd, this.readBuffer, carried, want, file.readPos);
        if (n <= 0) break;
        file.buffer = this.readBuffer.subarray(0, carried + n);
      } else {
        // A long line is being gathered (up to maxLineBytes): it needs a buffer of its own.
        n = readSync(file.fd, this.chunk, 0, want, file.readPos);
        if (n <= 0) break;
        file.buffer = Buffer.concat([file.buffer, this.chunk.subarray(0, n)]);
      }
      file.readPos += n;
      budget -= n;
      this.counters.bytesRead += n;
      file.lastGrowthAt = now;
      this.processBuffer(file, false, true);
      // The next read (of this file or another) overwrites the read buffer: keep what is left in a copy.
      if (file.buffer.buffer === this.readBuffer.buffer) file.buffer = Buffer.from(file.buffer);
    }
    if (file.headLength < Math.min(HEAD_BYTES, file.offset)) this.updateHead(file);
    return file.yielded || (file.readPos < size && !file.blocked);
  }

  private sliceSpent(): boolean {
    return this.clock() >= this.sliceEndsAt;
  }

  private truncated(file: FollowedFile): void {
    this.counters.truncations++;
    this.log('info', `${file.path} was truncated (copytruncate?); reading it from the start`);
    const record = this.recordOf(file);
    file.buffer = Buffer.alloc(0);
    this.rescueFromCopy(file.path, file.service, record);
    file.offset = 0;
    file.readPos = 0;
    file.streamedParts = 0;
    file.acceptedParts = 0;
    file.head = '';
    file.headLength = 0;
    file.blocked = false;
    file.yielded = false;
    this.dirty = true;
  }

  /**
   * copytruncate copies the file (e.g. to `app.log.1`) and then empties it. Lines we had not read yet are in the
   * copy: find it next to the file by its first bytes and read them from there.
   */
  private rescueFromCopy(path: string, service: string, record: FileCheckpoint): void {
    if (record.headLength === 0 && record.offset > 0) return;
    const dir = dirname(path);
    const base = basename(path);
    let names: string[];
    try {
      names = readdirSync(dir).filter((name) => name !== base && name.startsWith(base));
    } catch {
      return;
    }
    for (const name of names) {
      const copyPath = join(dir, name);
      const id = statPath(copyPath);
      if (!id || !id.isFile || id.size <= record.offset || (id.dev === record.dev && id.ino === record.ino))
        continue;
      if (this.files.has(keyOf(id))) continue;
      const fd = this.open(copyPath);
      if (fd === null) continue;
      if (!this.headMatches(fd, record.head, record.headLength)) {
        closeSync(fd);
        continue;
      }
      const copy = this.rotatedFile(record, {
        key: keyOf(id),
        path: copyPath,
        service,
        fd,
        dev: id.dev,
        ino: id.ino,
      });
      while (copy.readPos < id.size && !copy.blocked) {
        const n = readSync(
          fd,
          this.chunk,
          0,
          Math.min(this.chunk.length, id.size - copy.readPos),
          copy.readPos,
        );
        if (n <= 0) break;
        copy.readPos += n;
        this.counters.bytesRead += n;
        copy.buffer = Buffer.concat([copy.buffer, this.chunk.subarray(0, n)]);
        this.processBuffer(copy, false);
      }
      if (!copy.blocked) this.processBuffer(copy, true);
      if (copy.blocked) {
        // Follow the copy like a rotated file: each poll offers its lines again until the sink takes them.
        this.files.set(copy.key, copy);
        this.dirty = true;
        this.log(
          'warn',
          `${copyPath}: the sink refused lines while recovering them; retrying on the next polls`,
        );
        return;
      }
      closeSync(fd);
      this.log('info', `recovered ${copy.offset - record.offset} bytes of ${path} from its copy ${copyPath}`);
      return;
    }
  }

  /**
   * Sends the complete lines in the buffer; `final` also sends a last line without newline. With `mayYield`, stops
   * (`yielded`) when the poll's slice is spent, leaving the rest of the lines in the buffer for the next poll.
   */
  private processBuffer(file: FollowedFile, final: boolean, mayYield = false): void {
    const buffer = file.buffer;
    let start = 0;
    let sinceClockCheck = 0;
    for (;;) {
      if (mayYield && ++sinceClockCheck >= LINES_PER_CLOCK_CHECK) {
        sinceClockCheck = 0;
        if (this.sliceSpent()) {
          file.buffer = buffer.subarray(start);
          file.yielded = true;
          return;
        }
      }
      const newline = buffer.indexOf(0x0a, start);
      if (newline < 0) break;
      if (!this.emitLine(file, buffer, start, newline)) {
        file.buffer = buffer.subarray(start);
        return;
      }
      file.offset += newline + 1 - start;
      file.streamedParts = 0;
      file.acceptedParts = 0;
      start = newline + 1;
      this.dirty = true;
    }
    let rest = buffer.subarray(start);
    // A line that keeps growing without a newline: send all but its tail now, in numbered parts.
    if (rest.length > this.maxLineBytes) {
      const budget = partBudget(this.maxMessageBytes);
      while (rest.length > this.maxLineBytes - budget) {
        const { text, used } = decodePrefixWithin(rest, budget);
        if (!this.offer(file.service, text + partMarker(file.streamedParts + 1, null))) {
          file.blocked = true;
          break;
        }
        file.streamedParts++;
        file.offset += used;
        rest = rest.subarray(used);
        this.dirty = true;
      }
    }
    if (final && rest.length > 0 && !file.blocked) {
      if (this.emitLine(file, rest, 0, rest.length)) {
        file.offset += rest.length;
        file.streamedParts = 0;
        file.acceptedParts = 0;
        this.counters.partialFlushes++;
        rest = rest.subarray(rest.length);
        this.dirty = true;
      }
    }
    // Copy so a small remainder does not pin a large read buffer.
    file.buffer = Buffer.from(rest);
  }

  /** One line (without `\n`) → its message(s). False when the sink refused: retried from `acceptedParts`. */
  private emitLine(file: FollowedFile, buffer: Buffer, start: number, end: number): boolean {
    if (
      file.streamedParts === 0 &&
      file.acceptedParts === 0 &&
      this.options.byteSink &&
      lineTextAsBytes(buffer, start, end, this.maxMessageBytes, this.lineText)
    ) {
      // The common line as bytes: its text would be exactly these bytes, one message.
      if (!this.offerBytes(file.service, buffer, this.lineText.start, this.lineText.end)) {
        file.blocked = true;
        return false;
      }
      this.counters.linesShipped++;
      return true;
    }
    // Fast path for the common line: even if every byte were invalid (3 bytes of U+FFFD each) it fits.
    if (file.streamedParts === 0 && file.acceptedParts === 0 && (end - start) * 3 <= this.maxMessageBytes) {
      const text = decodeLineRange(buffer, start, end);
      if (text === '') return true;
      if (!this.offer(file.service, text)) {
        file.blocked = true;
        return false;
      }
      this.counters.linesShipped++;
      return true;
    }
    const messages = lineToMessages(
      decodeLineRange(buffer, start, end),
      this.maxMessageBytes,
      file.streamedParts + 1,
    );
    for (let i = file.acceptedParts; i < messages.length; i++) {
      if (!this.offer(file.service, messages[i] as string)) {
        file.blocked = true;
        return false;
      }
      file.acceptedParts = i + 1;
    }
    if (messages.length > 0) this.counters.linesShipped++;
    return true;
  }

  private offer(service: string, message: string): boolean {
    try {
      this.options.sink(service, message);
    } catch (error) {
      return this.refused(service, error);
    }
    this.counters.messagesShipped++;
    return true;
  }

  private offerBytes(service: string, line: Buffer, start: number, end: number): boolean {
    try {
      this.options.byteSink?.(service, line, start, end);
    } catch (error) {
      return this.refused(service, error);
    }
    this.counters.messagesShipped++;
    return true;
  }

  private refused(service: string, error: unknown): false {
    this.counters.sinkRefusals++;
    this.log('warn', `log sink refused a line of ${service}: ${(error as Error).message}`);
    return false;
  }

  private flushQuiet(file: FollowedFile, now: number): void {
    const quietFor = now - file.lastGrowthAt;
    if (file.buffer.length > 0 && !file.blocked && !file.yielded && quietFor >= this.quietFlushMs) {
      this.processBuffer(file, true);
    }
    if (
      file.rotated &&
      file.buffer.length === 0 &&
      quietFor >= this.rotatedGraceMs &&
      sizeOf(file.fd) === file.readPos
    ) {
      this.log('debug', `done with rotated file ${file.path}`);
      this.forget(file);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Checkpoint and helpers
  // -------------------------------------------------------------------------------------------------------------

  private recordOf(file: FollowedFile): FileCheckpoint {
    return {
      path: file.path,
      service: file.service,
      pattern: file.pattern,
      dev: file.dev,
      ino: file.ino,
      offset: file.offset,
      partsSent: file.streamedParts,
      head: file.head,
      headLength: file.headLength,
      rotated: file.rotated,
    };
  }

  private snapshot(): TailCheckpoint {
    return {
      version: 1,
      patterns: [...this.knownPatterns],
      files: [...this.files.values()].map((f) => this.recordOf(f)),
    };
  }

  private writeCheckpoint(): void {
    if (!this.dirty) return;
    const now = this.now();
    if (now - this.lastCheckpointAt < (this.options.checkpointIntervalMs ?? 1000)) return;
    this.writeCheckpointAsync(now, this.options.whenSinkDurable ?? sinkDurableAtOnce);
  }

  /**
   * Snapshot now (what the sink accepted so far), wait until the sink made it durable, then write it off the event
   * loop. Changes meanwhile mark the state dirty again for the next write.
   */
  private writeCheckpointAsync(now: number, whenSinkDurable: () => Promise<void>): void {
    if (this.checkpointInFlight) return;
    this.lastCheckpointAt = now;
    const checkpoint = this.snapshot();
    const generation = this.checkpointGeneration;
    this.dirty = false;
    const current = (): boolean => generation === this.checkpointGeneration && this.started;
    this.checkpointInFlight = (async () => {
      try {
        await whenSinkDurable();
        if (!current()) return;
        this.checkpointSaving = saveCheckpointAsync(this.options.checkpointPath, checkpoint, current);
        await this.checkpointSaving;
      } catch (error) {
        this.dirty = true;
        this.log('error', `log checkpoint not written: ${(error as Error).message}`);
      } finally {
        this.checkpointSaving = null;
        this.checkpointInFlight = null;
      }
    })();
  }

  private updateHead(file: FollowedFile): void {
    const length = Math.min(HEAD_BYTES, file.offset);
    if (length === file.headLength && file.head !== '') return;
    const head = this.hashHead(file.fd, length);
    if (head === null) return;
    file.head = head;
    file.headLength = length;
    this.dirty = true;
  }

  private hashHead(fd: number, length: number): string | null {
    const bytes = Buffer.alloc(length);
    try {
      const n = length === 0 ? 0 : readSync(fd, bytes, 0, length, 0);
      if (n !== length) return null;
    } catch {
      return null;
    }
    return createHash('sha1').update(bytes).digest('hex');
  }

  private headMatches(fd: number, head: string, length: number): boolean {
    if (length === 0 || head === '') return true;
    return this.hashHead(fd, length) === head;
  }

  /** Start after the last complete line, so the first line shipped is whole. */
  private lineAlignedEnd(path: string, size: number): number {
    const fd = this.open(path);
    if (fd === null || size === 0) {
      if (fd !== null) closeSync(fd);
      return size;
    }
    try {
      const length = Math.min(size, this.chunk.length);
      const n = readSync(fd, this.chunk, 0, length, size - length);
      const lastNewline = this.chunk.subarray(0, n).lastIndexOf(0x0a);
      return lastNewline < 0 ? size : size - length + lastNewline + 1;
    } catch {
      return size;
    } finally {
      closeSync(fd);
    }
  }

  private open(path: string): number | null {
    try {
      return openSync(path, 'r');
    } catch (error) {
      this.log(
        'warn',
        `cannot open ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
      return null;
    }
  }

  private close(file: FollowedFile): void {
    try {
      closeSync(file.fd);
    } catch {
      // already closed
    }
  }

  private forget(file: FollowedFile): void {
    this.close(file);
    this.files.delete(file.key);
    if (this.current.get(file.path) === file.key) this.current.delete(file.path);
    this.dirty = true;
  }

  private schedule(delay: number, safetyPoll = false): void {
    if (!this.started) return;
    const run = () => {
      this.timer = null;
      const announced = this.changeSeen;
      this.changeSeen = false;
      const before = this.activity();
      this.lastPollAt = this.now();
      let more = false;
      try {
        more = this.pollNow();
      } catch (error) {
        this.log('error', `log tailer poll failed: ${(error as Error).message}`);
      }
      if (safetyPoll && !announced && this.activity() !== before) this.notificationMissed();
      else if (announced) this.missedChanges = 0;
      if (more) this.schedule(0);
      else this.scheduleResting();
    };
    this.timerDueAt = this.now() + delay;
    this.timer = delay === 0 ? setImmediate(run) : setTimeout(run, delay);
  }

  /**
   * The next poll after one that read everything: the safety poll when every followed file is quiet (no partial
   * line waiting for its flush, no rotated file being finished, no refused line, no checkpoint to write) and every
   * directory is watched; otherwise the poll interval.
   */
  private scheduleResting(): void {
    const watch = this.changeWatch;
    if (!watch) return this.schedule(this.pollIntervalMs);
    watch.update(this.watchPlan());
    // A checkpoint still to write (rate-limited) is written at the poll interval too: a crash repeats no more.
    const quiet =
      !this.dirty &&
      [...this.files.values()].every((f) => f.buffer.length === 0 && !f.rotated && !f.blocked && !f.yielded);
    if (watch.complete && quiet) this.schedule(this.safetyPollIntervalMs, true);
    else this.schedule(this.pollIntervalMs);
  }

  /** The directories to watch; null when a pattern's directories are themselves a glob (not watchable). */
  private watchPlan(): WatchPlan | null {
    const plan: WatchPlan = new Map();
    for (const entry of this.entries) {
      const absolute = resolve(this.cwd, entry.file);
      if (!isGlobPattern(entry.file)) planPath(plan, absolute);
      else if (isGlobPattern(dirname(absolute))) return null;
      else planPath(plan, absolute, true);
    }
    for (const file of this.files.values()) planPath(plan, file.path);
    return plan;
  }

  /** Something changed in a watched directory: poll now, or as soon as the poll interval allows. */
  private changed(): void {
    this.changeSeen = true;
    this.pollSoon();
  }

  private pollSoon(): void {
    if (!this.started || this.timer === null) return;
    const due = Math.max(this.lastPollAt + this.pollIntervalMs, this.now());
    if (due >= this.timerDueAt) return;
    this.cancelTimer();
    this.schedule(due - this.now());
  }

  /** Lines read, rotations, truncations and files followed: what a poll that found a change moves. */
  private activity(): number {
    const c = this.counters;
    return c.bytesRead + c.rotations + c.truncations + this.files.size;
  }

  /**
   * A safety poll found a change that no notification announced. Three in a row (one can be a race with a
   * notification still queued): notifications do not work here (a network filesystem, a container overlay), so
   * polling every `pollIntervalMs` takes over for good.
   */
  private notificationMissed(): void {
    if (++this.missedChanges < 3) return;
    this.changeWatch?.close();
    this.changeWatch = null;
    this.log(
      'info',
      `change notifications missed growth of the followed files ${this.missedChanges} times in a row; ` +
        `polling every ${this.pollIntervalMs} ms`,
    );
  }

  private log(level: TailLogLevel, message: string): void {
    this.options.log?.(level, message);
  }
}

function sizeOf(fd: number): number | null {
  try {
    return fstatSync(fd).size;
  } catch {
    return null;
  }
}
