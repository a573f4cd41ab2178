/**
 * Loading, patching and saving the agent's YAML config file.
 *
 * Edits go through the yaml Document API so comments, key order and keys we do not know survive a save. Writes are
 * atomic. The group key never appears in an error message or a warning: YAML syntax errors are reported by line
 * and column only (the parser's own message can quote the offending source line).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Document, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import {
  type AgentConfig,
  type AgentHost,
  ConfigError,
  type ConfigIssue,
  formatConfigPath,
  GROUP_KEY_MASK,
  isEditableKey,
  parseAgentConfig,
  restartRequired,
} from '../../../src-shared/config';
import { writeFileAtomic } from './atomic-write';
import { type PlatformContext, resolveDataDir } from './paths';

const CANONICAL_LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Fallback home of a generated server id when the config file cannot be written (read-only mount, …). */
export const SERVER_ID_FILE = 'server-id';

export interface ConfigFileOptions {
  /** Decides the default `commands.policy`. Default `headless`. */
  host?: AgentHost;
  /** For resolving the default data dir (tests). */
  platform?: PlatformContext;
}

export interface LoadedConfig {
  path: string;
  config: AgentConfig;
  warnings: string[];
  /** Effective data directory (the `data_dir` setting resolved, or the platform default). */
  dataDir: string;
  /** Where `server_id` came from on this load ('missing': a `readOnly` load of a file without one). */
  serverIdSource: 'config' | 'generated' | 'data-dir' | 'missing';
  /**
   * The server id is not in the config file yet (generated now, or found only in `<data dir>/server-id`): pass this
   * to `persistServerId` and await it before the id is used (an auth, a spooled frame) or the file is saved again.
   * Null when the file has its id, and for a `readOnly` load.
   */
  serverIdToPersist: ServerIdToPersist | null;
}

export interface LoadOptions extends ConfigFileOptions {
  /** Start from an empty config when the file does not exist (the original's run mode). Default false. */
  createIfMissing?: boolean;
  /**
   * For commands that never announce themselves to a server (updates, `upgrade`): a missing `server_id` is taken
   * from `<data dir>/server-id` if it is there and otherwise left empty. Nothing is generated. Default false.
   */
  readOnly?: boolean;
}

/** A server id that still has to reach the disk; `persistServerId` writes it. */
export interface ServerIdToPersist {
  serverId: string;
  /**
   * The config file the id goes into (re-read when it is written, so an edit made since the load survives), and
   * whether the load was allowed to create it (a missing file then gets one with just the id); null: in-memory
   * config.
   */
  configFile: { path: string; createIfMissing: boolean } | null;
  /** `<data dir>/server-id`: where the id goes when there is no config file, or it cannot be written. */
  idFile: string;
}

// ---------------------------------------------------------------------------------------------------------------
// YAML text ⇄ config
// ---------------------------------------------------------------------------------------------------------------

/** Parses YAML text into a Document; syntax errors become ConfigError issues with line:column, never source text. */
export function parseYamlDocument(text: string, source?: string): Document {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((error): ConfigIssue => {
      const at = lineCounter.linePos(error.pos[0]);
      return {
        path: `(yaml line ${at.line}, column ${at.col})`,
        message: error.message.split('\n')[0] ?? error.code,
      };
    });
    throw new ConfigError(issues, source);
  }
  return doc;
}

/** Validates YAML text (the GUI's import, `set-config`, `validate-config`). */
export function configFromYaml(
  text: string,
  options: ConfigFileOptions = {},
): { config: AgentConfig; warnings: string[] } {
  const doc = parseYamlDocument(text);
  return parseOrRethrow(doc.toJS(), options);
}

export interface ToYamlOptions {
  /** Include the group key in clear. Default false: exports are shown and shared, the key stays masked. */
  includeSecrets?: boolean;
}

/** The effective config as YAML, every key spelled out; built-in telemetries without arguments as bare labels. */
export function configToYaml(config: AgentConfig, options: ToYamlOptions = {}): string {
  const plain: Record<string, unknown> = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  if (!options.includeSecrets && config.group_key !== '') plain.group_key = GROUP_KEY_MASK;
  plain.builtin_telemetries = config.builtin_telemetries.map((entry) =>
    Object.keys(entry.arguments).length === 0 ? entry.label : entry,
  );
  return documentText(new Document(plain));
}

