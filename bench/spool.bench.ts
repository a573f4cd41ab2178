// Spool benchmarks (issue 4), each measured side by side in the same run:
//  1. append throughput with group commit (100 ms) vs raw FileHandle.appendFile + datasync of the same encoded
//     frames in the same 100 ms commit windows (target ≥ 0.5×);
//  2. backlog replay frames/s to the sandbox server (spool → DeliveryPump → ConnectionManager) beside two raw
//     writers to the same server, all timed until the server has read the last frame:
//     a. a raw writer of the same segment bytes (issue 12, target ≥ 0.8×): it reads a spool's segment files, cuts
//        each record's frame out of its header and trailer (segment-log.ts format) and writes them down one socket;
//     b. a raw writer of the same frames pre-encoded in memory (no file reads at all; target ≥ 0.5×, issue 4);
//  3. a 1,000,000-frame backlog built and drained (to the sandbox in a child process) with the agent's RSS growth
//     (budget 50 MB).
// Scale: SPOOL_BENCH_SCALE (default 1) multiplies 1 and 2; SPOOL_BENCH_BACKLOG sets 3 (default 1,000,000).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WireFrame } from '../src-shared/view-models';
import { ConnectionManager } from '../src-main/agent/connection/connection';
import { encodeFrame } from '../src-main/agent/protocol/codec';
import { authFrame, logFrame } from '../src-main/agent/protocol/frames';
import { DeliveryPump } from '../src-main/agent/spool/delivery';
import {
  RECORD_HEADER_BYTES,
  RECORD_MAGIC,
  RECORD_TRAILER_BYTES,
  SEGMENT_SUFFIX,
} from '../src-main/agent/spool/segment-log';
import { Spool, spoolPaths } from '../src-main/agent/spool/spool';
import { benchDir, startSandboxChild } from './sandbox-process';
import type { BenchResult } from './types';

const GROUP = 'bench-group';
const KEY = 'bench-key-0123456789';
const SERVER = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';
const SCALE = Number(process.env.SPOOL_BENCH_SCALE ?? 1);
const APPEND_FRAMES = Math.round(60_000 * SCALE);
const REPLAY_FRAMES = Math.round(40_000 * SCALE);
const BACKLOG_FRAMES = Number(process.env.SPOOL_BENCH_BACKLOG ?? 1_000_000);
const WINDOW_MS = 100;
const CHUNK = 1000;

function line(i: number): string {
  return `line ${i}: sshd[123]: Accepted publickey for root from 10.0.0.7 port 52144 ssh2`;
}

function frames(n: number, tag: string): WireFrame[] {
  return Array.from({ length: n }, (_, i) => logFrame(GROUP, SERVER, 'syslog', `${tag} ${line(i)}`));
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// ---- 1. append ---------------------------------------------------------------------------------------------------

async function appendOurs(input: WireFrame[]): Promise<number> {
  const t = tempDir();
  try {
    const spool = await Spool.open(t.dir, { fsync: { groupCommitMs: WINDOW_MS }, maxBytes: 8 * 1024 ** 3 });
    const started = performance.now();
    for (let i = 0; i < input.length; i += CHUNK) {
      const end = Math.min(input.length, i + CHUNK);
      for (let j = i; j < end; j++) spool.append('log', input[j] as WireFrame);
      await tick();
    }
    await spool.sync();
    const ms = performance.now() - started;
    await spool.close();
    return ms;
  } finally {
    t.cleanup();
  }
}

async function appendRaw(input: WireFrame[]): Promise<number> {
  const t = tempDir();
  const handle = await open(join(t.dir, 'raw.log'), 'a');
  try {
    let pending: Buffer[] = [];
    let committing: Promise<void> | null = null;
    const commit = async (): Promise<void> => {
      const data = Buffer.concat(pending);
      pending = [];
      await handle.appendFile(data);
      await handle.datasync();
    };
    const timer = setInterval(() => {
      if (!committing && pending.length > 0) committing = commit().finally(() => (committing = null));
    }, WINDOW_MS);
    const started = performance.now();
    for (let i = 0; i < input.length; i += CHUNK) {
      const end = Math.min(input.length, i + CHUNK);
      for (let j = i; j < end; j++) pending.push(encodeFrame(input[j] as WireFrame));
      await tick();
    }
    clearInterval(timer);
    while (committing) await committing;
    await commit();
    return performance.now() - started;
  } finally {
    await handle.close();
    t.cleanup();
  }
}

async function benchAppend(): Promise<BenchResult> {
  const ours: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < 3; round++) {
    raw.push(await appendRaw(frames(APPEND_FRAMES, `raw${round}`)));
    ours.push(await appendOurs(frames(APPEND_FRAMES, `ours${round}`)));
  }
  const oursFps = APPEND_FRAMES / (median(ours) / 1000);
  const rawFps = APPEND_FRAMES / (median(raw) / 1000);
  return {
    name: 'spool append, group commit 100 ms vs raw appendFile+datasync (same windows)',
    ratio: oursFps / rawFps,
    target: 0.5,
    details: `${Math.round(oursFps)} vs ${Math.round(rawFps)} frames/s (${APPEND_FRAMES} frames, median of 3)`,
  };
}

