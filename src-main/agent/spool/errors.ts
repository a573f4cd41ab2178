/** Typed errors of the spool. Callers branch on the class or `code`, never on message text. */

export type SpoolErrorCode = 'closed' | 'write-failed' | 'sync-failed' | 'bad-option' | 'wrong-class';

export class SpoolError extends Error {
  override readonly name = 'SpoolError';
  constructor(
    readonly code: SpoolErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
