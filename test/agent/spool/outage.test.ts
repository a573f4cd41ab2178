/**
 * Outage test through the real ConnectionManager, the fault proxy and the sandbox server: logs flow continuously
 * while the server is killed and restarted, the network is blackholed (a dead route: only the heartbeat timeout
 * notices) and connections are reset. Afterwards every frame arrived at least once, first arrivals are in spool
 * order, no UUID was ever seen twice by the server, and every duplicate comes from a window that was unconfirmed
 * when a connection went down (and carries the original's time bytes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type SandboxServer, startSandboxServer } from '../../../src-main/sandbox/sandbox-server';
import { FaultProxy } from '../../support/fault-proxy';
import { GROUP_ID, GROUP_KEY, sleep, waitFor } from '../../support/connection-helpers';
import { Cleanups, tempDir } from './helpers';
import { openLiveDelivery, startAndAwaitConfirmations, startLogProducer } from './live-delivery';

const RESTARTS = Number(process.env.SPOOL_OUTAGE_RESTARTS ?? 20);
const PARTITIONS = Number(process.env.SPOOL_OUTAGE_PARTITIONS ?? 8);
const RESETS = Number(process.env.SPOOL_OUTAGE_RESETS ?? 6);

const cleanups = new Cleanups();
afterEach(() => cleanups.runAll());

describe('delivery through outages (sandbox server + fault proxy)', () => {
  it(
    `every frame arrives at least once, in order, through ${RESTARTS} restarts, ${PARTITIONS} blackholes and ${RESETS} resets`,
    { timeout: 180_000 },
    async () => {
      const t = tempDir('outage-');
      cleanups.push(t.cleanup);
      const sandbox: SandboxServer = await startSandboxServer({
        port: 0,
        groups: [{ id: GROUP_ID, key: GROUP_KEY }],
      });
      cleanups.push(() => sandbox.close());
      const proxy = await FaultProxy.start({ targetPort: sandbox.address.port });
      cleanups.push(() => proxy.close());
      const live = await openLiveDelivery(
        cleanups,
        t.dir,
        proxy.port,
        { heartbeatIntervalMs: 600, heartbeatTimeoutMs: 300, authTimeoutMs: 500 },
        // Fast cadence so 34 faults fit in the test; the settle step is off: this sandbox stores on receipt.
        { confirmIntervalMs: 100, settleMs: 0 },
      );
      const { spool, manager } = live;

      // What was unconfirmed each time a connection went down: (cursor, last appended].
      const windows: Array<{ from: number; to: number }> = [];
      manager.on('down', () => windows.push({ from: spool.confirmedSeq, to: spool.lastSeq }));

      const uuidBySeq = new Map<number, string>();
      const producer = startLogProducer(cleanups, spool, {
        perTick: 5,
        service: 'outage',
        onAppended: (seq, frame) => uuidBySeq.set(seq, frame[1]),
      });

      await startAndAwaitConfirmations(live, 50);

      const connected = async (): Promise<void> => {
        const before = spool.confirmedSeq;
        await waitFor(() => manager.isReady() && spool.confirmedSeq > before, 15_000, 'delivery resumed');
      };
      const plan: Array<'restart' | 'blackhole' | 'reset'> = [];
      for (let i = 0; i < Math.max(RESTARTS, PARTITIONS, RESETS); i++) {
        if (i < RESTARTS) plan.push('restart');
        if (i < PARTITIONS) plan.push('blackhole');
        if (i < RESETS) plan.push('reset');
      }
      for (const [i, fault] of plan.entries()) {
        await sleep(50 + ((i * 37) % 150));
        if (fault === 'restart') {
          await sandbox.stop();
          await sleep(30 + ((i * 53) % 200));
          await sandbox.restart();
        } else if (fault === 'blackhole') {
          proxy.setMode({ kind: 'blackhole' });
          // Long enough for the heartbeat/barrier timeout to declare the link dead.
          await waitFor(() => !manager.isReady(), 10_000, 'blackhole detected');
          await sleep(100);
          proxy.setMode({ kind: 'pass' });
        } else {
          proxy.cut();
        }
        await connected();
      }

      producer.stop();
      const last = spool.lastSeq;
      await waitFor(() => spool.confirmedSeq === last, 30_000, 'everything confirmed');

      const received = sandbox.logs.filter((l) => l.service === 'outage');
      // No UUID twice at the server (a duplicate would fail a whole PostgreSQL batch).
      const uuids = received.map((l) => l.uuid);
      expect(new Set(uuids).size).toBe(uuids.length);
      expect(sandbox.poisonFrames).toEqual([]);

      const firstArrival = new Map<number, number>();
      const copies = new Map<number, number>();
      received.forEach((l, index) => {
        const seq = Number(l.message.slice(1));
        if (!firstArrival.has(seq)) firstArrival.set(seq, index);
        copies.set(seq, (copies.get(seq) ?? 0) + 1);
        // Every copy keeps the original's time bytes (0–9): only the identifier differs.
        expect(l.uuid.slice(0, 23)).toBe(uuidBySeq.get(seq)?.slice(0, 23));
      });
      // At least once.
      for (let seq = 1; seq <= last; seq++) expect(firstArrival.has(seq), `frame ${seq} missing`).toBe(true);
      // In order.
      const order = [...firstArrival.entries()].sort((a, b) => a[0] - b[0]).map(([, index]) => index);
      for (let i = 1; i < order.length; i++) expect(order[i]).toBeGreaterThan(order[i - 1] as number);
      // Duplicates only from a window that was unconfirmed when a connection went down.
      let duplicates = 0;
      for (const [seq, n] of copies) {
        if (n === 1) continue;
        duplicates += n - 1;
        const inWindow = windows.some((w) => seq > w.from && seq <= w.to);
        expect(inWindow, `frame ${seq} duplicated outside any unconfirmed window`).toBe(true);
      }
      expect(windows.length).toBeGreaterThanOrEqual(RESTARTS + PARTITIONS + RESETS);
      expect(producer.produced).toBe(last);
      // Printed for the report: how much the outages cost.
      console.log(
        `outage test: ${last} frames, ${received.length} received, ${duplicates} duplicates, ${windows.length} connection losses`,
      );
    },
  );
});
