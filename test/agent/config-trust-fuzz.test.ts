/**
 * Property test of the config trust boundary (docs/security.md): random patches and documents, well-formed or not,
 * through the entry points the settings view (`saveConfig`, `validateConfig`), the import (`importYaml`) and the
 * server (`set-config`, handed to the command service as the connection does) use. Whatever arrives: nothing
 * reaches `Object.prototype`, only the keys that caller may set change, and the agent keeps answering.
 *
 * The generated values never make the agent reach out: `streamserver_host` stays empty (so it never connects), and
 * the keys that run or read something only ever get harmless values (`true`, a file that does not exist).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCore } from '../../src-main/agent/agent';
import { type CommandService } from '../../src-main/agent/commands/service';
import { newMinionUuid } from '../../src-main/agent/protocol/uuid';
import { type AgentConfig, type ConfigCaller, settableKeys } from '../../src-shared/config';
import { type CommandRecordView } from '../../src-shared/view-models';

type Op =
  | { caller: 'gui'; kind: 'save' | 'validate'; patch: Array<[string, unknown]> }
  | { caller: 'import' | 'server'; text: string };

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

/** Values for each kind of key: valid, wrong-typed and odd ones. */
const anyValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -10, max: 100_000 }),
  fc.constantFrom(
    '',
    'debug',
    'deny',
    'allow',
    'allowlist',
    'ask',
    '1GiB',
    'always',
    'never',
    'latest',
    'beta',
  ),
  fc.string({ maxLength: 12 }),
  fc.constant(['echo *']),
  fc.constant({ nested: 1 }),
);
const safeRunsOrReads: Record<string, fc.Arbitrary<unknown>> = {
  telemetries: fc.constantFrom([{ name: 'fuzz', command: 'true', interval: 3600 }], [], 'junk'),
  tail_logs: fc.constantFrom([{ service: 'fuzz', file: '/nonexistent/minion-fuzz.log' }], [], 7),
  builtin_telemetries: fc.constantFrom(['memory'], [], ['uptime'], 'junk'),
};
const plainKeys = [
  'server_name',
  'telemetry_interval',
  'heartbeat_interval',
  'log_level',
  'spool.max_bytes',
  'spool.fsync',
  'group_key',
  'tls.enabled',
  'tls.ca_file',
  'commands.policy',
  'commands.allowlist',
  'commands.timeout',
  'commands.concurrency',
  'commands.internal.status',
  'updates.channel',
  'updates.policy',
  'updates.feed_url',
  // Not settable by anyone through these doors.
  'data_dir',
  'commands.env.LD_PRELOAD',
  'commands.cwd',
  'ui.host',
  'ui.enabled',
  'max_frame_bytes',
  'server_id',
  'agent_log_service',
  'upgrade',
  // Unknown.
  'no_such_key',
  'tls.no_such_key',
];
const unsafeKeys = [
  '__proto__.polluted',
  'constructor.prototype.polluted',
  'tls.__proto__.polluted',
  'commands.constructor',
  'prototype',
  'spool.__proto__',
];

const entry: fc.Arbitrary<[string, unknown]> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...plainKeys), anyValue) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(...Object.keys(safeRunsOrReads))
      .chain((k) => fc.tuple(fc.constant(k), safeRunsOrReads[k]!)),
  },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...unsafeKeys), anyValue) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), anyValue) },
);

/** JSON text (which is YAML) nesting dotted paths; written by hand so `__proto__` stays an ordinary key. */
function documentText(pairs: Array<[string, unknown]>): string {
  type Tree = Map<string, Tree | { leaf: unknown }>;
  const root: Tree = new Map();
  for (const [path, value] of pairs) {
    const segments = path.split('.');
    let node = root;
    segments.forEach((segment, i) => {
      if (i === segments.length - 1) node.set(segment, { leaf: value });
      else {
        const next = node.get(segment);
        if (next instanceof Map) node = next;
        else {
          const created: Tree = new Map();
          node.set(segment, created);
          node = created;
        }
      }
    });
  }
  const write = (tree: Tree): string =>
    `{${[...tree].map(([k, v]) => `${JSON.stringify(k)}: ${v instanceof Map ? write(v) : JSON.stringify(v.leaf)}`).join(', ')}}`;
  return write(root);
}

