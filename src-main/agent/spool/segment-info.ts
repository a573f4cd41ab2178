/**
 * The in-memory summary of one spool segment, shared by the spool (which keeps it) and its reader (which walks the
 * segments): a module of its own so reader.ts does not import spool.ts, which imports the reader.
 */
import { type FrameClass } from '../../../src-shared/view-models';
import { type PerClassTally } from './segment-log';

/** Per-segment summary; the only per-segment state kept in memory. */
export interface SegmentInfo {
  firstSeq: number;
  /** Last sequence written to it; firstSeq − 1 while empty. */
  lastSeq: number;
  name: string;
  path: string;
  /** Bytes written to the file (what a reader may read); staging bytes not included. */
  fileBytes: number;
  /** Bytes counted against max_bytes: records not dropped, incl. those still in the staging buffer. */
  liveBytes: number;
  /** Records not dropped, per class (incl. confirmed ones still in the file). */
  perClass: PerClassTally;
  firstAppendedAt: number | null;
  /** Classes dropped by the overflow policy: readers skip them, compaction removes them from the file. */
  dropped: Set<FrameClass>;
  /** Classes already physically removed. */
  compacted: Set<FrameClass>;
  deleted: boolean;
}
