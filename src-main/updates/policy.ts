// What a click in the tray or the UI, or an `internal upgrade` from the server, may do under `updates.policy`.
// Pure decisions (no I/O) plus the small adapter that turns a server command into service calls and a reply.
import type { UpdateView } from '../../src-shared/view-models';

export type UpdatePolicy = 'manual' | 'auto' | 'off';
export type UpdateRequest = 'check' | 'download' | 'install';
export type UpdateAction = UpdateRequest | 'none';

export interface UpdateDecision {
  /** What to call on the update service (`none`: nothing, show `message`). */
  action: UpdateAction;
  /** True when the policy or a safety rule said no (the UI shows it as a refusal, the server gets it on stderr). */
  refused: boolean;
  /** One sentence for the person (or the server operator). */
  message: string;
}

type ViewFacts = Pick<UpdateView, 'state' | 'currentVersion' | 'availableVersion' | 'installHint'>;

const OFF_MESSAGE = 'Updates are turned off on this agent (updates.policy: off).';

/**
 * A user asked for something (UI button or tray item; both go through `UpdateService.userRequest`). Users may always
 * check and install under manual/auto, except in a copy that cannot replace itself (a deb updates through apt).
 */
export function decideUserRequest(
  policy: UpdatePolicy,
  request: UpdateRequest,
  view: ViewFacts,
  allowDowngrade = false,
): UpdateDecision {
  if (policy === 'off') return refuse(OFF_MESSAGE);
  if (view.installHint && request !== 'check') return refuse(view.installHint);
  const offered = view.availableVersion;
  if (
    offered != null &&
    !allowDowngrade &&
    isDowngrade(view.currentVersion, offered) &&
    request !== 'check'
  ) {
    return refuse(downgradeMessage(view.currentVersion, offered));
  }
  switch (view.state) {
    case 'checking':
      return none('A check for updates is already running.');
    case 'downloading':
      return none(`${capitalize(product(offered))} is downloading.`);
    case 'ready':
      return request === 'install'
        ? act('install', `Installing ${product(offered)} and restarting.`)
        : none(`${capitalize(product(offered))} is downloaded and ready to install.`);
    case 'available':
      if (request === 'check') return act('check', 'Checking for updates.');
      return act('download', `Downloading ${product(offered)}.`);
    default:
      // idle, not-available, error, off (unpackaged): the only useful thing is to ask the feed (again).
      if (request === 'install') return none('No update is ready to install; check for updates first.');
      return act('check', 'Checking for updates.');
  }
}

export interface TrayUpdateItem {
  label: string;
  enabled: boolean;
  /** Passed to `decideUserRequest` when clicked; null when the item is informational. */
  request: UpdateRequest | null;
}

/**
 * The single "updates" item of the tray menu: its label follows the state so one click does the next sensible step,
 * and its `request` goes through `decideUserRequest` like a click in the UI.
 */
export function trayUpdateItem(
  policy: UpdatePolicy,
  view: ViewFacts & Pick<UpdateView, 'percent'>,
): TrayUpdateItem {
  if (policy === 'off') return { label: 'Updates are turned off', enabled: false, request: null };
  const version = view.availableVersion ?? '';
  switch (view.state) {
    case 'checking':
      return { label: 'Checking for updates…', enabled: false, request: null };
    case 'available':
      // A deb cannot replace itself: say what is there; the Updates page says how to install it.
      if (view.installHint)
        return { label: `Update ${version} available`.trim(), enabled: false, request: null };
      return { label: `Download update ${version}`.trim(), enabled: true, request: 'download' };
    case 'downloading': {
      const percent = view.percent == null ? '' : ` ${Math.floor(view.percent)} %`;
      return { label: `Downloading update…${percent}`, enabled: false, request: null };
    }
    case 'ready':
      return {
        label: version === '' ? 'Restart to install the update' : `Restart to install ${version}`,
        enabled: true,
        request: 'install',
      };
    case 'off':
      // Policy manual/auto but no feed to ask (an unpackaged build): nothing a click could do.
      return { label: 'Updates are off in this build', enabled: false, request: null };
    default:
      return { label: 'Check for updates…', enabled: true, request: 'check' };
  }
}

export type ServerUpgradePlan = 'refuse' | 'check-and-prompt' | 'check-download-install-when-quiet';

/** A server-issued `internal upgrade` never installs behind a manual user's back. */
export function decideServerUpgrade(policy: UpdatePolicy): ServerUpgradePlan {
  if (policy === 'off') return 'refuse';
  return policy === 'manual' ? 'check-and-prompt' : 'check-download-install-when-quiet';
}

