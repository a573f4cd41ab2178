import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runSpoolCommand } from '../../../src-main/cli/commands/spool';
import { scanSegment } from '../../../src-main/agent/spool/segment-log';
import { Spool, spoolPaths } from '../../../src-main/agent/spool/spool';
import { inspectSpool } from '../../../src-main/agent/spool/tools';
import { frameOf, tempDir } from './helpers';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function filled(): Promise<string> {
  const t = tempDir('tools-');
  cleanups.push(t.cleanup);
  const spool = await Spool.open(t.dir, { fsync: 'never', segmentBytes: 2048 });
  for (let i = 0; i < 60; i++)
    spool.append(i % 2 ? 'log' : 'telemetry', frameOf(i % 2 ? 'log' : 'telemetry', `t${i}`));
  await spool.close();
  return t.dir;
}

async function run(
  action: 'stats' | 'verify' | 'repair',
  dataDir: string,
): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await runSpoolCommand({ action, dataDir }, (l) => lines.push(l));
  return { code, text: lines.join('\n') };
}

describe('spool tools and CLI', () => {
  it('stats shows counts per class, cursor and oldest age on a healthy spool', async () => {
    const dir = await filled();
    const i = await inspectSpool(dir);
    expect(i.queued.log.frames).toBe(30);
    expect(i.queued.telemetry.frames).toBe(30);
    expect(i.damaged).toEqual([]);
    expect(i.inUseBy).toBeNull();
    const { code, text } = await run('stats', dir);
    expect(code).toBe(0);
    expect(text).toMatch(/queued: 60 frames — log 30 .*telemetry 30/);
    expect(text).toMatch(/cursor: ok, confirmed up to seq 0/);
    expect(text).toMatch(/delivery: no record of an agent delivering from this spool yet/);
    expect(text).toMatch(/oldest queued: \d{4}-/);
    expect((await run('verify', dir)).code).toBe(0);
  });

  it('verify reports damage and what repair would do; repair fixes it; verify is clean again', async () => {
    const dir = await filled();
    const segDir = spoolPaths(dir).segments;
    const files = readdirSync(segDir).sort();
    const middle = join(segDir, files[1] as string);
    const buf = readFileSync(middle);
    const rec = scanSegment(buf).records[1];
    const at = (rec?.offset ?? 0) + 27;
    buf[at] = (buf[at] as number) ^ 0x10;
    writeFileSync(middle, buf);
    const last = join(segDir, files.at(-1) as string);
    truncateSync(last, readFileSync(last).length - 5);

    const before = readdirSync(segDir).length;
    const verify = await run('verify', dir);
    expect(verify.code).toBe(1);
    expect(verify.text).toMatch(/crc-mismatch/);
    expect(verify.text).toMatch(/move to quarantine/);
    expect(verify.text).toMatch(/truncate the torn tail/);
    // verify changed nothing
    expect(readdirSync(segDir).length).toBe(before);
    expect(readdirSync(spoolPaths(dir).quarantine)).toEqual([]);

    const repair = await run('repair', dir);
    expect(repair.code).toBe(0);
    expect(repair.text).toMatch(/quarantined .*salvaged \d+ records/);
    expect(repair.text).toMatch(/truncated the torn tail/);
    expect(readdirSync(spoolPaths(dir).quarantine)).toHaveLength(1);
    const after = await run('verify', dir);
    expect(after.code).toBe(0);
    expect(after.text).toMatch(/queued: 58 frames/);
  });

  it('repair refuses while an agent has the spool open; stats still works', async () => {
    const dir = await filled();
    writeFileSync(join(spoolPaths(dir).dir, 'owner.pid'), `${process.ppid}\n`);
    const repair = await run('repair', dir);
    expect(repair.code).toBe(2);
    expect(repair.text).toMatch(/in use by process/);
    const stats = await run('stats', dir);
    expect(stats.code).toBe(0);
    expect(stats.text).toMatch(/in use by running process/);
  });

  it('stats on a data dir without a spool says so', async () => {
    const t = tempDir('tools-empty-');
    cleanups.push(t.cleanup);
    const { code, text } = await run('stats', t.dir);
    expect(code).toBe(0);
    expect(text).toMatch(/does not exist yet/);
  });
});
