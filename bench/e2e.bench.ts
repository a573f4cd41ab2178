// End to end, a 100k-line burst tailed into the sandbox StreamServer (in its own process), measured side by side in
// the same run against a raw reference pipeline (bench/burst-raw-child.ts: read the file, split lines, encode
// frames, write the socket). Both run as their own processes with bench/burst-probe.cjs preloaded, so each reports
// its own figures: lines/s, CPU µs per line, peak RSS and event-loop delay (p99 and max, monitorEventLoopDelay).
// The agent is the real CLI bundle (`dist/cli/minion-agent.js run`): tailer → spool → delivery pump → connection,
// durable spool and barrier confirmation included, started the way the shipped systemd unit starts it (the Node
// flags of its ExecStart and its Environment=, read from resources/systemd/minion-agent.service): the budgeted
// figures are the agent as deployed. Each round also runs the agent on Node's defaults (how `minion-agent run` starts
// from a shell), printed beside them but not budgeted. Plus the idle agent (default telemetry, one tailed file, as the
// unit runs it): RSS and CPU share over BENCH_IDLE_SECONDS (default 60).
// BENCH_PROFILE_DIR=dir adds --cpu-prof/--heap-prof to the agent's burst rounds (profiles land in dir).
// BENCH_NODE_ARGS="--max-semi-space-size=4 …" passes V8/Node flags to both the agent and the raw pipeline (e.g. to
// weigh young-generation sizing: peak RSS against CPU per line, both sides alike); BENCH_AGENT_NODE_ARGS to the agent
// alone (e.g. `--trace-gc-nvp` with BENCH_CHILD_STDOUT_DIR). The idle figures come with the floor they stand on: a
// bare `node` with the same probe, measured in the same run.
// BENCH_CHILD_STDOUT_DIR=dir keeps the stdout of the raw pipeline and agent processes there, one file each in the
// order they start (raw, agent per round), e.g. with BENCH_NODE_ARGS="--trace-gc --trace-gc-nvp".
// BENCH_PROBE_ALLOCATIONS=dir writes a sampling heap profile of everything allocated in each burst window (garbage
// included) to dir: where the allocation rate comes from (it inflates the memory figures of that run).
// BENCH_PROBE_MEMORY=1 samples both processes' memory every 5 ms in the burst window and prints what the peak RSS
// consisted of (heap spaces, external, array buffers, anonymous vs file-backed pages); with BENCH_PROBE_SMAPS=dir as
// well, /proc/self/smaps at the window's start and at its highest RSS go to dir (which mappings grew: V8 pages, the
// main malloc heap, the per-thread malloc arenas of V8's workers).
// BENCH_SETTLE_MS (default 1000): how long the agent runs connected before its burst starts. Its startup's own
// survivors are promoted by the first scavenge after startup; within 1 s that is the burst's first one (see
// docs/performance.md, round 5).
// BENCH_DEFAULTS_ROUNDS=0 skips the agent's unbudgeted rounds on Node's defaults.
// BENCH_PROBE_CALLBACKS=1 times every event-loop callback in both processes (async_hooks; slows them, so only to
// find what makes a long tick) and prints the longest per resource type.
import {
  type ChildProcess,
  type ChildProcessWithoutNullStreams,
  execFileSync,
  spawn,
} from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { BenchResult } from './types';

