/**
 * Atomic file replacement: write a temp file in the same directory, fsync it, rename it over the target, fsync the
 * directory. A crash leaves either the old or the new content, never a torn file (config, checkpoints). All of it
 * runs on the libuv thread pool: there is deliberately no synchronous variant (no fsync on the event loop).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** Mode for a new file; an existing file keeps its mode. Default 0o600 (configs hold the group key). */
  mode?: number;
  /**
   * Asked right before the rename; false abandons the write (the temp file is removed and the target keeps its
   * content), e.g. because a newer write superseded this one. Resolves false then.
   */
  shouldCommit?: () => boolean;
}

function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<boolean> {
  // Replace the file a symlink points to, not the symlink (e.g. /etc/minion/config.yml → a managed copy).
  const target = await realpath(path).catch(() => path);
  await mkdir(dirname(target), { recursive: true });
  const mode = await stat(target).then(
    (s) => s.mode & 0o7777,
    () => options.mode ?? 0o600,
  );
  const temp = tempPathFor(target);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  if (options.shouldCommit && !options.shouldCommit()) {
    await unlink(temp).catch(() => undefined);
    return false;
  }
  try {
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(target));
  return true;
}

/** Makes the rename itself durable. Not supported on Windows (EPERM/EISDIR): best effort there. */
async function syncDirectory(dir: string) {
  if (process.platform === 'win32') return;
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // some filesystems refuse fsync on directories; the data itself is already synced
  }
}
