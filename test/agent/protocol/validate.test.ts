import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { FrameValidationError } from '../../../src-main/agent/protocol/errors';
import { authFrame, logFrame, resultFrame, telemetryFrame } from '../../../src-main/agent/protocol/frames';
import {
  checkMaxFrameBytes,
  checkOutgoingFrame,
  frameByteLength,
  validateOutgoingFrame,
} from '../../../src-main/agent/protocol/validate';

const G = 'test-group-2';
const S = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';
const U = '075bcd15-000e-d7ca-d9c0-0a1b2c3d4e5f';
const CMD = '9f0c2a4e-3b1d-4c5e-8f60-1a2b3c4d5e6f';

function reasonOf(frame: unknown, opts?: Parameters<typeof checkOutgoingFrame>[1]): string | null {
  return checkOutgoingFrame(frame, opts)?.reason ?? null;
}

describe('validateOutgoingFrame accepts what the agent legitimately sends', () => {
  const ok: Array<[string, WireFrame]> = [
    ['log', ['L', U, [G, S, 'syslog', 'hello']]],
    ['telemetry', ['T', U, [G, S, 'load_avg', '0.52']]],
    ['telemetry with several values', ['T', U, [G, S, 'vals', '1', '2', '3']]],
    ['JSON telemetry without values', ['T', U, [G, S, 'JSON:{"disk_usage":[]}']]],
    ['result with empty output', ['R', U, [G, S, CMD, [''], ['']]]],
    ['auth', ['C', U, [G, S, 'authenticate-agent', ['key']]]],
    ['heartbeat', ['C', U, [G, S, 'heartbeat']]],
    [
      'another command with an argument (only heartbeats must have exactly 3 items)',
      ['C', U, [G, S, 'cmd', 'a']],
    ],
    ['query', ['Q', U, [G, S, 'key']]],
  ];
  it.each(ok)('%s', (_label, frame) => {
    expect(reasonOf(frame)).toBeNull();
    expect(() => validateOutgoingFrame(frame)).not.toThrow();
  });
});

describe('validateOutgoingFrame refuses every poison case of protocol.md §14', () => {
  const bad: Array<[string, unknown, string]> = [
    ['short (valid-hex) UUID', ['L', 'deadbeef', [G, S, 'syslog', 'x']], 'uuid-not-canonical'],
    ['uppercase UUID', ['L', U.toUpperCase(), [G, S, 'syslog', 'x']], 'uuid-not-canonical'],
    ['UUID without dashes', ['L', U.replace(/-/g, ''), [G, S, 'syslog', 'x']], 'uuid-not-canonical'],
    ['random v4 UUID as frame UUID (time undecodable)', ['L', CMD, [G, S, 'syslog', 'x']], 'uuid-bad-time'],
    ['missing group id', ['L', U, ['', S, 'syslog', 'x']], 'missing-group-id'],
    ['server id not a UUID', ['L', U, [G, 'my-server', 'syslog', 'x']], 'server-id-not-canonical'],
    ['uppercase server id', ['L', U, [G, S.toUpperCase(), 'syslog', 'x']], 'server-id-not-canonical'],
    ['L with 3 items', ['L', U, [G, S, 'syslog']], 'log-too-short'],
    ['L with only [group, server]', ['L', U, [G, S]], 'log-too-short'],
    ['L with empty service', ['L', U, [G, S, '', 'x']], 'log-empty-service'],
    ['L with empty message', ['L', U, [G, S, 'syslog', '']], 'log-empty-message'],
    ['L with an array as message', ['L', U, [G, S, 'syslog', ['x']]], 'log-empty-message'],
    ['T with only [group, server]', ['T', U, [G, S]], 'telemetry-empty-name'],
    ['T with empty name', ['T', U, [G, S, '', '1']], 'telemetry-empty-name'],
    ['T without a value', ['T', U, [G, S, 'load_avg']], 'telemetry-no-value'],
    ['T with an empty value', ['T', U, [G, S, 'load_avg', '']], 'telemetry-empty-value'],
    ['T with an empty value in the middle', ['T', U, [G, S, 'v', '1', '', '2']], 'telemetry-empty-value'],
    ['T JSON: with invalid JSON', ['T', U, [G, S, 'JSON:{oops']], 'telemetry-bad-json'],
    [
      'R with uppercase command UUID (not verbatim)',
      ['R', U, [G, S, CMD.toUpperCase(), [''], ['']]],
      'result-command-uuid',
    ],
    ['R with a truncated command UUID', ['R', U, [G, S, CMD.slice(0, 8), [''], ['']]], 'result-command-uuid'],
    ['R missing stderr', ['R', U, [G, S, CMD, ['']]], 'result-bad-shape'],
    ['R with strings instead of [stdout]', ['R', U, [G, S, CMD, 'out', 'err']], 'result-bad-output'],
    ['auth without key', ['C', U, [G, S, 'authenticate-agent']], 'auth-missing-key'],
    ['auth with empty key', ['C', U, [G, S, 'authenticate-agent', ['']]], 'auth-missing-key'],
    ['auth with two keys', ['C', U, [G, S, 'authenticate-agent', ['key', 'key']]], 'auth-missing-key'],
    ['heartbeat with extra items', ['C', U, [G, S, 'heartbeat', 'x']], 'heartbeat-bad-shape'],
    ['C with an empty command name', ['C', U, [G, S, '', 'x']], 'command-empty-name'],
    ['R with a string as stdout', ['R', U, [G, S, CMD, 'out', ['']]], 'result-bad-output'],
    ['R with a string as stderr', ['R', U, [G, S, CMD, [''], 'err']], 'result-bad-output'],
    ['Q with only [group, server]', ['Q', U, [G, S]], 'too-short'],
    ['empty string as last element (Q)', ['Q', U, [G, S, 'key', '']], 'empty-last-element'],
    ['unknown verb', ['X', U, [G, S, 'a']], 'bad-verb'],
    ['empty verb', ['', U, [G, S, 'a']], 'bad-verb'],
    ['integer in data', ['L', U, [G, S, 'syslog', 5]], 'data-bad-type'],
    ['nested too deep', ['R', U, [G, S, CMD, [['x']], ['']]], 'data-bad-type'],
    ['not a 3-element array', ['L', U, [G, S, 'a', 'b'], 'extra'], 'bad-shape'],
    ['data not an array', ['L', U, 'data'], 'bad-shape'],
    ['oversize (default 8192 budget)', ['L', U, [G, S, 'syslog', 'x'.repeat(8192)]], 'too-large'],
  ];
  it.each(bad)('%s → %s', (_label, frame, reason) => {
    expect(reasonOf(frame)).toBe(reason);
    expect(() => validateOutgoingFrame(frame as WireFrame)).toThrow(FrameValidationError);
  });

  it('R must echo the expected command UUID when given', () => {
    const frame: WireFrame = ['R', U, [G, S, CMD, ['x'], ['']]];
    expect(reasonOf(frame, { expectedCommandUuid: CMD })).toBeNull();
    expect(reasonOf(frame, { expectedCommandUuid: '8e9e32ed-83c0-4437-a22c-0f8d94f0fdad' })).toBe(
      'result-command-uuid',
    );
  });
});

