// Preloaded (`node -r bench/burst-probe.cjs …`) into the process a bench measures, over an IPC channel (spawn
// stdio 'ipc'): "mark" starts a measurement window, "report" answers with the window's CPU time, event-loop delay
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution) and the process's peak RSS. Plain CommonJS so it runs before
// (and unchanged under) the bundled CLI and the raw reference child.
'use strict';
const { monitorEventLoopDelay } = require('node:perf_hooks');

if (typeof process.send === 'function') {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let cpuAtMark = process.cpuUsage();
  let markedAt = process.hrtime.bigint();
  // The IPC channel must not keep a finished process alive.
  process.channel?.unref();
  process.on('message', (message) => {
    if (message === 'mark') {
      histogram.disable();
      histogram.reset();
      histogram.enable();
      cpuAtMark = process.cpuUsage();
      markedAt = process.hrtime.bigint();
      process.send({ probe: 'marked' });
    } else if (message === 'report') {
      const cpu = process.cpuUsage(cpuAtMark);
      process.send({
        probe: 'report',
        cpuMicros: cpu.user + cpu.system,
        wallMs: Number(process.hrtime.bigint() - markedAt) / 1e6,
        eventLoopDelayP99Ms: histogram.percentile(99) / 1e6,
        eventLoopDelayMaxMs: histogram.max / 1e6,
        // ru_maxrss: the process's peak resident set, in KiB.
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        rssBytes: process.memoryUsage.rss(),
      });
    }
  });
}
