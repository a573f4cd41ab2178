/**
 * Wire trace: every frame in and out as a plain-JSON `WireTraceEntry` (direction, time, decoded frame, hex) kept
 * in a bounded ring buffer for the UI and `repl --debug`. The group key is redacted before an entry exists, so it
 * can be shown, logged and exported freely.
 */
import { type WireFrame, type WireTraceEntry } from '../../../src-shared/view-models';
import { decodeFrame, encodeFrame } from '../protocol/codec';
import { isAuthFrame, REDACTED, redactFrame, redactedFrameHex } from '../protocol/frames';

/** Hex of raw bytes that could not be decoded is cut to this many bytes (enough to see what it was). */
const MAX_RAW_HEX_BYTES = 256;
/** A generic substring mask would redact half the stream for a 1–3 character key; such keys only get the precise auth-frame redaction. */
const MIN_GENERIC_KEY_LENGTH = 4;

export class KeyRedactor {
  private readonly key: string;
  private readonly keyHex: string;

  constructor(groupKey: string) {
    this.key = groupKey;
    this.keyHex = Buffer.from(groupKey, 'utf8').toString('hex');
  }

  private get generic(): boolean {
    return this.key.length >= MIN_GENERIC_KEY_LENGTH;
  }

  /** Any text (error messages, log lines) with the key masked. */
  text(text: string): string {
    return this.generic ? text.split(this.key).join(REDACTED) : text;
  }

  /** The frame with the key masked: the auth frame's key slot always, anywhere else when the key is long enough. */
  frame(frame: WireFrame): WireFrame {
    const base = redactFrame(frame);
    if (!this.generic || !this.contains(base[2])) return base;
    const mask = (s: string): string => this.text(s);
    return [base[0], base[1], base[2].map((item) => (Array.isArray(item) ? item.map(mask) : mask(item)))];
  }

  /** Scan first: the common case (no key inside) must not allocate a copy of every frame. */
  private contains(data: WireFrame[2]): boolean {
    for (const item of data) {
      if (typeof item === 'string') {
        if (item.includes(this.key)) return true;
      } else if (item.some((s) => s.includes(this.key))) {
        return true;
      }
    }
    return false;
  }

  /** Hex of the wire bytes with the key masked (the auth frame is re-encoded with `***` in the key slot). */
  hex(frame: WireFrame | null, bytes: Uint8Array): string {
    let hex = frame && isAuthFrame(frame) ? redactedFrameHex(frame) : Buffer.from(bytes).toString('hex');
    if (this.generic && hex.includes(this.keyHex)) hex = hex.split(this.keyHex).join('2a'.repeat(3));
    return hex;
  }
}

/**
 * A ring slot. Building an entry (redacted copy of the frame, hex of every byte) costs more than sending the frame,
 * and nearly every entry is overwritten unseen: slots keep what the entry is made of and build it when read. The
 * redactor is the one current at record time, so a later key change cannot un-redact an old entry.
 */
interface Slot {
  id: number;
  direction: 'in' | 'out';
  at: number;
  frame: WireFrame | null;
  /** The wire bytes; null for a decoded incoming frame (strict, so re-encoding reproduces them exactly). */
  bytes: Uint8Array | null;
  /** `frame` is the decoding of `bytes`, not done yet (a frame sent as its stored bytes). */
  decodeOnRead: boolean;
  redactor: KeyRedactor;
  /** Frames not traced (sampling) between the previous entry and this one. */
  unsampled: number;
  entry: WireTraceEntry | null;
}

export class WireTrace {
  /** Circular buffer: `start` is the oldest slot once it has wrapped. */
  private ring: Slot[] = [];
  private start = 0;
  private nextId = 1;

  constructor(private capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
  }

  /** True when recorded entries are kept (capacity > 0). */
  get keeping(): boolean {
    return this.capacity > 0;
  }

  setCapacity(capacity: number): void {
    const kept = this.ordered();
    this.capacity = Math.max(0, Math.floor(capacity));
    this.ring = kept.slice(Math.max(0, kept.length - this.capacity));
    this.start = 0;
  }

