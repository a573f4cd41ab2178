import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { MinionUuidError } from '../../../src-main/agent/protocol/errors';
import {
  UNIX_EPOCH_SINCE_0001,
  isCanonicalUuid,
  isMinionUuid,
  minionUuidFromParts,
  newMinionUuid,
  parseMinionUuid,
  serverCanParseUuidString,
  withNewIdentifier,
  writeNewMinionUuid,
} from '../../../src-main/agent/protocol/uuid';

interface UuidVector {
  seconds_since_0001?: number;
  utc?: string;
  nanos: number;
  identifier: string;
  expect: string;
}
const vectors = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'frames.json'), 'utf8')) as {
    uuids: { vectors: UuidVector[] };
  }
).uuids.vectors;

function unixSecondsOf(v: UuidVector): number {
  if (v.seconds_since_0001 !== undefined) return v.seconds_since_0001 - UNIX_EPOCH_SINCE_0001;
  return Date.parse(v.utc as string) / 1000;
}

describe('Minion UUID vectors', () => {
  it('has 6 vectors', () => expect(vectors).toHaveLength(6));

  it.each(vectors)('$expect is built from its parts and parses back', (v) => {
    const unix = unixSecondsOf(v);
    expect(minionUuidFromParts(unix, v.nanos, v.identifier)).toBe(v.expect);
    expect(minionUuidFromParts(BigInt(unix), v.nanos, Buffer.from(v.identifier, 'hex'))).toBe(v.expect);
    const parsed = parseMinionUuid(v.expect);
    expect(parsed.nanos).toBe(v.nanos);
    expect(parsed.seconds).toBe(BigInt(unix + UNIX_EPOCH_SINCE_0001));
    expect(parsed.identifier.toString('hex')).toBe(v.identifier);
    expect(parsed.unixMs).toBe(unix * 1000 + Math.floor(v.nanos / 1e6));
    expect(newMinionUuid({ seconds: unix, nanos: v.nanos }).slice(0, 24)).toBe(v.expect.slice(0, 24));
  });
});

describe('newMinionUuid', () => {
  it('is canonical, decodable, and reads back the current time', () => {
    for (let i = 0; i < 2000; i++) {
      const before = Date.now();
      const uuid = newMinionUuid();
      const after = Date.now();
      expect(isCanonicalUuid(uuid)).toBe(true);
      expect(isMinionUuid(uuid)).toBe(true);
      const { unixMs } = parseMinionUuid(uuid);
      expect(unixMs).toBeGreaterThanOrEqual(before);
      expect(unixMs).toBeLessThanOrEqual(after);
    }
  });

  it('reads back an injected time exactly', () => {
    const uuid = newMinionUuid({ seconds: 1_700_000_000n, nanos: 123_456_789 });
    const parsed = parseMinionUuid(uuid);
    expect(parsed.seconds).toBe(1_700_000_000n + BigInt(UNIX_EPOCH_SINCE_0001));
    expect(parsed.nanos).toBe(123_456_789);
    expect(parsed.unixMs).toBe(1_700_000_000_123);
  });

  it('is strictly unique for 200k UUIDs at the same injected nanosecond', () => {
    const now = { seconds: 1_700_000_000, nanos: 42 };
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i++) seen.add(newMinionUuid(now));
    expect(seen.size).toBe(200_000);
    // All share the time bytes; only the identifier differs.
    const prefixes = new Set([...seen].map((u) => u.slice(0, 24)));
    expect(prefixes.size).toBe(1);
  });

  it('identifiers look random (not a visible counter)', () => {
    const now = { seconds: 1_700_000_000, nanos: 0 };
    const ids = Array.from({ length: 1000 }, () => newMinionUuid(now).slice(24));
    // Every hex digit position varies, including the first ones a plain counter would keep constant.
    for (let pos = 0; pos < 12; pos++) expect(new Set(ids.map((id) => id[pos])).size).toBeGreaterThan(8);
  });

  it('rejects out-of-range parts with MinionUuidError', () => {
    expect(() => newMinionUuid({ seconds: 0, nanos: 1_000_000_000 })).toThrow(MinionUuidError);
    expect(() => newMinionUuid({ seconds: 0, nanos: -1 })).toThrow(MinionUuidError);
    expect(() => minionUuidFromParts(-UNIX_EPOCH_SINCE_0001 - 1, 0, '000000000000')).toThrow(MinionUuidError);
    expect(() => minionUuidFromParts(300_000_000_000, 0, '000000000000')).toThrow(MinionUuidError);
    expect(() => minionUuidFromParts(0, 0, 'abc')).toThrow(MinionUuidError);
    expect(() => minionUuidFromParts(0, 0, new Uint8Array(5))).toThrow(MinionUuidError);
  });
});

