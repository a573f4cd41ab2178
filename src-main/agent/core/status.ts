/**
 * What the core reports about itself: the snapshot the UI starts from (masked) and the server's `internal status`
 * report (the original agent's keys plus this agent's).
 */
import { type AgentSnapshot, type SpoolView, type UpdateView } from '../../../src-shared/view-models';
import { blankUpdateView } from '../../../src-shared/update-view';
import { auditEntryToView } from '../commands/audit';
import { ConnectionManager } from '../connection/connection';
import { AGENT_VERSION } from '../version';
import { connectionOptionsFromConfig } from './config-mapping';
import { type CoreState } from './state';

function offUpdateView(): UpdateView {
  return blankUpdateView({ state: 'off', currentVersion: AGENT_VERSION, policy: 'off' });
}

export function unmaskedSnapshot(state: CoreState): AgentSnapshot {
  const parts = state.parts;
  const history = parts?.commands.records() ?? [];
  // After a restart the in-memory history is empty: fill from the audit log so the UI keeps its list.
  // Masked by the caller, audit entries included (those written before a key change may still carry it).
  const commands =
    history.length > 0 ? history : state.audit.read(50).map((entry) => auditEntryToView(entry));
  return {
    agentVersion: AGENT_VERSION,
    runtime: {
      node: process.versions.node,
      electron: process.versions.electron ?? null,
      platform: process.platform,
    },
    serverId: state.config.server_id,
    groupId: state.config.group_id,
    configPath: state.configPath,
    dataDir: state.dataDirValue,
    startedAt: state.startedAt,
    connection:
      parts?.connection.view() ?? new ConnectionManager(connectionOptionsFromConfig(state.running)).view(),
    spool: parts?.pump.view() ?? emptySpoolView(state.running.spool.max_bytes),
    telemetry: [...state.telemetrySamples],
    commands,
    approvals: parts?.commands.approvals.pending() ?? [],
    updates: state.updater?.view?.() ?? offUpdateView(),
  };
}

export function statusReport(state: CoreState): Record<string, unknown> {
  const parts = state.parts;
  const connection = parts?.connection.view();
  const spool = parts?.pump.view();
  const commands = parts?.commands.counters();
  const mem = process.memoryUsage();
  const now = Date.now();
  const outFrames = connection?.out.frames ?? {};
  return {
    // The original's keys (protocol.md §6.2), now with real values…
    start: new Date(state.startedAt).toISOString(),
    uptime: Math.round((now - state.startedAt) / 1000),
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
