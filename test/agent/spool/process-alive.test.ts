import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isOtherProcessAlive } from '../../../src-main/agent/spool/process-alive';

describe('isOtherProcessAlive', () => {
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
});
