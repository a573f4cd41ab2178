import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliIo } from '../../src-main/cli/io';
import { buildProgram } from '../../src-main/cli/program';
import { cliExtensions } from '../../src-main/cli/wiring';
import { startUi } from '../../src-main/cli/dashboard';
import { runDemo } from '../../src-main/cli/demo';
import { formatWireEntry } from '../../src-main/cli/run';
import { SandboxServer } from '../../src-main/sandbox/sandbox-server';
import { AGENT_VERSION } from '../../src-main/agent/version';

interface FakeIo extends CliIo {
  outLines: string[];
  errLines: string[];
  signal(name: NodeJS.Signals): void;
  signalHandlers(): number;
}

function fakeIo(env: NodeJS.ProcessEnv = {}): FakeIo {
  const handlers = new Set<(s: NodeJS.Signals) => void>();
  const io: FakeIo = {
    outLines: [],
    errLines: [],
    out: (t) => void io.outLines.push(t),
    err: (t) => void io.errLines.push(t),
    env,
    onSignal: (_signals, handler) => {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    signal: (name) => {
      for (const h of [...handlers]) h(name);
    },
    signalHandlers: () => handlers.size,
  };
  return io;
}

async function runCli(args: string[], io: FakeIo, extensions = cliExtensions()): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c), io, extensions);
  program.exitOverride();
  for (const cmd of program.commands) cmd.exitOverride();
  await program.parseAsync(['node', 'minion-agent', ...args]);
  return code;
}

