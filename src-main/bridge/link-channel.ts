/**
 * The local channel through which `minion-agent ui` asks the RUNNING agent for a fresh dashboard link, so closing
 * the tab (or losing the one-time link) does not mean restarting the agent.
 *
 * Why a socket and not just a file holding a link: a file would be a standing credential at rest (it outlives a
 * crash, lands in backups, and stays valid until someone notices), whereas the socket mints a link only when asked,
 * only while the agent runs, and the agent revokes the previous unused link as it does. A dead agent is a clear
 * "not running" instead of a stale link that fails in the browser.
 *
 * Who may ask, enforced twice:
 * - the socket lives in `<data dir>/dashboard/` (mode 0700, owned by the agent's user; checked, not assumed), the
 *   socket itself 0600, so other local users cannot even connect (Linux and macOS honour the directory mode);
 * - the request must carry the run's secret from `link.secret` (0600, same directory, new every run). On Windows,
 *   where the named pipe's default ACL lets other users open it for reading, this secret (in the user-only
 *   %LOCALAPPDATA%) is what keeps them out.
 *
 * Protocol: one JSON line each way, `{"v":1,"secret":…,"endSessions":bool}` → `{"ok":true,"url":…}` or
 * `{"ok":false,"error":…}`, then the agent closes the connection. Bounded in size and time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LINK_CHANNEL_DIR = 'dashboard';
const SOCKET_FILE = 'link.sock';
const SECRET_FILE = 'link.secret';
/** sun_path is 104 bytes on macOS, 108 on Linux (with the terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 100;
const MAX_REQUEST_BYTES = 4096;
const REQUEST_TIMEOUT_MS = 5000;

export interface LinkRequest {
  /** Also end every open dashboard session (a leaked session cookie stops working). */
  endSessions: boolean;
}

export interface LinkChannelPaths {
  /** Owner-only directory holding the secret (and, except on Windows, the socket). */
  dir: string;
  secretFile: string;
  /** A Unix socket path, or a Windows named pipe. */
  socket: string;
}

function hashOf(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

/** Where the channel of the agent using `dataDir` lives. Pure, so the `ui` command finds what `run` created. */
export function linkChannelPaths(
  dataDir: string,
  platform: NodeJS.Platform = process.platform,
): LinkChannelPaths {
  const dir = join(dataDir, LINK_CHANNEL_DIR);
  const secretFile = join(dir, SECRET_FILE);
  if (platform === 'win32') {
    return {
      dir,
      secretFile,
      socket: `\\\\.\\pipe\\minion-agent-dashboard-${hashOf(dataDir.toLowerCase())}`,
    };
  }
  let socket = join(dir, SOCKET_FILE);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    // A data dir too deep for a socket path: an owner-only directory in the temp dir, named after the data dir.
    const uid = process.getuid?.() ?? 0;
    socket = join(tmpdir(), `minion-agent-${uid}-${hashOf(dataDir)}`, SOCKET_FILE);
  }
  return { dir, secretFile, socket };
}

/** Creates `dir` (0700) or checks an existing one: a directory, not a symlink, ours, and nobody else's to enter. */
async function ensureOwnerOnlyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (process.platform === 'win32') return;
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid)
    throw new Error(`${dir} belongs to another user (uid ${info.uid})`);
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

function sameSecret(a: string, b: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads one newline-terminated line of at most `MAX_REQUEST_BYTES`, or fails. */
function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => fail(new Error('timed out')), REQUEST_TIMEOUT_MS);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', fail);
    };
    const fail = (err: Error): void => {
      done();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline >= 0) {
        done();
        resolve(buffered.slice(0, newline));
      } else if (buffered.length > MAX_REQUEST_BYTES) fail(new Error('message too long'));
    };
    const onEnd = (): void => fail(new Error('connection closed before a full message'));
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', fail);
  });
}

export interface LinkChannel {
  readonly paths: LinkChannelPaths;
  close(): Promise<void>;
}

/**
 * Serves fresh links for a running dashboard. `mint` returns the new link (revoking what the dashboard decides a
 * fresh link revokes). Refuses to start when another live agent already serves this data dir.
 */
