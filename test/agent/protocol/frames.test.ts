import { describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { decodeFrame } from '../../../src-main/agent/protocol/codec';
import {
  authFrame,
  frameClassOf,
  heartbeatFrame,
  logFrame,
  redactFrame,
  redactedFrameHex,
  resultFrame,
  telemetryFrame,
} from '../../../src-main/agent/protocol/frames';
import { isMinionUuid } from '../../../src-main/agent/protocol/uuid';
import { validateOutgoingFrame } from '../../../src-main/agent/protocol/validate';

const G = 'test-group-2';
const S = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';
const CMD = '9f0c2a4e-3b1d-4c5e-8f60-1a2b3c4d5e6f';
const KEY = '798c733ba086c606fa8a925ab69bebf1cc44ee11a19ac81eaa4689774a6b6b04';

describe('frame builders', () => {
  it('build the §2.4 layouts with fresh, valid, distinct Minion UUIDs', () => {
    const frames = [
      authFrame(G, S, KEY),
      heartbeatFrame(G, S),
      logFrame(G, S, 'syslog', 'hi'),
      telemetryFrame(G, S, 'load_avg', ['0.5']),
      resultFrame(G, S, CMD, 'out', ''),
    ];
    expect(frames.map((f) => f[0])).toEqual(['C', 'C', 'L', 'T', 'R']);
    expect(frames[0]?.[2]).toEqual([G, S, 'authenticate-agent', [KEY]]);
    expect(frames[1]?.[2]).toEqual([G, S, 'heartbeat']);
    expect(frames[2]?.[2]).toEqual([G, S, 'syslog', 'hi']);
    expect(frames[3]?.[2]).toEqual([G, S, 'load_avg', '0.5']);
    expect(frames[4]?.[2]).toEqual([G, S, CMD, ['out'], ['']]);
    for (const f of frames) {
      expect(isMinionUuid(f[1])).toBe(true);
      validateOutgoingFrame(f);
    }
    expect(new Set(frames.map((f) => f[1])).size).toBe(frames.length);
  });

  it('JSON telemetry has no values', () => {
    expect(telemetryFrame(G, S, 'JSON:{"a":1}', [])[2]).toEqual([G, S, 'JSON:{"a":1}']);
  });
});

describe('redaction', () => {
  it('replaces the group key of an auth frame and keeps its shape', () => {
    const auth = authFrame(G, S, KEY);
    const redacted = redactFrame(auth);
    expect(redacted).toEqual(['C', auth[1], [G, S, 'authenticate-agent', ['***']]]);
    expect(auth[2][3]).toEqual([KEY]); // the original is untouched
    expect(JSON.stringify(redacted)).not.toContain(KEY);
  });

  it('also redacts a bare-string key (the server accepts both forms)', () => {
    const frame: WireFrame = ['C', 'u', [G, S, 'authenticate-agent', KEY]];
    expect(redactFrame(frame)[2][3]).toBe('***');
  });

  it('returns other frames unchanged (same object)', () => {
    const log = logFrame(G, S, 'syslog', KEY);
    expect(redactFrame(log)).toBe(log);
  });

  it('redactedFrameHex is the wire encoding without the key', () => {
    const auth = authFrame(G, S, KEY);
    const hex = redactedFrameHex(auth);
    expect(hex).not.toContain(Buffer.from(KEY).toString('hex'));
    expect(decodeFrame(Buffer.from(hex, 'hex'))).toEqual(redactFrame(auth));
  });
});

describe('frameClassOf', () => {
  it('maps L, T, R to spool classes and everything else to null', () => {
    expect(frameClassOf(logFrame(G, S, 's', 'm'))).toBe('log');
    expect(frameClassOf(telemetryFrame(G, S, 'n', ['1']))).toBe('telemetry');
    expect(frameClassOf(resultFrame(G, S, CMD, '', ''))).toBe('result');
    expect(frameClassOf(heartbeatFrame(G, S))).toBeNull();
    expect(frameClassOf(authFrame(G, S, KEY))).toBeNull();
    expect(frameClassOf(['Q', 'u', []])).toBeNull();
  });
});
