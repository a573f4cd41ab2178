/**
 * Group-key storage: where the key lives when the host has a keyring (the desktop's safeStorage) instead of the YAML
 * file, and how a saved change is routed there.
 */
import { type AgentConfig, GROUP_KEY_MASK } from '../../../src-shared/config';
import { type ConfigView } from '../../../src-shared/ipc';
import { type AgentLog } from '../agent-log';

/**
 * Where the group key is kept instead of the YAML file (the desktop app's OS keyring via safeStorage; the
 * `groupKeyStore(settings)` adapter of src-main/app/settings-store.ts has this shape).
 */
export interface GroupKeyBackend {
  /** How a key saved now would be protected; 'config-file' = not at all, the key stays in the YAML. */
  readonly kind: ConfigView['keyStorage'];
  load(): string | null;
  /** False when nothing could be stored safely (the key then goes to the YAML file). */
  save(key: string): boolean;
  clear(): void;
}

export type ConfigChange = { patch: Record<string, unknown> } | { config: Record<string, unknown> };

/** What the key routing reads and updates of the core's state. */
export interface KeyState {
  readonly groupKeyStore: GroupKeyBackend | undefined;
  readonly config: AgentConfig;
  keyInStore: boolean;
}

export function readStoredKey(store: GroupKeyBackend, log: AgentLog): string | null {
  try {
    return store.load();
  } catch (err) {
    log.warn(`the stored group key could not be read: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

/** Where the current key lives; with no key yet, where a saved one would go. */
export function keyStorage(state: KeyState): ConfigView['keyStorage'] {
  const store = state.groupKeyStore;
  if (!store) return 'config-file';
  if (state.keyInStore || state.config.group_key === '') return store.kind;
  return 'config-file';
}

/**
 * With a key store that protects keys, a new `group_key` goes there and is removed from the change written to
 * the YAML. Returns the change for the file, and an undo for the store should that write fail.
 */
export function routeGroupKey(
  state: KeyState,
  change: ConfigChange,
): {
  change: ConfigChange;
  storedKey: string | null;
  undo: () => void;
} {
  const store = state.groupKeyStore;
  const source = 'patch' in change ? change.patch : change.config;
  const key = source.group_key;
  const none = { change, storedKey: null, undo: () => undefined };
  // The mask means "unchanged"; a non-string is left to the schema to report.
  if (!store || !Object.hasOwn(source, 'group_key') || typeof key !== 'string' || key === GROUP_KEY_MASK)
    return none;
  const previous = state.keyInStore ? state.config.group_key : null;
  const wasInStore = state.keyInStore;
  const undo = (): void => {
    state.keyInStore = wasInStore;
    if (previous) store.save(previous);
    else store.clear();
  };
  if (key === '') {
    store.clear();
    state.keyInStore = false;
    return { change, storedKey: null, undo };
  }
  if (store.kind === 'config-file' || !store.save(key)) {
    // This key goes to the YAML, which then wins over whatever the store still holds.
    state.keyInStore = false;
    return { change, storedKey: null, undo: () => (state.keyInStore = wasInStore) };
  }
  state.keyInStore = true;
  // null removes the key from the YAML (patch); a whole document simply leaves it out.
  const stripped: Record<string, unknown> = { ...source, group_key: null };
  if ('config' in change) delete stripped.group_key;
  return {
    change: 'patch' in change ? { patch: stripped } : { config: stripped },
    storedKey: key,
    undo,
  };
}
