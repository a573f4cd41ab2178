/**
 * AgentCore: the one agent the desktop app, the headless CLI and the web dashboard all run. It owns the config and
 * the data dir and wires the parts:
 *
 *   LogTailer ─┐
 *   Telemetry ─┼─► Spool (durable, ordered) ─► DeliveryPump ─► ConnectionManager ─► StreamServer
 *   Commands  ─┘                                                      │
 *        ▲────────────────────────── `C` frames ◄─────────────────────┘
 *
 * Everything the agent originates goes through the spool, so nothing is lost offline or across restarts.
 * Stop order matters: producers first (tailer checkpoints, command answers), then delivery, then the connection
 * (round trip + reset), then the spool (flush + cursor).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  type AgentConfig,
  type AgentHost,
  ConfigError,
  EDITABLE_KEYS,
  GROUP_KEY_MASK,
  parseAgentConfig,
  redactConfig,
} from '../../src-shared/config';
import {
  type ConfigView,
  type ConnectionTestResult,
  type ConsoleSendResult,
  type FieldIssue,
  type Notice,
  type SaveResult,
} from '../../src-shared/ipc';
import {
  type AgentSnapshot,
  type ConnectionView,
  type LogLevel,
  type LogLineView,
  type SpoolView,
  type TelemetrySampleView,
  type UpdateView,
} from '../../src-shared/view-models';
import { AGENT_SERVICE, AgentLog } from './agent-log';
import { AuditLog, auditEntryToView } from './commands/audit';
import { type InternalCommandContext } from './commands/internal';
import { type CommandPolicyOptions } from './commands/policy';
import { CommandService } from './commands/service';
import {
  applyPatch,
  configFromYaml,
  configToYaml,
  loadConfigFile,
  parseYamlDocument,
  resolveDataDir,
  saveConfigFile,
  writeFileAtomicSync,
  SERVER_ID_FILE,
  type PatchResult,
} from './config';
import { type ConnectionOptions, ConnectionManager, testConnection } from './connection/connection';
import { type AgentCoreApi, type AgentCoreEvents, ConfigPatchError } from './core-api';
import { LogTailer } from './logs/tailer';
import { frameClassOf, logFrame, resultFrame, telemetryFrame } from './protocol/frames';
import { blankUpdateView } from '../../src-shared/update-view';
import { TelemetryScheduler } from './telemetry/scheduler';
import { parseReplLine } from './protocol/repl-syntax';
import { frameByteLength } from './protocol/validate';
import { DeliveryPump } from './spool/delivery';
import { importLegacySpool } from './spool/legacy-import';
import { Spool } from './spool/spool';
import { AGENT_VERSION } from './version';

/** The update component's part the core needs (the updates helper provides the real one). */
export interface AgentUpdaterHook {
  /** Handles the server's `internal upgrade` command (the update policy is the updater's business). */
  upgrade(argv: string[]): Promise<{ stdout: string; stderr: string }>;
  /** The current update state, for the snapshot. */
  view?(): UpdateView;
}

/**
 * Where the group key is kept instead of the YAML file (the desktop app's OS keyring via safeStorage; the
 * `groupKeyStore(settings)` adapter of src-main/app/settings-store.ts has this shape).
 */
export interface GroupKeyBackend {
  /** How a key saved now would be protected; 'config-file' = not at all, the key stays in the YAML. */
  readonly kind: ConfigView['keyStorage'];
  load(): string | null;
  /** False when nothing could be stored safely (the key then goes to the YAML file). */
  save(key: string): boolean;
  clear(): void;
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
}

/** Things a running core is made of; rebuilt on every (re)start. */
interface Parts {
  spool: Spool;
  connection: ConnectionManager;
  pump: DeliveryPump;
  commands: CommandService;
  statusTimer: NodeJS.Timeout;
  /** Stops the producers (tailer, telemetry) and resolves once their state is saved. */
  stopProducers: () => Promise<void>;
}

const TELEMETRY_SAMPLES_KEPT = 200;
const AUDIT_MAX_BYTES = 5 * 1024 * 1024;
/** Keys a live change of which is applied without rebuilding anything. */
const CHEAP_KEYS = ['commands', 'log_level'];

