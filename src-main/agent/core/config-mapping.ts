/**
 * Pure mappings from the agent config to what the parts take: connection options, command policy and runner
 * options, frame budgets, and the flattening of a YAML document into a patch.
 */
import { randomUUID } from 'node:crypto';
import { type AgentConfig, type AgentHost } from '../../../src-shared/config';
import { AGENT_SERVICE } from '../agent-log';
import { type CommandPolicyOptions } from '../commands/policy';
import { type ConnectionOptions } from '../connection/connection';
import { logFrame, resultFrame } from '../protocol/frames';
import { frameByteLength } from '../protocol/validate';
import { type CommandDefaults } from './state';

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

/** True when `next` would connect somewhere `saved` does not: another host, port, or TLS identity or trust. */
export function connectionTargetDiffers(saved: AgentConfig, next: AgentConfig): boolean {
  const target = (c: AgentConfig) =>
    JSON.stringify([
      c.streamserver_host.trim().toLowerCase(),
      c.streamserver_port,
      c.tls.enabled,
      c.tls.server_name ?? null,
      c.tls.ca_file ?? null,
      c.tls.reject_unauthorized,
    ]);
  return target(saved) !== target(next);
}

export function commandPolicyFromConfig(config: AgentConfig, host: AgentHost): CommandPolicyOptions {
  return {
    mode: config.commands.policy,
    allowlist: config.commands.allowlist,
    internal: { ...config.commands.internal },
    host,
  };
}

/** `defaults`: where commands run and what they see when the config says nothing (the desktop's login-shell PATH). */
export function runnerOptions(config: AgentConfig, defaults?: CommandDefaults) {
  return {
    maxConcurrent: config.commands.concurrency,
    timeoutMs: config.commands.timeout * 1000,
    killGraceMs: config.commands.kill_grace * 1000,
    keepBytesPerStream: config.commands.max_output_bytes,
    cwd: config.commands.cwd ?? defaults?.cwd,
    env: { ...defaults?.env, ...config.commands.env },
  };
}

/** Bytes left for stdout + stderr in one `R` frame after its own overhead (string headers up to 5 bytes each). */
export function outputBudget(config: AgentConfig): number {
  const overhead = frameByteLength(resultFrame(config.group_id, config.server_id, randomUUID(), '', ''));
  return Math.max(256, config.max_frame_bytes - overhead - 10);
}

/** UTF-8 bytes one log message may have so that its `L` frame fits `max_frame_bytes` (longest service name). */
export function logMessageBudget(config: AgentConfig): number {
  const services = [...config.tail_logs.map((e) => e.service), config.agent_log_service || AGENT_SERVICE];
  const longest = services.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), '');
  // +4: the empty message's 1-byte string header grows to 5 bytes at most.
  const overhead = frameByteLength(logFrame(config.group_id, config.server_id, longest, '')) + 4;
  return Math.max(64, config.max_frame_bytes - overhead);
}

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
