import type { UpdatesApi } from '../../src-shared/ipc';
import type { UpdateView } from '../../src-shared/view-models';

/**
 * What the update-service fakes share (the bridge tests' and the e2e tests'): the current view, the 'update'
 * listeners, and `set`, which changes the view and tells every listener, as the real service does on each state
 * change. Each fake scripts `check` and `download` itself; `install` answers the current view.
 */
export abstract class FakeUpdatesBase implements UpdatesApi {
  private readonly listeners = new Set<(view: UpdateView) => void>();

  constructor(protected current: UpdateView) {}

  view(): UpdateView {
    return this.current;
  }

  abstract check(): Promise<UpdateView>;
  abstract download(): Promise<UpdateView>;

  async install(): Promise<UpdateView> {
    return this.current;
  }

  on(_event: 'update', listener: (view: UpdateView) => void): this {
    this.listeners.add(listener);
    return this;
  }

  off(_event: 'update', listener: (view: UpdateView) => void): this {
    this.listeners.delete(listener);
    return this;
  }

  set(overrides: Partial<UpdateView>): void {
    this.current = { ...this.current, ...overrides };
    for (const listener of this.listeners) listener(this.current);
  }

  /** Listeners still subscribed (a closed session must leave none behind). */
  get listenerCount(): number {
    return this.listeners.size;
  }
}
