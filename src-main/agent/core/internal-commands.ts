/** The server's `internal` commands (status, version, config get/validate/set, restart, upgrade) as the core answers them. */
import { readFileSync } from 'node:fs';
import { type InternalCommandContext } from '../commands/internal';
import { configFromYaml, configToYaml, parseYamlDocument } from '../config';
import { AGENT_VERSION } from '../version';
import { flattenToPatch } from './config-mapping';
import { type ConfigService } from './config-service';
import { type CoreState, errorMessage } from './state';
import { statusReport } from './status';

export function internalContext(
  state: CoreState,
  configService: ConfigService,
  restart: () => Promise<void>,
): InternalCommandContext {
  return {
    status: () => statusReport(state),
    version: () => ({
      agent: AGENT_VERSION,
      node: process.versions.node,
      electron: process.versions.electron ?? null,
      platform: process.platform,
      arch: process.arch,
    }),
    getConfig: () => ({ path: state.configPath, yaml: configToYaml(state.config) }),
    validateConfig: async (text) => {
      try {
        if (text === null) {
          if (!state.configPath) return { ok: true, yaml: configToYaml(state.config) };
          const { config } = configFromYaml(readFileSync(state.configPath, 'utf8'), { host: state.host });
          return { ok: true, yaml: configToYaml(config) };
        }
        const { config } = configFromYaml(text, { host: state.host });
        return { ok: true, yaml: configToYaml(config) };
      } catch (err) {
        return { ok: false, error: errorMessage(err) };
      }
    },
    setConfig: async (text) => {
      const raw = parseYamlDocument(text).toJS() as unknown;
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new Error('expected a YAML or JSON mapping of config keys');
      }
      // Merged key by key (not a replacement: a partial document must not reset the rest), and never the
      // command policy: what the server may run here is for the machine's owner to decide, locally.
      return configService.saveChange(
        { patch: flattenToPatch(raw as Record<string, unknown>) },
        { caller: 'server', waitForApply: false },
      );
    },
    restart: () => {
      void restart().catch((err) => state.log.error('restart failed', err));
    },
    upgrade: async (args) => {
      if (!state.updater) {
        return {
          stdout: '',
          stderr: 'upgrade is not available in this build of the agent (no update component)',
        };
      }
      return state.updater.upgrade(args);
    },
  };
}