// ---- 2. replay ---------------------------------------------------------------------------------------------------

async function withPump<T>(
  port: number,
  spool: Spool,
  fn: (manager: ConnectionManager, pump: DeliveryPump) => Promise<T>,
): Promise<T> {
  const manager = new ConnectionManager({
    host: '127.0.0.1',
    port,
    groupId: GROUP,
    serverId: SERVER,
    groupKey: KEY,
  });
  const pump = new DeliveryPump(spool, manager, { groupId: GROUP, serverId: SERVER });
  try {
    return await fn(manager, pump);
  } finally {
    await pump.stop();
    await manager.stop();
  }
}

type ReadEnd = (tag: string) => Promise<void>;

/** A spool in `dir` holding `n` log frames, the last one `END <tag>`, synced; the caller closes it. */
async function backlogSpool(dir: string, n: number, tag: string): Promise<Spool> {
  const spool = await Spool.open(dir, { fsync: { groupCommitMs: WINDOW_MS }, maxBytes: 8 * 1024 ** 3 });
  const input = [...frames(n - 1, tag), logFrame(GROUP, SERVER, 'syslog', `END ${tag}`)];
  for (let i = 0; i < n; i += CHUNK) {
    for (let j = i; j < Math.min(n, i + CHUNK); j++) spool.append('log', input[j] as WireFrame);
    await tick();
  }
  await spool.sync();
  return spool;
}

/** The backlog ends with `END <tag>`: measured until the server has read it (the sandbox child reports it). */
async function replayOurs(port: number, readEnd: ReadEnd, n: number, tag: string): Promise<number> {
  const t = tempDir();
  try {
    const spool = await backlogSpool(t.dir, n, tag);
    const ms = await withPump(port, spool, async (manager, pump) => {
      const ready = new Promise<void>((resolve) => manager.once('ready', () => resolve()));
      pump.start();
      manager.start();
      await ready;
      const started = performance.now();
      await readEnd(tag);
      return performance.now() - started;
    });
    await spool.close();
    return ms;
  } finally {
    t.cleanup();
  }
}

async function connectAuthenticated(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  // Authenticated like the agent (the sandbox stores logs of a known group either way).
  socket.write(encodeFrame(authFrame(GROUP, SERVER, KEY)));
  return socket;
}

/** Frames written per corked batch, like the pump's chunk (one writev per batch). */
const RAW_BATCH = 256;

/**
 * 2a. The raw writer of the same segment bytes: a spool is built and closed exactly like the agent's backlog, then
 * (the clock starts here, after the socket is up, as for the pump) each segment file is read whole and every
 * record's payload, which is the wire frame as it goes on the socket, is cut out of its 24-byte header and 8-byte
 * trailer and written as a `subarray` (no copy), corked in batches, with backpressure. No CRC check, no sequence
 * bookkeeping, no confirmation: the floor any replay has to pay for reading the files and writing the socket.
 */
async function replayRawSegments(port: number, readEnd: ReadEnd, n: number, tag: string): Promise<number> {
  const t = tempDir();
  try {
    const spool = await backlogSpool(t.dir, n, tag);
    await spool.close();
    const segmentsDir = spoolPaths(t.dir).segments;
    const socket = await connectAuthenticated(port);
    try {
      const started = performance.now();
      const names = (await readdir(segmentsDir)).filter((name) => name.endsWith(SEGMENT_SUFFIX)).sort();
      let written = 0;
      for (const name of names) {
        const bytes = await readFile(join(segmentsDir, name));
        let at = 0;
        while (at + RECORD_HEADER_BYTES <= bytes.length) {
          socket.cork();
          let more = true;
          for (let batch = 0; batch < RAW_BATCH && at + RECORD_HEADER_BYTES <= bytes.length; batch++) {
            if (bytes[at] !== RECORD_MAGIC) throw new Error(`${name}: no record at offset ${at}`);
            const payloadAt = at + RECORD_HEADER_BYTES;
            const payloadEnd = payloadAt + bytes.readUInt32BE(at + 4);
            more = socket.write(bytes.subarray(payloadAt, payloadEnd));
            at = payloadEnd + RECORD_TRAILER_BYTES;
            written++;
          }
          socket.uncork();
          if (!more) await new Promise((resolve) => socket.once('drain', resolve));
        }
      }
      if (written !== n) throw new Error(`raw segment writer found ${written} records, expected ${n}`);
      await readEnd(tag);
      return performance.now() - started;
    } finally {
      socket.resetAndDestroy();
    }
  } finally {
    t.cleanup();
  }
}

