/**
 * The core's lifecycle: start, stop and restart, serialized on one chain, and the parts a running core is made of:
 *
 *   LogTailer ─┐
 *   Telemetry ─┼─► Spool (durable, ordered) ─► DeliveryPump ─► ConnectionManager ─► StreamServer
 *   Commands  ─┘                                                      │
 *        ▲────────────────────────── `C` frames ◄─────────────────────┘
 *
 * Stop order matters: producers first (tailer checkpoints, command answers), then delivery, then the connection
 * (round trip + reset), then the spool (flush + cursor).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type AgentConfig } from '../../../src-shared/config';
import { boundedArgvText } from '../commands/argv';
import { AuditLog } from '../commands/audit';
import { type InternalCommandContext } from '../commands/internal';
import { CommandService } from '../commands/service';
import { resolveDataDir } from '../config';
import { ConnectionManager } from '../connection/connection';
import { LogTailer } from '../logs/tailer';
import { FRAME_SCRATCH } from '../protocol/codec';
import { logFrame, resultFrame, telemetryFrame } from '../protocol/frames';
import { LogFrameBytesEncoder } from '../protocol/log-frame-bytes';
import { frameByteLength } from '../protocol/validate';
import { DeliveryPump } from '../spool/delivery';
import { Spool } from '../spool/spool';
import { TelemetryScheduler } from '../telemetry/scheduler';
import { AGENT_VERSION } from '../version';
import {
  commandPolicyFromConfig,
  connectionOptionsFromConfig,
  logMessageBudget,
  outputBudget,
  runnerOptions,
} from './config-mapping';
import { importLegacy } from './legacy-import';
import { AUDIT_MAX_BYTES, type CoreState, type Parts } from './state';

export class CoreLifecycle {
  private lifecycle: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: CoreState,
    /** The server's `internal` commands, answered by the core (built by the facade: they reach every piece). */
    private readonly internalContext: () => InternalCommandContext,
  ) {}

  start(): Promise<void> {
    return this.serialize(() => this.startParts());
  }

  stop(): Promise<void> {
    return this.serialize(() => this.stopParts());
  }

  /** Stops and starts again with the current config (restart-required keys take effect). Same process. */
  restart(): Promise<void> {
    const state = this.state;
    return this.serialize(async () => {
      const wasRunning = state.parts !== null;
      await this.stopParts();
      state.counters.restarts++;
      state.pendingRestartKeys.clear();
      if (state.dataDirOverride === undefined) {
        const next = resolveDataDir(state.config.data_dir, state.configPath);
        if (next !== state.dataDirValue) {
          state.dataDirValue = next;
          mkdirSync(next, { recursive: true });
          state.audit = new AuditLog({ path: join(next, 'commands-audit.jsonl'), maxBytes: AUDIT_MAX_BYTES });
        }
      }
      if (wasRunning) await this.startParts();
      state.notice({ level: 'info', message: 'Agent core restarted.' });
    });
  }

  serialize(step: () => Promise<void>): Promise<void> {
    const next = this.lifecycle.then(step);
    // Keep the chain alive after a failure; the caller still sees the error.
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  /** Starts the parts from `config` (default: the saved config; a live apply passes the effective one). */
  async startParts(config: AgentConfig = this.state.config): Promise<void> {
    const state = this.state;
    if (state.parts) return;
    // The server id goes into every frame and the auth: a generated one is on disk before any of them exists.
    await state.serverIdPersisted();
    state.running = config;
    state.startedAt = Date.now();
    mkdirSync(state.dataDirValue, { recursive: true });
    const spool = await Spool.open(state.dataDirValue, {
      maxBytes: config.spool.max_bytes,
      fsync: config.spool.fsync,
      maxFrameBytes: config.max_frame_bytes,
      onProblem: (m) => state.log.warn(`spool: ${m}`),
    });
    const recovery = spool.recovery;
    if (
      recovery.tornTail ||
      recovery.quarantined.length > 0 ||
      (recovery.cursor !== 'ok' && recovery.recordsFound > 0)
    ) {
      state.log.info(
        `spool recovered: ${recovery.recordsFound} records, cursor ${recovery.cursor}` +
          (recovery.tornTail ? `, torn tail of ${recovery.tornTail.truncatedBytes} bytes cut` : '') +
          (recovery.quarantined.length > 0 ? `, ${recovery.quarantined.length} segment(s) quarantined` : ''),
      );
    }
    // Before the pump starts, so the original agent's undelivered frames go out first (they are older).
    if (config.spool.import_legacy)
      await importLegacy(state.log, state.legacySpoolDir, spool, config.group_id);
    spool.on('drop', (info) =>
      state.notice({
        level: 'warn',
        message:
          info.reason === 'overflow'
            ? `Spool full: dropped ${info.frames} oldest ${info.cls} frame(s) to make room (spool.max_bytes).`
            : `Spool full: dropped ${info.frames} new ${info.cls} frame(s) (spool.max_bytes; ` +
              (info.reason === 'reclaiming'
                ? 'the disk space of earlier drops is being freed).'
                : 'it holds only results).'),
      }),
    );

    // No trace ring: nothing reads it in the running core; the 'wire' event serves whoever watches (relayed on demand).
    const connection = new ConnectionManager({ ...connectionOptionsFromConfig(config), traceCapacity: 0 });
    const pump = new DeliveryPump(spool, connection, {
      groupId: config.group_id,
      serverId: config.server_id,
      settleMs: config.delivery.settle_ms,
      confirmIntervalMs: config.delivery.confirm_interval * 1000,
      barrierTimeoutMs: connection.heartbeatTimeoutMs,
      onProblem: (m) => state.log.warn(`delivery: ${m}`),
    });
    // The pump's status reaches the core's 'spool' listeners through `state.updateSpoolForwarding()` (below), masked:
    // views of frames (queued, sent, on the wire) carry argv and output.

    const commands = new CommandService({
      policy: commandPolicyFromConfig(config, state.host),
      runner: runnerOptions(config, state.commandDefaults),
      approvalTimeoutMs: config.commands.ask_timeout * 1000,
      approvers: state.approvers,
      outputBudgetBytes: outputBudget(config),
      sendResult: (uuid, stdout, stderr) => {
        spool.append('result', resultFrame(config.group_id, config.server_id, uuid, stdout, stderr));
      },
      internal: this.internalContext(),
      audit: state.audit,
      onError: (m, err) => state.log.error(m, err),
      // The saved key and the one the running connection uses (they differ until a key change is applied).
      secrets: () => [state.config.group_key, state.running.group_key],
    });
    commands.on('command', (record) => {
      state.emit('command', record);
      if (record.state !== 'done') return;
      // Bounded (argv can be 64 KiB); control characters are escaped by the log itself.
      const line = `${boundedArgvText([record.type, ...record.argv])}`;
      if (record.decision === 'allowed' || record.decision === 'approved') {
        const outcome =
          record.type === 'internal'
            ? 'done'
            : record.timedOut
              ? 'timed out'
              : record.signal
                ? `killed by ${record.signal}`
                : `exit ${record.exitCode ?? 'unknown'}`;
        state.log.info(`command ${record.uuid} (${line}) ran: ${outcome}`);
      } else {
        // Refusals are notable: they also go to the server as the agent's own log line.
        state.log.warn(
          `command ${record.uuid} (${line}) ${record.decision}: ${record.stderr.split('\n')[0] ?? ''}`,
        );
      }
    });
    commands.on('approvals', (list) => state.emit('approvals', state.masked(list)));

    connection.on('state', (view) => state.onConnectionState(view));
    connection.on('command', (cmd) => {
      void commands.handle(cmd.uuid, cmd.data);
    });

    const stopProducers = await this.startProducers(config, spool);
    state.parts = { spool, connection, pump, commands, stopProducers };
    state.updateWireForwarding();
    // The status is built only for someone listening (the UI); an idle headless agent has no timer for it.
    state.updateSpoolForwarding();
    state.updateSpoolStatus();
    for (const message of state.unshippedWarnings.splice(0)) state.shipOwnLine(message);
    pump.start();
    const missing = [
      ...(config.streamserver_host.trim() === '' ? ['streamserver_host'] : []),
      ...(config.group_id.trim() === '' ? ['group_id'] : []),
    ];
    // Not configured yet (first run): connect once the keys are saved. Expected, so said once and not as a warning.
    if (missing.length === 0) connection.start();
    else
      state.log.info(
        `waiting for the settings: ${missing.join(' and ')} not set yet; the agent connects once they are saved`,
      );
    state.log.info(
      `agent ${AGENT_VERSION} started: server ${config.streamserver_host}:${config.streamserver_port}, ` +
        `group ${config.group_id}, server id ${config.server_id}, data dir ${state.dataDirValue}`,
    );
  }

  async stopParts(): Promise<void> {
    const parts = this.state.parts;
    if (!parts) return;
    this.state.parts = null;
    this.state.updateSpoolStatus();
    this.state.updateWireForwarding();
    this.state.updateSpoolForwarding();
    // Producers first: no new frames, checkpoints saved. Then commands: killed children still get their answer.
    await parts.stopProducers();
    await parts.commands.stop();
    await this.settleDelivery(parts, this.state.running.delivery.settle_ms + 3_000);
    await parts.pump.stop();
    await parts.connection.stop();
    await parts.spool.close();
    this.state.log.info('agent stopped (spool flushed, cursor saved)');
  }

  /**
   * While connected, waits (bounded) until everything queued is delivered and confirmed — both steps, so this takes
   * about `delivery.settle_ms` (docs/spool.md "Clean stop"): a clean stop then leaves nothing "sent but unconfirmed"
   * that the next start would send again, and the answer to a `restart` command reaches the server first.
   */
  private async settleDelivery(parts: Parts, timeoutMs: number): Promise<void> {
    if (!parts.connection.isReady()) return;
    if (!(await parts.pump.settle(timeoutMs)))
      this.state.log.info('stopping with unconfirmed frames: they are sent again after the next start');
  }

  /** Starts the tailer and the telemetry scheduler feeding `spool`; returns their stop function. */
  private async startProducers(config: AgentConfig, spool: Spool): Promise<() => Promise<void>> {
    const state = this.state;
    // Without a group id no frame is valid: reading and sampling now would only log refusals. Saving the settings
    // rebuilds the parts, which starts them.
    if (config.group_id.trim() === '') return () => Promise.resolve();
    const groupId = config.group_id;
    const serverId = config.server_id;
    const logSink = (service: string, line: string): void => {
      // Throwing (spool closed or failing) tells the tailer to offer the line again later: nothing is lost.
      spool.append('log', logFrame(groupId, serverId, service, line));
      state.counters.logsShipped++;
      state.log.shipped(service, line);
    };
    const logFrameBytes = new LogFrameBytesEncoder(groupId, serverId);
    const tailer = new LogTailer({
      entries: config.tail_logs,
      checkpointPath: join(state.dataDirValue, 'tail-checkpoint.json'),
      maxMessageBytes: logMessageBudget(config),
      sink: logSink,
      // The common line: the frame is encoded from its bytes (no line string, frame tuple or UUID string per line),
      // byte for byte the frame `logSink` would append.
      byteSink: (service, line, start, end) => {
        const length = logFrameBytes.encode(service, line, start, end);
        if (length < 0) {
          logSink(service, line.toString('utf8', start, end));
          return;
        }
        spool.appendPayload('log', FRAME_SCRATCH, 0, length);
        state.counters.logsShipped++;
        state.log.shippedBytes(service, line, start, end);
      },
      // The checkpoint must never get ahead of the spool on disk (a crash or power loss would otherwise skip lines).
      // While lines flow it waits for the spool's own (asynchronous) durability; the final write of a stop waits
      // for an explicit spool sync. Neither blocks the event loop.
      whenSinkDurable: () => spool.whenDurable(spool.lastSeq),
      beforeFinalCheckpoint: () => spool.sync(),
      log: (level, message) => state.log[level](`tail: ${message}`),
      pollIntervalMs: config.tail.poll_interval_ms,
      quietFlushMs: config.tail.partial_line_flush_ms,
      startAt: config.tail.start_at,
      cwd: state.configPath ? dirname(resolve(state.configPath)) : process.cwd(),
    });
    tailer.start();

    const telemetry = new TelemetryScheduler({
      builtins: config.builtin_telemetries,
      custom: config.telemetries,
      intervalMs: config.telemetry_interval * 1000,
      sink: (name, values) => {
        spool.append('telemetry', telemetryFrame(groupId, serverId, name, values));
        state.counters.telemetrySent++;
        state.rememberSample({ at: Date.now(), name, values });
      },
      log: (level, message) => state.log[level](`telemetry: ${message}`),
      // Frame budget minus the frame's own overhead (ids, uuid, headers) and a margin for per-value headers.
      maxSampleBytes: Math.max(
        256,
        config.max_frame_bytes - frameByteLength(telemetryFrame(groupId, serverId, '', [])) - 64,
      ),
      customCwd: state.configPath ? dirname(resolve(state.configPath)) : undefined,
    });
    telemetry.start();
    return async () => {
      await tailer.stopAndCheckpoint();
      await telemetry.stop();
    };
  }
}
