// Preloaded (`node -r bench/burst-probe.cjs …`) into the process a bench measures, over an IPC channel (spawn
// stdio 'ipc'): "mark" starts a measurement window, "report" answers with the window's CPU time, event-loop delay
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution) and the process's peak RSS. "mark-quiet" starts a window
// without the delay monitor: its 1 ms timer would itself cost an idle process more CPU than it spends. Plain CommonJS so it runs before
// (and unchanged under) the bundled CLI and the raw reference child.
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a preload script must be CommonJS
const { monitorEventLoopDelay, PerformanceObserver, constants } = require('node:perf_hooks');

// GC pauses inside the window, by kind: a pause is a stall of the event loop like any long callback.
const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
const gcPauses = new Map();
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = GC_KINDS[entry.detail?.kind] ?? 'other';
    const slot = gcPauses.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 };
    slot.count++;
    slot.totalMs += entry.duration;
    if (entry.duration > slot.maxMs) slot.maxMs = entry.duration;
    gcPauses.set(kind, slot);
  }
});

// BENCH_PROBE_CALLBACKS=1: time every callback the event loop runs (async_hooks before/after, by resource type:
// Immediate, Timeout, TCPWRAP, FSREQCALLBACK, PROMISE …) and report the longest of each type. It costs a few µs per
// callback, so it is off for the figures and on only to find out what makes a long tick.
const callbackTimes = new Map();
if (process.env.BENCH_PROBE_CALLBACKS === '1') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const asyncHooks = require('node:async_hooks');
  const types = new Map();
  const started = [];
  asyncHooks
    .createHook({
      init(id, type) {
        types.set(id, type);
      },
      before() {
        started.push(performance.now());
      },
      after(id) {
        const ms = performance.now() - (started.pop() ?? performance.now());
        const type = types.get(id) ?? 'unknown';
        const slot = callbackTimes.get(type) ?? { count: 0, over10: 0, maxMs: 0 };
        slot.count++;
        if (ms > 10) slot.over10++;
        if (ms > slot.maxMs) slot.maxMs = ms;
        callbackTimes.set(type, slot);
      },
      destroy(id) {
        types.delete(id);
      },
    })
    .enable();
}

if (typeof process.send === 'function') {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let monitoring = false;
  let cpuAtMark = process.cpuUsage();
  let markedAt = process.hrtime.bigint();
  // The IPC channel must not keep a finished process alive.
  process.channel?.unref();
  process.on('message', (message) => {
    if (message === 'mark' || message === 'mark-quiet') {
      histogram.disable();
      histogram.reset();
      monitoring = message === 'mark';
      if (monitoring) histogram.enable();
      cpuAtMark = process.cpuUsage();
      markedAt = process.hrtime.bigint();
      callbackTimes.clear();
      gcPauses.clear();
      gcObserver.disconnect();
      if (monitoring) gcObserver.observe({ entryTypes: ['gc'] });
      process.send({ probe: 'marked' });
    } else if (message === 'report') {
      const cpu = process.cpuUsage(cpuAtMark);
      histogram.disable();
      process.send({
        probe: 'report',
        cpuMicros: cpu.user + cpu.system,
        wallMs: Number(process.hrtime.bigint() - markedAt) / 1e6,
        eventLoopDelayP99Ms: monitoring ? histogram.percentile(99) / 1e6 : null,
        eventLoopDelayMaxMs: monitoring ? histogram.max / 1e6 : null,
        // ru_maxrss: the process's peak resident set, in KiB.
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        rssBytes: process.memoryUsage.rss(),
        callbacks: Object.fromEntries(callbackTimes),
        gc: Object.fromEntries(gcPauses),
      });
    }
  });
}
