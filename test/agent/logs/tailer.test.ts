import {
  appendFileSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogTailer, type LogTailerOptions, type TailEntry } from '../../../src-main/agent/logs/tailer';

let dir: string;
let clock: number;
const tailers: LogTailer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minion-tail-'));
  clock = 1_000_000;
});
afterEach(async () => {
  for (const t of tailers.splice(0)) await t.stopAndCheckpoint();
  rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  tailer: LogTailer;
  lines: string[];
  services: string[];
  logs: string[];
}

/** A tailer driven by hand: polls only when the test says so, time only moves when the test moves it. */
function makeTailer(
  entries: TailEntry[],
  overrides: Partial<LogTailerOptions> = {},
  lines: string[] = [],
): Harness {
  const services: string[] = [];
  const logs: string[] = [];
  const tailer = new LogTailer({
    entries,
    checkpointPath: join(dir, 'state', 'tail-checkpoint.json'),
    maxMessageBytes: 4096,
    sink: (service, line) => {
      services.push(service);
      lines.push(line);
    },
    log: (level, message) => logs.push(`${level}: ${message}`),
    pollIntervalMs: 3_600_000, // never fires during a test: polls are explicit
    scanIntervalMs: 0,
    quietFlushMs: 2000,
    rotatedGraceMs: 1000,
    startAt: 'beginning',
    checkpointIntervalMs: 0,
    now: () => clock,
    // A slice clock that never moves: one pollNow() reads everything, however loaded the machine (with the real
    // clock, a poll descheduled for 4 ms ended before reading). The slice tests give their own costed clock.
    clock: () => 0,
    ...overrides,
  });
  tailers.push(tailer);
  return { tailer, lines, services, logs };
}

/** Writes `content` to `name` in the test folder and starts a tailer (service 's') on it. */
function startTailerOn(
  name: string,
  content: string,
  overrides: Partial<LogTailerOptions> = {},
): { path: string; h: Harness } {
  const path = join(dir, name);
  writeFileSync(path, content);
  const h = makeTailer([{ service: 's', file: path }], overrides);
  h.tailer.start();
  return { path, h };
}

/**
 * A tailer on `path` whose sink throws for `refusedLine` (as a full spool does) while `sink.refusing` is set; the
 * lines it takes collect in `sink.accepted`.
 */
function makeRefusingTailer(
  path: string,
  refusedLine: string,
  refusing: boolean,
): { h: Harness; sink: { accepted: string[]; refusing: boolean } } {
  const sink = { accepted: [] as string[], refusing };
  const h = makeTailer([{ service: 's', file: path }], {
    sink: (_s, line) => {
      if (line === refusedLine && sink.refusing) throw new Error('spool full');
      sink.accepted.push(line);
    },
  });
  return { h, sink };
}

async function stop(h: Harness): Promise<void> {
  tailers.splice(tailers.indexOf(h.tailer), 1);
  await h.tailer.stopAndCheckpoint();
}

const numbered = (from: number, to: number) =>
  Array.from(
    { length: to - from },
    (_, i) => `line ${String(from + i).padStart(6, '0')} ${'x'.repeat((from + i) % 37)}`,
  );

/** Polls until no file has more data than one poll reads. */
function drain(h: Harness) {
  for (let i = 0; i < 1000 && h.tailer.pollNow(); i++);
}

/** A writer like a daemon's logger: keeps its file open (O_APPEND) until told to reopen. */
class Writer {
  private fd: number;
  constructor(private readonly path: string) {
    this.fd = openSync(path, 'a');
  }
  write(lines: string[], eol = '\n') {
    if (lines.length > 0) writeSync(this.fd, lines.join(eol) + eol);
  }
  raw(text: string) {
    writeSync(this.fd, text);
  }
  reopen() {
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
  }
  close() {
    closeSync(this.fd);
  }
}

describe('LogTailer: bounded work per poll', () => {
  /**
   * `count` numbered lines in `name`, and tailer options whose sink collects them in `lines` and charges each one
   * `msPerLine` on the tailer's clock, so a slice's time budget is a number of lines.
   */
  function costedLines(
    name: string,
    count: number,
    msPerLine: number,
  ): { path: string; expected: string[]; lines: string[]; options: Partial<LogTailerOptions> } {
    const path = join(dir, name);
    const expected = numbered(0, count);
    writeFileSync(path, expected.join('\n') + '\n');
    let ms = 0;
    const lines: string[] = [];
    const options = {
      clock: () => ms,
      sink: (_service: string, line: string) => {
        lines.push(line);
        ms += msPerLine;
      },
    };
    return { path, expected, lines, options };
  }

  /** Polls until the tailer has nothing more to read (at most 1000 polls); the lines each poll handed over. */
  function linesPerPoll(h: Harness, lines: string[]): number[] {
    const perPoll: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const before = lines.length;
      const more = h.tailer.pollNow();
      perPoll.push(lines.length - before);
      if (!more) break;
    }
    return perPoll;
  }

  it('turns a large read into sink calls in slices of bounded time, in order, losing and repeating nothing', () => {
    // Every line "costs" a millisecond of the slice.
    const { path, expected, lines, options } = costedLines('burst.log', 3000, 1);
    const h = makeTailer([{ service: 'app', file: path }], { maxSliceMs: 10, ...options });
    h.tailer.start(); // the first poll
    const perPoll = [lines.length, ...linesPerPoll(h, lines)];
    expect(lines).toEqual(expected);
    // The clock is looked at every 16 lines: a slice overshoots its 10 ms by less than that.
    expect(Math.max(...perPoll)).toBeLessThanOrEqual(10 + 16);
    expect(perPoll.length).toBeGreaterThanOrEqual(3000 / 26);
    // A yielded buffer is not mistaken for a quiet partial line, and the checkpoint covers exactly what was sent.
    clock += 10_000;
    expect(h.tailer.pollNow()).toBe(false);
    expect(lines).toHaveLength(3000);
    expect(h.tailer.stats().files[0]?.offset).toBe(statSync(path).size);
  });

  it('by default a slice ends after 4 ms of sink work (the clock looked at every 16 lines)', () => {
    // 40 lines fill a 4 ms slice.
    const { path, expected, lines, options } = costedLines('default-slice.log', 2000, 0.1);
    const h = makeTailer([{ service: 'app', file: path }], options);
    h.tailer.start();
    const perPoll = linesPerPoll(h, lines);
    expect(lines).toEqual(expected);
    const full = perPoll.slice(0, -1); // the last slice ends with the file
    // 2000 lines in slices of 40–56 (the first slice is start()'s): not one poll that took them all.
    expect(full.length).toBeGreaterThanOrEqual(2000 / 56 - 2);
    expect(Math.min(...full)).toBeGreaterThanOrEqual(40);
    expect(Math.max(...full)).toBeLessThanOrEqual(40 + 16);
  });

  it('a file whose lines are still being sliced keeps its place when the poll ends mid-buffer and the tailer restarts', async () => {
    const costed = costedLines('restart.log', 500, 1);
    const { path, expected, lines } = costed;
    const options = { maxSliceMs: 5, ...costed.options };
    const first = makeTailer([{ service: 'app', file: path }], options);
    first.tailer.start();
    first.tailer.pollNow();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(500);
    await stop(first); // checkpoint: the lines handed over so far, not the bytes read
    const second = makeTailer([{ service: 'app', file: path }], options);
    second.tailer.start();
    drain(second);
    expect(lines).toEqual(expected);
  });
});

