import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { decodeFrame, encodeFrame } from '../../../src-main/agent/protocol/codec';
import { logFrame, resultFrame } from '../../../src-main/agent/protocol/frames';
import {
  findLegacyFiles,
  importLegacySpool,
  type LegacyImportOptions,
} from '../../../src-main/agent/spool/legacy-import';
import { Spool } from '../../../src-main/agent/spool/spool';
import { SERVER, tempDir } from './helpers';

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

describe('legacy spool import: files and framing', () => {
  const legacyLog = (text: string): WireFrame => logFrame(GROUP, SERVER, 'app', text);
  const texts = (frames: WireFrame[]): unknown[] => frames.map((f) => f[2][3]);
  const run = (spool: Spool, tmp: string, extra: Partial<LegacyImportOptions> = {}) =>
    importLegacySpool(spool, { groupId: GROUP, tmpDir: tmp, isProcessAlive: () => false, ...extra });

  it('imports a file of several MiB in order, frames straddling the read chunks included', async () => {
    const { tmp, spool } = await setup();
    // Frames of varied sizes (up to 60 KB) so frame boundaries fall anywhere relative to the 1 MiB chunks.
    const sent = Array.from({ length: 400 }, (_, i) => `${i}:` + 'x'.repeat((i * 7919) % 60_000));
    writeFileSync(
      join(tmp, `minion-${GROUP}-5.log`),
      Buffer.concat(sent.map((t) => encodeFrame(legacyLog(t)))),
    );
    const report = await run(spool, tmp);
    expect(report.files[0]).toMatchObject({
      framesRead: 400,
      imported: 400,
      corruptTailBytes: 0,
      removed: true,
    });
    expect(texts(await readAll(spool))).toEqual(sent);
  });

  it('counts everything after a zero length prefix as damaged tail, unread bytes included', async () => {
    const { tmp, spool } = await setup();
    const first = encodeFrame(legacyLog('before'));
    // 3 MiB after the zero prefix: more than one read chunk is still unread when framing is lost.
    const rest = Buffer.concat([Buffer.from([0, 0]), Buffer.alloc(3 * 1024 * 1024, 0x41)]);
    writeFileSync(join(tmp, `minion-${GROUP}-6.log`), Buffer.concat([first, rest]));
    const problems: string[] = [];
    const report = await run(spool, tmp, { onProblem: (m) => problems.push(m) });
    expect(report.files[0]).toMatchObject({ framesRead: 1, imported: 1, corruptTailBytes: rest.length });
    expect(texts(await readAll(spool))).toEqual(['before']);
    expect(problems).toEqual([
      expect.stringMatching(
        /1 frames imported, 0 invalid frames skipped, 3145730 bytes of damaged tail discarded$/,
      ),
    ]);
  });

  it('counts a lone trailing byte as damaged tail', async () => {
    const { tmp, spool } = await setup();
    writeFileSync(
      join(tmp, `minion-${GROUP}-7.log`),
      Buffer.concat([encodeFrame(legacyLog('one')), encodeFrame(legacyLog('two')), Buffer.from([0x01])]),
    );
    const report = await run(spool, tmp);
    expect(report.files[0]).toMatchObject({ imported: 2, corruptTailBytes: 1, removed: true });
  });

  it('reports a file with invalid frames even when its end is intact, and says nothing about clean files', async () => {
    const { tmp, spool } = await setup();
    const invalid = Buffer.from([0, 3, 0xc1, 0xc1, 0xc1]); // a frame whose payload is not msgpack
    writeFileSync(
      join(tmp, `minion-${GROUP}-11.log`),
      Buffer.concat([encodeFrame(legacyLog('fine')), invalid]),
    );
    writeFileSync(join(tmp, `minion-${GROUP}-12.log`), encodeFrame(legacyLog('clean')));
    const problems: string[] = [];
    const report = await run(spool, tmp, { onProblem: (m) => problems.push(m) });
    expect(report.files.map((f) => [f.imported, f.invalid, f.corruptTailBytes])).toEqual([
      [1, 1, 0],
      [1, 0, 0],
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/-11\.log: 1 frames imported, 1 invalid frames skipped, 0 bytes/);
  });

  it('imports the files of the group oldest first and reports the total', async () => {
    const { tmp, spool } = await setup();
    const names = [`minion-${GROUP}-300.log`, `minion-${GROUP}-100.log`, `minion-${GROUP}-200.log`];
    names.forEach((name, i) => {
      const path = join(tmp, name);
      writeFileSync(
        path,
        Buffer.concat([encodeFrame(legacyLog(`${name}#1`)), encodeFrame(legacyLog(`${name}#2`))]),
      );
      // Modification order: the 300 file is the oldest, then 100, then 200.
      utimesSync(path, 1_000_000 + i * 10, 1_000_000 + i * 10);
    });
    // Not this group's, not a spool file, or not a file: left alone.
    writeFileSync(join(tmp, `minion-${GROUP}-400.log.bak`), encodeFrame(legacyLog('bak')));
    writeFileSync(join(tmp, `minion-${GROUP}x-500.log`), encodeFrame(legacyLog('other group')));
    mkdirSync(join(tmp, `minion-${GROUP}-600.log`));
    expect((await findLegacyFiles(tmp, GROUP)).map((f) => [f.path, f.pid])).toEqual([
      [join(tmp, names[0]!), 300],
      [join(tmp, names[1]!), 100],
      [join(tmp, names[2]!), 200],
    ]);
    const report = await run(spool, tmp);
    expect(report.imported).toBe(6);
    expect(texts(await readAll(spool))).toEqual(names.flatMap((n) => [`${n}#1`, `${n}#2`]));
  });

  it('imports a file whose name carries no pid without asking whether a process runs', async () => {
    const { tmp, spool } = await setup();
    writeFileSync(join(tmp, `minion-${GROUP}-old.log`), encodeFrame(legacyLog('no pid')));
    // Digits with something around them are not a pid either.
    for (const name of [`minion-${GROUP}-old1.log`, `minion-${GROUP}-1old.log`])
      writeFileSync(join(tmp, name), encodeFrame(legacyLog(name)));
    expect((await findLegacyFiles(tmp, GROUP)).map((f) => f.pid)).toEqual([null, null, null]);
    const asked: number[] = [];
    const report = await run(spool, tmp, {
      isProcessAlive: (pid) => {
        asked.push(pid);
        return true;
      },
    });
    expect(asked).toEqual([]);
    expect(report.files.map((f) => [f.imported, f.removed, f.skippedBecause])).toEqual([
      [1, true, null],
      [1, true, null],
      [1, true, null],
    ]);
  });

  it('finds nothing in a missing directory', async () => {
    expect(await findLegacyFiles(join(tmpdir(), 'minion-no-such-dir-4711'), GROUP)).toEqual([]);
  });

  it('counts the frames a spool full of results dropped, apart from the imported ones', async () => {
    const data = tempDir('legacy-small-');
    const tmp = tempDir('legacy-small-tmp-');
    cleanups.push(data.cleanup, tmp.cleanup);
    // Results are never dropped; once they fill the spool, logs have no room.
    const spool = await Spool.open(data.dir, { fsync: 'never', maxBytes: 400 });
    cleanups.push(() => spool.close());
    const result = (i: number): WireFrame =>
      resultFrame(GROUP, SERVER, '5e1ec7ed-0000-4000-8000-00000000a9e7', `out ${i} ${'r'.repeat(150)}`, '');
    writeFileSync(
      join(tmp.dir, `minion-${GROUP}-8.log`),
      Buffer.concat([
        ...[0, 1, 2].map((i) => encodeFrame(result(i))),
        ...[0, 1].map((i) => encodeFrame(legacyLog(`no room ${i}`))),
      ]),
    );
    const report = await run(spool, tmp.dir);
    expect(report.files[0]).toMatchObject({
      framesRead: 5,
      imported: 3,
      droppedByOverflow: 2,
      removed: true,
    });
    expect(report.imported).toBe(3);
  });

  it('keeps a file it could not make durable, and says why', async () => {
    const { tmp, spool } = await setup();
    const path = join(tmp, `minion-${GROUP}-9.log`);
    writeFileSync(path, encodeFrame(legacyLog('kept on disk')));
    await spool.close();
    const problems: string[] = [];
    const report = await run(spool, tmp, { onProblem: (m) => problems.push(m) });
    // The closed spool refuses each frame (counted invalid), then the durability step fails.
    expect(report.files[0]).toMatchObject({ removed: false, imported: 0, invalid: 1 });
    expect(report.files[0]?.skippedBecause).toMatch(/^import failed: .*closed/);
    expect(problems[0]).toMatch(new RegExp(`^legacy spool ${path} not imported: .*closed`));
    expect(existsSync(path)).toBe(true);
  });
});
