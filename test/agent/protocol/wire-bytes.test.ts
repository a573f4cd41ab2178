import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { decodeFrame, encodeFrame } from '../../../src-main/agent/protocol/codec';
import { logFrame, resultFrame, telemetryFrame } from '../../../src-main/agent/protocol/frames';
import { isMinionUuid, newMinionUuid } from '../../../src-main/agent/protocol/uuid';
import { spooledFrameVerb, withNewIdentifierBytes } from '../../../src-main/agent/protocol/wire-bytes';

const GROUP = 'test-group-2';
const SERVER = '5d7a2c3e-1b4f-4e8a-9c6d-0f1e2d3c4b5a';

const fixtures = join(__dirname, '..', '..', 'fixtures');
const vectors = (
  JSON.parse(readFileSync(join(fixtures, 'frames.json'), 'utf8')) as {
    vectors: Array<{ id: string; name: string; frame: WireFrame; hex: string }>;
  }
).vectors;
/** The golden frames of the classes the core spools (L/T/R), as recorded bytes. */
const spoolable = vectors.filter((v) => ['L', 'T', 'R'].includes(v.frame[0]));

/** Frames around every header size of the data (fixstr/str8/str16 messages, fixarray/array16 telemetry). */
function builtFrames(): WireFrame[] {
  return [
    logFrame(GROUP, SERVER, 'syslog', 'x'),
    logFrame(GROUP, SERVER, 'syslog', 'é'.repeat(200)),
    logFrame(GROUP, SERVER, 'syslog', 'y'.repeat(40_000)),
    telemetryFrame(GROUP, SERVER, 'load_avg', ['0.1', '0.2', '0.3']),
    telemetryFrame(
      GROUP,
      SERVER,
      'many',
      Array.from({ length: 20 }, (_, i) => String(i)),
    ),
    resultFrame(GROUP, SERVER, newMinionUuid(), 'out', 'err'),
  ];
}

describe('spooledFrameVerb', () => {
  it('reads the verb of every golden L/T/R frame and of frames the core builds', () => {
    expect(spoolable.length).toBeGreaterThanOrEqual(3);
    for (const v of spoolable) expect(spooledFrameVerb(Buffer.from(v.hex, 'hex')), v.name).toBe(v.frame[0]);
    for (const f of builtFrames()) expect(spooledFrameVerb(encodeFrame(f))).toBe(f[0]);
  });

  it('is null for bytes not in the spooled layout', () => {
    const good = encodeFrame(logFrame(GROUP, SERVER, 'syslog', 'hello'));
    const altered = (at: number, value: number): Buffer => {
      const copy = Buffer.from(good);
      copy[at] = value;
      return copy;
    };
    expect(spooledFrameVerb(good.subarray(0, good.length - 1))).toBeNull(); // prefix disagrees
    expect(spooledFrameVerb(altered(0, 0xff))).toBeNull();
    expect(spooledFrameVerb(altered(2, 0x92))).toBeNull(); // fixarray(2)
    expect(spooledFrameVerb(altered(3, 0xa2))).toBeNull(); // 2-byte verb
    expect(spooledFrameVerb(altered(4, 0xc3))).toBeNull(); // not ASCII
    expect(spooledFrameVerb(altered(4, 0x80))).toBeNull();
    expect(spooledFrameVerb(altered(4, 0x7f))).toBe('\x7f');
    expect(spooledFrameVerb(altered(5, 0xda))).toBeNull(); // str16 UUID
    expect(spooledFrameVerb(altered(6, 35))).toBeNull(); // 35-byte UUID
    expect(spooledFrameVerb(Buffer.from([0x00, 0x01, 0xc1]))).toBeNull();
    // A header with nothing after the UUID is not a frame; one data byte more is the shortest that could be.
    const headerOnly = Buffer.from(good.subarray(0, 43));
    headerOnly.writeUInt16BE(41, 0);
    expect(spooledFrameVerb(headerOnly)).toBeNull();
    const oneMore = Buffer.from(good.subarray(0, 44));
    oneMore.writeUInt16BE(42, 0);
    expect(spooledFrameVerb(oneMore)).toBe('L');
    expect(spooledFrameVerb(new Uint8Array(0))).toBeNull();
  });
});

