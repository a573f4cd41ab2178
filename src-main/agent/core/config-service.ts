/**
 * Config editing: views, validation, saves and imports from the settings view, the server's `set-config`, and
 * the live apply of saved changes to the running parts. Every change passes one queue, one at a time, so each reads
 * what the previous one wrote; applying goes through the lifecycle chain in save order.
 */
import {
  type AgentConfig,
  type ConfigCaller,
  ConfigError,
  EDITABLE_KEYS,
  GROUP_KEY_MASK,
  redactConfig,
  settableKeys,
} from '../../../src-shared/config';
import {
  type ConfigView,
  type ConnectionTestResult,
  type FieldIssue,
  type SaveResult,
} from '../../../src-shared/ipc';
import {
  applyPatch,
  configToYaml,
  importPatch,
  parseYamlDocument,
  saveConfigFile,
  type PatchResult,
} from '../config';
import { testConnection } from '../connection/connection';
import { ConfigPatchError } from '../core-api';
import {
  commandPolicyFromConfig,
  connectionOptionsFromConfig,
  connectionTargetDiffers,
  runnerOptions,
} from './config-mapping';
import { type ConfigChange, keyStorage, routeGroupKey } from './group-key';
import { type CoreLifecycle } from './lifecycle';
import { type CoreState, errorMessage } from './state';

/** Keys a live change of which is applied without rebuilding anything. */
const CHEAP_KEYS = ['commands', 'log_level'];

function toFieldIssues(err: unknown): FieldIssue[] | null {
  return err instanceof ConfigError ? err.issues.map((i) => ({ path: i.path, message: i.message })) : null;
}

