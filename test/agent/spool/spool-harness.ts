/**
 * The setup the spool test files share: a temp data folder, a spool opened in it (both undone after each test), and
 * reading everything a spool holds back as records or texts.
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeFrame } from '../../../src-main/agent/protocol/codec';
import { type SpoolRecord } from '../../../src-main/agent/spool/reader';
import { Spool, type SpoolOptions, spoolPaths } from '../../../src-main/agent/spool/spool';
import { Cleanups, tempDir, textOf } from './helpers';

export interface SpoolTestKit {
  /** Run `cleanups.runAll()` in the file's `afterEach`; tests may push their own steps too. */
  cleanups: Cleanups;
  /** A fresh temp folder, removed after the test. */
  dataDir(): string;
  /** `Spool.open` with the kit's default options (overridden by `options`); the spool is closed after the test. */
  openSpool(dir: string, options?: SpoolOptions): Promise<Spool>;
}

/**
 * One per test file. `defaultOptions` defaults to `fsync: 'never'`: most tests are not about durability, and the
 * fsyncs would only slow them down.
 */
export function spoolTestKit(
  dirPrefix: string,
  defaultOptions: SpoolOptions = { fsync: 'never' },
): SpoolTestKit {
  const cleanups = new Cleanups();
  return {
    cleanups,
    dataDir(): string {
      const t = tempDir(dirPrefix);
      cleanups.push(t.cleanup);
      return t.dir;
    },
    async openSpool(dir: string, options: SpoolOptions = {}): Promise<Spool> {
      const spool = await Spool.open(dir, { ...defaultOptions, ...options });
      cleanups.push(() => spool.close());
      return spool;
    },
  };
}

/** Every record a new reader of `spool` gets, oldest first (the reader is closed again). */
export async function readAll(spool: Spool): Promise<SpoolRecord[]> {
  const reader = spool.createReader();
  const out: SpoolRecord[] = [];
  for (;;) {
    const batch = await reader.read(500);
    if (batch.length === 0) break;
    out.push(...batch);
  }
  await reader.close();
  return out;
}

/** The texts the records' frames carry (see `textOf`). */
export function textsOf(records: SpoolRecord[]): string[] {
  return records.map((r) => textOf(decodeFrame(r.payload)));
}

/** Names of the spool's segment files, oldest first. */
export function segmentFiles(dir: string): string[] {
  return readdirSync(spoolPaths(dir).segments).sort();
}

/**
 * Bytes the spool's segments take on disk: the files listed, plus files already unlinked but still held open by this
 * process (their blocks are freed only on close, so they count until then).
 */
export function segmentBytesOnDisk(dir: string): number {
  const segDir = spoolPaths(dir).segments;
  let bytes = 0;
  for (const name of readdirSync(segDir)) bytes += statSync(join(segDir, name)).size;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the fd of the readdir itself)
    }
    if (target.startsWith(`${segDir}/`) && target.endsWith(' (deleted)'))
      bytes += statSync(`/proc/self/fd/${fd}`).size;
  }
  return bytes;
}