const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cli-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('minion-agent CLI', () => {
  it('-v prints the bare version like the original; version adds the runtime', async () => {
    const io = fakeIo();
    expect(await runCli(['-v'], io)).toBe(0);
    expect(io.outLines).toEqual([AGENT_VERSION]);
    const io2 = fakeIo();
    expect(await runCli(['version'], io2)).toBe(0);
    expect(io2.outLines[0]).toMatch(
      new RegExp(`^minion-agent ${AGENT_VERSION.replace(/\./g, '\\.')} \\(node `),
    );
  });

  it('config validate: accepts an original config.yml unchanged (via CONFIG) and does not modify it', async () => {
    const dir = tempDir();
    const path = join(dir, 'config.yml');
    const original = `streamserver_host: 127.0.0.1
streamserver_port: 47990
group_id: test-group-2
group_key: 798c733ba086c606fa8a925ab69bebf1cc44ee11a19ac81eaa4689774a6b6b04
server_name: web-1
upgrade: http://getminion.io/api/v1/minion
telemetry_interval: 60
builtin_telemetries: [memory, load_avg, disk_usage]
tail_logs:
  - service: syslog
    file: /var/log/syslog
telemetries:
  - name: mem_total
    command: cat /proc/meminfo | grep MemTotal | awk '{print $2}'
    args: []
    interval: 60
`;
    writeFileSync(path, original);
    const io = fakeIo({ CONFIG: path });
    expect(await runCli(['config', 'validate'], io)).toBe(0);
    expect(io.outLines[0]).toMatch(/valid/);
    expect(io.errLines.join('\n')).toMatch(/server_id not set/);
    expect(io.errLines.join('\n')).not.toContain('798c733b');
    expect(readFileSync(path, 'utf8')).toBe(original);
  });

  it('config validate: names the key and what was expected, exit 2', async () => {
    const dir = tempDir();
    const path = join(dir, 'bad.yml');
    writeFileSync(path, 'streamserver_port: lots\ncommands:\n  policy: sometimes\n');
    const io = fakeIo();
    expect(await runCli(['-c', path, 'config', 'validate'], io)).toBe(2);
    const text = io.errLines.join('\n');
    expect(text).toMatch(/streamserver_port: expected a TCP port number/);
    expect(text).toMatch(/commands\.policy: expected one of deny, allowlist, ask, allow/);
  });

  it('run without a config explains how to give one', async () => {
    const io = fakeIo();
    expect(await runCli(['run'], io)).toBe(2);
    expect(io.errLines[0]).toMatch(/-c FILE or set CONFIG/);
  });

  it('run --ui without a config: first run like the desktop, default config created, dashboard served', async () => {
    const dir = tempDir();
    const renderer = join(dir, 'renderer');
    mkdirSync(renderer);
    writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>Minion Agent</title>');
    const io = fakeIo({ HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg-config') });
    const exited = runCli(['run', '--ui', '--ui-port', '0', '--data-dir', join(dir, 'data')], io, {
      ...cliExtensions(),
      startUi: (core, port) => startUi(core, port, renderer),
    });
    let code: number | null = null;
    void exited.then((c) => (code = c));
    await waitFor(() => code !== null || io.errLines.some((l) => l.startsWith('dashboard: ')));
    expect(code).toBeNull();
    const url = io.errLines.find((l) => l.startsWith('dashboard: '))?.slice('dashboard: '.length) ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    // The token is traded for a session cookie (and a redirect to the token-free URL): the dashboard is live.
    const page = await fetch(url, { redirect: 'manual' });
    await page.text();
    expect(page.status).toBeGreaterThanOrEqual(300);
    expect(page.status).toBeLessThan(400);
    expect(page.headers.get('set-cookie')).toBeTruthy();
    const configPath = join(dir, 'xdg-config', 'minion-agent', 'config.yml');
    expect(existsSync(configPath)).toBe(true);
    const text = io.errLines.join('\n');
    expect(text).toMatch(/not configured yet \(streamserver_host, group_id, group_key not set/);
    expect(text).not.toMatch(/cannot run/);
    expect(text).toMatch(/the link works once; `minion-agent ui` prints a fresh one/);
    // `ui` (same user, same data dir) gets a fresh link from the running agent: another token on the same origin.
    const uiIo = fakeIo({ HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg-config') });
    expect(await runCli(['ui', '--data-dir', join(dir, 'data')], uiIo)).toBe(0);
    const fresh = new URL(uiIo.outLines[0] ?? '');
    expect(fresh.origin).toBe(new URL(url).origin);
    expect(fresh.searchParams.get('token')).not.toBe(new URL(url).searchParams.get('token'));
    io.signal('SIGINT');
    expect(await exited).toBe(0);
    const afterStop = fakeIo({ HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg-config') });
    expect(await runCli(['ui', '--data-dir', join(dir, 'data')], afterStop)).toBe(1);
    expect(afterStop.errLines.join('\n')).toMatch(/no running agent serves a dashboard/);
  });

  it('run --ui without a config and without a dashboard in the build keeps the clear error', async () => {
    const io = fakeIo({ HOME: tempDir() });
    expect(await runCli(['run', '--ui'], io, { ...cliExtensions(), startUi: undefined })).toBe(2);
    expect(io.errLines.join('\n')).toMatch(/-c FILE or set CONFIG/);
  });

  it('-t / test: exit 0 when the server accepts, 1 when it denies', async () => {
    const sandbox = await SandboxServer.start({ port: 0, groups: [{ id: 'g1', key: 'right-key' }] });
    cleanups.push(() => sandbox.close());
    const dir = tempDir();
    const path = join(dir, 'config.yml');
    const write = (key: string): void =>
      writeFileSync(
        path,
        `streamserver_host: 127.0.0.1\nstreamserver_port: ${sandbox.address.port}\ngroup_id: g1\ngroup_key: ${key}\ndata_dir: ${join(dir, 'data')}\n`,
      );
    write('right-key');
    // The config has no server_id: the test generates one, and it is in the file before the server sees it.
    const seen: Array<{ serverId: string; inFile: string | undefined }> = [];
    sandbox.on('auth', (e: { serverId: string }) =>
      seen.push({
        serverId: e.serverId,
        inFile: /^server_id: (\S+)$/m.exec(readFileSync(path, 'utf8'))?.[1],
      }),
    );
    const ok = fakeIo({ CONFIG: path });
    expect(await runCli(['-t'], ok)).toBe(0);
    expect(ok.outLines[0]).toMatch(/^OK/);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.inFile).toBe(seen[0]?.serverId);
    expect(ok.outLines[0]).toContain(`server ${seen[0]?.serverId}`);
    write('wrong-key');
    const denied = fakeIo();
    expect(await runCli(['-c', path, 'test'], denied)).toBe(1);
    expect(denied.outLines.join('\n')).toMatch(/denied/);
  });

  it('run: ships logs, and SIGTERM stops cleanly with exit 0 (json log format)', async () => {
    const sandbox = await SandboxServer.start({ port: 0, groups: [{ id: 'g1', key: 'k-123456' }] });
    cleanups.push(() => sandbox.close());
    const dir = tempDir();
    const logFile = join(dir, 'app.log');
    writeFileSync(logFile, 'hello from the file\n');
    const path = join(dir, 'config.yml');
    writeFileSync(
      path,
      `streamserver_host: 127.0.0.1
streamserver_port: ${sandbox.address.port}
group_id: g1
group_key: k-123456
builtin_telemetries: []
tail_logs: [{service: app, file: ${logFile}}]
tail: {start_at: beginning, poll_interval_ms: 20}
data_dir: ${join(dir, 'data')}
`,
    );
    const io = fakeIo();
    const done = runCli(['-c', path, '--log-format', 'json', 'run'], io);
    await waitFor(() => sandbox.logs.some((l) => l.message === 'hello from the file'));
    await waitFor(() => io.signalHandlers() > 0);
    io.signal('SIGTERM');
    expect(await done).toBe(0);
    const parsed = io.errLines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
    expect(parsed.some((l) => /agent stopped/.test(l.msg))).toBe(true);
    expect(io.errLines.join('\n')).not.toContain('k-123456');
    expect(readFileSync(path, 'utf8')).toMatch(/server_id: [0-9a-f-]{36}/);
  });

  it('formats wire trace entries', () => {
    const line = formatWireEntry(
      { id: 1, direction: 'out', at: 0, frame: ['L', 'u', ['g', 's', 'svc', 'm']], hex: '00', bytes: 30 },
      'text',
    );
    expect(line).toContain('>> 30B ["L","u",["g","s","svc","m"]]');
  });
});

describe('demo', () => {
  it('shows logs, telemetry and a command round trip within seconds', async () => {
    const io = fakeIo();
    expect(await runDemo({ durationSec: 5, linesPerSecond: 5 }, io)).toBe(0);
    const out = io.outLines.join('\n');
    expect(out).toMatch(/\[server\] log {7}demo-app: .*request 1 /);
    expect(out).toMatch(/\[server\] telemetry mem_used_kb \d+/);
    expect(out).toMatch(/stdout: \w+ \d/); // uname -sr
    expect(out).toMatch(/commands\.internal\.set-config: true/);
    expect(out).toMatch(/the server received [1-9]\d* log, [1-9]\d* telemetry and 3 result frame/);
  });
});
