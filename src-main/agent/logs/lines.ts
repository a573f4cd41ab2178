/**
 * Turning raw log bytes into messages the server accepts: one message per line, terminators stripped, invalid UTF-8
 * replaced (U+FFFD), and lines longer than the frame budget split into marked parts instead of being dropped.
 */
import { isUtf8 } from 'node:buffer';

/** Pieces of an already-decoded line keep every character, U+FEFF included. */
const pieceDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Room reserved for the ` [12/345]` part marker. */
const MARKER_RESERVE = 24;
/** Smallest useful budget: below this every message would be mostly marker. */
export const MIN_MESSAGE_BYTES = MARKER_RESERVE + 16;

/**
 * Line bytes (without `\n`) → text: a trailing `\r` and a leading byte-order mark are dropped, invalid UTF-8
 * becomes U+FFFD. (Buffer#toString: same replacement as TextDecoder, markedly faster per line.)
 */
export function decodeLine(bytes: Uint8Array): string {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return decodeLineRange(buffer, 0, buffer.length);
}

/** `decodeLine` on `buffer[start, end)` without creating a view per line (the tailer's hot path). */
export function decodeLineRange(buffer: Buffer, start: number, end: number): string {
  end = lineTextEnd(buffer, start, end);
  return buffer.toString('utf8', lineTextStart(buffer, start, end), end);
}

/** Where the text of the line `buffer[start, end)` starts: after a leading UTF-8 byte-order mark, as `decodeLineRange`. */
export function lineTextStart(buffer: Buffer, start: number, end: number): number {
  return end - start >= 3 &&
    buffer[start] === 0xef &&
    buffer[start + 1] === 0xbb &&
    buffer[start + 2] === 0xbf
    ? start + 3
    : start;
}

/** Where the text of the line `buffer[start, end)` ends: before a trailing `\r`, as `decodeLineRange`. */
export function lineTextEnd(buffer: Buffer, start: number, end: number): number {
  return end > start && buffer[end - 1] === 0x0d ? end - 1 : end;
}

/**
 * Is `buffer[start, end)` valid UTF-8, i.e. does `toString('utf8')` give its text back without a U+FFFD? ASCII (the
 * common log line) is settled by a loop without allocating; from the first other byte on, `isUtf8` decides (on a
 * view: the rare line only).
 */
export function isUtf8Range(buffer: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if ((buffer[i] as number) >= 0x80) return isUtf8(buffer.subarray(i, end));
  }
  return true;
}

/** A byte range `[start, end)`, filled in by `lineTextAsBytes` (one object reused for every line). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The common line, for the byte path: true when the text `decodeLineRange` makes of `buffer[start, end)` is exactly
 * its bytes (valid UTF-8 once the `\r` and byte-order mark are cut), not empty and at most `maxBytes`, i.e. one
 * message equal to those bytes. Their range is left in `text`. False for any other line (the string path's).
 */
export function lineTextAsBytes(
  buffer: Buffer,
  start: number,
  end: number,
  maxBytes: number,
  text: ByteRange,
): boolean {
  const textEnd = lineTextEnd(buffer, start, end);
  const textStart = lineTextStart(buffer, start, textEnd);
  if (textEnd === textStart || textEnd - textStart > maxBytes || !isUtf8Range(buffer, textStart, textEnd))
    return false;
  text.start = textStart;
  text.end = textEnd;
  return true;
}

/** Bytes → text with U+FFFD for invalid UTF-8, nothing stripped. */
export function decodeBytes(bytes: Uint8Array): string {
  return pieceDecoder.decode(bytes);
}

/**
 * The longest prefix of `bytes` (cut on a character boundary) whose decoded text fits `maxBytes` once invalid
 * sequences are replaced (one bad byte becomes three bytes of U+FFFD).
 */
export function decodePrefixWithin(bytes: Uint8Array, maxBytes: number): { text: string; used: number } {
  let used = Math.min(bytes.length, maxBytes);
  for (;;) {
    const [piece] = cutUtf8(bytes.subarray(0, used), used);
    const candidate = piece ?? bytes.subarray(0, 0);
    const text = pieceDecoder.decode(candidate);
    const size = Buffer.byteLength(text);
    if (size <= maxBytes || candidate.length <= 1) return { text, used: candidate.length };
    used = Math.max(1, Math.floor((candidate.length * maxBytes) / size) - 1);
  }
}

/** ` [i/n]` for a part of a line whose length is known; ` [i/…]` for an early part of a line still being read. */
export function partMarker(index: number, total: number | null): string {
  return ` [${index}/${total ?? '…'}]`;
}

/** Cuts valid UTF-8 into pieces of at most `maxBytes`, never inside a character. */
export function cutUtf8(bytes: Uint8Array, maxBytes: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + maxBytes, bytes.length);
    if (end < bytes.length) {
      // Step back over continuation bytes (10xxxxxx) so the cut falls on a character boundary.
      let back = end;
      while (back > start && ((bytes[back] ?? 0) & 0xc0) === 0x80) back--;
      if (back > start) end = back;
    }
    pieces.push(bytes.subarray(start, end));
    start = end;
  }
  return pieces;
}

/** Bytes available for text in one part when a line must be split. */
export function partBudget(maxMessageBytes: number): number {
  return Math.max(16, maxMessageBytes - MARKER_RESERVE);
}

/**
 * A decoded line → the messages to send. Empty lines give nothing (an empty message poisons the server's file
 * destinations). `firstPart` continues the numbering when earlier parts of the same line were already sent.
 */
export function lineToMessages(text: string, maxMessageBytes: number, firstPart = 1): string[] {
  if (text === '') return [];
  if (firstPart === 1 && Buffer.byteLength(text) <= maxMessageBytes) return [text];
  const encoded = Buffer.from(text, 'utf8');
  const pieces = cutUtf8(encoded, partBudget(maxMessageBytes));
  const total = firstPart - 1 + pieces.length;
  return pieces.map((piece, i) => pieceDecoder.decode(piece) + partMarker(firstPart + i, total));
}
