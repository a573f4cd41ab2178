/**
 * The main process's own log file (`main.log` in the app's logs directory, rotated at `maxBytes` keeping `keep`
 * older files), so a packaged app that fails — an update that does not install, a shell that cannot start — can be
 * diagnosed. Also electron-updater's logger. Writes go through a stream and rotation through fs.promises: nothing
 * blocks the event loop.
 */
import { createWriteStream, mkdirSync, statSync, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface MainLog {
  readonly path: string;
  info(message?: unknown, ...rest: unknown[]): void;
  warn(message?: unknown, ...rest: unknown[]): void;
  error(message?: unknown, ...rest: unknown[]): void;
  debug(message: string): void;
  /** Resolves when everything written so far is on disk. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface MainLogOptions {
  dir: string;
  fileName?: string;
  /** Rotate once the file reaches this size. Default 1 MiB. */
  maxBytes?: number;
  /** Rotated files kept (main.log.1 … main.log.N). Default 3. */
  keep?: number;
  /** Also print (development). */
  echo?: (line: string) => void;
  now?: () => Date;
}

function text(value: unknown): string {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export function createMainLog(options: MainLogOptions): MainLog {
  const path = join(options.dir, options.fileName ?? 'main.log');
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const keep = options.keep ?? 3;
  const now = options.now ?? (() => new Date());
  // Once, at startup: the directory and the current size.
  mkdirSync(options.dir, { recursive: true });
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    size = 0;
  }
  let stream: WriteStream = createWriteStream(path, { flags: 'a' });
  let rotating: Promise<void> | null = null;
  let pending: string[] = [];
  let closed = false;

  const rotate = async (): Promise<void> => {
    const old = stream;
    await new Promise<void>((resolve) => old.end(resolve));
    await rm(`${path}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => undefined);
    }
    await rename(path, `${path}.1`).catch(() => undefined);
    stream = createWriteStream(path, { flags: 'a' });
    size = 0;
    const lines = pending;
    pending = [];
    rotating = null;
    for (const line of lines) write(line);
  };

  const write = (line: string): void => {
    if (closed) return;
    if (rotating) {
      pending.push(line);
      return;
    }
    stream.write(line);
    size += Buffer.byteLength(line);
    if (size >= maxBytes) rotating = rotate();
  };

  const log =
    (level: string) =>
    (message?: unknown, ...rest: unknown[]): void => {
      const line = `${now().toISOString()} ${level} ${[message, ...rest].map(text).join(' ')}\n`;
      options.echo?.(line.trimEnd());
      write(line);
    };

  return {
    path,
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    debug: log('debug'),
    async flush() {
      while (rotating) await rotating;
      await new Promise<void>((resolve) => stream.write('', () => resolve()));
    },
    async close() {
      while (rotating) await rotating;
      closed = true;
      await new Promise<void>((resolve) => stream.end(resolve));
    },
  };
}
