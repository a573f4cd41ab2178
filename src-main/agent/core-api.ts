/**
 * What the agent core offers to its hosts (Electron shell, headless web dashboard, CLI). Both IPC bridges are
 * written against this interface only, so the shell stays thin and tests can use a fake core.
 */
import type { ApprovalSurface } from './commands/approvals';
import type {
  ConfigView,
  ConnectionTestResult,
  ConsoleSendResult,
  FieldIssue,
  Notice,
  SaveResult,
} from '../../src-shared/ipc';
import type {
  AgentSnapshot,
  ApprovalRequestView,
  CommandRecordView,
  ConnectionView,
  LogLineView,
  SpoolView,
  TelemetrySampleView,
  WireTraceEntry,
} from '../../src-shared/view-models';

/** Events the core emits; hosts batch/throttle them before they reach a renderer. */
export interface AgentCoreEvents {
  connection: [ConnectionView];
  spool: [SpoolView];
  log: [LogLineView];
  wire: [WireTraceEntry];
  telemetry: [TelemetrySampleView];
  command: [CommandRecordView];
  approvals: [ApprovalRequestView[]];
  notice: [Notice];
}

/** What the core is busy with right now, cheap to ask (no I/O): e.g. whether an automatic update may restart it. */
export interface CoreActivity {
  runningCommands: number;
  queuedCommands: number;
  pendingApprovals: number;
  /** Frames spooled and not yet confirmed by the server, all classes. */
  queuedFrames: number;
}

export interface AgentCoreApi {
  snapshot(): AgentSnapshot;
  activity(): CoreActivity;
  pause(): void;
  resume(): void;
  reconnectNow(): void;
  recentLogs(limit: number): LogLineView[];

  configView(): ConfigView;
  validateConfig(patch: Record<string, unknown>): FieldIssue[];
  /** Validates, persists atomically and applies live where possible. Throws ConfigPatchError on invalid input. */
  saveConfig(patch: Record<string, unknown>): Promise<SaveResult>;
  /** Runs one connect + auth handshake with the patched config, without disturbing the live connection. */
  testConnection(patch: Record<string, unknown>): Promise<ConnectionTestResult>;
  importYaml(yaml: string): Promise<SaveResult>;
  exportYaml(): string;

  /** Resolves a pending `ask` approval; false when the id is unknown or already decided/expired. */
  decideApproval(id: string, approve: boolean): boolean;
  /**
   * A headless dashboard starts serving: `ask` requests then wait (up to `commands.ask_timeout`) for one of its
   * sessions to answer instead of being refused at once. The desktop shell does not need this.
   */
  openApprovalSurface(): ApprovalSurface;
  /** Sends frames written in the REPL syntax of the CLI (`log::SERVICE::MESSAGE`, …). */
  consoleSend(line: string): Promise<ConsoleSendResult>;

  on<E extends keyof AgentCoreEvents>(event: E, listener: (...args: AgentCoreEvents[E]) => void): this;
  off<E extends keyof AgentCoreEvents>(event: E, listener: (...args: AgentCoreEvents[E]) => void): this;

  start(): Promise<void>;
  /** Flushes the spool and cursor, stops commands (killing children) and closes the connection with a reset. */
  stop(): Promise<void>;
}

/** Thrown by saveConfig/importYaml when the edit is invalid; the bridges turn it into field issues. */
export class ConfigPatchError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    this.name = 'ConfigPatchError';
  }
}
