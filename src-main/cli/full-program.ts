/**
 * The whole `minion-agent` program: commander with every subcommand and extension. Its own bundle
 * (dist/cli/full-program.js), loaded by the entry point (minion-agent.ts) for every command line that is not a
 * plain `run`.
 */
import { buildProgram } from './program';
import { processIo } from './io';
import { cliExtensions } from './wiring';

export async function runFullProgram(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram((code) => (exitCode = code), processIo, cliExtensions());
  await program.parseAsync(argv);
  return exitCode;
}
