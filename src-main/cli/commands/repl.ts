/**
 * `minion-agent repl`: the original IAR (protocol.md §10). Each input line in the `VERB::DATA1::DATA2…` syntax
 * becomes a frame (data prefixed with group and server id); `N times {…}`, `tail::SERVICE::PATH`, `help`, `exit`.
 * Prints every frame the server sends; `--debug` prints the whole wire trace (both directions, with hex, the group
 * key redacted) instead.
 */
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type WireFrame, type WireTraceEntry } from '../../../src-shared/view-models';
import { type ConnectionOptions, ConnectionManager } from '../../agent/connection/connection';
import { logFrame } from '../../agent/protocol/frames';
import { parseReplLine, REPL_HELP } from '../../agent/protocol/repl-syntax';

export interface RunReplOptions {
  connection: ConnectionOptions;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  debug: boolean;
  /** How long a line waits for the connection before it is reported as not sent. Default 10 s. */
  readyTimeoutMs?: number;
  /** Poll interval of `tail::`. Default 250 ms. */
  tailPollMs?: number;
}

export async function runRepl(options: RunReplOptions): Promise<number> {
  const { output, debug } = options;
  const print = (line: string): void => void output.write(`${line}\n`);
  const ctx = {
    groupId: options.connection.groupId,
    serverId: options.connection.serverId,
    maxFrameBytes: options.connection.maxFrameBytes,
  };
  const manager = new ConnectionManager({ ...options.connection, traceCapacity: 0 });
  const tails: FileTail[] = [];

  manager.on('state', (view) => {
    const retry = view.nextRetryAt ? ` (retry in ${Math.max(0, view.nextRetryAt - Date.now())} ms)` : '';
    print(`# ${view.state}: ${view.explanation}${view.fixHint ? ` ${view.fixHint}` : ''}${retry}`);
  });
  manager.on('wire', (entry: WireTraceEntry) => {
    if (debug) print(formatTrace(entry));
    else if (entry.direction === 'in' && entry.frame) print(`< ${formatFrame(entry.frame)}`);
  });
  manager.start();

  const send = async (frames: WireFrame[], timed: boolean): Promise<void> => {
    if (!(await waitReady(manager, options.readyTimeoutMs ?? 10_000))) {
      print(`! not connected (${manager.state}): ${frames.length} frame(s) not sent`);
      return;
    }
    const startedAt = process.hrtime.bigint();
    let sent = 0;
    for (const frame of frames) {
      if (manager.writableNeedsDrain) await new Promise<void>((resolve) => manager.once('drain', resolve));
      if (!manager.send(frame)) break;
      sent += 1;
    }
    if (sent < frames.length)
      print(`! connection lost: ${frames.length - sent} of ${frames.length} frame(s) not sent`);
    if (!timed) return;
    // The original benchmarked `N times {…}`; a barrier makes the time include the server receiving them.
    try {
      await manager.barrier();
      const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
      print(
        `# ${sent} frame(s) sent and received by the server in ${ms.toFixed(1)} ms (${Math.round((sent / ms) * 1000)}/s)`,
      );
    } catch (e) {
      print(`! could not confirm delivery: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const lines = createInterface({ input: options.input, terminal: false, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const action = parseReplLine(line, ctx);
      if (action.kind === 'exit') break;
      if (action.kind === 'help') print(REPL_HELP);
      else if (action.kind === 'error') print(`! ${action.message}`);
      else if (action.kind === 'tail') {
        tails.push(
          new FileTail(
            action.path,
            options.tailPollMs ?? 250,
            (text) => {
              const frame = logFrame(ctx.groupId, ctx.serverId, action.service, text);
              if (!manager.send(frame)) print(`! not connected: line of ${action.path} not sent`);
            },
            print,
          ),
        );
        print(`# following ${action.path} as service ${action.service} (from its end)`);
      } else if (action.frames.length > 0) {
        try {
          await send(action.frames, action.timed === true);
        } catch (e) {
          print(`! ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  } finally {
    lines.close();
    await Promise.all(tails.map((t) => t.stop()));
    await manager.stop();
  }
  return 0;
}

async function waitReady(manager: ConnectionManager, timeoutMs: number): Promise<boolean> {
  if (manager.isReady()) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      manager.off('ready', onReady);
      resolve(manager.isReady());
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    manager.once('ready', onReady);
  });
}

function formatFrame(frame: WireFrame): string {
  return `${frame[0]} ${frame[1]} ${JSON.stringify(frame[2])}`;
}

function formatTrace(entry: WireTraceEntry): string {
  const time = new Date(entry.at).toISOString().slice(11, 23);
  const arrow = entry.direction === 'in' ? '<' : '>';
  const what = entry.frame ? formatFrame(entry.frame) : `undecodable: ${entry.error ?? ''}`;
  return `${time} ${arrow} ${what}\n             ${entry.bytes} bytes ${entry.hex}`;
}

/**
 * Follows a file from its end (or from its start if it appears later) and hands over complete lines without their
 * terminator. A shrinking file is read again from the start (truncation).
 */
class FileTail {
  private position: number | null = null;
  private partial = '';
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly pollMs: number,
    private readonly onLine: (line: string) => void,
    private readonly print: (line: string) => void,
  ) {
    this.polling = this.init().then(() => this.schedule());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  private async init(): Promise<void> {
    try {
      this.position = (await stat(this.path)).size;
    } catch {
      this.print(`# ${this.path} does not exist yet; it will be read from its start when it appears`);
      this.position = 0;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().then(() => this.schedule());
    }, this.pollMs);
  }

  private async poll(): Promise<void> {
    let size: number;
    try {
      size = (await stat(this.path)).size;
    } catch {
      return;
    }
    let position = this.position ?? 0;
    if (size < position) {
      position = 0;
      this.partial = '';
    }
    if (size === position) return;
    const handle = await open(this.path, 'r');
    try {
      // Bounded reads: a burst of gigabytes is shipped over several polls instead of one huge buffer.
      const buffer = Buffer.alloc(Math.min(size - position, 1 << 20));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      this.position = position + bytesRead;
      const text = this.partial + buffer.subarray(0, bytesRead).toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const part of parts) {
        const line = part.endsWith('\r') ? part.slice(0, -1) : part;
        // An empty message would poison the real server (§14): blank lines are skipped.
        if (line !== '') this.onLine(line);
      }
    } finally {
      await handle.close();
    }
  }
}
