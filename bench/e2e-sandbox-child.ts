// Sandbox StreamServer in its own process for bench/e2e.bench.ts, so the agent and the server do not share one
// event loop. Prints "PORT <n>" when listening. Each stdin line "expect <n>" answers "DONE" once n log frames in
// total arrived (absolute, so it cannot miss frames that come before the line). Exits when stdin closes.
import { createInterface } from 'node:readline';
import { startSandboxServer } from '../src-main/sandbox/sandbox-server';

async function main(): Promise<void> {
  const [group, key] = process.argv.slice(2);
  if (!group || !key) throw new Error('usage: e2e-sandbox-child <group> <key>');
  const server = await startSandboxServer({ port: 0, groups: [{ id: group, key }], maxStored: 1000 });
  let seen = 0;
  let target: number | null = null;
  server.on('log', () => {
    seen++;
    if (target !== null && seen >= target) {
      target = null;
      process.stdout.write('DONE\n');
    }
  });
  process.stdout.write(`PORT ${server.address.port}\n`);
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    const match = /^expect (\d+)$/.exec(line.trim());
    if (match) {
      target = Number(match[1]);
      if (seen >= target) {
        target = null;
        process.stdout.write('DONE\n');
      }
    } else if (line.trim() === 'connected?')
      process.stdout.write(`CONNECTED ${server.connectedServerIds().join(',')}\n`);
  });
  input.on('close', () => {
    void server.close().then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`sandbox child failed: ${String(e)}\n`);
  process.exit(1);
});
