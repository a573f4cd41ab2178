/**
 * The agent's configuration: one zod schema shared by the core, the CLI and the GUI (the renderer imports this file
 * too, so: zod and plain TypeScript only, no Node imports). Written with zod's functional `zod/mini` API (same
 * core, same checks and issue texts as the chained API): the chained `zod` package costs every running agent ~10 MB
 * of RSS just to initialise, `zod/mini` bundles only what the schema uses (docs/performance.md, round 2).
 *
 * Compatibility: every key of the original Crystal agent's `config.yml` (protocol.md §9.1) is accepted unchanged,
 * and a key present with a `null` value falls back to its default, as in the original. Everything this agent adds
 * has a default, so an original file runs as is. Unknown keys are warnings, not errors. Documented in docs/config.md.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// The English issue texts (the chained API installs them on first use; zod/mini leaves that to the caller).
z.config(en());

// ---------------------------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------------------------

export type CommandPolicy = 'deny' | 'allowlist' | 'ask' | 'allow';
export const COMMAND_POLICIES: readonly CommandPolicy[] = ['deny', 'allowlist', 'ask', 'allow'];

/** Where the core runs: the desktop app can ask the person at the machine, a headless agent cannot. */
export type AgentHost = 'desktop' | 'headless';

/** Remote execution is opted into by the machine's owner: `ask` where someone can answer, else `deny`. */
export function defaultCommandPolicy(host: AgentHost): CommandPolicy {
  return host === 'desktop' ? 'ask' : 'deny';
}

/** Built-in telemetry labels this agent knows (the first four are the original's). Labels are case-insensitive. */
export const BUILTIN_TELEMETRY_LABELS = [
  'memory',
  'load_avg',
  'disk_usage',
  'pick_files',
  'cpu',
  'network',
  'uptime',
] as const;
export type BuiltinTelemetryLabel = (typeof BUILTIN_TELEMETRY_LABELS)[number];

/** Internal commands the server may send, and whether each is allowed by default. */
export const INTERNAL_COMMAND_DEFAULTS = {
  status: true,
  version: true,
  'get-config': true,
  'validate-config': true,
  'set-config': false,
  restart: true,
  upgrade: false,
} as const;
export type InternalCommandName = keyof typeof INTERNAL_COMMAND_DEFAULTS;

export const DEFAULT_UPGRADE_URL = 'http://getminion.io/api/v1/minion';
export const DEFAULT_STREAMSERVER_PORT = 47990;
/** Largest frame on the wire: 2-byte length prefix + at most 65 535 bytes of MessagePack (protocol.md §1). */
export const MAX_WIRE_FRAME_BYTES = 65_537;
export const GROUP_KEY_MASK = '••••••';

const CANONICAL_UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** `1073741824`, `"512MiB"`, `"1 GB"`, `"64k"` → bytes (binary units; people write "GB" and mean GiB here). */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.floor(Number(match[1]) * unit);
}

const byteSize = (min: number, max: number) =>
  z.pipe(
    z.pipe(
      z.union([z.number(), z.string()]),
      z.transform((value: number | string, ctx) => {
        const bytes = parseByteSize(value);
        if (bytes === undefined) {
          ctx.issues.push({
            code: 'custom',
            message: 'expected a size in bytes, e.g. 1073741824 or "1GiB"',
            input: value,
          });
          return z.NEVER;
        }
        return bytes;
      }),
    ),
    z
      .number()
      .check(
        z.int(),
        z.gte(min, { message: `expected at least ${min} bytes` }),
        z.lte(max, { message: `expected at most ${max} bytes` }),
      ),
  );

/** A whole number (the chained API's `.int()`) between `min` and `max`, each check with its own message. */
const wholeNumber = (
  params: { message: string } | undefined,
  int: { message: string } | undefined,
  min: number,
  minParams: { message: string } | undefined,
  max: number,
  maxParams: { message: string } | undefined,
) => z.number(params).check(z.int(int), z.gte(min, minParams), z.lte(max, maxParams));

const seconds = (min: number, def: number) =>
  z._default(
    z
      .number({ message: 'expected a number of seconds' })
      .check(
        z.gte(min, { message: `expected at least ${min} seconds` }),
        z.lte(365 * 24 * 3600, { message: 'expected at most one year in seconds' }),
      ),
    def,
  );