function offUpdateView(): UpdateView {
  return blankUpdateView({ state: 'off', currentVersion: AGENT_VERSION, policy: 'off' });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function toFieldIssues(err: unknown): FieldIssue[] | null {
  return err instanceof ConfigError ? err.issues.map((i) => ({ path: i.path, message: i.message })) : null;
}

function isUnder(path: string, keys: readonly string[]): boolean {
  return keys.some((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`));
}

/** Connection options from the config (one place, so the live core and `testConnection` agree). */
export function connectionOptionsFromConfig(config: AgentConfig): ConnectionOptions {
  return {
    host: config.streamserver_host,
    port: config.streamserver_port,
    groupId: config.group_id,
    serverId: config.server_id,
    groupKey: config.group_key,
    tls: {
      enabled: config.tls.enabled,
      caFile: config.tls.ca_file,
      certFile: config.tls.cert_file,
      keyFile: config.tls.key_file,
      serverName: config.tls.server_name,
      rejectUnauthorized: config.tls.reject_unauthorized,
    },
    connectTimeoutMs: config.connect_timeout * 1000,
    authTimeoutMs: config.auth_timeout * 1000,
    heartbeatIntervalMs: config.heartbeat_interval * 1000,
    backoff: {
      baseMs: config.reconnect.base_ms,
      capMs: config.reconnect.cap_ms,
      refusedMinMs: config.reconnect.refused_min_ms,
      refusedMaxMs: config.reconnect.refused_max_ms,
    },
    rejoinWindowMs: config.reconnect.rejoin_window_ms,
    maxFrameBytes: config.max_frame_bytes,
  };
}

export function commandPolicyFromConfig(config: AgentConfig, host: AgentHost): CommandPolicyOptions {
  return {
    mode: config.commands.policy,
    allowlist: config.commands.allowlist,
    internal: { ...config.commands.internal },
    host,
  };
}

export class AgentCore extends EventEmitter<AgentCoreEvents> implements AgentCoreApi {
  readonly host: AgentHost;
  readonly configPath: string | null;
  readonly log: AgentLog;
  private config: AgentConfig;
  /** The config the running parts were built from (restart-required keys keep their value until a restart). */
  private running: AgentConfig;
  private dataDirValue: string;
  private readonly dataDirOverride: string | undefined;
  private readonly updater: AgentUpdaterHook | undefined;
  private readonly legacySpoolDir: string | undefined;
  private readonly groupKeyStore: GroupKeyBackend | undefined;
  /** The effective group key came from (or was saved to) `groupKeyStore`, not the YAML. */
  private keyInStore = false;
  private audit: AuditLog;
  private parts: Parts | null = null;
  private lifecycle: Promise<void> = Promise.resolve();
  private startedAt = Date.now();
  private readonly telemetrySamples: TelemetrySampleView[] = [];
  private readonly counters = { logsShipped: 0, telemetrySent: 0, restarts: 0 };
  private shippingOwnLog = false;
  private pendingRestartKeys = new Set<string>();
  /** Config warnings already reported (a save re-parses the whole file: say each one once). */
  private readonly configWarnings = new Set<string>();
  /** Warnings found before the first start, shipped to the server as the agent's own log once it can be. */
  private unshippedWarnings: string[] = [];

  constructor(options: AgentCoreOptions) {
    super();
    this.host = options.host;
    this.configPath = options.configPath ?? null;
    this.dataDirOverride = options.dataDir;
    this.updater = options.updater;
    this.legacySpoolDir = options.legacySpoolDir;
    this.groupKeyStore = options.groupKeyStore;
    this.log = new AgentLog({ level: 'info', sink: options.logSink });

    if (this.configPath) {
      // The desktop app starts with no file at all on first run; its settings screen fills it in.
      const create = options.createConfigIfMissing ?? this.host === 'desktop';
      if (create) mkdirSync(dirname(resolve(this.configPath)), { recursive: true });
      const loaded = loadConfigFile(this.configPath, { host: this.host, createIfMissing: create });
      this.config = loaded.config;
      this.dataDirValue = options.dataDir ?? loaded.dataDir;
      this.reportConfigWarnings(loaded.warnings);
      this.unshippedWarnings = loaded.warnings.map((w) => `config: ${w}`);
      if (loaded.serverIdSource === 'generated')
        this.log.info(`generated server_id ${loaded.config.server_id}`);
    } else {
      this.config = options.config ?? parseAgentConfig({}, { host: this.host }).config;
      this.dataDirValue = options.dataDir ?? resolveDataDir(this.config.data_dir, null);
      if (this.config.server_id === '')
        this.config = { ...this.config, server_id: this.persistentServerId() };
    }
    if (this.groupKeyStore && this.config.group_key === '') {
      const stored = this.readStoredKey(this.groupKeyStore);
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

  get dataDir(): string {
    return this.dataDirValue;
  }

  /** The effective config (group key in clear: for the process only, never for display). */
  get effectiveConfig(): AgentConfig {
    return this.config;
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  start(): Promise<void> {
    return this.serialize(() => this.startParts());
  }

  stop(): Promise<void> {
    return this.serialize(() => this.stopParts());
  }

  /** Stops and starts again with the current config (restart-required keys take effect). Same process. */
  restart(): Promise<void> {
    return this.serialize(async () => {
      const wasRunning = this.parts !== null;
      await this.stopParts();
      this.counters.restarts++;
      this.pendingRestartKeys.clear();
      if (this.dataDirOverride === undefined) {
        const next = resolveDataDir(this.config.data_dir, this.configPath);
        if (next !== this.dataDirValue) {
          this.dataDirValue = next;
          mkdirSync(next, { recursive: true });
          this.audit = new AuditLog({ path: join(next, 'commands-audit.jsonl'), maxBytes: AUDIT_MAX_BYTES });
        }
      }
      if (wasRunning) await this.startParts();
      this.notice({ level: 'info', message: 'Agent core restarted.' });
    });
  }

  private serialize(step: () => Promise<void>): Promise<void> {
    const next = this.lifecycle.then(step);
    // Keep the chain alive after a failure; the caller still sees the error.
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  private async startParts(): Promise<void> {
    if (this.parts) return;
    const config = this.config;
    this.running = config;
    this.startedAt = Date.now();
    mkdirSync(this.dataDirValue, { recursive: true });
    const spool = await Spool.open(this.dataDirValue, {
      maxBytes: config.spool.max_bytes,
      fsync: config.spool.fsync,
      maxFrameBytes: config.max_frame_bytes,
      onProblem: (m) => this.log.warn(`spool: ${m}`),
    });
    const recovery = spool.recovery;
    if (
      recovery.tornTail ||
      recovery.quarantined.length > 0 ||
      (recovery.cursor !== 'ok' && recovery.recordsFound > 0)
    ) {
      this.log.info(
        `spool recovered: ${recovery.recordsFound} records, cursor ${recovery.cursor}` +
          (recovery.tornTail ? `, torn tail of ${recovery.tornTail.truncatedBytes} bytes cut` : '') +
          (recovery.quarantined.length > 0 ? `, ${recovery.quarantined.length} segment(s) quarantined` : ''),
      );
    }
    // Before the pump starts, so the original agent's undelivered frames go out first (they are older).
    if (config.spool.import_legacy) await this.importLegacy(spool, config.group_id);
    spool.on('drop', (info) =>
      this.notice({
        level: 'warn',
        message: `Spool full: dropped ${info.frames} oldest ${info.cls} frame(s) to make room (spool.max_bytes).`,
      }),
    );

    const connection = new ConnectionManager(connectionOptionsFromConfig(config));
    const pump = new DeliveryPump(spool, connection, {
      groupId: config.group_id,
      serverId: config.server_id,
      settleMs: config.delivery.settle_ms,
      confirmIntervalMs: config.delivery.confirm_interval * 1000,
      barrierTimeoutMs: connection.heartbeatTimeoutMs,
      onProblem: (m) => this.log.warn(`delivery: ${m}`),
    });
    pump.on('status', (view) => this.emit('spool', view));

    const commands = new CommandService({
      policy: commandPolicyFromConfig(config, this.host),
      runner: this.runnerOptions(config),
      approvalTimeoutMs: config.commands.ask_timeout * 1000,
      outputBudgetBytes: this.outputBudget(config),
      sendResult: (uuid, stdout, stderr) => {
        spool.append('result', resultFrame(config.group_id, config.server_id, uuid, stdout, stderr));
      },
      internal: this.internalContext(),
      audit: this.audit,
      onError: (m, err) => this.log.error(m, err),
    });
    commands.on('command', (record) => {
      this.emit('command', record);
      if (record.state !== 'done') return;
      const line = `${record.type} ${record.argv.join(' ')}`;
      if (record.decision === 'allowed' || record.decision === 'approved') {
        const outcome =
          record.type === 'internal'
            ? 'done'
            : record.timedOut
              ? 'timed out'
              : record.signal
                ? `killed by ${record.signal}`
                : `exit ${record.exitCode ?? 'unknown'}`;
        this.log.info(`command ${record.uuid} (${line}) ran: ${outcome}`);
      } else {
        // Refusals are notable: they also go to the server as the agent's own log line.
        this.log.warn(
          `command ${record.uuid} (${line}) ${record.decision}: ${record.stderr.split('\n')[0] ?? ''}`,
        );
      }
    });
    commands.on('approvals', (list) => this.emit('approvals', list));

    connection.on('state', (view) => this.onConnectionState(view));
    connection.on('wire', (entry) => this.emit('wire', entry));
    connection.on('command', (cmd) => {
      void commands.handle(cmd.uuid, cmd.data);
    });

    const stopProducers = await this.startProducers(config, spool);
    const statusTimer = setInterval(() => this.emit('spool', pump.view()), 1000);
    statusTimer.unref();
    this.parts = { spool, connection, pump, commands, statusTimer, stopProducers };
    for (const message of this.unshippedWarnings.splice(0)) this.shipOwnLine(message);
    pump.start();
    const missing = [
      ...(config.streamserver_host.trim() === '' ? ['streamserver_host'] : []),
      ...(config.group_id.trim() === '' ? ['group_id'] : []),
    ];
    // Not configured yet (first run of the desktop app): collect into the spool, connect once the keys are set.
    if (missing.length === 0) connection.start();
    else this.log.warn(`not connecting: ${missing.join(' and ')} not set in the config`);
    this.log.info(
      `agent ${AGENT_VERSION} started: server ${config.streamserver_host}:${config.streamserver_port}, ` +
        `group ${config.group_id}, server id ${config.server_id}, data dir ${this.dataDirValue}`,
    );
  }

  /** Config warnings (unknown keys…) go to the agent's own log as `warn`: printed by the CLI, shown by the UI. */
  private reportConfigWarnings(warnings: readonly string[]): void {
    for (const w of warnings) {
      if (this.configWarnings.has(w)) continue;
      this.configWarnings.add(w);
      this.log.warn(`config: ${w}`);
    }
  }

  private async importLegacy(spool: Spool, groupId: string): Promise<void> {
    if (groupId.trim() === '') return;
    try {
      const report = await importLegacySpool(spool, {
        groupId,
        tmpDir: this.legacySpoolDir,
        onProblem: (m) => this.log.warn(`spool: ${m}`),
      });
      for (const file of report.files) {
        // A failed import was already reported through onProblem; a file still in use was not.
        if (!file.removed && file.skippedBecause && !file.skippedBecause.startsWith('import failed'))
          this.log.warn(`spool: legacy spool ${file.path} left in place: ${file.skippedBecause}`);
        else if (file.removed)
          this.log.info(
            `spool: imported ${file.imported} frame(s) from the original agent's spool ${file.path}` +
              (file.skippedControl > 0 ? ` (${file.skippedControl} heartbeat/auth frame(s) skipped)` : '') +
              (file.droppedByOverflow > 0 ? `, ${file.droppedByOverflow} dropped: spool full` : ''),
          );
      }
    } catch (err) {
      // The old files stay where they are; the next start tries again.
      this.log.error('spool: importing the legacy spool failed', err);
    }
  }

  private async stopParts(): Promise<void> {
    const parts = this.parts;
    if (!parts) return;
    this.parts = null;
    clearInterval(parts.statusTimer);
    // Producers first: no new frames, checkpoints saved. Then commands: killed children still get their answer.
    await parts.stopProducers();
    await parts.commands.stop();
    await this.settleDelivery(parts, this.running.delivery.settle_ms + 3_000);
    await parts.pump.stop();
    await parts.connection.stop();
    await parts.spool.close();
    this.log.info('agent stopped (spool flushed, cursor saved)');
  }

  /**
   * While connected, waits (bounded) until everything queued is delivered and confirmed — both steps, so this takes
   * about `delivery.settle_ms` (docs/spool.md "Clean stop"): a clean stop then leaves nothing "sent but unconfirmed"
   * that the next start would send again, and the answer to a `restart` command reaches the server first.
   */
  private async settleDelivery(parts: Parts, timeoutMs: number): Promise<void> {
    if (!parts.connection.isReady()) return;
    if (!(await parts.pump.settle(timeoutMs)))
      this.log.info('stopping with unconfirmed frames: they are sent again after the next start');
  }

  /** Starts the tailer and the telemetry scheduler feeding `spool`; returns their stop function. */
  private async startProducers(config: AgentConfig, spool: Spool): Promise<() => Promise<void>> {
    const groupId = config.group_id;
    const serverId = config.server_id;
    const tailer = new LogTailer({
      entries: config.tail_logs,
      checkpointPath: join(this.dataDirValue, 'tail-checkpoint.json'),
      maxMessageBytes: logMessageBudget(config),
      sink: (service, line) => {
        // Throwing (spool closed or failing) tells the tailer to offer the line again later: nothing is lost.
        spool.append('log', logFrame(groupId, serverId, service, line));
        this.counters.logsShipped++;
        this.log.shipped(service, line);
      },
      // The checkpoint must never get ahead of the spool on disk (a crash or power loss would otherwise skip lines).
      beforeCheckpoint: () => spool.syncBlocking(),
      log: (level, message) => this.log[level](`tail: ${message}`),
      pollIntervalMs: config.tail.poll_interval_ms,
      quietFlushMs: config.tail.partial_line_flush_ms,
      startAt: config.tail.start_at,
      cwd: this.configPath ? dirname(resolve(this.configPath)) : process.cwd(),
    });
    tailer.start();

    const telemetry = new TelemetryScheduler({
      builtins: config.builtin_telemetries,
      custom: config.telemetries,
      intervalMs: config.telemetry_interval * 1000,
      sink: (name, values) => {
        spool.append('telemetry', telemetryFrame(groupId, serverId, name, values));
        this.counters.telemetrySent++;
        this.rememberSample({ at: Date.now(), name, values });
      },
      log: (level, message) => this.log[level](`telemetry: ${message}`),
      // Frame budget minus the frame's own overhead (ids, uuid, headers) and a margin for per-value headers.
      maxSampleBytes: Math.max(
        256,
        config.max_frame_bytes - frameByteLength(telemetryFrame(groupId, serverId, '', [])) - 64,
      ),
      customCwd: this.configPath ? dirname(resolve(this.configPath)) : undefined,
    });
    telemetry.start();
    return async () => {
      tailer.stop();
      await telemetry.stop();
    };
  }

  // ---- helpers used by the parts -----------------------------------------------------------------------------

  private runnerOptions(config: AgentConfig) {
    return {
      maxConcurrent: config.commands.concurrency,
      timeoutMs: config.commands.timeout * 1000,
      killGraceMs: config.commands.kill_grace * 1000,
      keepBytesPerStream: config.commands.max_output_bytes,
      cwd: config.commands.cwd,
      env: config.commands.env,
    };
  }

  /** Bytes left for stdout + stderr in one `R` frame after its own overhead (string headers up to 5 bytes each). */
  private outputBudget(config: AgentConfig): number {
    const overhead = frameByteLength(resultFrame(config.group_id, config.server_id, randomUUID(), '', ''));
    return Math.max(256, config.max_frame_bytes - overhead - 10);
  }

  /** Ships one of the agent's own notable lines as `L` (service `agent_log_service`), never recursively. */
  private shipOwnLine(message: string): void {
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

  private rememberSample(sample: TelemetrySampleView): void {
    this.telemetrySamples.push(sample);
    if (this.telemetrySamples.length > TELEMETRY_SAMPLES_KEPT) this.telemetrySamples.shift();
    this.emit('telemetry', sample);
  }

  private onConnectionState(view: ConnectionView): void {
    this.emit('connection', view);
    if (view.state === 'connected') this.log.info(`connected to ${view.host}:${view.port}`);
    else if (view.state === 'denied' || view.state === 'no-auth-reply' || view.state === 'tls-error') {
      this.log.warn(`${view.explanation}${view.fixHint ? ` — ${view.fixHint}` : ''}`);
    } else if (view.state === 'unreachable' || view.state === 'protocol-error') {
      this.log.info(`${view.explanation}`);
    }
  }

  private notice(notice: Notice): void {
    this.emit('notice', notice);
    if (notice.level === 'info') this.log.info(notice.message);
    else if (notice.level === 'warn') this.log.warn(notice.message);
    else this.log.error(notice.message);
  }

  /** A stable id for an in-memory config without one: `<data dir>/server-id`, generated once. */
  private persistentServerId(): string {
    const file = join(this.dataDirValue, SERVER_ID_FILE);
    try {
      const id = readFileSync(file, 'utf8').trim().toLowerCase();
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return id;
    } catch {
      // Not there yet.
    }
    const id = randomUUID();
    mkdirSync(this.dataDirValue, { recursive: true });
    writeFileAtomicSync(file, `${id}\n`);
    return id;
  }

  private internalContext(): InternalCommandContext {
    return {
      status: () => this.statusReport(),
      version: () => ({
        agent: AGENT_VERSION,
        node: process.versions.node,
        electron: process.versions.electron ?? null,
        platform: process.platform,
        arch: process.arch,
      }),
      getConfig: () => ({ path: this.configPath, yaml: configToYaml(this.config) }),
      validateConfig: async (text) => {
        try {
          if (text === null) {
            if (!this.configPath) return { ok: true, yaml: configToYaml(this.config) };
            const { config } = configFromYaml(readFileSync(this.configPath, 'utf8'), { host: this.host });
            return { ok: true, yaml: configToYaml(config) };
          }
          const { config } = configFromYaml(text, { host: this.host });
          return { ok: true, yaml: configToYaml(config) };
        } catch (err) {
          return { ok: false, error: errorMessage(err) };
        }
      },
      setConfig: async (text) => {
        const raw = parseYamlDocument(text).toJS() as unknown;
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
          throw new Error('expected a YAML or JSON mapping of config keys');
        }
        // Merged key by key (not a replacement: a partial document must not reset the rest), and never the
        // command policy: what the server may run here is for the machine's owner to decide, locally.
        return this.saveChange(
          { patch: flattenToPatch(raw as Record<string, unknown>) },
          { allowedKeys: SERVER_SETTABLE_KEYS, waitForApply: false },
        );
      },
      restart: () => {
        void this.restart().catch((err) => this.log.error('restart failed', err));
      },
      upgrade: async (args) => {
        if (!this.updater) {
          return {
            stdout: '',
            stderr: 'upgrade is not available in this build of the agent (no update component)',
          };
        }
        return this.updater.upgrade(args);
      },
    };
  }

  private statusReport(): Record<string, unknown> {
    const parts = this.parts;
    const connection = parts?.connection.view();
    const spool = parts?.pump.view();
    const commands = parts?.commands.counters();
    const mem = process.memoryUsage();
    const now = Date.now();
    const outFrames = connection?.out.frames ?? {};
    return {
      // The original's keys (protocol.md §6.2), now with real values…
      start: new Date(this.startedAt).toISOString(),
      uptime: Math.round((now - this.startedAt) / 1000),
      connections: (connection?.reconnects ?? 0) + (connection?.connectedSince ? 1 : 0),
      commands_received: commands?.received ?? 0,
      commands_external: commands?.external ?? 0,
      commands_internal: commands?.internal ?? 0,
      commands_error: commands?.errors ?? 0,
      logs_sent: outFrames.L ?? 0,
      telemetry: outFrames.T ?? 0,
      now: new Date(now).toISOString(),
      heap_size: mem.heapTotal,
      free_bytes: mem.heapTotal - mem.heapUsed,
      unmapped_bytes: 0,
      bytes_since_gc: 0,
      total_bytes: mem.rss,
      // …and what this agent adds.
      agent_version: AGENT_VERSION,
      state: connection?.state ?? 'idle',
      connected_since: connection?.connectedSince ? new Date(connection.connectedSince).toISOString() : null,
      reconnects: connection?.reconnects ?? 0,
      commands_denied: commands?.denied ?? 0,
      commands_running: commands?.running ?? 0,
      spool_queued: spool
        ? Object.fromEntries(Object.entries(spool.perClass).map(([k, v]) => [k, v.queuedFrames]))
        : null,
      spool_bytes: spool?.totalBytes ?? 0,
      spool_dropped: spool
        ? Object.fromEntries(Object.entries(spool.perClass).map(([k, v]) => [k, v.dropped]))
        : null,
    };
  }

  // ---- AgentCoreApi ------------------------------------------------------------------------------------------

  snapshot(): AgentSnapshot {
    const parts = this.parts;
    const history = parts?.commands.records() ?? [];
    // After a restart the in-memory history is empty: fill from the audit log so the UI keeps its list.
    const commands =
      history.length > 0 ? history : this.audit.read(50).map((entry) => auditEntryToView(entry));
    return {
      agentVersion: AGENT_VERSION,
      runtime: {
        node: process.versions.node,
        electron: process.versions.electron ?? null,
        platform: process.platform,
      },
      serverId: this.config.server_id,
      groupId: this.config.group_id,
      configPath: this.configPath,
      dataDir: this.dataDirValue,
      startedAt: this.startedAt,
      connection:
        parts?.connection.view() ?? new ConnectionManager(connectionOptionsFromConfig(this.running)).view(),
      spool: parts?.pump.view() ?? emptySpoolView(this.running.spool.max_bytes),
      telemetry: [...this.telemetrySamples],
      commands,
      approvals: parts?.commands.approvals.pending() ?? [],
      updates: this.updater?.view?.() ?? offUpdateView(),
    };
  }

  pause(): void {
    this.parts?.connection.pause();
  }

  resume(): void {
    this.parts?.connection.resume();
  }

  reconnectNow(): void {
    this.parts?.connection.reconnectNow();
  }

  recentLogs(limit: number): LogLineView[] {
    return this.log.recent(limit);
  }

  configView(): ConfigView {
    return {
      config: JSON.parse(JSON.stringify(redactConfig(this.config))) as Record<string, unknown>,
      editableKeys: [...EDITABLE_KEYS],
      configPath: this.configPath,
      keyStorage: this.keyStorage(),
      groupKeySet: this.config.group_key !== '',
    };
  }

  /** Where the current key lives; with no key yet, where a saved one would go. */
  private keyStorage(): ConfigView['keyStorage'] {
    const store = this.groupKeyStore;
    if (!store) return 'config-file';
    if (this.keyInStore || this.config.group_key === '') return store.kind;
    return 'config-file';
  }

  private readStoredKey(store: GroupKeyBackend): string | null {
    try {
      return store.load();
    } catch (err) {
      this.log.warn(`the stored group key could not be read: ${errorMessage(err)}`);
      return null;
    }
  }

  /**
   * With a key store that protects keys, a new `group_key` goes there and is removed from the change written to
   * the YAML. Returns the change for the file, and an undo for the store should that write fail.
   */
  private routeGroupKey(change: { patch: Record<string, unknown> } | { config: Record<string, unknown> }): {
    change: { patch: Record<string, unknown> } | { config: Record<string, unknown> };
    storedKey: string | null;
    undo: () => void;
  } {
    const store = this.groupKeyStore;
    const source = 'patch' in change ? change.patch : change.config;
    const key = source.group_key;
    const none = { change, storedKey: null, undo: () => undefined };
    // The mask means "unchanged"; a non-string is left to the schema to report.
    if (!store || !Object.hasOwn(source, 'group_key') || typeof key !== 'string' || key === GROUP_KEY_MASK)
      return none;
    const previous = this.keyInStore ? this.config.group_key : null;
    const wasInStore = this.keyInStore;
    const undo = (): void => {
      this.keyInStore = wasInStore;
      if (previous) store.save(previous);
      else store.clear();
    };
    if (key === '') {
      store.clear();
      this.keyInStore = false;
      return { change, storedKey: null, undo };
    }
    if (store.kind === 'config-file' || !store.save(key)) {
      // This key goes to the YAML, which then wins over whatever the store still holds.
      this.keyInStore = false;
      return { change, storedKey: null, undo: () => (this.keyInStore = wasInStore) };
    }
    this.keyInStore = true;
    // null removes the key from the YAML (patch); a whole document simply leaves it out.
    const stripped: Record<string, unknown> = { ...source, group_key: null };
    if ('config' in change) delete stripped.group_key;
    return {
      change: 'patch' in change ? { patch: stripped } : { config: stripped },
      storedKey: key,
      undo,
    };
  }

  validateConfig(patch: Record<string, unknown>): FieldIssue[] {
    try {
      applyPatch(this.config, patch, { host: this.host, allowedKeys: EDITABLE_KEYS });
      return [];
    } catch (err) {
      const issues = toFieldIssues(err);
      if (issues) return issues;
      return [{ path: '(root)', message: errorMessage(err) }];
    }
  }

  async saveConfig(patch: Record<string, unknown>): Promise<SaveResult> {
    return this.saveChange({ patch }, { allowedKeys: EDITABLE_KEYS, waitForApply: true });
  }

  async importYaml(yaml: string): Promise<SaveResult> {
    let raw: unknown;
    try {
      raw = parseYamlDocument(yaml).toJS() as unknown;
    } catch (err) {
      throw new ConfigPatchError(toFieldIssues(err) ?? [{ path: '(yaml)', message: errorMessage(err) }]);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigPatchError([
        { path: '(root)', message: 'expected a mapping of keys (YAML `key: value` lines)' },
      ]);
    }
    return this.saveChange({ config: raw as Record<string, unknown> }, { waitForApply: true });
  }

  exportYaml(): string {
    return configToYaml(this.config);
  }

  async testConnection(patch: Record<string, unknown>): Promise<ConnectionTestResult> {
    let candidate: AgentConfig;
    try {
      candidate = applyPatch(this.config, patch, { host: this.host }).config;
    } catch (err) {
      const issues = toFieldIssues(err);
      return {
        ok: false,
        state: 'idle',
        explanation: `Invalid settings: ${issues ? issues.map((i) => `${i.path}: ${i.message}`).join('; ') : errorMessage(err)}`,
        fixHint: 'Fix the highlighted fields.',
        durationMs: 0,
      };
    }
    const options = connectionOptionsFromConfig(candidate);
    const result = await testConnection(options);
    // The server routes commands to the last connection that authenticated with a server id (protocol §14), so a
    // successful test under our own id steals them from the live connection: re-authenticate it to take them back.
    const live = this.parts?.connection;
    if (result.ok && live?.isReady() && options.serverId === this.config.server_id) live.reconnectNow();
    return result;
  }

  decideApproval(id: string, approve: boolean): boolean {
    return this.parts?.commands.decideApproval(id, approve) ?? false;
  }

  async consoleSend(line: string): Promise<ConsoleSendResult> {
    const parts = this.parts;
    const action = parseReplLine(line, {
      groupId: this.running.group_id,
      serverId: this.running.server_id,
      maxFrameBytes: this.running.max_frame_bytes,
    });
    switch (action.kind) {
      case 'help':
        return {
          sent: 0,
          message:
            'log::SERVICE::MESSAGE, telemetry::NAME::VALUE…, response::UUID::OUT[::ERR], command::heartbeat, N times {…}',
        };
      case 'exit':
        return { sent: 0, message: 'nothing to leave here' };
      case 'error':
        return { sent: 0, message: action.message };
      case 'tail':
        return {
          sent: 0,
          message: 'tail:: is only available in `minion-agent repl`; add the file to tail_logs instead',
        };
      case 'frames':
        break;
    }
    if (!parts) return { sent: 0, message: 'the agent is not running' };
    let sent = 0;
    for (const frame of action.frames) {
      const cls = frameClassOf(frame);
      if (cls) {
        // L/T/R go through the spool like everything else: ordered, durable, delivered once connected.
        const result = parts.spool.append(cls, frame);
        if (!result.dropped) sent++;
      } else {
        let written = false;
        try {
          written = parts.connection.send(frame);
        } catch (err) {
          return { sent, message: `not sent: ${errorMessage(err)}` };
        }
        if (!written)
          return { sent, message: `not connected: ${frame[0]} frames are not spooled; sent ${sent}` };
        sent++;
      }
    }
    return { sent, message: `queued ${sent} frame(s)` };
  }

  // ---- config changes ----------------------------------------------------------------------------------------

  private async saveChange(
    change: { patch: Record<string, unknown> } | { config: Record<string, unknown> },
    options: { allowedKeys?: readonly string[]; waitForApply: boolean },
  ): Promise<SaveResult> {
    const allowedKeys = options.allowedKeys;
    const keyBefore = this.config.group_key;
    const routed = this.routeGroupKey(change);
    change = routed.change;
    let result: PatchResult;
    try {
      if (this.configPath) {
        result = await saveConfigFile(this.configPath, change, { host: this.host, allowedKeys });
      } else if ('patch' in change) {
        result = applyPatch(this.config, change.patch, { host: this.host, allowedKeys });
      } else {
        const parsed = parseAgentConfig(change.config, { host: this.host });
        const merged = { ...parsed.config, server_id: parsed.config.server_id || this.config.server_id };
        const changed = Object.keys(merged).filter(
          (k) =>
            JSON.stringify((merged as Record<string, unknown>)[k]) !==
            JSON.stringify((this.config as Record<string, unknown>)[k]),
        );
        result = applyPatch(
          this.config,
          Object.fromEntries(changed.map((k) => [k, (merged as Record<string, unknown>)[k]])),
          {
            host: this.host,
          },
        );
      }
    } catch (err) {
      routed.undo();
      const issues = toFieldIssues(err);
      if (issues) throw new ConfigPatchError(issues);
      throw err;
    }
    let next =
      result.config.server_id === '' ? { ...result.config, server_id: this.config.server_id } : result.config;
    if (this.keyInStore) {
      // The YAML has no key: the effective one is the stored one (just saved, or kept from before).
      const key = routed.storedKey ?? keyBefore;
      next = { ...next, group_key: key };
      const others = result.changed.filter((p) => p !== 'group_key');
      result = { ...result, changed: key !== keyBefore ? [...others, 'group_key'] : others };
    }
    const restartRequired = result.restartRequired;
    const live = result.changed.filter((p) => !restartRequired.includes(p));
    for (const key of restartRequired) this.pendingRestartKeys.add(key);
    // Restart-required keys (of this and earlier saves) keep their running value until the next restart.
    const effective = structuredClone(next) as Record<string, unknown>;
    for (const key of this.pendingRestartKeys) {
      const top = key.split(/[.[]/)[0] ?? key;
      effective[top] = structuredClone((this.running as Record<string, unknown>)[top]);
    }
    this.config = next;
    this.log.addSecret(next.group_key);
    this.reportConfigWarnings(result.warnings);
    const applying = this.applyLive(effective as AgentConfig, live);
    // A server's set-config runs inside a command the rebuild waits for: do not wait for the rebuild there.
    if (options.waitForApply) await applying;
    else applying.catch((err) => this.log.error('applying the new config failed', err));
    if (result.changed.length > 0) {
      this.log.info(
        `config saved: ${live.length > 0 ? `applied ${live.join(', ')}` : 'nothing to apply live'}` +
          (restartRequired.length > 0 ? `; restart needed for ${restartRequired.join(', ')}` : ''),
      );
    }
    return { applied: live, restartRequired };
  }

  private async applyLive(effective: AgentConfig, changed: string[]): Promise<void> {
    if (changed.length === 0) return;
    if (changed.some((p) => p === 'log_level')) this.log.setLevel(effective.log_level);
    const parts = this.parts;
    if (!parts) {
      this.running = effective;
      return;
    }
    if (changed.every((p) => isUnder(p, CHEAP_KEYS))) {
      parts.commands.configure({
        policy: commandPolicyFromConfig(effective, this.host),
        runner: this.runnerOptions(effective),
        approvalTimeoutMs: effective.commands.ask_timeout * 1000,
      });
      this.running = effective;
      return;
    }
    // Anything else (connection, tail, telemetry, spool…): rebuild the parts with the new values. The spool and the
    // checkpoints keep every frame and position across it, exactly like a restart.
    await this.serialize(async () => {
      const saved = this.config;
      this.config = effective;
      try {
        await this.stopParts();
        await this.startParts();
      } finally {
        this.config = saved;
      }
    });
  }
}

