/**
 * Plain-JSON view models shared by the main process (which produces them from the agent core) and the renderer
 * (which shows them). Everything here must survive structured clone and JSON: no classes, no Dates (epoch ms).
 */

/** One Minion frame on the wire: `[verb, uuid, data]`, data items are strings or arrays of strings. */
export type FrameData = Array<string | string[]>;
export type WireFrame = [verb: string, uuid: string, data: FrameData];

/** Classes of frames the agent originates and spools; heartbeats and auth are never spooled. */
export type FrameClass = 'log' | 'telemetry' | 'result';
export const FRAME_CLASSES: readonly FrameClass[] = ['log', 'telemetry', 'result'];

export type ConnectionStateName =
  | 'idle'
  | 'connecting'
  | 'authenticating'
  | 'connected'
  | 'paused'
  | 'unreachable'
  | 'denied'
  | 'no-auth-reply'
  | 'tls-error'
  | 'protocol-error';

export interface VerbCounters {
  frames: Record<string, number>;
  bytes: Record<string, number>;
}

export interface ConnectionView {
  state: ConnectionStateName;
  /** One sentence a person understands, e.g. "Server answered 'denied'". */
  explanation: string;
  /** What to do about it, e.g. "Check the group key". Empty when nothing is wrong. */
  fixHint: string;
  host: string;
  port: number;
  tls: boolean;
  connectedSince: number | null;
  offlineSince: number | null;
  lastHeartbeatRttMs: number | null;
  reconnects: number;
  nextRetryAt: number | null;
  lastError: string | null;
  in: VerbCounters;
  out: VerbCounters;
  /** Frames refused by pre-send validation (bugs in a caller, never sent). */
  invalidFramesRefused: number;
}

export interface FrameView {
  seq: number | null;
  cls: FrameClass | null;
  verb: string;
  uuid: string;
  data: FrameData;
  bytes: number;
  at: number;
}

export interface SpoolClassView {
  queuedFrames: number;
  queuedBytes: number;
  /** Written to the connection and not yet confirmed (both steps), incl. what the server already read. */
  awaitingConfirmation: number;
  /** Of those, written but not yet known to be read by the server (no barrier answered after them). */
  awaitingReceipt?: number;
  /** Frames written to a connection since the agent started, incl. re-sends (known while delivering). */
  sent?: number;
  /** Frames a barrier proved the server has read since the agent started (first step of a confirmation). */
  receivedByServer?: number;
  /** Confirmed since start: read by the server and the server outlived its flush window (second step). */
  confirmed: number;
  dropped: number;
}

export interface SpoolView {
  perClass: Record<FrameClass, SpoolClassView>;
  totalBytes: number;
  maxBytes: number;
  /** Appended but not yet fsynced under the configured durability policy. */
  notDurableFrames: number;
  oldestQueuedAt: number | null;
  replay: { active: boolean; total: number; done: number };
  quarantinedSegments: number;
  recentSent: FrameView[];
  recentQueued: FrameView[];
}

export interface WireTraceEntry {
  id: number;
  direction: 'in' | 'out';
  at: number;
  frame: WireFrame | null;
  hex: string;
  bytes: number;
  error?: string;
  /** Frames not traced between the previous entry and this one: during a burst the trace is a bounded sample. */
  unsampled?: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogLineView {
  id: number;
  at: number;
  /** 'shipped' = a line read from a tailed file and spooled; 'agent' = the agent's own log. */
  source: 'shipped' | 'agent';
  service: string;
  level: LogLevel;
  message: string;
}

export interface TelemetrySampleView {
  at: number;
  name: string;
  values: string[];
}

export type CommandDecision = 'allowed' | 'denied' | 'approved' | 'rejected' | 'timed-out' | 'unknown';

export interface CommandRecordView {
  uuid: string;
  type: string;
  argv: string[];
  receivedAt: number;
  decision: CommandDecision;
  state: 'awaiting-approval' | 'queued' | 'running' | 'done';
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number | null;
  stdout: string;
  stderr: string;
  stdoutBytesCut: number;
  stderrBytesCut: number;
}

export interface ApprovalRequestView {
  id: string;
  uuid: string;
  type: string;
  argv: string[];
  commandLine: string;
  requestedAt: number;
  expiresAt: number;
}

export type UpdateStateName =
  'idle' | 'checking' | 'available' | 'not-available' | 'downloading' | 'ready' | 'error' | 'off';

export interface UpdateView {
  state: UpdateStateName;
  currentVersion: string;
  availableVersion: string | null;
  releaseNotes: string | null;
  sizeBytes: number | null;
  percent: number | null;
  bytesPerSecond: number | null;
  transferred: number | null;
  lastCheckAt: number | null;
  error: string | null;
  policy: 'manual' | 'auto' | 'off';
  /** Version announced by the original agent's legacy `upgrade` endpoint, if configured. */
  legacyAnnouncedVersion: string | null;
  /** One sentence for the person when the state alone does not say enough (why updates are off, a refused downgrade, "already the latest"). */
  detail?: string | null;
  /**
   * Set when this copy cannot replace itself, saying how it is updated instead (a deb: through apt). Shown next to
   * the state before anyone clicks; downloads and installs are refused with this sentence.
   */
  installHint?: string | null;
}

export interface AgentSnapshot {
  agentVersion: string;
  runtime: { node: string; electron: string | null; platform: string };
  serverId: string;
  groupId: string;
  configPath: string | null;
  dataDir: string;
  startedAt: number;
  connection: ConnectionView;
  spool: SpoolView;
  telemetry: TelemetrySampleView[];
  commands: CommandRecordView[];
  approvals: ApprovalRequestView[];
  updates: UpdateView;
}