function isUnder(path: string, keys: readonly string[]): boolean {
  return keys.some((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`));
}

export class ConfigService {
  /** Every config change (GUI save, import, server set-config) passes here, one at a time. */
  private configChanges: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly state: CoreState,
    private readonly lifecycle: CoreLifecycle,
  ) {}

  configView(): ConfigView {
    const state = this.state;
    return {
      config: JSON.parse(JSON.stringify(redactConfig(state.config))) as Record<string, unknown>,
      editableKeys: [...EDITABLE_KEYS],
      configPath: state.configPath,
      keyStorage: keyStorage(state),
      groupKeySet: state.config.group_key !== '',
    };
  }

  validateConfig(patch: Record<string, unknown>): FieldIssue[] {
    try {
      applyPatch(this.state.config, patch, { host: this.state.host, allowedKeys: settableKeys('gui') });
      return [];
    } catch (err) {
      const issues = toFieldIssues(err);
      if (issues) return issues;
      return [{ path: '(root)', message: errorMessage(err) }];
    }
  }

  async saveConfig(patch: Record<string, unknown>): Promise<SaveResult> {
    return this.saveChange({ patch }, { caller: 'gui', waitForApply: true });
  }

  async importYaml(yaml: string): Promise<SaveResult> {
    let raw: unknown;
    try {
      raw = parseYamlDocument(yaml).toJS() as unknown;
    } catch (err) {
      throw new ConfigPatchError(toFieldIssues(err) ?? [{ path: '(yaml)', message: errorMessage(err) }]);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigPatchError([
        { path: '(root)', message: 'expected a mapping of keys (YAML `key: value` lines)' },
      ]);
    }
    return this.saveChange(
      { config: raw as Record<string, unknown> },
      { caller: 'import', waitForApply: true },
    );
  }

  exportYaml(): string {
    return configToYaml(this.state.config);
  }

  async testConnection(patch: Record<string, unknown>): Promise<ConnectionTestResult> {
    const state = this.state;
    let candidate: AgentConfig;
    try {
      candidate = applyPatch(state.config, patch, { host: state.host }).config;
    } catch (err) {
      const issues = toFieldIssues(err);
      return {
        ok: false,
        state: 'idle',
        explanation: `Invalid settings: ${issues ? issues.map((i) => `${i.path}: ${i.message}`).join('; ') : errorMessage(err)}`,
        fixHint: 'Fix the highlighted fields.',
        durationMs: 0,
      };
    }
    const options = connectionOptionsFromConfig(candidate);
    const keyRetyped =
      typeof patch.group_key === 'string' && patch.group_key !== '' && patch.group_key !== GROUP_KEY_MASK;
    if (!keyRetyped && options.groupKey !== '' && connectionTargetDiffers(state.config, candidate)) {
      // The saved key authenticates to the saved server only: a patch naming another host, port or TLS target must
      // come with the key typed again, or a dashboard session could send it anywhere.
      return {
        ok: false,
        state: 'idle',
        explanation:
          'Enter the group key again to test another server: the saved key is only sent to the saved server ' +
          `(${state.config.streamserver_host}:${state.config.streamserver_port}).`,
        fixHint: 'Type the group key into the group key field, then test again.',
        durationMs: 0,
      };
    }
    // The test authenticates with our server id: a generated one must be on disk first, like for the start.
    await state.serverIdPersisted();
    const result = await testConnection(options);
    // The server routes commands to the last connection that authenticated with a server id (protocol §14), so a
    // successful test under our own id steals them from the live connection: re-authenticate it to take them back.
    const live = state.parts?.connection;
    if (result.ok && live?.isReady() && options.serverId === state.config.server_id) live.reconnectNow();
    return result;
  }

  /**
   * One change of the config, from any caller. The change itself (validate, write, take over in memory) runs in the
   * config queue, one at a time, so each change reads what the previous one wrote and none is lost. Applying it to
   * the running parts is not part of the queue: a server's `set-config` runs inside a command that a rebuild waits
   * for, so only the GUI and imports wait for the apply.
   */
  async saveChange(
    change: ConfigChange,
    options: { caller: ConfigCaller; waitForApply: boolean },
  ): Promise<SaveResult> {
    const queued = this.configChanges.then(() => this.writeChange(change, options.caller));
    this.configChanges = queued.catch(() => undefined);
    const { saved, applying } = await queued;
    if (options.waitForApply) await applying;
    else applying.catch((err) => this.state.log.error('applying the new config failed', err));
    return saved;
  }

  /** Validates and writes one change (only the keys `caller` may set), and starts applying it. Queued by saveChange. */
  private async writeChange(
    change: ConfigChange,
    caller: ConfigCaller,
  ): Promise<{ saved: SaveResult; applying: Promise<void> }> {
    const state = this.state;
    // A generated server id still being written into the file would race this save and could undo it.
    await state.serverIdPersisted();
    const allowedKeys = settableKeys(caller);
    const keyBefore = state.config.group_key;
    const routed = routeGroupKey(state, change);
    change = routed.change;
    let result: PatchResult;
    try {
      if (state.configPath) {
        result = await saveConfigFile(state.configPath, change, { host: state.host, allowedKeys });
      } else {
        const patch =
          'patch' in change
            ? change.patch
            : importPatch(change.config, state.config, { host: state.host, allowedKeys });
        result = applyPatch(state.config, patch, { host: state.host, allowedKeys });
      }
    } catch (err) {
      routed.undo();
      const issues = toFieldIssues(err);
      if (issues) throw new ConfigPatchError(issues);
      throw err;
    }
    let next =
      result.config.server_id === ''
        ? { ...result.config, server_id: state.config.server_id }
        : result.config;
    if (state.keyInStore) {
      // The YAML has no key: the effective one is the stored one (just saved, or kept from before).
      const key = routed.storedKey ?? keyBefore;
      next = { ...next, group_key: key };
      const others = result.changed.filter((p) => p !== 'group_key');
      result = { ...result, changed: key !== keyBefore ? [...others, 'group_key'] : others };
    }
    const restartRequired = result.restartRequired;
    const live = result.changed.filter((p) => !restartRequired.includes(p));
    for (const key of restartRequired) state.pendingRestartKeys.add(key);
    state.config = next;
    state.log.addSecret(next.group_key);
    state.reportConfigWarnings(result.warnings);
    const applying = this.applyLive(live);
    if (result.changed.length > 0) {
      state.log.info(
        `config saved by ${caller === 'gui' ? 'the settings view' : caller === 'import' ? 'an import' : 'the server'}: ` +
          `${live.length > 0 ? `applied ${live.join(', ')}` : 'nothing to apply live'}` +
          (restartRequired.length > 0 ? `; restart needed for ${restartRequired.join(', ')}` : ''),
      );
    }
    return { saved: { applied: live, restartRequired }, applying };
  }

  /** The saved config, with restart-required keys (of any save since the start) kept at their running value. */
  private effectiveConfigNow(): AgentConfig {
    const effective = structuredClone(this.state.config) as Record<string, unknown>;
    for (const key of this.state.pendingRestartKeys) {
      const top = key.split(/[.[]/)[0] ?? key;
      effective[top] = structuredClone((this.state.running as Record<string, unknown>)[top]);
    }
    return effective as AgentConfig;
  }

  /**
   * Applies saved changes to the running parts. Through the lifecycle chain, so applies happen in the order of the
   * saves and never interleave with a rebuild, and each reads the latest effective config when it runs: a rebuild
   * queued by an earlier save can never bring back a value a later save replaced.
   */
  private applyLive(changed: string[]): Promise<void> {
    const state = this.state;
    if (changed.length === 0) return Promise.resolve();
    if (changed.some((p) => p === 'log_level')) state.log.setLevel(state.config.log_level);
    const cheap = changed.every((p) => isUnder(p, CHEAP_KEYS));
    return this.lifecycle.serialize(async () => {
      const effective = this.effectiveConfigNow();
      const parts = state.parts;
      if (!parts) {
        state.running = effective;
        return;
      }
      if (cheap) {
        parts.commands.configure({
          policy: commandPolicyFromConfig(effective, state.host),
          runner: runnerOptions(effective, this.state.commandDefaults),
          approvalTimeoutMs: effective.commands.ask_timeout * 1000,
        });
        state.running = effective;
        return;
      }
      // Anything else (connection, tail, telemetry, spool…): rebuild the parts with the new values. The spool and
      // the checkpoints keep every frame and position across it, exactly like a restart.
      await this.lifecycle.stopParts();
      await this.lifecycle.startParts(effective);
    });
  }
}