/** 2b. The raw writer of the same frames, encoded in memory before the clock starts (no file reads). */
async function replayRawEncoded(port: number, readEnd: ReadEnd, n: number, tag: string): Promise<number> {
  const encoded = [...frames(n - 1, tag), logFrame(GROUP, SERVER, 'syslog', `END ${tag}`)].map((f) =>
    encodeFrame(f),
  );
  const socket = await connectAuthenticated(port);
  try {
    const started = performance.now();
    for (const buf of encoded) {
      if (!socket.write(buf)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    await readEnd(tag);
    return performance.now() - started;
  } finally {
    socket.resetAndDestroy();
  }
}

async function benchReplay(port: number, readEnd: ReadEnd): Promise<BenchResult[]> {
  const ours: number[] = [];
  const rawSegments: number[] = [];
  const rawEncoded: number[] = [];
  for (let round = 0; round < 3; round++) {
    rawSegments.push(await replayRawSegments(port, readEnd, REPLAY_FRAMES, `replay-raw-segments${round}`));
    ours.push(await replayOurs(port, readEnd, REPLAY_FRAMES, `replay-ours${round}`));
    rawEncoded.push(await replayRawEncoded(port, readEnd, REPLAY_FRAMES, `replay-raw-encoded${round}`));
  }
  const fps = (ms: number[]): number => REPLAY_FRAMES / (Math.min(...ms) / 1000);
  const oursFps = fps(ours);
  const until = `frames/s until the server read the last of ${REPLAY_FRAMES} (best of 3 each, rounds interleaved)`;
  return [
    {
      name: 'backlog replay to the sandbox server vs raw writer of the same segment bytes',
      ratio: oursFps / fps(rawSegments),
      target: 0.8,
      details: `${Math.round(oursFps)} vs ${Math.round(fps(rawSegments))} ${until}`,
    },
    {
      name: 'backlog replay to the sandbox server vs raw writer of the frames pre-encoded in memory',
      ratio: oursFps / fps(rawEncoded),
      target: 0.5,
      details: `${Math.round(oursFps)} vs ${Math.round(fps(rawEncoded))} ${until}`,
    },
  ];
}

// ---- 3. 1M backlog, RSS -----------------------------------------------------------------------------------------

async function benchBacklog(port: number): Promise<BenchResult> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      join(benchDir(), 'spool-backlog-child.ts'),
      String(port),
      String(BACKLOG_FRAMES),
      GROUP,
      KEY,
      SERVER,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`backlog child exited ${code}`);
  const r = JSON.parse(out) as {
    baseline: number;
    peak: number;
    buildMs: number;
    drainMs: number;
    frames: number;
  };
  const growthMb = (r.peak - r.baseline) / 1024 ** 2;
  return {
    name: `${r.frames.toLocaleString('en')}-frame backlog build + drain, agent RSS growth (÷ 50 MB budget)`,
    ratio: growthMb / 50,
    target: 1,
    lowerIsBetter: true,
    details:
      `RSS +${growthMb.toFixed(1)} MB (baseline ${(r.baseline / 1024 ** 2).toFixed(0)} MB, own process); ` +
      `build ${Math.round(r.frames / (r.buildMs / 1000))} frames/s, drain ${Math.round(r.frames / (r.drainMs / 1000))} frames/s`,
  };
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [await benchAppend()];
  const sandbox = await startSandboxChild(GROUP, KEY);
  try {
    results.push(...(await benchReplay(sandbox.port, sandbox.readEnd)));
    if (BACKLOG_FRAMES > 0) results.push(await benchBacklog(sandbox.port));
  } finally {
    await sandbox.stop();
  }
  return results;
}
