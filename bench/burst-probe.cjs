// Preloaded (`node -r bench/burst-probe.cjs …`) into the process a bench measures, over an IPC channel (spawn
// stdio 'ipc'): "mark" starts a measurement window, "report" answers with the window's CPU time, event-loop delay
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution) and the process's peak RSS. "mark-quiet" starts a window
// without the delay monitor: its 1 ms timer would itself cost an idle process more CPU than it spends. Plain CommonJS so it runs before
// (and unchanged under) the bundled CLI and the raw reference child.
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a preload script must be CommonJS
const { monitorEventLoopDelay } = require('node:perf_hooks');

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
      });
    }
  });
}
