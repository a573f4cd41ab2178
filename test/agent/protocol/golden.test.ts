import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { decodeFrame, encodeFrame, FrameDecoder } from '../../../src-main/agent/protocol/codec';
import { frameByteLength, validateOutgoingFrame } from '../../../src-main/agent/protocol/validate';
import {
  authFrame,
  heartbeatFrame,
  logFrame,
  resultFrame,
  telemetryFrame,
} from '../../../src-main/agent/protocol/frames';
import { isMinionUuid } from '../../../src-main/agent/protocol/uuid';

interface Vector {
  id: string;
  name: string;
  direction: string;
  frame: WireFrame;
  hex: string;
}
interface Recorded {
  t: string;
  direction: string;
  frame: WireFrame;
  hex: string;
}

const fixtures = join(__dirname, '..', '..', 'fixtures');
const framesJson = JSON.parse(readFileSync(join(fixtures, 'frames.json'), 'utf8')) as { vectors: Vector[] };
const session = JSON.parse(readFileSync(join(fixtures, 'real-agent-session.json'), 'utf8')) as {
  frames: Recorded[];
};

const golden: Array<{ label: string; direction: string; frame: WireFrame; hex: string }> = [
  ...framesJson.vectors.map((v) => ({
    label: `${v.id} ${v.name}`,
    direction: v.direction,
    frame: v.frame,
    hex: v.hex,
  })),
  ...session.frames.map((f, i) => ({
    label: `session #${i + 1} ${f.direction} ${f.frame[0]}`,
    direction: f.direction,
    frame: f.frame,
    hex: f.hex,
  })),
];

describe('golden frames', () => {
  it('has all 33 frames (20 vectors + 13 recorded)', () => {
    expect(framesJson.vectors).toHaveLength(20);
    expect(session.frames).toHaveLength(13);
    expect(golden).toHaveLength(33);
  });

  it.each(golden)('$label decodes to its frame and re-encodes byte-identically', ({ frame, hex }) => {
    const bytes = Buffer.from(hex, 'hex');
    expect(decodeFrame(bytes)).toEqual(frame);
    expect(encodeFrame(frame).toString('hex')).toBe(hex);
    expect(frameByteLength(frame)).toBe(bytes.length);
  });

  it('decodes all 33 frames from one concatenated stream, in order', () => {
    const stream = Buffer.concat(golden.map((g) => Buffer.from(g.hex, 'hex')));
    const frames = new FrameDecoder().push(stream);
    expect(frames).toEqual(golden.map((g) => g.frame));
  });

  it.each(golden.filter((g) => g.direction === 'agent->server'))(
    '$label (agent-originated) passes pre-send validation',
    ({ frame }) => {
      expect(() => validateOutgoingFrame(frame)).not.toThrow();
    },
  );
});

/** Replace every UUID-shaped string so that structure and byte lengths can be compared. */
function shapeOf(frame: WireFrame, keepVerbatim: Set<string> = new Set()): string {
  const mask = (s: string): string =>
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s) && !keepVerbatim.has(s)
      ? 'U'.repeat(36)
      : s;
  const masked: WireFrame = [
    frame[0],
    mask(frame[1]),
    frame[2].map((item) => (Array.isArray(item) ? item.map(mask) : mask(item))),
  ];
  return encodeFrame(masked).toString('hex');
}

describe('builders match the golden shapes', () => {
  const byId = new Map(framesJson.vectors.map((v) => [v.id, v.frame]));
  const vector = (id: string): WireFrame => {
    const f = byId.get(id);
    if (!f) throw new Error(`missing vector ${id}`);
    return f;
  };
  const [group, server] = vector('V1')[2] as [string, string];

  const cases: Array<[string, WireFrame, WireFrame]> = [
    ['auth (V1)', authFrame(group, server, (vector('V1')[2][3] as string[])[0] as string), vector('V1')],
    ['heartbeat (V4)', heartbeatFrame(group, server), vector('V4')],
    ['log (V6)', logFrame(group, server, 'syslog', 'hello world'), vector('V6')],
    ['log UTF-8 (V8)', logFrame(group, server, 'app', 'café ✓'), vector('V8')],
    ['telemetry (V9)', telemetryFrame(group, server, 'load_avg', ['0.52']), vector('V9')],
    ['telemetry JSON (V11)', telemetryFrame(group, server, vector('V11')[2][2] as string, []), vector('V11')],
    [
      'telemetry array16 (V19)',
      telemetryFrame(
        group,
        server,
        'vals',
        Array.from({ length: 13 }, (_, i) => String(i)),
      ),
      vector('V19'),
    ],
    [
      'result (V16)',
      resultFrame(group, server, vector('V13')[1], (vector('V16')[2][3] as string[])[0] as string, ''),
      vector('V16'),
    ],
    ['result empty (V17)', resultFrame(group, server, vector('V13')[1], '', ''), vector('V17')],
  ];

  it.each(cases)('%s', (_label, built, expected) => {
    expect(isMinionUuid(built[1])).toBe(true);
    expect(shapeOf(built)).toBe(shapeOf(expected));
    expect(encodeFrame(built).length).toBe(encodeFrame(expected).length);
    expect(() => validateOutgoingFrame(built)).not.toThrow();
  });

  it('recorded agent frames have the builder shapes too', () => {
    const rec = session.frames.filter((f) => f.direction === 'agent->server').map((f) => f.frame);
    const [g, s] = rec[0]?.[2] as [string, string];
    const auth = rec.find((f) => f[0] === 'C' && f[2][2] === 'authenticate-agent');
    const hb = rec.find((f) => f[0] === 'C' && f[2][2] === 'heartbeat');
    const log = rec.find((f) => f[0] === 'L');
    expect(auth && hb && log).toBeTruthy();
    expect(shapeOf(authFrame(g, s, (auth?.[2][3] as string[])[0] as string))).toBe(
      shapeOf(auth as WireFrame),
    );
    expect(shapeOf(heartbeatFrame(g, s))).toBe(shapeOf(hb as WireFrame));
    expect(shapeOf(logFrame(g, s, log?.[2][2] as string, log?.[2][3] as string))).toBe(
      shapeOf(log as WireFrame),
    );
  });
});
