/**
 * `minion-agent config validate`: checks a config file without changing it (no server id is generated here).
 */
import { readFileSync } from 'node:fs';
import { type AgentConfig, ConfigError } from '../../src-shared/config';
import { configFromYaml } from '../agent/config';
import { type CliIo, EXIT_OK, EXIT_USAGE } from './io';

/** Keys a running agent cannot do without; empty means the config can connect. */
export function missingConnectionKeys(config: AgentConfig): string[] {
  const missing: string[] = [];
  if (config.streamserver_host.trim() === '') missing.push('streamserver_host');
  if (config.group_id.trim() === '') missing.push('group_id');
  if (config.group_key === '') missing.push('group_key');
  return missing;
}

export function validateConfigCommand(path: string | null, io: CliIo): number {
  if (!path) {
    io.err('no config file: pass -c FILE or set CONFIG=FILE');
    return EXIT_USAGE;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.err(`${path}: ${code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(err)})`}`);
    return EXIT_USAGE;
  }
  try {
    const { config, warnings } = configFromYaml(text, { host: 'headless' });
    for (const w of warnings) io.err(`warning: ${w}`);
    for (const key of missingConnectionKeys(config))
      io.err(`warning: ${key}: not set; the agent cannot connect`);
    if (config.server_id === '')
      io.err('note: server_id not set; it is generated and saved on the first run');
    io.out(
      `${path}: valid — server ${config.streamserver_host || '(none)'}:${config.streamserver_port}, ` +
        `group ${config.group_id || '(none)'}, ${config.tail_logs.length} tailed log(s), ` +
        `${config.builtin_telemetries.length + config.telemetries.length} telemetry source(s), ` +
        `commands.policy ${config.commands.policy}`,
    );
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`${path}: invalid config`);
      for (const issue of err.issues) io.err(`  ${issue.path}: ${issue.message}`);
      return EXIT_USAGE;
    }
    throw err;
  }
}
