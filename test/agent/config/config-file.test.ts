import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  lstatSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, EDITABLE_KEYS, GROUP_KEY_MASK, parseAgentConfig } from '../../../src-shared/config';
import {
  applyPatch,
  configFromYaml,
  configToYaml,
  loadConfigFile,
  parsePatchPath,
  persistServerId,
  saveConfigFile,
  SERVER_ID_FILE,
  serverIdForInMemoryConfig,
} from '../../../src-main/agent/config';

const EXAMPLE = readFileSync(join(__dirname, 'fixtures', 'config.yml.example.linux'), 'utf8');
const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KEY = '798c733ba086c606fa8a925ab69bebf1cc44ee11a19ac81eaa4689774a6b6b04';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minion-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(text: string, name = 'config.yml'): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function loadErrors(path: string): { path: string; message: string }[] {
  try {
    loadConfigFile(path, { platform: { env: {}, home: dir } });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfigFile', () => {
  it("loads the original agent's example config unchanged", () => {
    const path = writeConfig(EXAMPLE);
    const loaded = loadConfigFile(path, { platform: { platform: 'linux', env: {}, home: dir } });
    const c = loaded.config;
    expect(loaded.warnings).toEqual([]);
    expect(c.streamserver_host).toBe('127.0.0.1');
    expect(c.streamserver_port).toBe(47990);
    expect(c.group_id).toBe('test-group-2');
    expect(c.group_key).toBe(KEY);
    expect(c.server_name).toBe('webserver-01');
    expect(c.upgrade).toBe('http://getminion.io/api/v1/minion');
    expect(c.telemetry_interval).toBe(60);
    expect(c.builtin_telemetries).toEqual([
      { label: 'memory', arguments: {} },
      { label: 'load_avg', arguments: {} },
      { label: 'disk_usage', arguments: {} },
      {
        label: 'pick_files',
        arguments: {
          pending_path: '/var/spool/minion/pending',
          processed_path: '/var/spool/minion/processed',
          match: '*.yml',
          parser: 'yaml',
        },
      },
    ]);
    expect(c.tail_logs).toEqual([
      { service: 'syslog', file: '/var/log/syslog' },
      { service: 'nginx', file: '/var/log/nginx/access.log' },
    ]);
    expect(c.telemetries).toEqual([
      {
        name: 'memtotal_kb',
        command: "cat /proc/meminfo | grep MemTotal | awk '{print $2}'",
        args: [],
        interval: 300,
      },
      { name: 'users', command: 'who', args: ['-q'], interval: 120 },
    ]);
    expect(loaded.dataDir).toBe(join(dir, '.local', 'state', 'minion-agent'));
  });

  it('generates a missing server_id once and persists it without touching comments or other keys', async () => {
    const path = writeConfig(EXAMPLE);
    const first = loadConfigFile(path, { platform: { env: {}, home: dir } });
    expect(first.serverIdSource).toBe('generated');
    expect(first.config.server_id).toMatch(LOWER_UUID);
    expect(first.serverIdToPersist?.serverId).toBe(first.config.server_id);
    expect(readFileSync(path, 'utf8')).toBe(EXAMPLE); // the load itself only reads
    expect(await persistServerId(first.serverIdToPersist)).toEqual([]);

    const text = readFileSync(path, 'utf8');
    expect(text).toContain(`server_id: ${first.config.server_id}`);
    expect(text).toContain('# Leave/delete for random generation');
    expect(text).toContain('# The group (organisation) this machine reports to, and its shared key.');
    expect(text).toContain("command: cat /proc/meminfo | grep MemTotal | awk '{print $2}'");
    // Only the server_id line differs.
    const before = EXAMPLE.split('\n');
    const after = text.split('\n');
    expect(after.filter((line) => !before.includes(line))).toEqual([`server_id: ${first.config.server_id}`]);

    const second = loadConfigFile(path, { platform: { env: {}, home: dir } });
    expect(second.serverIdSource).toBe('config');
    expect(second.config.server_id).toBe(first.config.server_id);
    expect(second.serverIdToPersist).toBeNull();
  });

  it('generates a server id for a config that lacks the key entirely, and for an empty string', async () => {
    const a = writeConfig('group_id: g\n', 'a.yml');
    const b = writeConfig('group_id: g\nserver_id: ""\n', 'b.yml');
    const loadedA = loadConfigFile(a, { platform: { env: {}, home: dir } });
    const loadedB = loadConfigFile(b, { platform: { env: {}, home: dir } });
    await persistServerId(loadedA.serverIdToPersist);
    await persistServerId(loadedB.serverIdToPersist);
    const idA = loadedA.config.server_id;
    const idB = loadedB.config.server_id;
    expect(idA).toMatch(LOWER_UUID);
    expect(idB).toMatch(LOWER_UUID);
    expect(idA).not.toBe(idB);
    expect(parseAgentConfig(configFromYaml(readFileSync(a, 'utf8')).config).config.server_id).toBe(idA);
    expect(parseAgentConfig(configFromYaml(readFileSync(b, 'utf8')).config).config.server_id).toBe(idB);
  });

  it('reuses a server id kept in the data dir when the config has none', async () => {
    const dataDir = join(dir, 'state');
    const path = writeConfig(`group_id: g\ndata_dir: ${dataDir}\n`);
    const kept = '0f8fad5b-d9cb-469f-a165-70867728950e';
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, SERVER_ID_FILE), `${kept.toUpperCase()}\n`);
    const loaded = loadConfigFile(path);
    expect(loaded.serverIdSource).toBe('data-dir');
    expect(loaded.config.server_id).toBe(kept);
    expect(await persistServerId(loaded.serverIdToPersist)).toEqual([]);
    expect(readFileSync(path, 'utf8')).toContain(`server_id: ${kept}`);
    expect(loaded.dataDir).toBe(dataDir);
  });

  it('creates the file on first start when asked to (the original run mode)', async () => {
    const path = join(dir, 'new', 'config.yml');
    const loaded = loadConfigFile(path, { createIfMissing: true, platform: { env: {}, home: dir } });
    expect(loaded.config.server_id).toMatch(LOWER_UUID);
    await persistServerId(loaded.serverIdToPersist);
    expect(readFileSync(path, 'utf8')).toBe(`server_id: ${loaded.config.server_id}\n`);
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
  });

  it('writes through a symlinked config instead of replacing the link', async () => {
    const real = writeConfig('group_id: g\n', 'real.yml');
    const link = join(dir, 'link.yml');
    symlinkSync(real, link);
    const loaded = loadConfigFile(link, { platform: { env: {}, home: dir } });
    await persistServerId(loaded.serverIdToPersist);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toContain(loaded.config.server_id);
  });

  /**
   * A config file that cannot be replaced. Running as root, permissions do not stop a write; a name so long that the
   * atomic write's temp file name (`.<name>.<pid>.<random>.tmp`) exceeds NAME_MAX does, for everyone (ENAMETOOLONG),
   * while the file itself stays readable: the same path through the code as a read-only mount.
   */
  function unwritableConfig(text: string): string {
    return writeConfig(text, `${'c'.repeat(240)}.yml`);
  }

  it('keeps the id in <data dir>/server-id, with a warning, when the config file cannot be written', async () => {
    const dataDir = join(dir, 'state');
    const path = unwritableConfig(`group_id: g\ndata_dir: ${dataDir}\n`);
    const first = loadConfigFile(path);
    expect(first.serverIdSource).toBe('generated');
    const warnings = await persistServerId(first.serverIdToPersist);
    const idFile = join(dataDir, SERVER_ID_FILE);
    expect(warnings).toEqual([
      `server_id: could not be written to ${path} (ENAMETOOLONG); kept in ${idFile}`,
    ]);
    expect(readFileSync(path, 'utf8')).toBe(`group_id: g\ndata_dir: ${dataDir}\n`);
    expect(readFileSync(idFile, 'utf8')).toBe(`${first.config.server_id}\n`);

    // The next start finds it there: the same id.
    const second = loadConfigFile(path);
    expect(second.serverIdSource).toBe('data-dir');
    expect(second.config.server_id).toBe(first.config.server_id);
  });

  it('says the id will change when neither the config file nor the data dir can be written', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const dataDir = join(blocker, 'state'); // mkdir fails with ENOTDIR, for root too
    const path = unwritableConfig(`group_id: g\ndata_dir: ${dataDir}\n`);
    const loaded = loadConfigFile(path);
    const warnings = await persistServerId(loaded.serverIdToPersist);
    expect(warnings).toEqual([
      `server_id: could not be persisted (ENAMETOOLONG, ENOTDIR); a new id will be generated on the next start. ` +
        `Set server_id in ${path} to keep it stable.`,
    ]);
    expect(loadConfigFile(path).config.server_id).not.toBe(loaded.config.server_id);
  });

  it('a read-only load generates and writes nothing', () => {
    const dataDir = join(dir, 'state');
    const text = `group_id: g\ndata_dir: ${dataDir}\n`;
    const path = writeConfig(text);
    const bare = loadConfigFile(path, { readOnly: true });
    expect(bare.serverIdSource).toBe('missing');
    expect(bare.config.server_id).toBe('');
    expect(bare.serverIdToPersist).toBeNull();
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(readdirSync(dir)).toEqual(['config.yml']);

    const kept = '0f8fad5b-d9cb-469f-a165-70867728950e';
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, SERVER_ID_FILE), `${kept}\n`);
    const fromDataDir = loadConfigFile(path, { readOnly: true });
    expect(fromDataDir.serverIdSource).toBe('data-dir');
    expect(fromDataDir.config.server_id).toBe(kept);
    expect(fromDataDir.serverIdToPersist).toBeNull();
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('an in-memory config keeps its id in <data dir>/server-id, generated once', async () => {
    const dataDir = join(dir, 'memory-state');
    const first = serverIdForInMemoryConfig(dataDir);
    expect(first.serverId).toMatch(LOWER_UUID);
    expect(await persistServerId(first.serverIdToPersist)).toEqual([]);
    expect(readFileSync(join(dataDir, SERVER_ID_FILE), 'utf8')).toBe(`${first.serverId}\n`);
    const second = serverIdForInMemoryConfig(dataDir);
    expect(second).toEqual({ serverId: first.serverId, serverIdToPersist: null });
  });

  it('warns about unknown keys with their path', () => {
    const path = writeConfig(
      'group_id: g\nserver_id: 0f8fad5b-d9cb-469f-a165-70867728950e\nlogfile: /x\ntls:\n  enable: true\n',
    );
    const loaded = loadConfigFile(path, { platform: { env: {}, home: dir } });
    expect(loaded.warnings).toEqual(['logfile: unknown key, ignored', 'tls.enable: unknown key, ignored']);
  });

  it('documented errors: missing file, YAML syntax (line/column, key not echoed), wrong types', () => {
    expect(loadErrors(join(dir, 'nope.yml'))).toEqual([{ path: '(file)', message: 'file not found' }]);

    const broken = writeConfig(`group_id: g\ngroup_key: "${KEY}\nserver_name: x\n`);
    const syntax = loadErrors(broken);
    expect(syntax[0]?.path).toMatch(/^\(yaml line \d+, column \d+\)$/);
    expect(JSON.stringify(syntax)).not.toContain(KEY);

    const dup = writeConfig('group_id: a\ngroup_id: b\n', 'dup.yml');
    expect(loadErrors(dup)).toEqual([
      { path: '(yaml line 2, column 1)', message: 'Map keys must be unique' },
    ]);

    const list = writeConfig('- a\n- b\n', 'list.yml');
    expect(loadErrors(list)[0]?.path).toBe('(root)');

    const bad = writeConfig('streamserver_port: "not a port"\ntail_logs:\n  - file: /var/log/x\n', 'bad.yml');
    try {
      loadConfigFile(bad);
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).message).toContain(bad);
      expect((error as ConfigError).issues.map((i) => i.path).sort()).toEqual([
        'streamserver_port',
        'tail_logs[0].service',
      ]);
    }
  });

  it('does not write the file when the config is invalid', () => {
    const text = 'streamserver_port: nope\n';
    const path = writeConfig(text);
    expect(() => loadConfigFile(path)).toThrow(ConfigError);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });
});

