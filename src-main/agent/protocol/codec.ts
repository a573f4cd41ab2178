/**
 * Wire codec (protocol.md §1–§2): every frame is a 2-byte big-endian payload length followed by a MessagePack
 * payload `[verb, uuid, data]`, data items being str or array of str.
 *
 * Decoding is as strict as the real server's `Tuple(String, String, PayloadType)` — and by default one notch
 * stricter: the top-level array must have exactly 3 elements and strings must be msgpack `str`. The real server was
 * observed (§14) to also accept a 4-element top-level array and `bin` strings; `serverCompatible: true` reproduces
 * that for the sandbox server. The agent itself never needs it: the server always sends 3-element `str` frames.
 */
import { DecodeError, Decoder, Encoder } from '@msgpack/msgpack';
import { type FrameData, type WireFrame } from '../../../src-shared/view-models';
import { ProtocolError } from './errors';

/** The length prefix is a u16: no payload can be larger, in either direction. */
export const MAX_PAYLOAD_BYTES = 65535;
export const FRAME_HEADER_BYTES = 2;
/** Default outgoing budget incl. the 2-byte header (the original README's "header + data ≤ 8 KiB"). */
export const DEFAULT_MAX_FRAME_BYTES = 8192;
/** Largest allowed `max_frame_bytes` setting: header + the largest u16 payload. */
export const MAX_FRAME_BYTES_LIMIT = MAX_PAYLOAD_BYTES + FRAME_HEADER_BYTES;

export interface DecodeOptions {
  /** Accept what the real server accepts beyond the spec: extra top-level elements (ignored) and `bin` strings. */
  serverCompatible?: boolean;
}

// One instance each, reused: constructing them per frame would dominate the cost of small frames.
const LIMITS = {
  maxStrLength: MAX_PAYLOAD_BYTES,
  maxArrayLength: MAX_PAYLOAD_BYTES,
  maxMapLength: 0,
  maxExtLength: 0,
  useBigInt64: false,
} as const;
const strictDecoder = new Decoder({ ...LIMITS, maxBinLength: 0 });
const serverCompatibleDecoder = new Decoder({ ...LIMITS, maxBinLength: MAX_PAYLOAD_BYTES });
/** The generic encoder, only for what the frame encoder below does not handle (malformed input from untyped code). */
let genericEncoder: Encoder | null = null;

/*
 * Frame encoder specialised for the only shape a frame has: fixarray(3) of [str, str, array of (str | array of
 * str)]. It writes straight into one scratch buffer and copies the result out once, with the exact bytes
 * @msgpack/msgpack produces (shortest str/array headers; strings of ≤ 50 UTF-16 units encoded by its JS loop, which
 * writes a lone surrogate as its own 3 bytes, longer ones like TextEncoder, which writes U+FFFD). A property test
 * holds the two byte-identical.
 */
/** Room for the largest payload plus the largest string that could still push it over (checked per string). */
const SCRATCH_BYTES = FRAME_HEADER_BYTES + MAX_PAYLOAD_BYTES + 8;
const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
/** @msgpack/msgpack's switch from its JS loop to TextEncoder (utf8Encode's TEXT_ENCODER_THRESHOLD). */
const JS_UTF8_MAX_UNITS = 50;

/** Returned by the writers below when the frame does not fit in the scratch buffer (or is not frame-shaped). */
const NOT_HANDLED = -1;

function writeStrHeader(buf: Buffer, pos: number, byteLength: number): number {
  if (byteLength < 32) {
    buf[pos] = 0xa0 + byteLength;
    return pos + 1;
  }
  if (byteLength < 0x100) {
    buf[pos] = 0xd9;
    buf[pos + 1] = byteLength;
    return pos + 2;
  }
  if (byteLength < 0x10000) {
    buf[pos] = 0xda;
    buf[pos + 1] = byteLength >>> 8;
    buf[pos + 2] = byteLength & 0xff;
    return pos + 3;
  }
  buf[pos] = 0xdb;
  buf.writeUInt32BE(byteLength, pos + 1);
  return pos + 5;
}

function writeArrayHeader(buf: Buffer, pos: number, length: number): number {
  if (length < 16) {
    buf[pos] = 0x90 + length;
    return pos + 1;
  }
  if (length < 0x10000) {
    buf[pos] = 0xdc;
    buf[pos + 1] = length >>> 8;
    buf[pos + 2] = length & 0xff;
    return pos + 3;
  }
  buf[pos] = 0xdd;
  buf.writeUInt32BE(length, pos + 1);
  return pos + 5;
}

