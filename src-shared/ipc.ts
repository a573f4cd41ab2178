/**
 * The one typed IPC contract between the main process (or the headless web bridge) and the renderer.
 *
 * - `InvokeChannel`: request → response calls. Every request has a zod schema; main validates the payload and the
 *   sender before a handler runs, and every response is an `IpcResult` (errors are values, not rejections).
 * - `EventChannel`: main → renderer pushes, batched and throttled by main (≤ ~10 batches a second).
 * - Snapshot-then-subscribe: the renderer calls `agent:snapshot`, then applies events.
 * Payloads are plain JSON.
 */
import { z } from 'zod';
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
} from './view-models';

export const InvokeChannel = {
  Snapshot: 'agent:snapshot',
  Pause: 'agent:pause',
  Resume: 'agent:resume',
  ReconnectNow: 'agent:reconnect-now',
  RecentLogs: 'logs:recent',
  ConfigGet: 'config:get',
  ConfigValidate: 'config:validate',
  ConfigSave: 'config:save',
  ConfigTestConnection: 'config:test-connection',
  ConfigImportYaml: 'config:import-yaml',
  ConfigExportYaml: 'config:export-yaml',
  ApprovalDecide: 'commands:decide',
  ConsoleSend: 'console:send',
  UpdatesCheck: 'updates:check',
  UpdatesDownload: 'updates:download',
  UpdatesInstall: 'updates:install',
  SandboxStart: 'sandbox:start',
  OpenDataFolder: 'app:open-data-folder',
} as const;
export type InvokeChannel = (typeof InvokeChannel)[keyof typeof InvokeChannel];

export const EventChannel = {
  Connection: 'event:connection',
  Spool: 'event:spool',
  Logs: 'event:logs',
  Wire: 'event:wire',
  Telemetry: 'event:telemetry',
  Commands: 'event:commands',
  Approvals: 'event:approvals',
  Updates: 'event:updates',
  Notice: 'event:notice',
} as const;
export type EventChannel = (typeof EventChannel)[keyof typeof EventChannel];

/** A problem with one field of a config edit, addressed by its dotted key path. */
export interface FieldIssue {
  path: string;
  message: string;
}

export interface ConfigView {
  /** The effective config as plain JSON, with the group key replaced by a mask. */
  config: Record<string, unknown>;
  /** Dotted key paths the renderer may change. */
  editableKeys: string[];
  configPath: string | null;
  /** How the group key is stored at rest: OS keychain, Linux plaintext fallback, or the YAML file itself. */
  keyStorage: 'safe-storage' | 'basic-text' | 'config-file';
  groupKeySet: boolean;
}

export interface SaveResult {
  applied: string[];
  /** Keys whose new value takes effect only after a restart of the core. */
  restartRequired: string[];
}

export interface ConnectionTestResult {
  ok: boolean;
  state: ConnectionView['state'];
  explanation: string;
  fixHint: string;
  durationMs: number;
}

export interface ConsoleSendResult {
  sent: number;
  message: string;
}

export interface Notice {
  level: 'info' | 'warn' | 'error';
  message: string;
}

function buildRequestSchemas() {
  const configPatch = z.record(z.string().min(1).max(200), z.unknown());
  return {
    [InvokeChannel.Snapshot]: z.void(),
    [InvokeChannel.Pause]: z.void(),
    [InvokeChannel.Resume]: z.void(),
    [InvokeChannel.ReconnectNow]: z.void(),
    [InvokeChannel.RecentLogs]: z.object({ limit: z.number().int().min(1).max(100_000) }).strict(),
    [InvokeChannel.ConfigGet]: z.void(),
    [InvokeChannel.ConfigValidate]: z.object({ patch: configPatch }).strict(),
    [InvokeChannel.ConfigSave]: z.object({ patch: configPatch }).strict(),
    [InvokeChannel.ConfigTestConnection]: z.object({ patch: configPatch }).strict(),
    [InvokeChannel.ConfigImportYaml]: z.object({ yaml: z.string().max(1_000_000) }).strict(),
    [InvokeChannel.ConfigExportYaml]: z.void(),
    [InvokeChannel.ApprovalDecide]: z
      .object({ id: z.string().min(1).max(100), approve: z.boolean() })
      .strict(),
    [InvokeChannel.ConsoleSend]: z.object({ line: z.string().min(1).max(70_000) }).strict(),
    [InvokeChannel.UpdatesCheck]: z.void(),
    [InvokeChannel.UpdatesDownload]: z.void(),
    [InvokeChannel.UpdatesInstall]: z.void(),
    [InvokeChannel.SandboxStart]: z.void(),
    [InvokeChannel.OpenDataFolder]: z.void(),
  } satisfies Record<InvokeChannel, z.ZodType>;
}

/**
 * Request schemas: the single source of truth for what each invoke channel accepts. Built lazily-pure so that a
 * bundle which only needs the channel names (the sandboxed preload) tree-shakes zod away.
 */
export const requestSchemas = /* @__PURE__ */ buildRequestSchemas();