export async function startLinkChannel(options: {
  dataDir: string;
  mint: (request: LinkRequest) => string;
}): Promise<LinkChannel> {
  const paths = linkChannelPaths(options.dataDir);
  await ensureOwnerOnlyDir(paths.dir);
  const socketDir = join(paths.socket, '..');
  if (process.platform !== 'win32') {
    if (socketDir !== paths.dir) await ensureOwnerOnlyDir(socketDir);
    if (await canConnect(paths.socket)) {
      throw new Error(`another running agent serves a dashboard link channel at ${paths.socket}`);
    }
    // Left over from an agent that did not stop cleanly.
    await rm(paths.socket, { force: true });
  }
  const secret = randomBytes(32).toString('base64url');
  await rm(paths.secretFile, { force: true });
  await writeFile(paths.secretFile, secret + '\n', { mode: 0o600, flag: 'wx' });

  const answer = async (socket: Socket): Promise<void> => {
    const reply = (message: Record<string, unknown>): void => {
      socket.end(JSON.stringify(message) + '\n');
    };
    let line: string;
    try {
      line = await readLine(socket);
    } catch (err) {
      return reply({ ok: false, error: `bad request: ${reason(err)}` });
    }
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch {
      return reply({ ok: false, error: 'bad request: not JSON' });
    }
    const fields = (request ?? {}) as Record<string, unknown>;
    if (
      fields.v !== 1 ||
      typeof fields.secret !== 'string' ||
      typeof (fields.endSessions ?? false) !== 'boolean'
    ) {
      return reply({ ok: false, error: 'bad request: expected {"v":1,"secret":…,"endSessions":bool}' });
    }
    if (!sameSecret(fields.secret, secret)) return reply({ ok: false, error: 'refused: wrong secret' });
    try {
      reply({ ok: true, url: options.mint({ endSessions: fields.endSessions === true }) });
    } catch (err) {
      reply({ ok: false, error: reason(err) });
    }
  };

  const server: Server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    void answer(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (process.platform !== 'win32') await chmod(paths.socket, 0o600);

  return {
    paths,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(paths.secretFile, { force: true });
      if (process.platform !== 'win32') await rm(paths.socket, { force: true });
    },
  };
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The error `requestDashboardLink` throws: its message is meant for the person at the terminal. */
export class LinkChannelError extends Error {}

/** Asks the agent running with `dataDir` for a fresh link. */
export async function requestDashboardLink(dataDir: string, request: LinkRequest): Promise<string> {
  const paths = linkChannelPaths(dataDir);
  const notRunning = `no running agent serves a dashboard for the data dir ${dataDir} (start one with \`minion-agent run --ui\`)`;
  let secret: string;
  try {
    secret = (await readFile(paths.secretFile, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LinkChannelError(notRunning);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new LinkChannelError(
        `permission denied reading ${paths.secretFile}: run this as the user the agent runs as`,
      );
    }
    throw new LinkChannelError(`cannot read ${paths.secretFile}: ${reason(err)}`);
  }
  const socket = createConnection(paths.socket);
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error('the agent did not answer in time')));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') throw new LinkChannelError(notRunning);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new LinkChannelError(
        `permission denied on ${paths.socket}: run this as the user the agent runs as`,
      );
    }
    throw new LinkChannelError(`cannot reach the agent at ${paths.socket}: ${reason(err)}`);
  }
  socket.write(JSON.stringify({ v: 1, secret, endSessions: request.endSessions }) + '\n');
  let line: string;
  try {
    line = await readLine(socket);
  } catch (err) {
    throw new LinkChannelError(`the agent gave no answer: ${reason(err)}`);
  } finally {
    socket.destroy();
  }
  let answer: { ok?: unknown; url?: unknown; error?: unknown };
  try {
    answer = JSON.parse(line) as typeof answer;
  } catch {
    throw new LinkChannelError('the agent answered something that is not JSON');
  }
  if (answer.ok === true && typeof answer.url === 'string') return answer.url;
  throw new LinkChannelError(
    `the agent refused: ${typeof answer.error === 'string' ? answer.error : 'no reason'}`,
  );
}
