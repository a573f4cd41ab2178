// Delivery cadence and throughput (issue 11), the current DeliveryPump side by side with the one-step pump it replaced
// (bench/baseline/one-step-delivery.ts) in the same run:
//  1. bulk throughput to the sandbox (in a child process): frames/s until the server has read the last frame (the
//     child reports it, so the moment is the same whatever proof each pump then waits for), best of 5 each, alternating (target ≥ 0.95×: not lower
//     than before, within the noise of a shared machine);
//  2. heartbeats (barriers) for a 100k-line burst of ~100-byte lines until it is fully confirmed (target ≤ 25);
//  3. heartbeats per 5 s while 50 lines/s flow for 30 s (target ≤ 1 per 5 s).
// 2 and 3 count at an in-process sandbox in its real-server mode (storage flushed every second).
// Scale: DELIVERY_BENCH_FRAMES (default 100 000) for 1, DELIVERY_BENCH_STEADY_S (default 30) for 3.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WireFrame } from '../src-shared/view-models';
import { ConnectionManager } from '../src-main/agent/connection/connection';
import { logFrame } from '../src-main/agent/protocol/frames';
import { DeliveryPump } from '../src-main/agent/spool/delivery';
import { Spool } from '../src-main/agent/spool/spool';
import { type SandboxServer, startSandboxServer } from '../src-main/sandbox/sandbox-server';
import { OneStepDeliveryPump } from './baseline/one-step-delivery';
import { startSandboxChild } from './sandbox-process';
import type { BenchResult } from './types';

const GROUP = 'bench-group';
const KEY = 'bench-key-0123456789';
const SERVER = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';
const OLD_SERVER = '6e2e5c53-62e2-4c9b-8b68-1f1f9d2d7b22';
const BULK_FRAMES = Number(process.env.DELIVERY_BENCH_FRAMES ?? 100_000);
const BULK_ROUNDS = 5;
const BURST_FRAMES = 100_000;
const STEADY_S = Number(process.env.DELIVERY_BENCH_STEADY_S ?? 30);

type Kind = 'two-step' | 'one-step';

/** ~100-byte log lines, like the measurements. */
function line(tag: string, i: number): string {
  return `${tag} ${i} sshd[4242]: Accepted publickey for deploy from 10.20.30.40 port 52144 ssh2: ED25519 SHA256`;
}

function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'delivery-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Agent {
  spool: Spool;
  manager: ConnectionManager;
  start: () => Promise<void>;
  close: () => Promise<void>;
}

async function agent(kind: Kind, port: number, serverId: string, dir: string): Promise<Agent> {
  const spool = await Spool.open(dir, { fsync: { groupCommitMs: 100 }, maxBytes: 8 * 1024 ** 3 });
  const manager = new ConnectionManager({ host: '127.0.0.1', port, groupId: GROUP, serverId, groupKey: KEY });
  const options = { groupId: GROUP, serverId };
  const pump =
    kind === 'two-step'
      ? new DeliveryPump(spool, manager, { ...options, barrierTimeoutMs: manager.heartbeatTimeoutMs })
      : new OneStepDeliveryPump(spool, manager, options);
  return {
    spool,
    manager,
    start: async () => {
      const ready = new Promise<void>((resolve) => manager.once('ready', () => resolve()));
      pump.start();
      manager.start();
      await ready;
    },
    close: async () => {
      await pump.stop();
      await manager.stop();
      await spool.close();
    },
  };
}

async function fill(spool: Spool, n: number, tag: string, serverId: string): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      spool.append('log', logFrame(GROUP, serverId, 'syslog', line(tag, j)) as WireFrame);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await spool.sync();
}

// ---- 1. bulk throughput --------------------------------------------------------------------------------------------

/** Until the server has read the backlog's last line (`END <tag>`, reported by the sandbox child): the same moment
 * for both pumps, whatever proof of receipt each then waits for. */
async function bulkOnce(
  kind: Kind,
  sandbox: { port: number; readEnd: (tag: string) => Promise<void> },
  round: number,
): Promise<number> {
  const t = tempDir();
  const tag = `${kind}-${round}`;
  try {
    const a = await agent(kind, sandbox.port, SERVER, t.dir);
    await fill(a.spool, BULK_FRAMES - 1, tag, SERVER);
    a.spool.append('log', logFrame(GROUP, SERVER, 'syslog', `END ${tag}`));
    await a.spool.sync();
    await a.start();
    const started = performance.now();
    await sandbox.readEnd(tag);
    const ms = performance.now() - started;
    await a.close();
    return ms;
  } finally {
    t.cleanup();
  }
}

