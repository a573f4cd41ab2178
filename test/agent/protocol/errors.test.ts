import { describe, expect, it } from 'vitest';
import {
  FrameValidationError,
  MinionUuidError,
  ProtocolError,
} from '../../../src-main/agent/protocol/errors';

describe('protocol errors', () => {
  it('carry their class name (logs print it) and their machine-readable fields', () => {
    const protocol = new ProtocolError('bad-shape', 'short', { cause: 'x' });
    expect([protocol.name, protocol.code, protocol.message, protocol.cause]).toEqual([
      'ProtocolError',
      'bad-shape',
      'short',
      'x',
    ]);
    expect(protocol.framesBeforeError).toEqual([]);
    expect(String(protocol)).toBe('ProtocolError: short');
    const validation = new FrameValidationError('bad-verb', 'refused', ['X']);
    expect([validation.name, validation.reason, validation.message, validation.frame]).toEqual([
      'FrameValidationError',
      'bad-verb',
      'refused',
      ['X'],
    ]);
    expect(String(new MinionUuidError('not a uuid'))).toBe('MinionUuidError: not a uuid');
  });
});
