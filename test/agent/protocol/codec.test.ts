import { encode as rawEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  MAX_FRAME_BYTES_LIMIT,
  MAX_PAYLOAD_BYTES,
  decodeFrame,
  decodePayload,
  encodeFrame,
  encodeLogFrameFields,
  writeLogFrameFromBytes,
} from '../../../src-main/agent/protocol/codec';
import { ProtocolError, type ProtocolErrorCode } from '../../../src-main/agent/protocol/errors';
import { frameByteLength } from '../../../src-main/agent/protocol/validate';
import { chunked, frameArbitrary, withPrefix } from '../../support/byte-streams';

const UUID = '075bcd15-000e-d7ca-d9c0-0a1b2c3d4e5f';
const SERVER = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';
const LOG: WireFrame = ['L', UUID, ['test-group-2', SERVER, 'syslog', 'hello world']];
const RESULT: WireFrame = ['R', UUID, ['test-group-2', SERVER, UUID, ['out\n'], ['']]];

function codeOf(fn: () => unknown): ProtocolErrorCode | 'no error' | 'other error' {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return e instanceof ProtocolError ? e.code : 'other error';
  }
}

describe('encodeFrame', () => {
  it('writes a 2-byte big-endian length prefix and the payload in one buffer', () => {
    const bytes = encodeFrame(LOG);
    expect(bytes.readUInt16BE(0)).toBe(bytes.length - 2);
    expect(bytes.subarray(2)).toEqual(Buffer.from(rawEncode(LOG)));
    expect(bytes.subarray(2, 5).toString('hex')).toBe('93a14c'); // fixarray(3), fixstr "L"
  });

  it('returns an independent buffer each time (the encoder reuses its scratch space)', () => {
    const a = encodeFrame(LOG);
    const copy = Buffer.from(a);
    encodeFrame(RESULT);
    expect(a).toEqual(copy);
  });

  it('refuses a payload over 65535 bytes with ProtocolError too-large', () => {
    const big: WireFrame = ['L', UUID, ['g', SERVER, 's', 'x'.repeat(MAX_PAYLOAD_BYTES)]];
    expect(codeOf(() => encodeFrame(big))).toBe('too-large');
    // The largest payload that fits still encodes.
    const overhead = frameByteLength(['L', UUID, ['g', SERVER, 's', '']]) - 2;
    const fits: WireFrame = ['L', UUID, ['g', SERVER, 's', 'x'.repeat(MAX_PAYLOAD_BYTES - overhead - 2)]];
    expect(encodeFrame(fits).length).toBe(MAX_PAYLOAD_BYTES + 2);
    expect(DEFAULT_MAX_FRAME_BYTES).toBe(8192);
  });
});

