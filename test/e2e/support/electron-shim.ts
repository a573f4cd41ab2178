/**
 * Browser stand-in for the two parts of `electron` the preload uses, so the REAL src-main/preload.ts runs in plain
 * Chromium. `ipcRenderer.invoke` calls `__minionInvoke`, a Playwright binding into the test process, which runs the
 * real `dispatchInvoke` handlers; the test process pushes events by calling `__minionEmit(channel, payload)`.
 * Payloads cross the binding as JSON, which is what Electron's structured clone allows for our plain view models.
 * Bundled by esbuild (alias `electron` → this file); written without DOM types so it type-checks with the Node project.
 */
type Listener = (event: unknown, ...args: unknown[]) => void;

interface ShimGlobals {
  __minionInvoke?: (channel: string, payload: unknown) => Promise<unknown>;
  __minionEmit?: (channel: string, payload: unknown) => number;
  __minionListenerCount?: (channel: string) => number;
}

const g = globalThis as typeof globalThis & ShimGlobals;
const listeners = new Map<string, Set<Listener>>();

export const ipcRenderer = {
  invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    const invoke = g.__minionInvoke;
    if (!invoke) return Promise.reject(new Error('e2e shim: __minionInvoke binding is missing'));
    // Electron rejects invoke() when the main handler throws; dispatchInvoke never throws, so this is transport only.
    return invoke(channel, args[0]);
  },
  on(channel: string, listener: Listener) {
    let set = listeners.get(channel);
    if (!set) listeners.set(channel, (set = new Set()));
    set.add(listener);
    return ipcRenderer;
  },
  removeListener(channel: string, listener: Listener) {
    listeners.get(channel)?.delete(listener);
    return ipcRenderer;
  },
};

export const contextBridge = {
  exposeInMainWorld(key: string, api: unknown): void {
    // Electron copies the object into the page's world; here a frozen, non-writable global is the closest match.
    Object.defineProperty(globalThis, key, {
      value: api,
      writable: false,
      enumerable: true,
      configurable: false,
    });
  },
};

/** Called by the test process (page.evaluate) to deliver one event; returns how many listeners got it. */
g.__minionEmit = (channel: string, payload: unknown): number => {
  const set = listeners.get(channel);
  if (!set) return 0;
  const event = { sender: null };
  for (const listener of [...set]) listener(event, payload);
  return set.size;
};
g.__minionListenerCount = (channel: string): number => listeners.get(channel)?.size ?? 0;

export type IpcRenderer = typeof ipcRenderer;
