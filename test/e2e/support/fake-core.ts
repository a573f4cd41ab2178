/**
 * A deterministic stand-in for the agent core (`AgentCoreApi`) and the update service, for e2e tests that need exact
 * on-screen values and for the screenshots. It goes through the same real preload, `dispatchInvoke` handlers and
 * event batcher as the real core; only the data is scripted. Tests against the real core live beside it.
 */
import { type ApprovalSurface, ApproverPresence } from '../../../src-main/agent/commands/approvals';
import { EventEmitter } from 'node:events';
import type { AgentCoreApi, AgentCoreEvents } from '../../../src-main/agent/core-api';
import { ConfigPatchError } from '../../../src-main/agent/core-api';
import { FakeUpdatesBase } from '../../support/fake-updates-base';
import {
  GROUP_KEY_MASK,
  EDITABLE_KEYS,
  parseAgentConfig,
  ConfigError,
  redactConfig,
} from '../../../src-shared/config';
import type {
  ConfigView,
  ConnectionTestResult,
  ConsoleSendResult,
  FieldIssue,
  SaveResult,
} from '../../../src-shared/ipc';
import type {
  AgentSnapshot,
  ApprovalRequestView,
  CommandRecordView,
  ConnectionView,
  LogLineView,
  SpoolView,
  TelemetrySampleView,
  UpdateView,
  WireTraceEntry,
} from '../../../src-shared/view-models';

const T0 = Date.UTC(2026, 10, 25, 18, 0, 0);
export const FAKE_SERVER_ID = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';

function counters(): ConnectionView['in'] {
  return { frames: { L: 0, T: 0, C: 0, R: 0 }, bytes: { L: 0, T: 0, C: 0, R: 0 } };
}

export function fakeConnection(partial: Partial<ConnectionView> = {}): ConnectionView {
  return {
    state: 'connected',
    explanation: 'Connected and authenticated.',
    fixHint: '',
    host: '127.0.0.1',
    port: 47990,
    tls: false,
    connectedSince: Date.now() - 754_000,
    offlineSince: null,
    lastHeartbeatRttMs: 3,
    reconnects: 1,
    nextRetryAt: null,
    lastError: null,
    in: counters(),
    out: counters(),
    invalidFramesRefused: 0,
    ...partial,
  };
}

export function fakeSpool(partial: Partial<SpoolView> = {}): SpoolView {
  const cls = (queued: number, confirmed: number) => ({
    queuedFrames: queued,
    queuedBytes: queued * 180,
    awaitingConfirmation: Math.min(queued, 2),
    confirmed,
    dropped: 0,
  });
  return {
    perClass: { log: cls(12, 48_211), telemetry: cls(3, 1_204), result: cls(0, 17) },
    totalBytes: 48 * 1024 * 1024,
    maxBytes: 1024 * 1024 * 1024,
    notDurableFrames: 4,
    oldestQueuedAt: Date.now() - 4_000,
    replay: { active: false, total: 0, done: 0 },
    quarantinedSegments: 0,
    recentSent: [
      {
        seq: 48_210,
        cls: 'log',
        verb: 'L',
        uuid: '0000018f-aaaa-7000-8000-000000000001',
        data: ['demo', FAKE_SERVER_ID, 'nginx', 'GET /healthz 200'],
        bytes: 96,
        at: T0,
      },
      {
        seq: 1_203,
        cls: 'telemetry',
        verb: 'T',
        uuid: '0000018f-aaaa-7000-8000-000000000002',
        data: ['demo', FAKE_SERVER_ID, 'load_avg', '0.52'],
        bytes: 80,
        at: T0 + 1000,
      },
    ],
    recentQueued: [
      {
        seq: 48_211,
        cls: 'log',
        verb: 'L',
        uuid: '0000018f-aaaa-7000-8000-000000000003',
        data: ['demo', FAKE_SERVER_ID, 'app', 'worker 3 started'],
        bytes: 92,
        at: T0 + 2000,
      },
    ],
    ...partial,
  };
}

export function fakeUpdateView(partial: Partial<UpdateView> = {}): UpdateView {
  return {
    state: 'not-available',
    currentVersion: '0.3.0',
    availableVersion: null,
    releaseNotes: null,
    sizeBytes: null,
    percent: null,
    bytesPerSecond: null,
    transferred: null,
    lastCheckAt: Date.now() - 3_600_000,
    error: null,
    policy: 'manual',
    legacyAnnouncedVersion: null,
    ...partial,
  };
}