const oddText = fc.constantFrom('', ':', '- a\n- b', 'key: [unclosed', '42', '__proto__: {x: 1}', '"": 1');
const entries = fc.array(entry, { minLength: 1, maxLength: 4 });

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    caller: fc.constant('gui' as const),
    kind: fc.constantFrom('save' as const, 'validate' as const),
    patch: entries,
  }),
  fc.record({
    caller: fc.constant('import' as const),
    // An import replaces the document: it names the group (answers need one).
    text: fc.oneof(
      { weight: 8, arbitrary: entries.map((pairs) => documentText([['group_id', 'fuzz'], ...pairs])) },
      {
        weight: 1,
        arbitrary: oddText.map((text) => (text.includes(':') ? `group_id: fuzz\n${text}` : text)),
      },
    ),
  }),
  fc.record({
    caller: fc.constant('server' as const),
    text: fc.oneof({ weight: 8, arbitrary: entries.map(documentText) }, { weight: 1, arbitrary: oddText }),
  }),
);

/** Leaf paths (arrays are leaves) where two configs differ. */
function changedPaths(a: unknown, b: unknown, at = ''): string[] {
  const plain = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (plain(a) && plain(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) =>
      changedPaths(a[k], b[k], at === '' ? k : `${at}.${k}`),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
}

function covered(path: string, caller: ConfigCaller): boolean {
  return settableKeys(caller).some((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`));
}

describe('config changes from the GUI, an import and the server (property)', () => {
  let dir: string;
  let core: AgentCore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'config-fuzz-'));
    const configPath = join(dir, 'config.yml');
    writeFileSync(
      configPath,
      `group_id: fuzz
data_dir: ${join(dir, 'data')}
builtin_telemetries: []
spool:
  import_legacy: false
commands:
  policy: deny
  internal:
    set-config: true
`,
    );
    core = new AgentCore({ configPath, host: 'headless' });
    await core.start();
  });

  afterAll(async () => {
    await core.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The running core's command service. A server `set-config` is answered before the restart it causes, so the next
   * command can arrive while the parts are being rebuilt: wait for them (as a real server waits for the reconnect).
   */
  async function runningCommands(): Promise<CommandService> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const commands = (core as unknown as { parts: { commands: CommandService } | null }).parts?.commands;
      if (commands) return commands;
      if (Date.now() > deadline) throw new Error('the core is not running (10 s after a change)');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function fromServer(data: string[]): Promise<CommandRecordView> {
    const commands = await runningCommands();
    const uuid = newMinionUuid();
    return new Promise((resolve) => {
      const listener = (record: CommandRecordView): void => {
        if (record.uuid !== uuid || record.state !== 'done') return;
        core.off('command', listener);
        resolve(record);
      };
      core.on('command', listener);
      void commands.handle(uuid, data);
    });
  }

  async function apply(o: Op): Promise<void> {
    if (o.caller === 'gui') {
      const patch = Object.fromEntries(o.patch);
      if (o.kind === 'validate') expect(Array.isArray(core.validateConfig(patch))).toBe(true);
      else await core.saveConfig(patch).catch(() => undefined);
    } else if (o.caller === 'import') {
      await core.importYaml(o.text).catch(() => undefined);
    } else {
      const record = await fromServer(['internal', 'set-config', o.text]);
      expect(record.state).toBe('done');
    }
  }

  it('no prototype pollution, only the caller’s keys change, and the agent keeps answering', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 3 }), async (ops) => {
        for (const o of ops) {
          const before = structuredClone(core.effectiveConfig) as AgentConfig;
          await apply(o);
          const after = core.effectiveConfig;
          for (const path of changedPaths(before, after))
            expect(covered(path, o.caller), `${o.caller} changed ${path}`).toBe(true);
          expect(after.server_id).toBe(before.server_id);
          expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_NAMES);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        }
        // Still answering: the server's status (or, where an import or the GUI switched it off, its refusal), the
        // dashboard's snapshot and validation.
        const status = await fromServer(['internal', 'status']);
        if (core.effectiveConfig.commands.internal.status)
          expect(JSON.parse(status.stdout)).toHaveProperty('agent_version');
        else expect(status.stderr).toContain("internal command 'status' is disabled");
        expect(core.snapshot().serverId).toBe(core.effectiveConfig.server_id);
        expect(core.validateConfig({ server_name: 'ok' })).toEqual([]);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
