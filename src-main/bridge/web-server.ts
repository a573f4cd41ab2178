/**
 * The headless dashboard (`minion-agent run --ui`): serves the built renderer on 127.0.0.1 only and bridges the IPC
 * contract over a WebSocket with the same validation (`dispatchInvoke`) and event batching as the Electron shell.
 *
 * Access control, because any local process and any web page in a local browser can reach 127.0.0.1:
 * - a random token in the printed URL; the first request carrying it gets an HttpOnly, SameSite=Strict session
 *   cookie and is redirected to a token-free URL (so it does not linger in history or screenshots);
 * - the cookie's name carries a random id of this run (`minion_dashboard_<run id>`), so a cookie of another run or
 *   of another dashboard on 127.0.0.1 (cookies ignore ports) never opens this one, and nothing in its name can be
 *   guessed from the port;
 * - every request and WebSocket upgrade without a valid session (or the token) is refused: 401 missing, 403 wrong;
 *   the token opens one session, whether spent on a page load or on a WebSocket upgrade;
 * - `freshLink` (asked by `minion-agent ui` through the local link channel) mints a new token and revokes the
 *   previous one if unused; open sessions stay unless asked to end them too (see docs/security.md);
 * - the Host header must name a loopback host — 127.0.0.1, localhost or [::1], on any port, so an SSH tunnel may use
 *   another local port — which defeats DNS rebinding; a WebSocket upgrade must carry an Origin, and it must be the
 *   page's own origin `http://<Host>` (defeats cross-site WebSocket hijacking, and a session cookie captured by
 *   another local server cannot be replayed from a page of another origin);
 * - strict CSP and hardening headers on every response; only GET/HEAD.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AgentCoreApi } from '../agent/core-api';
import { EventChannel, type UpdatesApi } from '../../src-shared/ipc';
import { WEB_BRIDGE_PATH, type WebBridgeServerMessage } from '../../src-shared/web-bridge-client';
import { HARDENING_HEADERS, webDashboardCspHeader } from '../../src-shared/csp';
import { createEventBatcher, type EventBatcher } from './event-batcher';
import {
  createInvokeHandlers,
  dispatchInvoke,
  ipcError,
  type InvokeHandlerDeps,
  type InvokeHandlers,
} from './handlers';

export interface WebDashboardOptions {
  core: AgentCoreApi;
  updates: UpdatesApi;
  /** Loopback only, on purpose: reach it from elsewhere through an SSH tunnel. */
  host?: '127.0.0.1';
  /** 0 picks a free port. */
  port?: number;
  /** The built renderer (dist/renderer). */
  rendererDir: string;
  /** Defaults to 32 random bytes; pass one only in tests. */
  token?: string;
  startSandbox?: InvokeHandlerDeps['startSandbox'];
  /** Defaults to handlers built from core/updates/startSandbox. */
  handlers?: InvokeHandlers;
  eventIntervalMs?: number;
}

export interface WebDashboard {
  /** The first URL to print: origin plus the one-time token. */
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  /** The token currently valid (changes with `freshLink`). */
  readonly token: string;
  /**
   * A new one-time link; the previous token stops working whether or not it was used. With `endSessions`, every
   * open session (cookie and WebSocket) ends too.
   */
  freshLink(options?: { endSessions?: boolean }): string;
  sessionCount(): number;
  clientCount(): number;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
/** Session cookie names are this plus a random id of the run. */
const COOKIE_PREFIX = 'minion_dashboard_';
const MAX_IN_FLIGHT_PER_CLIENT = 64;
const MAX_SESSIONS = 64;
/** A client this far behind is not reading: list batches to it are skipped rather than buffered without bound. */
const SLOW_CLIENT_BUFFERED_BYTES = 8 * 1024 * 1024;
const LIST_CHANNELS = new Set<string>([
  EventChannel.Logs,
  EventChannel.Wire,
  EventChannel.Telemetry,
  EventChannel.Commands,
]);

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) cookies.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return cookies;
}

/** `127.0.0.1:P`, `localhost:P`, `[::1]:P` (any port): names that cannot be rebound to another address. */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const match = /^(127\.0\.0\.1|localhost|\[::1\])(?::(\d{1,5}))?$/i.exec(host);
  return match !== null;
}

/** Resolves a URL path inside `root`, or null when it would escape it. */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const rootAbs = resolve(root);
  const target = resolve(rootAbs, '.' + normalize('/' + decoded));
  return target === rootAbs || target.startsWith(rootAbs + sep) ? target : null;
}

