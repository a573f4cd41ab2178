/**
 * Renderer under log load: 1,000 log lines/s for 10 s flow from a core through the REAL event batcher and preload
 * into the dashboard's Logs view (autoscroll on) in headless Chromium. Measured with the Chromium performance API
 * (rAF frame times and PerformanceObserver long tasks), side by side with the same page idle, plus the IPC event
 * rate the page receives (the batcher must keep it bounded, ≤ ~10 batches a second per channel).
 */
import type { BenchResult } from './types';
import { FakeAgentCore, FakeUpdates } from '../test/e2e/support/fake-core';
import { startE2E } from '../test/e2e/support/harness';
import { EventChannel } from '../src-shared/ipc';

const LINES_PER_SECOND = 1000;
const LOAD_SECONDS = 10;
const IDLE_SECONDS = 4;
/** Lines already in the view when the flood starts: the ring (100,000) fills up and starts overwriting mid-run. */
const PRELOADED_LINES = 95_000;

const PERF_PROBE = `
  (() => {
    const perf = { longTasks: [], frames: [] };
    globalThis.__perf = perf;
    try {
      new PerformanceObserver((list) => { for (const e of list.getEntries()) perf.longTasks.push(e.duration); })
        .observe({ type: 'longtask', buffered: true });
    } catch {}
    let last = 0;
    const tick = (t) => { if (last) perf.frames.push(t - last); last = t; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  })();
`;

interface Window {
  frames: number[];
  longTasks: number[];
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(): Promise<BenchResult[]> {
  const e2e = await startE2E();
  const core = new FakeAgentCore({ logLines: 0 });
  const d = await e2e.open({ core, updates: new FakeUpdates(), view: 'logs', initScript: PERF_PROBE });
  const take = async (): Promise<Window> =>
    d.page.evaluate(() => {
      const perf = (globalThis as unknown as { __perf: Window }).__perf;
      const out = { frames: perf.frames.splice(0), longTasks: perf.longTasks.splice(0) };
      return out;
    });
  try {
    await d.page.getByTestId('log-count').waitFor();
    // Preload straight into the page in large batches (the batcher would pace 95k lines over ~10 s).
    const CHUNK = 9_500;
    for (let i = 0; i < PRELOADED_LINES; i += CHUNK) {
      const chunk = Array.from({ length: CHUNK }, (_, j) => ({
        id: 1_000_000 + i + j,
        at: Date.now(),
        source: 'shipped' as const,
        service: `svc${j % 7}`,
        level: 'info' as const,
        message: `preloaded line ${i + j} GET /api/items 200`,
      }));
      await d.emit(EventChannel.Logs, chunk);
    }
    await d.page.getByText(`${PRELOADED_LINES.toLocaleString('en-US')} of`).waitFor({ timeout: 30_000 });
    await sleep(1000);
    await take();

    // Idle baseline, same page, same process.
    await sleep(IDLE_SECONDS * 1000);
    const idle = await take();

    // Load: lines are produced on a drift-corrected schedule, 1,000 per second.
    const deliveredBefore = new Map(d.delivered);
    const start = Date.now();
    let produced = 0;
    while (Date.now() - start < LOAD_SECONDS * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * LINES_PER_SECOND);
      for (; produced < due; produced += 1) {
        core.addLog({
          at: Date.now(),
          source: 'shipped',
          service: `svc${produced % 7}`,
          level: produced % 50 ? 'info' : 'warn',
          message: `GET /api/items/${produced} 200 ${produced % 97} ms user-agent=bench`,
        });
      }
      await sleep(5);
    }
    const loadMs = Date.now() - start;
    await sleep(500); // let the last batch land
    const countedMs = Date.now() - start; // events are counted until now, so rates use this window
    const loaded = await take();
    // "N of M lines (oldest K dropped from view)": the page received M + K lines in all.
    const countText = (await d.page.getByTestId('log-count').textContent()) ?? '';
    const match = /of ([\d,]+) lines(?: \(oldest ([\d,]+) dropped)?/.exec(countText);
    const toNumber = (text: string | undefined): number => Number((text ?? '0').replace(/,/g, ''));
    const shown = toNumber(match?.[1]) + toNumber(match?.[2]) - PRELOADED_LINES;

    const events = new Map<string, number>();
    for (const [channel, n] of d.delivered) events.set(channel, n - (deliveredBefore.get(channel) ?? 0));
    const logBatchesPerSec = (events.get('event:logs') ?? 0) / (countedMs / 1000);
    const totalEventsPerSec = [...events.values()].reduce((a, b) => a + b, 0) / (countedMs / 1000);

    const idleP95 = percentile(idle.frames, 95);
    const loadP95 = percentile(loaded.frames, 95);
    const longTaskMs = loaded.longTasks.reduce((a, b) => a + b, 0);
    const idleLongTaskMs = idle.longTasks.reduce((a, b) => a + b, 0);
    return [
      {
        name: 'renderer: p95 frame time at 1,000 log lines/s vs idle',
        ratio: loadP95 / Math.max(idleP95, 1),
        target: 2,
        lowerIsBetter: true,
        details: `p95 ${loadP95.toFixed(1)} ms loaded vs ${idleP95.toFixed(1)} ms idle; max ${Math.max(0, ...loaded.frames).toFixed(0)} ms; ${loaded.frames.length} frames in ${(loadMs / 1000).toFixed(1)} s`,
      },
      {
        name: 'renderer: share of time in long tasks at 1,000 lines/s',
        ratio: longTaskMs / loadMs,
        target: 0.1,
        lowerIsBetter: true,
        details: `${loaded.longTasks.length} long tasks, ${longTaskMs.toFixed(0)} ms in ${(loadMs / 1000).toFixed(1)} s (idle: ${idle.longTasks.length} tasks, ${idleLongTaskMs.toFixed(0)} ms)`,
      },
      {
        name: 'renderer: log event batches per second ÷ 10/s budget',
        ratio: logBatchesPerSec / 10,
        target: 1,
        lowerIsBetter: true,
        details: `${logBatchesPerSec.toFixed(1)} log batches/s, ${totalEventsPerSec.toFixed(1)} events/s over all channels, carrying ${produced} lines`,
      },
      {
        name: 'renderer: lines shown ÷ lines produced',
        ratio: shown / Math.max(produced, 1),
        target: 0.99,
        details: `${shown} of ${produced} lines reached the Logs view (on top of ${PRELOADED_LINES.toLocaleString('en-US')} preloaded; ring of 100,000); batcher drops: ${d.batcher.stats().dropped['event:logs']}`,
      },
    ];
  } finally {
    await d.close();
    await e2e.close();
  }
}
