import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogTailer, type LogTailerOptions, type TailerStats } from '../../../src-main/agent/logs/tailer';

let dir: string;
let clock: number;
const tailers: LogTailer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minion-tail-bytes-'));
  clock = 1_000_000;
});
afterEach(async () => {
  for (const t of tailers.splice(0)) await t.stopAndCheckpoint();
  rmSync(dir, { recursive: true, force: true });
});

interface Delivered {
  path: 'bytes' | 'string';
  service: string;
  text: string;
}

/** A tailer polled by hand; with `bytes`, the common lines go to a byte sink (decoded here to compare). */
function makeTailer(
  file: string,
  bytes: boolean,
  overrides: Partial<LogTailerOptions> = {},
): { tailer: LogTailer; delivered: Delivered[] } {
  const delivered: Delivered[] = [];
  const tailer = new LogTailer({
    entries: [{ service: 'app', file }],
    checkpointPath: join(dir, bytes ? 'bytes' : 'string', 'tail-checkpoint.json'),
    maxMessageBytes: 100,
    sink: (service, text) => delivered.push({ path: 'string', service, text }),
    ...(bytes
      ? {
          byteSink: (service: string, line: Buffer, start: number, end: number) =>
            delivered.push({ path: 'bytes', service, text: line.toString('utf8', start, end) }),
        }
      : {}),
    pollIntervalMs: 3_600_000,
    scanIntervalMs: 0,
    quietFlushMs: 2000,
    startAt: 'beginning',
    checkpointIntervalMs: 0,
    watch: false,
    now: () => clock,
    // A slice clock that never moves: one pollNow() reads everything, however loaded the machine.
    clock: () => 0,
    ...overrides,
  });
  tailers.push(tailer);
  return { tailer, delivered };
}

function drain(tailer: LogTailer): void {
  for (let i = 0; i < 1000 && tailer.pollNow(); i++);
}

function counts(stats: TailerStats): Omit<TailerStats, 'files'> {
  const { files: _files, ...rest } = stats;
  return rest;
}

describe('LogTailer: the byte sink (common lines as bytes)', () => {
  it('delivers the same messages, in the same order, with the same counters as the string sink alone', () => {
    const path = join(dir, 'mixed.log');
    const content = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]), // a byte-order mark before the first line
      Buffer.from('first line\r\n'),
      Buffer.from('grüße, ünïcödé, 日本語, 😀\n'),
      Buffer.from('\n\r\n'), // empty lines: nothing sent
      Buffer.from([0x62, 0x61, 0xff, 0x64, 0x0a]), // invalid UTF-8
      Buffer.from([0xed, 0xa0, 0x80, 0x0a]), // an encoded surrogate: invalid UTF-8 too
      Buffer.from('a\rb inner CR stays\n'),
      Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x41, 0x0a]), // only the first BOM of a line is cut
      Buffer.from('x'.repeat(100) + '\n'), // exactly the budget
      Buffer.from('y'.repeat(101) + '\n'), // one byte over: parts
      Buffer.from('é'.repeat(50) + '\n'), // 100 bytes, 50 characters
      Buffer.from('é'.repeat(50) + 'z\n'), // 101 bytes: parts
      Buffer.from('partial last line'),
    ]);
    writeFileSync(path, content);
    const withStrings = makeTailer(path, false);
    const withBytes = makeTailer(path, true);
    for (const { tailer } of [withStrings, withBytes]) {
      tailer.start();
      drain(tailer);
    }
    clock += 5000; // the partial line is flushed after the quiet period
    for (const { tailer } of [withStrings, withBytes]) drain(tailer);

    const texts = (d: Delivered[]) => d.map((m) => `${m.service}: ${m.text}`);
    expect(texts(withBytes.delivered)).toEqual(texts(withStrings.delivered));
    expect(withStrings.delivered.map((m) => m.text)).toContain('ba\uFFFDd');
    expect(counts(withBytes.tailer.stats())).toEqual(counts(withStrings.tailer.stats()));
    // Which path each took: the invalid, long and split lines stay on the string path.
    const byPath = (p: Delivered['path']) =>
      withBytes.delivered.filter((m) => m.path === p).map((m) => m.text);
    expect(byPath('bytes')).toEqual([
      'first line',
      'grüße, ünïcödé, 日本語, 😀',
      'a\rb inner CR stays',
      '\uFEFFA',
      'x'.repeat(100),
      'é'.repeat(50),
      'partial last line',
    ]);
    expect(byPath('string')).toContain('ba\uFFFDd');
    expect(byPath('string')).toContain('\uFFFD\uFFFD\uFFFD');
    expect(byPath('string').filter((t) => / \[\d+\/\d+\]$/.test(t))).toHaveLength(4);
  });

  it('a refusal on the byte path offers the same line again on the next poll: nothing lost, nothing repeated', () => {
    const path = join(dir, 'refuse.log');
    writeFileSync(path, 'one\ntwo\nthree\n');
    const accepted: string[] = [];
    let refuse = true;
    const { tailer } = makeTailer(path, true, {
      byteSink: (_service, line, start, end) => {
        const text = line.toString('utf8', start, end);
        if (text === 'two' && refuse) throw new Error('spool full');
        accepted.push(text);
      },
    });
    tailer.start();
    expect(accepted).toEqual(['one']);
    expect(tailer.stats().sinkRefusals).toBe(1);
    // Still refused: offered again, still not taken.
    tailer.pollNow();
    expect(accepted).toEqual(['one']);
    refuse = false;
    appendFileSync(path, 'four\n');
    drain(tailer);
    expect(accepted).toEqual(['one', 'two', 'three', 'four']);
    expect(tailer.stats()).toMatchObject({ sinkRefusals: 2, linesShipped: 4, messagesShipped: 4 });
  });
});
