/**
 * The headless dashboard's transport: the same `MinionApi` over the web bridge's WebSocket
 * (`minion-agent run --ui`). The bridge server authenticates the page by the one-time token in its URL.
 */
import type { MinionApi } from '../src-shared/ipc';
import { createWebBridgeClient } from '../src-shared/web-bridge-client';

const CONNECT_TIMEOUT_MS = 10_000;

export async function connectWebBridge(): Promise<MinionApi> {
  const client = createWebBridgeClient();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      client.close();
      reject(
        new Error(
          "Could not reach the agent. A link works once: run `minion-agent ui` on the agent's machine for a fresh one, or check that the agent is still running.",
        ),
      );
    }, CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return client;
}