function telemetrySeries(): TelemetrySampleView[] {
  const out: TelemetrySampleView[] = [];
  for (let i = 0; i < 30; i += 1) {
    const at = T0 + i * 60_000;
    out.push({
      at,
      name: 'load_avg',
      values: ['load_avg', (0.4 + 0.3 * Math.sin(i / 4) + i / 100).toFixed(2)],
    });
    out.push({
      at,
      name: 'memory',
      values: ['mem_used_kb', String(3_200_000 + i * 9_000 + (i % 5) * 40_000)],
    });
    out.push({ at, name: 'cpu', values: ['cpu_percent', (20 + 15 * Math.cos(i / 3)).toFixed(1)] });
  }
  out.push({
    at: T0 + 30 * 60_000,
    name: 'disk_usage',
    values: [
      'JSON:' +
        JSON.stringify({
          disk_usage: [
            {
              filesystem: '/dev/sda1',
              '1024-blocks': '102400000',
              used: '61440000',
              available: '40960000',
              capacity: '60%',
              mounted: '/',
            },
            {
              filesystem: '/dev/sdb1',
              '1024-blocks': '512000000',
              used: '476160000',
              available: '35840000',
              capacity: '93%',
              mounted: '/var',
            },
          ],
        }),
    ],
  });
  return out;
}

export interface FakeCoreOptions {
  /** Start unconfigured: the dashboard should land on Settings with the sandbox offer. */
  firstRun?: boolean;
  logLines?: number;
}

/** Scripted core: every method does what the real one promises, on in-memory state. */
export class FakeAgentCore extends EventEmitter<AgentCoreEvents> implements AgentCoreApi {
  connection: ConnectionView;
  spool: SpoolView;
  private config: Record<string, unknown>;
  private logs: LogLineView[] = [];
  private nextLogId = 1;
  private nextWireId = 1;
  private commands: CommandRecordView[] = [];
  private approvals: ApprovalRequestView[] = [];
  private telemetry = telemetrySeries();
  readonly consoleLines: string[] = [];
  readonly saved: Record<string, unknown>[] = [];

  constructor(options: FakeCoreOptions = {}) {
    super();
    this.config = parseAgentConfig(
      options.firstRun
        ? {}
        : {
            streamserver_host: '127.0.0.1',
            streamserver_port: 47990,
            group_id: 'demo',
            group_key: 'secret',
            server_id: FAKE_SERVER_ID,
            tail_logs: [{ service: 'nginx', file: '/var/log/nginx/access.log' }],
          },
    ).config as unknown as Record<string, unknown>;
    this.connection = options.firstRun
      ? fakeConnection({
          state: 'idle',
          host: '',
          explanation: 'No server is configured.',
          fixHint: 'Open Settings and enter the server, or try the local sandbox.',
          connectedSince: null,
          offlineSince: Date.now() - 5000,
        })
      : fakeConnection();
    this.spool = fakeSpool();
    const services = ['nginx', 'app', 'postgres', 'minion-agent'];
    const levels = ['info', 'info', 'info', 'debug', 'warn', 'error'] as const;
    for (let i = 0; i < (options.logLines ?? 200); i += 1) {
      const service = services[i % services.length] as string;
      this.logs.push({
        id: this.nextLogId++,
        at: T0 + i * 250,
        source: service === 'minion-agent' ? 'agent' : 'shipped',
        service,
        level: levels[i % levels.length] as LogLineView['level'],
        message: `${service} line ${i}: ${i % 7 === 0 ? 'request took longer than expected while waiting on upstream' : 'ok'}`,
      });
    }
    this.commands = [
      {
        uuid: 'c0ffee00-0000-4000-8000-000000000001',
        type: 'external',
        argv: ['uptime'],
        receivedAt: T0 + 5000,
        decision: 'allowed',
        state: 'done',
        exitCode: 0,
        signal: null,
        timedOut: false,
        durationMs: 12,
        stdout: ' 18:00:05 up 12 days,  3:04,  1 user,  load average: 0.52, 0.48, 0.40\n',
        stderr: '',
        stdoutBytesCut: 0,
        stderrBytesCut: 0,
      },
      {
        uuid: 'c0ffee00-0000-4000-8000-000000000002',
        type: 'external',
        argv: ['cat', '/var/log/syslog'],
        receivedAt: T0 + 9000,
        decision: 'approved',
        state: 'done',
        exitCode: 0,
        signal: null,
        timedOut: false,
        durationMs: 48,
        stdout: 'Nov 25 17:59:58 host systemd[1]: Started Session 12.\n',
        stderr: '',
        stdoutBytesCut: 1_482_113,
        stderrBytesCut: 0,
      },
      {
        uuid: 'c0ffee00-0000-4000-8000-000000000003',
        type: 'external',
        argv: ['rm', '-rf', '/tmp/cache'],
        receivedAt: T0 + 12000,
        decision: 'denied',
        state: 'done',
        exitCode: null,
        signal: null,
        timedOut: false,
        durationMs: null,
        stdout: '',
        stderr: '',
        stdoutBytesCut: 0,
        stderrBytesCut: 0,
      },
    ];
  }

