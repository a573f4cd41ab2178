/**
 * What the server and the dashboard can make the agent do (docs/security.md), through the core's real entry points:
 * the server's commands arrive where the connection hands them over (`commands.handle`), the GUI's and the import's
 * changes through the AgentCoreApi methods the IPC and web bridges call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCore } from '../../src-main/agent/agent';
import { type CommandService } from '../../src-main/agent/commands/service';
import { ConfigPatchError } from '../../src-main/agent/core-api';
import { newMinionUuid } from '../../src-main/agent/protocol/uuid';
import { GROUP_KEY_MASK } from '../../src-shared/config';
import { type CommandRecordView, type LogLineView } from '../../src-shared/view-models';

const KEY = 'trust-key-5f3a9c1e77';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Env {
  dir: string;
  configPath: string;
  core: AgentCore;
  lines: LogLineView[];
}

/** A started core with a config file, not connected anywhere (no host): its parts, commands included, run. */
async function startCore(yaml = ''): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-trust-'));
  const configPath = join(dir, 'config.yml');
  writeFileSync(
    configPath,
    `group_id: trust
group_key: ${KEY}
data_dir: ${join(dir, 'data')}
telemetry_interval: 60
builtin_telemetries: []
auth_timeout: 1
connect_timeout: 1
spool:
  import_legacy: false
${yaml}`,
  );
  const lines: LogLineView[] = [];
  const core = new AgentCore({ configPath, host: 'headless', logSink: (line) => lines.push(line) });
  cleanups.push(async () => {
    await core.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await core.start();
  return { dir, configPath, core, lines };
}

/** Hands a `C` frame's data to the running command service, as the connection does; resolves with its record. */
function fromServer(core: AgentCore, data: string[]): Promise<CommandRecordView> {
  const uuid = newMinionUuid();
  return new Promise((resolve) => {
    const listener = (record: CommandRecordView): void => {
      if (record.uuid !== uuid || record.state !== 'done') return;
      core.off('command', listener);
      resolve(record);
    };
    core.on('command', listener);
    const commands = (core as unknown as { parts: { commands: CommandService } | null }).parts?.commands;
    if (!commands) throw new Error('the core is not running');
    void commands.handle(uuid, data);
  });
}

describe('server → agent: set-config never widens what runs or what is read', () => {
  it('refuses telemetries, tail_logs, builtin_telemetries, updates.* and connection keys; applies tuning keys', async () => {
    const env = await startCore(`commands:
  policy: allowlist
  allowlist: ['echo *']
  internal:
    set-config: true
`);
    const before = readFileSync(env.configPath, 'utf8');
    const marker = join(env.dir, 'pwned');
    const attempts = [
      `telemetries: [{name: pwn, command: "touch ${marker}", interval: 1}]`,
      'tail_logs: [{service: shadow, file: /etc/shadow}]',
      'builtin_telemetries: [{label: pick_files, arguments: {pending_path: /root}}]',
      'updates: {feed_url: "http://evil.example/feed", policy: auto}',
      'streamserver_host: evil.example',
      'group_key: stolen-by-server',
      'tls: {reject_unauthorized: false}',
      'commands: {policy: allow}',
    ];
    for (const yaml of attempts) {
      const record = await fromServer(env.core, ['internal', 'set-config', yaml]);
      expect(record.stderr, yaml).toMatch(/this key cannot be changed here/);
      expect(record.stdout, yaml).toBe('');
    }
    expect(readFileSync(env.configPath, 'utf8')).toBe(before);
    expect(env.core.effectiveConfig.telemetries).toEqual([]);
    expect(env.core.effectiveConfig.tail_logs).toEqual([]);
    expect(existsSync(marker)).toBe(false);

    const ok = await fromServer(env.core, [
      'internal',
      'set-config',
      'telemetry_interval: 30\nlog_level: debug',
    ]);
    expect(JSON.parse(ok.stdout)).toEqual({
      applied: ['telemetry_interval', 'log_level'],
      restartRequired: [],
    });
    expect(env.core.effectiveConfig.telemetry_interval).toBe(30);
  });
});

describe('every config change passes one queue', () => {
  it('21 saves sent at once all land, in memory, in the file and in the running command policy', async () => {
    const env = await startCore('commands:\n  policy: allow\n');
    const saves = [
      env.core.saveConfig({ 'commands.policy': 'deny' }),
      ...Array.from({ length: 20 }, (_, i) => env.core.saveConfig({ server_name: `name-${i}` })),
    ];
    const results = await Promise.all(saves);
    expect(results[0]).toEqual({ applied: ['commands.policy'], restartRequired: [] });
    expect(env.core.effectiveConfig.commands.policy).toBe('deny');
    expect(env.core.effectiveConfig.server_name).toBe('name-19');
    const file = readFileSync(env.configPath, 'utf8');
    expect(file).toMatch(/policy: deny/);
    expect(file).toMatch(/server_name: name-19/);
    const refused = await fromServer(env.core, ['external', 'echo', 'hi']);
    expect(refused.decision).toBe('denied');
  });

  it('a live rebuild queued by an earlier save never brings back a value a later save replaced', async () => {
    const env = await startCore('commands:\n  policy: allow\n');
    // heartbeat_interval rebuilds the parts; the policy change right after it is applied cheaply.
    const rebuild = env.core.saveConfig({ heartbeat_interval: 20 });
    const deny = env.core.saveConfig({ 'commands.policy': 'deny' });
    await Promise.all([rebuild, deny]);
    const refused = await fromServer(env.core, ['external', 'echo', 'hi']);
    expect(refused.decision).toBe('denied');
  });
});

describe('dashboard → agent: import sets only what the settings view may set', () => {
  it('refuses data_dir, commands.env, commands.cwd and ui.* by name and changes nothing', async () => {
    const env = await startCore('commands:\n  policy: allow\n');
    const before = readFileSync(env.configPath, 'utf8');
    const yaml = `group_id: trust
data_dir: /tmp/elsewhere
commands:
  policy: allow
  env: {LD_PRELOAD: /tmp/evil.so}
  cwd: /
ui: {enabled: true, host: 0.0.0.0}
`;
    const error = await env.core.importYaml(yaml).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigPatchError);
    expect((error as ConfigPatchError).issues.map((i) => i.path).sort()).toEqual([
      'commands.cwd',
      'commands.env.LD_PRELOAD',
      'data_dir',
      'ui.enabled',
      'ui.host',
    ]);
    expect(readFileSync(env.configPath, 'utf8')).toBe(before);
    expect(env.core.effectiveConfig.commands.env).toEqual({});
  });

  it('an exported config imports back; keys it leaves out that it may not set keep their value', async () => {
    const env = await startCore('commands:\n  policy: allow\n');
    const exported = env.core.exportYaml();
    expect(await env.core.importYaml(exported)).toEqual({ applied: [], restartRequired: [] });
    const saved = await env.core.importYaml('group_id: trust\nserver_name: imported\n');
    expect(saved.applied).toContain('server_name');
    expect(env.core.effectiveConfig.data_dir).toBe(join(env.dir, 'data'));
    expect(env.core.effectiveConfig.group_key).toBe(KEY);
    expect(readFileSync(env.configPath, 'utf8')).toContain(`data_dir: ${join(env.dir, 'data')}`);
  });
});