/** Serialises with the compact flow style people write by hand (`["-q"]`, not `[ "-q" ]`). */
function documentText(doc: Document): string {
  return doc.toString({ flowCollectionPadding: false });
}

function parseOrRethrow(raw: unknown, options: ConfigFileOptions, source?: string) {
  assertSafeKeys(raw, source);
  try {
    return parseAgentConfig(raw, { host: options.host ?? 'headless' });
  } catch (error) {
    if (error instanceof ConfigError && source) throw new ConfigError(error.issues, source);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------------------------

function readText(path: string, createIfMissing: boolean): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && createIfMissing) return '';
    const reason = code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(error)})`;
    throw new ConfigError([{ path: '(file)', message: reason }], path);
  }
}

/**
 * Loads and validates a config file; reads only. A missing or empty `server_id` is taken from `<data dir>/server-id`
 * or generated (lowercase random UUID), and returned in `serverIdToPersist`: the caller that uses the id awaits
 * `persistServerId`, which writes it back into the file (comments and other keys untouched) or, if the file is not
 * writable, into `<data dir>/server-id`, so the id never changes between runs and is never empty.
 */
export function loadConfigFile(path: string, options: LoadOptions = {}): LoadedConfig {
  const text = readText(path, options.createIfMissing ?? false);
  const doc = parseYamlDocument(text, path);
  const raw: unknown = doc.toJS();
  const { config, warnings } = parseOrRethrow(raw ?? {}, options, path);
  const dataDir = resolveDataDir(config.data_dir, path, options.platform);
  const loaded = { path, config, warnings, dataDir };
  if (config.server_id !== '') return { ...loaded, serverIdSource: 'config', serverIdToPersist: null };

  const idFile = join(dataDir, SERVER_ID_FILE);
  const kept = readServerIdFile(idFile);
  if (options.readOnly) {
    return {
      ...loaded,
      config: { ...config, server_id: kept ?? '' },
      serverIdSource: kept ? 'data-dir' : 'missing',
      serverIdToPersist: null,
    };
  }
  const serverId = kept ?? randomUUID();
  return {
    ...loaded,
    config: { ...config, server_id: serverId },
    serverIdSource: kept ? 'data-dir' : 'generated',
    serverIdToPersist: {
      serverId,
      configFile: { path, createIfMissing: options.createIfMissing ?? false },
      idFile,
    },
  };
}

/**
 * The server id of a config that lives in memory only (no file to write it into): `<data dir>/server-id`, or a new
 * one that `persistServerId` writes there.
 */
export function serverIdForInMemoryConfig(dataDir: string): {
  serverId: string;
  serverIdToPersist: ServerIdToPersist | null;
} {
  const idFile = join(dataDir, SERVER_ID_FILE);
  const kept = readServerIdFile(idFile);
  if (kept) return { serverId: kept, serverIdToPersist: null };
  const serverId = randomUUID();
  return { serverId, serverIdToPersist: { serverId, configFile: null, idFile } };
}

/**
 * Makes a server id from `loadConfigFile` / `serverIdForInMemoryConfig` durable, off the event loop: written into
 * the config file (temp file, fsync, rename, directory fsync), or into `<data dir>/server-id` when the file cannot
 * be written. The file is read again first, so an edit made since the load is kept: the id goes into the current
 * text; an id the file got meanwhile is kept (the next start uses it); a file that became unreadable or invalid is
 * left alone. Never rejects: what could not be written comes back as warnings (`server_id: …`), like the load's.
 */
export async function persistServerId(pending: ServerIdToPersist | null): Promise<string[]> {
  if (!pending) return [];
  const { serverId, configFile, idFile } = pending;
  /** For the warning when the id file cannot be written either. */
  let configProblem: string | null = null;
  /** The warning when the id ends up in `idFile` instead of the config file. */
  let keptInIdFile: string | null = null;
  if (configFile) {
    const { path } = configFile;
    const current = await configTextWithServerId(path, serverId, configFile.createIfMissing);
    if (current.kind === 'has-id') {
      if (current.serverId === serverId) return [];
      return [
        `server_id: ${path} got a server_id of its own (${current.serverId}) after it was loaded; kept it. ` +
          `This run uses ${serverId}, the next start ${current.serverId}.`,
      ];
    }
    if (current.kind === 'not-writable') {
      configProblem = `${path}: ${current.problem}`;
      keptInIdFile = `server_id: not written to ${path}: ${current.problem}; the file is left as it is and the id kept in ${idFile}`;
    } else {
      try {
        await writeFileAtomic(path, current.text);
        return [];
      } catch (error) {
        configProblem = errorCode(error);
        keptInIdFile = `server_id: could not be written to ${path} (${configProblem}); kept in ${idFile}`;
      }
    }
  }
  try {
    await writeFileAtomic(idFile, `${serverId}\n`);
    return keptInIdFile ? [keptInIdFile] : [];
  } catch (error) {
    const codes = configProblem ? `${configProblem}, ${errorCode(error)}` : errorCode(error);
    const where = configFile ? `Set server_id in ${configFile.path}` : `Set server_id in the config`;
    return [
      `server_id: could not be persisted (${codes}); a new id will be generated on the next start. ${where} to keep it stable.`,
    ];
  }
}

type ServerIdInsertion =
  /** The file's current text with `server_id` set (comments, order and other keys as they are now). */
  | { kind: 'text'; text: string }
  /** The file has a server id of its own now (lower-cased, as a load would use it). */
  | { kind: 'has-id'; serverId: string }
  /** The file cannot be read, or is no longer a valid config: it must not be overwritten. */
  | { kind: 'not-writable'; problem: string };

/** Reads the config file as it is now (asynchronously) and inserts the server id, unless it must stay as it is. */
async function configTextWithServerId(
  path: string,
  serverId: string,
  createIfMissing: boolean,
): Promise<ServerIdInsertion> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    // Never there, or deleted, where the load may create it (the desktop's first run): a file with just the id.
    // Deleted where the load needs it (headless): a stub with only the id would make the next start run on
    // defaults instead of saying the file is missing.
    if (missing && !createIfMissing)
      return { kind: 'not-writable', problem: 'it was deleted after it was loaded' };
    if (!missing) return { kind: 'not-writable', problem: `cannot read it (${errorCode(error)})` };
  }
  let doc: Document;
  try {
    doc = parseYamlDocument(text, path);
    // The host only changes defaults, never whether a file is valid.
    const { config } = parseOrRethrow(doc.toJS() ?? {}, {}, path);
    if (config.server_id !== '') return { kind: 'has-id', serverId: config.server_id };
  } catch (error) {
    const issues =
      error instanceof ConfigError
        ? error.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')
        : String(error);
    return {
      kind: 'not-writable',
      problem: `it changed since it was loaded and is not valid now (${issues})`,
    };
  }
  if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as typeof doc.contents;
  doc.set('server_id', serverId);
  return { kind: 'text', text: documentText(doc) };
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

function readServerIdFile(path: string): string | null {
  try {
    const id = readFileSync(path, 'utf8').trim().toLowerCase();
    return CANONICAL_LOWER_UUID.test(id) ? id : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------------------------------------------

/**
 * Key names that reach an object's prototype when used as a property name. Refused as path segments and as keys
 * anywhere in a document or a patch value: a config never needs them, and `setIn` must never walk into
 * `Object.prototype` (which would change every object of the process).
 */
const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);
const UNSAFE_KEY_MESSAGE = 'not a valid key name (__proto__, prototype and constructor are refused)';

/** The path of the first unsafe key inside `value` (objects and arrays, recursively), or null. */
export function findUnsafeKey(value: unknown, at = ''): string | null {
  const stack: Array<{ node: unknown; path: string }> = [{ node: value, path: at }];
  while (stack.length > 0) {
    const { node, path } = stack.pop() as { node: unknown; path: string };
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      node.forEach((item, i) => stack.push({ node: item, path: `${path}[${i}]` }));
      continue;
    }
    for (const key of Object.keys(node)) {
      const inner = path === '' ? key : `${path}.${key}`;
      if (UNSAFE_KEYS.has(key)) return inner;
      stack.push({ node: (node as Record<string, unknown>)[key], path: inner });
    }
  }
  return null;
}

/** Throws ConfigError naming the first unsafe key of a whole document (import, set-config, validate-config). */
export function assertSafeKeys(raw: unknown, source?: string): void {
  const unsafe = findUnsafeKey(raw);
  if (unsafe !== null) throw new ConfigError([{ path: unsafe, message: UNSAFE_KEY_MESSAGE }], source);
}

/** `tls.enabled` → ['tls','enabled']; `tail_logs[0].file` and `tail_logs.0.file` → ['tail_logs',0,'file']. */
export function parsePatchPath(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let consumed = 0;
  for (let match = re.exec(path); match; match = re.exec(path)) {
    const between = path.slice(consumed, match.index);
    if (between !== '' && between !== '.') throw new ConfigError([{ path, message: 'not a valid key path' }]);
    consumed = match.index + match[0].length;
    if (match[2] !== undefined) segments.push(Number(match[2]));
    else if (/^\d+$/.test(match[1] ?? '') && segments.length > 0) segments.push(Number(match[1]));
    else if (UNSAFE_KEYS.has(match[1] ?? '')) throw new ConfigError([{ path, message: UNSAFE_KEY_MESSAGE }]);
    else segments.push(match[1] ?? '');
  }
  if (segments.length === 0 || consumed !== path.length) {
    throw new ConfigError([{ path: path || '(empty)', message: 'not a valid key path' }]);
  }
  return segments;
}

export interface PatchOptions extends ConfigFileOptions {
  /** Only these dotted paths (and their children) may change, e.g. `EDITABLE_KEYS` for the GUI. Default: any. */
  allowedKeys?: readonly string[];
}

export interface PatchResult {
  config: AgentConfig;
  warnings: string[];
  /** Normalised dotted paths whose effective value changed. */
  changed: string[];
  /** The subset of `changed` that needs a restart of the core. */
  restartRequired: string[];
}

interface PlannedEdit {
  path: string;
  segments: (string | number)[];
  /** undefined = remove the key (back to its default). */
  value: unknown;
}

function planEdits(patch: Record<string, unknown>, options: PatchOptions): PlannedEdit[] {
  const issues: ConfigIssue[] = [];
  const edits: PlannedEdit[] = [];
  for (const [path, value] of Object.entries(patch)) {
    let segments: (string | number)[];
    try {
      segments = parsePatchPath(path);
    } catch (error) {
      if (error instanceof ConfigError) issues.push(...error.issues);
      continue;
    }
    const normalised = formatConfigPath(segments);
    if (options.allowedKeys && !isAllowed(normalised, options.allowedKeys)) {
      issues.push({ path: normalised, message: 'this key cannot be changed here' });
      continue;
    }
    const unsafe = findUnsafeKey(value, normalised);
    if (unsafe !== null) {
      issues.push({ path: unsafe, message: UNSAFE_KEY_MESSAGE });
      continue;
    }
    if (normalised === 'server_id' && (value === '' || value === null)) {
      issues.push({
        path: normalised,
        message: 'cannot be emptied (it identifies this machine to the server)',
      });
      continue;
    }
    // The GUI shows the key masked; sending the mask back means "unchanged".
    if (normalised === 'group_key' && value === GROUP_KEY_MASK) continue;
    edits.push({ path: normalised, segments, value: value === null ? undefined : value });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return edits;
}

function isAllowed(path: string, allowed: readonly string[]): boolean {
  return allowed.some((key) => path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`));
}

