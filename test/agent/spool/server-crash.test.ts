/**
 * Server crash test against the sandbox in its real-server mode: the server reads frames at once but stores them only
 * at its next flush, and a kill loses what was not flushed. Lines flow continuously while the server is killed and
 * restarted 20 times. With two-step confirmation every line lands at least once; with one-step confirmation (cursor
 * moves when a barrier is answered) the lines read just before a kill are confirmed and lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSandboxServer } from '../../../src-main/sandbox/sandbox-server';
import { GROUP_ID, GROUP_KEY, sleep, waitFor } from '../../support/connection-helpers';
import { Cleanups, tempDir } from './helpers';
import { openLiveDelivery, startAndAwaitConfirmations, startLogProducer } from './live-delivery';

const KILLS = Number(process.env.SERVER_CRASH_KILLS ?? 20);
const FLUSH_MS = 200;

const cleanups = new Cleanups();
afterEach(() => cleanups.runAll());

describe('delivery through server crashes (sandbox real-server mode)', () => {
  it(`every line lands at least once through ${KILLS} server kills`, { timeout: 180_000 }, async () => {
    const t = tempDir('server-crash-');
    cleanups.push(t.cleanup);
    const sandbox = await startSandboxServer({
      port: 0,
      groups: [{ id: GROUP_ID, key: GROUP_KEY }],
      storage: { flushDelayMs: FLUSH_MS },
    });
    cleanups.push(() => sandbox.close());
    const live = await openLiveDelivery(
      cleanups,
      t.dir,
      sandbox.address.port,
      { heartbeatIntervalMs: 1_000, authTimeoutMs: 500 },
      // Scaled down from the defaults (5 s, 2 s) with the same relation: settle > the server's flush interval.
      { confirmIntervalMs: 100, settleMs: 2 * FLUSH_MS },
    );
    const { spool } = live;

    const producer = startLogProducer(cleanups, spool, { perTick: 2, service: 'crash' });

    await startAndAwaitConfirmations(live, 20);

    let lostByKills = 0;
    for (let i = 0; i < KILLS; i++) {
      // Kill at a moment with frames read by the server but not flushed yet, after some were confirmed.
      const confirmedBefore = spool.confirmedSeq;
      await waitFor(() => spool.confirmedSeq > confirmedBefore, 10_000, 'delivery to resume');
      await sleep(20 + ((i * 53) % 180));
      const unflushed = sandbox.unflushedFrames;
      await sandbox.kill();
      lostByKills += unflushed;
      await sleep(20 + ((i * 37) % 100));
      await sandbox.restart();
    }

    producer.stop();
    const last = spool.lastSeq;
    await waitFor(() => spool.confirmedSeq === last, 30_000, 'everything confirmed');
    sandbox.flush();

    expect(producer.produced).toBe(last);
    // The kills did hit frames that were read but not stored.
    expect(lostByKills).toBeGreaterThan(0);
    expect(sandbox.lostOnKill).toBe(lostByKills);
    const stored = sandbox.logs.filter((l) => l.service === 'crash');
    const landed = new Set(stored.map((l) => Number(l.message.slice(1))));
    const missing: number[] = [];
    for (let seq = 1; seq <= last; seq++) if (!landed.has(seq)) missing.push(seq);
    expect(
      missing,
      `${missing.length} confirmed lines never stored: ${missing.slice(0, 10).join(', ')}`,
    ).toEqual([]);
    // Re-sends carry new identifiers: the server never saw a UUID twice.
    expect(sandbox.poisonFrames).toEqual([]);
    console.log(
      `server crash test: ${last} lines, ${stored.length} stored, ${sandbox.lostOnKill} lost by ${KILLS} kills and re-sent`,
    );
  });
});