describe('size budget', () => {
  it('counts the 2-byte header: exactly max_frame_bytes passes, one more byte fails', () => {
    // Start from a message that already needs a str16 header, so growing it does not change the header size.
    const base = logFrame(G, S, 'syslog', 'x'.repeat(300));
    const fill = 300 + 8192 - frameByteLength(base);
    const exact = logFrame(G, S, 'syslog', 'x'.repeat(fill));
    expect(encodeFrame(exact).length).toBe(8192);
    expect(reasonOf(exact)).toBeNull();
    expect(reasonOf(logFrame(G, S, 'syslog', 'x'.repeat(fill + 1)))).toBe('too-large');
  });

  it('honours a larger max_frame_bytes, up to 65537', () => {
    const frame = logFrame(G, S, 'syslog', 'x'.repeat(20_000));
    expect(reasonOf(frame)).toBe('too-large');
    expect(reasonOf(frame, { maxFrameBytes: 65537 })).toBeNull();
    expect(() => checkMaxFrameBytes(65538)).toThrow(RangeError);
    expect(() => checkMaxFrameBytes(2)).toThrow(RangeError);
    expect(checkMaxFrameBytes(8192)).toBe(8192);
  });

  it('frameByteLength equals the encoded length, multi-byte UTF-8 included', () => {
    const frames: WireFrame[] = [
      logFrame(G, S, 'app', 'café ✓ 😀'.repeat(40)),
      telemetryFrame(
        G,
        S,
        'vals',
        Array.from({ length: 20 }, (_, i) => String(i)),
      ),
      resultFrame(G, S, CMD, 'é'.repeat(300), ''),
    ];
    for (const f of frames) expect(frameByteLength(f)).toBe(encodeFrame(f).length);
  });
});

describe('errors are safe to log', () => {
  it('a refused auth frame carries the redacted frame and a clear message', () => {
    const frame = authFrame(G, 'not-a-uuid', 'super-secret-key');
    const error = checkOutgoingFrame(frame);
    expect(error).toBeInstanceOf(FrameValidationError);
    expect(error?.reason).toBe('server-id-not-canonical');
    expect(error?.message).toMatch(/^refused to send C frame: data\[1\] \(server id\)/);
    expect(JSON.stringify(error?.frame)).not.toContain('super-secret-key');
    expect(error?.message).not.toContain('super-secret-key');
  });

  it('never throws on garbage input, only reports it', () => {
    for (const junk of [null, 42, 'L', [], [1, 2, 3], { a: 1 }]) expect(reasonOf(junk)).not.toBeNull();
  });
});

describe('the frame budget check', () => {
  it('refuses exactly the frames whose encoding exceeds max_frame_bytes (any characters, budgets around the size)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 3000, size: 'max' }),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 1200, size: 'max' }),
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 600, size: 'max' }),
        ),
        fc.integer({ min: -400, max: 400 }),
        (message, offset) => {
          const frame: WireFrame = ['L', U, [G, S, 'syslog', message]];
          const size = encodeFrame(frame).length;
          const maxFrameBytes = Math.max(3, size + offset);
          expect(reasonOf(frame, { maxFrameBytes }) === 'too-large').toBe(size > maxFrameBytes);
        },
      ),
      { numRuns: 500 },
    );
  });
});
