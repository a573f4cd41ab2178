/** Shared helpers for connection/sandbox integration tests (127.0.0.1 only, short timeouts). */
import net from 'node:net';
import { type ConnectionStateName, type ConnectionView } from '../../src-shared/view-models';
import { type ConnectionManager, type ConnectionOptions } from '../../src-main/agent/connection/connection';

export const GROUP_ID = 'test-group-2';
export const GROUP_KEY = '798c733ba086c606fa8a925ab69bebf1cc44ee11a19ac81eaa4689774a6b6b04';
export const SERVER_ID = '5d6e1b4a-2c3f-4a5b-9c7d-0123456789ab';

export function managerOptions(port: number, overrides: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return {
    host: '127.0.0.1',
    port,
    groupId: GROUP_ID,
    serverId: SERVER_ID,
    groupKey: GROUP_KEY,
    connectTimeoutMs: 1_000,
    authTimeoutMs: 1_000,
    heartbeatIntervalMs: 1_000,
    // Refused connects retry every 20–60 ms here (1–3 s in production) and rejoin without a spread, so tests that
    // restart the server stay short.
    backoff: {
      baseMs: 20,
      capMs: 100,
      deniedMs: 60_000,
      stableMs: 30_000,
      refusedMinMs: 20,
      refusedMaxMs: 60,
    },
    rejoinWindowMs: 0,
    ...overrides,
  };
}

/** Polls `predicate` every 5 ms; rejects with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the view once the manager is in `state` (immediately if it already is). */
export function waitForState(
  manager: ConnectionManager,
  state: ConnectionStateName,
  timeoutMs = 3_000,
): Promise<ConnectionView> {
  if (manager.state === state) return Promise.resolve(manager.view());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      manager.off('state', onState);
      reject(
        new Error(
          `state ${state} not reached within ${timeoutMs} ms (now ${manager.state}: ${manager.view().explanation})`,
        ),
      );
    }, timeoutMs);
    const onState = (view: ConnectionView): void => {
      if (view.state !== state) return;
      clearTimeout(timer);
      manager.off('state', onState);
      resolve(view);
    };
    manager.on('state', onState);
  });
}

/** Resolves with the connection id of the next 'ready'. */
export function nextReady(manager: ConnectionManager, timeoutMs = 3_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      manager.off('ready', onReady);
      reject(
        new Error(
          `no 'ready' within ${timeoutMs} ms (state ${manager.state}: ${manager.view().explanation})`,
        ),
      );
    }, timeoutMs);
    const onReady = (id: number): void => {
      clearTimeout(timer);
      manager.off('ready', onReady);
      resolve(id);
    };
    manager.on('ready', onReady);
  });
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
