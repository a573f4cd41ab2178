/**
 * Minion UUIDs (protocol.md §2.3): 16 bytes rendered lowercase 8-4-4-4-12.
 *   bytes 0–3   nanoseconds within the second, u32 BE (0 … 999 999 999)
 *   bytes 4–9   seconds since 0001-01-01T00:00:00Z, low 48 bits BE (= unix seconds + 62 135 596 800)
 *   bytes 10–15 6-byte identifier
 * The real server decodes the time of `L` frames and closes the connection when it is invalid, and the database
 * uses these UUIDs as primary keys, so every frame needs a real, unique Minion UUID.
 */
import { randomBytes } from 'node:crypto';
import { MinionUuidError } from './errors';

/** Seconds from 0001-01-01T00:00:00Z to the Unix epoch. */
export const UNIX_EPOCH_SINCE_0001 = 62_135_596_800;
/** Crystal's `Time` ends at 9999-12-31T23:59:59Z; a larger seconds field makes the server raise. */
export const MAX_SECONDS_SINCE_0001 = 315_537_897_599;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const TWO_POW_24 = 0x1000000;
const TWO_POW_48 = 2 ** 48;
const CANONICAL_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface MinionTime {
  /** Unix seconds (may be negative for dates before 1970). */
  seconds: bigint | number;
  /** Nanoseconds within the second, 0 … 999 999 999. */
  nanos: number;
}

export interface ParsedMinionUuid {
  nanos: number;
  /** Seconds since 0001-01-01T00:00:00Z. */
  seconds: bigint;
  identifier: Buffer;
  /** The timestamp as Unix epoch milliseconds (sub-millisecond part truncated). */
  unixMs: number;
}

/** Char code → value of a lowercase hex digit, -1 for anything else (codes ≥ 128 are checked before lookup). */
const LOWER_HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) LOWER_HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) LOWER_HEX[0x61 + i] = 10 + i;

function lowerHexValue(code: number): number {
  return code < 128 ? (LOWER_HEX[code] as number) : -1;
}

/**
 * Lowercase 8-4-4-4-12 hex, the only form the agent may put on the wire. Checked with char codes: it runs for
 * every outgoing frame, where a regex (or any allocation) per frame shows in the profile.
 */
export function isCanonicalUuid(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const code = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (code !== 0x2d) return false;
    } else if (lowerHexValue(code) < 0) {
      return false;
    }
  }
  return true;
}

/** Numeric value of the lowercase hex digits s[from, to) (at most 13 digits: exact as a double). */
function hexValue(s: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) value = value * 16 + lowerHexValue(s.charCodeAt(i));
  return value;
}

/** Canonical lowercase and a time the real server can decode (nanos < 10⁹, year ≤ 9999). */
export function isMinionUuid(s: string): boolean {
  return isCanonicalUuid(s) && canonicalUuidHasMinionTime(s);
}

/** For a string already known to be canonical: is its time one the real server can decode? */
export function canonicalUuidHasMinionTime(s: string): boolean {
  const nanos = hexValue(s, 0, 8);
  // Seconds: bytes 4–9 = the hex digits 9–12, 14–17 and 19–22.
  const seconds = (hexValue(s, 9, 13) * 0x10000 + hexValue(s, 14, 18)) * 0x10000 + hexValue(s, 19, 23);
  return nanos < 1_000_000_000 && seconds <= MAX_SECONDS_SINCE_0001;
}

/**
 * Mirrors the real server's `UUID.new(String)`: strip `-`, hex-decode, any case; odd length or non-hex raises there
 * (connection closed). Note a *short* hex string like `deadbeef` passes here and is exactly the §14 poison case.
 */
export function serverCanParseUuidString(s: string): boolean {
  const hex = s.replace(/-/g, '');
  return hex.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(hex);
}

// ---- clock -------------------------------------------------------------------------------------------------------

/**
 * Wall clock with nanosecond resolution: Date.now() anchored, the monotonic `performance.now()` (a double, so reading
 * it allocates nothing, unlike `process.hrtime()`'s array) for the sub-millisecond part. `readClock` leaves the time
 * in `clockUnixSeconds` / `clockNanos`: a UUID per log line must not cost an object per line.
 */
