import { describe, expect, it } from 'vitest';
import { KeyRedactor, WireTrace } from '../../../src-main/agent/connection/wire-trace';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { authFrame, logFrame } from '../../../src-main/agent/protocol/frames';
import { GROUP_ID, SERVER_ID } from '../../support/connection-helpers';

const KEY = 'super-secret-group-key';

describe('KeyRedactor', () => {
  const redactor = new KeyRedactor(KEY);

  it('masks the auth frame key in the decoded frame and the hex', () => {
    const frame = authFrame(GROUP_ID, SERVER_ID, KEY);
    const bytes = encodeFrame(frame);
    expect(redactor.frame(frame)[2][3]).toEqual(['***']);
    const hex = redactor.hex(frame, bytes);
    expect(hex).not.toContain(Buffer.from(KEY).toString('hex'));
    expect(hex).toContain(Buffer.from('authenticate-agent').toString('hex'));
    // The caller's frame is untouched (the real key still goes on the wire).
    expect(frame[2][3]).toEqual([KEY]);
  });

  it('masks the key anywhere else, and returns other frames unchanged (same object)', () => {
    const leaky = logFrame(GROUP_ID, SERVER_ID, 'syslog', `key=${KEY}`);
    expect(redactor.frame(leaky)[2][3]).toBe('key=***');
    expect(redactor.hex(leaky, encodeFrame(leaky))).not.toContain(Buffer.from(KEY).toString('hex'));
    expect(redactor.text(`failed with ${KEY}`)).toBe('failed with ***');
    const clean = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'nothing secret');
    expect(redactor.frame(clean)).toBe(clean);
  });

  it('does not mask every "a" for a 1-character key, but still masks the auth slot', () => {
    const short = new KeyRedactor('a');
    const log = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'a banana');
    expect(short.frame(log)[2][3]).toBe('a banana');
    expect(short.frame(authFrame(GROUP_ID, SERVER_ID, 'a'))[2][3]).toEqual(['***']);
  });
});

describe('WireTrace', () => {
  it('keeps the newest entries in order, bounded by its capacity', () => {
    const trace = new WireTrace(3);
    const redactor = new KeyRedactor(KEY);
    for (let i = 0; i < 7; i++) {
      const frame = logFrame(GROUP_ID, SERVER_ID, 'syslog', `m${i}`);
      trace.record(redactor, 'out', frame, encodeFrame(frame));
    }
    expect(trace.entries().map((e) => e.frame?.[2][3])).toEqual(['m4', 'm5', 'm6']);
    expect(trace.entries().map((e) => e.id)).toEqual([5, 6, 7]);
    trace.setCapacity(2);
    expect(trace.entries().map((e) => e.id)).toEqual([6, 7]);
    trace.setCapacity(0);
    expect(trace.entries()).toEqual([]);
  });

  it('recordLazily keeps the parts and builds redacted entries only when read, with the redactor of the time', () => {
    const trace = new WireTrace(3);
    const first = new KeyRedactor(KEY);
    const leaky = logFrame(GROUP_ID, SERVER_ID, 'syslog', `key=${KEY}`);
    const leakyBytes = encodeFrame(leaky);
    trace.recordLazily(first, 'out', leaky, leakyBytes);
    // Incoming frames come without bytes: their encoding is computed when the entry is built.
    const reply = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'from the server');
    trace.recordLazily(first, 'in', reply, null);
    // A later key change must not un-redact entries recorded under the old key.
    const second = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'k2=another-key-entirely');
    trace.recordLazily(new KeyRedactor('another-key-entirely'), 'out', second, encodeFrame(second));
    const entries = trace.entries();
    expect(entries.map((e) => [e.id, e.direction])).toEqual([
      [1, 'out'],
      [2, 'in'],
      [3, 'out'],
    ]);
    expect(entries[0]).toMatchObject({
      frame: [leaky[0], leaky[1], [GROUP_ID, SERVER_ID, 'syslog', 'key=***']],
      bytes: leakyBytes.length,
    });
    expect(entries[1]).toMatchObject({ frame: reply, hex: encodeFrame(reply).toString('hex') });
    expect(entries[2]?.frame?.[2][3]).toBe('k2=***');
    expect(entries[2]?.hex).not.toContain(Buffer.from('another-key-entirely').toString('hex'));
    expect(JSON.stringify(entries)).not.toContain(KEY);
    expect(JSON.stringify(entries)).not.toContain(Buffer.from(KEY).toString('hex'));
    // Built once: reading again gives the same entries.
    expect(trace.entries()[0]).toBe(entries[0]);
    // Lazy and eager records share one id sequence and one ring.
    trace.record(first, 'out', reply, encodeFrame(reply));
    expect(trace.entries().map((e) => e.id)).toEqual([2, 3, 4]);
  });

  it('records frames known only as bytes: decoded when the entry is built, now or when read', () => {
    const trace = new WireTrace(4);
    const redactor = new KeyRedactor(KEY);
    const leaky = logFrame(GROUP_ID, SERVER_ID, 'syslog', `key=${KEY}`);
    const leakyBytes = encodeFrame(leaky);
    const eager = trace.recordEncoded(redactor, 'out', leakyBytes, 3);
    expect(eager).toMatchObject({
      id: 1,
      frame: [leaky[0], leaky[1], [GROUP_ID, SERVER_ID, 'syslog', 'key=***']],
      bytes: leakyBytes.length,
      unsampled: 3,
    });
    expect(eager.error).toBeUndefined();
    const plain = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'plain');
    trace.recordEncodedLazily(redactor, 'out', encodeFrame(plain));
    // Whole by its prefix but not msgpack: an entry with the error instead of a frame.
    const garbage = Buffer.from([0x00, 0x02, 0xc1, 0xc1]);
    trace.recordEncodedLazily(redactor, 'out', garbage);
    const entries = trace.entries();
    expect(entries.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(entries[1]).toMatchObject({ frame: plain, hex: encodeFrame(plain).toString('hex') });
    expect(entries[2]).toMatchObject({ frame: null, hex: garbage.toString('hex'), bytes: 4 });
    expect(entries[2]?.error).toMatch(/^undecodable frame: /);
    expect(JSON.stringify(entries)).not.toContain(KEY);
    // Without a ring nothing is kept, but ids still advance.
    const none = new WireTrace(0);
    none.recordEncodedLazily(redactor, 'out', encodeFrame(plain));
    expect(none.entries()).toEqual([]);
    expect(none.record(redactor, 'out', plain, encodeFrame(plain)).id).toBe(2);
  });

  it('records undecodable bytes with the error, hex cut to 256 bytes', () => {
    const trace = new WireTrace(10);
    const entry = trace.record(new KeyRedactor(KEY), 'in', null, Buffer.alloc(1000, 0xc1), 'bad msgpack');
    expect(entry).toMatchObject({ frame: null, bytes: 1000, error: 'bad msgpack', direction: 'in' });
    expect(entry.hex).toHaveLength(512);
  });
});
