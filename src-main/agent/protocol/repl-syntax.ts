/**
 * The original agent's interactive REPL syntax ("IAR", protocol.md §10), parsed into frames or directives:
 *   VERB::DATA1::DATA2…      one frame, data = [group, server, DATA1, …]
 *   N times {VERB::…}        N frames, `ITER` in the data replaced by the iteration number (0 … N-1)
 *   tail::SERVICE::PATH      follow a file and ship each new line as a log
 *   help, exit (also quit)
 * Differences from the original, on purpose: unknown verbs are refused instead of sent verbatim (the server drops
 * them), `response::CMD::OUT[::ERR]` builds a proper `[…, [stdout], [stderr]]` result, the key of
 * `command::authenticate-agent::KEY` is nested as `[KEY]`, and every frame must pass pre-send validation.
 */
import { type WireFrame } from '../../../src-shared/view-models';
import { checkOutgoingFrame } from './validate';
import { newMinionUuid } from './uuid';

export interface ReplContext {
  groupId: string;
  serverId: string;
  /** Outgoing frame budget (config `max_frame_bytes`); default 8192. */
  maxFrameBytes?: number;
}

export type ReplAction =
  /** `timed`: the line was `N times {…}`, which the original benchmarked; print how long sending took. */
  | { kind: 'frames'; frames: WireFrame[]; timed?: boolean }
  | { kind: 'tail'; service: string; path: string }
  | { kind: 'help' }
  | { kind: 'exit' }
  | { kind: 'error'; message: string };

/** Upper bound for `N times {…}`: the frames are built up front, so keep memory bounded. */
export const MAX_REPEAT = 100_000;

const VERBS: ReadonlyMap<string, string> = new Map([
  ['log', 'L'],
  ['command', 'C'],
  ['response', 'R'],
  ['telemetry', 'T'],
  ['query', 'Q'],
  ['set', 'S'],
  ['l', 'L'],
  ['c', 'C'],
  ['r', 'R'],
  ['t', 'T'],
  ['q', 'Q'],
  ['s', 'S'],
]);

export const REPL_HELP = `Send frames to the StreamServer, one per line (data starts with your group and server id):
  log::SERVICE::MESSAGE            a log line                 (L)
  telemetry::NAME::V1::V2…         telemetry values           (T)
  telemetry::JSON:{"k":"v"}        JSON telemetry             (T)
  response::COMMAND_UUID::STDOUT[::STDERR]   a command result (R)
  command::heartbeat               a heartbeat request        (C)
  query::KEY  /  set::KEY::VALUE   key/value frames the server ignores (Q, S)
  VERB may also be the letter L, T, R, C, Q or S.
  N times {VERB::…}                send N frames; ITER in the data becomes 0 … N-1; prints the time taken
  tail::SERVICE::PATH              follow PATH and send each new line as a log of SERVICE
  help                             this text
  exit                             leave (Ctrl-D works too)
Frames that would be refused by the server (empty message, empty value, too large…) are not sent.`;

const REPEAT = /^(\d+)\s+times\s*\{(.*)\}$/s;

export function parseReplLine(line: string, ctx: ReplContext): ReplAction {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return { kind: 'frames', frames: [] };
  const lower = text.toLowerCase();
  if (lower === 'help' || lower === '?') return { kind: 'help' };
  if (lower === 'exit' || lower === 'quit') return { kind: 'exit' };

  const repeat = REPEAT.exec(text);
  if (repeat) {
    const count = Number(repeat[1]);
    const template = (repeat[2] ?? '').trim();
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_REPEAT) {
      return { kind: 'error', message: `N in "N times {…}" must be 1…${MAX_REPEAT}, got ${repeat[1]}` };
    }
    if (/^(tail|help|exit|quit)\b/i.test(template) || REPEAT.test(template)) {
      return { kind: 'error', message: 'only VERB::… frames can be repeated with "N times {…}"' };
    }
    const frames: WireFrame[] = [];
    for (let i = 0; i < count; i++) {
      const result = frameFromLine(template.replaceAll('ITER', String(i)), ctx);
      if (typeof result === 'string') return { kind: 'error', message: `iteration ${i}: ${result}` };
      frames.push(result);
    }
    return { kind: 'frames', frames, timed: true };
  }

  const parts = text.split('::');
  if ((parts[0] ?? '').trim().toLowerCase() === 'tail') {
    const service = parts[1] ?? '';
    const path = parts.slice(2).join('::');
    if (service === '' || path === '') return { kind: 'error', message: 'usage: tail::SERVICE::PATH' };
    return { kind: 'tail', service, path };
  }

  const result = frameFromLine(text, ctx);
  return typeof result === 'string'
    ? { kind: 'error', message: result }
    : { kind: 'frames', frames: [result] };
}

/** One `VERB::DATA…` line → a validated frame, or an error message. */
function frameFromLine(text: string, ctx: ReplContext): WireFrame | string {
  const parts = text.split('::');
  const verbWord = (parts[0] ?? '').trim();
  const verb = VERBS.get(verbWord.toLowerCase());
  if (!verb) {
    return `unknown verb ${JSON.stringify(verbWord)}: use log, telemetry, response, command, query, set (or L T R C Q S); type "help"`;
  }
  const args = parts.slice(1);
  const head = [ctx.groupId, ctx.serverId];
  let data: WireFrame[2];
  if (verb === 'R') {
    if (args.length < 2 || args.length > 3) return 'usage: response::COMMAND_UUID::STDOUT[::STDERR]';
    data = [...head, args[0] as string, [args[1] as string], [args[2] ?? '']];
  } else if (verb === 'C' && args[0] === 'authenticate-agent' && args.length === 2) {
    data = [...head, 'authenticate-agent', [args[1] as string]];
  } else {
    data = [...head, ...args];
  }
  const frame: WireFrame = [verb, newMinionUuid(), data];
  const error = checkOutgoingFrame(
    frame,
    ctx.maxFrameBytes === undefined ? undefined : { maxFrameBytes: ctx.maxFrameBytes },
  );
  return error ? `not sent: ${error.message.replace(/^refused to send /, '')}` : frame;
}
