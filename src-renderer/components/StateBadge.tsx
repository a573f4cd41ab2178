import type { ConnectionStateName } from '../../src-shared/view-models';

const TONE: Record<ConnectionStateName, 'ok' | 'busy' | 'idle' | 'bad'> = {
  idle: 'idle',
  connecting: 'busy',
  authenticating: 'busy',
  connected: 'ok',
  paused: 'idle',
  unreachable: 'bad',
  denied: 'bad',
  'no-auth-reply': 'bad',
  'tls-error': 'bad',
  'protocol-error': 'bad',
};

const LABEL: Record<ConnectionStateName, string> = {
  idle: 'Idle',
  connecting: 'Connecting',
  authenticating: 'Authenticating',
  connected: 'Connected',
  paused: 'Paused',
  unreachable: 'Unreachable',
  denied: 'Denied',
  'no-auth-reply': 'No auth reply',
  'tls-error': 'TLS error',
  'protocol-error': 'Protocol error',
};

export function stateLabel(state: ConnectionStateName): string {
  return LABEL[state] ?? state;
}

/** The state is spelled out in text; colour only reinforces it. */
export function StateBadge({ state }: { state: ConnectionStateName }) {
  return (
    <span className={`state-badge state-${TONE[state] ?? 'idle'}`} data-state={state}>
      <span className="state-dot" aria-hidden="true" />
      {stateLabel(state)}
    </span>
  );
}
