/**
 * The sandboxed preload: exposes `window.minion` (MinionApi) and nothing else of Electron. Every method invokes
 * exactly one channel of the contract; event listeners receive the payload only (never the IpcRendererEvent, whose
 * `sender` would hand the page a live ipcRenderer). Imports only 'electron' and src-shared so it bundles into a
 * single sandbox-compatible file and the e2e harness can run it against a browser shim.
 */
import { contextBridge, ipcRenderer, type IpcRenderer } from 'electron';
import {
  apiMethods,
  EVENT_CHANNELS,
  type EventChannel,
  type IpcResult,
  type MinionApi,
} from '../src-shared/ipc';

export type PreloadIpc = Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>;

function failure(error: unknown): IpcResult<never> {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, error: { code: 'failed', message: `IPC failed: ${message}` } };
}

export function buildMinionApi(ipc: PreloadIpc): MinionApi {
  const api: Record<string, unknown> = {};
  for (const [method, channel] of Object.entries(apiMethods)) {
    // Only the first argument travels: main validates it against the channel's schema.
    api[method] = (request?: unknown): Promise<unknown> =>
      (request === undefined ? ipc.invoke(channel) : ipc.invoke(channel, request)).catch(failure);
  }
  api.on = (channel: EventChannel, listener: (payload: unknown) => void): (() => void) => {
    if (!(EVENT_CHANNELS as readonly string[]).includes(channel)) {
      throw new Error(`Unknown event channel: ${String(channel)}`);
    }
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const forward = (_event: unknown, payload: unknown): void => listener(payload);
    ipc.on(channel, forward);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      ipc.removeListener(channel, forward);
    };
  };
  return Object.freeze(api) as MinionApi;
}

contextBridge.exposeInMainWorld('minion', buildMinionApi(ipcRenderer));
