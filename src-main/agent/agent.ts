/**
 * AgentCore: the one agent the desktop app, the headless CLI and the web dashboard all run. A thin facade over its
 * pieces in `core/`:
 *
 * - `state.ts`: what the core knows (config, data dir, running parts, counters, own log), loaded at construction;
 * - `lifecycle.ts`: start/stop/restart on one chain, and the parts (spool, delivery, connection, commands,
 *   producers) a running core is made of;
 * - `config-service.ts`: config views, saves and imports through one change queue, and the live apply;
 * - `group-key.ts`: where the group key lives (keyring or YAML);
 * - `interaction.ts`: approvals and the console;
 * - `status.ts` and `internal-commands.ts`: the snapshot, the `internal status` report and the server's internal
 *   commands; `legacy-import.ts`: the original agent's spool at start; `config-mapping.ts`: config → part options.
 *
 * Everything the agent originates goes through the spool, so nothing is lost offline or across restarts.
 */
import { EventEmitter } from 'node:events';
import { type AgentConfig, type AgentHost } from '../../src-shared/config';
import {
  type ConfigView,
  type ConnectionTestResult,
  type ConsoleSendResult,
  type FieldIssue,
  type SaveResult,
} from '../../src-shared/ipc';
import { type AgentSnapshot, type LogLineView } from '../../src-shared/view-models';
import { AGENT_SERVICE, type AgentLog } from './agent-log';
import { type ApprovalSurface } from './commands/approvals';
import { type AgentCoreApi, type AgentCoreEvents, type CoreActivity } from './core-api';
import { ConfigService } from './core/config-service';
import { CoreInteraction } from './core/interaction';
import { internalContext } from './core/internal-commands';
import { CoreLifecycle } from './core/lifecycle';
import { type AgentCoreOptions, CoreState, type Parts } from './core/state';
import { unmaskedSnapshot } from './core/status';

export { type GroupKeyBackend } from './core/group-key';
export { type AgentCoreOptions, type AgentUpdaterHook, type CommandDefaults } from './core/state';
export {
  commandPolicyFromConfig,
  connectionOptionsFromConfig,
  connectionTargetDiffers,
  flattenToPatch,
  logMessageBudget,
} from './core/config-mapping';

export class AgentCore extends EventEmitter<AgentCoreEvents> implements AgentCoreApi {
  readonly host: AgentHost;
  readonly configPath: string | null;
  readonly log: AgentLog;
  private readonly state: CoreState;
  private readonly lifecycle: CoreLifecycle;
  private readonly configService: ConfigService;
  private readonly interaction: CoreInteraction;

  constructor(options: AgentCoreOptions) {
    super();
    this.state = new CoreState(options, this.emit.bind(this));
    this.host = this.state.host;
    this.configPath = this.state.configPath;
    this.log = this.state.log;
    this.lifecycle = new CoreLifecycle(this.state, () =>
      internalContext(this.state, this.configService, () => this.restart()),
    );
    this.configService = new ConfigService(this.state, this.lifecycle);
    this.interaction = new CoreInteraction(this.state);
    // Nobody watching the wire (no console, no --debug, no dashboard): the connection builds no trace entries.
    // (The typed emitter does not list EventEmitter's own listener events.) 'newListener' fires just before the
    // listener is added, 'removeListener' just after it is removed.
    const untyped = this as unknown as EventEmitter;
    // Likewise the delivery pump's status (a spool view with decoded recent frames, every 250 ms while frames flow)
    // and the once-a-second spool status are built only while someone listens to 'spool'.
    untyped.on('newListener', (event: string | symbol) => {
      if (event === 'wire') this.state.setWireWatched(true);
      if (event === 'spool') this.state.setSpoolWatched(true);
    });
    untyped.on('removeListener', (event: string | symbol) => {
      if (event === 'wire') this.state.setWireWatched(this.listenerCount('wire') > 0);
      if (event === 'spool') this.state.setSpoolWatched(this.listenerCount('spool') > 0);
    });
  }

  get dataDir(): string {
    return this.state.dataDirValue;
  }

  /** The effective config (group key in clear: for the process only, never for display). */
  get effectiveConfig(): AgentConfig {
    return this.state.config;
  }

  /** The running parts (null when stopped); tests look inside. */
  private get parts(): Parts | null {
    return this.state.parts;
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  start(): Promise<void> {
    return this.lifecycle.start();
  }

  stop(): Promise<void> {
    return this.lifecycle.stop();
  }

  /** Stops and starts again with the current config (restart-required keys take effect). Same process. */
  restart(): Promise<void> {
    return this.lifecycle.restart();
  }

  // ---- AgentCoreApi ------------------------------------------------------------------------------------------

  snapshot(): AgentSnapshot {
    return this.state.masked(unmaskedSnapshot(this.state));
  }

  /** What an automatic update install would interrupt (it waits until all of it is zero). */
  activity(): CoreActivity {
    const parts = this.parts;
    const counters = parts?.commands.counters();
    const spool = parts?.pump.view();
    return {
      runningCommands: counters?.running ?? 0,
      queuedCommands: counters?.queued ?? 0,
      pendingApprovals: counters?.awaitingApproval ?? 0,
      queuedFrames: spool ? Object.values(spool.perClass).reduce((sum, c) => sum + c.queuedFrames, 0) : 0,
    };
  }

  pause(): void {
    this.parts?.connection.pause();
  }

  resume(): void {
    this.parts?.connection.resume();
  }

  reconnectNow(): void {
    this.parts?.connection.reconnectNow();
  }

  recentLogs(limit: number): LogLineView[] {
    return this.log.recent(limit);
  }

  configView(): ConfigView {
    return this.configService.configView();
  }

  validateConfig(patch: Record<string, unknown>): FieldIssue[] {
    return this.configService.validateConfig(patch);
  }

  saveConfig(patch: Record<string, unknown>): Promise<SaveResult> {
    return this.configService.saveConfig(patch);
  }

  importYaml(yaml: string): Promise<SaveResult> {
    return this.configService.importYaml(yaml);
  }

  exportYaml(): string {
    return this.configService.exportYaml();
  }

  testConnection(patch: Record<string, unknown>): Promise<ConnectionTestResult> {
    return this.configService.testConnection(patch);
  }

  decideApproval(id: string, approve: boolean): boolean {
    return this.interaction.decideApproval(id, approve);
  }

  openApprovalSurface(): ApprovalSurface {
    return this.interaction.openApprovalSurface();
  }

  consoleSend(line: string): Promise<ConsoleSendResult> {
    return this.interaction.consoleSend(line);
  }
}

export { AGENT_SERVICE };