/** The part of the update service the server handler drives (UpdateService satisfies it). */
export interface ServerUpgradeTarget {
  check(): Promise<UpdateView>;
  download(): Promise<UpdateView>;
  promptUser(): void;
  installWhenQuiet(): void;
}

export interface CommandReply {
  stdout: string;
  stderr: string;
}

/**
 * The handler for the server's `internal upgrade` command. Replies right after the check: a download can take
 * minutes and the result frame should not wait for it.
 */
export function serverUpgradeHandler(
  service: ServerUpgradeTarget,
  policy: UpdatePolicy,
): (argv: string[]) => Promise<CommandReply> {
  return async (argv) => {
    const ignored = argv.length > 0 ? ` (arguments ignored: ${argv.join(' ')})` : '';
    const plan = decideServerUpgrade(policy);
    if (plan === 'refuse') return { stdout: '', stderr: `upgrade refused: ${OFF_MESSAGE}${ignored}` };
    const view = await service.check();
    if (view.state === 'error')
      return { stdout: '', stderr: `upgrade failed: ${view.error ?? 'unknown error'}` };
    if (view.state === 'not-available' || view.state === 'off' || view.state === 'idle') {
      const why = view.detail ?? `${view.currentVersion} is the latest version.`;
      return { stdout: `no update available: ${why}${ignored}`, stderr: '' };
    }
    const version = view.availableVersion ?? 'a new version';
    if (plan === 'check-and-prompt') {
      service.promptUser();
      return {
        stdout: `update ${version} available, waiting for the user to install it (updates.policy: manual)${ignored}`,
        stderr: '',
      };
    }
    service.installWhenQuiet();
    if (view.state === 'ready') {
      return {
        stdout: `update ${version} downloaded; installing at the next quiet moment (updates.policy: auto)${ignored}`,
        stderr: '',
      };
    }
    void service.download();
    return {
      stdout: `update ${version} available; downloading, will install at the next quiet moment (updates.policy: auto)${ignored}`,
      stderr: '',
    };
  };
}

export function downgradeMessage(current: string, offered: string): string {
  return `Refusing to install ${offered} over ${current}: downgrades need updates.allow_downgrade.`;
}

/** True when `candidate` is strictly older than `current` (semver precedence); false when either is not semver. */
export function isDowngrade(current: string, candidate: string): boolean {
  const order = compareVersions(candidate, current);
  return order != null && order < 0;
}

interface ParsedVersion {
  core: [number, number, number];
  prerelease: string[];
}

function parseVersion(text: string): ParsedVersion | null {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text.trim());
  if (match == null) return null;
  return {
    core: [Number(match[1]), Number(match[2]), Number(match[3])],
    prerelease: match[4] == null ? [] : match[4].split('.'),
  };
}

/** Semver 2.0 precedence: negative when a < b, 0 when equal, positive when a > b; null when either is not semver. */
export function compareVersions(a: string, b: string): number | null {
  const left = parseVersion(a);
  const right = parseVersion(b);
  if (left == null || right == null) return null;
  for (let i = 0; i < 3; i++) {
    const diff = (left.core[i] ?? 0) - (right.core[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  // A release ranks above its prereleases (1.0.0 > 1.0.0-beta).
  if (left.prerelease.length === 0 || right.prerelease.length === 0) {
    return Math.sign(right.prerelease.length - left.prerelease.length);
  }
  const length = Math.max(left.prerelease.length, right.prerelease.length);
  for (let i = 0; i < length; i++) {
    const x = left.prerelease[i];
    const y = right.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const xNumeric = /^\d+$/.test(x);
    const yNumeric = /^\d+$/.test(y);
    if (xNumeric && yNumeric) return Math.sign(Number(x) - Number(y));
    if (xNumeric) return -1;
    if (yNumeric) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

function product(version: string | null): string {
  return version == null ? 'the update' : `Minion Agent ${version}`;
}
function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
function refuse(message: string): UpdateDecision {
  return { action: 'none', refused: true, message };
}
function none(message: string): UpdateDecision {
  return { action: 'none', refused: false, message };
}
function act(action: UpdateAction, message: string): UpdateDecision {
  return { action, refused: false, message };
}

/** What the agent is busy with (AgentCoreApi.activity()). */
export interface ActivityFacts {
  runningCommands: number;
  queuedCommands: number;
  pendingApprovals: number;
  queuedFrames: number;
}

/**
 * Whether an automatic update (`updates.policy: auto`) may restart the agent now: no command running or waiting
 * (a restart would kill it), no approval a person is looking at, and the spool drained (everything confirmed).
 */
export function isQuietMoment(activity: ActivityFacts): boolean {
  return (
    activity.runningCommands === 0 &&
    activity.queuedCommands === 0 &&
    activity.pendingApprovals === 0 &&
    activity.queuedFrames === 0
  );
}
