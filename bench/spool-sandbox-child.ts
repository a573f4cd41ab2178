// Sandbox StreamServer in its own process for bench/spool.bench.ts: the agent side's memory and CPU are then
// measured without the server's. Prints "PORT <n>" when listening; exits when stdin closes.
import { startSandboxServer } from '../src-main/sandbox/sandbox-server';

async function main(): Promise<void> {
  const [group, key] = process.argv.slice(2);
  if (!group || !key) throw new Error('usage: spool-sandbox-child <group> <key>');
  const server = await startSandboxServer({ port: 0, groups: [{ id: group, key }], maxStored: 1000 });
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
