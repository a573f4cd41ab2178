import { describe, expect, it } from 'vitest';
import {
  agentConfigSchema,
  ConfigError,
  defaultCommandPolicy,
  EDITABLE_KEYS,
  GROUP_KEY_MASK,
  isEditableKey,
  keyReach,
  parseAgentConfig,
  parseByteSize,
  redactConfig,
  restartRequired,
  serverMaySet,
  SETTABLE_KEYS,
  settableKeys,
  validateAgentConfig,
} from '../../src-shared/config';

function issuesOf(raw: unknown): { path: string; message: string }[] {
  try {
    parseAgentConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('agent config schema', () => {
  it('gives the documented defaults for an empty document', () => {
    const { config, warnings } = parseAgentConfig({});
    expect(warnings).toEqual([]);
    expect(config.streamserver_port).toBe(47990);
    expect(config.telemetry_interval).toBe(60);
    expect(config.builtin_telemetries.map((b) => b.label)).toEqual(['memory', 'load_avg', 'disk_usage']);
    expect(config.tail_logs).toEqual([]);
    expect(config.telemetries).toEqual([]);
    expect(config.upgrade).toBe('http://getminion.io/api/v1/minion');
    expect(config.max_frame_bytes).toBe(8192);
    expect(config.heartbeat_interval).toBe(60);
    expect(config.spool).toEqual({ max_bytes: 1024 ** 3, fsync: 100, import_legacy: true });
    expect(config.reconnect).toEqual({
      base_ms: 500,
      cap_ms: 60_000,
      refused_min_ms: 1_000,
      refused_max_ms: 3_000,
      rejoin_window_ms: 4_500,
    });
    expect(config.delivery).toEqual({ settle_ms: 2_000, confirm_interval: 5 });
    expect(config.tls.enabled).toBe(false);
    expect(config.tls.reject_unauthorized).toBe(true);
    expect(config.commands.policy).toBe('deny');
    expect(config.commands.internal['set-config']).toBe(false);
    expect(config.commands.internal.upgrade).toBe(false);
    expect(config.commands.internal.status).toBe(true);
    expect(config.updates.policy).toBe('manual');
    expect(config.auth_timeout).toBe(10);
    expect(config.connect_timeout).toBe(10);
  });

  it('treats a key present with null as its default, like the original', () => {
    const { config } = parseAgentConfig({
      streamserver_port: null,
      telemetry_interval: null,
      builtin_telemetries: null,
      tail_logs: null,
      server_id: null,
      tls: null,
      commands: { policy: null },
    });
    expect(config.streamserver_port).toBe(47990);
    expect(config.telemetry_interval).toBe(60);
    expect(config.builtin_telemetries).toHaveLength(3);
    expect(config.tail_logs).toEqual([]);
    expect(config.server_id).toBe('');
    expect(config.tls.enabled).toBe(false);
    expect(config.commands.policy).toBe('deny');
  });

  it('accepts a null or undefined document as empty', () => {
    expect(parseAgentConfig(null).config.streamserver_port).toBe(47990);
    expect(parseAgentConfig(undefined).config.streamserver_port).toBe(47990);
  });

  it('defaults the command policy by host: ask on the desktop, deny headless', () => {
    expect(defaultCommandPolicy('desktop')).toBe('ask');
    expect(defaultCommandPolicy('headless')).toBe('deny');
    expect(parseAgentConfig({}, { host: 'desktop' }).config.commands.policy).toBe('ask');
    expect(parseAgentConfig({}, { host: 'headless' }).config.commands.policy).toBe('deny');
    expect(
      parseAgentConfig({ commands: { policy: 'allow' } }, { host: 'desktop' }).config.commands.policy,
    ).toBe('allow');
  });

  it('normalises built-in telemetries to {label, arguments}, labels case-insensitive', () => {
    const { config } = parseAgentConfig({
      builtin_telemetries: ['Memory', { label: 'PICK_FILES', arguments: { match: '*.json' } }],
    });
    expect(config.builtin_telemetries).toEqual([
      { label: 'memory', arguments: {} },
      { label: 'pick_files', arguments: { match: '*.json' } },
    ]);
  });

  it('lowercases an upper-case server id', () => {
    const { config } = parseAgentConfig({ server_id: '5D1D4B42-51D1-4B8A-9A57-0E0E8C1C6A11' });
    expect(config.server_id).toBe('5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11');
  });

  it('stringifies numeric custom telemetry arguments and accepts sizes with units', () => {
    const { config } = parseAgentConfig({
      telemetries: [{ name: 'n', command: 'echo', args: [1, true], interval: 5 }],
      spool: { max_bytes: '512MiB', fsync: 'always' },
    });
    expect(config.telemetries[0]?.args).toEqual(['1', 'true']);
    expect(config.spool.max_bytes).toBe(512 * 1024 ** 2);
    expect(config.spool.fsync).toBe('always');
    expect(parseByteSize('1 GB')).toBe(1024 ** 3);
    expect(parseByteSize('64k')).toBe(65536);
    expect(parseByteSize('lots')).toBeUndefined();
  });

  it('warns about unknown keys by path and drops them, without failing', () => {
    const { config, warnings } = parseAgentConfig({
      group_id: 'g',
      colour: 'blue',
      tls: { enabled: true, cipher: 'x' },
      tail_logs: [{ service: 's', file: '/f', follow: true }],
      commands: { internal: { reboot: true } },
    });
    expect(config.group_id).toBe('g');
    expect(config.tls.enabled).toBe(true);
    expect(warnings).toEqual(
      expect.arrayContaining([
        'colour: unknown key, ignored',
        'tls.cipher: unknown key, ignored',
        'tail_logs[0].follow: unknown key, ignored',
        'commands.internal.reboot: unknown key, ignored',
      ]),
    );
    expect(warnings).toHaveLength(4);
  });

  it('warns about unknown built-in telemetry labels', () => {
    const { warnings } = parseAgentConfig({ builtin_telemetries: ['memory', 'gpu'] });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^builtin_telemetries\[1\]: unknown built-in telemetry 'gpu'/);
  });

  // Each documented error (docs/config.md "Errors"): the path and what was expected.
  const badConfigs: [string, unknown, string, RegExp][] = [
    ['document not a mapping', ['a', 'b'], '(root)', /expected a mapping/],
    ['port not a number', { streamserver_port: 'http' }, 'streamserver_port', /expected a TCP port number/],
    ['port out of range', { streamserver_port: 70000 }, 'streamserver_port', /between 1 and 65535/],
    ['host not a string', { streamserver_host: 12 }, 'streamserver_host', /expected a string/],
    ['server id not a UUID', { server_id: 'web-01' }, 'server_id', /canonical UUID/],
    ['telemetry interval zero', { telemetry_interval: 0 }, 'telemetry_interval', /at least 1 seconds/],
    [
      'builtin telemetries not a list',
      { builtin_telemetries: 'memory' },
      'builtin_telemetries',
      /expected a list/,
    ],
    [
      'tail_logs entry without file',
      { tail_logs: [{ service: 'syslog' }] },
      'tail_logs[0].file',
      /file path or glob/,
    ],
    [
      'tail_logs empty service',
      { tail_logs: [{ service: '', file: '/x' }] },
      'tail_logs[0].service',
      /must not be empty/,
    ],
    [
      'custom telemetry without command',
      { telemetries: [{ name: 'x', args: [] }] },
      'telemetries[0].command',
      /shell command/,
    ],
    [
      'custom telemetry empty name',
      { telemetries: [{ name: '', command: 'x' }] },
      'telemetries[0].name',
      /must not be empty/,
    ],
    ['max_frame_bytes above the wire limit', { max_frame_bytes: 70000 }, 'max_frame_bytes', /at most 65537/],
    ['max_frame_bytes too small', { max_frame_bytes: 100 }, 'max_frame_bytes', /at least 1024/],
    ['tls.enabled not boolean', { tls: { enabled: 'yes please' } }, 'tls.enabled', /true or false/],
    ['tls cert without key', { tls: { cert_file: '/c.pem' } }, 'tls.key_file', /both cert_file and key_file/],
    ['spool size unreadable', { spool: { max_bytes: 'huge' } }, 'spool.max_bytes', /size in bytes/],
    ['spool too small', { spool: { max_bytes: 1000 } }, 'spool.max_bytes', /at least 1048576 bytes/],
    [
      'spool fsync unknown',
      { spool: { fsync: 'sometimes' } },
      'spool.fsync',
      /'always', 'never' or a number/,
    ],
    [
      'reconnect cap below base',
      { reconnect: { base_ms: 5000, cap_ms: 1000 } },
      'reconnect.cap_ms',
      /at least base_ms/,
    ],
    [
      'reconnect refused window upside down',
      { reconnect: { refused_min_ms: 5000, refused_max_ms: 1000 } },
      'reconnect.refused_max_ms',
      /at least refused_min_ms/,
    ],
    [
      'reconnect rejoin spread negative',
      { reconnect: { rejoin_window_ms: -1 } },
      'reconnect.rejoin_window_ms',
      /at least 0 ms/,
    ],
    [
      'delivery settle_ms not a number',
      { delivery: { settle_ms: 'soon' } },
      'delivery.settle_ms',
      /milliseconds/,
    ],
    [
      'delivery settle_ms too long',
      { delivery: { settle_ms: 700_000 } },
      'delivery.settle_ms',
      /at most 600000 ms/,
    ],
    ['delivery settle_ms fractional', { delivery: { settle_ms: 1.5 } }, 'delivery.settle_ms', /whole number/],
    [
      'delivery confirm_interval too short',
      { delivery: { confirm_interval: 0 } },
      'delivery.confirm_interval',
      /at least 0.1 seconds/,
    ],
    [
      'command policy unknown',
      { commands: { policy: 'maybe' } },
      'commands.policy',
      /deny, allowlist, ask, allow/,
    ],
    ['allowlist not a list', { commands: { allowlist: 'ls' } }, 'commands.allowlist', /list of patterns/],
    ['command concurrency zero', { commands: { concurrency: 0 } }, 'commands.concurrency', /.+/],
    [
      'internal flag not boolean',
      { commands: { internal: { status: 'on' } } },
      'commands.internal.status',
      /boolean/,
    ],
    ['updates policy unknown', { updates: { policy: 'sometimes' } }, 'updates.policy', /manual, auto or off/],
    ['updates channel unknown', { updates: { channel: 'nightly' } }, 'updates.channel', /latest or beta/],
    ['ui port invalid', { ui: { port: -1 } }, 'ui.port', /between 1 and 65535/],
  ];
  it.each(badConfigs)('%s → error at its path', (_name, raw, path, message) => {
    const issues = issuesOf(raw);
    const issue = issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue?.message).toMatch(message);
  });

  it('reports several problems at once and names them in the error message', () => {
    try {
      parseAgentConfig({ streamserver_port: 'x', commands: { policy: 'maybe' } });
      expect.unreachable();
    } catch (error) {
      const e = error as ConfigError;
      expect(e.issues.map((i) => i.path).sort()).toEqual(['commands.policy', 'streamserver_port']);
      expect(e.message).toContain('streamserver_port: expected a TCP port number');
    }
  });

  it('never puts the group key into an error', () => {
    const secret = 'super-secret-key-value';
    const issues = issuesOf({ group_key: secret, streamserver_port: secret });
    expect(JSON.stringify(issues)).not.toContain(secret);
    expect(validateAgentConfig({ group_key: 42 })).toEqual([
      { path: 'group_key', message: 'expected a string' },
    ]);
  });

  it('the exported schema is the headless variant and parses its own output unchanged', () => {
    const once = agentConfigSchema.parse({ builtin_telemetries: ['memory'], spool: { max_bytes: '2GiB' } });
    expect(agentConfigSchema.parse(once)).toEqual(once);
  });
});

