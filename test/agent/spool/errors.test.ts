import { describe, expect, it } from 'vitest';
import { SpoolError } from '../../../src-main/agent/spool/errors';

describe('SpoolError', () => {
  it('carries its code, message and cause, and names itself in stack traces', () => {
    const cause = new Error('ENOSPC');
    const error = new SpoolError('write-failed', 'cannot write segment', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SpoolError');
    expect(error.code).toBe('write-failed');
    expect(error.message).toBe('cannot write segment');
    expect(error.cause).toBe(cause);
    expect(String(error)).toBe('SpoolError: cannot write segment');
  });
});
