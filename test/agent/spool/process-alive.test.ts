import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isOtherProcessAlive } from '../../../src-main/agent/spool/process-alive';

describe('isOtherProcessAlive', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is false for our own pid (a file naming it was left by an earlier run)', () => {
    expect(isOtherProcessAlive(process.pid)).toBe(false);
  });

  it('is true for a running process (our parent)', () => {
    expect(isOtherProcessAlive(process.ppid)).toBe(true);
  });

  it('is false for a process that has exited', () => {
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(child.pid).toBeGreaterThan(0);
    expect(isOtherProcessAlive(child.pid)).toBe(false);
  });

  it("is true for another user's process, which we may not signal (EPERM)", () => {
    // As root every kill(pid, 0) succeeds, so the refusal an ordinary user gets is simulated.
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => {
      throw Object.assign(new Error('kill EPERM'), { code: 'EPERM' });
    });
    expect(isOtherProcessAlive(process.ppid)).toBe(true);
    expect(kill).toHaveBeenCalledWith(process.ppid, 0);
  });
});
