// End to end: lines/s from a tailed file through the whole agent (tailer → spool → delivery pump → connection) to
// the sandbox StreamServer, against a raw writer pushing the same lines as pre-encoded frames down one socket to the
// same server (in its own process), in the same run. Plus the agent's own RSS and CPU while idle with 10 tailed files, measured on a
// separate process (bench/e2e-idle-agent.ts) so the bench runner's memory does not count.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCore } from '../src-main/agent/agent';
import { encodeFrame } from '../src-main/agent/protocol/codec';
import { logFrame } from '../src-main/agent/protocol/frames';
import type { BenchResult } from './types';

const LINES = 100_000;
const GROUP = 'bench-group';
const KEY = 'bench-key-0123456789';
const SERVER_ID = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';

function lines(round: number): string[] {
  return Array.from(
    { length: LINES },
    (_, i) =>
      `2026-11-25T19:00:00.${String(i % 1000).padStart(3, '0')}Z app[${i % 97}]: round ${round} request ${i} served in ${i % 313} ms`,
  );
}

/** The sandbox server in a child process; counts log frames there. */
class SandboxChild {
  private total = 0;
  private buffered = '';
  private waiters: Array<(line: string) => void> = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly port: number,
  ) {
    child.stdout.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString();
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        for (const w of this.waiters.splice(0)) w(line);
      }
    });
  }

  static async start(): Promise<SandboxChild> {
    const child = spawn(process.execPath, [
      '--import',
      'tsx',
      join(process.cwd(), 'bench', 'e2e-sandbox-child.ts'),
      GROUP,
      KEY,
    ]);
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const onData = (c: Buffer): void => {
        out += c.toString();
        const m = /PORT (\d+)/.exec(out);
        if (m) {
          child.stdout.off('data', onData);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on('data', onData);
      child.once('exit', (code) => reject(new Error(`sandbox child exited with ${code}`)));
    });
    return new SandboxChild(child, port);
  }

  private nextLine(): Promise<string> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when `count` more log frames (on top of all expected before) have arrived. */
  async expect(count: number, timeoutMs = 180_000): Promise<void> {
    this.total += count;
    const done = (async () => {
      for (;;) if ((await this.nextLine()) === 'DONE') return;
    })();
    this.child.stdin.write(`expect ${this.total}\n`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error('lines did not arrive')), timeoutMs)),
      ),
    ]);
    clearTimeout(timer);
  }

  async connected(serverId: string): Promise<boolean> {
    const reply = this.nextLine();
    this.child.stdin.write('connected?\n');
    return (await reply).split(' ')[1]?.split(',').includes(serverId) ?? false;
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end();
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

async function rawRound(sandbox: SandboxChild, round: number): Promise<number> {
  const frames = lines(round).map((l) => encodeFrame(logFrame(GROUP, SERVER_ID, 'bench', l)));
  const socket = net.connect(sandbox.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const started = process.hrtime.bigint();
  const arrived = sandbox.expect(LINES);
  // Big writes with backpressure: the fastest a client can push these frames down one socket.
  for (let i = 0; i < frames.length; i += 2000) {
    if (!socket.write(Buffer.concat(frames.slice(i, i + 2000)))) {
      await new Promise((resolve) => socket.once('drain', resolve));
    }
  }
  await arrived;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  socket.resetAndDestroy();
  return LINES / seconds;
}

function configYaml(port: number, dir: string, files: string[], extra = ''): string {
  return `streamserver_host: 127.0.0.1
streamserver_port: ${port}
group_id: ${GROUP}
group_key: ${KEY}
server_id: ${SERVER_ID}
builtin_telemetries: []
tail_logs:
${files.map((f) => `  - {service: bench, file: ${f}}`).join('\n')}
data_dir: ${join(dir, 'data')}
tail: {start_at: beginning}
${extra}`;
}

async function agentRound(sandbox: SandboxChild, dir: string, round: number): Promise<number> {
  const logFile = join(dir, `agent-${round}.log`);
  writeFileSync(logFile, '');
  const configPath = join(dir, `config-${round}.yml`);
  writeFileSync(configPath, configYaml(sandbox.port, join(dir, `r${round}`), [logFile]));
  const core = new AgentCore({ configPath, host: 'headless' });
  await core.start();
  try {
    const deadline = Date.now() + 10_000;
    while (core.snapshot().connection.state !== 'connected') {
      if (Date.now() > deadline) throw new Error('agent did not connect');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const started = process.hrtime.bigint();
    const arrived = sandbox.expect(LINES);
    appendFileSync(logFile, `${lines(round).join('\n')}\n`);
    await arrived;
    return LINES / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    await core.stop();
  }
}

interface IdleSample {
  rssBytes: number;
  cpuSeconds: number;
  wallSeconds: number;
  runner: string;
}

function procStat(pid: number): { cpuTicks: number; rssPages: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime are fields 14 and 15 (index 11, 12 after the state field); rss is field 24 (index 21).
    return { cpuTicks: Number(f[11]) + Number(f[12]), rssPages: Number(f[21]) };
  } catch {
    return null;
  }
}

/** Runs the real CLI (`run`) with 10 idle tailed files and samples its CPU and RSS from /proc. */
async function idleAgent(sandbox: SandboxChild, dir: string): Promise<IdleSample | null> {
  if (process.platform !== 'linux') return null;
  const files = Array.from({ length: 10 }, (_, i) => join(dir, `idle-${i}.log`));
  for (const f of files) writeFileSync(f, 'one line\n');
  const configPath = join(dir, 'idle.yml');
  writeFileSync(configPath, configYaml(sandbox.port, join(dir, 'idle'), files, 'heartbeat_interval: 60\n'));
  const built = join(process.cwd(), 'dist', 'cli', 'minion-agent.js');
  const useBuilt = existsSync(built);
  const args = useBuilt
    ? [built, '-c', configPath, 'run']
    : ['--import', 'tsx', join(process.cwd(), 'src-main', 'cli', 'minion-agent.ts'), '-c', configPath, 'run'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 20_000;
    while (!(await sandbox.connected(SERVER_ID))) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`idle agent did not connect: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // settle: startup work done
    const pid = child.pid as number;
    const before = procStat(pid);
    const startedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const after = procStat(pid);
    if (!before || !after) return null;
    return {
      rssBytes: after.rssPages * 4096,
      cpuSeconds: (after.cpuTicks - before.cpuTicks) / 100,
      wallSeconds: (Date.now() - startedAt) / 1000,
      runner: useBuilt ? 'dist/cli/minion-agent.js' : 'tsx (no build)',
    };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  const sandbox = await SandboxChild.start();
  try {
    const raw: number[] = [];
    const agent: number[] = [];
    for (let round = 0; round < 2; round++) {
      raw.push(await rawRound(sandbox, round));
      agent.push(await agentRound(sandbox, dir, round));
    }
    const bestRaw = Math.max(...raw);
    const bestAgent = Math.max(...agent);
    const results: BenchResult[] = [
      {
        name: 'e2e lines/s: tailed file → agent → sandbox server vs raw pre-encoded frame writer',
        ratio: bestAgent / bestRaw,
        target: 0.3,
        details: `agent ${Math.round(bestAgent).toLocaleString('en')} lines/s, raw ${Math.round(bestRaw).toLocaleString('en')} lines/s (${LINES.toLocaleString('en')} lines, best of 2, durable spool + barrier confirmation included)`,
      },
    ];
    const idle = await idleAgent(sandbox, dir);
    if (idle) {
      const cpuShare = idle.cpuSeconds / idle.wallSeconds;
      results.push({
        name: 'idle agent with 10 tailed files: CPU share of one core',
        ratio: cpuShare,
        target: 0.02,
        lowerIsBetter: true,
        details: `${(cpuShare * 100).toFixed(2)} % CPU over ${idle.wallSeconds.toFixed(1)} s, RSS ${(idle.rssBytes / 1024 / 1024).toFixed(1)} MiB (${idle.runner})`,
      });
    } else {
      results.push({ name: 'idle agent with 10 tailed files', details: 'skipped: needs Linux /proc' });
    }
    return results;
  } finally {
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
