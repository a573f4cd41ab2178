/**
 * Builders for the frames the agent originates (protocol.md §2.4), each with a fresh Minion UUID.
 * Builders do not validate (that would cost a second pass on the hot path): every frame goes through
 * `validateOutgoingFrame` before it is spooled or sent.
 */
import { type FrameClass, type WireFrame } from '../../../src-shared/view-models';
import { encodeFrame } from './codec';
import { newMinionUuid } from './uuid';

export const AUTH_COMMAND = 'authenticate-agent';
export const HEARTBEAT_COMMAND = 'heartbeat';
export const REDACTED = '***';

/** `C [group, server, "authenticate-agent", [key]]` — the key travels nested in a 1-element array. */
export function authFrame(groupId: string, serverId: string, groupKey: string): WireFrame {
  return ['C', newMinionUuid(), [groupId, serverId, AUTH_COMMAND, [groupKey]]];
}

/** `C [group, server, "heartbeat"]`. */
export function heartbeatFrame(groupId: string, serverId: string): WireFrame {
  return ['C', newMinionUuid(), [groupId, serverId, HEARTBEAT_COMMAND]];
}

/** `L [group, server, service, message]`. */
export function logFrame(groupId: string, serverId: string, service: string, message: string): WireFrame {
  return ['L', newMinionUuid(), [groupId, serverId, service, message]];
}

/** `T [group, server, name, value…]`; for `name` = `"JSON:{…}"` pass `values` = []. */
export function telemetryFrame(groupId: string, serverId: string, name: string, values: string[]): WireFrame {
  return ['T', newMinionUuid(), [groupId, serverId, name, ...values]];
}

/** `R [group, server, <command uuid verbatim>, [stdout], [stderr]]`. */
export function resultFrame(
  groupId: string,
  serverId: string,
  commandUuid: string,
  stdout: string,
  stderr: string,
): WireFrame {
  return ['R', newMinionUuid(), [groupId, serverId, commandUuid, [stdout], [stderr]]];
}

export function isAuthFrame(frame: WireFrame): boolean {
  return frame[0] === 'C' && frame[2][2] === AUTH_COMMAND;
}

/**
 * A copy of an auth frame with the group key replaced by "***" (same shape), for traces and logs. Any other frame
 * is returned as is (same object: no copy on the hot path).
 */
export function redactFrame(frame: WireFrame): WireFrame {
  if (!isAuthFrame(frame)) return frame;
  const data = frame[2].map((item, i) =>
    i < 3 ? item : Array.isArray(item) ? item.map(() => REDACTED) : REDACTED,
  );
  return [frame[0], frame[1], data];
}

/** Hex of the frame as it goes on the wire, with the group key redacted: for the wire trace. */
export function redactedFrameHex(frame: WireFrame): string {
  return encodeFrame(redactFrame(frame)).toString('hex');
}

/** Spool class of an agent-originated frame: L→log, T→telemetry, R→result, anything else null. */
export function frameClassOf(frame: WireFrame): FrameClass | null {
  switch (frame[0]) {
    case 'L':
      return 'log';
    case 'T':
      return 'telemetry';
    case 'R':
      return 'result';
    default:
      return null;
  }
}