describe('encodeFrame: the specialised frame encoder is byte-identical to @msgpack/msgpack', () => {
  // Hex strings: a deep toEqual of two 64 KiB buffers compares them index by index, far too slowly.
  /** What the generic encoder makes of the frame: prefix + payload as hex, or the error it ends in. */
  function reference(frame: WireFrame): string {
    const payload = rawEncode(frame);
    return payload.length > MAX_PAYLOAD_BYTES ? 'too-large' : withPrefix(payload).toString('hex');
  }
  function ours(frame: WireFrame): string {
    try {
      return encodeFrame(frame).toString('hex');
    } catch (e) {
      if (e instanceof ProtocolError && e.code === 'too-large') return 'too-large';
      throw e;
    }
  }
  // Lengths around every boundary that changes the bytes: fixstr/str8/str16 headers (31/32, 255/256 bytes), the
  // 50-unit switch between msgpack's JS UTF-8 loop and TextEncoder (they differ on lone surrogates), fixarray/array16.
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ unit: 'binary', minLength: 45, maxLength: 56 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 25, maxLength: 40 }),
    fc.string({ unit: 'binary-ascii', minLength: 240, maxLength: 300 }),
    fc.string({ unit: 'binary', minLength: 80, maxLength: 400 }),
    // A lone surrogate in a string of 30…70 units: the two UTF-8 paths write it differently.
    fc
      .tuple(
        fc.string({ unit: 'binary-ascii', minLength: 15, maxLength: 35 }),
        fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff'),
        fc.string({ unit: 'binary', minLength: 14, maxLength: 34 }),
      )
      .map(([a, lone, b]) => a + lone + b),
  );
  const frameOf = (text: fc.Arbitrary<string>): fc.Arbitrary<WireFrame> =>
    fc.tuple(
      fc.string({ unit: 'binary', maxLength: 3 }),
      text,
      fc.oneof(
        fc.array(fc.oneof(text, fc.array(text, { maxLength: 18 })), { maxLength: 18 }),
        // Around the fixarray/array16 boundary (15/16 elements), at both levels.
        fc.array(fc.oneof(text, fc.array(text, { minLength: 14, maxLength: 17 })), {
          minLength: 14,
          maxLength: 17,
        }),
      ),
    );

  it('for random frames (any code point, lone surrogates, every header size)', () => {
    fc.assert(
      fc.property(frameOf(anyText), (frame) => {
        expect(ours(frame)).toBe(reference(frame));
      }),
      { numRuns: 3000 },
    );
  });

  it('for frames of log lines near and beyond the largest payload', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_PAYLOAD_BYTES - 200, max: MAX_PAYLOAD_BYTES + 50 }),
        fc.constantFrom('x', 'é', '€', '😀', '\ud800'),
        (units, char) => {
          const frame: WireFrame = [
            'L',
            UUID,
            ['g', SERVER, 's', char.repeat(Math.ceil(units / char.length / 3))],
          ];
          const big: WireFrame = ['L', UUID, ['g', SERVER, 's', 'y'.repeat(units - 60)]];
          expect(ours(frame)).toBe(reference(frame));
          expect(ours(big)).toBe(reference(big));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('for every UTF-16 unit at a boundary of the UTF-8 encoding, alone, paired and at a string end', () => {
    // Random strings almost never hold these exact units; each changes how many bytes a unit takes, or whether two
    // units form one code point (a surrogate pair) in msgpack's JS loop (≤ 50 units) and in TextEncoder (longer).
    const units = [
      '\u007f',
      '\u0080',
      '\u07ff',
      '\u0800',
      '\ud7ff',
      '\ud800',
      '\udbff',
      '\udc00',
      '\udfff',
      '\ue000',
    ];
    const texts = new Set<string>();
    for (const a of units) {
      texts.add(a);
      texts.add(`x${a}`);
      for (const b of units) texts.add(a + b);
    }
    for (const text of [...texts]) texts.add('y'.repeat(60) + text); // past the 50-unit switch
    for (const text of texts) {
      const frame: WireFrame = ['L', UUID, ['g', SERVER, 's', text]];
      expect(ours(frame), JSON.stringify(text)).toBe(reference(frame));
    }
  });

  it('takes a payload of exactly the largest size and refuses one byte more, on each encoding path', () => {
    /** A frame whose payload is `payloadBytes` long; `odd` holds a number, which only the generic encoder takes. */
    const frameOf = (payloadBytes: number, odd = false): WireFrame => {
      const data = (text: string) => (odd ? ['g', SERVER, 7, text] : ['g', SERVER, 's', text]) as string[];
      const head = rawEncode(['L', UUID, data('x'.repeat(0x10000 - 1))]).length - (0x10000 - 1);
      return ['L', UUID, data('x'.repeat(payloadBytes - head))];
    };
    for (const odd of [false, true]) {
      expect(rawEncode(frameOf(MAX_PAYLOAD_BYTES, odd)).length).toBe(MAX_PAYLOAD_BYTES);
      expect(encodeFrame(frameOf(MAX_PAYLOAD_BYTES, odd)).length).toBe(MAX_PAYLOAD_BYTES + 2);
      expect(codeOf(() => encodeFrame(frameOf(MAX_PAYLOAD_BYTES + 1, odd)))).toBe('too-large');
    }
    // The byte path (a tailed line that is already UTF-8) has its own size check.
    const fields = encodeLogFrameFields('g', SERVER, 's') as Buffer;
    const line = (payloadBytes: number) => Buffer.from((frameOf(payloadBytes)[2][3] as string) ?? '');
    const exact = line(MAX_PAYLOAD_BYTES);
    expect(writeLogFrameFromBytes(fields, exact, 0, exact.length)).toBe(MAX_PAYLOAD_BYTES + 2);
    const over = line(MAX_PAYLOAD_BYTES + 1);
    expect(codeOf(() => writeLogFrameFromBytes(fields, over, 0, over.length))).toBe('too-large');
  });

  it('falls back to the generic encoder for values a frame never holds (same bytes, no crash)', () => {
    const odd = ['L', UUID, ['g', SERVER, 7, null, ['x', 1.5]]] as unknown as WireFrame;
    expect(encodeFrame(odd)).toEqual(withPrefix(rawEncode(odd)));
  });
});

