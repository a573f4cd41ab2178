// Log tailer: lines/s from a file through LogTailer to a sink, against a bare line splitter reading the same file
// in the same run; and the cost of following 10 idle files (CPU and memory over a few seconds).
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { LogTailer } from '../src-main/agent/logs/tailer';
import type { BenchResult } from './types';

const LINES = 300_000;

function makeFile(dir: string): { path: string; bytes: number } {
  const path = join(dir, 'bench.log');
  const parts: string[] = [];
  for (let i = 0; i < LINES; i++) {
    parts.push(
      `2026-11-25T19:00:00.${String(i % 1000).padStart(3, '0')}Z app[${i % 97}]: request ${i} served in ${i % 313} ms path=/api/v1/items/${i}`,
    );
  }
  const text = parts.join('\n') + '\n';
  writeFileSync(path, text);
  return { path, bytes: Buffer.byteLength(text) };
}

/** The baseline: read in 64 KiB chunks, split on \n, decode, hand over. No identity, checkpoint or budget logic. */
function rawSplitter(path: string, sink: (line: string) => void): void {
  const fd = openSync(path, 'r');
  const chunk = Buffer.allocUnsafe(64 * 1024);
  let carry = Buffer.alloc(0);
  let position = 0;
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, position);
    if (n <= 0) break;
    position += n;
    const buffer = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
    let start = 0;
    for (let nl = buffer.indexOf(0x0a, start); nl >= 0; nl = buffer.indexOf(0x0a, start)) {
      if (nl > start) sink(buffer.toString('utf8', start, nl));
      start = nl + 1;
    }
    carry = Buffer.from(buffer.subarray(start));
  }
  closeSync(fd);
}

function timeRaw(path: string): number {
  let count = 0;
  const started = process.hrtime.bigint();
  rawSplitter(path, () => count++);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (count !== LINES) throw new Error(`raw splitter saw ${count} lines`);
  return LINES / seconds;
}

async function timeTailer(dir: string, path: string, round: number): Promise<number> {
  let count = 0;
  const tailer = new LogTailer({
    entries: [{ service: 'bench', file: path }],
    checkpointPath: join(dir, `checkpoint-${round}.json`),
    maxMessageBytes: 8000,
    sink: () => {
      count++;
    },
    startAt: 'beginning',
    pollIntervalMs: 3_600_000,
  });
  const started = process.hrtime.bigint();
  tailer.start(); // reads the first poll's budget
  while (tailer.pollNow());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await tailer.stopAndCheckpoint();
  if (count !== LINES) throw new Error(`tailer saw ${count} lines`);
  return LINES / seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Runs tail-idle-child.ts (bundled with esbuild) under plain node, with 0 and with 10 idle files. */
async function idleCost(dir: string): Promise<BenchResult> {
  const bundle = join(dir, 'tail-idle-child.cjs');
  await build({
    entryPoints: [join(__dirname, 'tail-idle-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'silent',
  });
  const windowMs = 4000;
  const measure = (files: number) => {
    const filesDir = mkdtempSync(join(dir, `idle-${files}-`));
    const out = execFileSync(process.execPath, [bundle, filesDir, String(files), String(windowMs)], {
      encoding: 'utf8',
    });
    return JSON.parse(out) as { cpuMsPerS: number; rssBytes: number };
  };
  const bare = measure(0);
  const tailing = measure(10);
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  return {
    name: 'tail: 10 idle files, poll 250 ms (own node process)',
    details:
      `CPU ${tailing.cpuMsPerS.toFixed(2)} ms/s (${(tailing.cpuMsPerS / 10).toFixed(2)} % of a core) vs ${bare.cpuMsPerS.toFixed(2)} ms/s for an idle node; ` +
      `RSS ${mb(tailing.rssBytes)} MB vs ${mb(bare.rssBytes)} MB`,
  };
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'minion-tail-bench-'));
  try {
    const { path, bytes } = makeFile(dir);
    const raw: number[] = [];
    const ours: number[] = [];
    // Alternate so both see the same page cache and CPU conditions.
    for (let round = 0; round < 5; round++) {
      raw.push(timeRaw(path));
      ours.push(await timeTailer(dir, path, round));
    }
    const rawRate = median(raw);
    const ourRate = median(ours);
    return [
      {
        name: 'tail: file → LogTailer → sink vs raw line splitter',
        ratio: ourRate / rawRate,
        target: 0.5,
        details: `${Math.round(ourRate).toLocaleString('en')} lines/s vs ${Math.round(rawRate).toLocaleString('en')} lines/s (${LINES.toLocaleString('en')} lines, ${(bytes / 1024 / 1024).toFixed(1)} MB, median of 5; checkpoint written at most once a second, the default)`,
      },
      await idleCost(dir),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