  /** Builds (and keeps) an entry; returns it for emitting. */
  record(
    redactor: KeyRedactor,
    direction: 'in' | 'out',
    frame: WireFrame | null,
    bytes: Uint8Array,
    error?: string,
    unsampled = 0,
  ): WireTraceEntry {
    const slot = this.slot(redactor, direction, frame, bytes, unsampled);
    const entry = build(slot);
    if (error !== undefined) entry.error = redactor.text(error);
    slot.entry = entry;
    this.keep(slot);
    return entry;
  }

  /**
   * Keeps a well-formed frame without building its entry (the hot path: nobody listens to each frame). `bytes` must
   * not change afterwards; null means "the encoding of `frame`" (computed when read).
   */
  recordLazily(
    redactor: KeyRedactor,
    direction: 'in' | 'out',
    frame: WireFrame,
    bytes: Uint8Array | null,
    unsampled = 0,
  ): void {
    if (this.capacity === 0) {
      this.nextId++;
      return;
    }
    this.keep(this.slot(redactor, direction, frame, bytes, unsampled));
  }

  /**
   * `record` for a frame known only as its encoded bytes (sent as stored): decoded here, since an entry is built now.
   * Bytes that do not decode get an entry with the error, like undecodable input.
   */
  recordEncoded(
    redactor: KeyRedactor,
    direction: 'in' | 'out',
    bytes: Uint8Array,
    unsampled = 0,
  ): WireTraceEntry {
    const decoded = tryDecode(bytes);
    return typeof decoded === 'string'
      ? this.record(redactor, direction, null, bytes, decoded, unsampled)
      : this.record(redactor, direction, decoded, bytes, undefined, unsampled);
  }

  /** `recordLazily` for a frame known only as its encoded bytes: decoded only if the entry is ever read. */
  recordEncodedLazily(
    redactor: KeyRedactor,
    direction: 'in' | 'out',
    bytes: Uint8Array,
    unsampled = 0,
  ): void {
    if (this.capacity === 0) {
      this.nextId++;
      return;
    }
    const slot = this.slot(redactor, direction, null, bytes, unsampled);
    slot.decodeOnRead = true;
    this.keep(slot);
  }

  /** Oldest first. */
  entries(): WireTraceEntry[] {
    return this.ordered().map((slot) => (slot.entry ??= build(slot)));
  }

  clear(): void {
    this.ring = [];
    this.start = 0;
  }

  private slot(
    redactor: KeyRedactor,
    direction: 'in' | 'out',
    frame: WireFrame | null,
    bytes: Uint8Array | null,
    unsampled: number,
  ): Slot {
    return {
      id: this.nextId++,
      direction,
      at: Date.now(),
      frame,
      bytes,
      decodeOnRead: false,
      redactor,
      unsampled,
      entry: null,
    };
  }

  private keep(slot: Slot): void {
    if (this.capacity === 0) return;
    if (this.ring.length < this.capacity) {
      this.ring.push(slot);
    } else {
      this.ring[this.start] = slot;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  private ordered(): Slot[] {
    return this.start === 0
      ? this.ring.slice()
      : [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
  }
}

/** The decoded frame, or why the bytes are not one. */
function tryDecode(bytes: Uint8Array): WireFrame | string {
  try {
    return decodeFrame(bytes);
  } catch (e) {
    return `undecodable frame: ${(e as Error).message}`;
  }
}

function build(slot: Slot): WireTraceEntry {
  const { redactor } = slot;
  let { frame } = slot;
  let error: string | undefined;
  if (slot.decodeOnRead && slot.bytes) {
    const decoded = tryDecode(slot.bytes);
    if (typeof decoded === 'string') error = redactor.text(decoded);
    else frame = decoded;
  }
  const bytes = slot.bytes ?? (frame ? encodeFrame(frame) : new Uint8Array(0));
  const shown = frame ? bytes : bytes.subarray(0, MAX_RAW_HEX_BYTES);
  const entry: WireTraceEntry = {
    id: slot.id,
    direction: slot.direction,
    at: slot.at,
    frame: frame ? redactor.frame(frame) : null,
    hex: redactor.hex(frame, shown),
    bytes: bytes.length,
  };
  if (error !== undefined) entry.error = error;
  if (slot.unsampled > 0) entry.unsampled = slot.unsampled;
  return entry;
}