let anchorWallMs = Date.now();
let anchorMonotonicMs = performance.now();
let clockUnixSeconds = 0;
let clockNanos = 0;

function readClock(): void {
  const elapsedNanos = Math.floor((performance.now() - anchorMonotonicMs) * 1_000_000);
  let unixSeconds = Math.floor(anchorWallMs / 1000);
  let nanos = (anchorWallMs % 1000) * 1_000_000 + elapsedNanos;
  if (nanos >= 1_000_000_000) {
    const carry = Math.floor(nanos / 1_000_000_000);
    unixSeconds += carry;
    nanos -= carry * 1_000_000_000;
  }
  // Keep the result inside the current Date.now() millisecond: re-anchor when the monotonic clock drifted from the
  // wall clock (NTP slew or step, suspend). A UUID's time thus never reads back earlier or later than Date.now()
  // around it.
  const wallNow = Date.now();
  if (unixSeconds * 1000 + Math.floor(nanos / 1_000_000) !== wallNow) {
    anchorWallMs = wallNow;
    anchorMonotonicMs = performance.now();
    unixSeconds = Math.floor(wallNow / 1000);
    nanos = (wallNow % 1000) * 1_000_000;
  }
  clockUnixSeconds = unixSeconds;
  clockNanos = nanos;
}

// ---- identifiers -------------------------------------------------------------------------------------------------

/*
 * Identifiers are a keyed 4-round Feistel permutation of a per-process counter over 48 bits. A permutation of a
 * counter can never repeat within the process (strict uniqueness, even at the same nanosecond), and the random key
 * makes the bytes look random and differ between processes, like the original agent's random bytes.
 */
const FEISTEL_SEED = randomBytes(16);
const FEISTEL_KEYS: number[] = [0, 1, 2, 3].map((i) => FEISTEL_SEED.readUInt32BE(i * 4));
/*
 * The 48-bit counter lives in a Float64Array: a module variable holding a number beyond the small-integer range
 * would be a new heap number at every increment (one per log line); an element store allocates nothing.
 */
const identifierCounter = Float64Array.of(randomBytes(6).readUIntBE(0, 6));

function feistelRound(half: number, key: number): number {
  let x = Math.imul(half ^ key, 0x9e3779b1);
  x ^= x >>> 15;
  x = Math.imul(x, 0x85ebca6b);
  return (x >>> 8) & 0xffffff;
}

/** Set by `nextIdentifier`: the new identifier's two 24-bit halves (module state: no array per identifier). */
let identifierHigh = 0;
let identifierLow = 0;

/** Advances to the next identifier, left in `identifierHigh` / `identifierLow`. */
function nextIdentifier(): void {
  const incremented = (identifierCounter[0] as number) + 1;
  const counter = incremented >= TWO_POW_48 ? 0 : incremented;
  identifierCounter[0] = counter;
  let left = Math.floor(counter / TWO_POW_24);
  let right = counter % TWO_POW_24;
  for (let round = 0; round < 4; round++) {
    const next = left ^ feistelRound(right, FEISTEL_KEYS[round] ?? 0);
    left = right;
    right = next;
  }
  identifierHigh = left;
  identifierLow = right;
}

// ---- rendering ---------------------------------------------------------------------------------------------------

function hex24(v: number): string {
  return (HEX[(v >>> 16) & 255] as string) + HEX[(v >>> 8) & 255] + HEX[v & 255];
}

/** Char codes of the lowercase hex digits. */
const HEX_DIGIT_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/**
 * The UUID text is written here as ASCII and made a string once: a per-line UUID built by concatenating its 17
 * pieces allocated ~0.7 KB of intermediate strings (a third of the agent's allocation per log line).
 */
const RENDER_SCRATCH = Buffer.alloc(36, 0x2d);

/**
 * Writes `v` as `digits` lowercase hex digits into the UUID text at target[base, base + 36), ending before its
 * position `end`, skipping the dashes' positions.
 */
