/**
 * Entry point of the headless `minion-agent` (bundled to dist/cli/minion-agent.js with a node shebang).
 * Plugs the other modules' commands into the program and sets the exit code.
 */
import { buildProgram } from './program';
import { processIo } from './io';
import { cliExtensions } from './wiring';

export async function main(argv: string[] = process.argv): Promise<number> {
  let exitCode = 0;
  const program = buildProgram((code) => (exitCode = code), processIo, cliExtensions());
  await program.parseAsync(argv);
  return exitCode;
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