describe('config helpers', () => {
  it('masks the group key only when set', () => {
    const { config } = parseAgentConfig({ group_key: 'k' });
    expect(redactConfig(config).group_key).toBe(GROUP_KEY_MASK);
    expect(config.group_key).toBe('k');
    expect(redactConfig(parseAgentConfig({}).config).group_key).toBe('');
  });

  it('every editable key names a real config path', () => {
    const { config } = parseAgentConfig({});
    const known = new Set([
      'tls.ca_file',
      'tls.cert_file',
      'tls.key_file',
      'tls.server_name',
      'updates.feed_url',
    ]);
    for (const key of EDITABLE_KEYS) {
      const value = key
        .split('.')
        .reduce<unknown>((node, part) => (node as Record<string, unknown>)?.[part], config);
      expect(value !== undefined || known.has(key), key).toBe(true);
    }
    expect(isEditableKey('commands.internal.set-config')).toBe(true);
    expect(isEditableKey('tail_logs[0].file')).toBe(true);
    expect(isEditableKey('server_id')).toBe(false);
    expect(isEditableKey('data_dir')).toBe(false);
  });

  it('says which changes need a restart', () => {
    expect(restartRequired(['streamserver_host', 'data_dir', 'ui.port', 'commands.policy'])).toEqual([
      'data_dir',
      'ui.port',
    ]);
    expect(restartRequired(['tail_logs', 'group_key'])).toEqual([]);
  });
});

