/**
 * The web dashboard of the headless agent (`run --ui`, or `ui.enabled: true` in the config). Its own bundle
 * (dist/cli/dashboard.js): the run-only entry and the full program load it when a dashboard starts, so an agent
 * without one never compiles the web server, ws or the IPC request schemas. It talks to the core only through
 * the core's API object, so the core may come from another bundle.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type UpdateView } from '../../src-shared/view-models';
import { blankUpdateView } from '../../src-shared/update-view';
import { type UpdatesApi } from '../../src-shared/ipc';
import { type AgentCore } from '../agent/agent';
import { AGENT_VERSION } from '../agent/version';
import { InvokeFailure } from '../bridge/invoke-failure';
import { type StartedUi } from './extensions';

export function rendererDir(): string {
  // dist/cli/minion-agent.js → dist/renderer
  return join(__dirname, '..', 'renderer');
}

function offView(): UpdateView {
  return blankUpdateView({ state: 'off', currentVersion: AGENT_VERSION, policy: 'off' });
}

/**
 * The dashboard's update panel in the headless agent: it shows the state; updating a service is done with
 * `minion-agent upgrade` (or by the server's `internal upgrade`), so the buttons explain that instead.
 */
function headlessDashboardUpdates(core: AgentCore): UpdatesApi {
  const refuse = (): Promise<UpdateView> =>
    Promise.reject(
      new InvokeFailure('In the headless agent, run `minion-agent upgrade` on the machine to update.'),
    );
  return {
    view: () => core.snapshot().updates ?? offView(),
    check: refuse,
    download: refuse,
    install: refuse,
    on: () => undefined,
    off: () => undefined,
  };
}

/**
 * `run --ui`: the web dashboard for `core` (`dir`: the built renderer; tests pass their own), and the local link
 * channel through which `minion-agent ui` gets a fresh link. Without the channel the dashboard still serves; the
 * notice says why no fresh link can be had.
 */
export async function startUi(
  core: AgentCore,
  port: number | undefined,
  dir: string = rendererDir(),
): Promise<StartedUi> {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(`the dashboard files are missing in ${dir} (run npm run build)`);
  }
  const { startWebDashboard } = await import('../bridge/web-server');
  const dashboard = await startWebDashboard({
    core,
    updates: headlessDashboardUpdates(core),
    port: port ?? core.effectiveConfig.ui.port,
    rendererDir: dir,
  });
  const notices: string[] = [];
  const { startLinkChannel } = await import('../bridge/link-channel');
  const channel = await startLinkChannel({
    dataDir: core.dataDir,
    mint: ({ endSessions }) => dashboard.freshLink({ endSessions }),
  }).catch((err: unknown) => {
    notices.push(
      `dashboard: \`minion-agent ui\` cannot give fresh links to this agent: ${err instanceof Error ? err.message : String(err)}`,
    );
    return null;
  });
  if (channel) notices.push('dashboard: the link works once; `minion-agent ui` prints a fresh one');
  return {
    url: dashboard.url,
    notices,
    close: async () => {
      await channel?.close();
      await dashboard.close();
    },
  };
}
