/**
 * Human explanations and fix hints for every connection state. Kept apart from the state machine so the texts can
 * be reviewed (and tested) in one place.
 */
import { type ConnectionStateName } from '../../../src-shared/view-models';

export interface StateText {
  explanation: string;
  fixHint: string;
}

export const FIX_HINTS = {
  unreachable:
    'Check streamserver_host and streamserver_port, that the StreamServer is running, and that no firewall blocks the port.',
  lost: 'The agent keeps reconnecting on its own; nothing is lost while it is offline (frames are spooled).',
  denied:
    "Server answered 'denied': check the group key (group_key must match the key configured for this group on the server).",
  noAuthReply:
    'The group is not known to the server, or the server has no command/PostgreSQL config (protocol §14): check group_id and the server configuration.',
  tls: 'Check tls.ca_file, tls.server_name and the client certificate, and that the server really speaks TLS (the stock StreamServer speaks plaintext).',
  protocol:
    'The server sent bytes that are not Minion frames: check that streamserver_port is a Minion StreamServer.',
} as const;

export function describeState(state: ConnectionStateName, where: string): StateText {
  switch (state) {
    case 'idle':
      return { explanation: 'Not connected: the agent is not running.', fixHint: '' };
    case 'connecting':
      return { explanation: `Connecting to ${where}…`, fixHint: '' };
    case 'authenticating':
      return {
        explanation: `Connected to ${where}; waiting for the server to accept the group key…`,
        fixHint: '',
      };
    case 'connected':
      return { explanation: `Connected to ${where} and authenticated.`, fixHint: '' };
    case 'paused':
      return {
        explanation: 'Paused: the connection is closed on purpose; frames are spooled.',
        fixHint: 'Resume to reconnect.',
      };
    case 'unreachable':
      return { explanation: `Cannot reach ${where}.`, fixHint: FIX_HINTS.unreachable };
    case 'denied':
      return { explanation: "Server answered 'denied' to the group key.", fixHint: FIX_HINTS.denied };
    case 'no-auth-reply':
      return { explanation: 'The server did not answer the authentication.', fixHint: FIX_HINTS.noAuthReply };
    case 'tls-error':
      return { explanation: `TLS connection to ${where} failed.`, fixHint: FIX_HINTS.tls };
    case 'protocol-error':
      return { explanation: `${where} sent malformed data.`, fixHint: FIX_HINTS.protocol };
  }
}

/** Error states: the connection is down and a retry is (or, for a one-shot test, would be) scheduled. */
export const ERROR_STATES: ReadonlySet<ConnectionStateName> = new Set([
  'unreachable',
  'denied',
  'no-auth-reply',
  'tls-error',
  'protocol-error',
]);

/** Socket error codes that mean "could not reach the server" rather than "it broke the conversation". */
const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens on that port)',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'host name lookup failed temporarily (DNS)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection broken (write to a closed socket)',
  EADDRNOTAVAIL: 'address not available',
};

export function describeSocketError(error: NodeJS.ErrnoException): string {
  const code = error.code ?? '';
  const known = UNREACHABLE_CODES[code];
  return known ? `${known} [${code}]` : error.message;
}
