import { describe, expect, it } from 'vitest';
import {
  argvProblem,
  boundedArgv,
  boundedArgvText,
  cutText,
  MAX_ARGUMENTS,
  MAX_ARGV_BYTES,
} from '../../../src-main/agent/commands/argv';

describe('argvProblem', () => {
  it('accepts ordinary argv and names NUL bytes, too many arguments and too many bytes without repeating them', () => {
    expect(argvProblem(['echo', 'hello world', ''])).toBeNull();
    expect(argvProblem(['echo', 'a\0secret'])).toBe(
      'argument 1 contains a NUL byte, which no process can receive',
    );
    expect(argvProblem(Array.from({ length: MAX_ARGUMENTS + 1 }, () => 'x'))).toMatch(
      /^too many arguments \(4097;/,
    );
    const big = argvProblem(['cat', 'y'.repeat(MAX_ARGV_BYTES)]);
    expect(big).toMatch(/^the arguments are too large \(65539 bytes;/);
    expect(big).not.toContain('yyy');
  });
});

describe('bounded rendering', () => {
  it('cutText keeps whole characters and counts the mark in the budget', () => {
    expect(cutText('short', 10)).toBe('short');
    const cut = cutText('é'.repeat(100), 40);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(40);
    expect(cut).toMatch(/^(é)+…\[\d+ more bytes cut\]$/);
  });

  it('boundedArgv shows whole arguments while they fit, then counts the rest', () => {
    expect(boundedArgv(['ls', '-l'], 100)).toEqual({ shown: ['ls', '-l'], mark: null });
    const many = boundedArgv(['echo', 'aaaa', 'bbbb', 'cccc'], 10);
    expect(many).toEqual({ shown: ['echo', 'aaaa'], mark: '…[2 more argument(s), 8 bytes, not shown]' });
    // A first argument too large alone is cut itself.
    const huge = boundedArgv(['z'.repeat(1_000), 'tail'], 64);
    expect(Buffer.byteLength(huge.shown[0] ?? '')).toBeLessThanOrEqual(64);
    expect(huge.mark).toBe('…[1 more argument(s), 4 bytes, not shown]');
    expect(boundedArgvText(['echo', 'aaaa', 'bbbb', 'cccc'], 10)).toBe(
      'echo aaaa …[2 more argument(s), 8 bytes, not shown]',
    );
  });
});