const text = (def = '') => z._default(z.string({ message: 'expected a string' }), def);
/** Optional path/name: empty string and absence both mean "not set". */
const optionalText = () =>
  z.pipe(
    z.transform((v: unknown) => (v === '' ? undefined : v)),
    z.optional(z.string({ message: 'expected a string' })),
  );

const port = (def: number) =>
  z._default(
    wholeNumber(
      { message: 'expected a TCP port number' },
      { message: 'expected a whole number' },
      1,
      { message: 'expected a port between 1 and 65535' },
      65_535,
      { message: 'expected a port between 1 and 65535' },
    ),
    def,
  );

const bool = (def: boolean, params?: { message: string }) => z._default(z.boolean(params), def);
const trueOrFalse = { message: 'expected true or false' };

/** YAML turns `args: [1, true]` into numbers/booleans; the shell only sees text anyway. */
const argText = z.pipe(
  z.union([z.string(), z.number(), z.boolean()]),
  z.transform((v: string | number | boolean) => String(v)),
);

// ---------------------------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------------------------

const builtinTelemetrySchema = z.pipe(
  z.union(
    [
      z.string().check(z.minLength(1, { message: 'expected a telemetry label, e.g. memory' })),
      z.strictObject({
        label: z.string({ message: 'expected a telemetry label, e.g. pick_files' }).check(z.minLength(1)),
        arguments: z._default(z.record(z.string(), z.unknown()), {}),
      }),
    ],
    { message: 'expected a label string or {label, arguments}' },
  ),
  // Normalised to one shape so consumers never branch; labels are case-insensitive as in the original.
  z.transform((entry: string | { label: string; arguments: Record<string, unknown> }) =>
    typeof entry === 'string'
      ? { label: entry.toLowerCase(), arguments: {} as Record<string, unknown> }
      : { label: entry.label.toLowerCase(), arguments: entry.arguments },
  ),
);

const tailLogSchema = z.strictObject({
  service: z
    .string({ message: 'expected the service name (sent as the log frame service)' })
    .check(z.minLength(1, { message: 'must not be empty (an empty service poisons the server)' })),
  file: z
    .string({ message: 'expected a file path or glob' })
    .check(z.minLength(1, { message: 'must not be empty' })),
});

const customTelemetrySchema = z.strictObject({
  name: z
    .string({ message: 'expected the telemetry name' })
    .check(z.minLength(1, { message: 'must not be empty (an empty name poisons the server)' })),
  command: z
    .string({ message: 'expected a shell command' })
    .check(z.minLength(1, { message: 'must not be empty' })),
  args: z._default(z.array(argText, { message: 'expected a list of arguments' }), []),
  interval: seconds(1, 60),
});

const tlsSchema = z._default(
  z
    .strictObject({
      enabled: bool(false, trueOrFalse),
      ca_file: optionalText(),
      cert_file: optionalText(),
      key_file: optionalText(),
      /** SNI / certificate name to check when it differs from `streamserver_host`. */
      server_name: optionalText(),
      reject_unauthorized: bool(true, trueOrFalse),
    })
    .check(
      z.superRefine((tls, ctx) => {
        if (Boolean(tls.cert_file) !== Boolean(tls.key_file)) {
          ctx.addIssue({
            code: 'custom',
            path: [tls.cert_file ? 'key_file' : 'cert_file'],
            message: 'client certificates need both cert_file and key_file',
          });
        }
      }),
    ),
  { enabled: false, reject_unauthorized: true },
);

const fsyncSchema = z._default(
  z.union(
    [
      z.enum(['always', 'never'], { message: "expected 'always', 'never' or a number of milliseconds" }),
      z.number().check(z.int(), z.gte(1), z.lte(60_000)),
    ],
    { message: "expected 'always', 'never' or a number of milliseconds (1–60000)" },
  ),
  100,
);

