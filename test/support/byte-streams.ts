// Generators shared by the decoder's property tests and the long fuzz run (scripts/fuzz-decoder.ts).
import fc from 'fast-check';
import { type WireFrame } from '../../src-shared/view-models';

/** Prefixes a payload with its 2-byte big-endian length (clamped, so oversize payloads make a lying prefix). */
export function withPrefix(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(payload.length + 2);
  out.writeUInt16BE(Math.min(payload.length, 0xffff), 0);
  out.set(payload, 2);
  return out;
}

/** Splits bytes at the given cut points (any values; taken modulo the length). */
export function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length ? c % bytes.length : 0)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  chunks.push(bytes.subarray(prev));
  return chunks;
}

/** Well-typed frames with arbitrary (binary-range) strings: what the codec must round-trip. */
export function frameArbitrary(maxText: number, maxData: number): fc.Arbitrary<WireFrame> {
  const text = fc.string({ unit: 'binary', maxLength: maxText });
  return fc.tuple(
    fc.string({ unit: 'binary', maxLength: 3 }),
    text,
    fc.array(fc.oneof(text, fc.array(text, { maxLength: 5 })), { maxLength: maxData }),
  );
}
