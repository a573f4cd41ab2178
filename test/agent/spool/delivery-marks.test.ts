import { existsSync, mkdirSync, promises as fsp, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DELIVERY_MARKS_FILE,
  type DeliveryMarks,
  DeliveryMarksWriter,
  readDeliveryMarks,
} from '../../../src-main/agent/spool/delivery-marks';
import { tempDir } from './helpers';

const cleanups: Array<() => void> = [];
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  cleanups.splice(0).forEach((c) => c());
});

function dir(): string {
  const t = tempDir('marks-');
  cleanups.push(t.cleanup);
  return t.dir;
}

function marks(seq: number): DeliveryMarks {
  return {
    at: 1_000_000 + seq,
    pid: 4242,
    sentSeq: seq,
    receivedSeq: seq - 1,
    confirmedSeq: seq - 2,
    sent: seq,
    receivedByServer: seq - 1,
    confirmed: seq - 2,
  };
}

function onDisk(d: string): number | null {
  const file = join(d, DELIVERY_MARKS_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DeliveryMarks).sentSeq : null;
}

/** Waits for the file's I/O (real, off the faked timers) to show `seq`; bounded by real time, not a sleep. */
async function untilOnDisk(d: string, seq: number): Promise<void> {
  const deadline = performance.now() + 5000;
  while (onDisk(d) !== seq) {
    if (performance.now() > deadline)
      throw new Error(`delivery.json never showed seq ${seq} (has ${onDisk(d)})`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('DeliveryMarksWriter', () => {
  // Only the timers the writer uses are faked: the file I/O and setImmediate stay real.
  beforeEach(() => vi.useFakeTimers({ now: 5_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] }));

  it('writes the first figures at once, then at most once a second and only the newest', async () => {
    const d = dir();
    const renames = vi.spyOn(fsp, 'rename');
    const writer = new DeliveryMarksWriter(d);
    writer.update(marks(1));
    await vi.advanceTimersByTimeAsync(0);
    await untilOnDisk(d, 1);

    writer.update(marks(2));
    writer.update(marks(3));
    await vi.advanceTimersByTimeAsync(999);
    // A second write is still waiting for its turn.
    expect(vi.getTimerCount()).toBe(1);
    expect(renames).toHaveBeenCalledTimes(1);
    expect(onDisk(d)).toBe(1);

    await vi.advanceTimersByTimeAsync(1);
    await untilOnDisk(d, 3);
    expect(renames).toHaveBeenCalledTimes(2);
    // Nothing new: nothing more scheduled (the writer does not keep rewriting the same figures).
    await vi.waitFor(() => expect(vi.getTimerCount()).toBe(0));
    expect(readdirSync(d)).toEqual([DELIVERY_MARKS_FILE]);
    // One line of JSON (readable with cat).
    expect(readFileSync(join(d, DELIVERY_MARKS_FILE), 'utf8')).toBe(JSON.stringify(marks(3)) + '\n');
  });

  it('writes figures that arrive during a write once that write is done', async () => {
    const d = dir();
    const writer = new DeliveryMarksWriter(d);
    writer.update(marks(1));
    await vi.advanceTimersByTimeAsync(0);
    writer.update(marks(2)); // the first write is in flight now
    await untilOnDisk(d, 1);
    await vi.waitFor(() => expect(vi.getTimerCount()).toBe(1));
    await vi.advanceTimersByTimeAsync(1000);
    await untilOnDisk(d, 2);
  });

  it('flush writes the newest figures now and waits for a write in flight', async () => {
    const d = dir();
    const writer = new DeliveryMarksWriter(d);
    writer.update(marks(1));
    await vi.advanceTimersByTimeAsync(0);
    await untilOnDisk(d, 1);
    writer.update(marks(2)); // waits for the one-second gap
    await writer.flush(); // no time passes: flush does not wait for the gap
    expect(onDisk(d)).toBe(2);

    writer.update(marks(3));
    await vi.advanceTimersByTimeAsync(1000); // the write of 3 starts
    writer.update(marks(4));
    await writer.flush();
    expect(onDisk(d)).toBe(4);
  });

  it('reports a write that fails and writes again once it can', async () => {
    const d = join(dir(), 'not-yet');
    const errors: string[] = [];
    const writer = new DeliveryMarksWriter(d, (message) => errors.push(message));
    writer.update(marks(1));
    await writer.flush();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^cannot write .*delivery\.json: ENOENT/);
    mkdirSync(d);
    writer.update(marks(2));
    await writer.flush();
    expect(onDisk(d)).toBe(2);
  });

  it('flush without figures writes nothing', async () => {
    const d = dir();
    await new DeliveryMarksWriter(d).flush();
    expect(readdirSync(d)).toEqual([]);
  });
});

describe('readDeliveryMarks', () => {
  const write = (d: string, text: string): void => writeFileSync(join(d, DELIVERY_MARKS_FILE), text);

  it('reads what the writer wrote', async () => {
    const d = dir();
    const writer = new DeliveryMarksWriter(d);
    writer.update(marks(9));
    await writer.flush();
    expect(await readDeliveryMarks(d)).toEqual(marks(9));
  });

  it('is null without a file, for damaged text, and when a figure is missing or not a finite number', async () => {
    const d = dir();
    expect(await readDeliveryMarks(d)).toBeNull();
    write(d, '{"at":1,');
    expect(await readDeliveryMarks(d)).toBeNull();
    write(d, 'null');
    expect(await readDeliveryMarks(d)).toBeNull();
    for (const field of Object.keys(marks(5)) as Array<keyof DeliveryMarks>) {
      const { [field]: _left, ...without } = marks(5);
      write(d, JSON.stringify(without));
      expect(await readDeliveryMarks(d), `without ${field}`).toBeNull();
      write(d, JSON.stringify({ ...marks(5), [field]: '5' }));
      expect(await readDeliveryMarks(d), `${field} as text`).toBeNull();
      // JSON has no Infinity, but 1e999 parses to it.
      write(d, JSON.stringify(marks(5)).replace(`"${field}":`, `"${field}":1e999,"_":`));
      expect(await readDeliveryMarks(d), `${field} infinite`).toBeNull();
    }
  });
});