/** Keys the server's `set-config` may change: what the GUI may edit, minus the local access control. */
export const SERVER_SETTABLE_KEYS: readonly string[] = EDITABLE_KEYS.filter((k) => !isUnder(k, ['commands']));

/** `{tls: {enabled: true}}` → `{'tls.enabled': true}`; lists and scalars are leaves. */
export function flattenToPatch(value: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (
      inner !== null &&
      typeof inner === 'object' &&
      !Array.isArray(inner) &&
      Object.keys(inner).length > 0
    ) {
      Object.assign(out, flattenToPatch(inner as Record<string, unknown>, path));
    } else {
      out[path] = inner;
    }
  }
  return out;
}

/** UTF-8 bytes one log message may have so that its `L` frame fits `max_frame_bytes` (longest service name). */
export function logMessageBudget(config: AgentConfig): number {
  const services = [...config.tail_logs.map((e) => e.service), config.agent_log_service || AGENT_SERVICE];
  const longest = services.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), '');
  // +4: the empty message's 1-byte string header grows to 5 bytes at most.
  const overhead = frameByteLength(logFrame(config.group_id, config.server_id, longest, '')) + 4;
  return Math.max(64, config.max_frame_bytes - overhead);
}

function emptySpoolView(maxBytes: number): SpoolView {
  const cls = { queuedFrames: 0, queuedBytes: 0, awaitingConfirmation: 0, confirmed: 0, dropped: 0 };
  return {
    perClass: { log: { ...cls }, telemetry: { ...cls }, result: { ...cls } },
    totalBytes: 0,
    maxBytes,
    notDurableFrames: 0,
    oldestQueuedAt: null,
    replay: { active: false, total: 0, done: 0 },
    quarantinedSegments: 0,
    recentSent: [],
    recentQueued: [],
  };
}

export { AGENT_SERVICE };
