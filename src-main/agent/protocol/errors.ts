import { type WireFrame } from '../../../src-shared/view-models';

/**
 * Typed errors of the wire protocol layer. Callers branch on `code` / `reason`, never on message text.
 */

export type ProtocolErrorCode = 'zero-length' | 'too-large' | 'bad-msgpack' | 'bad-shape' | 'bad-type';

/**
 * Malformed bytes on the wire (incoming) or a frame that cannot be framed at all (outgoing, `too-large`).
 * For an incoming stream the connection is desynchronised afterwards: the caller resets it and reconnects.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  /**
   * Frames that were completely decoded from the same `push()` before the bad one. They are valid and must not be
   * lost just because a later frame in the same chunk was garbage.
   */
  framesBeforeError: WireFrame[] = [];

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * An outgoing frame that would be refused or, worse, poison the real StreamServer (protocol.md §14).
 * This is a bug in the code that built the frame: it is refused, never sent, and counted.
 */
export class FrameValidationError extends Error {
  override readonly name = 'FrameValidationError';
  /** Short machine-friendly reason, e.g. `uuid-not-canonical`, `log-empty-message`. */
  readonly reason: string;
  /** The offending frame with the group key redacted (safe to log). */
  readonly frame: unknown;

  constructor(reason: string, message: string, frame: unknown) {
    super(message);
    this.reason = reason;
    this.frame = frame;
  }
}

/** A string that is not a parsable Minion UUID, or bad parts given to the UUID builder. */
export class MinionUuidError extends Error {
  override readonly name = 'MinionUuidError';
}
