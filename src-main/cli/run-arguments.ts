/**
 * The command lines that only run the agent (`run`, bare `minion-agent`, `-r`), recognised without commander: the
 * entry point (minion-agent.ts) then starts the agent from the small run-only bundle, and the full program (every
 * subcommand, commander, the REPL, the updater …) is never loaded into a long-running agent. Anything else, and
 * anything unusual about a run line (help, a repeated or inline short option, a value that looks like an option, an
 * unknown word), returns null and goes to the full program, which parses it as it always did. So this only has to
 * agree with commander on the lines it accepts (test/cli/run-arguments.test.ts compares the two).
 */
import { type RunInvocation } from './run';

/** A port the way the program's `--ui-port` parser takes it (a whole number 0…65535), or null. */
function portOf(value: string): number | null {
  const port = Number(value);
  return Number.isInteger(port) && port >= 0 && port <= 65_535 ? port : null;
}

/** `args` without node and the script (process.argv.slice(2)); null when the full program must parse them. */
export function parseRunArguments(args: readonly string[]): RunInvocation | null {
  const invocation: RunInvocation = { logFormat: 'text', debug: false };
  const seen = new Set<string>();
  let inRun = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!inRun && arg === 'run') {
      inRun = true;
      continue;
    }
    // `--name=value` for the long options; short options only as `-c FILE` (commander also takes `-cFILE`).
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const takesValue = inRun
      ? name === '--ui-port' || name === '--data-dir'
      : name === '-c' || name === '--config' || name === '--log-format';
    const flag = inRun ? name === '--ui' : name === '--debug' || name === '-r' || name === '--run';
    if (!takesValue && !flag) return null;
    // A repeated option: commander keeps the last value; rare enough to leave to it.
    const key = name === '-c' ? '--config' : name === '-r' ? '--run' : name;
    if (seen.has(key)) return null;
    seen.add(key);
    if (flag) {
      if (eq > 0) return null;
      if (name === '--debug') invocation.debug = true;
      else if (name === '--ui') invocation.ui = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return null;
    if (key === '--config') invocation.config = value;
    else if (key === '--data-dir') invocation.dataDir = value;
    else if (key === '--log-format') {
      if (value !== 'text' && value !== 'json') return null;
      invocation.logFormat = value;
    } else {
      const port = portOf(value);
      if (port === null) return null;
      invocation.uiPort = port;
    }
  }
  return invocation;
}
