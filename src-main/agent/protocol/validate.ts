/**
 * Pre-send validation (protocol.md §11.1, §14). The real StreamServer closes the connection on some bad frames and,
 * worse, silently kills its file/io writers for *every* agent on others ("poison frames"). Every frame the agent
 * sends passes through here first; a failure is a bug in the code that built the frame.
 */
import { type WireFrame } from '../../../src-shared/view-models';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, MAX_FRAME_BYTES_LIMIT } from './codec';
import { FrameValidationError } from './errors';
import { redactFrame } from './frames';
import { canonicalUuidHasMinionTime, isCanonicalUuid } from './uuid';

export interface ValidateOptions {
  /** Budget for the whole frame incl. the 2-byte header (config `max_frame_bytes`); default 8192, at most 65537. */
  maxFrameBytes?: number;
  /** For `R` results: the dispatch frame's UUID, which must be echoed unchanged. */
  expectedCommandUuid?: string;
}

/** Verbs the agent may send. Unknown verbs are dropped by the server anyway, so sending one is always a bug. */
export const AGENT_VERBS: ReadonlySet<string> = new Set(['L', 'T', 'C', 'R', 'Q', 'S']);

function strHeaderBytes(n: number): number {
  return n <= 31 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}
function arrayHeaderBytes(n: number): number {
  return n <= 15 ? 1 : n <= 0xffff ? 3 : 5;
}
function strBytes(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  return strHeaderBytes(n) + n;
}

/** Exact encoded size of the frame incl. the 2-byte header, computed without encoding it. */
export function frameByteLength(frame: WireFrame): number {
  const [verb, uuid, data] = frame;
  let size = FRAME_HEADER_BYTES + 1 + strBytes(verb) + strBytes(uuid) + arrayHeaderBytes(data.length);
  for (const item of data) {
    if (typeof item === 'string') {
      size += strBytes(item);
    } else {
      size += arrayHeaderBytes(item.length);
      for (const s of item) size += strBytes(s);
    }
  }
  return size;
}

/** Checks a `max_frame_bytes` value; throws RangeError when it is outside 3…65537. */
export function checkMaxFrameBytes(maxFrameBytes: number): number {
  if (
    !Number.isInteger(maxFrameBytes) ||
    maxFrameBytes <= FRAME_HEADER_BYTES ||
    maxFrameBytes > MAX_FRAME_BYTES_LIMIT
  ) {
    throw new RangeError(
      `max_frame_bytes must be an integer in 3…${MAX_FRAME_BYTES_LIMIT}, got ${maxFrameBytes}`,
    );
  }
  return maxFrameBytes;
}

/**
 * An upper bound of `frameByteLength` from string lengths alone (no UTF-8 pass): a UTF-16 unit is at most 3 bytes
 * and a header at most 5.
 */
function frameByteLengthBound(frame: WireFrame): number {
  const data = frame[2];
  let size = FRAME_HEADER_BYTES + 1 + 10 + (frame[0].length + frame[1].length) * 3 + 5;
  for (let i = 0; i < data.length; i++) {
    const item = data[i] as string | string[];
    if (typeof item === 'string') {
      size += 5 + item.length * 3;
    } else {
      size += 5;
      for (let j = 0; j < item.length; j++) size += 5 + (item[j] as string).length * 3;
    }
  }
  return size;
}

/** The server id is the same string in every frame: once it checked out, a comparison settles it. */
let lastCanonicalServerId = '';
function isKnownCanonical(s: string): boolean {
  if (s === lastCanonicalServerId) return true;
  if (!isCanonicalUuid(s)) return false;
  lastCanonicalServerId = s;
  return true;
}

function allStrings(items: unknown[]): boolean {
  for (let i = 0; i < items.length; i++) if (typeof items[i] !== 'string') return false;
  return true;
}

