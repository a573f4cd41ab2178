import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, fstatSync, openSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Spool, spoolPaths } from '../../../src-main/agent/spool/spool';
import { frameOf, tempDir } from './helpers';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Bytes the spool's segments take on disk: the files listed, plus files already unlinked but still held open by this
 * process (their blocks are only freed on close, so they count until then).
 */
function segmentBytesOnDisk(segDir: string): number {
  let bytes = 0;
  for (const name of readdirSync(segDir)) bytes += statSync(join(segDir, name)).size;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.startsWith(`${segDir}/`) || !target.endsWith(' (deleted)')) continue;
    const copy = openSync(`/proc/self/fd/${fd}`, 'r');
    try {
      bytes += fstatSync(copy).size;
    } finally {
      closeSync(copy);
    }
  }
  return bytes;
}

describe('spool size cap during a synchronous burst', () => {
  it('stays within max_bytes + one segment on disk while 100k × 7 KB log frames are appended without a pause', async () => {
    const { dir, cleanup } = tempDir('spool-burst-');
    cleanups.push(cleanup);
    const maxBytes = 32 * 1024 * 1024;
    const spool = await Spool.open(dir, { maxBytes, maxFrameBytes: 8192 });
    cleanups.push(() => spool.close());
    const segDir = spoolPaths(dir).segments;
    const message = 'x'.repeat(7 * 1024);
    const frames = 100_000;
    let worst = 0;
    let dropped = 0;
    // No await in the loop: the async compaction never gets a turn, exactly like a producer flooding the spool.
    for (let i = 0; i < frames; i++) {
      if (spool.append('log', frameOf('log', message)).dropped) dropped++;
      if (i % 500 === 499) {
        worst = Math.max(worst, segmentBytesOnDisk(segDir));
        if (worst > maxBytes + spool.segmentBytes) break;
      }
    }
    worst = Math.max(worst, segmentBytesOnDisk(segDir));
    expect(worst).toBeLessThanOrEqual(maxBytes + spool.segmentBytes);
    // The cap made room by dropping the oldest logs, not by refusing the newest.
    expect(dropped).toBe(0);
    expect(spool.view().perClass.log.dropped).toBeGreaterThan(frames - maxBytes / (7 * 1024));
    expect(spool.bytesOnDisk).toBeLessThanOrEqual(maxBytes);
  }, 120_000);
});
