/**
 * What the agent core knows, shared by its pieces (lifecycle, config service, key storage, interaction, status):
 * the saved and the running config, the data dir, the running parts, counters and the agent's own log. The
 * constructor loads the config; the small helpers here are the ones several pieces need.
 */
import { type EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type AgentConfig, type AgentHost, parseAgentConfig } from '../../../src-shared/config';
import { type Notice } from '../../../src-shared/ipc';
import {
  type ConnectionView,
  type LogLevel,
  type LogLineView,
  type SpoolView,
  type TelemetrySampleView,
  type UpdateView,
  type WireTraceEntry,
} from '../../../src-shared/view-models';
import { AgentLog } from '../agent-log';
import { ApproverPresence } from '../commands/approvals';
import { AuditLog } from '../commands/audit';
import { type CommandService, maskSecretsDeep } from '../commands/service';
import {
  loadConfigFile,
  persistServerId,
  resolveDataDir,
  serverIdForInMemoryConfig,
  type ServerIdToPersist,
} from '../config';
import { type ConnectionManager } from '../connection/connection';
import { type AgentCoreEvents } from '../core-api';
import { logFrame } from '../protocol/frames';
import { type DeliveryPump } from '../spool/delivery';
import { type Spool } from '../spool/spool';
import { type GroupKeyBackend, readStoredKey } from './group-key';

/** The update component's part the core needs (the updates helper provides the real one). */
export interface AgentUpdaterHook {
  /** Handles the server's `internal upgrade` command (the update policy is the updater's business). */
  upgrade(argv: string[]): Promise<{ stdout: string; stderr: string }>;
  /** The current update state, for the snapshot. */
  view?(): UpdateView;
}

export interface AgentCoreOptions {
  /** The YAML config file; saved changes are written back to it. */
  configPath?: string | null;
  /** An in-memory config (tests, demo); used when there is no `configPath`. Saved changes stay in memory. */
  config?: AgentConfig;
  host: AgentHost;
  /**
   * Create `configPath` (defaults only) when it does not exist, for a first run configured from the settings view.
   * Default: on the desktop only (`minion-agent run --ui` asks for it too).
   */
  createConfigIfMissing?: boolean;
  /** Overrides `data_dir` (tests, demo, `--data-dir`). */
  dataDir?: string;
  updater?: AgentUpdaterHook;
  /** Where the agent's own log lines go (the CLI prints them). */
  logSink?: (line: LogLineView) => void;
  /** Overrides `log_level`. */
  logLevel?: LogLevel;
  /** Where the original agent left its spool files (`spool.import_legacy`); default `$TMPDIR` (tests). */
  legacySpoolDir?: string;
  /**
   * Keeps the group key out of the YAML: read from here when the YAML has none, and keys saved later are written
   * here (the YAML's `group_key` is removed) whenever the backend can protect them.
   */
  groupKeyStore?: GroupKeyBackend;
  /**
   * Where server commands run and what they see when the config sets nothing (`commands.cwd`, `commands.env` win):
   * the desktop passes the home directory and the login shell's PATH, because an app started from the Dock or a
   * desktop menu inherits a bare GUI environment (macOS: PATH=/usr/bin:/bin:/usr/sbin:/sbin, cwd /).
   */
  commandDefaults?: CommandDefaults;
}

export interface CommandDefaults {
  cwd?: string;
  env?: Record<string, string>;
}

/** Things a running core is made of; rebuilt on every (re)start. */
export interface Parts {
  spool: Spool;
  connection: ConnectionManager;
  pump: DeliveryPump;
  commands: CommandService;
  /** Stops the producers (tailer, telemetry) and resolves once their state is saved. */
  stopProducers: () => Promise<void>;
}

export const TELEMETRY_SAMPLES_KEPT = 200;
export const AUDIT_MAX_BYTES = 5 * 1024 * 1024;

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export type CoreEmit = EventEmitter<AgentCoreEvents>['emit'];

