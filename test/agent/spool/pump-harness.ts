/**
 * The setup the delivery pump tests share: a spool in a fresh folder with a pump over a test transport, stopped and
 * closed after the test, and the fake clock those tests drive in small steps. On the fake clock timers and Date are
 * faked while file I/O stays real, so each step is followed by a short real pause in which the spool's disk work runs.
 */
import { vi } from 'vitest';
import {
  DeliveryPump,
  type DeliveryOptions,
  type DeliveryTransport,
} from '../../../src-main/agent/spool/delivery';
import { type SpoolRecord } from '../../../src-main/agent/spool/reader';
import { Spool, type SpoolOptions } from '../../../src-main/agent/spool/spool';
import { type Cleanups, GROUP, SERVER, tempDir } from './helpers';
import { ManualTransport } from './manual-transport';

// Taken at import, before any test fakes the timers.
const realSetTimeout = globalThis.setTimeout;

/** A real 1 ms pause, whatever the fake clock does: lets I/O callbacks and the spool's disk work run. */
export const realPause = (): Promise<void> => new Promise((resolve) => realSetTimeout(resolve, 1));

/** Advances the fake clock by `ms` in steps of `stepMs`, with a real pause after each step. */
export async function advance(ms: number, stepMs = 10): Promise<void> {
  for (let passed = 0; passed < ms; passed += stepMs) {
    await vi.advanceTimersByTimeAsync(Math.min(stepMs, ms - passed));
    await realPause();
  }
}

/** Advances the fake clock 10 ms at a time (with real pauses) until `cond` holds; fails past `maxMs` fake ms. */
export async function until(cond: () => boolean, maxMs: number, what: string): Promise<void> {
  for (let passed = 0; !cond(); passed += 10) {
    if (passed > maxMs) throw new Error(`not within ${maxMs} fake ms: ${what}`);
    await vi.advanceTimersByTimeAsync(10);
    await realPause();
  }
}

export interface PumpHarness<T extends DeliveryTransport> {
  /** The data folder the spool was opened in. */
  dir: string;
  spool: Spool;
  transport: T;
  pump: DeliveryPump;
}

export interface PumpHarnessOptions {
  /** Prefix of the fresh temp folder (removed after the test); ignored when `dir` is given. */
  dirPrefix?: string;
  /** Open the spool in this folder instead (one a test reopens); the test owns it. */
  dir?: string;
  /** Over `fsync: 'never'`. */
  spool?: SpoolOptions;
  /** Over the test group and server ids. */
  pump?: Partial<DeliveryOptions>;
  /**
   * Fake timers and Date from after the spool opened (opening needs real timers) until the cleanup, which gives the
   * real ones back before it stops the pump.
   */
  fakeClock?: boolean;
}

/** A spool and a pump (not started) over `transport`; the pump is stopped and the spool closed after the test. */
export async function openPumpHarness<T extends DeliveryTransport>(
  cleanups: Cleanups,
  transport: T,
  options: PumpHarnessOptions = {},
): Promise<PumpHarness<T>> {
  let dir = options.dir;
  if (dir === undefined) {
    const t = tempDir(options.dirPrefix);
    cleanups.push(t.cleanup);
    dir = t.dir;
  }
  const spool = await Spool.open(dir, { fsync: 'never', ...options.spool });
  if (options.fakeClock) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  }
  const pump = new DeliveryPump(spool, transport, { groupId: GROUP, serverId: SERVER, ...options.pump });
  cleanups.push(async () => {
    if (options.fakeClock) vi.useRealTimers();
    await pump.stop();
    await spool.close();
  });
  return { dir, spool, transport, pump };
}

/**
 * A pump on the fake clock over a transport whose barriers the test answers (`transport.answer()`). Defaults unless
 * `pumpOptions` say otherwise: confirm interval 5 s, settle 2 s, idle barrier 50 ms; no jitter, no marks file.
 */
export function openManualPumpOnFakeClock(
  cleanups: Cleanups,
  dirPrefix: string,
  pumpOptions: Partial<DeliveryOptions> = {},
): Promise<PumpHarness<ManualTransport>> {
  return openPumpHarness(cleanups, new ManualTransport(), {
    dirPrefix,
    fakeClock: true,
    pump: { random: () => 0, writeMarks: false, ...pumpOptions },
  });
}

/**
 * Passes every record a reader of `spool` hands out through `inspect` first, which may rewrite it: records as an
 * older version stored them, or a look at what the pump was given.
 */
export function interceptReads(
  spool: Spool,
  inspect: (record: SpoolRecord) => void,
  beforeRead?: () => void,
): void {
  const createReader = spool.createReader.bind(spool);
  vi.spyOn(spool, 'createReader').mockImplementation(() => {
    const reader = createReader();
    const read = reader.read.bind(reader);
    reader.read = async (max: number): Promise<SpoolRecord[]> => {
      beforeRead?.();
      const records = await read(max);
      for (const r of records) inspect(r);
      return records;
    };
    return reader;
  });
}
