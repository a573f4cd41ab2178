import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type WireFrame } from '../../../src-shared/view-models';
import { telemetryFrame } from '../../../src-main/agent/protocol/frames';
import { runCustomCommand, shellInvocation, TelemetryScheduler } from '../../../src-main/agent/telemetry';

const vectors = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'frames.json'), 'utf8')) as {
    vectors: { id: string; frame: WireFrame }[];
  }
).vectors;

const schedulers: TelemetryScheduler[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const s of schedulers.splice(0)) await s.stop();
});

function collecting(options: Partial<ConstructorParameters<typeof TelemetryScheduler>[0]> = {}) {
  const sent: { name: string; values: string[]; at: number }[] = [];
  const logs: string[] = [];
  const scheduler = new TelemetryScheduler({
    builtins: [],
    custom: [],
    intervalMs: 60_000,
    sink: (name, values) => sent.push({ name, values, at: Date.now() }),
    log: (level, message) => logs.push(`${level}: ${message}`),
    ...options,
  });
  schedulers.push(scheduler);
  return { scheduler, sent, logs };
}

describe('custom telemetry', () => {
  it('wraps the command like the original: /bin/sh -c \'<cmd> "${@}"\' -- args…', () => {
    expect(shellInvocation({ command: 'echo', args: ['a b', 'c'] }, 'linux')).toEqual([
      '/bin/sh',
      ['-c', 'echo "${@}"', '--', 'a b', 'c'],
    ]);
  });

  it('a shell pipeline works (broken in the original) and matches V12', async () => {
    const { scheduler, sent } = collecting({
      custom: [
        {
          name: 'memtotal_kb',
          command: "printf 'MemTotal: 16314304 kB\\nMemFree: 1 kB\\n' | grep MemTotal | awk '{print $2}'",
          args: [],
          interval: 60,
        },
      ],
    });
    await scheduler.runOnce();
    expect(sent.map(({ name, values }) => [name, values])).toEqual([['memtotal_kb', ['16314304']]]);
    const frame = telemetryFrame(
      'test-group-2',
      '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11',
      'memtotal_kb',
      sent[0]!.values,
    );
    expect(frame[2]).toEqual(vectors.find((v) => v.id === 'V12')!.frame[2]);
  });

  it('passes args through "${@}" without re-splitting', async () => {
    const result = await runCustomCommand(
      { command: 'printf "%s|"', args: ['a b', '$HOME', '*'] },
      { timeoutMs: 5000, maxOutputBytes: 1000 },
    );
    expect(result).toEqual({ ok: true, value: 'a b|$HOME|*|' });
  });

  it('empty output, a failing command, a timeout and oversize output send nothing and are logged', async () => {
    const { scheduler, sent, logs } = collecting({
      custom: [
        { name: 'empty', command: 'true', args: [], interval: 60 },
        { name: 'blank', command: 'echo', args: [''], interval: 60 },
        { name: 'failing', command: 'echo partial; echo oops >&2; exit 3', args: [], interval: 60 },
        { name: 'missing', command: 'definitely-not-a-command-xyz', args: [], interval: 60 },
        { name: 'slow', command: 'sleep 5; echo late', args: [], interval: 60 },
        { name: 'huge', command: 'yes | head -c 100000', args: [], interval: 60 },
      ],
      customTimeoutMs: 300,
      customMaxOutputBytes: 1000,
    });
    const started = Date.now();
    await scheduler.runOnce();
    expect(Date.now() - started).toBeLessThan(4000);
    expect(sent).toEqual([]);
    expect(logs.join('\n')).toMatch(/empty: nothing sent \(empty output\)/);
    expect(logs.join('\n')).toMatch(/blank: nothing sent \(empty output\)/);
    expect(logs.join('\n')).toMatch(/failing: nothing sent \(exit status 3: oops\)/);
    expect(logs.join('\n')).toMatch(/missing: nothing sent \(exit status 127/);
    expect(logs.join('\n')).toMatch(/slow: nothing sent \(timed out after 300 ms\)/);
    expect(logs.join('\n')).toMatch(/huge: nothing sent \(output larger than 1000 bytes\)/);
  });

  it('stop() kills a running custom command and nothing is sent afterwards', async () => {
    const { scheduler, sent } = collecting({
      custom: [{ name: 'slow', command: 'sleep 10; echo late', args: [], interval: 60 }],
      customTimeoutMs: 20_000,
    });
    scheduler.start();
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 100));
    await scheduler.stop();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(sent).toEqual([]);
  });
});

describe('TelemetryScheduler', () => {
  it('runs the built-ins at start and then on a fixed grid that does not drift', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const start = Date.now();
    const { scheduler, sent } = collecting({
      builtins: [{ label: 'slow', arguments: {} }],
      intervalMs: 1000,
      collectors: {
        // Each collection takes 300 ms: a sleep-after-run loop would fire at 0, 1300, 2600…
        slow: async () => {
          await new Promise((r) => setTimeout(r, 300));
          return [{ name: 'tick', values: ['1'] }];
        },
      },
    });
    scheduler.start();
    // Up to just after the tenth run finished (runs in progress would keep stop() waiting on fake time).
    await vi.advanceTimersByTimeAsync(9_400);
    await scheduler.stop();
    const firedAt = sent.map((s) => s.at - start - 300);
    expect(firedAt).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
  });

  it('skips a slot while the previous run is still busy instead of piling up', async () => {
    vi.useFakeTimers({ now: 0 });
    let runs = 0;
    const { scheduler, logs } = collecting({
      builtins: [{ label: 'stuck', arguments: {} }],
      intervalMs: 1000,
      collectors: {
        stuck: async () => {
          runs++;
          await new Promise((r) => setTimeout(r, 2500));
          return [];
        },
      },
    });
    scheduler.start();
    await vi.advanceTimersByTimeAsync(5600);
    await scheduler.stop();
    // runs at 0 (busy until 2500: slots 1000, 2000 skipped), 3000 (busy until 5500: 4000, 5000 skipped)
    expect(runs).toBe(2);
    expect(logs.filter((l) => l.includes('slot skipped'))).toHaveLength(4);
  });

  it('warns about unknown labels and sends the known ones', async () => {
    const { scheduler, sent, logs } = collecting({
      builtins: [
        { label: 'nonsense', arguments: {} },
        { label: 'uptime', arguments: {} },
      ],
    });
    scheduler.start();
    await vi.waitFor(() => expect(sent.length).toBe(1));
    expect(sent[0]?.name).toBe('uptime_seconds');
    expect(logs).toContain("warn: unknown built-in telemetry 'nonsense' skipped");
  });

  it('never hands an empty value or an oversized sample to the sink', async () => {
    const { scheduler, sent, logs } = collecting({
      builtins: [{ label: 'odd', arguments: {} }],
      maxSampleBytes: 100,
      collectors: {
        odd: () =>
          Promise.resolve([
            { name: 'x', values: [''] },
            { name: 'big', values: ['y'.repeat(200)] },
            { name: 'ok', values: ['1'] },
          ]),
      },
    });
    await scheduler.runOnce();
    expect(sent.map((s) => s.name)).toEqual(['ok']);
    expect(logs.some((l) => l.includes('over the 100-byte limit'))).toBe(true);
  });
});