export async function startWebDashboard(options: WebDashboardOptions): Promise<WebDashboard> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1')
    throw new Error('The web dashboard listens on 127.0.0.1 only (use an SSH tunnel).');
  let token = options.token ?? randomBytes(32).toString('base64url');
  if (token.length < 16) throw new Error('The dashboard token must be at least 16 characters.');
  const handlers =
    options.handlers ??
    createInvokeHandlers({
      core: options.core,
      updates: options.updates,
      startSandbox: options.startSandbox,
    });
  const rendererDir = resolve(options.rendererDir);
  const sessions = new Set<string>();
  // The printed token is one-time: the first browser trades it for a session cookie, after which a copy of the
  // URL (shell history, a screenshot, another local user) opens nothing.
  let tokenSpent = false;
  let port = 0;
  let origin = '';
  let cookieName = '';

  type Auth = 'ok' | 'missing' | 'wrong';
  /** Checks the token or the session cookie. A valid token is spent when `spend` (it opens exactly one session). */
  const authenticate = (req: IncomingMessage, url: URL, spend: boolean): Auth => {
    const given = url.searchParams.get('token');
    if (given !== null) {
      if (tokenSpent || !sameSecret(given, token)) return 'wrong';
      if (spend) tokenSpent = true;
      return 'ok';
    }
    const cookies = parseCookies(req.headers.cookie);
    const session = cookies.get(cookieName);
    if (session === undefined) {
      // A dashboard cookie of another run (or another dashboard): wrong, not missing.
      return [...cookies.keys()].some((name) => name.startsWith(COOKIE_PREFIX)) ? 'wrong' : 'missing';
    }
    return sessions.has(session) ? 'ok' : 'wrong';
  };
  const hostAllowed = (req: IncomingMessage): boolean => isLoopbackHostHeader(req.headers.host);
  /** The origin the browser sees (differs from ours behind an SSH tunnel with another local port). */
  const originOf = (req: IncomingMessage): string => `http://${req.headers.host ?? `127.0.0.1:${port}`}`;

  const baseHeaders = (req: IncomingMessage): Record<string, string> => ({
    ...HARDENING_HEADERS,
    'Content-Security-Policy': webDashboardCspHeader(hostAllowed(req) ? originOf(req) : origin),
    'Cache-Control': 'no-store',
  });
  const sendText = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    text: string,
    extra: Record<string, string> = {},
  ): void => {
    res.writeHead(status, { ...baseHeaders(req), 'Content-Type': 'text/plain; charset=utf-8', ...extra });
    res.end(text);
  };

  const newSession = (): string => {
    const id = randomBytes(32).toString('base64url');
    sessions.add(id);
    // Bounded: the oldest browser sessions are forgotten (they can reopen the printed URL).
    while (sessions.size > MAX_SESSIONS) sessions.delete(sessions.values().next().value as string);
    return id;
  };

  const handleHttp = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostAllowed(req)) return sendText(req, res, 403, 'Forbidden: unexpected Host header.\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendText(req, res, 405, 'Method not allowed.\n', { Allow: 'GET, HEAD' });
    }
    const url = new URL(req.url ?? '/', origin);
    const auth = authenticate(req, url, true);
    if (auth === 'missing') {
      return sendText(
        req,
        res,
        401,
        'Open the dashboard with the URL minion-agent printed (it carries the access token).\n',
      );
    }
    if (auth === 'wrong') {
      return sendText(
        req,
        res,
        403,
        'Forbidden: wrong or already used dashboard link. A link works once; for a new one run `minion-agent ui -c CONFIG` on this machine as the user the agent runs as.\n',
      );
    }
    if (url.searchParams.has('token')) {
      // Trade the token for a session cookie and drop it from the address bar.
      url.searchParams.delete('token');
      res.writeHead(303, {
        ...baseHeaders(req),
        Location: url.pathname + url.search,
        'Set-Cookie': `${cookieName}=${newSession()}; HttpOnly; SameSite=Strict; Path=/`,
      });
      res.end();
      return;
    }
    let file = resolveStaticPath(rendererDir, url.pathname);
    if (!file) return sendText(req, res, 404, 'Not found.\n');
    let info = await stat(file).catch(() => null);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => null);
    } else if (!info && extname(file) === '') {
      // Client-side routes (no extension) get the app shell.
      file = join(rendererDir, 'index.html');
      info = await stat(file).catch(() => null);
    }
    if (!info?.isFile()) return sendText(req, res, 404, 'Not found.\n');
    const body = await readFile(file);
    res.writeHead(200, {
      ...baseHeaders(req),
      'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(body.length),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendText(req, res, 500, 'Internal error.\n');
      else res.destroy(error instanceof Error ? error : undefined);
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const clients = new Set<WebSocket>();
  let batcher: EventBatcher | null = null;

  const broadcast = (channel: EventChannel, payload: unknown): void => {
    const message: WebBridgeServerMessage = { t: 'event', channel, payload };
    const text = JSON.stringify(message);
    for (const ws of clients) {
      if (ws.readyState !== ws.OPEN) continue;
      if (LIST_CHANNELS.has(channel) && ws.bufferedAmount > SLOW_CLIENT_BUFFERED_BYTES) continue;
      ws.send(text);
    }
  };

  const refuseUpgrade = (socket: Duplex, status: number, reason: string): void => {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!hostAllowed(req)) return refuseUpgrade(socket, 403, 'Forbidden');
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname !== WEB_BRIDGE_PATH) return refuseUpgrade(socket, 404, 'Not Found');
    const auth = authenticate(req, url, false);
    if (auth === 'missing') return refuseUpgrade(socket, 401, 'Unauthorized');
    // Required: browsers always send it on a WebSocket handshake, so its absence means a non-browser client
    // replaying credentials, and a wrong one a page of another origin.
    const requestOrigin = req.headers.origin;
    if (requestOrigin === undefined || requestOrigin !== originOf(req)) {
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    if (auth === 'wrong') return refuseUpgrade(socket, 403, 'Forbidden');
    // Spent only now that the upgrade is accepted: the token opens this one socket and nothing after it.
    if (url.searchParams.has('token')) tokenSpent = true;
    wss.handleUpgrade(req, socket, head, (ws) => onClient(ws));
  });

  // Each open page is a session that can answer `ask` approvals (the core waits for one while none is open).
  let approvalSurface: ReturnType<AgentCoreApi['openApprovalSurface']> | null = null;

  const onClient = (ws: WebSocket): void => {
    clients.add(ws);
    const leaveApprovals = approvalSurface?.sessionOpened();
    batcher ??= createEventBatcher({
      core: options.core,
      updates: options.updates,
      emit: broadcast,
      intervalMs: options.eventIntervalMs,
    });
    let inFlight = 0;
    let alive = true;
    ws.on('pong', () => (alive = true));
    const ping = setInterval(() => {
      // A tunnel that died silently leaves a half-open socket: drop clients that miss a pong.
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, 30_000);
    ping.unref();

    const reply = (id: number, result: unknown): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ t: 'result', id, result }));
    };
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'text frames only');
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return ws.close(1007, 'invalid JSON');
      }
      const { t, id, channel, payload } = (message ?? {}) as Record<string, unknown>;
      if (t !== 'invoke' || typeof id !== 'number' || !Number.isSafeInteger(id)) {
        return ws.close(1008, 'expected {t:"invoke", id, channel, payload}');
      }
      if (inFlight >= MAX_IN_FLIGHT_PER_CLIENT)
        return reply(id, ipcError('failed', 'Too many requests in flight.'));
      inFlight++;
      void dispatchInvoke(handlers, channel, payload).then((result) => {
        inFlight--;
        reply(id, result);
      });
    });
    ws.on('close', () => {
      clearInterval(ping);
      clients.delete(ws);
      leaveApprovals?.();
      if (clients.size === 0) {
        batcher?.stop();
        batcher = null;
      }
    });
    ws.on('error', () => ws.terminate());
  };

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('web dashboard: no TCP address');
  port = address.port;
  origin = `http://127.0.0.1:${port}`;
  approvalSurface = options.core.openApprovalSurface();
  cookieName = `${COOKIE_PREFIX}${randomBytes(12).toString('hex')}`;

  const linkOf = (current: string): string => `${origin}/?token=${encodeURIComponent(current)}`;

  return {
    url: linkOf(token),
    origin,
    port,
    get token() {
      return token;
    },
    freshLink: ({ endSessions = false } = {}) => {
      token = randomBytes(32).toString('base64url');
      tokenSpent = false;
      if (endSessions) {
        sessions.clear();
        for (const ws of clients) ws.close(1008, 'session ended by a fresh link');
      }
      return linkOf(token);
    },
    sessionCount: () => sessions.size,
    clientCount: () => clients.size,
    close: async () => {
      approvalSurface?.close();
      batcher?.stop();
      batcher = null;
      for (const ws of clients) ws.close(1001, 'dashboard closing');
      for (const ws of clients) ws.terminate();
      await new Promise<void>((done) => wss.close(() => done()));
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