const spoolSchema = z._default(
  z.strictObject({
    max_bytes: z._default(byteSize(1024 ** 2, 1024 ** 5), 1024 ** 3),
    fsync: fsyncSchema,
    /** Replay `minion-<group>-*.log` spool files the original agent left in $TMPDIR. */
    import_legacy: bool(true, trueOrFalse),
  }),
  { max_bytes: 1024 ** 3, fsync: 100, import_legacy: true },
);

const millis = (min: number, max: number, def: number) =>
  z._default(
    wholeNumber(
      { message: 'expected milliseconds' },
      { message: 'expected a whole number of milliseconds' },
      min,
      { message: `expected at least ${min} ms` },
      max,
      { message: `expected at most ${max} ms` },
    ),
    def,
  );

export const RECONNECT_DEFAULTS = {
  base_ms: 500,
  cap_ms: 60_000,
  refused_min_ms: 1_000,
  refused_max_ms: 3_000,
  rejoin_window_ms: 4_500,
} as const;

const reconnectSchema = z._default(
  z
    .strictObject({
      /** Exponential backoff (full jitter) for failures after the TCP connect: first window and cap. */
      base_ms: millis(10, 3_600_000, RECONNECT_DEFAULTS.base_ms),
      cap_ms: millis(10, 24 * 3_600_000, RECONNECT_DEFAULTS.cap_ms),
      /** Refused / unanswered TCP connects (nobody home) are retried every refused_min_ms–refused_max_ms, forever. */
      refused_min_ms: millis(10, 600_000, RECONNECT_DEFAULTS.refused_min_ms),
      refused_max_ms: millis(10, 600_000, RECONNECT_DEFAULTS.refused_max_ms),
      /** Authentications after refused connects are spread over this window after the server's return (0 = at once). */
      rejoin_window_ms: millis(0, 600_000, RECONNECT_DEFAULTS.rejoin_window_ms),
    })
    .check(
      z.superRefine((r, ctx) => {
        if (r.cap_ms < r.base_ms)
          ctx.addIssue({ code: 'custom', message: 'cap_ms must be at least base_ms', path: ['cap_ms'] });
        if (r.refused_max_ms < r.refused_min_ms)
          ctx.addIssue({
            code: 'custom',
            message: 'refused_max_ms must be at least refused_min_ms',
            path: ['refused_max_ms'],
          });
      }),
    ),
  { ...RECONNECT_DEFAULTS },
);

export const DELIVERY_CONFIG_DEFAULTS = { settle_ms: 2_000, confirm_interval: 5 } as const;

const deliverySchema = z._default(
  z.strictObject({
    /**
     * Second step of a confirmation: a frame counts as stored once a barrier sent this long after the server read it
     * was answered on the same connection. Must exceed the server's `syncinterval` and `queue_process_wait`.
     */
    settle_ms: millis(0, 600_000, DELIVERY_CONFIG_DEFAULTS.settle_ms),
    /** Seconds: at most one barrier (a heartbeat, a database commit on the server) per interval while data flows. */
    confirm_interval: z._default(
      z
        .number({ message: 'expected a number of seconds' })
        .check(
          z.gte(0.1, { message: 'expected at least 0.1 seconds' }),
          z.lte(3600, { message: 'expected at most 3600 seconds' }),
        ),
      DELIVERY_CONFIG_DEFAULTS.confirm_interval,
    ),
  }),
  { ...DELIVERY_CONFIG_DEFAULTS },
);

const internalCommandsSchema = z._default(
  z.strictObject({
    status: bool(INTERNAL_COMMAND_DEFAULTS.status),
    version: bool(INTERNAL_COMMAND_DEFAULTS.version),
    'get-config': bool(INTERNAL_COMMAND_DEFAULTS['get-config']),
    'validate-config': bool(INTERNAL_COMMAND_DEFAULTS['validate-config']),
    'set-config': bool(INTERNAL_COMMAND_DEFAULTS['set-config']),
    restart: bool(INTERNAL_COMMAND_DEFAULTS.restart),
    upgrade: bool(INTERNAL_COMMAND_DEFAULTS.upgrade),
  }),
  { ...INTERNAL_COMMAND_DEFAULTS },
);

