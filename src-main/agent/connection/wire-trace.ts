/**
 * Wire trace: every frame in and out as a plain-JSON `WireTraceEntry` (direction, time, decoded frame, hex) kept
 * in a bounded ring buffer for the UI and `repl --debug`. The group key is redacted before an entry exists, so it
 * can be shown, logged and exported freely.
 */
import { type WireFrame, type WireTraceEntry } from '../../../src-shared/view-models';
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
    if (!this.generic) return base;
    const [verb, uuid, data] = base;
    let changed = false;
    const mask = (s: string): string => {
      if (!s.includes(this.key)) return s;
      changed = true;
      return this.text(s);
    };
    const masked = data.map((item) => (Array.isArray(item) ? item.map(mask) : mask(item)));
    return changed ? [verb, uuid, masked] : base;
  }

  /** Hex of the wire bytes with the key masked (the auth frame is re-encoded with `***` in the key slot). */
  hex(frame: WireFrame | null, bytes: Uint8Array): string {
    let hex = frame && isAuthFrame(frame) ? redactedFrameHex(frame) : Buffer.from(bytes).toString('hex');
    if (this.generic && hex.includes(this.keyHex)) hex = hex.split(this.keyHex).join('2a'.repeat(3));
    return hex;
  }
}

export class WireTrace {
  private readonly ring: WireTraceEntry[] = [];
  private nextId = 1;

  constructor(private capacity: number) {}

  setCapacity(capacity: number): void {
    this.capacity = Math.max(0, Math.floor(capacity));
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
  }

  /** Builds (and keeps) an entry; returns it for emitting. */
  record(
    redactor: KeyRedactor,
    direction: 'in' | 'out',
    frame: WireFrame | null,
    bytes: Uint8Array,
    error?: string,
  ): WireTraceEntry {
    const shown = frame ? bytes : bytes.subarray(0, MAX_RAW_HEX_BYTES);
    const entry: WireTraceEntry = {
      id: this.nextId++,
      direction,
      at: Date.now(),
      frame: frame ? redactor.frame(frame) : null,
      hex: redactor.hex(frame, shown),
      bytes: bytes.length,
    };
    if (error !== undefined) entry.error = redactor.text(error);
    if (this.capacity > 0) {
      this.ring.push(entry);
      if (this.ring.length > this.capacity) this.ring.shift();
    }
    return entry;
  }

  entries(): WireTraceEntry[] {
    return this.ring.slice();
  }

  clear(): void {
    this.ring.length = 0;
  }
}
