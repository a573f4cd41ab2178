import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type CpuInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { telemetryFrame } from '../../../src-main/agent/protocol/frames';
import {
  BUILTIN_COLLECTORS,
  type CollectorContext,
  cpuPercent,
  cpuTotals,
  crystalFloatText,
  memUsedKbFromMeminfo,
  networkSample,
  newCollectorState,
  parseCsv,
  parseDfOutput,
  parseProcNetDev,
  type TelemetrySample,
} from '../../../src-main/agent/telemetry';

interface Vector {
  id: string;
  frame: WireFrame;
}
const vectors = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'frames.json'), 'utf8')) as {
    vectors: Vector[];
  }
).vectors;
const vector = (id: string) => {
  const found = vectors.find((v) => v.id === id);
  if (!found) throw new Error(`vector ${id} missing`);
  return found.frame;
};
const GROUP = 'test-group-2';
const SERVER = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minion-telemetry-'));
  mkdirSync(join(dir, 'proc', 'net'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function context(overrides: Partial<CollectorContext> = {}): CollectorContext & { logs: string[] } {
  const logs: string[] = [];
  return {
    platform: 'linux',
    procRoot: join(dir, 'proc'),
    runDf: () => Promise.resolve(''),
    state: newCollectorState(),
    log: (level, message) => logs.push(`${level}: ${message}`),
    now: () => 1_000_000,
    maxSampleBytes: 60_000,
    logs,
    ...overrides,
  };
}

const collect = (
  label: string,
  ctx: CollectorContext,
  args: Record<string, unknown> = {},
): Promise<TelemetrySample[]> => BUILTIN_COLLECTORS[label]!(ctx, args);

/** Same verb, same data layout, same value shapes as the golden frame. */
function expectSameShape(actual: WireFrame, golden: WireFrame) {
  expect(actual[0]).toBe(golden[0]);
  expect(actual[2].length).toBe(golden[2].length);
  expect(actual[2].slice(0, 3)).toEqual(golden[2].slice(0, 3).map((v, i) => (i < 2 ? v : v)));
}

describe('built-in telemetry matches the golden shapes', () => {
  it('V9 load_avg: ["load_avg", "0.52"] from /proc/loadavg', async () => {
    writeFileSync(join(dir, 'proc', 'loadavg'), '0.52 0.58 0.59 1/123 4567\n');
    const [sample] = await collect('load_avg', context());
    const frame = telemetryFrame(GROUP, SERVER, sample!.name, sample!.values);
    expect(frame[2]).toEqual(vector('V9')[2]);
  });

  it('V10 memory: ["mem_used_kb", "3254812.0"] = MemTotal − MemAvailable as Crystal float text', async () => {
    writeFileSync(
      join(dir, 'proc', 'meminfo'),
      'MemTotal:       16314304 kB\nMemFree:         1000000 kB\nMemAvailable:   13059492 kB\nBuffers:  1 kB\n',
    );
    const [sample] = await collect('memory', context());
    const frame = telemetryFrame(GROUP, SERVER, sample!.name, sample!.values);
    expect(frame[2]).toEqual(vector('V10')[2]);
    expect(crystalFloatText(12)).toBe('12.0');
    expect(memUsedKbFromMeminfo('MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n')).toBe(65);
    expect(memUsedKbFromMeminfo('garbage')).toBeNull();
  });

  it('V11 disk_usage: one JSON: string with the original keys from `df -Pk`', async () => {
    const df =
      'Filesystem     1024-blocks  Used Available Capacity Mounted on\n/dev/sda1            1000    10       990       1% /\n';
    const [sample] = await collect('disk_usage', context({ runDf: () => Promise.resolve(df) }));
    const frame = telemetryFrame(GROUP, SERVER, sample!.name, sample!.values);
    expect(frame[2]).toEqual(vector('V11')[2]);
    expectSameShape(frame, vector('V11'));
  });

  it('disk_usage keeps mount points with spaces and skips junk lines', () => {
    const rows = parseDfOutput(
      'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sdb1 5 1 4 20% /media/My Disk\nshort line\n',
    );
    expect(rows).toEqual([
      {
        filesystem: '/dev/sdb1',
        '1024-blocks': '5',
        used: '1',
        available: '4',
        capacity: '20%',
        mounted: '/media/My Disk',
      },
    ]);
  });

  const dfFixture = (name: string): string => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

  it('parses recorded `df -Pk` output of GNU coreutils (Linux)', () => {
    const rows = parseDfOutput(dfFixture('df-Pk-linux-coreutils.txt'));
    expect(rows.map((r) => r.mounted)).toEqual([
      '/dev',
      '/run',
      '/',
      '/dev/shm',
      '/boot/efi',
      '/mnt/nas backup',
    ]);
    expect(rows[2]).toEqual({
      filesystem: '/dev/nvme0n1p2',
      '1024-blocks': '490617784',
      used: '212345678',
      available: '253276584',
      capacity: '46%',
      mounted: '/',
    });
    expect(rows[5]?.filesystem).toBe('//nas/backup');
  });

  it('parses recorded `df -Pk` output of macOS, whose filesystem names may hold spaces', () => {
    const rows = parseDfOutput(dfFixture('df-Pk-macos.txt'));
    expect(rows.map((r) => r.filesystem)).toEqual([
      '/dev/disk3s1s1',
      'devfs',
      '/dev/disk3s6',
      '/dev/disk3s5',
      'map auto_home',
    ]);
    expect(rows[4]).toEqual({
      filesystem: 'map auto_home',
      '1024-blocks': '0',
      used: '0',
      available: '0',
      capacity: '100%',
      mounted: '/System/Volumes/Data/home',
    });
    expect(rows[3]).toMatchObject({ used: '223371356', capacity: '48%', mounted: '/System/Volumes/Data' });
  });

  it('parses recorded `df -Pk` output of BusyBox (Alpine containers)', async () => {
    const text = dfFixture('df-Pk-busybox.txt');
    expect(parseDfOutput(text).map((r) => [r.filesystem, r.capacity, r.mounted])).toEqual([
      ['overlay', '41%', '/'],
      ['tmpfs', '0%', '/dev'],
      ['shm', '0%', '/dev/shm'],
      ['/dev/vda1', '41%', '/etc/hosts'],
    ]);
    const [sample] = await collect('disk_usage', context({ runDf: () => Promise.resolve(text) }));
    expect(JSON.parse(sample!.name.slice(5))).toEqual({ disk_usage: parseDfOutput(text) });
  });

  // Windows has no df (and the collector sends nothing there); everywhere else a missing df is a failure.
  it.runIf(process.platform !== 'win32')(
    'the real `df -Pk` of this machine parses (not on Windows)',
    async () => {
      const { runDfCommand } = await import('../../../src-main/agent/telemetry');
      const rows = parseDfOutput(await runDfCommand());
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(Object.keys(row)).toEqual([
          'filesystem',
          '1024-blocks',
          'used',
          'available',
          'capacity',
          'mounted',
        ]);
        expect(row.used).toMatch(/^\d+$/);
        expect(row.capacity).toMatch(/^(\d+%|-)$/);
      }
    },
  );

  it('splits a long disk list into several samples within the size limit, order kept', async () => {
    const lines = ['Filesystem 1024-blocks Used Available Capacity Mounted on'];
    for (let i = 0; i < 200; i++)
      lines.push(`overlay${i} 1000 10 990 1% /var/lib/docker/overlay2/${'x'.repeat(40)}${i}/merged`);
    const samples = await collect(
      'disk_usage',
      context({ runDf: () => Promise.resolve(lines.join('\n')), maxSampleBytes: 4000 }),
    );
    expect(samples.length).toBeGreaterThan(5);
    const mounted: string[] = [];
    for (const s of samples) {
      expect(Buffer.byteLength(s.name)).toBeLessThanOrEqual(4000);
      expect(s.name.startsWith('JSON:{"disk_usage":[')).toBe(true);
      mounted.push(
        ...(JSON.parse(s.name.slice(5)) as { disk_usage: { mounted: string }[] }).disk_usage.map(
          (r) => r.mounted,
        ),
      );
    }
    expect(mounted).toHaveLength(200);
    expect(mounted[199]).toMatch(/199\/merged$/);
  });

  it('sends nothing (not "") when a value cannot be read', async () => {
    writeFileSync(join(dir, 'proc', 'loadavg'), '\n');
    writeFileSync(join(dir, 'proc', 'meminfo'), 'nothing useful\n');
    expect(await collect('load_avg', context())).toEqual([]);
    expect(await collect('memory', context())).toEqual([]);
    expect(await collect('disk_usage', context({ runDf: () => Promise.resolve('') }))).toEqual([]);
    expect(await collect('load_avg', context({ platform: 'win32' }))).toEqual([]);
  });

  it('falls back to os on macOS and Windows', async () => {
    const [mem] = await collect('memory', context({ platform: 'darwin' }));
    expect(mem?.name).toBe('mem_used_kb');
    expect(mem?.values[0]).toMatch(/^\d+\.0$/);
    const [load] = await collect('load_avg', context({ platform: 'darwin' }));
    expect(load?.values[0]).toMatch(/^\d+\.\d\d$/);
    const [up] = await collect('uptime', context({ platform: 'win32' }));
    expect(up?.name).toBe('uptime_seconds');
  });
});

describe('new built-ins', () => {
  it('cpu: busy percent from deltas, nothing on the first sample nor without a tick', async () => {
    const core = (user: number, sys: number, idle: number): CpuInfo => ({
      model: 'test',
      speed: 1000,
      times: { user, nice: 0, sys, idle, irq: 0 },
    });
    let list = [core(100, 50, 850), core(200, 100, 700)];
    const ctx = context({ readCpus: () => list });
    expect(await collect('cpu', ctx)).toEqual([]);
    // +300 busy and +100 idle over both cores: 75 % busy.
    list = [core(250, 50, 900), core(350, 100, 750)];
    expect(await collect('cpu', ctx)).toEqual([{ name: 'cpu_percent', values: ['75.0'] }]);
    // No tick since the previous sample: nothing is sent, never a fake value.
    expect(await collect('cpu', ctx)).toEqual([]);
    list = [core(250, 50, 1000), core(350, 100, 850)];
    expect(await collect('cpu', ctx)).toEqual([{ name: 'cpu_percent', values: ['0.0'] }]);
    expect(cpuPercent({ idle: 100, total: 200 }, { idle: 150, total: 400 })).toBe(75);
    expect(cpuPercent({ idle: 1, total: 2 }, { idle: 1, total: 2 })).toBeNull();
  });

  it('cpu: the default reads the real cores of this machine', () => {
    const totals = cpuTotals();
    expect(totals.total).toBeGreaterThan(0);
    expect(totals.idle).toBeGreaterThanOrEqual(0);
    expect(totals.idle).toBeLessThanOrEqual(totals.total);
  });

  it('network: counters per interface, rates after the second sample', async () => {
    const dev = (rx: number, tx: number) =>
      'Inter-|   Receive                                                |  Transmit\n' +
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
      `    lo:    5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0\n` +
      `  eth0: ${rx} 10 0 0 0 0 0 0 ${tx} 10 0 0 0 0 0 0\n`;
    writeFileSync(join(dir, 'proc', 'net', 'dev'), dev(1000, 2000));
    let now = 1_000_000;
    const ctx = context({ now: () => now });
    const [first] = await collect('network', ctx);
    expect(JSON.parse(first!.name.slice(5))).toEqual({
      network: [
        { interface: 'lo', rx_bytes: '5000', tx_bytes: '5000' },
        { interface: 'eth0', rx_bytes: '1000', tx_bytes: '2000' },
      ],
    });
    writeFileSync(join(dir, 'proc', 'net', 'dev'), dev(3000, 2500));
    now += 2000;
    const [second] = await collect('network', ctx);
    const eth0 = (JSON.parse(second!.name.slice(5)) as { network: Record<string, string>[] }).network[1];
    expect(eth0).toEqual({
      interface: 'eth0',
      rx_bytes: '3000',
      tx_bytes: '2500',
      rx_bytes_per_s: '1000.0',
      tx_bytes_per_s: '250.0',
    });
    expect(parseProcNetDev('garbage')).toEqual(new Map());
    expect(networkSample(new Map())).toBeNull();
    expect(await collect('network', context({ platform: 'darwin' }))).toEqual([]);
  });

  it('uptime: whole seconds from /proc/uptime', async () => {
    writeFileSync(join(dir, 'proc', 'uptime'), '12345.67 2000.00\n');
    expect(await collect('uptime', context())).toEqual([{ name: 'uptime_seconds', values: ['12345'] }]);
  });
});

describe('pick_files', () => {
  it('turns YAML, JSON and CSV files into JSON: records and moves them after they were accepted', async () => {
    const pending = join(dir, 'pending');
    const processed = join(dir, 'processed');
    mkdirSync(pending);
    writeFileSync(join(pending, 'a.yml'), 'host: web\nload: 1.5\n');
    writeFileSync(join(pending, 'b.json'), '[1, 2]');
    writeFileSync(join(pending, 'c.csv'), 'name,value\r\nx,"1,5"\r\ny,"say ""hi"""\r\n');
    writeFileSync(join(pending, 'skip.txt'), 'not matched');
    const ctx = context();
    const samples = await collect('pick_files', ctx, {
      pending_path: pending,
      processed_path: processed,
      match: '*.{yml,json,csv}',
    });
    expect(samples.map((s) => s.name)).toEqual([
      'JSON:{"host":"web","load":1.5}',
      'JSON:{"payload":[1,2]}',
      'JSON:{"name":"x","value":"1,5"}',
      'JSON:{"name":"y","value":"say \\"hi\\""}',
    ]);
    expect(samples.every((s) => s.values.length === 0)).toBe(true);
    // nothing moved before the sink accepted
    expect(readdirSync(pending).sort()).toEqual(['a.yml', 'b.json', 'c.csv', 'skip.txt']);
    for (const s of samples) await s.commit?.();
    expect(readdirSync(processed).sort()).toEqual(['a.yml', 'b.json', 'c.csv']);
    expect(readdirSync(pending)).toEqual(['skip.txt']);
  });

  it('uses the default *.yml match, logs a bad file once, wraps unknown formats as valid JSON', async () => {
    const pending = join(dir, 'p2');
    mkdirSync(pending);
    writeFileSync(join(pending, 'bad.yml'), 'a: [1\n');
    writeFileSync(join(pending, 'note.yml'), 'just text');
    const ctx = context();
    const first = await collect('pick_files', ctx, { pending_path: pending });
    expect(first.map((s) => s.name)).toEqual(['JSON:{"payload":"just text"}']);
    await collect('pick_files', ctx, { pending_path: pending });
    expect(ctx.logs.filter((l) => l.includes('bad.yml'))).toHaveLength(1);
    // files stay without processed_path (sent again next time, as in the original)
    expect(readdirSync(pending).sort()).toEqual(['bad.yml', 'note.yml']);

    writeFileSync(join(pending, 'raw.dat'), 'a "quoted" thing');
    const raw = await collect('pick_files', ctx, { pending_path: pending, match: '*.dat' });
    expect(JSON.parse(raw[0]!.name.slice(5))).toEqual({ payload: 'a "quoted" thing' });
  });

  it('parses CSV edge cases', () => {
    expect(parseCsv('a,b\n1,\n\n"multi\nline",2')).toEqual([
      ['a', 'b'],
      ['1', ''],
      ['multi\nline', '2'],
    ]);
  });
});