const commandsSchema = (host: AgentHost) =>
  z._default(
    z.strictObject({
      policy: z._default(
        z.enum(['deny', 'allowlist', 'ask', 'allow'], {
          message: 'expected one of deny, allowlist, ask, allow',
        }),
        defaultCommandPolicy(host),
      ),
      /** Exact argv[0] (e.g. `uptime`) or patterns matched by the command module; see docs/config.md. */
      allowlist: z._default(
        z.array(z.string().check(z.minLength(1, { message: 'must not be empty' })), {
          message: 'expected a list of patterns',
        }),
        [],
      ),
      ask_timeout: seconds(1, 60),
      timeout: seconds(1, 300),
      kill_grace: seconds(0, 5),
      concurrency: z._default(
        z.number({ message: 'expected a whole number' }).check(z.int(), z.gte(1), z.lte(256)),
        4,
      ),
      cwd: optionalText(),
      env: z._default(z.record(z.string(), argText, { message: 'expected a map of NAME: value' }), {}),
      /** Output kept locally per stream (the UI shows it); the server gets what fits the frame budget. */
      max_output_bytes: z._default(byteSize(1024, 1024 ** 3), 1024 ** 2),
      internal: internalCommandsSchema,
    }),
    {
      policy: defaultCommandPolicy(host),
      allowlist: [],
      ask_timeout: 60,
      timeout: 300,
      kill_grace: 5,
      concurrency: 4,
      env: {},
      max_output_bytes: 1024 ** 2,
      internal: { ...INTERNAL_COMMAND_DEFAULTS },
    },
  );

const updatesSchema = z._default(
  z.strictObject({
    /** Where to look for releases (electron-updater generic feed); unset = the URL built into the package. */
    feed_url: optionalText(),
    channel: z._default(z.enum(['latest', 'beta'], { message: 'expected latest or beta' }), 'latest'),
    policy: z._default(
      z.enum(['manual', 'auto', 'off'], { message: 'expected manual, auto or off' }),
      'manual',
    ),
    check_interval_hours: z._default(
      z.number({ message: 'expected hours' }).check(z.gte(1), z.lte(24 * 30)),
      6,
    ),
    /** Download found updates in the background (installing still follows `policy`). */
    auto_download: bool(false, trueOrFalse),
    allow_downgrade: bool(false, trueOrFalse),
  }),
  {
    channel: 'latest',
    policy: 'manual',
    check_interval_hours: 6,
    auto_download: false,
    allow_downgrade: false,
  },
);

const uiSchema = z._default(
  z.strictObject({
    /** The headless web dashboard (the desktop app does not need it). Bound to `host` only. */
    enabled: bool(false, trueOrFalse),
    host: text('127.0.0.1'),
    port: port(47991),
  }),
  { enabled: false, host: '127.0.0.1', port: 47991 },
);

const tailSchema = z._default(
  z.strictObject({
    /** How often files are checked for new data. */
    poll_interval_ms: z._default(z.number().check(z.int(), z.gte(20), z.lte(60_000)), 250),
    /** A last line without its newline is sent after the file has been quiet this long. */
    partial_line_flush_ms: z._default(z.number().check(z.int(), z.gte(50), z.lte(600_000)), 2000),
    /** Files that already exist the first time an entry is seen: ship from their end (original) or beginning. */
    start_at: z._default(z.enum(['end', 'beginning'], { message: 'expected end or beginning' }), 'end'),
  }),
  { poll_interval_ms: 250, partial_line_flush_ms: 2000, start_at: 'end' },
);

// ---------------------------------------------------------------------------------------------------------------
// The whole config
// ---------------------------------------------------------------------------------------------------------------