function refusal(frame: unknown, reason: string, detail: string): FrameValidationError {
  const verb = Array.isArray(frame) && typeof frame[0] === 'string' ? frame[0] : '?';
  const safe = Array.isArray(frame) && frame.length === 3 ? redactFrame(frame as WireFrame) : frame;
  return new FrameValidationError(reason, `refused to send ${verb} frame: ${detail}`, safe);
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/**
 * Returns why the frame must not be sent, or null when it is fine. Never throws for malformed input (it may come
 * from untyped code paths), only for a bad `maxFrameBytes` option.
 */
export function checkOutgoingFrame(frame: unknown, opts?: ValidateOptions): FrameValidationError | null {
  // Runs for every frame the agent sends: no closure, regex or copy on the way to `null`.
  if (!Array.isArray(frame) || frame.length !== 3)
    return refusal(frame, 'bad-shape', 'a frame is [verb, uuid, data]');
  // Index access, not destructuring: no iterator per frame.
  const verb: unknown = frame[0];
  const uuid: unknown = frame[1];
  const data: unknown = frame[2];
  if (typeof verb !== 'string' || !AGENT_VERBS.has(verb)) {
    return refusal(frame, 'bad-verb', `verb must be one of L T C R Q S, got ${JSON.stringify(verb)}`);
  }
  if (typeof uuid !== 'string' || !isCanonicalUuid(uuid)) {
    return refusal(
      frame,
      'uuid-not-canonical',
      `frame UUID must be lowercase 8-4-4-4-12 hex, got ${JSON.stringify(uuid)}`,
    );
  }
  if (!canonicalUuidHasMinionTime(uuid)) {
    return refusal(
      frame,
      'uuid-bad-time',
      `frame UUID ${uuid} is not a Minion UUID (its time cannot be decoded)`,
    );
  }
  if (!Array.isArray(data)) return refusal(frame, 'bad-shape', 'data must be an array');
  for (let i = 0; i < data.length; i++) {
    const item: unknown = data[i];
    if (typeof item === 'string') continue;
    if (!Array.isArray(item) || !allStrings(item)) {
      return refusal(frame, 'data-bad-type', `data[${i}] must be a string or an array of strings`);
    }
  }
  if (!isNonEmptyString(data[0]))
    return refusal(frame, 'missing-group-id', 'data[0] (group id) must be a non-empty string');
  if (typeof data[1] !== 'string' || !isKnownCanonical(data[1])) {
    return refusal(
      frame,
      'server-id-not-canonical',
      `data[1] (server id) must be a lowercase UUID, got ${JSON.stringify(data[1])}`,
    );
  }

  switch (verb) {
    case 'L':
      if (data.length < 4)
        return refusal(
          frame,
          'log-too-short',
          `a log needs [group, server, service, message], got ${data.length} items`,
        );
      if (!isNonEmptyString(data[2]))
        return refusal(frame, 'log-empty-service', 'data[2] (service) must be a non-empty string');
      if (!isNonEmptyString(data[3]))
        return refusal(frame, 'log-empty-message', 'data[3] (message) must be a non-empty string');
      break;
    case 'T': {
      const name: unknown = data[2];
      if (!isNonEmptyString(name))
        return refusal(frame, 'telemetry-empty-name', 'data[2] (telemetry name) must be a non-empty string');
      if (name.startsWith('JSON:')) {
        try {
          JSON.parse(name.slice(5));
        } catch {
          // A PostgreSQL destination rejects the whole insert batch on bad JSON (§11.1 item 8).
          return refusal(
            frame,
            'telemetry-bad-json',
            'a JSON: telemetry name must be followed by valid JSON',
          );
        }
      } else if (data.length < 4) {
        return refusal(frame, 'telemetry-no-value', 'telemetry needs at least one value after the name');
      }
      for (let i = 3; i < data.length; i++) {
        if (!isNonEmptyString(data[i]))
          return refusal(frame, 'telemetry-empty-value', `data[${i}] (value) must be a non-empty string`);
      }
      break;
    }
    case 'R': {
      if (data.length !== 5)
        return refusal(
          frame,
          'result-bad-shape',
          `a result is [group, server, command uuid, [stdout], [stderr]], got ${data.length} items`,
        );
      const commandUuid: unknown = data[2];
      if (typeof commandUuid !== 'string' || !isCanonicalUuid(commandUuid)) {
        return refusal(
          frame,
          'result-command-uuid',
          `data[2] must be the command frame's UUID verbatim, got ${JSON.stringify(commandUuid)}`,
        );
      }
      if (opts?.expectedCommandUuid !== undefined && commandUuid !== opts.expectedCommandUuid) {
        return refusal(
          frame,
          'result-command-uuid',
          `data[2] ${commandUuid} is not the command UUID ${opts.expectedCommandUuid}`,
        );
      }
      if (!Array.isArray(data[3]) || !Array.isArray(data[4])) {
        return refusal(
          frame,
          'result-bad-output',
          'data[3] and data[4] must be [stdout] and [stderr] arrays',
        );
      }
      break;
    }
    case 'C': {
      const name: unknown = data[2];
      if (!isNonEmptyString(name))
        return refusal(frame, 'command-empty-name', 'data[2] (command name) must be a non-empty string');
      if (name === 'authenticate-agent') {
        const key: unknown = data[3];
        const keyOk =
          data.length === 4 &&
          (Array.isArray(key) ? key.length === 1 && isNonEmptyString(key[0]) : isNonEmptyString(key));
        if (!keyOk)
          return refusal(
            frame,
            'auth-missing-key',
            'authenticate-agent needs exactly [group, server, name, [key]] with a non-empty key',
          );
      } else if (name === 'heartbeat' && data.length !== 3) {
        return refusal(frame, 'heartbeat-bad-shape', 'a heartbeat is exactly [group, server, "heartbeat"]');
      }
      break;
    }
    default: // Q, S: the server drops them; only the generic rules apply.
      if (data.length < 3) return refusal(frame, 'too-short', 'needs at least [group, server, key]');
  }
  // An empty string as the last element kills the server's io/file writers for everybody (§14).
  if (data[data.length - 1] === '')
    return refusal(frame, 'empty-last-element', 'the last data element must not be an empty string');

  const limit = checkMaxFrameBytes(opts?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  // The exact size needs the UTF-8 length of every string; a bound from the UTF-16 lengths settles nearly all frames.
  if (frameByteLengthBound(frame as WireFrame) <= limit) return null;
  const size = frameByteLength(frame as WireFrame);
  if (size > limit)
    return refusal(frame, 'too-large', `frame is ${size} bytes, the budget (max_frame_bytes) is ${limit}`);
  return null;
}

/** Throws FrameValidationError when the frame must not be sent (see `checkOutgoingFrame`). */
export function validateOutgoingFrame(frame: WireFrame, opts?: ValidateOptions): void {
  const error = checkOutgoingFrame(frame, opts);
  if (error) throw error;
}
