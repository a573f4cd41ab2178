/**
 * The durable cursor: the last sequence number the server is known to have received (docs/spool.md "Cursor"),
 * plus the drop counters that must survive a restart. Written atomically — temp file, fsync, rename, fsync of the
 * directory — so a crash leaves either the old or the new cursor, never a torn one.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { type FrameClass } from '../../../src-shared/view-models';

export const CURSOR_FILE = 'cursor.json';
const CURSOR_TEMP = 'cursor.json.tmp';

export interface CursorState {
  /** Every record with seq ≤ confirmedSeq was received by the server (proved by a heartbeat barrier). */
  confirmedSeq: number;
  /** Total frames dropped by the overflow policy, per class, since the spool was created. */
  dropped: Record<FrameClass, number>;
  /** Drops not yet reported to the server (the "dropped N telemetry and M log frames" line). */
  unreportedDrops: { telemetry: number; log: number };
}

export function initialCursor(): CursorState {
  return {
    confirmedSeq: 0,
    dropped: { log: 0, telemetry: 0, result: 0 },
    unreportedDrops: { telemetry: 0, log: 0 },
  };
}

function body(state: CursorState): string {
  return JSON.stringify({ v: 1, ...state });
}

export function serializeCursor(state: CursorState): string {
  const text = body(state);
  return JSON.stringify({ ...JSON.parse(text), crc: crc32(text) }) + '\n';
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses cursor text; returns null when it is damaged in any way (the caller then falls back conservatively). */
export function parseCursor(text: string): CursorState | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const dropped = r.dropped as Record<string, unknown> | undefined;
  const unreported = r.unreportedDrops as Record<string, unknown> | undefined;
  if (
    r.v !== 1 ||
    !isCount(r.confirmedSeq) ||
    typeof dropped !== 'object' ||
    dropped === null ||
    typeof unreported !== 'object' ||
    unreported === null ||
    !isCount(dropped.log) ||
    !isCount(dropped.telemetry) ||
    !isCount(dropped.result) ||
    !isCount(unreported.telemetry) ||
    !isCount(unreported.log)
  ) {
    return null;
  }
  const state: CursorState = {
    confirmedSeq: r.confirmedSeq,
    dropped: { log: dropped.log, telemetry: dropped.telemetry, result: dropped.result },
    unreportedDrops: { telemetry: unreported.telemetry, log: unreported.log },
  };
  if (r.crc !== crc32(body(state))) return null;
  return state;
}

export type CursorLoad =
  | { status: 'ok'; state: CursorState }
  | { status: 'missing'; state: CursorState }
  | { status: 'damaged'; state: CursorState; detail: string };

export async function readCursor(dir: string): Promise<CursorLoad> {
  let text: string;
  try {
    text = await fsp.readFile(join(dir, CURSOR_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing', state: initialCursor() };
    return {
      status: 'damaged',
      state: initialCursor(),
      detail: `cannot read cursor: ${(e as Error).message}`,
    };
  }
  const state = parseCursor(text);
  if (!state) return { status: 'damaged', state: initialCursor(), detail: 'cursor file failed its checksum' };
  return { status: 'ok', state };
}

/** fsync of a directory makes a rename/create/unlink inside it durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** temp → fsync → rename → fsync(dir). */
export async function writeCursorAtomic(dir: string, state: CursorState): Promise<void> {
  const temp = join(dir, CURSOR_TEMP);
  const handle = await fsp.open(temp, 'w', 0o600);
  try {
    await handle.writeFile(serializeCursor(state), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(temp, join(dir, CURSOR_FILE));
  await fsyncDir(dir);
}

/**
 * Serialises cursor writes: at most one write in flight; updates arriving meanwhile are coalesced into one more
 * write of the newest state. `onDurable` runs after each completed write with the state that is now on disk, which
 * is the only moment segments covered by it may be deleted.
 */
export class CursorWriter {
  private latest: CursorState;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private durable: CursorState;

  constructor(
    private readonly dir: string,
    initial: CursorState,
    private readonly onDurable: (state: CursorState) => void,
    private readonly onError: (error: Error) => void,
  ) {
    this.latest = structuredClone(initial);
    this.durable = structuredClone(initial);
  }

  get durableState(): CursorState {
    return this.durable;
  }

  update(state: CursorState): void {
    this.latest = structuredClone(state);
    this.dirty = true;
    if (!this.writing) this.writing = this.loop();
  }

  /**
   * Resolves once everything passed to `update` so far is on disk, or once a round of retries failed again (the
   * error went to `onError`; the update stays pending). A write given up earlier is tried again here.
   */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.dirty) {
      this.writing = this.loop();
      await this.writing;
    }
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const snapshot = this.latest;
        try {
          await writeCursorAtomic(this.dir, snapshot);
          this.durable = snapshot;
          this.failures = 0;
          this.onDurable(snapshot);
        } catch (e) {
          this.onError(e as Error);
          // Keep the update pending; a later update or flush retries it.
          await new Promise((resolve) => setTimeout(resolve, 200));
          this.dirty = true;
          if (this.retriesExhausted()) break;
        }
      }
    } finally {
      this.writing = null;
    }
  }

  /** Consecutive failed writes; after 5 the loop stops until the next `update` or `flush`. */
  private failures = 0;
  private retriesExhausted(): boolean {
    this.failures++;
    if (this.failures < 5) return false;
    this.failures = 0;
    return true;
  }
}
