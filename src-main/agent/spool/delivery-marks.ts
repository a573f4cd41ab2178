/**
 * Delivery marks: how far the running pump got — sent, received by the server (first step), confirmed (both steps) —
 * kept in `<spool>/delivery.json` for `minion-agent spool stats`, which reads the spool from outside the agent. Only
 * the cursor is authoritative; this file is advisory, so it is written without fsync (temp file + rename, so a reader
 * never sees half of it), at most once a second, off the event loop.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

export const DELIVERY_MARKS_FILE = 'delivery.json';

export interface DeliveryMarks {
  /** When these figures were taken (ms). */
  at: number;
  pid: number;
  /** Highest sequence written to a connection by that process. */
  sentSeq: number;
  /** Highest sequence a barrier proved the server has read. */
  receivedSeq: number;
  /** The cursor: both steps done up to here. */
  confirmedSeq: number;
  /** Frames since that process started. */
  sent: number;
  receivedByServer: number;
  confirmed: number;
}

const MIN_GAP_MS = 1000;

export class DeliveryMarksWriter {
  private latest: DeliveryMarks | null = null;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastWriteAt = 0;

  constructor(
    private readonly dir: string,
    private readonly onError: (message: string) => void = () => undefined,
  ) {}

  /** Remembers the figures; they reach the file within about a second. */
  update(marks: DeliveryMarks): void {
    this.latest = marks;
    if (this.timer || this.writing) return;
    const wait = Math.max(0, this.lastWriteAt + MIN_GAP_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.writeNow();
    }, wait);
    this.timer.unref();
  }

  /** Writes the latest figures now (a clean stop) and waits for it. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.writing) await this.writing;
    await this.writeNow();
  }

  private async writeNow(): Promise<void> {
    const marks = this.latest;
    if (!marks || this.writing) return;
    this.latest = null;
    this.lastWriteAt = Date.now();
    const file = join(this.dir, DELIVERY_MARKS_FILE);
    const temp = `${file}.tmp`;
    this.writing = fsp
      .writeFile(temp, JSON.stringify(marks) + '\n')
      .then(() => fsp.rename(temp, file))
      .catch((e: unknown) => this.onError(`cannot write ${file}: ${(e as Error).message}`))
      .finally(() => {
        this.writing = null;
        if (this.latest) this.update(this.latest);
      });
    await this.writing;
  }
}

/** The marks of the last agent that delivered from this spool, or null (none yet, or unreadable). */
export async function readDeliveryMarks(dir: string): Promise<DeliveryMarks | null> {
  try {
    const raw = JSON.parse(
      await fsp.readFile(join(dir, DELIVERY_MARKS_FILE), 'utf8'),
    ) as Partial<DeliveryMarks>;
    const fields: Array<keyof DeliveryMarks> = [
      'at',
      'pid',
      'sentSeq',
      'receivedSeq',
      'confirmedSeq',
      'sent',
      'receivedByServer',
      'confirmed',
    ];
    if (!fields.every((f) => typeof raw[f] === 'number' && Number.isFinite(raw[f]))) return null;
    return raw as DeliveryMarks;
  } catch {
    return null;
  }
}