describe('decodePayload: strict and typed errors', () => {
  const payload = (v: unknown): Uint8Array => rawEncode(v);
  const cases: Array<[string, Uint8Array, ProtocolErrorCode]> = [
    ['zero length', new Uint8Array(0), 'zero-length'],
    ['garbage', Buffer.from('93c1c1c1', 'hex'), 'bad-msgpack'],
    ['truncated msgpack', payload(LOG).subarray(0, 20), 'bad-msgpack'],
    ['trailing bytes after the frame', Buffer.concat([payload(LOG), Buffer.from([0])]), 'bad-msgpack'],
    ['top-level map', payload({ verb: 'L' }), 'bad-shape'],
    ['top-level string', payload('L'), 'bad-shape'],
    ['top-level integer', payload(7), 'bad-shape'],
    ['2-element array', payload(['L', UUID]), 'bad-shape'],
    ['4-element array', payload(['L', UUID, [], 'extra']), 'bad-shape'],
    ['data is a string', payload(['L', UUID, 'data']), 'bad-shape'],
    ['verb is an integer', payload([76, UUID, []]), 'bad-type'],
    ['uuid is nil', payload(['L', null, []]), 'bad-type'],
    ['integer inside data', payload(['L', UUID, ['g', 1]]), 'bad-type'],
    ['nil inside data', payload(['L', UUID, ['g', null]]), 'bad-type'],
    ['boolean inside data', payload(['L', UUID, [true]]), 'bad-type'],
    ['float inside data', payload(['L', UUID, [1.5]]), 'bad-type'],
    ['map inside data', payload(['L', UUID, [{ a: 'b' }]]), 'bad-type'],
    ['empty map inside data', payload(['L', UUID, [{}]]), 'bad-type'],
    ['bin inside data', payload(['L', UUID, [new Uint8Array([1, 2])]]), 'bad-type'],
    ['integer in a nested array', payload(['R', UUID, [['a', 2]]]), 'bad-type'],
    ['arrays nested too deep', payload(['R', UUID, [['a', ['b']]]]), 'bad-type'],
    // ['L', 'u', [fixext1(type 1, 0x00)]]
    ['ext inside data', Buffer.from('93a14ca17591d40100', 'hex'), 'bad-type'],
  ];
  it.each(cases)('%s → %s', (_label, bytes, code) => {
    expect(codeOf(() => decodePayload(bytes))).toBe(code);
  });

  it('accepts a 3-element array in array16 form and refuses a longer one', () => {
    const body = Buffer.from(rawEncode(['L', UUID, ['g']])).subarray(1);
    expect(decodePayload(Buffer.concat([Buffer.from([0xdc, 0, 3]), body]))).toEqual(['L', UUID, ['g']]);
    const four = Buffer.concat([Buffer.from([0xdc, 0, 4]), body, Buffer.from([0xa1, 0x78])]);
    expect(codeOf(() => decodePayload(four))).toBe('bad-shape');
    expect(decodePayload(four, { serverCompatible: true })).toEqual(['L', UUID, ['g']]);
  });

  it('decodes arrays of strings inside data and an empty data array', () => {
    expect(decodePayload(rawEncode(RESULT))).toEqual(RESULT);
    expect(decodePayload(rawEncode(['Q', UUID, []]))).toEqual(['Q', UUID, []]);
  });

  it('does not validate UUIDs (that is the caller’s job: server command UUIDs are v4, not Minion UUIDs)', () => {
    expect(decodePayload(rawEncode(['C', 'not-a-uuid', ['external', 'ls']]))[1]).toBe('not-a-uuid');
  });

  it('serverCompatible mode accepts what the real server accepted: 4-element arrays and bin strings', () => {
    const four = rawEncode(['L', UUID, ['g', 'x'], 'extra']);
    expect(decodePayload(four, { serverCompatible: true })).toEqual(['L', UUID, ['g', 'x']]);
    const bin = rawEncode(['L', UUID, [Buffer.from('héllo'), [Buffer.from('a')]]]);
    expect(decodePayload(bin, { serverCompatible: true })).toEqual(['L', UUID, ['héllo', ['a']]]);
    // …but still closes on everything else it rejects.
    expect(codeOf(() => decodePayload(rawEncode(['L', UUID]), { serverCompatible: true }))).toBe('bad-shape');
    expect(codeOf(() => decodePayload(rawEncode(['L', UUID, [1]]), { serverCompatible: true }))).toBe(
      'bad-type',
    );
  });

  it('decodeFrame checks that the prefix matches the body', () => {
    const bytes = encodeFrame(LOG);
    expect(decodeFrame(bytes)).toEqual(LOG);
    expect(codeOf(() => decodeFrame(bytes.subarray(0, bytes.length - 1)))).toBe('bad-shape');
    expect(codeOf(() => decodeFrame(Buffer.from([0, 0])))).toBe('zero-length');
  });
});

