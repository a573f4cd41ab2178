/**
 * Registers the contract's invoke handlers with ipcMain. Before any handler runs, the sender must be our own
 * dashboard window's main frame showing our renderer (a compromised or foreign frame gets `forbidden`), and the
 * payload must match the channel's zod schema (`dispatchInvoke`). Errors come back as `IpcResult` values.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { dispatchInvoke, ipcError, type InvokeHandlers } from '../bridge/handlers';
import type { EventSink } from '../bridge/event-batcher';
import { INVOKE_CHANNELS, type IpcResult } from '../../src-shared/ipc';

export type InvokeEventLike = {
  sender: Pick<IpcMainInvokeEvent['sender'], 'id'>;
  senderFrame: { url: string; parent: unknown } | null;
};

export interface SenderPolicy {
  /** The dashboard window's webContents id, or null when there is no window. */
  dashboardWebContentsId: () => number | null;
  isAppUrl: (url: string) => boolean;
}

/** Why a sender is refused, or null when it is our dashboard's main frame on our renderer URL. */
export function senderProblem(event: InvokeEventLike, policy: SenderPolicy): string | null {
  const expected = policy.dashboardWebContentsId();
  if (expected === null || event.sender.id !== expected) return 'not the dashboard window';
  const frame = event.senderFrame;
  if (!frame) return 'sender frame is gone';
  if (frame.parent !== null) return 'not the main frame';
  if (!policy.isAppUrl(frame.url)) return 'not the dashboard page';
  return null;
}

export interface RegisterIpcOptions {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  handlers: InvokeHandlers;
  senderPolicy: SenderPolicy;
  onRejected?: (channel: string, reason: string) => void;
}

/** Registers one handler per invoke channel; returns a function that removes them. */
export function registerIpcHandlers(options: RegisterIpcOptions): () => void {
  const { ipcMain, handlers, senderPolicy, onRejected } = options;
  for (const channel of INVOKE_CHANNELS) {
    ipcMain.handle(channel, async (event, ...args: unknown[]): Promise<IpcResult<unknown>> => {
      const problem = senderProblem(event as unknown as InvokeEventLike, senderPolicy);
      if (problem) {
        onRejected?.(channel, problem);
        return ipcError('forbidden', `Refused: ${problem}.`);
      }
      if (args.length > 1) return ipcError('invalid-request', `${channel} takes at most one argument.`);
      return dispatchInvoke(handlers, channel, args[0]);
    });
  }
  return () => {
    for (const channel of INVOKE_CHANNELS) ipcMain.removeHandler(channel);
  };
}

/** Sends batched events to the dashboard window, if it exists (hidden windows still receive, to stay current). */
export function webContentsSink(
  getContents: () => Pick<WebContents, 'send' | 'isDestroyed'> | null,
): EventSink {
  return (channel, payload) => {
    const contents = getContents();
    if (contents && !contents.isDestroyed()) contents.send(channel, payload);
  };
}
