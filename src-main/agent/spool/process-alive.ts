/**
 * Whether another process with this pid runs (for stale owner/lock files). EPERM means it exists but belongs to
 * someone else; our own pid counts as not alive, since a file naming it was left by an earlier run of this pid.
 */
export function isOtherProcessAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