/** UTF-8 length as @msgpack/msgpack's utf8Count computes it (a lone surrogate counts 3). */
function utf8CountJs(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const next = s.charCodeAt(i + 1);
        if ((next & 0xfc00) === 0xdc00) {
          i++;
          c = 0x10000;
        }
      }
      bytes += c >= 0x10000 ? 4 : 3;
    }
  }
  return bytes;
}

/** @msgpack/msgpack's utf8EncodeJs: the bytes it writes for strings of ≤ 50 units. */
function utf8WriteJs(s: string, buf: Buffer, pos: number): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
      continue;
    }
    if (c < 0x800) {
      buf[pos++] = ((c >> 6) & 0x1f) | 0xc0;
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const next = s.charCodeAt(i + 1);
        if ((next & 0xfc00) === 0xdc00) {
          i++;
          c = ((c & 0x3ff) << 10) + (next & 0x3ff) + 0x10000;
        }
      }
      if (c < 0x10000) {
        buf[pos++] = ((c >> 12) & 0x0f) | 0xe0;
        buf[pos++] = ((c >> 6) & 0x3f) | 0x80;
      } else {
        buf[pos++] = ((c >> 18) & 0x07) | 0xf0;
        buf[pos++] = ((c >> 12) & 0x3f) | 0x80;
        buf[pos++] = ((c >> 6) & 0x3f) | 0x80;
      }
    }
    buf[pos++] = (c & 0x3f) | 0x80;
  }
  return pos;
}