/** The object schema without the null-dropping preprocess step (for callers that need `.shape`). */
export function agentConfigObjectSchema(host: AgentHost = 'headless') {
  return z.strictObject({
    // --- keys of the original agent (protocol.md §9.1) ---
    streamserver_host: text(''),
    streamserver_port: port(DEFAULT_STREAMSERVER_PORT),
    group_id: text(''),
    group_key: text(''),
    /** Empty = generate once and persist (the loader does it); otherwise a canonical UUID, stored lowercase. */
    server_id: z._default(
      z.pipe(
        z.string({ message: 'expected a UUID like 5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11' }).check(
          z.refine((v) => v === '' || CANONICAL_UUID.test(v), {
            message:
              'expected a canonical UUID like 5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11 (or leave it out to generate one)',
          }),
        ),
        z.transform((v: string) => v.toLowerCase()),
      ),
      '',
    ),
    server_name: text(''),
    upgrade: text(DEFAULT_UPGRADE_URL),
    telemetry_interval: seconds(1, 60),
    builtin_telemetries: z._default(
      z.array(builtinTelemetrySchema, { message: 'expected a list of telemetry labels' }),
      ['memory', 'load_avg', 'disk_usage'].map((label) => ({ label, arguments: {} })),
    ),
    tail_logs: z._default(z.array(tailLogSchema, { message: 'expected a list of {service, file}' }), []),
    telemetries: z._default(
      z.array(customTelemetrySchema, { message: 'expected a list of {name, command, args, interval}' }),
      [],
    ),

    // --- added by this agent ---
    /** Spool, checkpoints, audit log. Empty = the platform default (see docs/config.md). */
    data_dir: text(''),
    heartbeat_interval: seconds(5, 60),
    /** Upper bound of one frame on the wire including the 2-byte prefix; long lines/outputs are split or cut. */
    max_frame_bytes: z._default(
      z.number({ message: 'expected a number of bytes' }).check(
        z.int(),
        z.gte(1024, { message: 'expected at least 1024 bytes' }),
        z.lte(MAX_WIRE_FRAME_BYTES, {
          message: `expected at most ${MAX_WIRE_FRAME_BYTES} bytes (the u16 length prefix limit)`,
        }),
      ),
      8192,
    ),
    auth_timeout: seconds(1, 10),
    connect_timeout: seconds(1, 10),
    log_level: z._default(
      z.enum(['debug', 'info', 'warn', 'error'], { message: 'expected debug, info, warn or error' }),
      'info',
    ),
    /** Service name of the agent's own notable events sent as log frames; empty = do not ship them. */
    agent_log_service: text('minion-agent'),
    tls: tlsSchema,
    spool: spoolSchema,
    reconnect: reconnectSchema,
    delivery: deliverySchema,
    tail: tailSchema,
    commands: commandsSchema(host),
    updates: updatesSchema,
    ui: uiSchema,
  });
}

/** Drops object keys whose value is null, recursively: the original treats `key:` (null) as "use the default". */
export function dropNullKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNullKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      if (inner !== null && inner !== undefined) out[key] = dropNullKeys(inner);
    }
    return out;
  }
  return value;
}

export function agentConfigSchemaFor(host: AgentHost) {
  return z.pipe(
    z.transform((raw: unknown) => (raw === null || raw === undefined ? {} : dropNullKeys(raw))),
    agentConfigObjectSchema(host),
  );
}

/** Headless defaults (`commands.policy: deny`). Strict: prefer `parseAgentConfig`, which turns unknown keys into warnings. */
export const agentConfigSchema = agentConfigSchemaFor('headless');

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<ReturnType<typeof agentConfigObjectSchema>>;
export type TailLogEntry = AgentConfig['tail_logs'][number];
export type CustomTelemetryConfig = AgentConfig['telemetries'][number];
export type BuiltinTelemetryConfig = AgentConfig['builtin_telemetries'][number];

// ---------------------------------------------------------------------------------------------------------------
// Parsing with readable errors
// ---------------------------------------------------------------------------------------------------------------

export interface ConfigIssue {
  /** Dotted key path, array items as `[i]`, e.g. `tail_logs[0].file`; `(root)` for the document itself. */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly issues: ConfigIssue[],
    /** Where the config came from (file path), for the message. */
    readonly source?: string,
  ) {
    super(
      `${source ? `invalid config ${source}` : 'invalid config'}: ` +
        issues.map((i) => `${i.path}: ${i.message}`).join('; '),
    );
  }
}

export function formatConfigPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  // zod's own texts ("Invalid input: expected string, received number") are fine but generic; ours say what to write.
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
    return `expected ${issue.expected}`;
  }
  return issue.message;
}

export interface ParseOptions {
  /** Decides the default `commands.policy`. Default `headless`. */
  host?: AgentHost;
}

