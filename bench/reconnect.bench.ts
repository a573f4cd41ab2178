// Re-authentication after a server outage (issue 11): one agent (ConnectionManager + DeliveryPump + Spool, default
// reconnect settings, a line a second) against the in-process sandbox in its real-server mode. The sandbox is killed,
// stays down for 20 s (its port refuses), and listens again; measured is the time from the port opening until the
// agent's authentication is accepted. 5 trials; targets: median ≤ 3 s, every trial ≤ 5 s.
// Scale: RECONNECT_BENCH_TRIALS (default 5), RECONNECT_BENCH_OUTAGE_MS (default 20 000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionManager } from '../src-main/agent/connection/connection';
import { logFrame } from '../src-main/agent/protocol/frames';
import { DeliveryPump } from '../src-main/agent/spool/delivery';
import { Spool } from '../src-main/agent/spool/spool';
import { startSandboxServer } from '../src-main/sandbox/sandbox-server';
import type { BenchResult } from './types';

const GROUP = 'bench-group';
const KEY = 'bench-key-0123456789';
const SERVER = '7f3f6d64-73f3-4dad-9c79-2a2a0e3e8c33';
const TRIALS = Number(process.env.RECONNECT_BENCH_TRIALS ?? 5);
const OUTAGE_MS = Number(process.env.RECONNECT_BENCH_OUTAGE_MS ?? 20_000);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'reconnect-bench-'));
  const sandbox = await startSandboxServer({
    groups: [{ id: GROUP, key: KEY }],
    storage: { flushDelayMs: 1000 },
    maxStored: 1000,
  });
  const spool = await Spool.open(dir);
  const manager = new ConnectionManager({
    host: '127.0.0.1',
    port: sandbox.address.port,
    groupId: GROUP,
    serverId: SERVER,
    groupKey: KEY,
  });
  const pump = new DeliveryPump(spool, manager, { groupId: GROUP, serverId: SERVER });
  let n = 0;
  const producer = setInterval(
    () => spool.append('log', logFrame(GROUP, SERVER, 'app', `line ${n++}`)),
    1000,
  );
  const accepted: number[] = [];
  sandbox.on('auth', (a) => {
    if (a.outcome === 'accepted') accepted.push(Date.now());
  });
  const reauth: number[] = [];
  try {
    pump.start();
    manager.start();
    for (let trial = 0; trial < TRIALS; trial++) {
      while (!manager.isReady()) await sleep(50);
      await sleep(3_000);
      await sandbox.kill();
      await sleep(OUTAGE_MS);
      await sandbox.restart();
      const openedAt = Date.now();
      const before = accepted.length;
      while (accepted.length === before) await sleep(5);
      reauth.push((accepted[before] as number) - openedAt);
    }
  } finally {
    clearInterval(producer);
    await pump.stop();
    await manager.stop();
    await spool.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const details = `trials ${reauth.map(seconds).join(', ')} after ${OUTAGE_MS / 1000} s outages`;
  return [
    {
      name: `re-auth after a ${OUTAGE_MS / 1000} s outage, median (÷ 3 s)`,
      ratio: median(reauth) / 3000,
      target: 1,
      lowerIsBetter: true,
      details,
    },
    {
      name: `re-auth after a ${OUTAGE_MS / 1000} s outage, slowest of ${TRIALS} (÷ 5 s)`,
      ratio: Math.max(...reauth) / 5000,
      target: 1,
      lowerIsBetter: true,
      details,
    },
  ];
}
