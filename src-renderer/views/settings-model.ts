/**
 * Form state for Settings: a draft copy of the effective config, dotted-path access, the patch of changed editable
 * keys, and inline validation with the shared zod schema (the same one the core uses to accept the save).
 */
import {
  GROUP_KEY_MASK,
  isEditableKey,
  validateAgentConfig,
  type ConfigIssue,
} from '../../src-shared/config';

export type Draft = Record<string, unknown>;

export function getPath(root: unknown, path: string): unknown {
  let node = root;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Returns a copy of `root` with `path` set; intermediate objects are created and copied, never shared. */
export function setPath(root: Draft, path: string, value: unknown): Draft {
  const parts = path.split('.');
  const copy: Draft = { ...root };
  let node = copy;
  for (let i = 0; i < parts.length - 1; i += 1) {
    const key = parts[i] as string;
    const child = node[key];
    const next =
      child !== null && typeof child === 'object' && !Array.isArray(child) ? { ...(child as Draft) } : {};
    node[key] = next;
    node = next;
  }
  node[parts[parts.length - 1] as string] = value;
  return copy;
}

/** The dotted keys the form edits (each must be editable per the shared `EDITABLE_KEYS`). */
export const FORM_KEYS = [
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
  'heartbeat_interval',
  'builtin_telemetries',
  'tail_logs',
  'commands.policy',
  'commands.allowlist',
  'commands.ask_timeout',
  'commands.timeout',
  'commands.concurrency',
  'spool.max_bytes',
  'spool.fsync',
  'updates.policy',
  'updates.channel',
  'updates.check_interval_hours',
  'updates.auto_download',
  'updates.feed_url',
  'log_level',
] as const;
export type FormKey = (typeof FORM_KEYS)[number];

/** The changed editable keys; the key is only sent when a new one was typed (the draft holds the mask otherwise). */
export function buildPatch(
  original: Draft,
  draft: Draft,
  editableKeys: readonly string[],
): Record<string, unknown> {
  const editable = (key: string): boolean =>
    editableKeys.length > 0
      ? editableKeys.some((k) => key === k || key.startsWith(`${k}.`))
      : isEditableKey(key);
  const patch: Record<string, unknown> = {};
  for (const key of FORM_KEYS) {
    if (!editable(key)) continue;
    const before = getPath(original, key);
    const after = getPath(draft, key);
    if (key === 'group_key' && (after === GROUP_KEY_MASK || after === undefined)) continue;
    if (JSON.stringify(before) !== JSON.stringify(after)) patch[key] = after;
  }
  return patch;
}

/** Inline issues keyed by config path (`streamserver_port`, `tail_logs[0].file`). */
export function validateDraft(draft: Draft): Map<string, string> {
  // The mask stands in for a stored key the renderer never sees; it is a valid string either way.
  const issues: ConfigIssue[] = validateAgentConfig(draft);
  const byPath = new Map<string, string>();
  for (const issue of issues) if (!byPath.has(issue.path)) byPath.set(issue.path, issue.message);
  return byPath;
}

/** Number inputs: keep what was typed when it is not a number, so validation can say so instead of guessing. */
export function numberFromInput(raw: string): number | string {
  if (raw.trim() === '') return raw;
  const n = Number(raw);
  return Number.isFinite(n) ? n : raw;
}

/** `spool.max_bytes` accepts sizes such as "512MiB"; plain digits become a number. */
export function sizeFromInput(raw: string): number | string {
  return /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
}

export function isFirstRun(config: Draft | null): boolean {
  return !config || !String(config.streamserver_host ?? '').trim();
}