/** Writes one msgpack str at `pos`; NOT_HANDLED when it is not a string or would overflow the scratch buffer. */
function writeStr(s: unknown, pos: number): number {
  if (typeof s !== 'string') return NOT_HANDLED;
  const units = s.length;
  // Worst case 3 bytes per UTF-16 unit, plus the largest header.
  if (pos + 5 + units * 3 > SCRATCH_BYTES) {
    const exact = Buffer.byteLength(s, 'utf8');
    if (pos + 5 + exact > SCRATCH_BYTES) return NOT_HANDLED;
  }
  if (units <= JS_UTF8_MAX_UNITS) {
    let ascii = true;
    for (let i = 0; i < units; i++) {
      if (s.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      pos = writeStrHeader(scratch, pos, units);
      for (let i = 0; i < units; i++) scratch[pos + i] = s.charCodeAt(i);
      return pos + units;
    }
    pos = writeStrHeader(scratch, pos, utf8CountJs(s));
    return utf8WriteJs(s, scratch, pos);
  }
  // Longer strings: let the native writer produce the bytes right after room for the header, sized from the
  // UTF-16 length (≥ 51 bytes, so never a fixstr), instead of a separate UTF-8 counting pass.
  if (units * 3 < 0x100) {
    const n = scratch.write(s, pos + 2, 'utf8');
    scratch[pos] = 0xd9;
    scratch[pos + 1] = n;
    return pos + 2 + n;
  }
  if (units * 3 < 0x10000) {
    const n = scratch.write(s, pos + 3, 'utf8');
    if (n < 0x100) {
      // Fewer bytes than the str16 header assumed (e.g. an ASCII line of 86…255 characters): str8 it is.
      scratch.copy(scratch, pos + 2, pos + 3, pos + 3 + n);
      scratch[pos] = 0xd9;
      scratch[pos + 1] = n;
      return pos + 2 + n;
    }
    scratch[pos] = 0xda;
    scratch[pos + 1] = n >>> 8;
    scratch[pos + 2] = n & 0xff;
    return pos + 3 + n;
  }
  const byteLength = Buffer.byteLength(s, 'utf8');
  pos = writeStrHeader(scratch, pos, byteLength);
  return pos + scratch.write(s, pos, byteLength, 'utf8');
}

/** The payload of `frame` into `scratch` from offset 2; its end offset, or NOT_HANDLED. */
function writeFramePayload(frame: WireFrame): number {
  if (!Array.isArray(frame) || frame.length !== 3) return NOT_HANDLED;
  const data: unknown = frame[2];
  if (!Array.isArray(data)) return NOT_HANDLED;
  scratch[FRAME_HEADER_BYTES] = 0x93;
  let pos = writeStr(frame[0], FRAME_HEADER_BYTES + 1);
  if (pos === NOT_HANDLED) return NOT_HANDLED;
  pos = writeStr(frame[1], pos);
  if (pos === NOT_HANDLED || pos + 5 > SCRATCH_BYTES) return NOT_HANDLED;
  pos = writeArrayHeader(scratch, pos, data.length);
  for (let i = 0; i < data.length; i++) {
    const item: unknown = data[i];
    if (Array.isArray(item)) {
      if (pos + 5 > SCRATCH_BYTES) return NOT_HANDLED;
      pos = writeArrayHeader(scratch, pos, item.length);
      for (let j = 0; j < item.length; j++) {
        pos = writeStr(item[j], pos);
        if (pos === NOT_HANDLED) return NOT_HANDLED;
      }
    } else {
      pos = writeStr(item, pos);
      if (pos === NOT_HANDLED) return NOT_HANDLED;
    }
  }
  return pos;
}

function tooLarge(length: number): ProtocolError {
  return new ProtocolError(
    'too-large',
    `frame payload is ${length} bytes; the u16 length prefix allows 65535`,
  );
}

/** Encodes one frame as a single buffer (prefix + payload) so it can go out in exactly one `write`. */
export function encodeFrame(frame: WireFrame): Buffer {
  const bytes = encodeFrameTransient(frame);
  // The generic encoder's result is already the caller's own; the scratch view must be copied out.
  return bytes.buffer === scratch.buffer ? Buffer.from(bytes) : bytes;
}

/**
 * `encodeFrame` without the copy: a view of the encoder's scratch buffer, valid only until the next encode. For a
 * caller that copies the bytes elsewhere at once (the spool writes them straight into its staging buffer).
 */
export function encodeFrameTransient(frame: WireFrame): Buffer {
  const end = writeFramePayload(frame);
  if (end === NOT_HANDLED) return encodeFrameGeneric(frame);
  const length = end - FRAME_HEADER_BYTES;
  if (length > MAX_PAYLOAD_BYTES) throw tooLarge(length);
  scratch[0] = length >>> 8;
  scratch[1] = length & 0xff;
  return scratch.subarray(0, end);
}

// ---- `L` frames from line bytes -----------------------------------------------------------------------------------

/** Where `writeLogFrameFromBytes` leaves its frame: [0, returned length), valid only until the next encode. */
export const FRAME_SCRATCH: Buffer = scratch;

/** fixarray(3), fixstr(1) "L", str8(36) header of the UUID. */
const LOG_FRAME_START = [0x93, 0xa1, 0x4c, 0xd9, 36] as const;
/** Offset of the UUID text in an `L` frame (after the length prefix and LOG_FRAME_START). */
export const LOG_FRAME_UUID_OFFSET = FRAME_HEADER_BYTES + LOG_FRAME_START.length;
const LOG_FRAME_UUID_BYTES = 36;

/**
 * Group, server and service of an `L` frame as `encodeFrame` writes them (the three str items of its data array),
 * encoded once for every line of that service. Null when one is not a string the frame encoder handles.
 */
export function encodeLogFrameFields(groupId: string, serverId: string, service: string): Buffer | null {
  let pos = writeStr(groupId, 0);
  if (pos !== NOT_HANDLED) pos = writeStr(serverId, pos);
  if (pos !== NOT_HANDLED) pos = writeStr(service, pos);
  return pos === NOT_HANDLED ? null : Buffer.from(scratch.subarray(0, pos));
}

/**
 * `encodeFrameTransient(['L', uuid, [group, server, service, line]])` for a line that is already valid UTF-8 bytes,
 * `line[start, end)`, without making it a string: the frame goes into FRAME_SCRATCH, its length is returned, and
 * the caller writes the 36 ASCII bytes of the UUID at LOG_FRAME_UUID_OFFSET. `fields` comes from
 * `encodeLogFrameFields`. The bytes are those `encodeFrame` writes for the decoded line (shortest str header, the
 * bytes themselves), which a property test holds. Throws ProtocolError('too-large') past the u16 length prefix.
 */
export function writeLogFrameFromBytes(fields: Buffer, line: Buffer, start: number, end: number): number {
  const lineBytes = end - start;
  const lineHeaderBytes = lineBytes < 32 ? 1 : lineBytes < 0x100 ? 2 : lineBytes < 0x10000 ? 3 : 5;
  const payloadBytes =
    LOG_FRAME_START.length + LOG_FRAME_UUID_BYTES + 1 + fields.length + lineHeaderBytes + lineBytes;
  if (payloadBytes > MAX_PAYLOAD_BYTES) throw tooLarge(payloadBytes);
  scratch[0] = payloadBytes >>> 8;
  scratch[1] = payloadBytes & 0xff;
  let pos = FRAME_HEADER_BYTES;
  for (let i = 0; i < LOG_FRAME_START.length; i++) scratch[pos++] = LOG_FRAME_START[i] as number;
  pos += LOG_FRAME_UUID_BYTES;
  scratch[pos++] = 0x94;
  pos += fields.copy(scratch, pos);
  pos = writeStrHeader(scratch, pos, lineBytes);
  pos += line.copy(scratch, pos, start, end);
  return pos;
}

/** Anything the frame encoder does not take (oversized strings, values of other types) goes through msgpack. */
function encodeFrameGeneric(frame: WireFrame): Buffer {
  genericEncoder ??= new Encoder({ initialBufferSize: 8192 });
  const payload = genericEncoder.encodeSharedRef(frame);
  const length = payload.byteLength;
  if (length > MAX_PAYLOAD_BYTES) throw tooLarge(length);
  const out = Buffer.allocUnsafe(length + FRAME_HEADER_BYTES);
  out[0] = length >>> 8;
  out[1] = length & 0xff;
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

function isArrayHead(byte: number): boolean {
  return (byte >= 0x90 && byte <= 0x9f) || byte === 0xdc || byte === 0xdd;
}

function describeByte(byte: number): string {
  return '0x' + byte.toString(16).padStart(2, '0');
}

function mapDecodeError(e: unknown): ProtocolError {
  const message = e instanceof Error ? e.message : String(e);
  // Our limits turn maps, bin and ext into "Max length exceeded": types that never appear in a frame.
  if (e instanceof DecodeError && /^Max length exceeded: (map|bin|ext)/.test(message)) {
    return new ProtocolError('bad-type', `frame contains a msgpack type frames never use (${message})`, {
      cause: e,
    });
  }
  return new ProtocolError('bad-msgpack', `invalid MessagePack payload: ${message}`, { cause: e });
}

function badItem(where: string, value: unknown): ProtocolError {
  let kind: string = typeof value;
  if (value === null) kind = 'nil';
  else if (Array.isArray(value)) kind = 'array nested too deep';
  else if (value instanceof Uint8Array) kind = 'bin';
  else if (kind === 'object') kind = 'map/ext';
  return new ProtocolError('bad-type', `${where} must be a string, got ${kind}`);
}

/** Decodes one payload (without the length prefix) into a frame, or throws ProtocolError. */
export function decodePayload(payload: Uint8Array, options?: DecodeOptions): WireFrame {
  if (payload.length === 0) throw new ProtocolError('zero-length', 'zero-length frame');
  const serverCompatible = options?.serverCompatible === true;
  const head = payload[0] as number;
  // Cheap up-front shape check on the first byte: 0x93 = fixarray(3), the only head a strict frame can have.
  if (head !== 0x93) {
    if (!isArrayHead(head)) {
      throw new ProtocolError('bad-shape', `frame is not a msgpack array (first byte ${describeByte(head)})`);
    }
    if (!serverCompatible && head <= 0x9f) {
      throw new ProtocolError('bad-shape', `top-level array has ${head & 0x0f} elements, needs exactly 3`);
    }
  }
  let value: unknown;
  try {
    value = (serverCompatible ? serverCompatibleDecoder : strictDecoder).decode(payload);
  } catch (e) {
    throw mapDecodeError(e);
  }
  const top = value as unknown[];
  // array16/array32 heads are legal (if unusual) encodings of a 3-element array, so their length is checked here.
  if (top.length < 3 || (top.length > 3 && !serverCompatible)) {
    throw new ProtocolError('bad-shape', `top-level array has ${top.length} elements, needs exactly 3`);
  }
  let verb = top[0];
  let uuid = top[1];
  let data = top[2];
  if (serverCompatible) {
    verb = binToString(verb);
    uuid = binToString(uuid);
  }
  if (typeof verb !== 'string') throw badItem('verb', verb);
  if (typeof uuid !== 'string') throw badItem('uuid', uuid);
  if (!Array.isArray(data)) throw new ProtocolError('bad-shape', 'data (element 3) must be an array');
  if (serverCompatible) data = normalizeBinData(data);
  checkData(data as unknown[]);
  return [verb, uuid, data as FrameData];
}

function checkData(data: unknown[]): void {
  for (let i = 0; i < data.length; i++) {
    const item = data[i];
    if (typeof item === 'string') continue;
    if (!Array.isArray(item)) throw badItem(`data[${i}]`, item);
    for (let j = 0; j < item.length; j++) {
      if (typeof item[j] !== 'string') throw badItem(`data[${i}][${j}]`, item[j]);
    }
  }
}

function binToString(v: unknown): unknown {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8') : v;
}

function normalizeBinData(data: unknown[]): unknown[] {
  return data.map((item) => (Array.isArray(item) ? item.map(binToString) : binToString(item)));
}

/** Decodes exactly one complete frame (prefix + payload), e.g. a golden vector or one spooled record. */
export function decodeFrame(bytes: Uint8Array, options?: DecodeOptions): WireFrame {
  if (bytes.length < FRAME_HEADER_BYTES)
    throw new ProtocolError('bad-shape', 'frame shorter than its header');
  const length = ((bytes[0] as number) << 8) | (bytes[1] as number);
  if (length !== bytes.length - FRAME_HEADER_BYTES) {
    if (length === 0) throw new ProtocolError('zero-length', 'zero-length frame');
    throw new ProtocolError(
      'bad-shape',
      `length prefix says ${length} bytes but ${bytes.length - FRAME_HEADER_BYTES} follow`,
    );
  }
  return decodePayload(bytes.subarray(FRAME_HEADER_BYTES), options);
}

export interface FrameDecoderOptions extends DecodeOptions {
  /** Refuse payloads larger than this (default and maximum 65535). */
  maxPayloadBytes?: number;
}

/**
 * Streaming decoder: feed it socket chunks of any size (1-byte dribble, many frames per chunk) and get whole frames
 * back. Complete frames inside a chunk are decoded in place (no copy); only a frame split across chunks is
 * assembled in its own buffer. On malformed input `push` throws ProtocolError (with `framesBeforeError`); the stream
 * is desynchronised from then on, so every later `push` throws the same error until `reset()`.
 */
export class FrameDecoder {
  private readonly maxPayloadBytes: number;
  private readonly decodeOptions: DecodeOptions;
  /** First byte of a split length prefix, or -1. */
  private pendingHeaderByte = -1;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private failure: ProtocolError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    if (!Number.isInteger(max) || max < 1 || max > MAX_PAYLOAD_BYTES) {
      throw new RangeError(`maxPayloadBytes must be an integer in 1…${MAX_PAYLOAD_BYTES}, got ${max}`);
    }
    this.maxPayloadBytes = max;
    this.decodeOptions = { serverCompatible: options.serverCompatible === true };
  }

  /** Bytes of an incomplete frame held back until more data arrives. */
  get bufferedBytes(): number {
    if (this.pendingHeaderByte >= 0) return 1;
    return this.body ? FRAME_HEADER_BYTES + this.bodyFilled : 0;
  }

  reset(): void {
    this.pendingHeaderByte = -1;
    this.body = null;
    this.bodyFilled = 0;
    this.failure = null;
  }

  push(chunk: Uint8Array): WireFrame[] {
    if (this.failure) throw this.failure;
    const frames: WireFrame[] = [];
    try {
      this.consume(chunk, frames);
    } catch (e) {
      const error =
        e instanceof ProtocolError ? e : new ProtocolError('bad-msgpack', String(e), { cause: e });
      error.framesBeforeError = frames;
      this.failure = error;
      this.body = null;
      this.pendingHeaderByte = -1;
      throw error;
    }
    return frames;
  }

  private consume(chunk: Uint8Array, frames: WireFrame[]): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      if (this.body) {
        const take = Math.min(this.body.length - this.bodyFilled, end - pos);
        this.body.set(chunk.subarray(pos, pos + take), this.bodyFilled);
        this.bodyFilled += take;
        pos += take;
        if (this.bodyFilled === this.body.length) {
          const body = this.body;
          this.body = null;
          this.bodyFilled = 0;
          frames.push(decodePayload(body, this.decodeOptions));
        }
        continue;
      }
      let length: number;
      if (this.pendingHeaderByte >= 0) {
        length = (this.pendingHeaderByte << 8) | (chunk[pos] as number);
        this.pendingHeaderByte = -1;
        pos += 1;
      } else if (end - pos >= 2) {
        length = ((chunk[pos] as number) << 8) | (chunk[pos + 1] as number);
        pos += 2;
      } else {
        this.pendingHeaderByte = chunk[pos] as number;
        pos += 1;
        continue;
      }
      if (length === 0) throw new ProtocolError('zero-length', 'zero-length frame');
      if (length > this.maxPayloadBytes) {
        throw new ProtocolError(
          'too-large',
          `incoming frame of ${length} bytes exceeds ${this.maxPayloadBytes}`,
        );
      }
      if (end - pos >= length) {
        frames.push(decodePayload(chunk.subarray(pos, pos + length), this.decodeOptions));
        pos += length;
      } else {
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = 0;
      }
    }
  }
}
