/**
 * The tray as a pure function of the agent's state: icon, tooltip and context menu. The menu is always complete,
 * because Linux AppIndicator never delivers a click on the icon itself — everything must be reachable from the menu.
 */
import type { ConnectionStateName, UpdateView } from '../../src-shared/view-models';
import { trayUpdateItem, type UpdateRequest } from '../updates/policy';

export const PRODUCT_NAME = 'Minion Agent';

export type TrayIconName = 'connected' | 'connecting' | 'offline' | 'attention' | 'paused' | 'update';
export const TRAY_ICON_NAMES: readonly TrayIconName[] = [
  'connected',
  'connecting',
  'offline',
  'attention',
  'paused',
  'update',
];

export interface TrayState {
  connection: { state: ConnectionStateName; host: string; port: number };
  /** Frames spooled and not yet confirmed by the server, all classes. */
  queued: number;
  update: Pick<
    UpdateView,
    'state' | 'availableVersion' | 'currentVersion' | 'policy' | 'percent' | 'installHint'
  >;
  pendingApprovals: number;
  startAtLogin: boolean;
  /** False where the OS offers no login items (e.g. a Linux without XDG autostart support detected). */
  loginItemsSupported: boolean;
}

export type TrayAction =
  | 'open'
  | 'open-approvals'
  | 'pause'
  | 'resume'
  | 'reconnect'
  | 'check-updates'
  | 'download-update'
  | 'install-update'
  | 'toggle-start-at-login'
  | 'open-data-folder'
  | 'quit';

export type TrayMenuItem =
  | { type: 'separator' }
  | { type: 'normal'; label: string; enabled: boolean; action?: TrayAction }
  | { type: 'checkbox'; label: string; enabled: boolean; checked: boolean; action: TrayAction };

export interface TrayView {
  icon: TrayIconName;
  tooltip: string;
  menu: TrayMenuItem[];
}

const ATTENTION_STATES: ReadonlySet<ConnectionStateName> = new Set(['denied', 'tls-error', 'protocol-error']);
const OFFLINE_STATES: ReadonlySet<ConnectionStateName> = new Set(['unreachable', 'no-auth-reply']);

/** Windows truncates tray tooltips at 127 characters; keep the whole sentence under it. */
export const MAX_TOOLTIP_LENGTH = 127;

export function trayIconFor(state: TrayState): TrayIconName {
  const conn = state.connection.state;
  if (ATTENTION_STATES.has(conn) || state.pendingApprovals > 0) return 'attention';
  if (OFFLINE_STATES.has(conn)) return 'offline';
  if (conn === 'paused') return 'paused';
  if (state.update.state === 'ready') return 'update';
  if (conn === 'connected') return 'connected';
  return 'connecting';
}

function address(state: TrayState): string {
  const { host, port } = state.connection;
  return host ? `${host}:${port}` : 'no server configured';
}

/** The sentence shared by the tooltip and the menu's status line. */
export function statusSentence(state: TrayState): string {
  const at = address(state);
  switch (state.connection.state) {
    case 'connected':
      return `connected to ${at}`;
    case 'connecting':
    case 'authenticating':
      return `connecting to ${at}`;
    case 'idle':
      return state.connection.host ? `not connected (${at})` : 'not configured';
    case 'paused':
      return 'sending paused';
    case 'unreachable':
      return `offline — ${at} unreachable`;
    case 'no-auth-reply':
      return `offline — ${at} did not answer the login`;
    case 'denied':
      return `denied by ${at} — check the group key`;
    case 'tls-error':
      return `TLS error with ${at}`;
    case 'protocol-error':
      return `protocol error with ${at}`;
  }
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function trayTooltip(state: TrayState): string {
  const parts = [`${PRODUCT_NAME} — ${statusSentence(state)}`];
  if (state.queued > 0) parts.push(`${state.queued} queued`);
  if (state.pendingApprovals > 0)
    parts.push(`${plural(state.pendingApprovals, 'approval', 'approvals')} waiting`);
  if (state.update.state === 'ready' && state.update.availableVersion) {
    parts.push(`update ${state.update.availableVersion} ready`);
  }
  const text = parts.join(' · ');
  return text.length <= MAX_TOOLTIP_LENGTH ? text : `${text.slice(0, MAX_TOOLTIP_LENGTH - 1)}…`;
}

const UPDATE_ACTIONS: Record<UpdateRequest, TrayAction> = {
  check: 'check-updates',
  download: 'download-update',
  install: 'install-update',
};

/** Tray actions that are update requests, for the shell to pass to `UpdateService.userRequest`. */
export const TRAY_UPDATE_REQUESTS: Partial<Record<TrayAction, UpdateRequest>> = {
  'check-updates': 'check',
  'download-update': 'download',
  'install-update': 'install',
};

function updateItem(state: TrayState): TrayMenuItem {
  const item = trayUpdateItem(state.update.policy, state.update);
  return item.request == null
    ? { type: 'normal', label: item.label, enabled: false }
    : { type: 'normal', label: item.label, enabled: item.enabled, action: UPDATE_ACTIONS[item.request] };
}

export function trayMenu(state: TrayState): TrayMenuItem[] {
  const paused = state.connection.state === 'paused';
  const status = statusSentence(state);
  const statusLine =
    status.charAt(0).toUpperCase() + status.slice(1) + (state.queued > 0 ? ` · ${state.queued} queued` : '');
  const items: TrayMenuItem[] = [
    { type: 'normal', label: statusLine, enabled: false },
    { type: 'separator' },
    { type: 'normal', label: `Open ${PRODUCT_NAME}`, enabled: true, action: 'open' },
  ];
  if (state.pendingApprovals > 0) {
    items.push({
      type: 'normal',
      label: `Review ${plural(state.pendingApprovals, 'command', 'commands')} awaiting approval…`,
      enabled: true,
      action: 'open-approvals',
    });
  }
  items.push(
    paused
      ? { type: 'normal', label: 'Resume sending', enabled: true, action: 'resume' }
      : { type: 'normal', label: 'Pause sending', enabled: true, action: 'pause' },
    // Reconnecting while paused would do nothing visible: resume first.
    {
      type: 'normal',
      label: 'Reconnect now',
      enabled: !paused && Boolean(state.connection.host),
      action: 'reconnect',
    },
    { type: 'separator' },
    updateItem(state),
    {
      type: 'checkbox',
      label: 'Start at login',
      enabled: state.loginItemsSupported,
      checked: state.startAtLogin,
      action: 'toggle-start-at-login',
    },
    { type: 'normal', label: 'Open data folder', enabled: true, action: 'open-data-folder' },
    { type: 'separator' },
    { type: 'normal', label: `Quit ${PRODUCT_NAME}`, enabled: true, action: 'quit' },
  );
  return items;
}

export function trayView(state: TrayState): TrayView {
  return { icon: trayIconFor(state), tooltip: trayTooltip(state), menu: trayMenu(state) };
}
