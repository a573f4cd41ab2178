/**
 * The tailer's checkpoint: for every followed file its identity (device + inode), how far its lines have been
 * handed to the sink, and a fingerprint of its first bytes (to notice a truncate-and-refill while we were down).
 * Written atomically, only after the sink accepted the lines it covers.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../config/atomic-write';

export interface FileCheckpoint {
  /** Path the file was followed under (for a rotated file: the path it had while current). */
  path: string;
  service: string;
  /** The `tail_logs` entry (`file` value) that matched it. */
  pattern: string;
  /** Device and inode as decimal strings (inodes can exceed 2^53). */
  dev: string;
  ino: string;
  /** Bytes of the file whose lines were accepted by the sink. */
  offset: number;
  /** Parts of an over-long line already sent (its bytes are counted in `offset`). */
  partsSent: number;
  /** SHA-1 (hex) of the first `headLength` bytes. */
  head: string;
  headLength: number;
  /** A file renamed away (rotation) whose remaining lines still had to be read. */
  rotated: boolean;
}

export interface TailCheckpoint {
  version: 1;
  /** `tail_logs` patterns that were followed before: their files that appear later are read from the start. */
  patterns: string[];
  files: FileCheckpoint[];
}

export function emptyCheckpoint(): TailCheckpoint {
  return { version: 1, patterns: [], files: [] };
}

function isFileCheckpoint(value: unknown): value is FileCheckpoint {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.path === 'string' &&
    typeof v.service === 'string' &&
    typeof v.pattern === 'string' &&
    typeof v.dev === 'string' &&
    typeof v.ino === 'string' &&
    typeof v.offset === 'number' &&
    Number.isSafeInteger(v.offset) &&
    v.offset >= 0 &&
    typeof v.partsSent === 'number' &&
    typeof v.head === 'string' &&
    typeof v.headLength === 'number' &&
    typeof v.rotated === 'boolean'
  );
}

export type CheckpointLoad =
  | { state: 'missing'; checkpoint: TailCheckpoint }
  | { state: 'ok'; checkpoint: TailCheckpoint }
  | { state: 'corrupt'; checkpoint: TailCheckpoint; error: string };

export function loadCheckpoint(path: string): CheckpointLoad {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { state: 'missing', checkpoint: emptyCheckpoint() };
    return { state: 'corrupt', checkpoint: emptyCheckpoint(), error: String(error) };
  }
  try {
    const parsed = JSON.parse(text) as Partial<TailCheckpoint>;
    if (parsed.version !== 1 || !Array.isArray(parsed.files) || !Array.isArray(parsed.patterns)) {
      return { state: 'corrupt', checkpoint: emptyCheckpoint(), error: 'unexpected format' };
    }
    return {
      state: 'ok',
      checkpoint: {
        version: 1,
        patterns: parsed.patterns.filter((p): p is string => typeof p === 'string'),
        files: parsed.files.filter(isFileCheckpoint),
      },
    };
  } catch (error) {
    return { state: 'corrupt', checkpoint: emptyCheckpoint(), error: (error as Error).message };
  }
}

/**
 * Writes the checkpoint atomically, off the event loop (file I/O and fsync on the libuv pool). `shouldCommit` is asked
 * right before the rename: false abandons this write (a newer one superseded it). Resolves whether it was committed.
 */
export function saveCheckpointAsync(
  path: string,
  checkpoint: TailCheckpoint,
  shouldCommit: () => boolean,
): Promise<boolean> {
  return writeFileAtomic(path, JSON.stringify(checkpoint), { shouldCommit });
}
