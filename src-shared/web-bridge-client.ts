/**
 * `MinionApi` over a WebSocket, for the headless dashboard (`minion-agent run --ui`): the renderer uses this when
 * `window.minion` is absent. Same contract as the Electron preload; the server validates exactly as ipcMain does.
 * Browser-only globals are reached through `globalThis` and small structural types, so this file compiles in both
 * the renderer and the Node TypeScript projects (and Node tests can pass the `ws` package's WebSocket).
 *
 * Wire messages (JSON text frames):
 *   client → server  { t: 'invoke', id: number, channel: InvokeChannel, payload?: unknown }
 *   server → client  { t: 'result', id: number, result: IpcResult }   |   { t: 'event', channel: EventChannel, payload }
 */
import {
  apiMethods,
  EVENT_CHANNELS,
  EventChannel,
  type EventPayloads,
  type IpcResult,
  type MinionApi,
} from './ipc';

export const WEB_BRIDGE_PATH = '/bridge';

export type WebBridgeClientMessage = { t: 'invoke'; id: number; channel: string; payload?: unknown };
export type WebBridgeServerMessage =
  | { t: 'result'; id: number; result: IpcResult<unknown> }
  | { t: 'event'; channel: EventChannel; payload: unknown };

/** The part of the WHATWG WebSocket this client uses (the browser's and the `ws` package's both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface WebBridgeClientOptions {
  /** Defaults to ws(s)://<page host>/bridge. */
  url?: string;
  /** Defaults to the browser's WebSocket. */
  createSocket?: WebSocketFactory;
  /** Delay before reconnecting after the socket drops; doubles up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Invokes waiting for the socket to open; beyond this they fail at once instead of piling up. */
  maxQueuedInvokes?: number;
}

export type WebBridgeClient = MinionApi & {
  /** Resolves when the socket is open the first time. */
  readonly ready: Promise<void>;
  readonly connected: boolean;
  close(): void;
};

const OPEN = 1;

function defaultUrl(): string {
  const location = (globalThis as { location?: { protocol: string; host: string } }).location;
  if (!location) throw new Error('web bridge client: no url given and no page location');
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${WEB_BRIDGE_PATH}`;
}

function defaultFactory(): WebSocketFactory {
  const Ctor = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (!Ctor) throw new Error('web bridge client: no WebSocket available');
  return (url) => new Ctor(url);
}

function failed(message: string): IpcResult<never> {
  return { ok: false, error: { code: 'failed', message } };
}

export function createWebBridgeClient(options: WebBridgeClientOptions = {}): WebBridgeClient {
  const url = options.url ?? defaultUrl();
  const createSocket = options.createSocket ?? defaultFactory();
  const baseDelay = options.reconnectDelayMs ?? 500;
  const maxDelay = options.maxReconnectDelayMs ?? 10_000;
  const maxQueued = options.maxQueuedInvokes ?? 100;

  const listeners = new Map<EventChannel, Set<(payload: unknown) => void>>();
  const pending = new Map<number, (result: IpcResult<unknown>) => void>();
  let queued: WebBridgeClientMessage[] = [];
  let nextId = 1;
  let socket: WebSocketLike | null = null;
  let closed = false;
  let everOpened = false;
  let delay = baseDelay;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let resolveReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));

  const deliver = (channel: EventChannel, payload: unknown): void => {
    for (const listener of listeners.get(channel) ?? []) {
      try {
        listener(payload);
      } catch (error) {
        // One broken listener must not starve the others.
        console.error('web bridge listener failed', error);
      }
    }
  };

  const connect = (): void => {
    const ws = createSocket(url);
    socket = ws;
    ws.onopen = () => {
      everOpened = true;
      delay = baseDelay;
      resolveReady();
      const toSend = queued;
      queued = [];
      for (const message of toSend) ws.send(JSON.stringify(message));
    };
    ws.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      let message: WebBridgeServerMessage;
      try {
        message = JSON.parse(event.data) as WebBridgeServerMessage;
      } catch {
        return;
      }
      if (message.t === 'result') {
        const settle = pending.get(message.id);
        pending.delete(message.id);
        settle?.(message.result);
      } else if (message.t === 'event' && (EVENT_CHANNELS as readonly string[]).includes(message.channel)) {
        deliver(message.channel, message.payload);
      }
    };
    ws.onerror = () => undefined; // onclose follows and handles it
    ws.onclose = () => {
      if (socket === ws) socket = null;
      // Calls in flight are lost with the socket: answer them rather than leave the page waiting forever.
      for (const settle of pending.values()) settle(failed('Lost the connection to the agent; retrying.'));
      pending.clear();
      if (closed) return;
      if (everOpened) {
        deliver(EventChannel.Notice, [
          { level: 'error', message: 'Lost the connection to the agent dashboard server; reconnecting…' },
        ]);
      }
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null;
        if (!closed) connect();
      }, delay);
      delay = Math.min(delay * 2, maxDelay);
    };
  };

  const invoke = (channel: string, payload: unknown): Promise<IpcResult<unknown>> => {
    if (closed) return Promise.resolve(failed('The dashboard connection is closed.'));
    const id = nextId++;
    const message: WebBridgeClientMessage =
      payload === undefined ? { t: 'invoke', id, channel } : { t: 'invoke', id, channel, payload };
    return new Promise((resolve) => {
      if (socket && socket.readyState === OPEN) {
        pending.set(id, resolve);
        socket.send(JSON.stringify(message));
      } else if (queued.length < maxQueued) {
        pending.set(id, resolve);
        queued.push(message);
      } else {
        resolve(failed('Not connected to the agent.'));
      }
    });
  };

  const api: Record<string, unknown> = {};
  for (const [method, channel] of Object.entries(apiMethods)) {
    api[method] = (request?: unknown) => invoke(channel, request);
  }
  api.on = (channel: EventChannel, listener: (payload: unknown) => void) => {
    if (!(EVENT_CHANNELS as readonly string[]).includes(channel)) {
      throw new Error(`Unknown event channel: ${String(channel)}`);
    }
    let set = listeners.get(channel);
    if (!set) listeners.set(channel, (set = new Set()));
    // Wrap so subscribing the same function twice yields two independent subscriptions, like ipcRenderer.on.
    const wrapped = (payload: unknown): void => listener(payload);
    set.add(wrapped);
    return () => {
      set.delete(wrapped);
    };
  };
  Object.defineProperty(api, 'ready', { value: ready });
  Object.defineProperty(api, 'connected', { get: () => socket !== null && socket.readyState === OPEN });
  api.close = () => {
    closed = true;
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    for (const message of queued) pending.get(message.id)?.(failed('The dashboard connection is closed.'));
    queued = [];
    socket?.close(1000, 'client closed');
  };

  connect();
  return api as WebBridgeClient;
}

/** Narrowing helper for listeners written against the contract. */
export type EventListenerFor<E extends EventChannel> = (payload: EventPayloads[E]) => void;
