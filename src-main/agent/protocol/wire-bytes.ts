/**
 * Reading and re-identifying encoded frames without decoding them: the delivery pump forwards spooled frames as
 * their stored bytes, and decoding each one only to re-send the same bytes was the top cost of the pump.
 *
 * Every frame the core spools was validated and encoded by `encodeFrame` (protocol.md §2.2, msgpack), so its bytes
 * have this layout:
 *   0–1    length prefix, u16 big-endian (= total length − 2)
 *   2      0x93        fixarray of 3
 *   3      0xa1        fixstr of 1 byte, the verb at 4 (`L`, `T`, `R`)
 *   5–6    0xd9 0x24   str8 of 36 bytes: the UUID text at 7–42, its identifier (last 12 hex digits) at 31–42
 *   43…    the data array
 * Bytes in any other layout (another encoder, a damaged record) are not interpreted here: callers decode them.
 */
import { writeNewIdentifierHex } from './uuid';

const PREFIX_BYTES = 2;
const FIXARRAY_3 = 0x93;
const FIXSTR_1 = 0xa1;
const STR8 = 0xd9;
const UUID_TEXT_BYTES = 36;
const VERB_OFFSET = 4;
const UUID_TEXT_OFFSET = 7;
/** The identifier is the last 12 of the UUID's 36 characters. */
export const IDENTIFIER_OFFSET = UUID_TEXT_OFFSET + 24;
const DATA_OFFSET = UUID_TEXT_OFFSET + UUID_TEXT_BYTES;

/** One-character verbs as strings, so reading a verb allocates nothing. */
const ASCII_CHARS: string[] = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code));

/**
 * The verb of a whole frame in the spooled layout (length prefix matching, fixarray(3), one-byte ASCII verb, str8
 * UUID of 36 bytes followed by data), else null. O(1): it looks at the header only, not at the UUID text or the data
 * (the spool's CRC covers those; they were validated when spooled).
 */
export function spooledFrameVerb(bytes: Uint8Array): string | null {
  const length = bytes.length;
  if (length <= DATA_OFFSET) return null;
  if ((((bytes[0] as number) << 8) | (bytes[1] as number)) !== length - PREFIX_BYTES) return null;
  if (bytes[2] !== FIXARRAY_3 || bytes[3] !== FIXSTR_1) return null;
  if (bytes[5] !== STR8 || bytes[6] !== UUID_TEXT_BYTES) return null;
  const verb = bytes[VERB_OFFSET] as number;
  return verb < 0x80 ? (ASCII_CHARS[verb] as string) : null;
}

/**
 * A copy of a spooled frame with a fresh identifier in its UUID (same time bytes), i.e. the bytes of
 * `encodeFrame([verb, withNewIdentifier(uuid), data])` — only the 12 identifier digits differ from `bytes`. Null
 * when the bytes are not in the spooled layout or their UUID text is not canonical lowercase (the caller falls back
 * to decode → new identifier → encode). Never modifies `bytes` (it may be a view of a shared or in-flight buffer).
 */
export function withNewIdentifierBytes(bytes: Uint8Array): Buffer | null {
  if (spooledFrameVerb(bytes) === null) return null;
  if (!isCanonicalAsciiUuid(bytes, UUID_TEXT_OFFSET)) return null;
  const copy = Buffer.allocUnsafe(bytes.length);
  copy.set(bytes);
  writeNewIdentifierHex(copy, IDENTIFIER_OFFSET);
  return copy;
}

/** `isCanonicalUuid` on 36 bytes of ASCII text, without making a string of them. */
function isCanonicalAsciiUuid(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < UUID_TEXT_BYTES; i++) {
    const code = bytes[offset + i] as number;
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (code !== 0x2d) return false;
    } else if (!((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66))) {
      return false;
    }
  }
  return true;
}
