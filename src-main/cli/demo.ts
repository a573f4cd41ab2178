/**
 * `minion-agent demo` (`npm run demo`): everything on 127.0.0.1 in a temporary directory — a sandbox StreamServer,
 * an agent with a demo config (commands allowed), a program writing log lines — and prints what the server
 * receives: logs, telemetry and the answers to two commands it sends. Ctrl-C (or --duration) ends it and cleans up.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCore } from '../agent/agent';
import { SandboxServer } from '../sandbox/sandbox-server';
import { type CliIo, EXIT_FAILURE, EXIT_OK } from './io';

export interface DemoOptions {
  /** Stop after this many seconds; undefined = until SIGINT/SIGTERM. */
  durationSec?: number;
  /** Sandbox port; 0 = any free port. */
  port?: number;
  /** Lines per second the sample writer appends. */
  linesPerSecond?: number;
}

const GROUP = 'demo-group';
const KEY = 'demo-key-0123456789abcdef';

export function demoConfigYaml(port: number, dir: string): string {
  return `# Written by \`minion-agent demo\`. Every key of the original agent works unchanged.
streamserver_host: 127.0.0.1
streamserver_port: ${port}
group_id: ${GROUP}
group_key: ${KEY}
server_name: demo
telemetry_interval: 3
builtin_telemetries: [memory, load_avg, cpu]
tail_logs:
  - service: demo-app
    file: ${join(dir, 'app.log')}
telemetries:
  - name: demo_files
    command: ls ${dir} | wc -l
    args: []
    interval: 5
# Added by this agent:
data_dir: ${join(dir, 'data')}
heartbeat_interval: 5
tail:
  start_at: beginning
commands:
  policy: allow   # demo only: the default is deny (headless) / ask (desktop)
`;
}

function short(text: string, max = 100): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

export async function runDemo(options: DemoOptions, io: CliIo): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'minion-demo-'));
  const say = (text: string): void => io.out(text);
  let sandbox: SandboxServer | null = null;
  let core: AgentCore | null = null;
  let writer: NodeJS.Timeout | null = null;
  const timers: NodeJS.Timeout[] = [];
  try {
    sandbox = await SandboxServer.start({ port: options.port ?? 0, groups: [{ id: GROUP, key: KEY }] });
    const { host, port } = sandbox.address;
    say(`▶ sandbox StreamServer listening on ${host}:${port} (group ${GROUP})`);

    const configPath = join(dir, 'config.yml');
    writeFileSync(configPath, demoConfigYaml(port, dir));
    say(`▶ agent config: ${configPath}`);

    sandbox.on('auth', (e) => say(`[server] auth      ${e.outcome} (server id ${e.serverId})`));
    sandbox.on('log', (e) => say(`[server] log       ${e.service}: ${short(e.message)}`));
    sandbox.on('telemetry', (e) => say(`[server] telemetry ${short(e.values.join(' '))}`));
    sandbox.on('result', (e) =>
      say(
        `[server] result    for ${e.commandUuid}\n           stdout: ${short(e.stdout, 200)}\n           stderr: ${short(e.stderr, 200)}`,
      ),
    );

    const logFile = join(dir, 'app.log');
    let n = 0;
    const perSecond = options.linesPerSecond ?? 2;
    const writeLine = (): void => {
      n++;
      appendFileSync(
        logFile,
        `${new Date().toISOString()} demo-app: request ${n} handled in ${(n * 7) % 50} ms\n`,
      );
    };
    writeLine();
    writer = setInterval(writeLine, Math.max(20, Math.round(1000 / perSecond)));
    say(`▶ writing ${perSecond} line(s)/s to ${logFile}`);

    core = new AgentCore({
      configPath,
      host: 'headless',
      logSink: (line) => {
        if (line.level !== 'debug') io.err(`[agent]  ${line.level} ${line.message}`);
      },
    });
    await core.start();

    const agent = core;
    const server = sandbox;
    const serverId = agent.effectiveConfig.server_id;
    const dispatch = async (type: string, argv: string[]): Promise<void> => {
      say(`[server] command   ${type} ${argv.join(' ')}`);
      try {
        await server.dispatchCommand(serverId, type, argv, { timeoutMs: 15_000 });
      } catch (err) {
        say(`[server] command failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    // Commands only reach connected agents (like the real server): send them once the agent has authenticated.
    const onAuth = (e: { outcome: string; serverId: string }): void => {
      if (e.outcome !== 'accepted' || e.serverId !== serverId) return;
      server.off('auth', onAuth);
      timers.push(
        setTimeout(() => {
          void (async () => {
            await dispatch('external', ['uname', '-sr']);
            await dispatch('internal', ['status']);
            await dispatch('internal', ['set-config', 'x: 1']);
          })();
        }, 1500),
      );
    };
    server.on('auth', onAuth);

    const done = new Promise<void>((resolve) => {
      const unregister = io.onSignal(['SIGINT', 'SIGTERM'], () => {
        unregister();
        resolve();
      });
      if (options.durationSec !== undefined) {
        timers.push(
          setTimeout(() => {
            unregister();
            resolve();
          }, options.durationSec * 1000),
        );
      } else {
        say('▶ press Ctrl-C to stop');
      }
    });
    await done;
    say('▶ stopping…');
    return EXIT_OK;
  } catch (err) {
    io.err(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_FAILURE;
  } finally {
    for (const t of timers) clearTimeout(t);
    if (writer) clearInterval(writer);
    await core?.stop().catch(() => undefined);
    await sandbox?.close().catch(() => undefined);
    if (sandbox) {
      say(
        `▶ the server received ${sandbox.logs.length} log, ${sandbox.telemetry.length} telemetry and ` +
          `${sandbox.results.length} result frame(s)`,
      );
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
