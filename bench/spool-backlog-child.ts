// Child process of bench/spool.bench.ts: builds an N-frame backlog in a fresh spool, then drains it to the sandbox
// server at PORT through the real DeliveryPump + ConnectionManager, sampling this process's RSS throughout. Running
// in its own process keeps the measurement clear of the other benchmarks' heap. Prints one JSON line.
//   node --expose-gc --import tsx bench/spool-backlog-child.ts <port> <frames> <group> <key> <serverId>
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionManager } from '../src-main/agent/connection/connection';
import { logFrame } from '../src-main/agent/protocol/frames';
import { DeliveryPump } from '../src-main/agent/spool/delivery';
import { Spool } from '../src-main/agent/spool/spool';

async function main(): Promise<void> {
  const [portArg, framesArg, group, key, serverId] = process.argv.slice(2);
  if (!portArg || !framesArg || !group || !key || !serverId) throw new Error('bad arguments');
  const frames = Number(framesArg);
  const dir = mkdtempSync(join(tmpdir(), 'spool-backlog-'));
  try {
    const spool = await Spool.open(dir, { fsync: { groupCommitMs: 100 }, maxBytes: 8 * 1024 ** 3 });
    const manager = new ConnectionManager({
      host: '127.0.0.1',
      port: Number(portArg),
      groupId: group,
      serverId,
      groupKey: key,
    });
    const pump = new DeliveryPump(spool, manager, { groupId: group, serverId });
    // Warm up the code paths (JIT, pools) before the baseline so it is not counted as growth.
    for (let i = 0; i < 2000; i++) spool.append('log', logFrame(group, serverId, 'syslog', `warm-up ${i}`));
    await spool.sync();
    (globalThis as { gc?: () => void }).gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const buildStart = performance.now();
    for (let i = 0; i < frames; i += 1000) {
      const end = Math.min(frames, i + 1000);
      for (let j = i; j < end; j++) {
        spool.append(
          'log',
          logFrame(group, serverId, 'syslog', `backlog line ${j}: sshd[123]: Accepted publickey for root`),
        );
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await spool.sync();
    const buildMs = performance.now() - buildStart;
    const drainStart = performance.now();
    pump.start();
    manager.start();
    const last = spool.lastSeq;
    // Drained = the server read the last frame (first step); the settle barrier follows within settle_ms + 5 s.
    while (pump.receivedSeq < last) await new Promise((resolve) => setTimeout(resolve, 50));
    const drainMs = performance.now() - drainStart;
    while (spool.confirmedSeq < last) await new Promise((resolve) => setTimeout(resolve, 50));
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    await pump.stop();
    await manager.stop();
    await spool.close();
    process.stdout.write(JSON.stringify({ baseline, peak, buildMs, drainMs, frames: last - 2000 }) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`backlog child failed: ${String(e)}\n`);
  process.exit(1);
});