  // ----- scripting helpers for tests -----
  setConnection(partial: Partial<ConnectionView>): void {
    this.connection = { ...this.connection, ...partial };
    this.emit('connection', this.connection);
  }
  setSpool(partial: Partial<SpoolView>): void {
    this.spool = { ...this.spool, ...partial };
    this.emit('spool', this.spool);
  }
  addLog(line: Omit<LogLineView, 'id'>): LogLineView {
    const full = { ...line, id: this.nextLogId++ };
    this.logs.push(full);
    if (this.logs.length > 100_000) this.logs.splice(0, this.logs.length - 100_000);
    this.emit('log', full);
    return full;
  }
  addWire(
    direction: 'in' | 'out',
    frame: WireTraceEntry['frame'],
    hex = '93a14cd92430303030',
  ): WireTraceEntry {
    const entry: WireTraceEntry = {
      id: this.nextWireId++,
      direction,
      at: Date.now(),
      frame,
      hex,
      bytes: hex.length / 2,
    };
    this.emit('wire', entry);
    return entry;
  }
  requestApproval(argv: string[], ttlMs = 60_000): ApprovalRequestView {
    const id = `approval-${this.approvals.length + 1}`;
    const request: ApprovalRequestView = {
      id,
      uuid: `c0ffee00-0000-4000-8000-0000000001${String(this.approvals.length).padStart(2, '0')}`,
      type: 'external',
      argv,
      commandLine: argv.join(' '),
      requestedAt: Date.now(),
      expiresAt: Date.now() + ttlMs,
    };
    this.approvals = [...this.approvals, request];
    this.emit('approvals', this.approvals);
    return request;
  }

