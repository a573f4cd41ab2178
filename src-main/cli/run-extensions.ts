/**
 * What `run` needs besides the core, for both the run-only entry and the full program: the server's `internal
 * upgrade` handler and the web dashboard, each loaded only when used (the dashboard is its own bundle,
 * dist/cli/dashboard.js; see scripts/build.mjs).
 */
import { headlessUpdaterHook } from './commands/updater-hook';
import { type CliExtensions } from './extensions';

export function runExtensions(): Pick<CliExtensions, 'updater' | 'startUi'> {
  return {
    updater: headlessUpdaterHook,
    startUi: async (core, port) => (await import('./dashboard')).startUi(core, port),
  };
}
