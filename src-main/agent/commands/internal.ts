/**
 * Internal commands (`C ["internal", name, …]`, protocol.md §6.2). Unlike the original, every one answers, the
 * counters are real, `set-config` reads its argument, and `restart` / `upgrade` do something.
 * The agent's state is reached through `InternalCommandContext`, implemented by the facade.
 */

export interface InternalCommandContext {
  /** Real counters and state, as a JSON-able object. */
  status(): Record<string, unknown>;
  /** Agent version, runtime (Node/Electron) and platform. */
  version(): Record<string, unknown>;
  /** The effective config as YAML with secrets redacted, and its file path. */
  getConfig(): { path: string | null; yaml: string };
  /** Validates YAML/JSON text (or the config file when `text` is null): normalised YAML, or a readable error. */
  validateConfig(text: string | null): Promise<{ ok: true; yaml: string } | { ok: false; error: string }>;
  /** Validates, writes atomically and applies a config given as YAML or JSON. Throws with a readable message. */
  setConfig(text: string): Promise<{ applied: string[]; restartRequired: string[] }>;
  /** Restarts the agent core; called only after the answer has been handed to the spool. */
  restart(): void;
  /** Hands over to the upgrade component (which applies `updates.policy`); its reply is the answer. */
  upgrade(args: string[]): Promise<{ stdout: string; stderr: string }>;
}

export interface InternalOutcome {
  stdout: string;
  stderr: string;
  /** The command failed (counted as an error; the UI shows it). */
  failed: boolean;
  /** Work to do after the answer is queued (restart must not kill the answer). */
  after?: () => void;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function runInternalCommand(
  name: string,
  args: string[],
  ctx: InternalCommandContext,
): Promise<InternalOutcome> {
  try {
    switch (name) {
      case 'status':
        return { stdout: JSON.stringify(ctx.status()), stderr: '', failed: false };
      case 'version':
        return { stdout: JSON.stringify(ctx.version()), stderr: '', failed: false };
      case 'get-config': {
        const { path, yaml } = ctx.getConfig();
        // Same shape as the original (`{"path", "config": <text>}`), but the text is redacted.
        return { stdout: JSON.stringify({ path, config: yaml }), stderr: '', failed: false };
      }
      case 'validate-config': {
        const result = await ctx.validateConfig(args[0] ?? null);
        return result.ok
          ? { stdout: result.yaml, stderr: '', failed: false }
          : { stdout: '', stderr: result.error, failed: true };
      }
      case 'set-config': {
        const text = args[0];
        if (text === undefined || text.trim() === '') {
          return {
            stdout: '',
            stderr: 'set-config needs the new config (YAML or JSON) as its argument',
            failed: true,
          };
        }
        const saved = await ctx.setConfig(text);
        return { stdout: JSON.stringify(saved), stderr: '', failed: false };
      }
      case 'restart':
        return { stdout: 'restarting the agent core', stderr: '', failed: false, after: () => ctx.restart() };
      case 'upgrade': {
        const reply = await ctx.upgrade(args);
        return { stdout: reply.stdout, stderr: reply.stderr, failed: reply.stderr !== '' };
      }
      default:
        return { stdout: '', stderr: `unknown internal command: ${name}`, failed: true };
    }
  } catch (err) {
    return { stdout: '', stderr: `${name} failed: ${message(err)}`, failed: true };
  }
}
