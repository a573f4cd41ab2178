/**
 * Which module provides which CLI extension. Kept apart from the entry point so the whole program (with every
 * extension) can be built in tests.
 */
import { join } from 'node:path';
import { loadConfigFile } from '../agent/config';
import { testConnection } from '../agent/connection/connection';
import { connectionOptionsFromConfig } from '../agent/agent';
import { type CliExtensions } from './extensions';
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io';
import { missingConnectionKeys } from './config-cmd';

/** `test` / `-t`: one connect + auth, like the original's `-t` (exit 0 accepted, 1 otherwise). */
export async function testCommand(configPath: string, io: CliIo): Promise<number> {
  let config;
  try {
    config = loadConfigFile(configPath, { host: 'headless' }).config;
  } catch (err) {
    io.err(err instanceof Error ? err.message : String(err));
    return EXIT_USAGE;
  }
  const missing = missingConnectionKeys(config);
  if (missing.length > 0) {
    io.err(`cannot test: ${missing.join(', ')} not set in ${configPath}`);
    return EXIT_USAGE;
  }
  const outcome = await testConnection(connectionOptionsFromConfig(config));
  const line = `${outcome.state}: ${outcome.explanation}${outcome.fixHint ? ` — ${outcome.fixHint}` : ''} (${outcome.durationMs} ms)`;
  if (outcome.ok) io.out(line);
  else io.err(line);
  return outcome.ok ? EXIT_OK : EXIT_FAILURE;
}

export function rendererDir(): string {
  // dist/cli/minion-agent.js → dist/renderer
  return join(__dirname, '..', 'renderer');
}

export function cliExtensions(): CliExtensions {
  return {
    test: testCommand,
  };
}
