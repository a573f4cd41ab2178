import { describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import {
  MAX_REPEAT,
  REPL_HELP,
  parseReplLine,
  type ReplAction,
} from '../../../src-main/agent/protocol/repl-syntax';
import { isMinionUuid } from '../../../src-main/agent/protocol/uuid';
import { validateOutgoingFrame } from '../../../src-main/agent/protocol/validate';

const ctx = { groupId: 'test-group-2', serverId: '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11' };
const G = ctx.groupId;
const S = ctx.serverId;
const CMD = '9f0c2a4e-3b1d-4c5e-8f60-1a2b3c4d5e6f';

function framesOf(action: ReplAction): WireFrame[] {
  if (action.kind !== 'frames') throw new Error(`expected frames, got ${JSON.stringify(action)}`);
  for (const f of action.frames) {
    expect(isMinionUuid(f[1])).toBe(true);
    validateOutgoingFrame(f);
  }
  return action.frames;
}
function errorOf(action: ReplAction): string {
  if (action.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(action)}`);
  return action.message;
}

describe('parseReplLine: VERB::DATA…', () => {
  const cases: Array<[string, string, WireFrame[2]]> = [
    ['log::syslog::hello world', 'L', [G, S, 'syslog', 'hello world']],
    ['L::app::café ✓', 'L', [G, S, 'app', 'café ✓']],
    ['telemetry::load_avg::0.52', 'T', [G, S, 'load_avg', '0.52']],
    ['T::vals::1::2::3', 'T', [G, S, 'vals', '1', '2', '3']],
    ['telemetry::JSON:{"a":"b"}', 'T', [G, S, 'JSON:{"a":"b"}']],
    [`response::${CMD}::done`, 'R', [G, S, CMD, ['done'], ['']]],
    [`R::${CMD}::out::err`, 'R', [G, S, CMD, ['out'], ['err']]],
    ['command::heartbeat', 'C', [G, S, 'heartbeat']],
    ['command::authenticate-agent::k3y', 'C', [G, S, 'authenticate-agent', ['k3y']]],
    ['query::color', 'Q', [G, S, 'color']],
    ['set::color::blue', 'S', [G, S, 'color', 'blue']],
    ['  LOG::syslog::padded  ', 'L', [G, S, 'syslog', 'padded']],
  ];
  it.each(cases)('%s', (line, verb, data) => {
    const [frame, ...rest] = framesOf(parseReplLine(line, ctx));
    expect(rest).toHaveLength(0);
    expect(frame?.[0]).toBe(verb);
    expect(frame?.[2]).toEqual(data);
  });

  it('gives every frame a fresh UUID', () => {
    const a = framesOf(parseReplLine('log::s::m', ctx))[0];
    const b = framesOf(parseReplLine('log::s::m', ctx))[0];
    expect(a?.[1]).not.toBe(b?.[1]);
  });
});

describe('parseReplLine: refused lines give a clear error instead of a poison frame', () => {
  const cases: Array<[string, RegExp]> = [
    ['log::syslog', /log needs \[group, server, service, message\]/],
    ['log::syslog::', /message\) must be a non-empty string/],
    ['log::::hello', /service\) must be a non-empty string/],
    ['telemetry::load_avg', /at least one value/],
    ['telemetry::load_avg::', /value\) must be a non-empty string/],
    ['telemetry', /telemetry name\) must be a non-empty string/],
    ['telemetry::JSON:{bad', /valid JSON/],
    ['response::DEADBEEF::x', /command frame's UUID verbatim/],
    ['response::' + CMD, /usage: response::COMMAND_UUID::STDOUT/],
    ['X::a::b', /unknown verb "X"/],
    ['hello', /unknown verb "hello"/],
    ['set::key::', /last data element must not be an empty string/],
    ['log::syslog::' + 'x'.repeat(9000), /budget \(max_frame_bytes\) is 8192/],
  ];
  it.each(cases)('%s', (line, pattern) => {
    expect(errorOf(parseReplLine(line, ctx))).toMatch(pattern);
  });

  it('honours max_frame_bytes from the context', () => {
    const line = 'log::syslog::' + 'x'.repeat(9000);
    const action = parseReplLine(line, { ...ctx, maxFrameBytes: 65537 });
    expect(action.kind === 'frames' ? action.frames[0]?.[2][3] : action).toBe('x'.repeat(9000));
  });

  it('never leaks the group key in an error', () => {
    const message = errorOf(parseReplLine('command::authenticate-agent::s3cret::extra', ctx));
    expect(message).not.toContain('s3cret');
  });
});

describe('parseReplLine: N times {…}', () => {
  it('repeats the frame with ITER replaced by 0 … N-1, each with its own UUID', () => {
    const action = parseReplLine('3 times {log::bench::line ITER of 3}', ctx);
    expect(action).toMatchObject({ kind: 'frames', timed: true });
    const frames = framesOf(action);
    expect(frames.map((f) => f[2][3])).toEqual(['line 0 of 3', 'line 1 of 3', 'line 2 of 3']);
    expect(new Set(frames.map((f) => f[1])).size).toBe(3);
  });

  it('refuses bad counts, bad templates and nested directives', () => {
    expect(errorOf(parseReplLine('0 times {log::a::b}', ctx))).toMatch(/must be 1…/);
    expect(errorOf(parseReplLine(`${MAX_REPEAT + 1} times {log::a::b}`, ctx))).toMatch(/must be 1…/);
    expect(errorOf(parseReplLine('2 times {log::a::}', ctx))).toMatch(/iteration 0: .*message/);
    expect(errorOf(parseReplLine('2 times {tail::a::/tmp/x}', ctx))).toMatch(/only VERB/);
    expect(errorOf(parseReplLine('2 times {2 times {log::a::b}}', ctx))).toMatch(/only VERB/);
  });
});

describe('parseReplLine: directives', () => {
  it('recognises tail, help, exit and ignores blank lines and comments', () => {
    expect(parseReplLine('tail::syslog::/var/log/syslog', ctx)).toEqual({
      kind: 'tail',
      service: 'syslog',
      path: '/var/log/syslog',
    });
    expect(parseReplLine('tail::app::C::\\logs\\x.log', ctx)).toEqual({
      kind: 'tail',
      service: 'app',
      path: 'C::\\logs\\x.log',
    });
    expect(errorOf(parseReplLine('tail::syslog', ctx))).toMatch(/usage: tail::SERVICE::PATH/);
    expect(parseReplLine('help', ctx)).toEqual({ kind: 'help' });
    expect(parseReplLine(' EXIT ', ctx)).toEqual({ kind: 'exit' });
    expect(parseReplLine('quit', ctx)).toEqual({ kind: 'exit' });
    expect(parseReplLine('', ctx)).toEqual({ kind: 'frames', frames: [] });
    expect(parseReplLine('# note', ctx)).toEqual({ kind: 'frames', frames: [] });
  });

  it('has help text that documents every form', () => {
    for (const form of [
      'log::',
      'telemetry::',
      'response::',
      'command::',
      'times {',
      'ITER',
      'tail::',
      'help',
      'exit',
    ]) {
      expect(REPL_HELP).toContain(form);
    }
  });
});
