import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ByteRange,
  decodeLineRange,
  lineTextAsBytes,
  lineToMessages,
} from '../../../src-main/agent/logs/lines';
import {
  encodeFrame,
  FRAME_SCRATCH,
  LOG_FRAME_UUID_OFFSET,
  MAX_FRAME_BYTES_LIMIT,
} from '../../../src-main/agent/protocol/codec';
import { ProtocolError } from '../../../src-main/agent/protocol/errors';
import { logFrame } from '../../../src-main/agent/protocol/frames';
import { LogFrameBytesEncoder } from '../../../src-main/agent/protocol/log-frame-bytes';
import { isMinionUuid, newMinionUuid } from '../../../src-main/agent/protocol/uuid';

const SERVER = newMinionUuid();
const BOM = [0xef, 0xbb, 0xbf];

/** The text bytes of a line as `decodeLineRange` cuts it: trailing `\r`, then a leading byte-order mark. */
function trimmedBytes(line: Buffer): Buffer {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0d) end--;
  const start = end >= 3 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf ? 3 : 0;
  return line.subarray(start, end);
}

/** The frame the byte path encodes, copied out of the scratch; or the error it threw. */
function bytePathFrame(
  encoder: LogFrameBytesEncoder,
  service: string,
  line: Buffer,
  range: ByteRange,
): Buffer | Error {
  try {
    const length = encoder.encode(service, line, range.start, range.end);
    expect(length).toBeGreaterThan(0);
    return Buffer.from(FRAME_SCRATCH.subarray(0, length));
  } catch (e) {
    return e as Error;
  }
}

/** `encodeFrame(logFrame(...))` of the string path's text with the given UUID; or the error it threw. */
function stringPathFrame(group: string, service: string, text: string, uuid: string): Buffer | Error {
  const frame = logFrame(group, SERVER, service, text);
  frame[1] = uuid;
  try {
    return encodeFrame(frame);
  } catch (e) {
    return e as Error;
  }
}

const asciiText = fc.string({ unit: 'binary-ascii', maxLength: 300 });
const anyText = fc.string({ unit: 'binary', maxLength: 200 });
/** ASCII lines whose length sits on a str header boundary (fixstr/str8/str16/beyond the u16 prefix). */
const boundaryText = fc
  .tuple(
    fc.constantFrom(31, 32, 33, 255, 256, 257, 65_535 - 60, 65_535, 65_536),
    fc.integer({ min: -2, max: 2 }),
    fc.constantFrom('', 'é', '€', '😀'),
  )
  .map(([length, delta, tail]) => 'x'.repeat(Math.max(0, length + delta - Buffer.byteLength(tail))) + tail);
const validBytes = fc
  .oneof(
    { weight: 4, arbitrary: asciiText },
    { weight: 3, arbitrary: anyText },
    { weight: 1, arbitrary: boundaryText },
  )
  .map((s) => Buffer.from(s, 'utf8'));
/** Valid bytes with one invalid sequence put in: a stray continuation, 0xff, a cut lead byte, a surrogate, overlong. */
const invalidBytes = fc
  .tuple(
    validBytes,
    fc.nat(),
    fc.constantFrom([0x80], [0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf5, 0x80]),
  )
  .map(([bytes, at, bad]) => {
    const cut = bytes.length === 0 ? 0 : at % (bytes.length + 1);
    return Buffer.concat([bytes.subarray(0, cut), Buffer.from(bad), bytes.subarray(cut)]);
  });
const lineBytes = fc
  .tuple(
    fc.oneof(
      { weight: 5, arbitrary: validBytes },
      { weight: 2, arbitrary: invalidBytes },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
      { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(0), Buffer.from('\r'), Buffer.from(BOM)) },
    ),
    fc.boolean(),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([body, bom, cr, innerCr]) =>
    Buffer.concat([
      Buffer.from(bom ? BOM : []),
      innerCr ? Buffer.concat([Buffer.from('a\rb'), body]) : body,
      Buffer.from(cr ? '\r' : ''),
    ]),
  );
const budget = (line: Buffer) =>
  fc.oneof(
    fc.integer({ min: 40, max: MAX_FRAME_BYTES_LIMIT }),
    fc.integer({ min: Math.max(40, line.length - 4), max: Math.max(40, line.length + 1) }),
  );

