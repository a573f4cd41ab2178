/**
 * `minion-agent sandbox [--port P]`: runs the sandbox StreamServer in the foreground ("try it locally") and prints
 * one line per thing it receives. See docs/sandbox.md for how it differs from the real server.
 */
import { randomBytes } from 'node:crypto';
import { type SandboxGroup, type SandboxServer, startSandboxServer } from '../../sandbox/sandbox-server';

export interface RunSandboxOptions {
  port: number;
  host?: string;
  /** Groups the sandbox knows. Empty: one group `sandbox` with a random key, printed so an agent can use it. */
  groups: SandboxGroup[];
  out: (line: string) => void;
  /** false mimics a server without a `command:` section (auth and heartbeat close the connection). */
  commandsEnabled?: boolean;
}

export interface RunningSandbox {
  server: SandboxServer;
  close(): Promise<void>;
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

export async function runSandbox(options: RunSandboxOptions): Promise<RunningSandbox> {
  const { out } = options;
  let groups = options.groups;
  let generated: SandboxGroup | null = null;
  if (groups.length === 0) {
    generated = { id: 'sandbox', key: randomBytes(16).toString('hex') };
    groups = [generated];
  }
  const server = await startSandboxServer({
    host: options.host ?? '127.0.0.1',
    port: options.port,
    groups,
    commandsEnabled: options.commandsEnabled ?? true,
  });
  const { host, port } = server.address;
  out(`sandbox StreamServer listening on ${host}:${port} (groups: ${groups.map((g) => g.id).join(', ')})`);
  if (generated) {
    // The sandbox made this key up itself; the agent needs it to authenticate.
    out(`use group_id: ${generated.id}, group_key: ${generated.key}, streamserver_port: ${port}`);
  }

  server.on('connection', (c) => out(`[${c.id}] connection from ${c.remoteAddress}:${c.remotePort}`));
  server.on('disconnect', (c) =>
    out(`[${c.id}] closed: ${c.closeCause ?? 'unknown'}${c.closeDetail ? ` (${c.closeDetail})` : ''}`),
  );
  server.on('auth', (a) =>
    out(`[${a.connectionId}] authenticate ${a.groupId} / ${a.serverId}: ${a.outcome}`),
  );
  server.on('heartbeat', (h) => out(`[${h.connectionId}] heartbeat from ${h.serverId}`));
  server.on('log', (l) => out(`[${l.connectionId}] L ${l.serverId} ${l.service}: ${l.message}`));
  server.on('telemetry', (t) => out(`[${t.connectionId}] T ${t.serverId} ${t.values.join(' ')}`));
  server.on('result', (r) =>
    out(
      `[${r.connectionId}] R ${r.serverId} for ${r.commandUuid}: stdout ${show(r.stdout)} stderr ${show(r.stderr)}`,
    ),
  );
  server.on('dropped', (d) => out(`[${d.connectionId}] dropped ${d.frame[0]} frame: ${d.reason}`));
  server.on('poison', (p) =>
    out(`[${p.connectionId}] POISON (would break the real server): ${p.reason}: ${show(p.frame)}`),
  );
  server.on('protocol-error', (e) =>
    out(`[${e.connectionId}] protocol error, connection closed: ${e.error.message}`),
  );

  return {
    server,
    close: async () => {
      await server.close();
      out('sandbox stopped');
    },
  };
}
