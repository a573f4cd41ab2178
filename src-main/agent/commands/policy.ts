/**
 * Local access control: the machine's owner decides what the server may run here (`commands.*` config keys).
 * Pure functions; the `ask` round trip lives in approvals.ts.
 */

import { INTERNAL_COMMAND_DEFAULTS, type InternalCommandName } from '../../../src-shared/config';
import { boundedArgv, cutText, SHOWN_ARGV_BYTES } from './argv';

export type CommandPolicyMode = 'deny' | 'allowlist' | 'ask' | 'allow';
export type AgentHost = 'desktop' | 'headless';

export type { InternalCommandName };

/** The internal commands this agent knows; the config schema's defaults are the single source. */
export const INTERNAL_COMMANDS = Object.keys(INTERNAL_COMMAND_DEFAULTS) as readonly InternalCommandName[];

/** Read-only internals are on; anything that changes the machine or the agent is opted into by the owner. */
export const DEFAULT_INTERNAL_PERMISSIONS: Readonly<Record<InternalCommandName, boolean>> =
  INTERNAL_COMMAND_DEFAULTS;

export interface CommandPolicyOptions {
  mode: CommandPolicyMode;
  /**
   * Used by `allowlist`. An entry is either
   *  - one word: argv[0] must match it (exact, or a glob with `*` / `?`), any arguments allowed;
   *  - several words: argv[0] and each argument must match the word at the same position; `*` inside a word matches
   *    any text, a final `**` matches any remaining arguments (none included);
   *  - and in any case an entry equal to the whole command line (argv joined by spaces) matches it exactly.
   */
  allowlist: string[];
  /** Per internal command; names not listed fall back to DEFAULT_INTERNAL_PERMISSIONS. */
  internal: Partial<Record<string, boolean>>;
  host: AgentHost;
  /** Headless: a web dashboard serves, so `ask` requests wait for someone to answer them there. */
  dashboardApprovals?: boolean;
}

export type PolicyVerdict =
  | { decision: 'allow' }
  | { decision: 'ask' }
  | { decision: 'deny'; reason: string }
  | { decision: 'unknown'; reason: string };

/** Characters that a shell interprets inside argv[0] (it is spliced into `sh -c`); globs never match them. */
const SHELL_SAFE = /^[A-Za-z0-9_./:=@,%+-]*$/;

function globToRegExp(glob: string, safeOnly: boolean): RegExp {
  const any = safeOnly ? '[A-Za-z0-9_./:=@,%+-]' : '[^]';
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += `${any}*`;
    else if (ch === '?') re += any;
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function matchesWord(pattern: string, value: string, isCommand: boolean): boolean {
  if (pattern === value) return true;
  if (!/[*?]/.test(pattern)) return false;
  // argv[0] goes through the shell: a wildcard must not let `ls;rm -rf /` pass as `ls*`.
  if (isCommand && !SHELL_SAFE.test(value)) return false;
  return globToRegExp(pattern, isCommand).test(value);
}

export function matchesAllowlistEntry(entry: string, argv: string[]): boolean {
  const trimmed = entry.trim();
  if (trimmed === '') return false;
  if (trimmed === argv.join(' ')) return true;
  const words = trimmed.split(/\s+/);
  const [command = '', ...args] = argv;
  if (words.length === 1) return matchesWord(words[0] ?? '', command, true);
  if (!matchesWord(words[0] ?? '', command, true)) return false;
  const argPatterns = words.slice(1);
  const rest = argPatterns[argPatterns.length - 1] === '**';
  const fixed = rest ? argPatterns.slice(0, -1) : argPatterns;
  if (rest ? args.length < fixed.length : args.length !== fixed.length) return false;
  return fixed.every((p, i) => matchesWord(p, args[i] ?? '', false));
}

/**
 * The command as the shell will see it, for people (approval prompt, refusals): argv[0] is shell text spliced into
 * `sh -c`, so it is shown as is — quoting it would make `ls; rm -rf ~` look like one harmless word — while the
 * arguments are data and are quoted when they contain anything a reader could take for syntax.
 */
function commandLine(argv: string[]): string {
  // Bounded: a refusal repeats at most SHOWN_ARGV_BYTES of what was sent, so every answer fits its frame.
  const { shown, mark } = boundedArgv(argv);
  const [command = '', ...args] = shown;
  const quoted = args.map((a) => (a === '' || /[\s'"\\$`;&|<>()*?!#~]/.test(a) ? JSON.stringify(a) : a));
  return [command, ...quoted, ...(mark === null ? [] : [mark])].join(' ');
}

/** `C [type, argv…]` → verdict. `type` other than external/internal is treated as an unknown command. */
export function evaluatePolicy(options: CommandPolicyOptions, type: string, argv: string[]): PolicyVerdict {
  if (type === 'internal') {
    const name = argv[0] ?? '';
    if (!(INTERNAL_COMMANDS as readonly string[]).includes(name)) {
      return { decision: 'unknown', reason: `unknown internal command: ${cutText(name, SHOWN_ARGV_BYTES)}` };
    }
    const allowed = options.internal[name] ?? DEFAULT_INTERNAL_PERMISSIONS[name as InternalCommandName];
    if (allowed) return { decision: 'allow' };
    return {
      decision: 'deny',
      reason:
        `refused by the agent's local policy: internal command '${name}' is disabled on this machine. ` +
        `The machine's owner can enable it by setting commands.internal.${name}: true in the agent config.`,
    };
  }
  if (type !== 'external') {
    return {
      decision: 'unknown',
      reason: `unknown command type: ${cutText(type, SHOWN_ARGV_BYTES)} (expected external or internal)`,
    };
  }
  if (argv.length === 0 || (argv[0] ?? '').trim() === '') {
    return { decision: 'unknown', reason: 'empty command: nothing to run' };
  }
  const line = commandLine(argv);
  switch (options.mode) {
    case 'allow':
      return { decision: 'allow' };
    case 'allowlist':
      if (options.allowlist.some((entry) => matchesAllowlistEntry(entry, argv))) return { decision: 'allow' };
      return {
        decision: 'deny',
        reason:
          `refused by the agent's local policy: '${line}' is not in commands.allowlist. ` +
          `The machine's owner can add it to commands.allowlist in the agent config (or set commands.policy: allow).`,
      };
    case 'ask':
      if (options.host === 'desktop' || options.dashboardApprovals) return { decision: 'ask' };
      return {
        decision: 'deny',
        reason:
          `refused by the agent's local policy: commands.policy is 'ask' but this agent runs headless without its ` +
          `dashboard, so nobody can approve '${line}'. The machine's owner can run the agent with ` +
          `\`minion-agent run --ui\` to approve commands in the dashboard, or set commands.policy to allowlist ` +
          `(with commands.allowlist) or allow in the agent config.`,
      };
    case 'deny':
    default:
      return {
        decision: 'deny',
        reason:
          `refused by the agent's local policy: external commands are disabled (commands.policy: deny). ` +
          `The machine's owner can allow them by setting commands.policy to allowlist (with commands.allowlist), ` +
          `ask (desktop app, or the dashboard of \`minion-agent run --ui\`) or allow in the agent config.`,
      };
  }
}

export { commandLine as formatCommandLine };
