/**
 * "Try with a local sandbox server" (first run without a config): starts the in-process sandbox StreamServer on
 * 127.0.0.1 with a fresh random group and points the agent's config at it. The sandbox lives as long as the host
 * process; the saved config then names a port nothing listens on, which the dashboard explains as "unreachable".
 */
import { randomBytes } from 'node:crypto';
import type { AgentCoreApi } from '../agent/core-api';
import type { SandboxInfo } from './handlers';

export interface RunningSandbox {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export interface SandboxStarterDeps {
  core: Pick<AgentCoreApi, 'saveConfig'>;
  /** Starts a sandbox server for one group (SandboxServer.start in production). */
  startServer: (options: {
    host: '127.0.0.1';
    port: 0;
    groups: Array<{ id: string; key: string }>;
  }) => Promise<RunningSandbox>;
}

export interface SandboxStarter {
  /** Idempotent: a second call returns the running sandbox. */
  start(): Promise<SandboxInfo>;
  stop(): Promise<void>;
}

export function createSandboxStarter(deps: SandboxStarterDeps): SandboxStarter {
  let running: { server: RunningSandbox; info: SandboxInfo } | null = null;
  let starting: Promise<SandboxInfo> | null = null;

  const startOnce = async (): Promise<SandboxInfo> => {
    const groupId = `sandbox-${randomBytes(4).toString('hex')}`;
    const key = randomBytes(24).toString('base64url');
    const server = await deps.startServer({ host: '127.0.0.1', port: 0, groups: [{ id: groupId, key }] });
    const info: SandboxInfo = { host: server.address.host, port: server.address.port, groupId };
    try {
      await deps.core.saveConfig({
        streamserver_host: info.host,
        streamserver_port: info.port,
        group_id: groupId,
        group_key: key,
        'tls.enabled': false,
      });
    } catch (error) {
      await server.close();
      throw error;
    }
    running = { server, info };
    return info;
  };

  return {
    start() {
      if (running) return Promise.resolve(running.info);
      starting ??= startOnce().finally(() => {
        starting = null;
      });
      return starting;
    },
    async stop() {
      const current = running;
      running = null;
      await current?.server.close();
    },
  };
}
