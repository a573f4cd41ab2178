// Connection send path: ConnectionManager.send (pre-send validation, one encode, one write, counters, wire trace)
// against the bare minimum (encodeFrame + socket.write of the same frames) over loopback to the same sandbox,
// each run ending when the sandbox has received every frame. Alternating rounds so CPU noise hits both equally.
import net from 'node:net';
import { type WireFrame } from '../src-shared/view-models';
import { ConnectionManager } from '../src-main/agent/connection/connection';
import { encodeFrame } from '../src-main/agent/protocol/codec';
import { logFrame } from '../src-main/agent/protocol/frames';
import { startSandboxServer } from '../src-main/sandbox/sandbox-server';
import type { BenchResult } from './types';

const GROUP = 'bench-group';
const KEY = 'bench-key-0123456789';
const SERVER = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';
const FRAMES = 20_000;
const ROUNDS = 5;

function frames(round: number): WireFrame[] {
  return Array.from({ length: FRAMES }, (_, i) =>
    logFrame(
      GROUP,
      SERVER,
      'syslog',
      `round ${round} line ${i}: sshd[123]: Accepted publickey for root from 10.0.0.7`,
    ),
  );
}

async function waitUntil(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setImmediate(resolve));
}

export async function run(): Promise<BenchResult[]> {
  const server = await startSandboxServer({
    groups: [{ id: GROUP, key: KEY }],
    maxStored: FRAMES * 2 * ROUNDS,
  });
  const { port } = server.address;
  const manager = new ConnectionManager({
    host: '127.0.0.1',
    port,
    groupId: GROUP,
    serverId: SERVER,
    groupKey: KEY,
  });
  manager.start();
  await new Promise<void>((resolve) => manager.once('ready', () => resolve()));
  const raw = net.connect({ host: '127.0.0.1', port });
  raw.setNoDelay(true);
  await new Promise<void>((resolve) => raw.once('connect', () => resolve()));

  let managerMs = 0;
  let rawMs = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const viaManager = frames(round * 2);
      const viaRaw = frames(round * 2 + 1);

      let target = server.logs.length + FRAMES;
      let t0 = performance.now();
      for (const frame of viaManager) {
        manager.send(frame);
        if (manager.writableNeedsDrain)
          await new Promise<void>((resolve) => manager.once('drain', () => resolve()));
      }
      await waitUntil(() => server.logs.length >= target);
      managerMs += performance.now() - t0;

      target = server.logs.length + FRAMES;
      t0 = performance.now();
      for (const frame of viaRaw) {
        if (!raw.write(encodeFrame(frame)))
          await new Promise<void>((resolve) => raw.once('drain', () => resolve()));
      }
      await waitUntil(() => server.logs.length >= target);
      rawMs += performance.now() - t0;
    }
  } finally {
    raw.destroy();
    await manager.stop();
    await server.close();
  }
  const total = FRAMES * ROUNDS;
  return [
    {
      name: 'connection send path (validate + trace) vs bare encode+write',
      ratio: rawMs / managerMs,
      target: 0.5,
      details: `${Math.round(total / (managerMs / 1000))} frames/s via ConnectionManager, ${Math.round(total / (rawMs / 1000))} frames/s bare, ${total} log frames each, sandbox receiving`,
    },
  ];
}
