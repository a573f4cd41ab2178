import { describe, expect, it } from 'vitest';
import { fitOutput, statusLine } from '../../../src-main/agent/commands/output';
import { type RunResult } from '../../../src-main/agent/commands/runner';

function result(patch: Partial<RunResult> & { out?: string; err?: string }): RunResult {
  const stdout = Buffer.from(patch.out ?? '');
  const stderr = Buffer.from(patch.err ?? '');
  return {
    stdout,
    stderr,
    stdoutTotalBytes: stdout.length,
    stderrTotalBytes: stderr.length,
    exitCode: 0,
    signal: null,
    timedOut: false,
    spawnError: null,
    queueFull: false,
    cancelled: false,
    durationMs: 5,
    timeoutMs: 300_000,
    ...patch,
  };
}

describe('statusLine', () => {
  it('names exit status, signal and timeout', () => {
    expect(statusLine(result({}))).toBeNull();
    expect(statusLine(result({ exitCode: 2 }))).toBe('[exit status 2]');
    expect(statusLine(result({ exitCode: null, signal: 'SIGSEGV' }))).toBe('[killed by SIGSEGV]');
    expect(statusLine(result({ exitCode: null, signal: 'SIGKILL', timedOut: true }))).toBe(
      '[killed by SIGKILL after timeout 300s]',
    );
  });
});

describe('fitOutput', () => {
  it('passes small output through and appends the status as the last stderr line', () => {
    const fitted = fitOutput(result({ out: 'hello\n', err: 'warn', exitCode: 2 }), 1000);
    expect(fitted).toEqual({
      stdout: 'hello\n',
      stderr: 'warn\n[exit status 2]',
      stdoutBytesCut: 0,
      stderrBytesCut: 0,
    });
  });

  it('cuts to the budget, marks the number of bytes cut, and never exceeds the budget', () => {
    const fitted = fitOutput(result({ out: 'x'.repeat(100_000), err: 'e'.repeat(10), exitCode: 1 }), 60_000);
    const total = Buffer.byteLength(fitted.stdout) + Buffer.byteLength(fitted.stderr);
    expect(total).toBeLessThanOrEqual(60_000);
    expect(fitted.stderr).toBe('eeeeeeeeee\n[exit status 1]');
    expect(fitted.stdoutBytesCut).toBeGreaterThan(40_000);
    expect(fitted.stdout).toMatch(new RegExp(`…\\[truncated ${fitted.stdoutBytesCut} bytes\\]$`));
    expect(fitted.stdout.length - `\n…[truncated ${fitted.stdoutBytesCut} bytes]`.length).toBe(
      100_000 - fitted.stdoutBytesCut,
    );
  });

  it('counts bytes the runner did not keep as cut', () => {
    const r = result({ out: 'abc' });
    r.stdoutTotalBytes = 5_000_000;
    const fitted = fitOutput(r, 1000);
    expect(fitted.stdoutBytesCut).toBe(5_000_000 - 3);
    expect(fitted.stdout).toBe(`abc\n…[truncated ${5_000_000 - 3} bytes]`);
  });

  it('splits the budget when both streams are large, and does not split UTF-8 characters', () => {
    const fitted = fitOutput(result({ out: 'é'.repeat(50_000), err: 'ü'.repeat(50_000) }), 10_000);
    expect(Buffer.byteLength(fitted.stdout) + Buffer.byteLength(fitted.stderr)).toBeLessThanOrEqual(10_000);
    expect(fitted.stdout).not.toContain('\uFFFD');
    expect(fitted.stderr).not.toContain('\uFFFD');
    expect(Buffer.byteLength(fitted.stdout)).toBeGreaterThan(4_000);
    expect(Buffer.byteLength(fitted.stderr)).toBeGreaterThan(4_000);
    expect(fitted.stdoutBytesCut + fitted.stderrBytesCut).toBeGreaterThan(180_000);
  });

  it('keeps the status line even when stderr is huge', () => {
    const fitted = fitOutput(
      result({
        err: 'z'.repeat(100_000),
        exitCode: null,
        signal: 'SIGKILL',
        timedOut: true,
        timeoutMs: 5000,
      }),
      2000,
    );
    expect(fitted.stderr.endsWith('\n[killed by SIGKILL after timeout 5s]')).toBe(true);
    expect(Buffer.byteLength(fitted.stderr)).toBeLessThanOrEqual(2000);
  });
});
