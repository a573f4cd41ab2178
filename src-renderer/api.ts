/**
 * Where the renderer's `MinionApi` comes from: the Electron preload exposes `window.minion`; in the headless
 * dashboard (`minion-agent run --ui`) there is no preload, so the same contract is spoken over a WebSocket.
 */
import type { MinionApi } from '../src-shared/ipc';

declare global {
  interface Window {
    minion?: MinionApi;
  }
}

export async function resolveApi(): Promise<MinionApi> {
  if (window.minion) return window.minion;
  // Loaded lazily so the Electron build never ships the WebSocket client's code path on startup.
  const { connectWebBridge } = await import('./web-bridge');
  return connectWebBridge();
}
