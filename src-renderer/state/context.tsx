import { createContext, useContext, useSyncExternalStore } from 'react';
import type { MinionApi } from '../../src-shared/ipc';
import type { DashboardState, DashboardStore } from './store';

export const StoreContext = createContext<DashboardStore | null>(null);

export function useStore(): DashboardStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useStore outside <StoreContext.Provider>');
  return store;
}

export function useApi(): MinionApi {
  return useStore().api;
}

/** Subscribes to one slice; the selector must return a stable reference for unchanged data (store slices are). */
export function useDashboard<T>(selector: (state: DashboardState) => T): T {
  const store = useStore();
  return useSyncExternalStore(store.subscribe, () => selector(store.getState()));
}
