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

// BENCH_PROBE_MEMORY=1: sample the memory every 5 ms inside a window (process.memoryUsage, the V8 heap spaces and
// /proc/self/status' anonymous vs file-backed resident pages) and report the sample taken at the highest RSS, plus
// each component's own maximum: what the peak consists of. Off for the figures (the samples cost a little CPU).
let memoryPeak = null;
let memoryMax = null;
let memoryAtMark = null;
let memoryTimer = null;
let smapsAtPeak = null;
function sampleMemory() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const v8 = require('node:v8');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const { readFileSync } = require('node:fs');
  const usage = process.memoryUsage();
  const sample = {
    rss: usage.rss,
    heapTotal: usage.heapTotal,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
  };
  for (const space of v8.getHeapSpaceStatistics()) {
    sample[`space.${space.space_name}`] = space.space_size;
  }
  try {
    const status = readFileSync('/proc/self/status', 'latin1');
    for (const key of ['RssAnon', 'RssFile', 'RssShmem']) {
      const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(status);
      if (m) sample[key] = Number(m[1]) * 1024;
    }
  } catch {
    // not Linux: the process figures are enough
  }
  if (!memoryPeak || sample.rss > memoryPeak.rss) {
    // BENCH_PROBE_SMAPS=dir (with BENCH_PROBE_MEMORY=1): keep /proc/self/smaps as it was at the highest RSS, to
    // attribute the anonymous memory to mappings (V8 pages, malloc arenas of threads, the main heap).
    if (process.env.BENCH_PROBE_SMAPS && (!memoryPeak || sample.rss > memoryPeak.rss + 262_144)) {
      try {
        smapsAtPeak = readFileSync('/proc/self/smaps', 'latin1');
      } catch {
        // not Linux
      }
    }
    memoryPeak = sample;
  }
  memoryMax ??= {};
  for (const [key, value] of Object.entries(sample)) memoryMax[key] = Math.max(memoryMax[key] ?? 0, value);
}
function writeSmaps(label, text) {
  if (!process.env.BENCH_PROBE_SMAPS) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const { readFileSync, writeFileSync } = require('node:fs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const { join } = require('node:path');
  try {
    const content = text ?? readFileSync('/proc/self/smaps', 'latin1');
    writeFileSync(join(process.env.BENCH_PROBE_SMAPS, `smaps-${process.pid}-${label}.txt`), content);
  } catch {
    // not Linux
  }
}
function startMemorySampling() {
  memoryPeak = null;
  memoryMax = null;
  if (memoryTimer) clearInterval(memoryTimer);
  if (process.env.BENCH_PROBE_MEMORY !== '1') return;
  smapsAtPeak = null;
  sampleMemory();
  memoryAtMark = memoryPeak;
  writeSmaps('mark');
  memoryTimer = setInterval(sampleMemory, 5);
  memoryTimer.unref();
}

// BENCH_PROBE_ALLOCATIONS=dir: a sampling heap profile of everything allocated inside a window, garbage included
// (the inspector's HeapProfiler with the objects later collected by minor and major GCs kept), written to dir as
// a .heapprofile: where the allocation rate that sizes the young generation comes from. `--heap-prof` keeps only
// what is still alive at exit.
let allocationSession = null;
function startAllocationSampling() {
  if (!process.env.BENCH_PROBE_ALLOCATIONS) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const inspector = require('node:inspector');
  allocationSession = new inspector.Session();
  allocationSession.connect();
  allocationSession.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}
function stopAllocationSampling() {
  const session = allocationSession;
  if (!session) return;
  allocationSession = null;
  session.post('HeapProfiler.stopSampling', (error, result) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const { writeFileSync } = require('node:fs');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const { join } = require('node:path');
    if (!error) {
      const file = join(
        process.env.BENCH_PROBE_ALLOCATIONS,
        `alloc-${process.pid}-${Date.now()}.heapprofile`,
      );
      writeFileSync(file, JSON.stringify(result.profile));
    }
    session.disconnect();
  });
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
      if (monitoring) startMemorySampling();
      if (monitoring) startAllocationSampling();
      process.send({ probe: 'marked' });
    } else if (message === 'report') {
      const cpu = process.cpuUsage(cpuAtMark);
      histogram.disable();
      stopAllocationSampling();
      if (memoryTimer) {
        clearInterval(memoryTimer);
        memoryTimer = null;
        sampleMemory();
        writeSmaps('peak', smapsAtPeak);
      }
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
        memoryAtMark,
        memoryAtPeak: memoryPeak,
        memoryMax,
      });
    }
  });
}
