import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CursorWriter,
  type CursorState,
  initialCursor,
  parseCursor,
  readCursor,
  serializeCursor,
  writeCursorAtomic,
} from '../../../src-main/agent/spool/cursor';
import { tempDir, waitFor } from './helpers';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function dir(): string {
  const t = tempDir('cursor-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const sample: CursorState = {
  confirmedSeq: 12345,
  dropped: { log: 3, telemetry: 9, result: 0 },
  unreportedDrops: { telemetry: 2, log: 1 },
};

describe('cursor', () => {
  it('serialises with a checksum and rejects any edit', () => {
    const text = serializeCursor(sample);
    expect(parseCursor(text)).toEqual(sample);
    expect(parseCursor(text.replace('12345', '12346'))).toBeNull();
    expect(parseCursor(text.slice(0, 20))).toBeNull();
    expect(parseCursor('')).toBeNull();
  });

  it('writes atomically and leaves no temp file', async () => {
    const d = dir();
    await writeCursorAtomic(d, sample);
    expect(readdirSync(d)).toEqual(['cursor.json']);
    expect(await readCursor(d)).toEqual({ status: 'ok', state: sample });
  });

  it('reports missing and damaged cursors with a conservative state', async () => {
    const d = dir();
    expect((await readCursor(d)).status).toBe('missing');
    writeFileSync(join(d, 'cursor.json'), '{"v":1,"confirmedSeq":5');
    const damaged = await readCursor(d);
    expect(damaged.status).toBe('damaged');
    expect(damaged.state).toEqual(initialCursor());
  });

  it('coalesces updates and reports each durable state in order', async () => {
    const d = dir();
    const durable: number[] = [];
    const w = new CursorWriter(
      d,
      initialCursor(),
      (s) => durable.push(s.confirmedSeq),
      (e) => {
        throw e;
      },
    );
    for (let i = 1; i <= 50; i++) w.update({ ...sample, confirmedSeq: i });
    await w.flush();
    expect(durable.at(-1)).toBe(50);
    expect(durable.length).toBeLessThan(50);
    expect([...durable].sort((a, b) => a - b)).toEqual(durable);
    expect(JSON.parse(readFileSync(join(d, 'cursor.json'), 'utf8')).confirmedSeq).toBe(50);
    await waitFor(() => w.durableState.confirmedSeq === 50);
  });

  it('flush() retries a write that was given up after repeated failures', async () => {
    const d = join(dir(), 'not-yet');
    const errors: string[] = [];
    const w = new CursorWriter(
      d,
      initialCursor(),
      () => undefined,
      (e) => errors.push(e.message),
    );
    w.update({ ...sample, confirmedSeq: 7 });
    await w.flush(); // the directory is missing: a round of retries fails
    expect(errors.length).toBeGreaterThanOrEqual(5);
    expect(w.durableState.confirmedSeq).toBe(0);
    mkdirSync(d);
    await w.flush();
    expect(w.durableState.confirmedSeq).toBe(7);
    expect(JSON.parse(readFileSync(join(d, 'cursor.json'), 'utf8')).confirmedSeq).toBe(7);
  });
});