describe('LogTailer: one reused read buffer', () => {
  it("a file's refused lines stay intact while the next file is read into the same buffer", () => {
    const pathA = join(dir, 'a.log');
    const pathB = join(dir, 'b.log');
    const expectedA = numbered(0, 400).map((line) => `a ${line}`);
    const expectedB = numbered(0, 400).map((line) => `b ${line}`);
    writeFileSync(pathA, expectedA.join('\n') + '\n');
    writeFileSync(pathB, expectedB.join('\n') + '\n');
    const byFile: Record<string, string[]> = { a: [], b: [] };
    let refuseOnce = expectedA[120];
    const h = makeTailer(
      [
        { service: 'a', file: pathA },
        { service: 'b', file: pathB },
      ],
      {
        readChunkBytes: 1024,
        sink: (service, line) => {
          if (line === refuseOnce) {
            refuseOnce = undefined;
            throw new Error('spool full');
          }
          byFile[service]?.push(line);
        },
      },
    );
    h.tailer.start(); // a is refused mid-chunk and waits; b is read in the same poll
    expect(byFile.b?.length).toBeGreaterThan(0);
    drain(h);
    expect(byFile.a).toEqual(expectedA);
    expect(byFile.b).toEqual(expectedB);
  });
});

describe('LogTailer: checkpoints off the event loop (whenSinkDurable)', () => {
  const checkpointFile = (): string => join(dir, 'state', 'tail-checkpoint.json');
  const savedOffset = (): number | undefined =>
    existsSync(checkpointFile())
      ? (JSON.parse(readFileSync(checkpointFile(), 'utf8')) as { files: { offset: number }[] }).files[0]
          ?.offset
      : undefined;
  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(check()).toBe(true);
  }

  it('writes a checkpoint only after the sink made its lines durable, without the stop barrier', async () => {
    const path = join(dir, 'a.log');
    writeFileSync(path, 'one\ntwo\n');
    const durable: Array<() => void> = [];
    let barrierCalls = 0;
    const h = makeTailer([{ service: 's', file: path }], {
      whenSinkDurable: () => new Promise<void>((resolve) => durable.push(resolve)),
      beforeFinalCheckpoint: () => {
        barrierCalls++;
        return Promise.resolve();
      },
    });
    h.tailer.start();
    expect(h.lines).toEqual(['one', 'two']);
    expect(durable).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(savedOffset()).toBeUndefined(); // not ahead of the sink
    durable[0]?.();
    await until(() => savedOffset() === 8);
    await h.tailer.settled(); // the write is done (rename and directory sync), not just visible
    // More lines while nothing is durable yet: one write in flight at a time, the rest follows.
    appendFileSync(path, 'three\n');
    clock += 1;
    h.tailer.pollNow();
    expect(durable).toHaveLength(2);
    h.tailer.pollNow();
    expect(durable).toHaveLength(2);
    durable[1]?.();
    await until(() => savedOffset() === 14);
    expect(barrierCalls).toBe(0);
    await h.tailer.settled();
    await stop(h);
    expect(barrierCalls).toBe(1); // only the final write of a stop waits for the barrier
    expect(savedOffset()).toBe(14);
  });

  it('stopAndCheckpoint writes the final checkpoint only after beforeFinalCheckpoint resolved, and not after it failed', async () => {
    const path = join(dir, 'a.log');
    writeFileSync(path, 'one\ntwo\n');
    let release: (() => void) | null = null;
    let barrierCalls = 0;
    const h = makeTailer([{ service: 's', file: path }], {
      // Never durable on its own: only the stop's barrier makes the lines durable.
      whenSinkDurable: () => new Promise<void>(() => undefined),
      beforeFinalCheckpoint: () => {
        barrierCalls++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    h.tailer.start();
    expect(h.lines).toEqual(['one', 'two']);
    tailers.splice(tailers.indexOf(h.tailer), 1);
    const stopped = h.tailer.stopAndCheckpoint();
    await until(() => release !== null);
    expect(savedOffset()).toBeUndefined(); // not ahead of the sink
    (release as unknown as () => void)();
    await stopped;
    expect(savedOffset()).toBe(8);
    expect(barrierCalls).toBe(1); // one barrier, one final write

    appendFileSync(path, 'three\n');
    const again = makeTailer([{ service: 's', file: path }], {
      whenSinkDurable: () => new Promise<void>(() => undefined),
      beforeFinalCheckpoint: () => Promise.reject(new Error('disk gone')),
    });
    again.tailer.start();
    expect(again.lines).toEqual(['three']);
    tailers.splice(tailers.indexOf(again.tailer), 1);
    await again.tailer.stopAndCheckpoint();
    expect(savedOffset()).toBe(8); // "three" is read again after the next start
    expect(again.logs.some((l) => l.includes('log checkpoint not written: disk gone'))).toBe(true);
  });

  it('a write still waiting for durability when the tailer stops never replaces the final checkpoint', async () => {
    const path = join(dir, 'b.log');
    writeFileSync(path, 'one\n');
    const durable: Array<() => void> = [];
    const h = makeTailer([{ service: 's', file: path }], {
      whenSinkDurable: () => new Promise<void>((resolve) => durable.push(resolve)),
    });
    h.tailer.start();
    appendFileSync(path, 'two\n');
    clock += 1;
    h.tailer.pollNow();
    expect(h.lines).toEqual(['one', 'two']);
    await stop(h); // the snapshot in flight says 4; the stop writes 8
    expect(savedOffset()).toBe(8);
    for (const resolve of durable) resolve();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(savedOffset()).toBe(8);
  });
});

describe('LogTailer', () => {
  it('ships 100,000 lines written in bursts across a rename rotation and a copytruncate exactly once, in order', () => {
    const path = join(dir, 'app.log');
    const writer = new Writer(path);
    const h = makeTailer([{ service: 'app', file: path }], {
      maxBytesPerPoll: 256 * 1024,
      readChunkBytes: 16 * 1024,
    });
    h.tailer.start();

    const total = 100_000;
    const expected = numbered(0, total);
    let written = 0;
    let burst = 0;
    // Deterministic pseudo-random burst sizes and poll points.
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let rotated = false;
    let copied = false;
    while (written < total) {
      const size = Math.min(total - written, 1 + random(2500));
      writer.write(expected.slice(written, written + size));
      written += size;
      burst++;
      if (!rotated && written >= 30_000) {
        // logrotate "create": rename, the daemon keeps writing to the old file for one more burst, then reopens.
        renameSync(path, `${path}.1`);
        const more = Math.min(total - written, 500);
        writer.write(expected.slice(written, written + more));
        written += more;
        writer.reopen();
        rotated = true;
      }
      if (!copied && written >= 60_000) {
        // logrotate "copytruncate": shift the old rotation, copy, truncate; the daemon keeps its O_APPEND fd.
        renameSync(`${path}.1`, `${path}.2`);
        copyFileSync(path, `${path}.1`);
        truncateSync(path, 0);
        copied = true;
      }
      if (random(3) === 0) h.tailer.pollNow();
      if (burst % 7 === 0) clock += 300;
    }
    writer.close();
    drain(h);
    clock += 5000;
    drain(h);

    expect(rotated && copied).toBe(true);
    expect(h.lines.length).toBe(total);
    // Exactly once and in order: compare the whole sequence (first mismatch reported).
    const firstMismatch = h.lines.findIndex((line, i) => line !== expected[i]);
    expect(firstMismatch).toBe(-1);
    expect(h.tailer.stats().rotations).toBeGreaterThanOrEqual(1);
    expect(h.tailer.stats().truncations).toBeGreaterThanOrEqual(1);
  });

  it('restarting mid-stream loses and repeats nothing, including a rotation while stopped and a partial line', async () => {
    const path = join(dir, 'svc.log');
    const all = numbered(0, 9000);
    const writer = new Writer(path);
    writer.write(all.slice(0, 3000));
    writer.raw(all[3000]!.slice(0, 5)); // half a line at the moment of the stop
    const received: string[] = [];
    const first = makeTailer([{ service: 'svc', file: path }], {}, received);
    first.tailer.start();
    drain(first);
    expect(received.length).toBe(3000);
    await stop(first);

    // While the agent is down: the line completes, more lines, a rotation, more lines in the new file.
    writer.raw(`${all[3000]!.slice(5)}\n`);
    writer.write(all.slice(3001, 5000));
    renameSync(path, `${path}.1`);
    writer.reopen();
    writer.write(all.slice(5000, 7000));

    const second = makeTailer([{ service: 'svc', file: path }], {}, received);
    second.tailer.start();
    drain(second);
    writer.write(all.slice(7000, 9000));
    drain(second);
    writer.close();

    expect(received.length).toBe(9000);
    expect(received).toEqual(all);
  });

  it('a restart after a crash (no stop) resumes from the last checkpoint', async () => {
    const path = join(dir, 'c.log');
    appendFileSync(path, numbered(0, 100).join('\n') + '\n');
    const received: string[] = [];
    const first = makeTailer([{ service: 's', file: path }], {}, received);
    first.tailer.start();
    drain(first);
    await first.tailer.checkpointWritten(); // the write the last poll started (off the event loop) is on disk
    // "crash": the process is gone, only what is on disk counts. A second tailer reads the same checkpoint.
    appendFileSync(path, numbered(100, 150).join('\n') + '\n');
    const second = makeTailer([{ service: 's', file: path }], {}, received);
    second.tailer.start();
    drain(second);
    expect(received).toEqual(numbered(0, 150));
    await stop(second);
    await stop(first);
  });

  it('starts at the end of existing files by default, at the beginning when asked', () => {
    const { path, h } = startTailerOn('old.log', 'old 1\nold 2\npartial', { startAt: 'end' });
    appendFileSync(path, ' tail\nnew 1\n');
    drain(h);
    expect(h.lines).toEqual(['partial tail', 'new 1']);

    const other = join(dir, 'other.log');
    writeFileSync(other, 'a\nb\n');
    const h2 = makeTailer([{ service: 's', file: other }], {
      startAt: 'beginning',
      checkpointPath: join(dir, 'cp2.json'),
    });
    h2.tailer.start();
    expect(h2.lines).toEqual(['a', 'b']);
  });

  it('a glob picks up files created later and reads them from their start', () => {
    const h = makeTailer([{ service: 'web', file: join(dir, 'logs', '*.log') }], { startAt: 'end' });
    h.tailer.start();
    h.tailer.pollNow();
    expect(h.lines).toEqual([]);
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    writeFileSync(join(logs, 'a.log'), 'first\nsecond\n');
    writeFileSync(join(logs, 'ignored.txt'), 'nope\n');
    h.tailer.pollNow();
    writeFileSync(join(logs, 'b.log'), 'third\n');
    h.tailer.pollNow();
    expect(h.lines).toEqual(['first', 'second', 'third']);
    expect(h.services).toEqual(['web', 'web', 'web']);
  });

  it('a literal path that does not exist yet is read from its start once it appears', () => {
    const path = join(dir, 'later.log');
    const h = makeTailer([{ service: 's', file: path }], { startAt: 'end' });
    h.tailer.start();
    writeFileSync(path, 'one\ntwo\n');
    h.tailer.pollNow();
    expect(h.lines).toEqual(['one', 'two']);
  });

  it('strips CRLF, skips empty lines, replaces invalid UTF-8', () => {
    const path = join(dir, 'w.log');
    writeFileSync(
      path,
      Buffer.concat([Buffer.from('dos line\r\n\r\n\nunix\n'), Buffer.from([0x62, 0x61, 0xff, 0x64, 0x0a])]),
    );
    const h = makeTailer([{ service: 's', file: path }]);
    h.tailer.start();
    expect(h.lines).toEqual(['dos line', 'unix', 'ba\uFFFDd']);
  });

  it('splits a line longer than the frame budget into marked parts, never drops it', () => {
    const path = join(dir, 'long.log');
    const long = 'é'.repeat(200) + 'end';
    writeFileSync(path, `short\n${long}\nafter\n`);
    const h = makeTailer([{ service: 's', file: path }], { maxMessageBytes: 120 });
    h.tailer.start();
    const parts = h.lines.slice(1, -1);
    expect(h.lines[0]).toBe('short');
    expect(h.lines.at(-1)).toBe('after');
    expect(parts.length).toBeGreaterThan(1);
    parts.forEach((part, i) => {
      expect(Buffer.byteLength(part)).toBeLessThanOrEqual(120);
      expect(part).toMatch(new RegExp(` \\[${i + 1}/${parts.length}\\]$`));
    });
    expect(parts.map((p) => p.replace(/ \[\d+\/\d+\]$/, '')).join('')).toBe(long);
  });

  it('streams a huge line without a newline in parts (bounded memory) and finishes it when the newline comes', () => {
    const path = join(dir, 'huge.log');
    const writer = new Writer(path);
    const h = makeTailer([{ service: 's', file: path }], {
      maxMessageBytes: 1024,
      maxLineBytes: 64 * 1024,
      readChunkBytes: 8 * 1024,
    });
    h.tailer.start();
    const chunk = 'abcdefghij'.repeat(10_000); // 100 kB, no newline
    writer.raw(chunk);
    h.tailer.pollNow();
    const early = h.lines.length;
    expect(early).toBeGreaterThan(0);
    expect(h.lines.every((l) => / \[\d+\/…\]$/.test(l))).toBe(true);
    writer.raw(chunk + '\nnext\n');
    drain(h);
    writer.close();
    const parts = h.lines.slice(0, -1);
    expect(h.lines.at(-1)).toBe('next');
    expect(parts.at(-1)).toMatch(new RegExp(` \\[${parts.length}/${parts.length}\\]$`));
    expect(parts.map((p) => p.replace(/ \[\d+\/(\d+|…)\]$/, '')).join('')).toBe(chunk + chunk);
    expect(parts.every((p) => Buffer.byteLength(p) <= 1024)).toBe(true);
  });

  it('holds a partial last line until its newline, flushing it after the quiet period', () => {
    const { path, h } = startTailerOn('p.log', 'complete\nhalf', { quietFlushMs: 2000 });
    expect(h.lines).toEqual(['complete']);
    appendFileSync(path, ' more');
    clock += 1500;
    h.tailer.pollNow();
    expect(h.lines).toEqual(['complete']);
    clock += 1000;
    h.tailer.pollNow();
    expect(h.lines).toEqual(['complete']);
    clock += 2000;
    h.tailer.pollNow();
    expect(h.lines).toEqual(['complete', 'half more']);
    appendFileSync(path, '\nnext\n');
    h.tailer.pollNow();
    expect(h.lines).toEqual(['complete', 'half more', 'next']);
  });

  it('follows delete and recreate', () => {
    const { path, h } = startTailerOn('d.log', 'a\n');
    appendFileSync(path, 'b\n');
    unlinkSync(path);
    writeFileSync(path, 'c\n');
    h.tailer.pollNow();
    h.tailer.pollNow();
    expect(h.lines).toEqual(['a', 'b', 'c']);
  });

  it('notices a truncate-and-refill that happened between two polls', () => {
    const { path, h } = startTailerOn('t.log', 'first generation line 1\nfirst generation line 2\n');
    // refilled past the old size before the next poll: only the head fingerprint can tell
    writeFileSync(path, 'second generation, a longer line than before 1\nsecond generation 2\n');
    h.tailer.pollNow();
    expect(h.lines).toEqual([
      'first generation line 1',
      'first generation line 2',
      'second generation, a longer line than before 1',
      'second generation 2',
    ]);
  });

  it('offers a refused line again on the next poll, without loss or duplicates', () => {
    const path = join(dir, 'r.log');
    writeFileSync(path, 'one\ntwo\nthree\n');
    const { h, sink } = makeRefusingTailer(path, 'two', true);
    const accepted = sink.accepted;
    h.tailer.start();
    expect(accepted).toEqual(['one']);
    sink.refusing = false;
    h.tailer.pollNow();
    expect(accepted).toEqual(['one', 'two', 'three']);
    expect(h.tailer.stats().sinkRefusals).toBe(1);
  });

  it('keeps a copytruncate copy whose lines the sink refused, and ships them once it accepts again', () => {
    const path = join(dir, 'c.log');
    writeFileSync(path, 'one\ntwo\n');
    const { h, sink } = makeRefusingTailer(path, 'three', false);
    const accepted = sink.accepted;
    h.tailer.start();
    expect(accepted).toEqual(['one', 'two']);
    appendFileSync(path, 'three\nfour\n');
    // logrotate copytruncate before the next poll: the unread lines are only in the copy now.
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
    sink.refusing = true;
    h.tailer.pollNow();
    expect(accepted).toEqual(['one', 'two']);
    sink.refusing = false;
    for (let i = 0; i < 5; i++) {
      clock += 1000;
      h.tailer.pollNow();
    }
    expect(accepted).toEqual(['one', 'two', 'three', 'four']);
    expect(h.logs.some((l) => l.includes('lost'))).toBe(false);
  });

  it('rate-limits checkpoint writes while lines flow, and always writes on stop', async () => {
    const path = join(dir, 'rl.log');
    const checkpointFile = join(dir, 'state', 'tail-checkpoint.json');
    const offset = () =>
      (JSON.parse(readFileSync(checkpointFile, 'utf8')) as { files: { offset: number }[] }).files[0]?.offset;
    writeFileSync(path, 'a\n');
    const h = makeTailer([{ service: 's', file: path }], { checkpointIntervalMs: 1000 });
    h.tailer.start();
    await h.tailer.checkpointWritten();
    expect(offset()).toBe(2);
    appendFileSync(path, 'b\n');
    clock += 500;
    h.tailer.pollNow();
    await h.tailer.checkpointWritten();
    expect(h.lines).toEqual(['a', 'b']);
    expect(offset()).toBe(2); // not yet: less than a second since the last write
    clock += 600;
    h.tailer.pollNow();
    await h.tailer.checkpointWritten();
    expect(offset()).toBe(4);
    appendFileSync(path, 'c\n');
    h.tailer.pollNow();
    await h.tailer.checkpointWritten();
    expect(offset()).toBe(4);
    await stop(h);
    expect(offset()).toBe(6);
  });

  it('writes the checkpoint only for lines the sink accepted', async () => {
    const path = join(dir, 'k.log');
    writeFileSync(path, 'one\ntwo\n');
    const h = makeTailer([{ service: 's', file: path }], {
      sink: (_s, line) => {
        if (line === 'two') throw new Error('no');
      },
    });
    h.tailer.start();
    await h.tailer.checkpointWritten();
    const checkpoint = JSON.parse(readFileSync(join(dir, 'state', 'tail-checkpoint.json'), 'utf8')) as {
      files: { path: string; offset: number }[];
    };
    expect(checkpoint.files).toEqual([expect.objectContaining({ path, offset: 4 })]);
  });
});

describe('LogTailer: change notifications decide when to poll', () => {
  /** Waits (real time, bounded) until `check` holds. */
  async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  // The poll interval is short, the safety poll never comes during a test: while a file is quiet and its directory
  // watched, only a notification can make the tailer read an append.
  const watched = { now: () => Date.now(), pollIntervalMs: 20, safetyPollIntervalMs: 3_600_000 };

  it('a quiet, watched file rests on the safety poll, and an append is read on its notification', async () => {
    const path = join(dir, 'w.log');
    writeFileSync(path, 'a\n');
    const h = makeTailer([{ service: 's', file: path }], watched);
    h.tailer.start();
    expect(h.lines).toEqual(['a']);
    appendFileSync(path, 'b\n');
    await waitFor(() => h.lines.length === 2, 'the notified append was read');
    appendFileSync(path, 'c\nd\n');
    await waitFor(() => h.lines.length === 4, 'the second append was read');
    expect(h.lines).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a checkpoint held back by its rate limit is written at the poll interval, not at the next safety poll', async () => {
    const { path, h } = startTailerOn('c.log', 'a\n', { ...watched, checkpointIntervalMs: 200 });
    const offset = (): number =>
      (
        JSON.parse(readFileSync(join(dir, 'state', 'tail-checkpoint.json'), 'utf8')) as {
          files: { offset: number }[];
        }
      ).files[0]?.offset ?? -1;
    await h.tailer.checkpointWritten();
    expect(offset()).toBe(2);
    appendFileSync(path, 'b\n');
    await waitFor(() => h.lines.length === 2, 'the notified append was read');
    await waitFor(() => offset() === 4, 'the checkpoint covering the append');
  });

  it('a file that appears later in a watched directory is found on its notification', async () => {
    const path = join(dir, 'later.log');
    const h = makeTailer([{ service: 's', file: path }], watched);
    h.tailer.start();
    writeFileSync(path, 'first\n');
    await waitFor(() => h.lines.length === 1, 'the new file was read');
    expect(h.lines).toEqual(['first']);
  });

  it('polls at the poll interval where the directory cannot be watched', async () => {
    const path = join(dir, 'p.log');
    writeFileSync(path, 'a\n');
    const h = makeTailer([{ service: 's', file: path }], {
      ...watched,
      watchDirectory: () => {
        throw Object.assign(new Error('ENOSPC: no inotify watches left'), { code: 'ENOSPC' });
      },
    });
    h.tailer.start();
    appendFileSync(path, 'b\n');
    await waitFor(() => h.lines.length === 2, 'the append was polled');
    expect(h.lines).toEqual(['a', 'b']);
  });

  it('a watch that breaks later hands its directory back to the poll interval', async () => {
    const path = join(dir, 'b.log');
    writeFileSync(path, 'a\n');
    let breakWatch: (error: Error) => void = () => undefined;
    let attempts = 0;
    const h = makeTailer([{ service: 's', file: path }], {
      ...watched,
      watchDirectory: (_dir, _onChange, onError) => {
        // The first watch starts; later attempts fail (the watch limit is reached, say): polling is what is left.
        if (++attempts > 1) throw new Error('ENOSPC');
        breakWatch = onError;
        return { close: () => undefined };
      },
    });
    h.tailer.start();
    breakWatch(new Error('watch limit'));
    appendFileSync(path, 'b\n');
    await waitFor(() => h.lines.length === 2, 'the append was polled');
    expect(attempts).toBeGreaterThan(1);
    expect(h.logs.some((l) => l.includes('watching') && l.includes('stopped (watch limit)'))).toBe(true);
  });

  it('when notifications stay silent about growth, the safety poll finds it and polling at the interval takes over', async () => {
    const { path, h } = startTailerOn('s.log', '', {
      ...watched,
      safetyPollIntervalMs: 100,
      // Like a network filesystem: the watch starts, but other hosts' writes are never reported.
      watchDirectory: () => ({ close: () => undefined }),
    });
    for (let i = 1; i <= 3; i++) {
      appendFileSync(path, `line ${i}\n`);
      await waitFor(() => h.lines.length === i, `line ${i} was found by the safety poll`);
    }
    await waitFor(
      () => h.logs.some((l) => l.includes('change notifications missed growth')),
      'the fallback to the poll interval',
    );
    expect((h.tailer as unknown as { changeWatch: unknown }).changeWatch).toBeNull();
    appendFileSync(path, 'line 4\n');
    await waitFor(() => h.lines.length === 4, 'line 4 was polled');
    expect(h.lines).toEqual(['line 1', 'line 2', 'line 3', 'line 4']);
  });

  it('with watch: false it polls at the poll interval', async () => {
    const path = join(dir, 'o.log');
    writeFileSync(path, 'a\n');
    let watches = 0;
    const h = makeTailer([{ service: 's', file: path }], {
      ...watched,
      watch: false,
      watchDirectory: () => {
        watches++;
        return { close: () => undefined };
      },
    });
    h.tailer.start();
    appendFileSync(path, 'b\n');
    await waitFor(() => h.lines.length === 2, 'the append was polled');
    expect(watches).toBe(0);
  });
});