/**
 * Validates a config object (parsed YAML/JSON). Unknown keys do not fail: they are dropped and reported in
 * `warnings` (path-named), like the original, which tolerated them. Invalid values throw `ConfigError`.
 */
export function parseAgentConfig(
  raw: unknown,
  options: ParseOptions = {},
): { config: AgentConfig; warnings: string[] } {
  const schema = agentConfigSchemaFor(options.host ?? 'headless');
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError([
      { path: '(root)', message: 'expected a mapping of keys (YAML key: value lines)' },
    ]);
  }
  let input = raw === null || raw === undefined ? {} : dropNullKeys(raw);
  const warnings: string[] = [];
  // Two passes at most: the first may only find unknown keys, which we strip and report.
  for (let pass = 0; pass < 2; pass++) {
    const result = schema.safeParse(input);
    if (result.success) {
      warnings.sort();
      warnings.push(...unknownLabelWarnings(result.data));
      return { config: result.data, warnings };
    }
    const unknown = result.error.issues.filter((i) => i.code === 'unrecognized_keys');
    const real = result.error.issues.filter((i) => i.code !== 'unrecognized_keys');
    if (real.length > 0 || unknown.length === 0) {
      throw new ConfigError(real.map((i) => ({ path: formatConfigPath(i.path), message: issueMessage(i) })));
    }
    input = structuredClone(input);
    for (const issue of unknown) {
      if (issue.code !== 'unrecognized_keys') continue;
      const holder = getAt(input, issue.path);
      for (const key of issue.keys) {
        warnings.push(`${formatConfigPath([...issue.path, key])}: unknown key, ignored`);
        if (holder && typeof holder === 'object') delete (holder as Record<string, unknown>)[key];
      }
    }
  }
  throw new ConfigError([{ path: '(root)', message: 'could not be validated' }]);
}

function unknownLabelWarnings(config: AgentConfig): string[] {
  const known = new Set<string>(BUILTIN_TELEMETRY_LABELS);
  return config.builtin_telemetries.flatMap((entry, index) =>
    known.has(entry.label)
      ? []
      : [
          `builtin_telemetries[${index}]: unknown built-in telemetry '${entry.label}' (known: ${BUILTIN_TELEMETRY_LABELS.join(', ')}); it is skipped`,
        ],
  );
}

function getAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