describe('FrameDecoder', () => {
  const stream = Buffer.concat([encodeFrame(LOG), encodeFrame(RESULT), encodeFrame(LOG)]);

  it('handles a 1-byte dribble', () => {
    const decoder = new FrameDecoder();
    const out: WireFrame[] = [];
    for (let i = 0; i < stream.length; i++) {
      out.push(...decoder.push(stream.subarray(i, i + 1)));
      if (i === 0) expect(decoder.bufferedBytes).toBe(1);
    }
    expect(out).toEqual([LOG, RESULT, LOG]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('handles many frames per chunk and a frame split across chunks', () => {
    const many = Buffer.concat(Array.from({ length: 100 }, () => stream));
    const decoder = new FrameDecoder();
    expect(decoder.push(many)).toHaveLength(300);
    const cut = encodeFrame(LOG).length + 10;
    expect(decoder.push(stream.subarray(0, cut))).toEqual([LOG]);
    expect(decoder.bufferedBytes).toBe(10);
    expect(decoder.push(stream.subarray(cut))).toEqual([RESULT, LOG]);
  });

  it('does not alias the caller’s chunk (the socket may reuse it)', () => {
    const decoder = new FrameDecoder();
    const chunk = Buffer.from(encodeFrame(LOG));
    const [frame] = decoder.push(chunk);
    chunk.fill(0);
    expect(frame).toEqual(LOG);
  });

  it('zero-length frame → zero-length; frames before it in the same chunk are kept on the error', () => {
    const decoder = new FrameDecoder();
    try {
      decoder.push(Buffer.concat([encodeFrame(LOG), Buffer.from([0, 0]), encodeFrame(LOG)]));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).code).toBe('zero-length');
      expect((e as ProtocolError).framesBeforeError).toEqual([LOG]);
    }
  });

  it('stays failed until reset() (the stream is desynchronised), then works again', () => {
    const decoder = new FrameDecoder();
    expect(codeOf(() => decoder.push(withPrefix(rawEncode({ a: 1 }))))).toBe('bad-shape');
    expect(codeOf(() => decoder.push(encodeFrame(LOG)))).toBe('bad-shape');
    decoder.reset();
    expect(decoder.push(encodeFrame(LOG))).toEqual([LOG]);
  });

  it('refuses frames above maxPayloadBytes before buffering them', () => {
    const decoder = new FrameDecoder({ maxPayloadBytes: 100 });
    expect(codeOf(() => decoder.push(Buffer.from([0x01, 0x00])))).toBe('too-large');
    expect(() => new FrameDecoder({ maxPayloadBytes: 70_000 })).toThrow(RangeError);
  });

  it('accepts the largest possible incoming payload (65535 bytes)', () => {
    const overhead = frameByteLength(['L', UUID, ['g', SERVER, 's', '']]) - 2;
    const frame: WireFrame = ['L', UUID, ['g', SERVER, 's', 'y'.repeat(MAX_PAYLOAD_BYTES - overhead - 2)]];
    const bytes = encodeFrame(frame);
    const decoder = new FrameDecoder();
    expect(decoder.push(bytes.subarray(0, 1000))).toEqual([]);
    expect(decoder.push(bytes.subarray(1000))).toEqual([frame]);
  });

  it('reset() drops a half-received frame', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame(LOG).subarray(0, 7));
    expect(decoder.bufferedBytes).toBe(7);
    decoder.reset();
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.push(encodeFrame(RESULT))).toEqual([RESULT]);
  });
});

