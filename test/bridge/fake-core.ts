/** A small in-memory AgentCoreApi for shell and bridge tests: records calls, emits events on demand. */
import { type ApprovalSurface, ApproverPresence } from '../../src-main/agent/commands/approvals';
import { EventEmitter } from 'node:events';
import { ConfigPatchError, type AgentCoreApi, type AgentCoreEvents } from '../../src-main/agent/core-api';
import { FakeUpdatesBase } from '../support/fake-updates-base';
import type { ConfigView, SaveResult } from '../../src-shared/ipc';
import type {
  AgentSnapshot,
  ConnectionView,
  LogLineView,
  SpoolClassView,
  SpoolView,
  UpdateView,
} from '../../src-shared/view-models';

export function connectionView(overrides: Partial<ConnectionView> = {}): ConnectionView {
  return {
    state: 'connected',
    explanation: 'Connected',
    fixHint: '',
    host: 'stream.example',
    port: 7070,
    tls: false,
    connectedSince: 1_000,
    offlineSince: null,
    lastHeartbeatRttMs: 12,
    reconnects: 0,
    nextRetryAt: null,
    lastError: null,
    in: { frames: {}, bytes: {} },
    out: { frames: {}, bytes: {} },
    invalidFramesRefused: 0,
    ...overrides,
  };
}

const emptyClass = (): SpoolClassView => ({
  queuedFrames: 0,
  queuedBytes: 0,
  awaitingConfirmation: 0,
  confirmed: 0,
  dropped: 0,
});

export function spoolView(queuedLogs = 0): SpoolView {
  return {
    perClass: {
      log: { ...emptyClass(), queuedFrames: queuedLogs },
      telemetry: emptyClass(),
      result: emptyClass(),
    },
    totalBytes: 0,
    maxBytes: 1_000_000,
    notDurableFrames: 0,
    oldestQueuedAt: null,
    replay: { active: false, total: 0, done: 0 },
    quarantinedSegments: 0,
    recentSent: [],
    recentQueued: [],
  };
}

export function updateView(overrides: Partial<UpdateView> = {}): UpdateView {
  return {
    state: 'idle',
    currentVersion: '0.3.0',
    availableVersion: null,
    releaseNotes: null,
    sizeBytes: null,
    percent: null,
    bytesPerSecond: null,
    transferred: null,
    lastCheckAt: null,
    error: null,
    policy: 'manual',
    legacyAnnouncedVersion: null,
    ...overrides,
  };
}

export function logLine(id: number, message = `line ${id}`): LogLineView {
  return { id, at: 1_000 + id, source: 'shipped', service: 'svc', level: 'info', message };
}

export class FakeCore extends EventEmitter implements AgentCoreApi {
  calls: Array<[string, ...unknown[]]> = [];
  connection = connectionView();
  spool = spoolView();
  pendingApprovalIds = new Set<string>();
  started = false;
  stopped = false;
  stopDelayMs = 0;
  saveError: Error | null = null;

  activityNow = { runningCommands: 0, queuedCommands: 0, pendingApprovals: 0, queuedFrames: 0 };
  activity() {
    return { ...this.activityNow };
  }
  snapshot(): AgentSnapshot {
    return {
      agentVersion: '0.3.0',
      runtime: { node: process.versions.node, electron: null, platform: process.platform },
      serverId: 'srv',
      groupId: 'grp',
      configPath: null,
      dataDir: '/tmp/minion-data',
      startedAt: 1,
      connection: this.connection,
      spool: this.spool,
      telemetry: [],
      commands: [],
      approvals: [],
      updates: updateView({ state: 'off' }),
    };
  }
  pause(): void {
    this.calls.push(['pause']);
    this.connection = { ...this.connection, state: 'paused' };
  }
  resume(): void {
    this.calls.push(['resume']);
    this.connection = { ...this.connection, state: 'connecting' };
  }
  reconnectNow(): void {
    this.calls.push(['reconnectNow']);
  }
  recentLogs(limit: number): LogLineView[] {
    this.calls.push(['recentLogs', limit]);
    return Array.from({ length: Math.min(limit, 3) }, (_, i) => logLine(i));
  }
  configView(): ConfigView {
    return {
      config: { server: { host: 'stream.example', port: 7070 } },
      editableKeys: ['server.host', 'server.port'],
      configPath: null,
      keyStorage: 'config-file',
      groupKeySet: true,
    };
  }
  validateConfig(patch: Record<string, unknown>) {
    this.calls.push(['validateConfig', patch]);
    return typeof patch['server.port'] === 'number' && patch['server.port'] > 65535
      ? [{ path: 'server.port', message: 'Port must be 1–65535' }]
      : [];
  }
  async saveConfig(patch: Record<string, unknown>): Promise<SaveResult> {
    this.calls.push(['saveConfig', patch]);
    if (this.saveError) throw this.saveError;
    const issues = this.validateConfig(patch);
    if (issues.length > 0) throw new ConfigPatchError(issues);
    return { applied: Object.keys(patch), restartRequired: [] };
  }
  async testConnection() {
    return { ok: true, state: 'connected' as const, explanation: 'ok', fixHint: '', durationMs: 5 };
  }
  async importYaml(yaml: string): Promise<SaveResult> {
    this.calls.push(['importYaml', yaml]);
    return { applied: ['server.host'], restartRequired: [] };
  }
  exportYaml(): string {
    return 'server:\n  host: stream.example\n';
  }
  /** The real presence counter: bridges open a surface and a session per page, as with the real core. */
  readonly approvers = new ApproverPresence();
  openApprovalSurface(): ApprovalSurface {
    return this.approvers.openSurface();
  }
  decideApproval(id: string, approve: boolean): boolean {
    this.calls.push(['decideApproval', id, approve]);
    return this.pendingApprovalIds.delete(id);
  }
  async consoleSend(line: string) {
    this.calls.push(['consoleSend', line]);
    return { sent: 1, message: `sent ${line}` };
  }
  async start(): Promise<void> {
    this.started = true;
  }
  async stop(): Promise<void> {
    if (this.stopDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.stopDelayMs));
    this.stopped = true;
  }
  emitCore<E extends keyof AgentCoreEvents>(event: E, ...args: AgentCoreEvents[E]): void {
    this.emit(event, ...args);
  }
}

/** Update service stand-in: a check finds nothing new, a download changes nothing. */
export class FakeUpdates extends FakeUpdatesBase {
  constructor() {
    super(updateView());
  }
  async check(): Promise<UpdateView> {
    this.set({ state: 'not-available', lastCheckAt: 5 });
    return this.current;
  }
  async download(): Promise<UpdateView> {
    return this.current;
  }
}