  // ----- AgentCoreApi -----
  activity() {
    return {
      runningCommands: 0,
      queuedCommands: 0,
      pendingApprovals: this.approvals.length,
      queuedFrames: 0,
    };
  }
  snapshot(): AgentSnapshot {
    return {
      agentVersion: '0.3.0',
      runtime: { node: process.versions.node, electron: null, platform: 'linux' },
      serverId: FAKE_SERVER_ID,
      groupId: String(this.config.group_id ?? ''),
      configPath: '/etc/minion-agent/config.yml',
      dataDir: '/var/lib/minion-agent',
      startedAt: Date.now() - 3_600_000,
      connection: this.connection,
      spool: this.spool,
      telemetry: this.telemetry,
      commands: this.commands,
      approvals: this.approvals,
      updates: fakeUpdateView(),
    };
  }
  pause(): void {
    this.setConnection({
      state: 'paused',
      explanation: 'Paused by you: nothing is sent, everything is spooled.',
      fixHint: 'Resume to send again.',
      connectedSince: null,
      offlineSince: Date.now(),
    });
  }
  resume(): void {
    this.setConnection({
      state: 'connected',
      explanation: 'Connected and authenticated.',
      fixHint: '',
      connectedSince: Date.now(),
      offlineSince: null,
    });
  }
  reconnectNow(): void {
    this.setConnection({ reconnects: this.connection.reconnects + 1 });
  }
  recentLogs(limit: number): LogLineView[] {
    return this.logs.slice(-limit);
  }
  configView(): ConfigView {
    return {
      config: redactConfig(this.config as { group_key?: unknown }) as Record<string, unknown>,
      editableKeys: [...EDITABLE_KEYS],
      configPath: '/etc/minion-agent/config.yml',
      keyStorage: 'config-file',
      groupKeySet: Boolean(this.config.group_key),
    };
  }
  private merged(patch: Record<string, unknown>): Record<string, unknown> {
    const next = structuredClone(this.config);
    for (const [path, value] of Object.entries(patch)) {
      if (path === 'group_key' && value === GROUP_KEY_MASK) continue;
      const parts = path.split('.');
      let node = next as Record<string, unknown>;
      for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
      node[parts.at(-1) as string] = value;
    }
    return next;
  }
  validateConfig(patch: Record<string, unknown>): FieldIssue[] {
    try {
      parseAgentConfig(this.merged(patch));
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.issues;
      throw e;
    }
  }
  async saveConfig(patch: Record<string, unknown>): Promise<SaveResult> {
    const issues = this.validateConfig(patch);
    if (issues.length) throw new ConfigPatchError(issues);
    this.config = parseAgentConfig(this.merged(patch)).config as unknown as Record<string, unknown>;
    this.saved.push(patch);
    return { applied: Object.keys(patch), restartRequired: [] };
  }
  async testConnection(patch: Record<string, unknown>): Promise<ConnectionTestResult> {
    const config = this.merged(patch);
    const ok = config.group_key !== 'wrong';
    return ok
      ? {
          ok,
          state: 'connected',
          explanation: `Authenticated with ${String(config.streamserver_host)}:${String(config.streamserver_port)}.`,
          fixHint: '',
          durationMs: 14,
        }
      : {
          ok,
          state: 'denied',
          explanation: "Server answered 'denied'.",
          fixHint: 'Check the group key.',
          durationMs: 9,
        };
  }
  async importYaml(_yaml: string): Promise<SaveResult> {
    return { applied: ['streamserver_host'], restartRequired: [] };
  }
  exportYaml(): string {
    return `streamserver_host: ${String(this.config.streamserver_host)}\nstreamserver_port: ${String(this.config.streamserver_port)}\ngroup_id: ${String(this.config.group_id)}\n`;
  }
  /** The real presence counter: bridges open a surface and a session per page, as with the real core. */
  readonly approvers = new ApproverPresence();
  openApprovalSurface(): ApprovalSurface {
    return this.approvers.openSurface();
  }
  decideApproval(id: string, approve: boolean): boolean {
    const request = this.approvals.find((a) => a.id === id);
    if (!request) return false;
    this.approvals = this.approvals.filter((a) => a.id !== id);
    this.emit('approvals', this.approvals);
    const record: CommandRecordView = {
      uuid: request.uuid,
      type: request.type,
      argv: request.argv,
      receivedAt: request.requestedAt,
      decision: approve ? 'approved' : 'rejected',
      state: 'done',
      exitCode: approve ? 0 : null,
      signal: null,
      timedOut: false,
      durationMs: approve ? 7 : null,
      stdout: approve ? `ran: ${request.commandLine}\n` : '',
      stderr: '',
      stdoutBytesCut: 0,
      stderrBytesCut: 0,
    };
    this.commands = [record, ...this.commands];
    this.emit('command', record);
    return true;
  }
  async consoleSend(line: string): Promise<ConsoleSendResult> {
    this.consoleLines.push(line);
    const [verb = '', ...data] = line.split('::');
    this.addWire('out', [
      verb.length === 1 ? verb : verb.charAt(0).toUpperCase(),
      '0000018f-bbbb-7000-8000-000000000001',
      ['demo', FAKE_SERVER_ID, ...data],
    ]);
    return { sent: 1, message: `Sent 1 frame: ${line}` };
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

/**
 * Update service stand-in with the same surface the handlers use: a check finds 0.4.0, a download starts at 0 %, and
 * `set()` moves the view on (a download's progress, say).
 */
export class FakeUpdates extends FakeUpdatesBase {
  constructor() {
    super(fakeUpdateView());
  }
  async check(): Promise<UpdateView> {
    this.set({
      state: 'available',
      availableVersion: '0.4.0',
      sizeBytes: 84_000_000,
      releaseNotes: '<h2>0.4.0</h2><ul><li>Faster spool replay</li><li>Dark mode fixes</li></ul>',
      lastCheckAt: Date.now(),
    });
    return this.current;
  }
  async download(): Promise<UpdateView> {
    this.set({ state: 'downloading', percent: 0, transferred: 0, bytesPerSecond: 0 });
    return this.current;
  }
}
