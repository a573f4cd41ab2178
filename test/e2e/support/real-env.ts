/**
 * A real agent core wired to a real sandbox StreamServer in a temp folder, for e2e tests of the dashboard.
 * Fast timings (poll 20 ms, reconnect 100–500 ms) keep the outage/recovery tests short.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCore } from '../../../src-main/agent/agent';
import type { AgentHost } from '../../../src-shared/config';
import { SandboxServer } from '../../../src-main/sandbox/sandbox-server';

export const GROUP = 'e2e-group';
export const KEY = 'e2e-key-0123456789';

export interface RealEnv {
  dir: string;
  sandbox: SandboxServer;
  core: AgentCore;
  configPath: string;
  logFile: string;
  writeLog(line: string): void;
  close(): Promise<void>;
}

export interface RealEnvOptions {
  policy?: 'ask' | 'allow' | 'deny';
  /** 'headless' = `minion-agent run --ui`: `ask` is answered in the web dashboard's sessions. */
  host?: AgentHost;
  /** commands.ask_timeout in seconds (default 60). */
  askTimeout?: number;
}

export async function startRealEnv(options: RealEnvOptions = {}): Promise<RealEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'minion-e2e-'));
  const sandbox = await SandboxServer.start({ port: 0, groups: [{ id: GROUP, key: KEY }] });
  const logFile = join(dir, 'app.log');
  writeFileSync(logFile, '');
  const configPath = join(dir, 'config.yml');
  writeFileSync(
    configPath,
    `streamserver_host: 127.0.0.1
streamserver_port: ${sandbox.address.port}
group_id: ${GROUP}
group_key: ${KEY}
telemetry_interval: 1
builtin_telemetries: [load_avg, memory]
tail_logs:
  - service: app
    file: ${logFile}
data_dir: ${join(dir, 'data')}
heartbeat_interval: 5
reconnect:
  base_ms: 100
  cap_ms: 500
tail:
  poll_interval_ms: 20
  start_at: beginning
commands:
  policy: ${options.policy ?? 'ask'}
  ask_timeout: ${options.askTimeout ?? 60}
`,
  );
  const core = new AgentCore({ configPath, host: options.host ?? 'desktop' });
  await core.start();
  return {
    dir,
    sandbox,
    core,
    configPath,
    logFile,
    writeLog: (line) => appendFileSync(logFile, `${line}\n`),
    close: async () => {
      await core.stop().catch(() => undefined);
      await sandbox.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