describe('dashboard → agent: test-connection never sends the saved key to another target', () => {
  async function listen(): Promise<{ server: Server; port: number; received: () => string }> {
    const chunks: Buffer[] = [];
    const server = createServer((socket) => {
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    return { server, port: address.port, received: () => Buffer.concat(chunks).toString('latin1') };
  }

  it('asks for the key again when host or port differ from the saved ones, and only then connects', async () => {
    const env = await startCore();
    const target = await listen();
    const refused = await env.core.testConnection({
      streamserver_host: '127.0.0.1',
      streamserver_port: target.port,
      group_key: GROUP_KEY_MASK,
    });
    expect(refused.ok).toBe(false);
    expect(refused.explanation).toMatch(/Enter the group key again/);
    expect(target.received()).toBe('');

    const retyped = await env.core.testConnection({
      streamserver_host: '127.0.0.1',
      streamserver_port: target.port,
      group_key: 'typed-again-key',
    });
    expect(retyped.ok).toBe(false);
    // It did connect this time, with the key typed in the form (the fake server never answers the auth).
    expect(target.received()).toContain('typed-again-key');
    expect(target.received()).not.toContain(KEY);
  });
});

describe('what argv and output leave in the records', () => {
  it('masks the group key by value in the audit log, the dashboard snapshot and the agent log', async () => {
    const env = await startCore('commands:\n  policy: allow\n');
    const validate = await fromServer(env.core, [
      'internal',
      'validate-config',
      `group_id: x\ngroup_key: ${KEY}\n`,
    ]);
    expect(validate.decision).toBe('allowed');
    const echo = await fromServer(env.core, ['external', 'echo', KEY]);
    expect(echo.exitCode).toBe(0);
    const refused = await fromServer(env.core, ['internal', 'set-config', `group_key: ${KEY}`]);
    expect(refused.decision).toBe('denied');

    const audit = readFileSync(join(env.dir, 'data', 'commands-audit.jsonl'), 'utf8');
    expect(audit.split('\n').filter(Boolean)).toHaveLength(3);
    expect(audit).not.toContain(KEY);
    expect(JSON.stringify(env.core.snapshot())).not.toContain(KEY);
    expect(env.core.snapshot().commands.find((c) => c.uuid === echo.uuid)?.stdout).toBe(
      `${GROUP_KEY_MASK}\n`,
    );
    expect(JSON.stringify(env.lines)).not.toContain(KEY);
    expect(JSON.stringify(env.core.recentLogs(500))).not.toContain(KEY);
  });

  it('writes newlines and other control characters from argv escaped: one command, one log line', async () => {
    const env = await startCore();
    const forged = 'x\n2026-12-07T00:00:00.000Z ERROR forged line\r\u001b[2J';
    const record = await fromServer(env.core, ['external', 'echo', forged]);
    expect(record.decision).toBe('denied');
    const line = env.lines.find((l) => l.message.includes(record.uuid));
    expect(line?.message).toContain('x\\n2026-12-07T00:00:00.000Z ERROR forged line\\r\\x1b[2J');
    for (const l of env.lines) for (const ch of ['\n', '\r', '\u001b']) expect(l.message).not.toContain(ch);
  });
});