function writeHexDigits(target: Uint8Array, base: number, end: number, v: number, digits: number): void {
  let at = end;
  for (let i = 0; i < digits; i++) {
    at--;
    if (at === 8 || at === 13 || at === 18 || at === 23) at--;
    target[base + at] = HEX_DIGIT_CODES[v % 16] as number;
    v = Math.floor(v / 16);
  }
}

/** The 36 ASCII bytes of the UUID text into target[base, base + 36), dashes included. */
function renderInto(
  target: Uint8Array,
  base: number,
  nanos: number,
  seconds0001: number,
  idHigh: number,
  idLow: number,
): void {
  // 8-4-4-4-12: nanos (8 digits), seconds (12 digits across the next three groups), identifier (12 digits).
  target[base + 8] = 0x2d;
  target[base + 13] = 0x2d;
  target[base + 18] = 0x2d;
  target[base + 23] = 0x2d;
  writeHexDigits(target, base, 36, idLow, 6);
  writeHexDigits(target, base, 30, idHigh, 6);
  writeHexDigits(target, base, 23, seconds0001, 12);
  writeHexDigits(target, base, 8, nanos, 8);
}

function render(nanos: number, seconds0001: number, idHigh: number, idLow: number): string {
  renderInto(RENDER_SCRATCH, 0, nanos, seconds0001, idHigh, idLow);
  return RENDER_SCRATCH.toString('latin1', 0, 36);
}

function checkNanos(nanos: number): void {
  if (!Number.isInteger(nanos) || nanos < 0 || nanos >= 1_000_000_000) {
    throw new MinionUuidError(`nanoseconds must be an integer in 0…999999999, got ${nanos}`);
  }
}

function secondsSince0001(unixSeconds: number | bigint): number {
  const s = typeof unixSeconds === 'bigint' ? Number(unixSeconds) : unixSeconds;
  const since = s + UNIX_EPOCH_SINCE_0001;
  if (!Number.isInteger(since) || since < 0 || since > MAX_SECONDS_SINCE_0001) {
    throw new MinionUuidError(`time out of range for a Minion UUID: unix seconds ${String(unixSeconds)}`);
  }
  return since;
}

/**
 * A fresh Minion UUID for the current UTC time (or `now`, Unix seconds + nanos, for tests/replays) with a new
 * 6-byte identifier. Strictly unique within the process.
 */
export function newMinionUuid(now?: MinionTime): string {
  const since = takeTime(now);
  nextIdentifier();
  return render(takenNanos, since, identifierHigh, identifierLow);
}

/** Set by `takeTime`: the nanoseconds of the next UUID (module state, like the clock's). */
let takenNanos = 0;

/**
 * `now` (checked) or the clock's current time: returns its seconds since 0001 and leaves its nanoseconds in
 * `takenNanos`. (The seconds are returned, not kept in a module variable: beyond a small integer, every store
 * there would be a new heap number.)
 */
function takeTime(now: MinionTime | undefined): number {
  if (now) {
    checkNanos(now.nanos);
    takenNanos = now.nanos;
    return secondsSince0001(now.seconds);
  }
  readClock();
  takenNanos = clockNanos;
  return clockUnixSeconds + UNIX_EPOCH_SINCE_0001;
}

/** Length of a rendered UUID: 32 hex digits and 4 dashes, one ASCII byte each. */
export const MINION_UUID_TEXT_BYTES = 36;

/**
 * `newMinionUuid` written as its 36 ASCII bytes into target[offset, offset + 36) instead of made a string: the
 * byte-level log path puts it straight into the frame it encodes (a string per log line was 5 % of the burst's
 * allocation).
 */
export function writeNewMinionUuid(target: Uint8Array, offset: number, now?: MinionTime): void {
  const since = takeTime(now);
  nextIdentifier();
  renderInto(target, offset, takenNanos, since, identifierHigh, identifierLow);
}