export class CoreState {
  readonly host: AgentHost;
  readonly configPath: string | null;
  readonly log: AgentLog;
  config: AgentConfig;
  /** The config the running parts were built from (restart-required keys keep their value until a restart). */
  running: AgentConfig;
  dataDirValue: string;
  readonly dataDirOverride: string | undefined;
  readonly updater: AgentUpdaterHook | undefined;
  readonly legacySpoolDir: string | undefined;
  readonly groupKeyStore: GroupKeyBackend | undefined;
  readonly commandDefaults: CommandDefaults | undefined;
  /** Someone watches the wire trace (console, --debug, the dashboard's Messages view). */
  private wireWatched = false;
  /** Relays the connection's wire trace; attached only while someone listens to the core's 'wire' event. */
  private readonly forwardWire = (entry: WireTraceEntry): void => {
    this.emit('wire', this.masked(entry));
  };
  private wireForwardedFrom: ConnectionManager | null = null;
  /** Someone listens to the core's 'spool' event (the desktop window, the dashboard). */
  private spoolWatched = false;
  /** Relays the delivery pump's status; attached only while someone listens to the core's 'spool' event. */
  private readonly forwardSpoolStatus = (view: SpoolView): void => {
    this.emit('spool', this.masked(view));
  };
  private spoolForwardedFrom: DeliveryPump | null = null;
  /** Sends the pump's view once a second; runs only while the parts run and someone listens. */
  private spoolStatusTimer: NodeJS.Timeout | null = null;
  /** The effective group key came from (or was saved to) `groupKeyStore`, not the YAML. */
  keyInStore = false;
  audit: AuditLog;
  /** Headless dashboards and their sessions, who answer `ask` requests; kept across restarts of the parts. */
  readonly approvers = new ApproverPresence();
  parts: Parts | null = null;
  startedAt = Date.now();
  readonly telemetrySamples: TelemetrySampleView[] = [];
  readonly counters = { logsShipped: 0, telemetrySent: 0, restarts: 0 };
  private shippingOwnLog = false;
  pendingRestartKeys = new Set<string>();
  /** Config warnings already reported (a save re-parses the whole file: say each one once). */
  private readonly configWarnings = new Set<string>();
  /** Warnings found before the first start, shipped to the server as the agent's own log once it can be. */
  unshippedWarnings: string[] = [];
  /** A server id the load generated (or found only in the data dir) that is not on disk yet: `serverIdPersisted`. */
  private serverIdToPersist: ServerIdToPersist | null = null;
  private serverIdWrite: Promise<void> | null = null;

  constructor(
    options: AgentCoreOptions,
    readonly emit: CoreEmit,
  ) {
    this.host = options.host;
    this.configPath = options.configPath ?? null;
    this.dataDirOverride = options.dataDir;
    this.updater = options.updater;
    this.legacySpoolDir = options.legacySpoolDir;
    this.groupKeyStore = options.groupKeyStore;
    this.commandDefaults = options.commandDefaults;
    this.log = new AgentLog({ level: 'info', sink: options.logSink });

    if (this.configPath) {
      // The desktop app starts with no file at all on first run; its settings screen fills it in.
      const create = options.createConfigIfMissing ?? this.host === 'desktop';
      if (create) mkdirSync(dirname(resolve(this.configPath)), { recursive: true });
      const loaded = loadConfigFile(this.configPath, { host: this.host, createIfMissing: create });
      this.config = loaded.config;
      this.serverIdToPersist = loaded.serverIdToPersist;
      this.dataDirValue = options.dataDir ?? loaded.dataDir;
      this.reportConfigWarnings(loaded.warnings);
      this.unshippedWarnings = loaded.warnings.map((w) => `config: ${w}`);
      if (loaded.serverIdSource === 'generated')
        this.log.info(`generated server_id ${loaded.config.server_id}`);
    } else {
      this.config = options.config ?? parseAgentConfig({}, { host: this.host }).config;
      this.dataDirValue = options.dataDir ?? resolveDataDir(this.config.data_dir, null);
      if (this.config.server_id === '') {
        // An in-memory config has no file to keep its id in: `<data dir>/server-id`, generated once.
        const { serverId, serverIdToPersist } = serverIdForInMemoryConfig(this.dataDirValue);
        this.config = { ...this.config, server_id: serverId };
        this.serverIdToPersist = serverIdToPersist;
      }
    }
    if (this.groupKeyStore && this.config.group_key === '') {
      const stored = readStoredKey(this.groupKeyStore, this.log);
      if (stored) {
        this.config = { ...this.config, group_key: stored };
        this.keyInStore = true;
      }
    }
    this.log.setLevel(options.logLevel ?? this.config.log_level);
    this.log.addSecret(this.config.group_key);
    this.running = this.config;
    mkdirSync(this.dataDirValue, { recursive: true });
    this.audit = new AuditLog({
      path: join(this.dataDirValue, 'commands-audit.jsonl'),
      maxBytes: AUDIT_MAX_BYTES,
    });
    this.log.on('line', (line) => {
      this.emit('log', line);
      if (line.source === 'agent' && (line.level === 'warn' || line.level === 'error'))
        this.shipOwnLine(line.message);
    });
  }

  /** `value` with the group key (saved and running) masked wherever it appears: for everything the UI is given. */
  masked<T>(value: T): T {
    return maskSecretsDeep(value, [this.config.group_key, this.running.group_key]);
  }

  /** Nobody watching the wire (no console, no --debug, no dashboard): the connection builds no trace entries. */
  setWireWatched(watched: boolean): void {
    this.wireWatched = watched;
    this.updateWireForwarding();
  }

