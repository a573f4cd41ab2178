import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { promises as fsp } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
afterEach(() => {
  vi.restoreAllMocks();
  cleanups.splice(0).forEach((c) => c());
});

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

  it('rejects a correctly checksummed cursor whose fields are out of range or missing', () => {
    // Signed like serializeCursor, so only the field checks can refuse these.
    const signed = (body: Record<string, unknown>): string =>
      JSON.stringify({ ...body, crc: crc32(JSON.stringify(body)) });
    const good = { v: 1, ...sample };
    expect(parseCursor(signed(good))).toEqual(sample);
    const bad: Array<[string, Record<string, unknown>]> = [
      ['version 2', { ...good, v: 2 }],
      ['negative seq', { ...good, confirmedSeq: -1 }],
      ['fractional seq', { ...good, confirmedSeq: 1.5 }],
      ['seq as text', { ...good, confirmedSeq: '5' }],
      ['seq past 2^53', { ...good, confirmedSeq: 2 ** 53 }],
      ['no drop counters', { ...good, dropped: null }],
      ['drop counters as text', { ...good, dropped: 'none' }],
      ['negative log drops', { ...good, dropped: { ...sample.dropped, log: -1 } }],
      ['telemetry drops as text', { ...good, dropped: { ...sample.dropped, telemetry: 'x' } }],
      ['no result drops', { ...good, dropped: { log: 3, telemetry: 9 } }],
      ['no unreported drops', { ...good, unreportedDrops: null }],
      ['unreported drops as a number', { ...good, unreportedDrops: 4 }],
      ['negative unreported telemetry', { ...good, unreportedDrops: { telemetry: -2, log: 1 } }],
      ['no unreported log', { ...good, unreportedDrops: { telemetry: 2 } }],
    ];
    for (const [what, body] of bad) expect(parseCursor(signed(body)), what).toBeNull();
    expect(parseCursor('5')).toBeNull();
    expect(parseCursor('null')).toBeNull();
    expect(parseCursor(JSON.stringify({ ...good, crc: 'x' }))).toBeNull();
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

  it('writes a file only its owner can read, one line of JSON', async () => {
    const d = dir();
    await writeCursorAtomic(d, sample);
    expect(statSync(join(d, 'cursor.json')).mode & 0o777).toBe(0o600);
    const text = readFileSync(join(d, 'cursor.json'), 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.trimEnd()).not.toContain('\n');
  });

  it('says why a cursor is damaged: unreadable, or failing its checksum', async () => {
    const d = dir();
    mkdirSync(join(d, 'cursor.json'));
    expect(await readCursor(d)).toEqual({
      status: 'damaged',
      state: initialCursor(),
      detail: expect.stringMatching(/^cannot read cursor: EISDIR/) as unknown as string,
    });
    const e = dir();
    writeFileSync(join(e, 'cursor.json'), serializeCursor(sample).replace('12345', '12346'));
    expect(await readCursor(e)).toEqual({
      status: 'damaged',
      state: initialCursor(),
      detail: 'cursor file failed its checksum',
    });
  });

  it('starts a missing cursor from zero counters that survive a write and a read', async () => {
    const d = dir();
    const missing = await readCursor(d);
    expect(missing.status).toBe('missing');
    await writeCursorAtomic(d, missing.state);
    expect(await readCursor(d)).toEqual({ status: 'ok', state: missing.state });
    expect(missing.state.dropped).toEqual({ log: 0, telemetry: 0, result: 0 });
    expect(missing.state.unreportedDrops).toEqual({ telemetry: 0, log: 0 });
  });

  it('keeps at most one write in flight however fast updates come', async () => {
    const d = dir();
    let inFlight = 0;
    let most = 0;
    const open = fsp.open.bind(fsp);
    const rename = fsp.rename.bind(fsp);
    vi.spyOn(fsp, 'open').mockImplementation(async (path, ...rest) => {
      if (String(path).endsWith('.tmp')) most = Math.max(most, ++inFlight);
      return open(path, ...rest);
    });
    vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      await rename(from, to);
      if (String(from).endsWith('.tmp')) inFlight--;
    });
    const w = new CursorWriter(
      d,
      initialCursor(),
      () => undefined,
      (e) => {
        throw e;
      },
    );
    for (let i = 1; i <= 20; i++) w.update({ ...sample, confirmedSeq: i });
    await w.flush();
    expect(most).toBe(1);
    expect((await readCursor(d)).state.confirmedSeq).toBe(20);
  });

  it('a flush without updates writes nothing', async () => {
    const d = dir();
    await new CursorWriter(
      d,
      sample,
      () => undefined,
      () => undefined,
    ).flush();
    expect(readdirSync(d)).toEqual([]);
  });

  it('writes an update on its own, without waiting for a flush', async () => {
    const d = dir();
    const durable: number[] = [];
    const w = new CursorWriter(
      d,
      initialCursor(),
      (s) => durable.push(s.confirmedSeq),
      () => undefined,
    );
    w.update({ ...sample, confirmedSeq: 9 });
    await waitFor(() => durable.includes(9), 5000, 'the update to become durable');
    expect((await readCursor(d)).state.confirmedSeq).toBe(9);
  });
});
