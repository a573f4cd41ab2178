/**
 * `minion-agent version` / `-v`: the original printed just the version; `version` adds runtime details.
 */
import { AGENT_NAME, AGENT_VERSION } from '../agent/version';
import { type CliIo, EXIT_OK } from './io';

export function versionInfo(): Record<string, string | null> {
  return {
    agent: AGENT_VERSION,
    node: process.versions.node,
    electron: process.versions.electron ?? null,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function printVersion(io: CliIo, detailed: boolean): number {
  if (!detailed) {
    io.out(AGENT_VERSION);
    return EXIT_OK;
  }
  const info = versionInfo();
  io.out(`${AGENT_NAME} ${AGENT_VERSION} (node ${info.node}, ${info.platform})`);
  return EXIT_OK;
}
