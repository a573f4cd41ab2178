import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryPump } from '../../../src-main/agent/spool/delivery';
import { Spool } from '../../../src-main/agent/spool/spool';
import { FakeTransport, GROUP, SERVER, frameOf, tempDir, textOf } from './helpers';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** One event-loop turn: resolves in the check phase after the immediates queued before it. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('DeliveryPump: bounded work per event-loop turn', () => {
  it('sends a backlog served from memory in slices of bounded time, yielding to the event loop between them', async () => {
    const t = tempDir('slices-');
    cleanups.push(t.cleanup);
    const spool = await Spool.open(t.dir, { fsync: 'never' });
    const transport = new FakeTransport();
    let ms = 0;
    const sendEncoded = transport.sendEncoded?.bind(transport);
    transport.sendEncoded = (bytes, frame) => {
      ms += 0.01; // every frame "costs" 10 µs of the slice: a chunk of 256 is 2.56 ms
      return sendEncoded?.(bytes, frame) ?? false;
    };
    const pump = new DeliveryPump(spool, transport, {
      groupId: GROUP,
      serverId: SERVER,
      confirmIntervalMs: 60_000,
      clock: () => ms,
    });
    cleanups.push(async () => {
      await pump.stop();
      await spool.close();
    });
    const texts = Array.from({ length: 3000 }, (_, i) => `line ${i}`);
    for (const text of texts) spool.append('log', frameOf('log', text));
    pump.start();
    transport.connect();
    const perTurn: number[] = [];
    for (let turn = 0; turn < 1000 && transport.received.length < texts.length; turn++) {
      const before = transport.received.length;
      await nextTurn();
      perTurn.push(transport.received.length - before);
    }
    expect(transport.received.map(textOf)).toEqual(texts);
    // The 4 ms budget is looked at after each chunk: two chunks (5.12 ms) end a slice, never more in one turn.
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(2 * 256);
    expect(pump.counters.sliceYields).toBeGreaterThanOrEqual(Math.floor(texts.length / 512));
  });
});
