import { afterEach, describe, expect, it } from 'vitest';
import { frameOf } from './helpers';
import { segmentBytesOnDisk, spoolTestKit } from './spool-harness';

// The spool's default options (its own fsync policy), not the kit's fsync: 'never'.
const { cleanups, dataDir, openSpool } = spoolTestKit('spool-burst-', {});
afterEach(() => cleanups.runAll());

describe('spool size cap during a synchronous burst', () => {
  it('stays within max_bytes + one segment on disk while 100k × 7 KB log frames are appended without a pause', async () => {
    const dir = dataDir();
    const maxBytes = 32 * 1024 * 1024;
    const spool = await openSpool(dir, { maxBytes, maxFrameBytes: 8192 });
    const message = 'x'.repeat(7 * 1024);
    const frames = 100_000;
    let worst = 0;
    let dropped = 0;
    // No await in the loop: the async compaction never gets a turn, exactly like a producer flooding the spool.
    for (let i = 0; i < frames; i++) {
      if (spool.append('log', frameOf('log', message)).dropped) dropped++;
      if (i % 500 === 499) {
        worst = Math.max(worst, segmentBytesOnDisk(dir));
        if (worst > maxBytes + spool.segmentBytes) break;
      }
    }
    worst = Math.max(worst, segmentBytesOnDisk(dir));
    expect(worst).toBeLessThanOrEqual(maxBytes + spool.segmentBytes);
    // The cap made room by dropping the oldest logs, not by refusing the newest.
    expect(dropped).toBe(0);
    expect(spool.view().perClass.log.dropped).toBeGreaterThan(frames - maxBytes / (7 * 1024));
    expect(spool.bytesOnDisk).toBeLessThanOrEqual(maxBytes);
  }, 120_000);
});
