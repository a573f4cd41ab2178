/**
 * The invoke side of the IPC contract, shared by the Electron shell (ipcMain) and the headless web bridge (WebSocket).
 * Plain Node: no Electron import, so `minion-agent run --ui` serves the same handlers with the same validation.
 */
import type { AgentCoreApi } from '../agent/core-api';
import { ConfigPatchError } from '../agent/core-api';
import {
  INVOKE_CHANNELS,
  InvokeChannel,
  requestSchemas,
  type FieldIssue,
  type InvokeResponses,
  type IpcResult,
  type UpdatesApi,
} from '../../src-shared/ipc';
import { InvokeFailure } from './invoke-failure';

export type SandboxInfo = InvokeResponses[typeof InvokeChannel.SandboxStart];

export interface InvokeHandlerDeps {
  core: AgentCoreApi;
  updates: UpdatesApi;
  /** Opens the data folder in the OS file manager and returns its path. Absent in the web bridge: the path is shown. */
  openDataFolder?: () => Promise<string>;
  /** Starts a local sandbox server and points the config at it. Absent when the host cannot run one. */
  startSandbox?: () => Promise<SandboxInfo>;
}

/** Handlers receive an already validated payload. */
type PayloadOf<C extends InvokeChannel> = ReturnType<(typeof requestSchemas)[C]['parse']>;

export type InvokeHandlers = {
  [C in InvokeChannel]: (payload: PayloadOf<C>) => Promise<InvokeResponses[C]> | InvokeResponses[C];
};

export { InvokeFailure };

export function createInvokeHandlers(deps: InvokeHandlerDeps): InvokeHandlers {
  const { core, updates } = deps;
  return {
    // The core does not know the update service; the snapshot the renderer starts from includes both.
    [InvokeChannel.Snapshot]: () => ({ ...core.snapshot(), updates: updates.view() }),
    [InvokeChannel.Pause]: () => {
      core.pause();
      return core.snapshot().connection;
    },
    [InvokeChannel.Resume]: () => {
      core.resume();
      return core.snapshot().connection;
    },
    [InvokeChannel.ReconnectNow]: () => {
      core.reconnectNow();
      return core.snapshot().connection;
    },
    [InvokeChannel.RecentLogs]: ({ limit }) => core.recentLogs(limit),
    [InvokeChannel.ConfigGet]: () => core.configView(),
    [InvokeChannel.ConfigValidate]: ({ patch }) => ({ issues: core.validateConfig(patch) }),
    [InvokeChannel.ConfigSave]: ({ patch }) => core.saveConfig(patch),
    [InvokeChannel.ConfigTestConnection]: ({ patch }) => core.testConnection(patch),
    [InvokeChannel.ConfigImportYaml]: ({ yaml }) => core.importYaml(yaml),
    [InvokeChannel.ConfigExportYaml]: () => ({ yaml: core.exportYaml() }),
    [InvokeChannel.ApprovalDecide]: ({ id, approve }) => ({ decided: core.decideApproval(id, approve) }),
    [InvokeChannel.ConsoleSend]: ({ line }) => core.consoleSend(line),
    [InvokeChannel.UpdatesCheck]: () => updates.check(),
    [InvokeChannel.UpdatesDownload]: () => updates.download(),
    [InvokeChannel.UpdatesInstall]: () => updates.install(),
    [InvokeChannel.SandboxStart]: () => {
      if (!deps.startSandbox) throw new InvokeFailure('This host cannot start a local sandbox server.');
      return deps.startSandbox();
    },
    [InvokeChannel.OpenDataFolder]: async () => {
      if (deps.openDataFolder) return { path: await deps.openDataFolder() };
      // Headless: there is no file manager to open, so the page shows where the data lives.
      return { path: core.snapshot().dataDir };
    },
  };
}

export function isInvokeChannel(channel: unknown): channel is InvokeChannel {
  return typeof channel === 'string' && (INVOKE_CHANNELS as readonly string[]).includes(channel);
}

export type IpcError = Extract<IpcResult<never>, { ok: false }>['error'];

export function ipcError(
  code: IpcError['code'],
  message: string,
  issues?: FieldIssue[],
): { ok: false; error: IpcError } {
  return { ok: false, error: issues ? { code, message, issues } : { code, message } };
}

/** Zod issues → the contract's field issues (dotted paths; the root is ''). */
export function zodIssuesToFieldIssues(
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
): FieldIssue[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

function isConfigPatchError(error: unknown): error is { message: string; issues: FieldIssue[] } {
  if (error instanceof ConfigPatchError) return true;
  // Bundles may hold two copies of the class; trust the shape too.
  return (
    error instanceof Error &&
    error.name === 'ConfigPatchError' &&
    Array.isArray((error as { issues?: unknown }).issues)
  );
}

/** Turns anything a handler throws into an error value the renderer can show. */
export function errorToResult(error: unknown): { ok: false; error: IpcError } {
  if (isConfigPatchError(error)) return ipcError('invalid-request', error.message, error.issues);
  if (error instanceof Error) return ipcError('failed', error.message || error.name);
  return ipcError('failed', String(error));
}

/**
 * Validates an untrusted (channel, payload) pair against the contract, runs the handler and returns an `IpcResult`.
 * Never rejects: bad input and handler failures become error values.
 */
export async function dispatchInvoke(
  handlers: InvokeHandlers,
  channel: unknown,
  payload: unknown,
): Promise<IpcResult<InvokeResponses[InvokeChannel]>> {
  if (!isInvokeChannel(channel)) {
    return ipcError('invalid-request', `Unknown channel ${JSON.stringify(String(channel)).slice(0, 120)}`);
  }
  const parsed = requestSchemas[channel].safeParse(payload);
  if (!parsed.success) {
    return ipcError(
      'invalid-request',
      `Invalid request for ${channel}`,
      zodIssuesToFieldIssues(parsed.error.issues),
    );
  }
  try {
    const handler = handlers[channel] as (payload: unknown) => Promise<unknown> | unknown;
    const value = (await handler(parsed.data)) as InvokeResponses[InvokeChannel];
    return { ok: true, value };
  } catch (error) {
    return errorToResult(error);
  }
}