/** Response payloads per invoke channel. */
export interface InvokeResponses {
  [InvokeChannel.Snapshot]: AgentSnapshot;
  [InvokeChannel.Pause]: ConnectionView;
  [InvokeChannel.Resume]: ConnectionView;
  [InvokeChannel.ReconnectNow]: ConnectionView;
  [InvokeChannel.RecentLogs]: LogLineView[];
  [InvokeChannel.ConfigGet]: ConfigView;
  [InvokeChannel.ConfigValidate]: { issues: FieldIssue[] };
  [InvokeChannel.ConfigSave]: SaveResult;
  [InvokeChannel.ConfigTestConnection]: ConnectionTestResult;
  [InvokeChannel.ConfigImportYaml]: SaveResult;
  [InvokeChannel.ConfigExportYaml]: { yaml: string };
  [InvokeChannel.ApprovalDecide]: { decided: boolean };
  [InvokeChannel.ConsoleSend]: ConsoleSendResult;
  [InvokeChannel.UpdatesCheck]: UpdateView;
  [InvokeChannel.UpdatesDownload]: UpdateView;
  [InvokeChannel.UpdatesInstall]: UpdateView;
  [InvokeChannel.SandboxStart]: { host: string; port: number; groupId: string };
  [InvokeChannel.OpenDataFolder]: { path: string };
}

/**
 * The main-process side of the `updates:*` channels and the `updates` event: what both bridges (Electron shell and
 * headless web bridge) call. `UpdateService` (src-main/updates) implements it; the headless CLI has its own.
 */
export interface UpdatesApi {
  view(): UpdateView;
  check(): Promise<UpdateView>;
  download(): Promise<UpdateView>;
  /** Flushes the agent and quits to install when an update is ready; resolves with the view. */
  install(): Promise<UpdateView>;
  on(event: 'update', listener: (view: UpdateView) => void): unknown;
  off(event: 'update', listener: (view: UpdateView) => void): unknown;
}

export type InvokeRequest<C extends InvokeChannel> = z.input<(typeof requestSchemas)[C]>;

/** Errors travel as values so the renderer can show them; `issues` carries per-field validation problems. */
export type IpcResult<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      error: { code: 'invalid-request' | 'forbidden' | 'failed'; message: string; issues?: FieldIssue[] };
    };

/** Event payloads per event channel. Batched channels carry arrays. */
export interface EventPayloads {
  [EventChannel.Connection]: ConnectionView;
  [EventChannel.Spool]: SpoolView;
  [EventChannel.Logs]: LogLineView[];
  [EventChannel.Wire]: WireTraceEntry[];
  [EventChannel.Telemetry]: TelemetrySampleView[];
  [EventChannel.Commands]: CommandRecordView[];
  [EventChannel.Approvals]: ApprovalRequestView[];
  [EventChannel.Updates]: UpdateView;
  [EventChannel.Notice]: Notice[];
}

/**
 * Task-specific methods of `window.minion`, each bound to exactly one invoke channel. The preload (and the web
 * bridge client) build the functions from this table, so nothing else of IPC is reachable from the page.
 */
export const apiMethods = {
  snapshot: InvokeChannel.Snapshot,
  pause: InvokeChannel.Pause,
  resume: InvokeChannel.Resume,
  reconnectNow: InvokeChannel.ReconnectNow,
  recentLogs: InvokeChannel.RecentLogs,
  getConfig: InvokeChannel.ConfigGet,
  validateConfig: InvokeChannel.ConfigValidate,
  saveConfig: InvokeChannel.ConfigSave,
  testConnection: InvokeChannel.ConfigTestConnection,
  importYaml: InvokeChannel.ConfigImportYaml,
  exportYaml: InvokeChannel.ConfigExportYaml,
  decideApproval: InvokeChannel.ApprovalDecide,
  consoleSend: InvokeChannel.ConsoleSend,
  checkForUpdates: InvokeChannel.UpdatesCheck,
  downloadUpdate: InvokeChannel.UpdatesDownload,
  installUpdate: InvokeChannel.UpdatesInstall,
  startSandbox: InvokeChannel.SandboxStart,
  openDataFolder: InvokeChannel.OpenDataFolder,
} as const satisfies Record<string, InvokeChannel>;
export type ApiMethod = keyof typeof apiMethods;

type MethodFor<C extends InvokeChannel> =
  InvokeRequest<C> extends void
    ? () => Promise<IpcResult<InvokeResponses[C]>>
    : (request: InvokeRequest<C>) => Promise<IpcResult<InvokeResponses[C]>>;

/** The API the preload exposes as `window.minion` (the web bridge client implements it identically). */
export type MinionApi = { [M in ApiMethod]: MethodFor<(typeof apiMethods)[M]> } & {
  on<E extends EventChannel>(channel: E, listener: (payload: EventPayloads[E]) => void): () => void;
};

export const INVOKE_CHANNELS: readonly InvokeChannel[] = Object.values(InvokeChannel);
export const EVENT_CHANNELS: readonly EventChannel[] = Object.values(EventChannel);
