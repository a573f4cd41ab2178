/**
 * End to end through the real pump, connection and sandbox server while every buffer on the way is reused: the
 * spool recycles its arenas, the reader its copy buffer, the connection its write buffers. A tiny in-flight window
 * and a slow link keep the pump lagging (arenas stay in the tail, writes wait for the socket), and frames of very
 * different sizes straddle every buffer boundary. Every line must arrive exactly once, in order, byte-identical.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { encodeFrame } from '../../../src-main/agent/protocol/codec';
import { newMinionUuid } from '../../../src-main/agent/protocol/uuid';
import { type SandboxServer, startSandboxServer } from '../../../src-main/sandbox/sandbox-server';
import { FaultProxy } from '../../support/fault-proxy';
import { GROUP_ID, GROUP_KEY, SERVER_ID, waitFor } from '../../support/connection-helpers';
import { Cleanups, tempDir } from './helpers';
import { openLiveDelivery } from './live-delivery';

const cleanups = new Cleanups();
afterEach(() => cleanups.runAll());

const LINES = 4000;

describe('delivery with recycled arenas, reader buffers and write buffers', () => {
  it(
    `delivers ${LINES} lines of mixed sizes exactly once, in order, byte-identical, while the pump lags`,
    { timeout: 60_000 },
    async () => {
      const t = tempDir('reused-buffers-');
      cleanups.push(t.cleanup);
      const sandbox: SandboxServer = await startSandboxServer({
        port: 0,
        groups: [{ id: GROUP_ID, key: GROUP_KEY }],
      });
      cleanups.push(() => sandbox.close());
      const proxy = await FaultProxy.start({
        targetPort: sandbox.address.port,
        mode: { kind: 'delay', ms: 2 },
      });
      cleanups.push(() => proxy.close());
      const live = await openLiveDelivery(
        cleanups,
        t.dir,
        proxy.port,
        { maxFrameBytes: 8192 },
        // A 16 KiB in-flight window: the pump keeps waiting for barriers while the producer runs ahead.
        {
          confirmIntervalMs: 20,
          idleBarrierMs: 5,
          settleMs: 0,
          maxUnconfirmedBytes: 16 * 1024,
          maxInFlightBytesCeiling: 16 * 1024,
          writeMarks: false,
        },
      );
      const { spool, manager, pump } = live;
      manager.start();
      pump.start();

      const appended: WireFrame[] = [];
      let next = 0;
      // The Messages view's sent frames, checked as the run goes: each must show what was appended with its seq
      // (the pump's payloads are the reader's, reused by its next read).
      const wrongInView = new Set<number>();
      let viewsChecked = 0;
      // 200 lines every 5 ms (~60 KB of frames per tick: about an arena), sizes from 20 to ~6000 bytes.
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          for (let i = 0; i < 200 && next < LINES; i++, next++) {
            const size = next % 97 === 0 ? 6000 : 20 + ((next * 37) % 700);
            const frame: WireFrame = [
              'L',
              newMinionUuid(),
              [GROUP_ID, SERVER_ID, 'reuse', `m${next}:`.padEnd(size, String.fromCharCode(97 + (next % 26)))],
            ];
            if (spool.append('log', frame).dropped) throw new Error('unexpected drop');
            appended.push(frame);
          }
          for (const v of pump.view().recentSent) {
            viewsChecked++;
            const seq = v.seq ?? 0;
            if (v.data[3] !== appended[seq - 1]?.[2][3]) wrongInView.add(seq);
          }
          if (next === LINES) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
        cleanups.push(() => clearInterval(timer));
      });
      await waitFor(() => spool.confirmedSeq === spool.lastSeq, 40_000, 'every line confirmed');
      expect(viewsChecked).toBeGreaterThan(0);
      expect([...wrongInView]).toEqual([]);

      const received = sandbox.frames.filter((f) => f.frame[0] === 'L');
      expect(received).toHaveLength(LINES);
      // Frame by frame: decoded equal and of the very size it was encoded to (the bytes written, not a re-encoding).
      const wrong = received.filter(
        (f, i) =>
          JSON.stringify(f.frame) !== JSON.stringify(appended[i]) ||
          f.bytes !== encodeFrame(appended[i] as WireFrame).length,
      );
      expect(wrong.map((f) => String(f.frame[2][3]).slice(0, 12))).toEqual([]);
      expect(new Set(received.map((f) => f.frame[1])).size).toBe(LINES);
      // The pump lagged (it read some of the backlog from memory it had not reached when it was appended) and the
      // buffers were reused rather than allocated per use.
      expect(pump.view().recentSent.length).toBeGreaterThan(0);
      expect(manager.writeBufferStats.buffersAllocated).toBeLessThanOrEqual(4);
      expect(spool.arenaStats.allocated).toBeLessThanOrEqual(16 + 1 + 4);
    },
  );
});