// ---- properties ----------------------------------------------------------------------------------------------------

const frameArb = frameArbitrary(40, 20);

describe('properties', () => {
  it('encode → decode is the identity for random valid frames under random chunking', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (frames, cuts) => {
          const bytes = Buffer.concat(frames.map(encodeFrame));
          expect(frames.reduce((n, f) => n + frameByteLength(f), 0)).toBe(bytes.length);
          const decoder = new FrameDecoder();
          const out = chunked(bytes, cuts).flatMap((c) => decoder.push(c));
          expect(out).toEqual(frames);
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('100,000 random byte streams under random chunkings never crash the decoder (only ProtocolError)', () => {
    // Generating rich frames with fast-check costs far more than decoding them, so sample two corpora once (valid
    // frames, arbitrary msgpack values) and let each case pick, mutate, concatenate and re-chunk them cheaply.
    const validCorpus = fc.sample(frameArb, { numRuns: 300, seed: 7 }).map(encodeFrame);
    const garbageCorpus = fc.sample(fc.anything({ maxDepth: 3 }), { numRuns: 300, seed: 11 }).map((v) => {
      try {
        return withPrefix(rawEncode(v));
      } catch {
        return Buffer.from([0, 1, 0xc1]);
      }
    });
    const pick = (corpus: Buffer[]): fc.Arbitrary<Buffer> =>
      fc.nat(corpus.length - 1).map((i) => corpus[i] as Buffer);
    const validBytes = pick(validCorpus);
    // Mostly near-valid input, which reaches deep into the msgpack decoder; plain noise rarely gets past the prefix.
    const mutated = fc
      .tuple(validBytes, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }))
      .map(([bytes, edits]) => {
        const copy = Buffer.from(bytes);
        for (const [at, value] of edits) copy[2 + (at % Math.max(1, copy.length - 2))] = value;
        return copy;
      });
    const truncated = fc.tuple(validBytes, fc.nat()).map(([bytes, n]) => bytes.subarray(0, n % bytes.length));
    const prefixedNoise = fc.uint8Array({ minLength: 1, maxLength: 60 }).map(withPrefix);
    const noise = fc.uint8Array({ maxLength: 64 });
    const piece = fc.oneof(
      validBytes,
      mutated,
      mutated,
      truncated,
      prefixedNoise,
      pick(garbageCorpus),
      noise,
    );
    let protocolErrors = 0;
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (pieces, cuts) => {
          const decoder = new FrameDecoder();
          try {
            for (const chunk of chunked(Buffer.concat(pieces), cuts)) {
              for (const frame of decoder.push(chunk)) {
                // Whatever comes out is a well-typed frame.
                if (typeof frame[0] !== 'string' || typeof frame[1] !== 'string' || !Array.isArray(frame[2]))
                  return false;
              }
            }
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
            protocolErrors++;
          }
          return true;
        },
      ),
      { numRuns: 100_000 },
    );
    expect(protocolErrors).toBeGreaterThan(10_000); // the generators really do produce malformed input
  }, 60_000);
});