describe('writeNewMinionUuid (the UUID of a frame built from bytes)', () => {
  it('writes the 36 ASCII bytes newMinionUuid would return, at the offset, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -UNIX_EPOCH_SINCE_0001, max: 253_402_300_799 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.integer({ min: 0, max: 20 }),
        (seconds, nanos, offset) => {
          const target = Buffer.alloc(offset + 40, 0x7e);
          writeNewMinionUuid(target, offset, { seconds, nanos });
          const written = target.toString('latin1', offset, offset + 36);
          // Same time, and the identifier it drew: exactly the text of a UUID built from those parts.
          const identifier = written.slice(24).replace(/-/g, '');
          expect(written).toBe(minionUuidFromParts(seconds, nanos, identifier));
          expect(target.subarray(0, offset).every((b) => b === 0x7e)).toBe(true);
          expect(target.subarray(offset + 36).every((b) => b === 0x7e)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('takes the current time and a fresh identifier each time, like newMinionUuid', () => {
    const target = Buffer.alloc(36);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const before = Date.now();
      writeNewMinionUuid(target, 0);
      const after = Date.now();
      const uuid = target.toString('latin1');
      expect(isMinionUuid(uuid)).toBe(true);
      const { unixMs } = parseMinionUuid(uuid);
      expect(unixMs).toBeGreaterThanOrEqual(before);
      expect(unixMs).toBeLessThanOrEqual(after);
      seen.add(uuid.slice(24));
    }
    expect(seen.size).toBe(2000);
    expect(() => writeNewMinionUuid(target, 0, { seconds: 0, nanos: 1_000_000_000 })).toThrow(
      MinionUuidError,
    );
  });
});

describe('withNewIdentifier', () => {
  it('keeps bytes 0–9 (the time) and changes the identifier', () => {
    for (const v of vectors) {
      const resent = withNewIdentifier(v.expect);
      expect(resent.slice(0, 24)).toBe(v.expect.slice(0, 24));
      expect(resent.slice(24)).not.toBe(v.expect.slice(24));
      expect(isCanonicalUuid(resent)).toBe(true);
      expect(parseMinionUuid(resent).identifier.equals(parseMinionUuid(v.expect).identifier)).toBe(false);
    }
  });

  it('lowercases and rejects non-UUIDs', () => {
    const upper = vectors[2]?.expect.toUpperCase() as string;
    expect(withNewIdentifier(upper).slice(0, 24)).toBe(upper.slice(0, 24).toLowerCase());
    expect(() => withNewIdentifier('deadbeef')).toThrow(MinionUuidError);
  });
});

describe('UUID predicates', () => {
  it('isCanonicalUuid accepts only lowercase 8-4-4-4-12', () => {
    expect(isCanonicalUuid('075bcd15-000e-d7ca-d9c0-0a1b2c3d4e5f')).toBe(true);
    expect(isCanonicalUuid('075BCD15-000E-D7CA-D9C0-0A1B2C3D4E5F')).toBe(false);
    expect(isCanonicalUuid('075bcd15000ed7cad9c00a1b2c3d4e5f')).toBe(false);
    expect(isCanonicalUuid('deadbeef')).toBe(false);
    expect(isCanonicalUuid('075bcd15-000e-d7ca-d9c0-0a1b2c3d4e5g')).toBe(false);
  });

  it('isMinionUuid rejects random v4 UUIDs whose time the server cannot decode', () => {
    expect(isMinionUuid('9f0c2a4e-3b1d-4c5e-8f60-1a2b3c4d5e6f')).toBe(false); // nanos ≥ 10⁹
    expect(isMinionUuid('075bcd15-ffff-d7ca-d9c0-0a1b2c3d4e5f')).toBe(false); // beyond year 9999
    expect(() => parseMinionUuid('9f0c2a4e-3b1d-4c5e-8f60-1a2b3c4d5e6f')).toThrow(MinionUuidError);
  });

  it('serverCanParseUuidString mirrors the server: hex of even length, dashes ignored', () => {
    expect(serverCanParseUuidString('deadbeef')).toBe(true); // the §14 poison case: parsable but short
    expect(serverCanParseUuidString('not-a-uuid')).toBe(false);
    expect(serverCanParseUuidString('abc')).toBe(false);
    expect(serverCanParseUuidString('075BCD15-000E-D7CA-D9C0-0A1B2C3D4E5F')).toBe(true);
  });
});

describe('isCanonicalUuid / isMinionUuid without regexes agree with their definitions', () => {
  const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  /** The definition, spelled out the slow way: canonical, nanos < 10⁹, seconds ≤ 9999-12-31T23:59:59. */
  function minionByDefinition(s: string): boolean {
    if (!CANONICAL.test(s)) return false;
    const hex = s.replace(/-/g, '');
    const nanos = parseInt(hex.slice(0, 8), 16);
    const seconds = parseInt(hex.slice(8, 20), 16);
    return nanos < 1_000_000_000 && seconds <= 315_537_897_599;
  }
  // Valid UUIDs with one or two characters replaced by anything nearby (dash, upper case, g, other hex digits…).
  const near = fc
    .tuple(
      fc.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      fc.array(
        fc.tuple(
          fc.nat(37),
          fc.constantFrom('-', 'A', 'F', 'g', '/', ':', '`', 'a', 'f', '0', '9', '3', 'b'),
        ),
        { maxLength: 2 },
      ),
    )
    .map(([s, edits]) => edits.reduce((t, [at, c]) => t.slice(0, at) + c + t.slice(at + 1), s));
  const anyString = fc.oneof(near, fc.string({ maxLength: 40 }));

  it('isCanonicalUuid ⇔ the 8-4-4-4-12 lowercase regex', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        expect(isCanonicalUuid(s)).toBe(CANONICAL.test(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('isMinionUuid ⇔ canonical with a decodable time (time bytes around both limits)', () => {
    const timed = fc
      .tuple(
        fc.oneof(fc.integer({ min: 999_999_990, max: 1_000_000_010 }), fc.nat(0xffffffff)),
        fc.oneof(fc.integer({ min: 315_537_897_590, max: 315_537_897_610 }), fc.nat(2 ** 48 - 1)),
        near,
      )
      .map(
        ([nanos, seconds, rest]) =>
          `${nanos.toString(16).padStart(8, '0')}-${seconds.toString(16).padStart(12, '0').slice(0, 4)}-` +
          `${seconds.toString(16).padStart(12, '0').slice(4, 8)}-${seconds.toString(16).padStart(12, '0').slice(8)}` +
          rest.slice(23),
      );
    fc.assert(
      fc.property(fc.oneof(timed, anyString), (s) => {
        expect(isMinionUuid(s)).toBe(minionByDefinition(s));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('UUID edges (each guards a check the server relies on)', () => {
  const ID = '0a1b2c3d4e5f';
  // Built inside each test, not while collecting them, so mutation testing sees the tests that exercise it.
  let valid = '';
  beforeEach(() => {
    valid = minionUuidFromParts(1_700_000_000, 5, ID);
  });
  const errorOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      return e instanceof MinionUuidError ? `MinionUuidError: ${e.message}` : `other: ${String(e)}`;
    }
    return 'no error';
  };

  it('renders every byte as two hex digits', () => {
    expect(minionUuidFromParts(-UNIX_EPOCH_SINCE_0001, 1, '000000000001')).toBe(
      '00000001-0000-0000-0000-000000000001',
    );
  });

  it('isCanonicalUuid checks every group', () => {
    expect(isCanonicalUuid(valid)).toBe(true);
    const at = (i: number, ch: string): string => valid.slice(0, i) + ch + valid.slice(i + 1);
    for (const i of [0, 7, 9, 14, 19, 24, 35]) expect(isCanonicalUuid(at(i, 'g')), `g at ${i}`).toBe(false);
    expect(isCanonicalUuid(at(8, '0'))).toBe(false);
    expect(isCanonicalUuid(valid.toUpperCase())).toBe(false);
    expect(isCanonicalUuid(`${valid}0`)).toBe(false);
    expect(isCanonicalUuid(`0${valid.slice(1)}`)).toBe(true);
  });

  it('isMinionUuid: nanoseconds below 10⁹ and seconds up to year 9999, lowercase only', () => {
    const max = '3b9ac9ff-0049-7786-387f-0a1b2c3d4e5f'; // 999999999 ns, MAX_SECONDS_SINCE_0001
    expect(isMinionUuid(max)).toBe(true);
    expect(isMinionUuid('3b9aca00-0049-7786-387f-0a1b2c3d4e5f')).toBe(false);
    expect(isMinionUuid('3b9ac9ff-0049-7786-3880-0a1b2c3d4e5f')).toBe(false);
    expect(isMinionUuid(max.toUpperCase())).toBe(false);
    expect(parseMinionUuid(max)).toMatchObject({ nanos: 999_999_999, seconds: 315_537_897_599n });
  });

  it('parseMinionUuid says why a string is not a Minion UUID', () => {
    expect(errorOf(() => parseMinionUuid('3b9aca00-0049-7786-387f-0a1b2c3d4e5f'))).toBe(
      'MinionUuidError: not a Minion UUID (nanoseconds 1000000000 ≥ 10⁹): 3b9aca00-0049-7786-387f-0a1b2c3d4e5f',
    );
    expect(errorOf(() => parseMinionUuid('3b9ac9ff-0049-7786-3880-0a1b2c3d4e5f'))).toBe(
      'MinionUuidError: not a Minion UUID (seconds 315537897600 beyond year 9999): 3b9ac9ff-0049-7786-3880-0a1b2c3d4e5f',
    );
    expect(errorOf(() => parseMinionUuid('not-a-uuid'))).toBe(
      'MinionUuidError: not a canonical UUID: "not-a-uuid"',
    );
    expect(errorOf(() => parseMinionUuid(`x${valid}`))).toBe(
      `MinionUuidError: not a canonical UUID: "x${valid}"`,
    );
    expect(errorOf(() => parseMinionUuid(`${valid}0`))).toBe(
      `MinionUuidError: not a canonical UUID: "${valid}0"`,
    );
    for (const i of [0, 9, 14, 19, 24]) {
      const bad = valid.slice(0, i) + 'g' + valid.slice(i + 1);
      expect(
        errorOf(() => parseMinionUuid(bad)),
        bad,
      ).toBe(`MinionUuidError: not a canonical UUID: "${bad}"`);
      expect(
        errorOf(() => withNewIdentifier(bad)),
        bad,
      ).toBe(`MinionUuidError: not a canonical UUID: "${bad}"`);
    }
    expect(parseMinionUuid(valid.toUpperCase()).nanos).toBe(5);
  });

  it('accepts times from year 1 to year 9999 and says what is out of range', () => {
    expect(parseMinionUuid(minionUuidFromParts(-UNIX_EPOCH_SINCE_0001, 0, ID)).seconds).toBe(0n);
    const last = 315_537_897_599 - UNIX_EPOCH_SINCE_0001;
    expect(parseMinionUuid(minionUuidFromParts(last, 0, ID)).seconds).toBe(315_537_897_599n);
    expect(parseMinionUuid(minionUuidFromParts(BigInt(last), 0, ID)).seconds).toBe(315_537_897_599n);
    expect(errorOf(() => minionUuidFromParts(last + 1, 0, ID))).toBe(
      `MinionUuidError: time out of range for a Minion UUID: unix seconds ${last + 1}`,
    );
    expect(errorOf(() => minionUuidFromParts(0, 1_000_000_000, ID))).toBe(
      'MinionUuidError: nanoseconds must be an integer in 0…999999999, got 1000000000',
    );
  });

  it('identifiers: exactly 12 hex digits or 6 bytes', () => {
    expect(minionUuidFromParts(0, 0, 'ABCDEF012345').endsWith('abcdef012345')).toBe(true);
    for (const bad of ['0a1b2c3d4e5', '0a1b2c3d4e5f0', 'x0a1b2c3d4e5f', '0a1b2c3d4e5g']) {
      expect(
        errorOf(() => minionUuidFromParts(0, 0, bad)),
        bad,
      ).toBe(`MinionUuidError: identifier must be 12 hex digits, got ${JSON.stringify(bad)}`);
    }
    expect(errorOf(() => minionUuidFromParts(0, 0, new Uint8Array(5)))).toBe(
      'MinionUuidError: identifier must be 6 bytes, got 5',
    );
  });

  it('renders like the byte layout read as hex, for any time and identifier (written in one pass)', () => {
    // The reference: the 16 bytes of protocol.md §2.3 hex-encoded and dashed 8-4-4-4-12.
    const reference = (secondsSince0001: number, nanos: number, identifier: string): string => {
      const bytes = Buffer.alloc(16);
      bytes.writeUInt32BE(nanos, 0);
      bytes.writeUIntBE(secondsSince0001, 4, 6);
      Buffer.from(identifier, 'hex').copy(bytes, 10);
      const hex = bytes.toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 315_537_897_599 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        (since, nanos, id) => {
          const identifier = Buffer.from(id).toString('hex');
          expect(minionUuidFromParts(since - UNIX_EPOCH_SINCE_0001, nanos, identifier)).toBe(
            reference(since, nanos, identifier),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the current time keeps its sub-millisecond part', () => {
    const subMillisecond = Array.from(
      { length: 50 },
      () => parseMinionUuid(newMinionUuid()).nanos % 1_000_000,
    );
    expect(subMillisecond.some((n) => n !== 0)).toBe(true);
  });
});
