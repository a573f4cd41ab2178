// The raw reference pipeline of bench/e2e.bench.ts, in its own process (bundled with esbuild so no TypeScript
// loader sits in its memory): read the file in 64 KiB chunks, split lines, encode each as an `L` frame with the
// agent's own encoder, write them down one socket with backpressure. No spool, no tailer bookkeeping, no
// confirmation: the least work any agent must do for these lines. Driven over IPC ("go <file>" → "sent").
//   node -r bench/burst-probe.cjs <bundle> <port> <group> <serverId>
import { createReadStream } from 'node:fs';
import net from 'node:net';
import { encodeFrame } from '../src-main/agent/protocol/codec';
import { logFrame } from '../src-main/agent/protocol/frames';

const [portArg, group, serverId] = process.argv.slice(2);
if (!portArg || !group || !serverId) throw new Error('usage: burst-raw-child <port> <group> <serverId>');

const socket = net.connect(Number(portArg), '127.0.0.1');
socket.setNoDelay(true);
socket.once('connect', () => process.send?.({ raw: 'connected' }));

async function pump(file: string): Promise<void> {
  let carry: Buffer | null = null;
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    const buffer: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    const frames: Buffer[] = [];
    let start = 0;
    for (let nl = buffer.indexOf(0x0a); nl >= 0; nl = buffer.indexOf(0x0a, start)) {
      if (nl > start)
        frames.push(
          encodeFrame(
            logFrame(group as string, serverId as string, 'bench', buffer.toString('utf8', start, nl)),
          ),
        );
      start = nl + 1;
    }
    carry = start < buffer.length ? Buffer.from(buffer.subarray(start)) : null;
    if (!socket.write(Buffer.concat(frames))) await new Promise((resolve) => socket.once('drain', resolve));
  }
}

process.on('message', (message: unknown) => {
  if (typeof message !== 'string' || !message.startsWith('go ')) return;
  pump(message.slice(3)).then(
    () => process.send?.({ raw: 'sent' }),
    (error: unknown) => {
      process.stderr.write(`raw child failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
});
process.on('disconnect', () => {
  socket.resetAndDestroy();
  process.exit(0);
});