const LINES = Number(process.env.BENCH_BURST_LINES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_BURST_ROUNDS ?? 3);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const STDOUT_DIR = process.env.BENCH_CHILD_STDOUT_DIR;
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 1_000);
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter((arg) => arg !== '');
const AGENT_NODE_ARGS = (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(/\s+/).filter((arg) => arg !== '');
/** BENCH_DEFAULTS_ROUNDS=0 skips the agent's unbudgeted rounds on Node's defaults. */
const DEFAULTS_ROUNDS =
  process.env.BENCH_DEFAULTS_ROUNDS === '0' ? 0 : Number(process.env.BENCH_BURST_ROUNDS ?? 3);
const GROUP = 'bench-group';
const KEY = 'bench-key-0123456789';
const MB = 1024 * 1024;

/** Targets of issue 12 (absolute figures; the raw pipeline's are printed beside them). */
const TARGET = {
  lineRate: 0.6,
  cpuMicrosPerLine: 7,
  peakRssBytes: 64 * MB,
  delayP99Ms: 20,
  delayMaxMs: 100,
  idleRssBytes: 50 * MB,
  idleCpuShare: 0.002,
};

/** How a child node process is started: its Node flags and the environment added to the bench's. */
interface AgentRuntime {
  label: string;
  nodeArgs: string[];
  env: Record<string, string>;
}

const NODE_DEFAULTS: AgentRuntime = { label: "Node's defaults", nodeArgs: [], env: {} };

/**
 * How the shipped systemd unit starts the agent: the Node flags of its ExecStart and the environment it sets
 * (CONFIG aside). Read from the unit itself, so the bench measures what is deployed; a unit that no longer starts
 * `node <flags> "$$(command -v minion-agent)" run` stops the bench instead of being measured wrongly.
 */
function serviceRuntime(): AgentRuntime {
  const path = join(process.cwd(), 'resources', 'systemd', 'minion-agent.service');
  const unit = readFileSync(path, 'utf8');
  const execStart = /^ExecStart=.*\bexec node((?: --\S+)*) "\$\$\(command -v minion-agent\)" run\b/m.exec(
    unit,
  );
  if (!execStart)
    throw new Error(`${path}: ExecStart does not start node <flags> "$$(command -v minion-agent)" run`);
  const env: Record<string, string> = {};
  for (const [, name, value] of unit.matchAll(/^Environment=([A-Z_][A-Z0-9_]*)=(.*)$/gm))
    if (name !== 'CONFIG') env[name as string] = value as string;
  const nodeArgs = (execStart[1] ?? '').split(' ').filter((arg) => arg !== '');
  return { label: 'as the systemd unit runs it', nodeArgs, env };
}

const SERVICE = serviceRuntime();

function serverIdFor(n: number): string {
  return `5d1d4b42-51d1-4b8a-9a57-${String(n).padStart(12, '0')}`;
}

function burstText(round: number): string {
  const lines = Array.from(
    { length: LINES },
    (_, i) =>
      `2026-11-25T19:00:00.${String(i % 1000).padStart(3, '0')}Z app[${i % 97}]: round ${round} request ${i} served in ${i % 313} ms`,
  );
  return `${lines.join('\n')}\n`;
}

function benchDir(): string {
  return typeof __dirname === 'string' ? __dirname : join(process.cwd(), 'bench');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
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
      join(benchDir(), 'e2e-sandbox-child.ts'),
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
    await Promise.race([exited, delay(5_000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

interface ProbeReport {
  cpuMicros: number;
  wallMs: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  peakRssBytes: number;
  rssBytes: number;
  /** With BENCH_PROBE_CALLBACKS=1: per async resource type, callbacks run, how many took > 10 ms, the longest. */
  callbacks?: Record<string, { count: number; over10: number; maxMs: number }>;
  /** GC pauses in the window by kind (not in the quiet idle window). */
  gc?: Record<string, { count: number; totalMs: number; maxMs: number }>;
  /** With BENCH_PROBE_MEMORY=1: the memory sample taken at the window's highest RSS, and each figure's maximum. */
  memoryAtMark?: Record<string, number> | null;
  memoryAtPeak?: Record<string, number> | null;
  memoryMax?: Record<string, number> | null;
}

/** The GC pauses and (with BENCH_PROBE_CALLBACKS=1) callback timings the probe saw, longest first. */
function printCallbacks(who: string, report: ProbeReport): void {
  const gc = Object.entries(report.gc ?? {}).sort((a, b) => b[1].maxMs - a[1].maxMs);
  if (gc.length > 0) {
    const rows = gc.map(
      ([kind, g]) => `${kind} ${g.count}× ${g.totalMs.toFixed(0)} ms, max ${g.maxMs.toFixed(1)} ms`,
    );
    console.log(
      `  ${who} peak RSS ${(report.peakRssBytes / MB).toFixed(1)} MiB; GC pauses: ${rows.join('; ')}`,
    );
  }
  const inMib = (sample: Record<string, number>): string =>
    Object.entries(sample)
      .map(([key, bytes]) => `${key} ${(bytes / MB).toFixed(1)}`)
      .join(', ');
  if (report.memoryAtMark)
    console.log(`  ${who} memory at the window's start (MiB): ${inMib(report.memoryAtMark)}`);
  if (report.memoryAtPeak) console.log(`  ${who} memory at peak RSS (MiB): ${inMib(report.memoryAtPeak)}`);
  if (report.memoryMax) console.log(`  ${who} memory maxima (MiB): ${inMib(report.memoryMax)}`);
  if (!report.callbacks || Object.keys(report.callbacks).length === 0) return;
  const rows = Object.entries(report.callbacks)
    .sort((a, b) => b[1].maxMs - a[1].maxMs)
    .map(([type, c]) => `${type} ${c.count}× max ${c.maxMs.toFixed(1)} ms, ${c.over10} over 10 ms`);
  console.log(`  ${who} callbacks: ${rows.join('; ')}`);
}

let childOutputs = 0;
/** BENCH_CHILD_STDOUT_DIR: each child's stdout to a file there (e.g. `BENCH_NODE_ARGS=--trace-gc-nvp`), else none. */
function childStdout(): 'ignore' | number {
  if (!STDOUT_DIR) return 'ignore';
  mkdirSync(STDOUT_DIR, { recursive: true });
  return openSync(join(STDOUT_DIR, `child-${process.pid}-${++childOutputs}.out`), 'w');
}

/** A child process with bench/burst-probe.cjs preloaded, talked to over IPC. */
class ProbedChild {
  readonly child: ChildProcess;
  private stderr = '';
  private readonly exited: Promise<void>;

  constructor(nodeArgs: string[], args: string[], env: Record<string, string> = {}) {
    const stdout = childStdout();
    this.child = spawn(process.execPath, [...nodeArgs, '-r', join(benchDir(), 'burst-probe.cjs'), ...args], {
      stdio: ['ignore', stdout, 'pipe', 'ipc'],
      env: { ...process.env, ...env },
    });
    // The child has its own copy of the file descriptor.
    if (stdout !== 'ignore') closeSync(stdout);
    this.child.stderr?.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get recentStderr(): string {
    return this.stderr;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  message<T>(predicate: (m: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.off('message', onMessage);
        reject(new Error(`child did not answer in time: ${this.stderr}`));
      }, timeoutMs);
      const onMessage = (m: unknown): void => {
        if (typeof m === 'object' && m !== null && predicate(m as Record<string, unknown>)) {
          clearTimeout(timer);
          this.child.off('message', onMessage);
          resolve(m as T);
        }
      };
      this.child.on('message', onMessage);
    });
  }

  /** Starts a window; `quiet` leaves the event-loop delay monitor off (its own timer would skew idle CPU). */
  async mark(quiet = false): Promise<void> {
    const marked = this.message((m) => m.probe === 'marked');
    this.child.send(quiet ? 'mark-quiet' : 'mark');
    await marked;
  }

  async report(): Promise<ProbeReport> {
    const report = this.message<ProbeReport>((m) => m.probe === 'report');
    this.child.send('report');
    return report;
  }

  async stop(): Promise<void> {
    if (this.alive) this.child.kill('SIGTERM');
    await Promise.race([this.exited, delay(15_000)]);
    if (this.alive) this.child.kill('SIGKILL');
  }
}

interface BurstFigures {
  linesPerSecond: number;
  cpuMicrosPerLine: number;
  peakRssBytes: number;
  delayP99Ms: number;
  delayMaxMs: number;
}

function figures(report: ProbeReport, seconds: number): BurstFigures {
  return {
    linesPerSecond: LINES / seconds,
    cpuMicrosPerLine: report.cpuMicros / LINES,
    peakRssBytes: report.peakRssBytes,
    delayP99Ms: report.eventLoopDelayP99Ms,
    delayMaxMs: report.eventLoopDelayMaxMs,
  };
}

async function rawRound(
  sandbox: SandboxChild,
  dir: string,
  bundle: string,
  round: number,
): Promise<BurstFigures> {
  const file = join(dir, `raw-${round}.log`);
  writeFileSync(file, burstText(round));
  const child = new ProbedChild(NODE_ARGS, [bundle, String(sandbox.port), GROUP, serverIdFor(1000 + round)]);
  try {
    await child.message((m) => m.raw === 'connected');
    await delay(500);
    await child.mark();
    const started = process.hrtime.bigint();
    const arrived = sandbox.expect(LINES);
    child.child.send(`go ${file}`);
    await arrived;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const report = await child.report();
    printCallbacks(`raw round ${round}`, report);
    return figures(report, seconds);
  } finally {
    await child.stop();
  }
}

function configYaml(port: number, dir: string, serverId: string, files: string[], extra = ''): string {
  return `streamserver_host: 127.0.0.1
streamserver_port: ${port}
group_id: ${GROUP}
group_key: ${KEY}
server_id: ${serverId}
tail_logs:
${files.map((f) => `  - {service: bench, file: ${f}}`).join('\n')}
data_dir: ${join(dir, 'data')}
tail: {start_at: beginning}
${extra}`;
}

/** The shipped CLI bundle, or the sources through tsx when there is no build. */
function agentArgs(configPath: string): { nodeArgs: string[]; args: string[]; runner: string } {
  const built = join(process.cwd(), 'dist', 'cli', 'minion-agent.js');
  if (existsSync(built))
    return { nodeArgs: [], args: [built, '-c', configPath, 'run'], runner: 'dist/cli/minion-agent.js' };
  return {
    nodeArgs: ['--import', 'tsx'],
    args: [join(process.cwd(), 'src-main', 'cli', 'minion-agent.ts'), '-c', configPath, 'run'],
    runner: 'tsx (no build)',
  };
}

async function startAgent(
  sandbox: SandboxChild,
  configPath: string,
  serverId: string,
  profile: boolean,
  runtime: AgentRuntime,
): Promise<ProbedChild> {
  const { nodeArgs, args } = agentArgs(configPath);
  const profiling =
    profile && PROFILE_DIR
      ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, '--heap-prof', `--heap-prof-dir=${PROFILE_DIR}`]
      : [];
  const child = new ProbedChild(
    [...runtime.nodeArgs, ...NODE_ARGS, ...AGENT_NODE_ARGS, ...profiling, ...nodeArgs],
    args,
    runtime.env,
  );
  const deadline = Date.now() + 20_000;
  while (!(await sandbox.connected(serverId))) {
    if (Date.now() > deadline || !child.alive) {
      await child.stop();
      throw new Error(`agent did not connect: ${child.recentStderr}`);
    }
    await delay(50);
  }
  return child;
}

/** One burst through a fresh agent; `id` names its files and server id (one per agent process). */
async function agentRound(
  sandbox: SandboxChild,
  dir: string,
  round: number,
  id: number,
  runtime: AgentRuntime,
  who: string,
): Promise<BurstFigures> {
  const logFile = join(dir, `agent-${id}.log`);
  writeFileSync(logFile, '');
  const serverId = serverIdFor(id);
  const configPath = join(dir, `config-${id}.yml`);
  writeFileSync(
    configPath,
    configYaml(sandbox.port, join(dir, `r${id}`), serverId, [logFile], 'builtin_telemetries: []\n'),
  );
  const text = burstText(round);
  const child = await startAgent(sandbox, configPath, serverId, runtime === SERVICE, runtime);
  try {
    await delay(SETTLE_MS); // startup work done
    await child.mark();
    const started = process.hrtime.bigint();
    const arrived = sandbox.expect(LINES);
    appendFileSync(logFile, text);
    await arrived;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const report = await child.report();
    printCallbacks(`${who} round ${round}`, report);
    return figures(report, seconds);
  } finally {
    await child.stop();
  }
}

/** RSS of a process from /proc (Linux), or null elsewhere. */
function procRssBytes(pid: number): number | null {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib ? Number(kib) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system, all threads) of a process so far, from /proc/<pid>/stat; null without /proc. */
function procCpuMicros(pid: number): number | null {
  try {
    // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15 (in clock ticks).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks / clockTicksPerSecond()) * 1e6;
  } catch {
    return null;
  }
}

let ticksPerSecond: number | null = null;
function clockTicksPerSecond(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/**
 * The idle agent as it is deployed, without the probe: its CPU time and RSS read from /proc over the window (the
 * budgeted figures: the probe's module, GC observer and IPC channel are not the agent's). Beside it, over the same
 * window, a second idle agent measured by the probe, as before.
 */
async function idleAgent(
  sandbox: SandboxChild,
  dir: string,
): Promise<{
  report: ProbeReport;
  runner: string;
  unprobed: { rssBytes: number; cpuMicros: number; wallMs: number } | null;
}> {
  const file = join(dir, 'idle.log');
  writeFileSync(file, 'one line\n');
  const serverId = serverIdFor(9999);
  const configPath = join(dir, 'idle.yml');
  // Default telemetry (builtin_telemetries and telemetry_interval left to their defaults), one tailed file.
  writeFileSync(configPath, configYaml(sandbox.port, join(dir, 'idle'), serverId, [file]));
  const bareFile = join(dir, 'idle-bare.log');
  writeFileSync(bareFile, 'one line\n');
  const bareServerId = serverIdFor(9998);
  const bareConfigPath = join(dir, 'idle-bare.yml');
  writeFileSync(bareConfigPath, configYaml(sandbox.port, join(dir, 'idle-bare'), bareServerId, [bareFile]));
  const { nodeArgs, args } = agentArgs(bareConfigPath);
  const bare = spawn(process.execPath, [...SERVICE.nodeArgs, ...NODE_ARGS, ...nodeArgs, ...args], {
    stdio: 'ignore',
    env: { ...process.env, ...SERVICE.env },
  });
  const child = await startAgent(sandbox, configPath, serverId, false, SERVICE);
  try {
    const deadline = Date.now() + 20_000;
    while (!(await sandbox.connected(bareServerId)) && Date.now() < deadline) await delay(50);
    await delay(3_000); // startup work done
    await child.mark(true);
    const bareCpuStart = bare.pid !== undefined ? procCpuMicros(bare.pid) : null;
    const bareStartedAt = performance.now();
    await delay(IDLE_SECONDS * 1000);
    const bareCpuEnd = bare.pid !== undefined ? procCpuMicros(bare.pid) : null;
    const bareRss = bare.pid !== undefined ? procRssBytes(bare.pid) : null;
    const unprobed =
      bareCpuStart !== null && bareCpuEnd !== null && bareRss !== null
        ? {
            rssBytes: bareRss,
            cpuMicros: bareCpuEnd - bareCpuStart,
            wallMs: performance.now() - bareStartedAt,
          }
        : null;
    return {
      report: await child.report(),
      runner: `${agentArgs(configPath).runner} ${SERVICE.label}`,
      unprobed,
    };
  } finally {
    bare.kill('SIGTERM');
    await child.stop();
  }
}

/** A bare `node` with the probe and one idle timer: the RSS and CPU floor under any Node process here. */
async function idleNodeFloor(): Promise<ProbeReport> {
  const child = new ProbedChild(NODE_ARGS, ['-e', 'setInterval(() => {}, 60_000)']);
  try {
    await delay(3_000);
    await child.mark(true);
    await delay(Math.min(IDLE_SECONDS, 10) * 1000);
    return await child.report();
  } finally {
    await child.stop();
  }
}

async function bundleRawChild(dir: string): Promise<string> {
  const outfile = join(dir, 'burst-raw-child.js');
  await build({
    entryPoints: [join(benchDir(), 'burst-raw-child.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

function mib(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MiB`;
}

function summarize(runs: BurstFigures[]): BurstFigures {
  return {
    linesPerSecond: median(runs.map((r) => r.linesPerSecond)),
    cpuMicrosPerLine: median(runs.map((r) => r.cpuMicrosPerLine)),
    peakRssBytes: median(runs.map((r) => r.peakRssBytes)),
    delayP99Ms: median(runs.map((r) => r.delayP99Ms)),
    delayMaxMs: median(runs.map((r) => r.delayMaxMs)),
  };
}

function describeRuntime(runtime: AgentRuntime): string {
  const env = Object.entries(runtime.env).map(([name, value]) => `${name}=${value}`);
  return [...env, 'node', ...runtime.nodeArgs].join(' ');
}

/** The same burst through an agent on Node's defaults: what `minion-agent run` from a shell costs (not budgeted). */
function defaultsResult(agent: BurstFigures, raw: BurstFigures): BenchResult {
  return {
    name: `burst, agent on ${NODE_DEFAULTS.label} (not budgeted)`,
    details:
      `${(agent.linesPerSecond / raw.linesPerSecond).toFixed(2)}× raw lines/s, ` +
      `${agent.cpuMicrosPerLine.toFixed(2)} µs CPU per line, peak RSS ${mib(agent.peakRssBytes)}, ` +
      `event-loop delay p99 ${agent.delayP99Ms.toFixed(1)} / max ${agent.delayMaxMs.toFixed(1)} ms ` +
      `(median of ${DEFAULTS_ROUNDS})`,
  };
}

function burstResults(agent: BurstFigures, raw: BurstFigures): BenchResult[] {
  const n = `${LINES.toLocaleString('en')} lines, median of ${ROUNDS}, agent ${SERVICE.label}`;
  const beside = (ours: string, theirs: string): string => `agent ${ours}, raw pipeline ${theirs} (${n})`;
  return [
    {
      name: 'burst lines/s: tailed file → agent → sandbox server vs raw pipeline (read, split, encode, write)',
      ratio: agent.linesPerSecond / raw.linesPerSecond,
      target: TARGET.lineRate,
      details: beside(
        `${Math.round(agent.linesPerSecond).toLocaleString('en')} lines/s`,
        `${Math.round(raw.linesPerSecond).toLocaleString('en')} lines/s`,
      ),
    },
    {
      name: `burst CPU per line (÷ ${TARGET.cpuMicrosPerLine} µs budget)`,
      ratio: agent.cpuMicrosPerLine / TARGET.cpuMicrosPerLine,
      target: 1,
      lowerIsBetter: true,
      details: beside(`${agent.cpuMicrosPerLine.toFixed(2)} µs`, `${raw.cpuMicrosPerLine.toFixed(2)} µs`),
    },
    {
      name: `burst peak RSS (÷ ${mib(TARGET.peakRssBytes)} budget)`,
      ratio: agent.peakRssBytes / TARGET.peakRssBytes,
      target: 1,
      lowerIsBetter: true,
      details: beside(mib(agent.peakRssBytes), mib(raw.peakRssBytes)),
    },
    {
      name: `burst event-loop delay p99 (÷ ${TARGET.delayP99Ms} ms budget)`,
      ratio: agent.delayP99Ms / TARGET.delayP99Ms,
      target: 1,
      lowerIsBetter: true,
      details: beside(`${agent.delayP99Ms.toFixed(1)} ms`, `${raw.delayP99Ms.toFixed(1)} ms`),
    },
    {
      name: `burst event-loop delay max (÷ ${TARGET.delayMaxMs} ms budget)`,
      ratio: agent.delayMaxMs / TARGET.delayMaxMs,
      target: 1,
      lowerIsBetter: true,
      details: beside(`${agent.delayMaxMs.toFixed(1)} ms`, `${raw.delayMaxMs.toFixed(1)} ms`),
    },
  ];
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  const sandbox = await SandboxChild.start();
  try {
    const bundle = await bundleRawChild(dir);
    const rawRuns: BurstFigures[] = [];
    const agentRuns: BurstFigures[] = [];
    const defaultsRuns: BurstFigures[] = [];
    console.log(`  agent ${SERVICE.label}: ${describeRuntime(SERVICE)}`);
    for (let round = 0; round < ROUNDS; round++) {
      rawRuns.push(await rawRound(sandbox, dir, bundle, round));
      agentRuns.push(await agentRound(sandbox, dir, round, round, SERVICE, 'agent'));
      if (round < DEFAULTS_ROUNDS)
        defaultsRuns.push(
          await agentRound(sandbox, dir, round, 500 + round, NODE_DEFAULTS, 'agent on defaults'),
        );
    }
    const results: BenchResult[] = ROUNDS > 0 ? burstResults(summarize(agentRuns), summarize(rawRuns)) : [];
    if (defaultsRuns.length > 0) results.push(defaultsResult(summarize(defaultsRuns), summarize(rawRuns)));
    if (IDLE_SECONDS > 0) {
      const idle = await idleAgent(sandbox, dir);
      const floor = await idleNodeFloor();
      const share = idle.report.cpuMicros / 1e3 / idle.report.wallMs;
      const floorShare = floor.cpuMicros / 1e3 / floor.wallMs;
      // The window starts 3 s after the agent connected, so it includes V8's memory-reducer collections of the
      // startup heap (~8–10 s after start) and one telemetry minute (the `df` spawn): the steady state plus that.
      const what = `default telemetry, one tailed file, ${(idle.report.wallMs / 1000).toFixed(0)} s from 3 s after connect, RSS at its end, ${idle.runner}`;
      const probed = `${mib(idle.report.rssBytes)} RSS, ${(share * 100).toFixed(3)} % CPU (${what}); a bare node with the probe: ${mib(floor.rssBytes)}, ${(floorShare * 100).toFixed(3)} %`;
      if (idle.unprobed) {
        const bareShare = idle.unprobed.cpuMicros / 1e3 / idle.unprobed.wallMs;
        const bareWhat = `the agent without the probe, /proc over the same ${(idle.unprobed.wallMs / 1000).toFixed(0)} s window, RSS at its end, ${idle.runner}`;
        results.push(
          {
            name: `idle agent RSS (÷ ${mib(TARGET.idleRssBytes)} budget)`,
            ratio: idle.unprobed.rssBytes / TARGET.idleRssBytes,
            target: 1,
            lowerIsBetter: true,
            details: `${mib(idle.unprobed.rssBytes)} (${bareWhat})`,
          },
          {
            name: `idle agent CPU share of one core (÷ ${(TARGET.idleCpuShare * 100).toFixed(1)} % budget)`,
            ratio: bareShare / TARGET.idleCpuShare,
            target: 1,
            lowerIsBetter: true,
            details: `${(bareShare * 100).toFixed(3)} % (${bareWhat})`,
          },
          { name: 'idle agent with the probe preloaded, same window (not budgeted)', details: probed },
        );
      } else {
        // No /proc (not Linux): the probed agent is all there is; budget it, it only errs on the heavy side.
        results.push(
          {
            name: `idle agent RSS, with the probe (÷ ${mib(TARGET.idleRssBytes)} budget)`,
            ratio: idle.report.rssBytes / TARGET.idleRssBytes,
            target: 1,
            lowerIsBetter: true,
            details: probed,
          },
          {
            name: `idle agent CPU share of one core, with the probe (÷ ${(TARGET.idleCpuShare * 100).toFixed(1)} % budget)`,
            ratio: share / TARGET.idleCpuShare,
            target: 1,
            lowerIsBetter: true,
            details: probed,
          },
        );
      }
    }
    return results;
  } finally {
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