function identifierHalves(identifier: Uint8Array | string): [number, number] {
  let bytes: Uint8Array;
  if (typeof identifier === 'string') {
    if (!/^[0-9a-fA-F]{12}$/.test(identifier)) {
      throw new MinionUuidError(`identifier must be 12 hex digits, got ${JSON.stringify(identifier)}`);
    }
    bytes = Buffer.from(identifier, 'hex');
  } else {
    bytes = identifier;
  }
  if (bytes.length !== 6) throw new MinionUuidError(`identifier must be 6 bytes, got ${bytes.length}`);
  const b = (i: number): number => bytes[i] ?? 0;
  return [(b(0) << 16) | (b(1) << 8) | b(2), (b(3) << 16) | (b(4) << 8) | b(5)];
}

/** Deterministic construction from parts (test vectors). `identifier`: 6 bytes or 12 hex digits. */
export function minionUuidFromParts(
  unixSeconds: number | bigint,
  nanos: number,
  identifier: Uint8Array | string,
): string {
  checkNanos(nanos);
  const [hi, lo] = identifierHalves(identifier);
  return render(nanos, secondsSince0001(unixSeconds), hi, lo);
}

/**
 * Parses a Minion UUID (canonical 8-4-4-4-12, either case). Throws MinionUuidError when the string is not one,
 * including random v4 UUIDs whose "time" is invalid (server command UUIDs: never decode their time).
 */
export function parseMinionUuid(s: string): ParsedMinionUuid {
  if (!CANONICAL_ANY_CASE.test(s)) throw new MinionUuidError(`not a canonical UUID: ${JSON.stringify(s)}`);
  const bytes = Buffer.from(s.replace(/-/g, ''), 'hex');
  const nanos = bytes.readUInt32BE(0);
  const secondsNum = bytes.readUIntBE(4, 6);
  if (nanos >= 1_000_000_000)
    throw new MinionUuidError(`not a Minion UUID (nanoseconds ${nanos} ≥ 10⁹): ${s}`);
  if (secondsNum > MAX_SECONDS_SINCE_0001) {
    throw new MinionUuidError(`not a Minion UUID (seconds ${secondsNum} beyond year 9999): ${s}`);
  }
  return {
    nanos,
    seconds: BigInt(secondsNum),
    identifier: bytes.subarray(10, 16),
    unixMs: (secondsNum - UNIX_EPOCH_SINCE_0001) * 1000 + Math.floor(nanos / 1_000_000),
  };
}

function writeHex24(target: Uint8Array, offset: number, v: number): void {
  for (let i = 5; i >= 0; i--) {
    target[offset + i] = HEX_DIGIT_CODES[v & 15] as number;
    v >>>= 4;
  }
}

/** Value of the 6 lowercase hex digits at target[offset, offset + 6), or -1 when one is not one. */
function hex24At(target: Uint8Array, offset: number): number {
  let value = 0;
  for (let i = offset; i < offset + 6; i++) {
    const digit = lowerHexValue(target[i] as number);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/**
 * `withNewIdentifier` on UUID text that is already bytes (an encoded frame): overwrites the 12 lowercase hex digits
 * of the identifier at target[offset, offset + 12) with a fresh identifier that differs from the one there. The
 * caller has checked the UUID is canonical lowercase.
 */
export function writeNewIdentifierHex(target: Uint8Array, offset: number): void {
  const oldHigh = hex24At(target, offset);
  const oldLow = hex24At(target, offset + 6);
  for (;;) {
    nextIdentifier();
    if (identifierHigh === oldHigh && identifierLow === oldLow) continue;
    writeHex24(target, offset, identifierHigh);
    writeHex24(target, offset + 6, identifierLow);
    return;
  }
}

/**
 * Same time bytes (0–9), new identifier (10–15): a re-sent frame keeps its original time but cannot collide with
 * the copy the server may already have stored (a duplicate fails the server's whole insert batch, §14).
 */
export function withNewIdentifier(uuid: string): string {
  if (!CANONICAL_ANY_CASE.test(uuid))
    throw new MinionUuidError(`not a canonical UUID: ${JSON.stringify(uuid)}`);
  const prefix = uuid.slice(0, 24).toLowerCase();
  const old = uuid.slice(24).toLowerCase();
  for (;;) {
    nextIdentifier();
    const id = hex24(identifierHigh) + hex24(identifierLow);
    if (id !== old) return prefix + id;
  }
}
