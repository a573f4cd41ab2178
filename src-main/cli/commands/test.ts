/**
 * `minion-agent test` (the original's `-t`): connect and authenticate once, print the outcome in one line with
 * its explanation and fix hint, exit 0 when accepted and 1 otherwise. No retry.
 */
import { type ConnectionOptions, testConnection } from '../../agent/connection/connection';

export async function runTestCommand(opts: ConnectionOptions, out: (line: string) => void): Promise<number> {
  const outcome = await testConnection(opts);
  const where = `${opts.host}:${opts.port}${opts.tls?.enabled ? ' (TLS)' : ''}`;
  if (outcome.ok) {
    out(`OK: ${where} accepted group ${opts.groupId} / server ${opts.serverId} in ${outcome.durationMs} ms`);
    return 0;
  }
  const hint = outcome.fixHint ? ` ${outcome.fixHint}` : '';
  out(`FAILED (${outcome.state}) after ${outcome.durationMs} ms: ${outcome.explanation}${hint}`);
  return 1;
}