function setIn(root: Record<string, unknown>, segments: (string | number)[], value: unknown) {
  // parsePatchPath refuses these already; a second guard where the write happens costs nothing.
  if (segments.some((s) => typeof s === 'string' && UNSAFE_KEYS.has(s))) {
    throw new ConfigError([{ path: formatConfigPath(segments), message: UNSAFE_KEY_MESSAGE }]);
  }
  let node: Record<string | number, unknown> = root;
  for (let i = 0; i < segments.length - 1; i++) {
    const key = segments[i] as string | number;
    // Own properties only: an inherited one (from the prototype) is never descended into.
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === null || typeof next !== 'object') {
      node[key] = typeof segments[i + 1] === 'number' ? [] : {};
    }
    node = node[key] as Record<string | number, unknown>;
  }
  const last = segments[segments.length - 1] as string | number;
  if (value === undefined) {
    if (Array.isArray(node) && typeof last === 'number') node.splice(last, 1);
    else delete node[last];
  } else node[last] = structuredClone(value);
}

function getIn(root: unknown, segments: (string | number)[]): unknown {
  let node = root;
  for (const key of segments) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

function applyEditsToPlain(raw: unknown, edits: PlannedEdit[]): Record<string, unknown> {
  const merged = (raw && typeof raw === 'object' ? structuredClone(raw) : {}) as Record<string, unknown>;
  for (const edit of edits) setIn(merged, edit.segments, edit.value);
  return merged;
}

function finishPatch(
  before: AgentConfig | null,
  merged: Record<string, unknown>,
  edits: PlannedEdit[],
  options: PatchOptions,
): PatchResult {
  const { config, warnings } = parseAgentConfig(merged, { host: options.host ?? 'headless' });
  // A patch naming a key the schema does not know is a mistake of the caller, not a tolerated legacy key.
  const unknown = editsNamingUnknownKeys(edits, warnings);
  if (unknown.length > 0)
    throw new ConfigError(unknown.map((edit) => ({ path: edit.path, message: 'unknown key' })));
  const changed = edits
    .filter(
      (edit) => before === null || !sameJson(getIn(before, edit.segments), getIn(config, edit.segments)),
    )
    .map((edit) => edit.path);
  return { config, warnings, changed, restartRequired: restartRequired(changed) };
}

/**
 * Edits whose path is, or contains, a key the schema reported unknown. Linear: each unknown path is looked up by its
 * prefixes in a set of the edited paths (a patch of 20 000 unknown keys must not compare every pair).
 */
function editsNamingUnknownKeys(edits: readonly PlannedEdit[], warnings: readonly string[]): PlannedEdit[] {
  const byPath = new Map(edits.map((edit) => [edit.path, edit]));
  const hit = new Set<PlannedEdit>();
  for (const warning of warnings) {
    if (!warning.endsWith(': unknown key, ignored')) continue;
    const unknownPath = warning.split(': ')[0] ?? '';
    // `a.b[2].c` → a, a.b, a.b[2], a.b[2].c: every path that would contain it.
    for (let i = 0; i <= unknownPath.length; i++) {
      if (i < unknownPath.length && unknownPath[i] !== '.' && unknownPath[i] !== '[') continue;
      const edit = byPath.get(unknownPath.slice(0, i));
      if (edit) hit.add(edit);
    }
  }
  return edits.filter((edit) => hit.has(edit));
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Applies `{ 'dotted.path': value }` to a config and validates the result (throws ConfigError naming the paths).
 * `null`/`undefined` removes a key (back to its default); the group-key mask means "unchanged".
 */
export function applyPatch(
  config: AgentConfig,
  patch: Record<string, unknown>,
  options: PatchOptions = {},
): PatchResult {
  const edits = planEdits(patch, options);
  return finishPatch(config, applyEditsToPlain(config, edits), edits, options);
}

// ---------------------------------------------------------------------------------------------------------------
// Save
// ---------------------------------------------------------------------------------------------------------------

export type ConfigChange =
  /** Change only these dotted paths; everything else in the file (comments included) stays as it is. */
  | { patch: Record<string, unknown> }
  /** Replace the config (import). Top-level keys equal to the current effective value are left untouched. */
  | { config: Record<string, unknown> };

function setInDocument(doc: Document, segments: (string | number)[], value: unknown) {
  // `tls:` with nothing after it is a null scalar; the Document API cannot descend into it, so make it a map first.
  for (let depth = 1; depth < segments.length; depth++) {
    const parent = doc.getIn(segments.slice(0, depth), true) as YamlNode | undefined;
    if (parent === undefined || (isScalar(parent) && (parent.value === null || parent.value === ''))) {
      doc.setIn(segments.slice(0, depth), doc.createNode(typeof segments[depth] === 'number' ? [] : {}));
    } else if (!isMap(parent) && !isSeq(parent)) {
      doc.setIn(segments.slice(0, depth), doc.createNode(typeof segments[depth] === 'number' ? [] : {}));
    }
  }
  doc.setIn(segments, doc.createNode(value));
}

/**
 * Validates a change against the file's current content and writes it atomically. Returns the new effective config.
 * The server id is never removed or emptied; the masked group key is never written.
 */
export async function saveConfigFile(
  path: string,
  change: ConfigChange,
  options: PatchOptions = {},
): Promise<PatchResult> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(
        [{ path: '(file)', message: `cannot read (${(error as NodeJS.ErrnoException).code})` }],
        path,
      );
    }
  }
  const doc = parseYamlDocument(text, path);
  if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as typeof doc.contents;
  const raw = (doc.toJS() as Record<string, unknown> | null) ?? {};
  let before: AgentConfig | null = null;
  try {
    before = parseAgentConfig(raw, { host: options.host ?? 'headless' }).config;
  } catch {
    // The file is invalid today; the change may be what fixes it.
  }

  const edits =
    'patch' in change
      ? planEdits(change.patch, options)
      : planReplacement(change.config, raw, before, options);
  const result = finishPatch(before, applyEditsToPlain(raw, edits), edits, options);
  for (const edit of edits) {
    if (edit.value === undefined) doc.deleteIn(edit.segments);
    else setInDocument(doc, edit.segments, edit.value);
  }
  await writeFileAtomic(path, documentText(doc));
  // Keep a generated id the file did not have before (e.g. file recreated by an import).
  if (result.config.server_id === '' && before?.server_id) result.config.server_id = before.server_id;
  return result;
}

