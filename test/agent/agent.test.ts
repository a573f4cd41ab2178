import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCore, flattenToPatch, logMessageBudget } from '../../src-main/agent/agent';
import { ConfigPatchError } from '../../src-main/agent/core-api';
import { type SandboxLog, SandboxServer } from '../../src-main/sandbox/sandbox-server';
import { encodeFrame } from '../../src-main/agent/protocol/codec';
import { heartbeatFrame, logFrame, resultFrame } from '../../src-main/agent/protocol/frames';
import { LogFrameBytesEncoder } from '../../src-main/agent/protocol/log-frame-bytes';
import { newMinionUuid } from '../../src-main/agent/protocol/uuid';
import { parseAgentConfig } from '../../src-shared/config';
import { type ApprovalRequestView, type SpoolView, type WireTraceEntry } from '../../src-shared/view-models';
import { type ConnectionManager } from '../../src-main/agent/connection/connection';
import { type DeliveryPump } from '../../src-main/agent/spool/delivery';
import { Spool } from '../../src-main/agent/spool/spool';

const GROUP = 'test-group';
const KEY = 'test-key-0123456789';

interface Env {
  dir: string;
  sandbox: SandboxServer;
  configPath: string;
  logFile: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function setup(extraYaml = ''): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-core-'));
  const sandbox = await SandboxServer.start({ port: 0, groups: [{ id: GROUP, key: KEY }] });
  cleanups.push(async () => {
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const logFile = join(dir, 'app.log');
  const configPath = join(dir, 'config.yml');
  writeFileSync(
    configPath,
    `streamserver_host: 127.0.0.1
streamserver_port: ${sandbox.address.port}
group_id: ${GROUP}
group_key: ${KEY}
telemetry_interval: 1
builtin_telemetries: [load_avg]
tail_logs:
  - service: app
    file: ${logFile}
data_dir: ${join(dir, 'data')}
heartbeat_interval: 5
tail:
  poll_interval_ms: 20
  start_at: beginning
commands:
  policy: allow
${extraYaml}`,
  );
  return { dir, sandbox, configPath, logFile };
}

function startCore(env: Env, host: 'desktop' | 'headless' = 'headless'): AgentCore {
  const core = new AgentCore({ configPath: env.configPath, host });
  cleanups.push(() => core.stop());
  return core;
}

function appLogs(sandbox: SandboxServer): string[] {
  return sandbox.logs.filter((l) => l.service === 'app').map((l) => l.message);
}

describe('AgentCore against the sandbox server', () => {
  it('generates and persists a server id, and ships tailed lines in order', async () => {
    const env = await setup();
    appendFileSync(env.logFile, 'first line\r\nsecond line\n\nthird line\n');
    const core = startCore(env);
    await core.start();
    const serverId = core.effectiveConfig.server_id;
    expect(serverId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(readFileSync(env.configPath, 'utf8')).toContain(`server_id: ${serverId}`);
    await waitFor(() => appLogs(env.sandbox).length >= 3, 10_000, 'three lines');
    // Empty lines are not sent; \r\n is stripped.
    expect(appLogs(env.sandbox)).toEqual(['first line', 'second line', 'third line']);
    expect(env.sandbox.logs[0]?.serverId).toBe(serverId);
    expect(core.recentLogs(100).some((l) => l.source === 'shipped' && l.message === 'third line')).toBe(true);
    expect(env.sandbox.poisonFrames).toEqual([]);
  });

  it('ships common lines from their bytes and the rest as text: same messages, counters and shipped ring', async () => {
    const env = await setup();
    const long = 'q'.repeat(9000); // over the 8 KiB frame budget: sent in parts (the string path)
    appendFileSync(
      env.logFile,
      Buffer.concat([
        Buffer.from('ascii line\ngrüße 😀\r\n'),
        Buffer.from([0x62, 0x61, 0xff, 0x64, 0x0a]), // invalid UTF-8: U+FFFD as before
        Buffer.from(`${long}\nlast\n`),
      ]),
    );
    const byteFrames = vi.spyOn(LogFrameBytesEncoder.prototype, 'encode');
    cleanups.push(() => byteFrames.mockRestore());
    const core = startCore(env);
    await core.start();
    await waitFor(() => appLogs(env.sandbox).includes('last'), 10_000, 'the last line');
    // The three common lines took the byte path; the invalid and the long one the string path.
    expect(byteFrames.mock.calls.map(([, line, start, end]) => line.toString('utf8', start, end))).toEqual([
      'ascii line',
      'grüße 😀',
      'last',
    ]);
    const received = appLogs(env.sandbox);
    expect(received.slice(0, 3)).toEqual(['ascii line', 'grüße 😀', 'ba\uFFFDd']);
    const parts = received.slice(3, -1);
    expect(parts.length).toBe(2);
    expect(parts.map((p) => p.replace(/ \[\d+\/\d+\]$/, '')).join('')).toBe(long);
    expect(received.at(-1)).toBe('last');
    expect(core['state'].counters.logsShipped).toBe(received.length);
    const shipped = core
      .recentLogs(100)
      .filter((l) => l.source === 'shipped')
      .map((l) => `${l.service}: ${l.message}`);
    expect(shipped).toEqual(received.map((m) => `app: ${m}`));
    expect(env.sandbox.poisonFrames).toEqual([]);
  });

  it('answers a command from the server (allow policy) with the command uuid verbatim, and audits it', async () => {
    const env = await setup();
    const core = startCore(env);
    await core.start();
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    const result = await env.sandbox.dispatchCommand(core.effectiveConfig.server_id, 'external', [
      'echo',
      'round trip',
    ]);
    expect(result.stdout).toBe('round trip\n');
    expect(result.stderr).toBe('');
    const status = await env.sandbox.dispatchCommand(core.effectiveConfig.server_id, 'internal', ['status']);
    expect(JSON.parse(status.stdout)).toMatchObject({
      commands_received: 2,
      commands_external: 1,
      state: 'connected',
    });
    const unknown = await env.sandbox.dispatchCommand(core.effectiveConfig.server_id, 'internal', ['nope']);
    expect(unknown.stderr).toBe('unknown internal command: nope');
    const audit = readFileSync(join(env.dir, 'data', 'commands-audit.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(audit).toHaveLength(3);
    expect(JSON.parse(audit[0] ?? '{}')).toMatchObject({
      argv: ['echo', 'round trip'],
      decision: 'allowed',
      exitCode: 0,
    });
    expect(core.snapshot().commands.map((c) => c.uuid)).toContain(result.commandUuid);
  });

  it('Test connection under our own server id does not leave the server routing commands to the test socket', async () => {
    const env = await setup();
    const core = startCore(env);
    await core.start();
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    const authsBefore = env.sandbox.connections.length;
    const test = await core.testConnection({});
    expect(test.ok).toBe(true);
    // The live connection re-authenticates, so the server's registry points at it again.
    await waitFor(
      () =>
        env.sandbox.connections.length >= authsBefore + 2 && core.snapshot().connection.state === 'connected',
      10_000,
      'live connection re-authenticated',
    );
    const result = await env.sandbox.dispatchCommand(
      core.effectiveConfig.server_id,
      'external',
      ['echo', 'still here'],
      {
        timeoutMs: 5_000,
      },
    );
    expect(result.stdout).toBe('still here\n');
  });

  it('sends telemetry with the original shapes, including a shell pipeline custom telemetry', async () => {
    const env = await setup(`telemetries:
  - name: pipe_test
    command: echo hello | tr a-z A-Z
    args: []
    interval: 1
`);
    const core = startCore(env);
    const samples: string[] = [];
    core.on('telemetry', (s) => samples.push(s.name));
    await core.start();
    await waitFor(
      () =>
        env.sandbox.telemetry.some((t) => t.values[0] === 'load_avg') &&
        env.sandbox.telemetry.some((t) => t.values[0] === 'pipe_test'),
      10_000,
      'telemetry',
    );
    const load = env.sandbox.telemetry.find((t) => t.values[0] === 'load_avg');
    expect(load?.values).toHaveLength(2);
    expect(load?.values[1]).toMatch(/^\d+(\.\d+)?$/);
    expect(env.sandbox.telemetry.find((t) => t.values[0] === 'pipe_test')?.values).toEqual([
      'pipe_test',
      'HELLO',
    ]);
    expect(samples).toContain('load_avg');
    expect(core.snapshot().telemetry.length).toBeGreaterThan(0);
  });

  it('ask policy on the desktop: the approval event reaches the host and decideApproval runs the command', async () => {
    const env = await setup();
    writeFileSync(
      env.configPath,
      readFileSync(env.configPath, 'utf8').replace('policy: allow', 'policy: ask'),
    );
    const core = startCore(env, 'desktop');
    const approvals: ApprovalRequestView[][] = [];
    core.on('approvals', (list) => approvals.push(list));
    await core.start();
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    const pending = env.sandbox.dispatchCommand(core.effectiveConfig.server_id, 'external', [
      'echo',
      'asked',
    ]);
    await waitFor(() => core.snapshot().approvals.length === 1, 5_000, 'approval request');
    const request = core.snapshot().approvals[0] as ApprovalRequestView;
    expect(request.commandLine).toBe('echo asked');
    expect(core.decideApproval(request.id, true)).toBe(true);
    expect((await pending).stdout).toBe('asked\n');
    expect(approvals.at(-1)).toEqual([]);
  });

  it('100,000 lines written in bursts across a rename rotation and a copytruncate arrive exactly once, in order', async () => {
    const env = await setup();
    const received: string[] = [];
    const uuids = new Set<string>();
    env.sandbox.on('log', (log: SandboxLog) => {
      if (log.service !== 'app') return;
      received.push(log.message);
      uuids.add(log.uuid);
    });
    const core = startCore(env);
    await core.start();
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    let n = 0;
    const burst = async (count: number): Promise<void> => {
      const lines: string[] = [];
      for (let i = 0; i < count; i++) lines.push(`line ${++n}`);
      appendFileSync(env.logFile, `${lines.join('\n')}\n`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const caughtUp = (): Promise<void> => waitFor(() => received.length === n, 30_000, `line ${n}`);
    for (let b = 0; b < 30; b++) await burst(1000);
    await caughtUp();
    renameSync(env.logFile, `${env.logFile}.1`); // rename rotation: the next lines go to a new file
    for (let b = 0; b < 29; b++) await burst(1000);
    await caughtUp();
    appendFileSync(env.logFile, Array.from({ length: 1000 }, () => `line ${++n}`).join('\n') + '\n');
    // copytruncate right away, before the tailer has read the last burst: it must take those lines from the copy.
    copyFileSync(env.logFile, `${env.logFile}.2`);
    truncateSync(env.logFile, 0);
    for (let b = 0; b < 40; b++) await burst(1000);
    await waitFor(() => received.length >= 100_000, 60_000, 'all 100,000 lines');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toHaveLength(100_000);
    expect(received.every((line, i) => line === `line ${i + 1}`)).toBe(true);
    expect(uuids.size).toBe(100_000);
    expect(env.sandbox.poisonFrames).toEqual([]);
  }, 120_000);

  it('stop makes the spool durable with an awaited sync before it writes the final tail checkpoint', async () => {
    // A group commit that never comes on its own: only the stop's sync makes the lines durable.
    const env = await setup('spool:\n  fsync: 60000\ndelivery:\n  settle_ms: 0\n');
    const lines = 'alpha\nbeta\ngamma\n';
    appendFileSync(env.logFile, lines);
    const checkpointPath = join(env.dir, 'data', 'tail-checkpoint.json');
    const savedOffset = (): number => {
      if (!existsSync(checkpointPath)) return 0;
      const saved = JSON.parse(readFileSync(checkpointPath, 'utf8')) as {
        files: Array<{ path: string; offset: number }>;
      };
      return saved.files.find((f) => f.path === env.logFile)?.offset ?? 0;
    };
    let stopping = false;
    const syncsWhileStopping: Array<{ durable: boolean; checkpointOffset: number }> = [];
    const sync = Spool.prototype.sync;
    const spy = vi.spyOn(Spool.prototype, 'sync').mockImplementation(async function (this: Spool) {
      await sync.call(this);
      if (stopping)
        syncsWhileStopping.push({
          durable: this.durableSeq >= this.lastSeq,
          checkpointOffset: savedOffset(),
        });
    });
    cleanups.push(() => spy.mockRestore());
    const core = startCore(env);
    await core.start();
    await waitFor(() => appLogs(env.sandbox).length >= 3, 10_000, 'three lines');
    expect(savedOffset()).toBe(0);
    stopping = true;
    await core.stop();
    // The first sync of the stop finished with everything durable and the checkpoint not yet moved; then it moved.
    expect(syncsWhileStopping[0]).toEqual({ durable: true, checkpointOffset: 0 });
    expect(savedOffset()).toBe(Buffer.byteLength(lines));
  });

  it('a restart mid-stream loses and repeats nothing', async () => {
    const env = await setup();
    const expected: string[] = [];
    let n = 0;
    const writeBurst = (count: number): void => {
      const lines: string[] = [];
      for (let i = 0; i < count; i++) lines.push(`line ${++n} ${'x'.repeat(n % 50)}`);
      expected.push(...lines);
      appendFileSync(env.logFile, `${lines.join('\n')}\n`);
    };
    const first = new AgentCore({ configPath: env.configPath, host: 'headless' });
    await first.start();
    writeBurst(2000);
    await waitFor(() => appLogs(env.sandbox).length > 500, 15_000, 'first lines');
    writeBurst(2000);
    await first.stop();
    // Written while the agent is down: the original lost these.
    writeBurst(1000);
    const second = startCore(env);
    await second.start();
    writeBurst(1000);
    await waitFor(() => appLogs(env.sandbox).length >= expected.length, 20_000, 'all lines');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(appLogs(env.sandbox)).toEqual(expected);
  });

  it('the internal restart command answers, restarts the core in place, and no line is lost or repeated', async () => {
    const env = await setup();
    const core = startCore(env);
    await core.start();
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    const expected: string[] = [];
    for (let burst = 0; burst < 5; burst++) {
      const lines = Array.from({ length: 400 }, (_, i) => `burst ${burst} line ${i}`);
      expected.push(...lines);
      appendFileSync(env.logFile, `${lines.join('\n')}\n`);
      if (burst === 2) {
        const answer = await env.sandbox.dispatchCommand(core.effectiveConfig.server_id, 'internal', [
          'restart',
        ]);
        expect(answer.stdout).toMatch(/restarting/);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await waitFor(() => appLogs(env.sandbox).length >= expected.length, 20_000, 'all lines');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(appLogs(env.sandbox)).toEqual(expected);
    await waitFor(
      () => env.sandbox.connections.filter((c) => c.authenticated).length >= 2,
      10_000,
      'reconnect',
    );
  });

  it('saves config changes: live ones apply, restart-required ones are reported, bad ones throw field issues', async () => {
    const env = await setup();
    const core = startCore(env);
    await core.start();
    const saved = await core.saveConfig({ 'commands.policy': 'deny', log_level: 'debug' });
    expect(saved).toEqual({ applied: ['commands.policy', 'log_level'], restartRequired: [] });
    expect(readFileSync(env.configPath, 'utf8')).toMatch(/policy: deny/);
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    const refused = await env.sandbox.dispatchCommand(core.effectiveConfig.server_id, 'external', [
      'echo',
      'x',
    ]);
    expect(refused.stderr).toMatch(/commands\.policy/);

    await expect(core.saveConfig({ streamserver_port: 'nope' })).rejects.toBeInstanceOf(ConfigPatchError);
    expect(core.validateConfig({ streamserver_port: 70000 })[0]?.path).toBe('streamserver_port');
    expect(core.configView().config.group_key).not.toBe(KEY);
    expect(core.exportYaml()).not.toContain(KEY);
  });

  it('set-config from the server (when enabled) merges keys and writes the file, but never touches commands.*', async () => {
    const env = await setup(`  internal:
    set-config: true
`);
    const core = startCore(env);
    await core.start();
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    const serverId = core.effectiveConfig.server_id;
    const escalate = await env.sandbox.dispatchCommand(serverId, 'internal', [
      'set-config',
      'commands:\n  policy: allow\n',
    ]);
    expect(escalate.stderr).toMatch(/commands\.policy: this key cannot be changed here/);
    const ok = await env.sandbox.dispatchCommand(serverId, 'internal', [
      'set-config',
      '{"telemetry_interval": 7}',
    ]);
    expect(JSON.parse(ok.stdout)).toEqual({ applied: ['telemetry_interval'], restartRequired: [] });
    expect(readFileSync(env.configPath, 'utf8')).toMatch(/telemetry_interval: 7/);
    expect(readFileSync(env.configPath, 'utf8')).toContain(`group_key: ${KEY}`);
    // The core rebuilt its parts with the new value and reconnected.
    await waitFor(
      () => env.sandbox.connections.filter((c) => c.authenticated).length >= 2,
      10_000,
      'reconnect',
    );
    expect(core.effectiveConfig.telemetry_interval).toBe(7);
  });

  it('desktop first run: no config file yet, idle until the settings are saved, then connects', async () => {
    const env = await setup();
    const configPath = join(env.dir, 'fresh', 'config.yml');
    const core = new AgentCore({ configPath, host: 'desktop', dataDir: join(env.dir, 'fresh-data') });
    cleanups.push(() => core.stop());
    await core.start();
    expect(core.snapshot().connection.state).toBe('idle');
    expect(core.configView().config).toMatchObject({ commands: { policy: 'ask' } });
    const saved = await core.saveConfig({
      streamserver_host: '127.0.0.1',
      streamserver_port: env.sandbox.address.port,
      group_id: GROUP,
      group_key: KEY,
    });
    expect(saved.restartRequired).toEqual([]);
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    expect(readFileSync(configPath, 'utf8')).toContain(`group_id: ${GROUP}`);
  });

  it('first run stays quiet (no warning lines) until the settings are saved, then samples telemetry', async () => {
    const env = await setup();
    const configPath = join(env.dir, 'quiet', 'config.yml');
    const lines: { level: string; message: string }[] = [];
    const core = new AgentCore({
      configPath,
      host: 'headless',
      createConfigIfMissing: true,
      dataDir: join(env.dir, 'quiet-data'),
      logSink: (line) => lines.push({ level: line.level, message: line.message }),
    });
    cleanups.push(() => core.stop());
    // Start and stop: stop waits for the telemetry run that fires at start, so its refusals would be logged by now.
    await core.start();
    await core.stop();
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    expect(lines.map((l) => l.message).join('\n')).toMatch(
      /waiting for the settings: streamserver_host and group_id/,
    );
    expect(core.snapshot().telemetry).toEqual([]);

    await core.start();
    await core.saveConfig({
      streamserver_host: '127.0.0.1',
      streamserver_port: env.sandbox.address.port,
      group_id: GROUP,
      group_key: KEY,
    });
    await waitFor(() => core.snapshot().telemetry.length > 0, 10_000, 'a telemetry sample');
    await waitFor(() => env.sandbox.telemetry.length > 0, 10_000, 'telemetry at the server');
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it("imports the original agent's spool file first, with fresh identifiers, and removes it", async () => {
    const env = await setup();
    const legacyDir = join(env.dir, 'legacy-tmp');
    mkdirSync(legacyDir);
    const oldServer = '00000000-0000-4000-8000-000000000001';
    const logs = [1, 2, 3].map((n) => logFrame(GROUP, oldServer, 'old-app', `legacy line ${n}`));
    const result = resultFrame(GROUP, oldServer, newMinionUuid(), 'legacy out', '');
    const file = join(legacyDir, `minion-${GROUP}-999999999.log`);
    writeFileSync(
      file,
      Buffer.concat([...logs, heartbeatFrame(GROUP, oldServer), result].map((f) => encodeFrame(f))),
    );
    appendFileSync(env.logFile, 'new line\n');
    const lines: string[] = [];
    const core = new AgentCore({
      configPath: env.configPath,
      host: 'headless',
      legacySpoolDir: legacyDir,
      logSink: (line) => lines.push(`${line.level} ${line.message}`),
    });
    cleanups.push(() => core.stop());
    await core.start();
    await waitFor(() => appLogs(env.sandbox).includes('new line'), 10_000, 'the new line');
    await waitFor(() => env.sandbox.results.length >= 1, 10_000, 'the legacy result');
    const old = env.sandbox.logs.filter((l) => l.service === 'old-app');
    expect(old.map((l) => l.message)).toEqual(['legacy line 1', 'legacy line 2', 'legacy line 3']);
    // Old frames go out before the new agent's own.
    const order = env.sandbox.logs.map((l) => l.message);
    expect(order.indexOf('legacy line 3')).toBeLessThan(order.indexOf('new line'));
    // Fresh identifiers: none of the original UUIDs is reused.
    const originalUuids = new Set([...logs, result].map((f) => f[1]));
    for (const l of old) expect(originalUuids.has(l.uuid)).toBe(false);
    expect(env.sandbox.results[0]?.stdout).toBe('legacy out');
    expect(existsSync(file)).toBe(false);
    expect(lines.some((l) => /^info spool: imported 4 frame\(s\).*1 heartbeat/.test(l))).toBe(true);
  });

  it('a group key store: the key is read from it, saved to it (not the YAML), and reported as keyStorage', async () => {
    const env = await setup();
    // The desktop YAML has no key: it lives in the store.
    writeFileSync(env.configPath, readFileSync(env.configPath, 'utf8').replace(`group_key: ${KEY}\n`, ''));
    let stored: string | null = KEY;
    const store = {
      kind: 'safe-storage' as const,
      load: () => stored,
      save: (key: string) => ((stored = key), true),
      clear: () => (stored = null),
    };
    const core = new AgentCore({ configPath: env.configPath, host: 'desktop', groupKeyStore: store });
    cleanups.push(() => core.stop());
    expect(core.configView()).toMatchObject({ keyStorage: 'safe-storage', groupKeySet: true });
    await core.start();
    // Auth with the stored key succeeds.
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');

    // A new key (the sandbox accepts a second group with it) goes to the store and is used at once.
    await env.sandbox.close();
    const sandbox2 = await SandboxServer.start({
      port: 0,
      groups: [{ id: GROUP, key: 'second-key-987654' }],
    });
    cleanups.push(() => sandbox2.close());
    const saved = await core.saveConfig({
      group_key: 'second-key-987654',
      streamserver_port: sandbox2.address.port,
    });
    expect(saved.applied).toContain('group_key');
    expect(stored).toBe('second-key-987654');
    const yaml = readFileSync(env.configPath, 'utf8');
    expect(yaml).not.toContain('second-key-987654');
    expect(yaml).not.toMatch(/group_key/);
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected again');
    expect(sandbox2.openConnections().length).toBe(1);

    // Other saves keep the stored key; the mask means "unchanged".
    await core.saveConfig({ group_key: '••••••', heartbeat_interval: 6 });
    expect(core.effectiveConfig.group_key).toBe('second-key-987654');
    expect(stored).toBe('second-key-987654');
  });

  it('a key store without OS encryption leaves the key in the YAML and says so', async () => {
    const env = await setup();
    const store = {
      kind: 'config-file' as const,
      load: () => null,
      save: () => false,
      clear: () => undefined,
    };
    const core = new AgentCore({ configPath: env.configPath, host: 'desktop', groupKeyStore: store });
    cleanups.push(() => core.stop());
    await core.saveConfig({ group_key: 'yaml-key-12345' });
    expect(readFileSync(env.configPath, 'utf8')).toContain('group_key: yaml-key-12345');
    expect(core.configView().keyStorage).toBe('config-file');
  });

  it('config warnings at load go to the own log as warn (UI ring) and to the server once connected', async () => {
    const env = await setup('frobnicate: 3\n');
    const printed: string[] = [];
    const core = new AgentCore({
      configPath: env.configPath,
      host: 'headless',
      logSink: (line) => printed.push(line.message),
    });
    cleanups.push(() => core.stop());
    const warn = core.recentLogs(100).find((l) => l.message.includes('frobnicate'));
    expect(warn).toMatchObject({ level: 'warn', source: 'agent', service: 'minion-agent' });
    expect(warn?.message).toMatch(/^config: frobnicate: unknown key/);
    expect(printed.some((m) => m.includes('frobnicate'))).toBe(true);
    await core.start();
    const shipped = (): string[] =>
      env.sandbox.logs.filter((l) => l.service === 'minion-agent').map((l) => l.message);
    await waitFor(() => shipped().some((m) => m.includes('frobnicate')), 10_000, 'the shipped warning');
    // A later save re-reads the file: the same warning is not repeated.
    await core.saveConfig({ heartbeat_interval: 7 });
    expect(core.recentLogs(1000).filter((l) => l.message.includes('frobnicate'))).toHaveLength(1);
  });

  it("relays the wire trace only while someone listens to the core's 'wire' event", async () => {
    const env = await setup();
    const core = startCore(env);
    await core.start();
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    const connection = (core as unknown as { parts: { connection: ConnectionManager } }).parts.connection;
    // No console, no --debug, no dashboard: the connection has no listener and builds no entries.
    expect(connection.listenerCount('wire')).toBe(0);
    const seen: WireTraceEntry[] = [];
    const onWire = (entry: WireTraceEntry): void => {
      seen.push(entry);
    };
    core.on('wire', onWire);
    expect(connection.listenerCount('wire')).toBe(1);
    await core.consoleSend('log::console::traced');
    await waitFor(() => seen.some((e) => e.frame?.[2][3] === 'traced'), 10_000, 'the traced frame');
    core.off('wire', onWire);
    expect(connection.listenerCount('wire')).toBe(0);
    // A listener that is already there when the parts are rebuilt is attached to the new connection.
    core.on('wire', onWire);
    await core.restart();
    const rebuilt = (core as unknown as { parts: { connection: ConnectionManager } }).parts.connection;
    expect(rebuilt).not.toBe(connection);
    expect(rebuilt.listenerCount('wire')).toBe(1);
    expect(connection.listenerCount('wire')).toBe(0);
  });

  it("builds the pump's status only while someone listens to the core's 'spool' event", async () => {
    const env = await setup();
    const core = startCore(env);
    await core.start();
    await waitFor(() => core.snapshot().connection.state === 'connected', 10_000, 'connected');
    const pumpOf = (): DeliveryPump => (core as unknown as { parts: { pump: DeliveryPump } }).parts.pump;
    const pump = pumpOf();
    // Nobody watching (a headless `run`): the pump has no listener, so it never builds a view while frames flow.
    expect(pump.listenerCount('status')).toBe(0);
    const seen: SpoolView[] = [];
    const onSpool = (view: SpoolView): void => {
      seen.push(view);
    };
    core.on('spool', onSpool);
    expect(pump.listenerCount('status')).toBe(1);
    await core.consoleSend('log::console::watched');
    await waitFor(
      () => seen.some((v) => v.recentSent.some((f) => f.data[3] === 'watched')),
      10_000,
      'a status with the sent frame',
    );
    core.off('spool', onSpool);
    expect(pump.listenerCount('status')).toBe(0);
    // A listener that is already there when the parts are rebuilt is attached to the new pump only.
    core.on('spool', onSpool);
    await core.restart();
    expect(pumpOf()).not.toBe(pump);
    expect(pumpOf().listenerCount('status')).toBe(1);
    expect(pump.listenerCount('status')).toBe(0);
    core.off('spool', onSpool);
  });

  it("runs the once-a-second spool status only while someone listens to the core's 'spool' event", async () => {
    const env = await setup();
    const core = startCore(env);
    await core.start();
    const state = (core as unknown as { state: { spoolStatusTimer: NodeJS.Timeout | null } }).state;
    // An idle headless agent nobody looks at: no timer wakes it for a view nobody reads.
    expect(state.spoolStatusTimer).toBeNull();
    const views: unknown[] = [];
    const onSpool = (view: unknown): void => {
      views.push(view);
    };
    core.on('spool', onSpool);
    expect(state.spoolStatusTimer).not.toBeNull();
    await waitFor(() => views.length > 0, 10_000, 'a spool status');
    core.off('spool', onSpool);
    expect(state.spoolStatusTimer).toBeNull();
    // A listener that is there when the parts are rebuilt gets the status of the new parts.
    core.on('spool', onSpool);
    await core.restart();
    expect(state.spoolStatusTimer).not.toBeNull();
    views.length = 0;
    await waitFor(() => views.length > 0, 10_000, 'a spool status after the restart');
    await core.stop();
    expect(state.spoolStatusTimer).toBeNull();
  });

  it('consoleSend queues REPL-syntax frames through the spool', async () => {
    const env = await setup();
    const core = startCore(env);
    await core.start();
    const sent = await core.consoleSend('log::console::hello from the console');
    expect(sent.sent).toBe(1);
    await waitFor(() => env.sandbox.logs.some((l) => l.service === 'console'), 10_000, 'console log');
    expect((await core.consoleSend('bogus::x')).sent).toBe(0);
  });
});

describe('helpers', () => {
  it('flattenToPatch turns nested mappings into dotted paths, lists stay whole', () => {
    expect(
      flattenToPatch({ tls: { enabled: true }, tail_logs: [{ service: 'a', file: 'b' }], log_level: 'info' }),
    ).toEqual({
      'tls.enabled': true,
      tail_logs: [{ service: 'a', file: 'b' }],
      log_level: 'info',
    });
  });

  it('logMessageBudget leaves room for the frame overhead', () => {
    const { config } = parseAgentConfig({
      group_id: 'g',
      server_id: '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11',
      max_frame_bytes: 8192,
    });
    const budget = logMessageBudget(config);
    expect(budget).toBeLessThan(8192 - 40);
    expect(budget).toBeGreaterThan(8000);
  });
});
