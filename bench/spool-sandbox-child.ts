// Sandbox StreamServer in its own process for bench/spool.bench.ts: the agent side's memory and CPU are then
// measured without the server's. Prints "PORT <n>" when listening, "READ <tag>" when it has read a log line
// `END <tag>` (a sender's last frame: throughput is measured up to the moment the server read it, whatever proof the
// sender waits for); exits when stdin closes.
import { startSandboxServer } from '../src-main/sandbox/sandbox-server';

async function main(): Promise<void> {
  const [group, key] = process.argv.slice(2);
  if (!group || !key) throw new Error('usage: spool-sandbox-child <group> <key>');
  const server = await startSandboxServer({ port: 0, groups: [{ id: group, key }], maxStored: 1000 });
  server.on('log', (log) => {
    if (log.message.startsWith('END ')) process.stdout.write(`READ ${log.message.slice(4)}\n`);
  });
  process.stdout.write(`PORT ${server.address.port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void server.close().then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`sandbox child failed: ${String(e)}\n`);
  process.exit(1);
});
