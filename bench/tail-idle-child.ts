// Child process of tail.bench.ts: follows N idle files (argv: dir, N) and prints its own CPU and RSS over a window.
// A separate plain-node process keeps the bench runner's own housekeeping out of the numbers.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogTailer } from '../src-main/agent/logs/tailer';

const [dir = '.', countText = '10', windowText = '4000'] = process.argv.slice(2);
const count = Number(countText);
const windowMs = Number(windowText);
const entries = Array.from({ length: count }, (_, i) => {
  const file = join(dir, `idle-${i}.log`);
  writeFileSync(file, 'some history\n'.repeat(1000));
  return { service: `idle${i}`, file };
});
const tailer =
  count > 0
    ? new LogTailer({
        entries,
        checkpointPath: join(dir, 'idle-checkpoint.json'),
        maxMessageBytes: 8000,
        sink: () => undefined,
      })
    : null;
tailer?.start();
setTimeout(() => {
  const cpuBefore = process.cpuUsage();
  setTimeout(() => {
    const cpu = process.cpuUsage(cpuBefore);
    void (async () => {
      await tailer?.stopAndCheckpoint();
      process.stdout.write(
        JSON.stringify({
          cpuMsPerS: (cpu.user + cpu.system) / 1000 / (windowMs / 1000),
          rssBytes: process.memoryUsage().rss,
        }),
      );
    })();
  }, windowMs);
}, 1000);