/** Validation for the GUI: the issues a raw config would produce, empty when it is valid. */
export function validateAgentConfig(raw: unknown, options: ParseOptions = {}): ConfigIssue[] {
  try {
    parseAgentConfig(raw, options);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What the GUI may edit, what needs a restart, redaction
// ---------------------------------------------------------------------------------------------------------------

/** Dotted paths the GUI (and `set-config` patches) may change. A whole section path covers its children. */
export const EDITABLE_KEYS: readonly string[] = [
  'streamserver_host',
  'streamserver_port',
  'group_id',
  'group_key',
  'server_name',
  'tls.enabled',
  'tls.ca_file',
  'tls.cert_file',
  'tls.key_file',
  'tls.server_name',
  'tls.reject_unauthorized',
  'telemetry_interval',
  'builtin_telemetries',
  'telemetries',
  'tail_logs',
  'heartbeat_interval',
  'commands.policy',
  'commands.allowlist',
  'commands.ask_timeout',
  'commands.timeout',
  'commands.concurrency',
  'commands.internal',
  'spool.max_bytes',
  'spool.fsync',
  'updates.policy',
  'updates.channel',
  'updates.check_interval_hours',
  'updates.auto_download',
  'updates.feed_url',
  'log_level',
];

/** True when `path` (dotted) is editable: listed itself, or inside a listed section. */
export function isEditableKey(path: string): boolean {
  return EDITABLE_KEYS.some(
    (key) => path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Who may set which key (the one place that decides it: GUI, import and the server's set-config all ask here)
// ---------------------------------------------------------------------------------------------------------------

/** Who asks for a change: the settings view (desktop or dashboard), a YAML import there, the server's `set-config`. */
export type ConfigCaller = 'gui' | 'import' | 'server';

/**
 * What changing a key can widen. `none` = tuning only: how often, how much, how verbose. Every other reach names
 * a power over this machine: what runs (`runs`), which files are read (`reads`), where the agent connects and
 * whom it hands the group key (`connection`), who may control the agent (`access`).
 */
export type KeyReach = 'none' | 'runs' | 'reads' | 'connection' | 'access';

/** The reach of each editable key. A key not listed here (a new one) counts as widening: nothing is settable by accident. */
const EDITABLE_KEY_REACH: Readonly<Record<string, KeyReach>> = {
  streamserver_host: 'connection',
  streamserver_port: 'connection',
  group_id: 'connection',
  group_key: 'connection',
  server_name: 'none',
  'tls.enabled': 'connection',
  'tls.ca_file': 'reads',
  'tls.cert_file': 'reads',
  'tls.key_file': 'reads',
  'tls.server_name': 'connection',
  'tls.reject_unauthorized': 'connection',
  telemetry_interval: 'none',
  // pick_files reads (and moves) the files of any directory named in its arguments.
  builtin_telemetries: 'reads',
  telemetries: 'runs',
  tail_logs: 'reads',
  heartbeat_interval: 'none',
  'commands.policy': 'access',
  'commands.allowlist': 'access',
  'commands.ask_timeout': 'access',
  'commands.timeout': 'access',
  'commands.concurrency': 'access',
  'commands.internal': 'access',
  'spool.max_bytes': 'none',
  'spool.fsync': 'none',
  // Updates download and install code.
  'updates.policy': 'runs',
  'updates.channel': 'runs',
  'updates.check_interval_hours': 'runs',
  'updates.auto_download': 'runs',
  'updates.feed_url': 'runs',
  log_level: 'none',
};

/** The reach of a dotted path: that of the editable key it is (or is inside of); unknown paths widen. */
export function keyReach(path: string): KeyReach {
  let best: string | null = null;
  for (const key of Object.keys(EDITABLE_KEY_REACH)) {
    const covers = path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`);
    if (covers && (best === null || key.length > best.length)) best = key;
  }
  return best === null ? 'runs' : (EDITABLE_KEY_REACH[best] ?? 'runs');
}

/**
 * THE RULE for the server: the StreamServer may never widen what runs or what is read on this machine, nor move the
 * agent (and its group key) to another server, nor change who may command it. It is remote and shares its key with
 * every agent of the group; only the machine's owner, locally, may grant those powers.
 */
export function serverMaySet(path: string): boolean {
  return keyReach(path) === 'none';
}

/**
 * Dotted paths each caller may change (a listed path covers its children). The person at the machine edits what
 * the settings view shows; an import is the same person with a file, so it gets exactly the same keys (never
 * `data_dir`, `commands.env`, `commands.cwd`, `ui.*`: those stay with whoever can edit the config file itself).
 */
export const SETTABLE_KEYS: Readonly<Record<ConfigCaller, readonly string[]>> = {
  gui: EDITABLE_KEYS,
  import: EDITABLE_KEYS,
  server: EDITABLE_KEYS.filter(serverMaySet),
};

export function settableKeys(caller: ConfigCaller): readonly string[] {
  return SETTABLE_KEYS[caller];
}

/**
 * Keys the running core cannot apply live. Everything else is applied without a restart (connection keys reconnect,
 * tail/telemetry lists are re-read, command policy applies to the next command).
 */
export const RESTART_REQUIRED_KEYS: readonly string[] = [
  'data_dir',
  'server_id',
  'ui',
  'spool.import_legacy',
  'max_frame_bytes',
  // The delivery pump reads these when it is built.
  'delivery',
];

export function restartRequired(changedPaths: readonly string[]): string[] {
  return changedPaths.filter((path) =>
    RESTART_REQUIRED_KEYS.some(
      (key) => path === key || path.startsWith(`${key}.`) || key.startsWith(`${path}.`),
    ),
  );
}

/** A copy safe to show or log: the group key masked (when set), nothing else hidden. */
export function redactConfig<T extends { group_key?: unknown }>(config: T): T {
  const copy = structuredClone(config);
  if (typeof copy.group_key === 'string' && copy.group_key !== '') copy.group_key = GROUP_KEY_MASK;
  return copy;
}