/** The error a call throws, as `code: message` (what the connection logs when it drops a peer). */
function failureOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return `${e.code}: ${e.message}`;
    if (e instanceof Error) return `${e.name}: ${e.message}`;
  }
  return 'no error';
}

describe('decode errors say what was wrong', () => {
  const payloadOf = (value: unknown): Uint8Array => rawEncode(value);

  it('names the offending item and its msgpack kind', () => {
    expect(failureOf(() => decodePayload(payloadOf([1, UUID, []])))).toBe(
      'bad-type: verb must be a string, got number',
    );
    expect(failureOf(() => decodePayload(payloadOf(['L', null, []])))).toBe(
      'bad-type: uuid must be a string, got nil',
    );
    expect(failureOf(() => decodePayload(payloadOf(['L', UUID, [['a', [1]]]])))).toBe(
      'bad-type: data[0][1] must be a string, got array nested too deep',
    );
    expect(failureOf(() => decodePayload(payloadOf(['L', UUID, ['g', true]])))).toBe(
      'bad-type: data[1] must be a string, got boolean',
    );
    expect(failureOf(() => decodePayload(payloadOf(['L', UUID, 'g'])))).toBe(
      'bad-shape: data (element 3) must be an array',
    );
    expect(failureOf(() => decodePayload(payloadOf(['L', UUID, ['g', new Uint8Array([104])]])))).toMatch(
      /^bad-type: frame contains a msgpack type frames never use \(Max length exceeded: bin/,
    );
    expect(failureOf(() => decodePayload(payloadOf(['L', UUID, [{ a: 1 }]])))).toMatch(
      /^bad-type: frame contains a msgpack type frames never use \(Max length exceeded: map/,
    );
    // In server-compatible mode bin is allowed at the top, but still not where a string list is nested in a map.
    expect(
      failureOf(() =>
        decodePayload(payloadOf(['L', new Uint8Array([1]).subarray(1), [[new Uint8Array(0), 5]]]), {
          serverCompatible: true,
        }),
      ),
    ).toBe('bad-type: data[0][1] must be a string, got number');
  });

  it('names arrays nested too deep in server-compatible mode too', () => {
    expect(
      failureOf(() =>
        decodePayload(payloadOf(['L', UUID, [['a', [new Uint8Array([1])]]]]), { serverCompatible: true }),
      ),
    ).toBe('bad-type: data[0][1] must be a string, got array nested too deep');
  });

  it('checks the top-level shape from the first byte', () => {
    expect(failureOf(() => decodePayload(Buffer.from([0xa1, 0x4c])))).toBe(
      'bad-shape: frame is not a msgpack array (first byte 0xa1)',
    );
    expect(failureOf(() => decodePayload(Buffer.from([0x05])))).toBe(
      'bad-shape: frame is not a msgpack array (first byte 0x05)',
    );
    expect(failureOf(() => decodePayload(payloadOf(['L', UUID])))).toBe(
      'bad-shape: top-level array has 2 elements, needs exactly 3',
    );
    expect(failureOf(() => decodePayload(payloadOf(['L', UUID, [], 'x'])))).toBe(
      'bad-shape: top-level array has 4 elements, needs exactly 3',
    );
    expect(failureOf(() => decodePayload(payloadOf(Array(15).fill('x'))))).toBe(
      'bad-shape: top-level array has 15 elements, needs exactly 3',
    );
    // array16 and array32 heads are legal encodings of 3 elements; their length is checked after decoding.
    const array16 = Buffer.concat([Buffer.from([0xdc, 0x00, 0x03]), Buffer.from(payloadOf(LOG)).subarray(1)]);
    expect(decodePayload(array16)).toEqual(LOG);
    const array32 = Buffer.concat([Buffer.from([0xdd, 0, 0, 0, 3]), Buffer.from(payloadOf(LOG)).subarray(1)]);
    expect(decodePayload(array32)).toEqual(LOG);
    const array16of2 = Buffer.concat([
      Buffer.from([0xdc, 0x00, 0x02]),
      Buffer.from(payloadOf(['L', UUID])).subarray(1),
    ]);
    expect(failureOf(() => decodePayload(array16of2))).toBe(
      'bad-shape: top-level array has 2 elements, needs exactly 3',
    );
    expect(failureOf(() => decodePayload(Buffer.from([0xde, 0x00, 0x00])))).toBe(
      'bad-shape: frame is not a msgpack array (first byte 0xde)',
    );
    // Refused from the first byte, before decoding: a short fixarray head is named even when its items are missing.
    expect(failureOf(() => decodePayload(Buffer.from([0x90])))).toBe(
      'bad-shape: top-level array has 0 elements, needs exactly 3',
    );
    expect(failureOf(() => decodePayload(Buffer.from([0x92])))).toBe(
      'bad-shape: top-level array has 2 elements, needs exactly 3',
    );
    expect(failureOf(() => decodePayload(Buffer.from([0x9f])))).toBe(
      'bad-shape: top-level array has 15 elements, needs exactly 3',
    );
    expect(failureOf(() => decodePayload(new Uint8Array(0)))).toBe('zero-length: zero-length frame');
    expect(failureOf(() => decodePayload(Buffer.from([0x93, 0xc1])))).toMatch(
      /^bad-msgpack: invalid MessagePack payload: /,
    );
  });

  it('checks the length prefix of a whole frame', () => {
    expect(failureOf(() => decodeFrame(Buffer.from([0x00])))).toBe(
      'bad-shape: frame shorter than its header',
    );
    expect(failureOf(() => decodeFrame(Buffer.from([0x00, 0x00, 0x93])))).toBe(
      'zero-length: zero-length frame',
    );
    expect(failureOf(() => decodeFrame(Buffer.from([0x00, 0x00])))).toBe('zero-length: zero-length frame');
    expect(failureOf(() => decodeFrame(Buffer.from([0x00, 0x05, 0x93, 0xa1])))).toBe(
      'bad-shape: length prefix says 5 bytes but 2 follow',
    );
    const bytes = encodeFrame(LOG);
    expect(decodeFrame(bytes)).toEqual(LOG);
  });
});

describe('FrameDecoder edges', () => {
  it('accepts a payload limit of 1…65535 only', () => {
    for (const bad of [0, -1, 1.5, MAX_PAYLOAD_BYTES + 1]) {
      expect(failureOf(() => new FrameDecoder({ maxPayloadBytes: bad }))).toBe(
        `RangeError: maxPayloadBytes must be an integer in 1…65535, got ${bad}`,
      );
    }
    expect(new FrameDecoder({ maxPayloadBytes: 1 }).bufferedBytes).toBe(0);
    expect(new FrameDecoder({ maxPayloadBytes: MAX_PAYLOAD_BYTES }).bufferedBytes).toBe(0);
  });

  it('refuses a frame over its limit, and a zero length, also when the prefix is split', () => {
    const frame = encodeFrame(LOG);
    const small = new FrameDecoder({ maxPayloadBytes: frame.length - 3 });
    expect(failureOf(() => small.push(frame))).toBe(
      `too-large: incoming frame of ${frame.length - 2} bytes exceeds ${frame.length - 3}`,
    );
    expect(new FrameDecoder({ maxPayloadBytes: frame.length - 2 }).push(frame)).toEqual([LOG]);
    const split = new FrameDecoder();
    expect(split.push(Buffer.from([0x00]))).toEqual([]);
    expect(split.bufferedBytes).toBe(1);
    expect(failureOf(() => split.push(Buffer.from([0x00])))).toBe('zero-length: zero-length frame');
    expect(failureOf(() => new FrameDecoder().push(Buffer.from([0x00, 0x00])))).toBe(
      'zero-length: zero-length frame',
    );
  });

  it('decodes a frame whose body arrives exactly with its prefix, or two bytes at a time', () => {
    const frame = encodeFrame(LOG);
    const exact = new FrameDecoder();
    expect(exact.push(frame)).toEqual([LOG]);
    expect(exact.bufferedBytes).toBe(0);
    const pairs = new FrameDecoder();
    const out: WireFrame[] = [];
    for (let i = 0; i < frame.length; i += 2) out.push(...pairs.push(frame.subarray(i, i + 2)));
    expect(out).toEqual([LOG]);
    // A two-byte chunk right after a one-byte one: the pending header byte is used once, then forgotten.
    const odd = new FrameDecoder();
    const again = Buffer.concat([frame, frame]);
    const got = [...odd.push(again.subarray(0, 1)), ...odd.push(again.subarray(1))];
    expect(got).toEqual([LOG, LOG]);
    expect(odd.bufferedBytes).toBe(0);
  });

  it('turns a bin verb and UUID into strings in server-compatible mode only', () => {
    const binHead = rawEncode([Buffer.from('L'), Buffer.from(UUID), ['g']]);
    expect(decodePayload(binHead, { serverCompatible: true })).toEqual(['L', UUID, ['g']]);
    expect(failureOf(() => decodePayload(binHead))).toMatch(/^bad-type: .*Max length exceeded: bin/);
  });

  it('keeps the msgpack error as the cause', () => {
    let error: unknown;
    try {
      decodePayload(rawEncode(['L', UUID, [{ a: 1 }]]));
    } catch (e) {
      error = e;
    }
    expect((error as ProtocolError).cause).toBeInstanceOf(Error);
    try {
      decodePayload(Buffer.from([0x93, 0xc1]));
    } catch (e) {
      error = e;
    }
    expect((error as ProtocolError).cause).toBeInstanceOf(Error);
    expect(MAX_FRAME_BYTES_LIMIT).toBe(65537);
  });

  it('decodes in server-compatible mode only when asked', () => {
    const four = withPrefix(rawEncode(['L', UUID, ['g'], 'extra']));
    expect(new FrameDecoder({ serverCompatible: true }).push(four)).toEqual([['L', UUID, ['g']]]);
    expect(failureOf(() => new FrameDecoder().push(four))).toBe(
      'bad-shape: top-level array has 4 elements, needs exactly 3',
    );
    expect(failureOf(() => new FrameDecoder({ serverCompatible: 'yes' as never }).push(four))).toBe(
      'bad-shape: top-level array has 4 elements, needs exactly 3',
    );
  });

  it('keeps failing after an error until reset, and keeps the frames decoded before it', () => {
    const decoder = new FrameDecoder();
    const bad = Buffer.concat([encodeFrame(LOG), Buffer.from([0x00, 0x00])]);
    let error: unknown;
    try {
      decoder.push(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).name).toBe('ProtocolError');
    expect((error as ProtocolError).framesBeforeError).toEqual([LOG]);
    expect(decoder.bufferedBytes).toBe(0);
    expect(() => decoder.push(encodeFrame(LOG))).toThrow(error as Error);
    decoder.reset();
    expect(decoder.push(encodeFrame(LOG))).toEqual([LOG]);
    expect(new ProtocolError('bad-shape', 'x').framesBeforeError).toEqual([]);
  });
});

describe('encodeFrame limits', () => {
  it('says how large a frame that cannot be framed is', () => {
    const huge: WireFrame = ['L', UUID, ['g', SERVER, 's', 'x'.repeat(MAX_PAYLOAD_BYTES)]];
    expect(failureOf(() => encodeFrame(huge))).toMatch(
      /^too-large: frame payload is \d+ bytes; the u16 length prefix allows 65535$/,
    );
  });
});