describe('who may set which key', () => {
  it('the server may set only keys that widen nothing: never what runs, what is read, where it connects, who commands', () => {
    expect([...settableKeys('server')].sort()).toEqual([
      'heartbeat_interval',
      'log_level',
      'server_name',
      'spool.fsync',
      'spool.max_bytes',
      'telemetry_interval',
    ]);
    for (const key of settableKeys('server')) expect(keyReach(key), key).toBe('none');
    for (const path of ['telemetries', 'telemetries[0].command', 'tail_logs[0].file', 'builtin_telemetries'])
      expect(serverMaySet(path), path).toBe(false);
    expect(keyReach('updates.feed_url')).toBe('runs');
    expect(keyReach('tls.key_file')).toBe('reads');
    expect(keyReach('streamserver_host')).toBe('connection');
    expect(keyReach('commands.internal.set-config')).toBe('access');
    // A key nobody classified (a new one, or one the GUI cannot edit) is never the server's.
    expect(serverMaySet('data_dir')).toBe(false);
    expect(serverMaySet('some_future_key')).toBe(false);
  });

  it('the settings view and an import set exactly the editable keys', () => {
    expect(SETTABLE_KEYS.gui).toEqual(EDITABLE_KEYS);
    expect(SETTABLE_KEYS.import).toEqual(EDITABLE_KEYS);
    for (const key of ['data_dir', 'commands.env', 'commands.cwd', 'ui.host'])
      expect(
        settableKeys('import').some((k) => key === k || key.startsWith(`${k}.`)),
        key,
      ).toBe(false);
  });
});