describe('withNewIdentifierBytes', () => {
  const samples = (): Array<{ label: string; bytes: Buffer }> => [
    ...spoolable.map((v) => ({ label: `${v.id} ${v.name}`, bytes: Buffer.from(v.hex, 'hex') })),
    ...builtFrames().map((f, i) => ({ label: `built #${i}`, bytes: encodeFrame(f) })),
  ];

  it('equals decode → withNewIdentifier → encode, differing from the input in the 12 identifier digits only', () => {
    for (const { label, bytes } of samples()) {
      const before = Buffer.from(bytes);
      const patched = withNewIdentifierBytes(bytes);
      expect(patched, label).not.toBeNull();
      const out = patched as Buffer;
      // The input is never touched (it may be a view of a shared or in-flight buffer).
      expect(Buffer.compare(bytes, before), label).toBe(0);
      const original = decodeFrame(bytes);
      const resent = decodeFrame(out);
      expect(resent[0]).toBe(original[0]);
      expect(resent[2]).toEqual(original[2]);
      expect(resent[1].slice(0, 24)).toBe(original[1].slice(0, 24));
      expect(resent[1]).not.toBe(original[1]);
      expect(isMinionUuid(resent[1]), resent[1]).toBe(true);
      // What decode → withNewIdentifier → encode gives for the identifier that was drawn.
      expect(out.toString('hex')).toBe(encodeFrame([original[0], resent[1], original[2]]).toString('hex'));
      const differing = [...out.keys()].filter((i) => out[i] !== bytes[i]);
      expect(Math.min(...differing), label).toBeGreaterThanOrEqual(31);
      expect(Math.max(...differing), label).toBeLessThanOrEqual(42);
    }
  });

  it('works on a view inside a larger buffer and leaves the buffer around it alone', () => {
    const frame = encodeFrame(logFrame(GROUP, SERVER, 'syslog', 'in a chunk'));
    const chunk = Buffer.concat([Buffer.from([1, 2, 3]), frame, Buffer.from([4, 5])]);
    const snapshot = Buffer.from(chunk);
    const view = chunk.subarray(3, 3 + frame.length);
    const out = withNewIdentifierBytes(view) as Buffer;
    expect(Buffer.compare(chunk, snapshot)).toBe(0);
    expect(decodeFrame(out)[2]).toEqual(decodeFrame(frame)[2]);
    expect(decodeFrame(out)[1]).not.toBe(decodeFrame(frame)[1]);
  });

  it('draws a different identifier every time, every one of its 12 digits', () => {
    const bytes = encodeFrame(logFrame(GROUP, SERVER, 'syslog', 'again and again'));
    const uuids = new Set(
      Array.from({ length: 2000 }, () => decodeFrame(withNewIdentifierBytes(bytes) as Buffer)[1]),
    );
    expect(uuids.size).toBe(2000);
    expect(uuids.has(decodeFrame(bytes)[1])).toBe(false);
    for (let digit = 24; digit < 36; digit++) {
      const seen = new Set([...uuids].map((u) => u[digit]));
      expect(seen.size, `identifier digit ${digit - 24}`).toBe(16);
    }
  });

  it('is null (the caller decodes) for a UUID that is not canonical lowercase, or bytes in another layout', () => {
    const bytes = encodeFrame(logFrame(GROUP, SERVER, 'syslog', 'hello'));
    for (const at of [7, 20, 35, 42]) {
      // The same digit position made uppercase or non-hex, in the time part and in the identifier.
      const upper = Buffer.from(bytes);
      upper[at] = 0x41; // 'A'
      expect(withNewIdentifierBytes(upper), `uppercase at ${at}`).toBeNull();
      const nonHex = Buffer.from(bytes);
      nonHex[at] = 0x67; // 'g'
      expect(withNewIdentifierBytes(nonHex), `non-hex at ${at}`).toBeNull();
    }
    const noDash = Buffer.from(bytes);
    noDash[7 + 8] = 0x30;
    expect(withNewIdentifierBytes(noDash)).toBeNull();
    expect(withNewIdentifierBytes(bytes.subarray(0, 40))).toBeNull();
    // A canonical UUID, but a header that is not the spooled layout.
    const wrongPrefix = Buffer.from(bytes);
    wrongPrefix.writeUInt16BE(bytes.length, 0);
    expect(withNewIdentifierBytes(wrongPrefix)).toBeNull();
  });
});
