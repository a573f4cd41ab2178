import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { decodeFrame, encodeFrame } from '../../../src-main/agent/protocol/codec';
import { findLegacyFiles, importLegacySpool } from '../../../src-main/agent/spool/legacy-import';
import { Spool } from '../../../src-main/agent/spool/spool';
import { tempDir } from './helpers';

interface SessionFrame {
  direction: string;
  frame: WireFrame;
  hex: string;
}
const session = JSON.parse(
  readFileSync(join(__dirname, '../../fixtures/real-agent-session.json'), 'utf8'),
) as { frames: SessionFrame[] };
const agentFrames = session.frames.filter((f) => f.direction === 'agent->server');
const GROUP = 'test-group-1';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ tmp: string; spool: Spool }> {
  const tmp = tempDir('legacy-tmp-');
  const data = tempDir('legacy-data-');
  cleanups.push(tmp.cleanup, data.cleanup);
  const spool = await Spool.open(data.dir, { fsync: 'never', maxFrameBytes: 65537 });
  cleanups.push(() => spool.close());
  return { tmp: tmp.dir, spool };
}

async function readAll(spool: Spool): Promise<WireFrame[]> {
  const reader = spool.createReader();
  const out: WireFrame[] = [];
  for (let b = await reader.read(100); b.length > 0; b = await reader.read(100)) {
    out.push(...b.map((r) => decodeFrame(r.payload)));
  }
  await reader.close();
  return out;
}

describe('legacy spool import', () => {
  it('re-spools the frames recorded from the original agent, skips auth/heartbeat, keeps order, removes the file', async () => {
    const { tmp, spool } = await setup();
    // The original's spool file = concatenated wire frames (here: the real bytes it put on the wire).
    const bytes = Buffer.concat(agentFrames.map((f) => Buffer.from(f.hex, 'hex')));
    const file = join(tmp, `${'minion-' + GROUP}-4242.log`);
    writeFileSync(file, bytes);
    const other = join(tmp, 'minion-other-group-1.log');
    writeFileSync(other, bytes);

    const report = await importLegacySpool(spool, {
      groupId: GROUP,
      tmpDir: tmp,
      isProcessAlive: () => false,
    });
    const expected = agentFrames.map((f) => f.frame).filter((f) => f[0] !== 'C');
    expect(report.imported).toBe(expected.length);
    expect(report.files).toHaveLength(1);
    expect(report.files[0]).toMatchObject({
      skippedControl: 2,
      invalid: 0,
      corruptTailBytes: 0,
      removed: true,
    });
    expect(existsSync(file)).toBe(false);
    expect(existsSync(other)).toBe(true);

    const spooled = await readAll(spool);
    expect(spooled.map((f) => [f[0], f[2]])).toEqual(expected.map((f) => [f[0], f[2]]));
    // Same time bytes, new identifier: a replay by the original cannot collide.
    spooled.forEach((f, i) => {
      expect(f[1]).not.toBe(expected[i]?.[1]);
      expect(f[1].slice(0, 24)).toBe(expected[i]?.[1].slice(0, 24));
    });
  });

  it('keeps the valid frames before a damaged tail and reports the tail; skips invalid frames', async () => {
    const { tmp, spool } = await setup();
    const good: WireFrame = [
      'L',
      '3aadc520-000e-e297-d311-7fd6529ad68e',
      [GROUP, '5e1ec7ed-0000-4000-8000-00000000a9e7', 'app', 'kept'],
    ];
    const poison: WireFrame = [
      'L',
      'deadbeef',
      [GROUP, '5e1ec7ed-0000-4000-8000-00000000a9e7', 'app', 'bad uuid'],
    ];
    const torn = encodeFrame(good).subarray(0, 30);
    const problems: string[] = [];
    writeFileSync(
      join(tmp, `minion-${GROUP}-77.log`),
      Buffer.concat([encodeFrame(good), encodeFrame(poison), encodeFrame(good), torn]),
    );
    const report = await importLegacySpool(spool, {
      groupId: GROUP,
      tmpDir: tmp,
      isProcessAlive: () => false,
      onProblem: (m) => problems.push(m),
    });
    expect(report.files[0]).toMatchObject({
      framesRead: 3,
      imported: 2,
      invalid: 1,
      corruptTailBytes: 30,
      removed: true,
    });
    expect((await readAll(spool)).map((f) => f[2][3])).toEqual(['kept', 'kept']);
    expect(problems.join()).toMatch(/30 bytes of damaged tail/);
  });

  it('leaves a file alone while its writer process is still running', async () => {
    const { tmp, spool } = await setup();
    const file = join(tmp, `minion-${GROUP}-${process.ppid}.log`);
    writeFileSync(file, Buffer.from(agentFrames[3]?.hex ?? '', 'hex'));
    const report = await importLegacySpool(spool, { groupId: GROUP, tmpDir: tmp });
    expect(report.files[0]?.skippedBecause).toMatch(/still running/);
    expect(existsSync(file)).toBe(true);
    expect(spool.lastSeq).toBe(0);
    expect(await findLegacyFiles(tmp, GROUP)).toHaveLength(1);
  });
});