describe('patches and saving', () => {
  const base = parseAgentConfig({
    group_id: 'g',
    group_key: 'secret',
    server_id: '0f8fad5b-d9cb-469f-a165-70867728950e',
  }).config;

  it('parses dotted and indexed paths', () => {
    expect(parsePatchPath('tls.enabled')).toEqual(['tls', 'enabled']);
    expect(parsePatchPath('tail_logs[1].file')).toEqual(['tail_logs', 1, 'file']);
    expect(parsePatchPath('tail_logs.1.file')).toEqual(['tail_logs', 1, 'file']);
    expect(parsePatchPath('commands.internal.set-config')).toEqual(['commands', 'internal', 'set-config']);
    expect(() => parsePatchPath('a..b[')).toThrow(ConfigError);
    expect(() => parsePatchPath('')).toThrow(ConfigError);
  });

  it('applies a valid patch and reports what changed and what needs a restart', () => {
    const result = applyPatch(base, {
      streamserver_host: 'stream.example',
      'tls.enabled': true,
      'commands.policy': 'allowlist',
      'commands.allowlist': ['uptime'],
      data_dir: '/srv/minion',
      server_name: '',
    });
    expect(result.config.streamserver_host).toBe('stream.example');
    expect(result.config.tls.enabled).toBe(true);
    expect(result.config.commands.allowlist).toEqual(['uptime']);
    expect(result.changed.sort()).toEqual([
      'commands.allowlist',
      'commands.policy',
      'data_dir',
      'streamserver_host',
      'tls.enabled',
    ]);
    expect(result.restartRequired).toEqual(['data_dir']);
    expect(base.streamserver_host).toBe('');
  });

  it('rejects invalid values, unknown keys and non-editable keys with their paths', () => {
    const issues = (patch: Record<string, unknown>, allowedKeys?: readonly string[]) => {
      try {
        applyPatch(base, patch, { allowedKeys });
      } catch (error) {
        return (error as ConfigError).issues;
      }
      throw new Error('expected a ConfigError');
    };
    expect(issues({ streamserver_port: 0 })).toEqual([
      { path: 'streamserver_port', message: 'expected a port between 1 and 65535' },
    ]);
    expect(issues({ 'tls.enabeld': true })).toEqual([{ path: 'tls.enabeld', message: 'unknown key' }]);
    expect(issues({ data_dir: '/x' }, EDITABLE_KEYS)).toEqual([
      { path: 'data_dir', message: 'this key cannot be changed here' },
    ]);
    expect(issues({ server_id: '' })[0]?.path).toBe('server_id');
  });

  it('keeps the group key when the mask comes back, and null restores a default', () => {
    const result = applyPatch(base, { group_key: GROUP_KEY_MASK, streamserver_port: null });
    expect(result.config.group_key).toBe('secret');
    expect(result.config.streamserver_port).toBe(47990);
  });

  it('saves a patch atomically, keeping comments and unknown keys, and validates first', async () => {
    const path = writeConfig(
      `${EXAMPLE.replace('server_id:', 'server_id: 0f8fad5b-d9cb-469f-a165-70867728950e')}legacy_key: kept\n`,
    );
    const result = await saveConfigFile(path, {
      patch: {
        streamserver_host: 'stream.example',
        'tls.enabled': true,
        'tail_logs[1].file': '/var/log/nginx/*.log',
        group_key: GROUP_KEY_MASK,
      },
    });
    expect(result.changed.sort()).toEqual(['streamserver_host', 'tail_logs[1].file', 'tls.enabled']);
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('# Leave/delete for random generation');
    expect(text).toContain('legacy_key: kept');
    expect(text).toContain(`group_key: ${KEY}`);
    expect(text).not.toContain(GROUP_KEY_MASK);
    expect(text).toMatch(/tls:\n\s+enabled: true/);
    expect(loadConfigFile(path).config.tail_logs[1]?.file).toBe('/var/log/nginx/*.log');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    await expect(saveConfigFile(path, { patch: { 'commands.policy': 'sometimes' } })).rejects.toThrow(
      /commands\.policy/,
    );
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('can patch into a section written as a bare `key:` (null)', async () => {
    const path = writeConfig('server_id: 0f8fad5b-d9cb-469f-a165-70867728950e\ntls:\n# note\n');
    await saveConfigFile(path, { patch: { 'tls.enabled': true, 'tls.ca_file': '/ca.pem' } });
    const loaded = loadConfigFile(path);
    expect(loaded.config.tls).toMatchObject({ enabled: true, ca_file: '/ca.pem' });
  });

  it('replaces a whole config (import): unchanged keys untouched, mask ignored, server id kept', async () => {
    const path = writeConfig(
      `# mine\ngroup_id: g\ngroup_key: secret\nserver_id: 0f8fad5b-d9cb-469f-a165-70867728950e\nserver_name: old\n`,
    );
    const imported = configFromYaml(
      `group_id: g\ngroup_key: "${GROUP_KEY_MASK}"\nserver_name: new\nstreamserver_host: h\n`,
    ).config;
    const result = await saveConfigFile(path, { config: imported });
    expect(result.changed.sort()).toEqual(['server_name', 'streamserver_host']);
    const loaded = loadConfigFile(path);
    expect(loaded.config.group_key).toBe('secret');
    expect(loaded.config.server_id).toBe('0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(loaded.config.server_name).toBe('new');
    expect(readFileSync(path, 'utf8')).toContain('# mine');
  });
});

describe('YAML import/export', () => {
  it('round-trips a config; the key is masked unless asked for', () => {
    const { config } = parseAgentConfig({
      group_key: 'secret',
      builtin_telemetries: ['memory', { label: 'pick_files', arguments: { match: '*.json' } }],
      tail_logs: [{ service: 's', file: '/f' }],
    });
    const masked = configToYaml(config);
    expect(masked).not.toContain('secret');
    expect(masked).toContain('- memory');
    const clear = configToYaml(config, { includeSecrets: true });
    expect(configFromYaml(clear).config).toEqual(config);
  });

  it('reports YAML and schema errors from imported text', () => {
    expect(() => configFromYaml('a: [1')).toThrow(ConfigError);
    expect(() => configFromYaml('streamserver_port: x')).toThrow(
      /streamserver_port: expected a TCP port number/,
    );
    expect(configFromYaml('foo: 1').warnings).toEqual(['foo: unknown key, ignored']);
  });
});

describe('trust boundary: key names and sizes', () => {
  const base = () => parseAgentConfig({}).config;

  it('refuses __proto__, prototype and constructor anywhere in a path, a value or a document, and pollutes nothing', () => {
    const paths = [
      '__proto__.polluted',
      'constructor.prototype.polluted',
      'tls.__proto__.polluted',
      'commands.internal.constructor',
      'tail_logs[0].__proto__',
    ];
    for (const path of paths) {
      expect(() => parsePatchPath(path), path).toThrow(/not a valid key name/);
      expect(() => applyPatch(base(), { [path]: 'yes' }), path).toThrow(ConfigError);
    }
    const value = JSON.parse('{"__proto__": {"polluted": "yes"}}') as Record<string, unknown>;
    expect(() => applyPatch(base(), { tls: value })).toThrow(/tls.__proto__: not a valid key name/);
    expect(() => configFromYaml('__proto__:\n  polluted: yes\n')).toThrow(/__proto__: not a valid key name/);
    expect(() => configFromYaml('commands:\n  env:\n    constructor: x\n')).toThrow(
      /commands.env.constructor/,
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('checks a patch of 5,000 unknown keys against the schema in linear work, not pairwise', () => {
    const patch = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`unknown_key_${i}`, i]));
    // Counted, not timed: the pairwise check compared every unknown path with every edited one (~25 million
    // prefix tests here, ~8 s for 20k keys); the linear one looks each path's prefixes up in a set.
    const original = String.prototype.startsWith;
    let calls = 0;
    String.prototype.startsWith = function (this: string, ...args: Parameters<string['startsWith']>) {
      calls++;
      return original.apply(this, args);
    };
    let error: unknown;
    try {
      applyPatch(base(), patch);
    } catch (e) {
      error = e;
    } finally {
      String.prototype.startsWith = original;
    }
    expect(calls).toBeLessThan(100_000);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toHaveLength(5_000);
    expect((error as ConfigError).issues[0]).toEqual({ path: 'unknown_key_0', message: 'unknown key' });
  });

  it('an import limited to the settable keys refuses the others by name and leaves the file as it was', async () => {
    const path = join(dir, 'config.yml');
    const text = '# mine\ngroup_id: g\ndata_dir: /var/lib/minion\nconnect_timeout: 3\n';
    writeFileSync(path, text);
    const next = { group_id: 'g', data_dir: '/tmp/other', commands: { env: { LD_PRELOAD: '/tmp/x.so' } } };
    await expect(saveConfigFile(path, { config: next }, { allowedKeys: EDITABLE_KEYS })).rejects.toThrow(
      /data_dir: this key cannot be changed by an import.*commands.env.LD_PRELOAD/,
    );
    expect(readFileSync(path, 'utf8')).toBe(text);
    // Left out: kept (connect_timeout stays 3, data_dir stays), allowed ones applied.
    const saved = await saveConfigFile(path, { config: { group_id: 'h' } }, { allowedKeys: EDITABLE_KEYS });
    expect(saved.changed).toEqual(['group_id']);
    expect(readFileSync(path, 'utf8')).toBe(
      '# mine\ngroup_id: h\ndata_dir: /var/lib/minion\nconnect_timeout: 3\n',
    );
  });
});
