/**
 * The setup the end-to-end delivery tests share (outage, server crash): a spool, a real ConnectionManager and a pump
 * over it, fed by a producer that keeps appending log lines while the test breaks the server or the network.
 */
import { expect } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { ConnectionManager, type ConnectionOptions } from '../../../src-main/agent/connection/connection';
import { newMinionUuid } from '../../../src-main/agent/protocol/uuid';
import { DeliveryPump, type DeliveryOptions } from '../../../src-main/agent/spool/delivery';
import { Spool } from '../../../src-main/agent/spool/spool';
import { GROUP_ID, SERVER_ID, managerOptions, waitFor } from '../../support/connection-helpers';
import { type Cleanups } from './helpers';

export interface LiveDelivery {
  spool: Spool;
  manager: ConnectionManager;
  pump: DeliveryPump;
}

/**
 * A spool in `dir` (group commit every 20 ms), a manager for the server at `port` and a pump over it, none started;
 * after the test the pump, the manager and the spool are stopped in that order.
 */
export async function openLiveDelivery(
  cleanups: Cleanups,
  dir: string,
  port: number,
  managerOverrides: Partial<ConnectionOptions>,
  pumpOptions: Partial<DeliveryOptions>,
): Promise<LiveDelivery> {
  const spool = await Spool.open(dir, { fsync: { groupCommitMs: 20 } });
  const manager = new ConnectionManager(managerOptions(port, managerOverrides));
  const pump = new DeliveryPump(spool, manager, { groupId: GROUP_ID, serverId: SERVER_ID, ...pumpOptions });
  cleanups.push(async () => {
    await pump.stop();
    await manager.stop();
    await spool.close();
  });
  return { spool, manager, pump };
}

export interface LogProducer {
  /** Lines appended so far. */
  readonly produced: number;
  stop(): void;
}

/**
 * Appends `perTick` log lines every 5 ms from `service`, each reading `n<seq>` and checked to get that sequence, until
 * `stop()` (or the end of the test). `onAppended` sees each frame with its sequence.
 */
export function startLogProducer(
  cleanups: Cleanups,
  spool: Spool,
  options: { perTick: number; service: string; onAppended?: (seq: number, frame: WireFrame) => void },
): LogProducer {
  let produced = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < options.perTick; i++) {
      const seq = spool.lastSeq + 1;
      const frame: WireFrame = ['L', newMinionUuid(), [GROUP_ID, SERVER_ID, options.service, `n${seq}`]];
      expect(spool.append('log', frame).seq).toBe(seq);
      options.onAppended?.(seq, frame);
      produced++;
    }
  }, 5);
  const stop = (): void => clearInterval(timer);
  cleanups.push(stop);
  return {
    get produced() {
      return produced;
    },
    stop,
  };
}

/** Starts the pump and the manager, and waits until more than `moreThan` records are confirmed. */
export async function startAndAwaitConfirmations(
  { spool, manager, pump }: LiveDelivery,
  moreThan: number,
): Promise<void> {
  pump.start();
  manager.start();
  await waitFor(() => spool.confirmedSeq > moreThan, 10_000, 'first confirmations');
}