describe('L frames from line bytes (the tailer → spool byte path)', () => {
  it('either takes the line and encodes what encodeFrame(logFrame(…)) gives with the same UUID, or leaves it to the string path', () => {
    let taken = 0;
    let declined = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('test-group', 'grüppe', 'g'.repeat(40)),
        fc.oneof(
          fc.constantFrom('app', 'syslog'),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }),
        ),
        lineBytes.chain((line) => fc.tuple(fc.constant(line), budget(line))),
        (group, service, [line, maxBytes]) => {
          const encoder = new LogFrameBytesEncoder(group, SERVER);
          const range: ByteRange = { start: -1, end: -1 };
          const text = decodeLineRange(line, 0, line.length);
          const isTaken = lineTextAsBytes(line, 0, line.length, maxBytes, range);
          // Taken exactly when the string path would send one message whose bytes are the line's text bytes.
          const textIsTheBytes = Buffer.from(text, 'utf8').equals(trimmedBytes(line));
          expect(isTaken).toBe(text !== '' && Buffer.byteLength(text) <= maxBytes && textIsTheBytes);
          if (!isTaken) {
            declined++;
            return;
          }
          taken++;
          expect(lineToMessages(text, maxBytes)).toEqual([text]);
          expect(line.subarray(range.start, range.end).equals(trimmedBytes(line))).toBe(true);
          const ours = bytePathFrame(encoder, service, line, range);
          const uuid =
            ours instanceof Buffer
              ? ours.toString('latin1', LOG_FRAME_UUID_OFFSET, LOG_FRAME_UUID_OFFSET + 36)
              : newMinionUuid();
          const reference = stringPathFrame(group, service, text, uuid);
          if (ours instanceof Error || reference instanceof Error) {
            // Past the u16 length prefix: both refuse it the same way.
            expect(ours).toBeInstanceOf(ProtocolError);
            expect(reference).toBeInstanceOf(ProtocolError);
            expect((ours as ProtocolError).code).toBe('too-large');
            expect((reference as ProtocolError).code).toBe('too-large');
            return;
          }
          expect(isMinionUuid(uuid)).toBe(true);
          expect(ours.equals(reference)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
    // Both sides of the property were exercised.
    expect(taken).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(300);
  });

  it('writes the str header boundaries 31/32, 255/256 and 65535 like encodeFrame', () => {
    const encoder = new LogFrameBytesEncoder('test-group', SERVER);
    for (const length of [1, 31, 32, 255, 256, 65_535 - 200]) {
      const line = Buffer.from('y'.repeat(length));
      const ours = bytePathFrame(encoder, 'app', line, { start: 0, end: length });
      expect(ours).toBeInstanceOf(Buffer);
      const uuid = (ours as Buffer).toString('latin1', LOG_FRAME_UUID_OFFSET, LOG_FRAME_UUID_OFFSET + 36);
      expect(
        (ours as Buffer).equals(stringPathFrame('test-group', 'app', line.toString(), uuid) as Buffer),
      ).toBe(true);
    }
    const tooLong = Buffer.from('z'.repeat(65_535));
    expect(bytePathFrame(encoder, 'app', tooLong, { start: 0, end: tooLong.length })).toMatchObject({
      code: 'too-large',
    });
  });

  it('encodes a range inside a larger buffer, and gives every line a fresh UUID', () => {
    const encoder = new LogFrameBytesEncoder('test-group', SERVER);
    const buffer = Buffer.from('first\nsecond line\nthird');
    const a = bytePathFrame(encoder, 'app', buffer, { start: 6, end: 17 }) as Buffer;
    const b = bytePathFrame(encoder, 'app', buffer, { start: 6, end: 17 }) as Buffer;
    const uuidOf = (frame: Buffer) =>
      frame.toString('latin1', LOG_FRAME_UUID_OFFSET, LOG_FRAME_UUID_OFFSET + 36);
    expect(uuidOf(a)).not.toBe(uuidOf(b));
    expect(a.equals(stringPathFrame('test-group', 'app', 'second line', uuidOf(a)) as Buffer)).toBe(true);
  });

  it('leaves services validation refuses to the string path (-1), which reports the refusal as before', () => {
    expect(new LogFrameBytesEncoder('test-group', SERVER).encode('', Buffer.from('x'), 0, 1)).toBe(-1);
    expect(new LogFrameBytesEncoder('', SERVER).encode('app', Buffer.from('x'), 0, 1)).toBe(-1);
    expect(new LogFrameBytesEncoder('test-group', 'not-a-uuid').encode('app', Buffer.from('x'), 0, 1)).toBe(
      -1,
    );
  });
});
