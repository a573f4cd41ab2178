/**
 * Entry point of the headless `minion-agent` (bundled to dist/cli/minion-agent.js with a node shebang). A plain
 * `run` (also bare `minion-agent` and `-r`), the long-running agent, starts from this bundle, which holds only the
 * core and what `run` needs: its idle footprint is what it compiles and initialises (docs/performance.md, round 3).
 * Every other command line goes to the full program (commander, every subcommand), a bundle of its own
 * (dist/cli/full-program.js) loaded only then.
 */
import { processIo } from './io';
import { parseRunArguments } from './run-arguments';
import { runExtensions } from './run-extensions';
import { startRun } from './run';

export async function main(argv: string[] = process.argv): Promise<number> {
  const invocation = parseRunArguments(argv.slice(2));
  if (invocation) return startRun(invocation, processIo, runExtensions());
  const { runFullProgram } = await import('./full-program');
  return runFullProgram(argv);
}

// Bundled as CommonJS: run when executed, not when imported (tests import `main`).
if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
      // A clean stop leaves nothing running; exit anyway so a stray handle cannot keep a stopped agent alive.
      setTimeout(() => process.exit(code), 200).unref();
    },
    (err: unknown) => {
      process.stderr.write(
        `minion-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