  /** Subscribes to the running connection's wire trace exactly while the core itself has 'wire' listeners. */
  updateWireForwarding(): void {
    const wanted = this.wireWatched ? (this.parts?.connection ?? null) : null;
    if (wanted === this.wireForwardedFrom) return;
    this.wireForwardedFrom?.off('wire', this.forwardWire);
    wanted?.on('wire', this.forwardWire);
    this.wireForwardedFrom = wanted;
  }

  setSpoolWatched(watched: boolean): void {
    this.spoolWatched = watched;
    this.updateSpoolForwarding();
    this.updateSpoolStatus();
  }

  /**
   * Subscribes to the running pump's status exactly while the core itself has 'spool' listeners: the pump builds its
   * view (recent frames decoded, the whole status masked) only for a listener.
   */
  updateSpoolForwarding(): void {
    const wanted = this.spoolWatched ? (this.parts?.pump ?? null) : null;
    if (wanted === this.spoolForwardedFrom) return;
    this.spoolForwardedFrom?.off('status', this.forwardSpoolStatus);
    wanted?.on('status', this.forwardSpoolStatus);
    this.spoolForwardedFrom = wanted;
  }

  /** Starts or stops the once-a-second spool status: an idle agent nobody looks at has no timer for it. */
  updateSpoolStatus(): void {
    const wanted = this.spoolWatched && this.parts !== null;
    if (wanted && !this.spoolStatusTimer) {
      this.spoolStatusTimer = setInterval(() => {
        const pump = this.parts?.pump;
        if (pump) this.emit('spool', this.masked(pump.view()));
      }, 1000);
      this.spoolStatusTimer.unref();
    } else if (!wanted && this.spoolStatusTimer) {
      clearInterval(this.spoolStatusTimer);
      this.spoolStatusTimer = null;
    }
  }

  /** Config warnings (unknown keys…) go to the agent's own log as `warn`: printed by the CLI, shown by the UI. */
  reportConfigWarnings(warnings: readonly string[]): void {
    for (const w of warnings) {
      if (this.configWarnings.has(w)) continue;
      this.configWarnings.add(w);
      this.log.warn(`config: ${w}`);
    }
  }

  /** Ships one of the agent's own notable lines as `L` (service `agent_log_service`), never recursively. */
  shipOwnLine(message: string): void {
    const parts = this.parts;
    const service = this.running.agent_log_service;
    if (!parts || service === '' || this.shippingOwnLog || message.trim() === '') return;
    this.shippingOwnLog = true;
    try {
      const max = this.running.max_frame_bytes - 200 - Buffer.byteLength(service);
      const text =
        Buffer.byteLength(message) > max ? `${Buffer.from(message).subarray(0, max).toString()}…` : message;
      parts.spool.append('log', logFrame(this.running.group_id, this.running.server_id, service, text));
    } catch {
      // The spool reports its own problems; a lost own-log line must not cascade.
    } finally {
      this.shippingOwnLog = false;
    }
  }

  rememberSample(sample: TelemetrySampleView): void {
    this.telemetrySamples.push(sample);
    if (this.telemetrySamples.length > TELEMETRY_SAMPLES_KEPT) this.telemetrySamples.shift();
    this.emit('telemetry', sample);
  }

  onConnectionState(view: ConnectionView): void {
    this.emit('connection', view);
    if (view.state === 'connected') this.log.info(`connected to ${view.host}:${view.port}`);
    else if (view.state === 'denied' || view.state === 'no-auth-reply' || view.state === 'tls-error') {
      this.log.warn(`${view.explanation}${view.fixHint ? ` — ${view.fixHint}` : ''}`);
    } else if (view.state === 'unreachable' || view.state === 'protocol-error') {
      this.log.info(`${view.explanation}`);
    }
  }

  notice(notice: Notice): void {
    this.emit('notice', notice);
    if (notice.level === 'info') this.log.info(notice.message);
    else if (notice.level === 'warn') this.log.warn(notice.message);
    else this.log.error(notice.message);
  }

  /**
   * Resolves once the server id is durable (written, fsynced, renamed; off the event loop). Awaited before anything
   * uses the id (the start: spooled frames and the auth; a connection test) and before a save rewrites the config
   * file (which the id's write would otherwise race): a crash right after the first start cannot give this machine a
   * second identity. The write runs once; what could not be written is reported as a config warning.
   */
  serverIdPersisted(): Promise<void> {
    if (!this.serverIdWrite) {
      const pending = this.serverIdToPersist;
      this.serverIdToPersist = null;
      this.serverIdWrite = persistServerId(pending).then((warnings) => {
        this.reportConfigWarnings(warnings);
        this.unshippedWarnings.push(...warnings.map((w) => `config: ${w}`));
      });
    }
    return this.serverIdWrite;
  }
}