/** Paths (as segments) where two plain values differ: objects key by key, anything else as a whole. */
function differingPaths(a: unknown, b: unknown, at: string[], out: string[][]): void {
  const isPlain = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isPlain(a) && isPlain(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      differingPaths(a[key], b[key], [...at, key], out);
  } else if (!sameJson(a, b)) out.push(at);
}

/**
 * The patch a whole-document import amounts to when only `allowedKeys` may change: for every allowed key whose
 * effective value differs, the document's value (null = back to the default when the document leaves it out).
 * Any other key the document would change is refused by name (the import changes nothing then); keys it leaves out
 * keep their current value. The mask (or no `group_key` at all) keeps the current key; no `server_id` keeps it too.
 */
export function importPatch(
  next: Record<string, unknown>,
  current: AgentConfig,
  options: PatchOptions & { allowedKeys: readonly string[] },
): Record<string, unknown> {
  assertSafeKeys(next);
  const parsed = parseOrRethrow(next, options).config as unknown as Record<string, unknown>;
  const currentPlain = JSON.parse(JSON.stringify(current)) as Record<string, unknown>;
  const keepsKey =
    next.group_key === undefined || next.group_key === null || next.group_key === GROUP_KEY_MASK;
  const keepsServerId = next.server_id === undefined || next.server_id === null || next.server_id === '';
  // What the document would change outside the allowed keys: the parsed document with every allowed key (and the
  // kept key/id) put back to its current value, compared with the current config.
  const outside = structuredClone(parsed);
  for (const key of options.allowedKeys) {
    const segments = parsePatchPath(key);
    setIn(outside, segments, getIn(currentPlain, segments));
  }
  if (keepsKey) outside.group_key = currentPlain.group_key;
  if (keepsServerId) outside.server_id = currentPlain.server_id;
  const differing: string[][] = [];
  differingPaths(JSON.parse(JSON.stringify(outside)), currentPlain, [], differing);
  // Only what the document names: a key it leaves out keeps its value (it is not reset to its default).
  const refused = differing.filter((segments) => getIn(next, segments) !== undefined);
  if (refused.length > 0) {
    throw new ConfigError(
      refused.map((segments) => ({
        path: formatConfigPath(segments),
        message: 'this key cannot be changed by an import (edit the config file itself)',
      })),
    );
  }
  const patch: Record<string, unknown> = {};
  for (const key of options.allowedKeys) {
    if (key === 'group_key' && keepsKey) continue;
    const segments = parsePatchPath(key);
    if (sameJson(getIn(parsed, segments), getIn(currentPlain, segments))) continue;
    const given = getIn(next, segments);
    patch[key] = given === undefined ? null : given;
  }
  return patch;
}

function planReplacement(
  next: Record<string, unknown>,
  raw: Record<string, unknown>,
  before: AgentConfig | null,
  options: PatchOptions,
): PlannedEdit[] {
  if (options.allowedKeys) {
    const current = before ?? parseOrRethrow({}, options).config;
    return planEdits(importPatch(next, current, { ...options, allowedKeys: options.allowedKeys }), options);
  }
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(next)) {
    if (key === 'group_key' && value === GROUP_KEY_MASK) continue;
    if (key === 'server_id' && (value === '' || value === null || value === undefined)) continue;
    if (before && sameJson((before as Record<string, unknown>)[key], value)) continue;
    patch[key] = value;
  }
  // Keys written in the file but absent from the replacement go back to their defaults.
  for (const key of Object.keys(raw)) {
    if (!(key in next) && key !== 'server_id' && key !== 'group_key' && before && key in before)
      patch[key] = null;
  }
  return planEdits(patch, options);
}

/** True when `path` is a dotted path the GUI may edit (see `EDITABLE_KEYS`). */
export { isEditableKey };