async function benchBulk(): Promise<BenchResult> {
  const sandbox = await startSandboxChild(GROUP, KEY);
  const times: Record<Kind, number[]> = { 'two-step': [], 'one-step': [] };
  try {
    for (let round = 0; round < BULK_ROUNDS; round++) {
      times['one-step'].push(await bulkOnce('one-step', sandbox, round));
      times['two-step'].push(await bulkOnce('two-step', sandbox, round));
    }
  } finally {
    await sandbox.stop();
  }
  const fps = (kind: Kind): number => BULK_FRAMES / (Math.min(...times[kind]) / 1000);
  return {
    name: 'bulk throughput to the sandbox, two-step pump vs the one-step pump before it',
    ratio: fps('two-step') / fps('one-step'),
    target: 0.95,
    details:
      `${Math.round(fps('two-step'))} vs ${Math.round(fps('one-step'))} frames/s until the server read the last ` +
      `of ${BULK_FRAMES} (best of ${BULK_ROUNDS} each)`,
  };
}

// ---- 2. barriers for a 100k burst ----------------------------------------------------------------------------------

async function realServerSandbox(): Promise<SandboxServer> {
  return startSandboxServer({
    groups: [{ id: GROUP, key: KEY }],
    storage: { flushDelayMs: 1000 },
    maxStored: 1000,
  });
}

async function burstHeartbeats(kind: Kind): Promise<{ heartbeats: number; confirmMs: number }> {
  const sandbox = await realServerSandbox();
  const t = tempDir();
  try {
    const a = await agent(kind, sandbox.address.port, SERVER, t.dir);
    await a.start();
    const before = sandbox.heartbeatCount;
    const started = performance.now();
    await fill(a.spool, BURST_FRAMES, `${kind}-burst`, SERVER);
    const last = a.spool.lastSeq;
    await waitUntil(() => a.spool.confirmedSeq >= last, `${kind} burst confirmed`);
    const confirmMs = performance.now() - started;
    const heartbeats = sandbox.heartbeatCount - before;
    await a.close();
    return { heartbeats, confirmMs };
  } finally {
    t.cleanup();
    await sandbox.close();
  }
}

async function benchBurst(): Promise<BenchResult> {
  const ours = await burstHeartbeats('two-step');
  const before = await burstHeartbeats('one-step');
  return {
    name: 'heartbeats (barriers) for a 100k-line burst, until fully confirmed (÷ 25 budget)',
    ratio: ours.heartbeats / 25,
    target: 1,
    lowerIsBetter: true,
    details:
      `${ours.heartbeats} heartbeats, confirmed after ${(ours.confirmMs / 1000).toFixed(1)} s ` +
      `(one-step pump: ${before.heartbeats} heartbeats, ${(before.confirmMs / 1000).toFixed(1)} s)`,
  };
}

// ---- 3. steady 50 lines/s ------------------------------------------------------------------------------------------

async function benchSteady(): Promise<BenchResult> {
  const sandbox = await realServerSandbox();
  const dirs = [tempDir(), tempDir()];
  try {
    const ours = await agent('two-step', sandbox.address.port, SERVER, (dirs[0] as { dir: string }).dir);
    const before = await agent(
      'one-step',
      sandbox.address.port,
      OLD_SERVER,
      (dirs[1] as { dir: string }).dir,
    );
    await ours.start();
    await before.start();
    // Auth is done; from here every heartbeat is a barrier or the periodic one.
    const times = new Map<string, number[]>([
      [SERVER, []],
      [OLD_SERVER, []],
    ]);
    const onHeartbeat = (hb: { serverId: string }): void => {
      times.get(hb.serverId)?.push(Date.now());
    };
    sandbox.on('heartbeat', onHeartbeat);
    let n = 0;
    const producer = setInterval(() => {
      for (const [a, id] of [
        [ours, SERVER],
        [before, OLD_SERVER],
      ] as const) {
        a.spool.append('log', logFrame(GROUP, id, 'app', line('steady', n)));
      }
      n++;
    }, 20);
    await sleep(STEADY_S * 1000);
    clearInterval(producer);
    sandbox.off('heartbeat', onHeartbeat);
    // Rate from the spacing of consecutive heartbeats (a count over a fixed window is off by one at its edges).
    const stats = (id: string): { count: number; per5s: number; minGapMs: number } => {
      const t = times.get(id) ?? [];
      const gaps = t.slice(1).map((x, i) => x - (t[i] as number));
      const span = (t.at(-1) ?? 0) - (t[0] ?? 0);
      return {
        count: t.length,
        per5s: gaps.length > 0 ? (gaps.length * 5000) / span : 0,
        minGapMs: gaps.length > 0 ? Math.min(...gaps) : 0,
      };
    };
    const o = stats(SERVER);
    const b = stats(OLD_SERVER);
    await ours.close();
    await before.close();
    return {
      name: 'heartbeats per 5 s while 50 lines/s flow (≤ 1)',
      ratio: o.per5s,
      target: 1,
      lowerIsBetter: true,
      details:
        `${o.count} heartbeats in ${STEADY_S} s, ${(o.per5s * 12).toFixed(1)}/min, closest two ${o.minGapMs} ms apart; ` +
        `one-step pump: ${b.count} (${(b.per5s * 12).toFixed(0)}/min)`,
    };
  } finally {
    for (const d of dirs) d.cleanup();
    await sandbox.close();
  }
}

export async function run(): Promise<BenchResult[]> {
  return [await benchBulk(), await benchBurst(), await benchSteady()];
}
