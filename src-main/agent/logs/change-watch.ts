/**
 * Change notifications for the tailer: one `fs.watch` (inotify, kqueue, ReadDirectoryChangesW) per directory that
 * holds a followed file or a pattern's files. A notification makes the tailer poll at once, so an idle agent can
 * poll rarely (a safety poll) without delivering later. Directories are watched rather than files: a rotation, a
 * delete and a file that appears later are events of the directory, and its watch survives them.
 *
 * Notifications are a hint, never the only source of truth: the tailer still polls, and falls back to polling at
 * its configured interval where a directory cannot be watched or the notifications prove unreliable (NFS and other
 * network filesystems, some bind mounts and container overlays do not report other hosts' or layers' writes).
 */
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/** A started watch of one directory; `onError` fires if it breaks (the directory was removed, a limit was hit). */
export interface DirectoryWatchHandle {
  close(): void;
}

/**
 * Starts watching `dir`; `onChange(name)` gets the entry that changed (null when the platform does not say).
 * Throws when the directory cannot be watched.
 */
export type WatchDirectory = (
  dir: string,
  onChange: (name: string | null) => void,
  onError: (error: Error) => void,
) => DirectoryWatchHandle;

export const watchDirectoryWithFs: WatchDirectory = (dir, onChange, onError) => {
  // Not persistent: the tailer's timers decide whether the process stays up, not the watch.
  const watcher = watch(dir, { persistent: false }, (_event, name) => onChange(name ?? null));
  watcher.on('error', onError);
  return { close: () => watcher.close() };
};

/** What to watch: directories, and per directory the entry names that matter (null: any name). */
export type WatchPlan = Map<string, Set<string> | null>;

/** Adds a file path (only its own name matters) or a whole directory (`anyName`) to the plan. */
export function planPath(plan: WatchPlan, path: string, anyName = false): void {
  const dir = dirname(path);
  if (anyName) {
    plan.set(dir, null);
    return;
  }
  const names = plan.get(dir);
  if (names === null) return;
  if (names) names.add(basename(path));
  else plan.set(dir, new Set([basename(path)]));
}

export class ChangeWatch {
  private readonly watches = new Map<string, { handle: DirectoryWatchHandle; names: Set<string> | null }>();
  /** Directories of the last plan that could not be watched. */
  private unwatched = 0;

  constructor(
    private readonly watchDirectory: WatchDirectory,
    private readonly onChange: () => void,
    private readonly log: (message: string) => void,
  ) {}

  /** True when every directory of the last plan is watched (so polling rarely misses nothing). */
  get complete(): boolean {
    return this.unwatched === 0;
  }

  /** Watches exactly the plan's directories: new ones are started, dropped ones closed. Null: none can be. */
  update(plan: WatchPlan | null): void {
    if (plan === null) {
      this.close();
      this.unwatched = 1;
      return;
    }
    for (const [dir, watched] of this.watches) {
      if (!plan.has(dir)) {
        watched.handle.close();
        this.watches.delete(dir);
      }
    }
    this.unwatched = 0;
    for (const [dir, names] of plan) {
      const watched = this.watches.get(dir);
      if (watched) {
        watched.names = names;
        continue;
      }
      try {
        const entry = { handle: { close: () => undefined } as DirectoryWatchHandle, names };
        entry.handle = this.watchDirectory(
          dir,
          (name) => {
            if (name === null || entry.names === null || entry.names.has(name)) this.onChange();
          },
          (error) => {
            this.log(`watching ${dir} stopped (${error.message}); polling it`);
            entry.handle.close();
            if (this.watches.get(dir) === entry) this.watches.delete(dir);
            this.unwatched++;
            this.onChange();
          },
        );
        this.watches.set(dir, entry);
      } catch {
        // Missing directory, no permission, out of inotify watches: that part is polled at the poll interval.
        this.unwatched++;
      }
    }
  }

  close(): void {
    for (const watched of this.watches.values()) watched.handle.close();
    this.watches.clear();
    this.unwatched = 0;
  }
}
