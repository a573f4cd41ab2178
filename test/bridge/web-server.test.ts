import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  isLoopbackHostHeader,
  resolveStaticPath,
  startWebDashboard,
  type WebDashboard,
} from '../../src-main/bridge/web-server';
import { EventChannel, InvokeChannel } from '../../src-shared/ipc';
import { createInvokeHandlers } from '../../src-main/bridge/handlers';
import { createWebBridgeClient, type WebSocketLike } from '../../src-shared/web-bridge-client';
import { FakeCore, FakeUpdates, logLine } from './fake-core';

const TOKEN = 'test-token-0123456789abcdef';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a raw ws connection; resolves with the HTTP status when the upgrade is refused, or the open socket. */
function openWs(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; statusMessage?: string; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage });
      res.resume();
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}

describe('startWebDashboard', () => {
  let dir: string;
  let core: FakeCore;
  let updates: FakeUpdates;
  let dashboard: WebDashboard;
  const sockets: WebSocket[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'minion-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Minion</title>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(tmpdir(), 'minion-secret.txt'), 'secret');
    core = new FakeCore();
    updates = new FakeUpdates();
    dashboard = await startWebDashboard({
      core,
      updates,
      rendererDir: dir,
      port: 0,
      token: TOKEN,
      eventIntervalMs: 100,
    });
  });

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await dashboard.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sessionCookie = async (): Promise<string> => {
    const reply = await get(dashboard.port, `/?token=${TOKEN}`);
    const setCookie = reply.headers['set-cookie'];
    return String(Array.isArray(setCookie) ? setCookie[0] : setCookie).split(';')[0]!;
  };

  it('refuses any other host than 127.0.0.1', async () => {
    await expect(
      startWebDashboard({ core, updates, rendererDir: dir, host: '0.0.0.0' as '127.0.0.1' }),
    ).rejects.toThrow(/127\.0\.0\.1 only/);
  });

  it('prints a URL with the token on 127.0.0.1', () => {
    expect(dashboard.url).toBe(`http://127.0.0.1:${dashboard.port}/?token=${TOKEN}`);
  });

  it('refuses HTTP without a token (401) and with a wrong one (403)', async () => {
    expect((await get(dashboard.port, '/')).status).toBe(401);
    expect((await get(dashboard.port, '/assets/app.js')).status).toBe(401);
    expect((await get(dashboard.port, '/?token=wrong')).status).toBe(403);
    expect(
      (await get(dashboard.port, '/', { cookie: `minion_dashboard_${dashboard.port}=forged` })).status,
    ).toBe(403);
  });

  it('exchanges the token for a session cookie, then serves the renderer with a strict CSP', async () => {
    const exchange = await get(dashboard.port, `/?token=${TOKEN}`);
    expect(exchange.status).toBe(303);
    expect(exchange.headers.location).toBe('/');
    expect(String(exchange.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict; Path=\//);
    const cookie = String(exchange.headers['set-cookie']).split(';')[0]!;
    // The printed token is one-time: a copied URL opens nothing once a browser has used it.
    const replay = await get(dashboard.port, `/?token=${TOKEN}`);
    expect(replay.status).toBe(403);
    expect(replay.body).toMatch(/already used/);
    const page = await get(dashboard.port, '/', { cookie });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Minion</title>');
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${dashboard.port}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const js = await get(dashboard.port, '/assets/app.js', { cookie });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/text\/javascript/);
    // Client-side routes get the shell; missing assets do not.
    expect((await get(dashboard.port, '/logs', { cookie })).body).toContain('<title>Minion</title>');
    expect((await get(dashboard.port, '/assets/missing.js', { cookie })).status).toBe(404);
  });

  it('a fresh link revokes the previous unused one and keeps open sessions; endSessions ends them', async () => {
    const cookie = await sessionCookie();
    const first = dashboard.freshLink();
    expect(first).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${dashboard.port}/\\?token=`));
    const second = dashboard.freshLink();
    const path = (link: string): string => new URL(link).pathname + new URL(link).search;
    // The first fresh link was never used, yet the second one revoked it.
    expect((await get(dashboard.port, path(first))).status).toBe(403);
    const exchange = await get(dashboard.port, path(second));
    expect(exchange.status).toBe(303);
    expect((await get(dashboard.port, path(second))).status).toBe(403);
    // The session opened before the fresh links still works (a reload keeps working).
    expect((await get(dashboard.port, '/', { cookie })).status).toBe(200);
    expect(dashboard.sessionCount()).toBe(2);

    const open = await openWs(`ws://127.0.0.1:${dashboard.port}/bridge`, {
      cookie,
      origin: `http://127.0.0.1:${dashboard.port}`,
    });
    expect(open.status).toBe(101);
    const closed = new Promise<number>((resolve) => open.ws!.once('close', (code) => resolve(code)));
    const third = dashboard.freshLink({ endSessions: true });
    expect(await closed).toBe(1008);
    expect(dashboard.sessionCount()).toBe(0);
    expect((await get(dashboard.port, '/', { cookie })).status).toBe(403);
    expect((await get(dashboard.port, path(third))).status).toBe(303);
  });

  it('refuses a token shorter than 16 characters', async () => {
    await expect(
      startWebDashboard({ core, updates, rendererDir: dir, token: 'x'.repeat(15) }),
    ).rejects.toThrow(/at least 16 characters/);
  });

  it('answers only GET and HEAD; HEAD carries the headers without the body', async () => {
    const cookie = await sessionCookie();
    const post = await get(dashboard.port, '/', { cookie }, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await get(dashboard.port, '/assets/app.js', { cookie }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String('console.log(1)'.length));
    expect(head.body).toBe('');
  });

  it('keeps other query parameters when trading the token, and hardens every response', async () => {
    const exchange = await get(dashboard.port, `/logs?token=${TOKEN}&filter=err`);
    expect(exchange.status).toBe(303);
    expect(exchange.headers.location).toBe('/logs?filter=err');
    for (const reply of [
      exchange,
      await get(dashboard.port, '/'),
      await get(dashboard.port, '/', { host: 'evil.example' }),
    ]) {
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      // A refused foreign Host gets the CSP of the real origin, never one naming the foreign host.
      expect(String(reply.headers['content-security-policy'])).toContain(
        `connect-src 'self' ws://127.0.0.1:${dashboard.port}`,
      );
    }
  });

  it('serves content types by extension, directories by their index.html, and nothing else', async () => {
    mkdirSync(join(dir, 'docs'));
    writeFileSync(join(dir, 'docs', 'index.html'), '<p>docs</p>');
    writeFileSync(join(dir, 'assets', 'style.CSS'), 'body{}');
    writeFileSync(join(dir, 'assets', 'blob.bin'), 'raw');
    const cookie = await sessionCookie();
    const css = await get(dashboard.port, '/assets/style.CSS', { cookie });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get(dashboard.port, '/assets/blob.bin', { cookie })).headers['content-type']).toBe(
      'application/octet-stream',
    );
    const docs = await get(dashboard.port, '/docs', { cookie });
    expect(docs.status).toBe(200);
    expect(docs.body).toBe('<p>docs</p>');
    // A directory without an index is not the app shell.
    expect((await get(dashboard.port, '/assets', { cookie })).status).toBe(404);
    expect((await get(dashboard.port, '/assets/missing.css', { cookie })).body).toBe('Not found.\n');
  });

  it('refuses upgrades on any other path, and closes sockets that send binary or malformed messages', async () => {
    const cookie = await sessionCookie();
    expect(
      (await openWs(`ws://127.0.0.1:${dashboard.port}/other`, { cookie, origin: dashboard.origin })).status,
    ).toBe(404);
    const closeCodeAfter = async (send: (ws: WebSocket) => void): Promise<[number, string]> => {
      const opened = await openWs(`ws://127.0.0.1:${dashboard.port}/bridge`, {
        cookie,
        origin: dashboard.origin,
      });
      const ws = opened.ws!;
      sockets.push(ws);
      const closed = new Promise<[number, string]>((resolve) =>
        ws.once('close', (code, reason) => resolve([code, reason.toString()])),
      );
      send(ws);
      return closed;
    };
    expect(await closeCodeAfter((ws) => ws.send(Buffer.from([1, 2, 3]), { binary: true }))).toEqual([
      1003,
      'text frames only',
    ]);
    const invokeShape = [1008, 'expected {t:"invoke", id, channel, payload}'];
    expect(await closeCodeAfter((ws) => ws.send(JSON.stringify({ t: 'event', id: 1 })))).toEqual(invokeShape);
    expect(await closeCodeAfter((ws) => ws.send(JSON.stringify({ t: 'invoke', id: '1' })))).toEqual(
      invokeShape,
    );
    expect(await closeCodeAfter((ws) => ws.send(JSON.stringify({ t: 'invoke', id: 1.5 })))).toEqual(
      invokeShape,
    );
    expect(await closeCodeAfter((ws) => ws.send('null'))).toEqual(invokeShape);
    expect(core.calls).toEqual([]);
  });

  it('accepts a token of exactly 16 characters and listens on the port asked for', async () => {
    const probe = await startWebDashboard({ core, updates, rendererDir: dir, token: 'x'.repeat(16) });
    const port = probe.port;
    await probe.close();
    const chosen = await startWebDashboard({ core, updates, rendererDir: dir, port, token: 'y'.repeat(16) });
    try {
      expect(chosen.port).toBe(port);
      expect((await get(port, `/?token=${'y'.repeat(16)}`)).status).toBe(303);
    } finally {
      await chosen.close();
    }
  });

  it('explains each refusal in plain text', async () => {
    const missing = await get(dashboard.port, '/');
    expect(missing.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(missing.body).toBe(
      'Open the dashboard with the URL minion-agent printed (it carries the access token).\n',
    );
    expect((await get(dashboard.port, '/', { host: 'evil.example' })).body).toBe(
      'Forbidden: unexpected Host header.\n',
    );
    const cookie = await sessionCookie();
    expect((await get(dashboard.port, '/', { cookie }, 'DELETE')).body).toBe('Method not allowed.\n');
    // A path that does not decode is not a file.
    const undecodable = await get(dashboard.port, '/%E0%A4%A', { cookie });
    expect([undecodable.status, undecodable.body]).toEqual([404, 'Not found.\n']);
  });

  it('finds the session cookie among other cookies', async () => {
    const cookie = await sessionCookie();
    expect((await get(dashboard.port, '/', { cookie: `theme=dark; ${cookie} ; flag; =orphan` })).status).toBe(
      200,
    );
  });

  it('tells a closing dashboard to its clients, and names invalid JSON when it closes a socket', async () => {
    const cookie = await sessionCookie();
    const base = `ws://127.0.0.1:${dashboard.port}/bridge`;
    const bad = (await openWs(base, { cookie, origin: dashboard.origin })).ws!;
    sockets.push(bad);
    const badClosed = new Promise<[number, string]>((resolve) =>
      bad.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    bad.send('{not json');
    expect(await badClosed).toEqual([1007, 'invalid JSON']);
    const live = (await openWs(base, { cookie, origin: dashboard.origin })).ws!;
    sockets.push(live);
    const closed = new Promise<[number, string]>((resolve) =>
      live.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    await dashboard.close();
    expect(await closed).toEqual([1001, 'dashboard closing']);
    dashboard = await startWebDashboard({ core, updates, rendererDir: dir, token: TOKEN });
  });

  it('answers at most 64 calls in flight per client, then serves it again', async () => {
    await dashboard.close();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handlers = createInvokeHandlers({ core, updates });
    dashboard = await startWebDashboard({
      core,
      updates,
      rendererDir: dir,
      token: TOKEN,
      handlers: {
        ...handlers,
        [InvokeChannel.Pause]: () => gate.then(() => handlers[InvokeChannel.Pause]()),
      },
    });
    const cookie = await sessionCookie();
    const ws = (await openWs(`ws://127.0.0.1:${dashboard.port}/bridge`, { cookie, origin: dashboard.origin }))
      .ws!;
    sockets.push(ws);
    const replies = new Map<number, { ok: boolean; error?: { message: string } }>();
    let wanted = 0;
    let arrived: () => void = () => undefined;
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { t: string; id: number; result: { ok: boolean } };
      if (message.t !== 'result') return;
      replies.set(message.id, message.result);
      if (replies.size >= wanted) arrived();
    });
    const waitFor = (count: number): Promise<void> =>
      new Promise((resolve) => {
        wanted = count;
        arrived = resolve;
        if (replies.size >= count) resolve();
      });
    for (let id = 1; id <= 65; id++)
      ws.send(JSON.stringify({ t: 'invoke', id, channel: InvokeChannel.Pause }));
    await waitFor(1);
    expect([...replies.keys()]).toEqual([65]);
    expect(replies.get(65)).toMatchObject({
      ok: false,
      error: { code: 'failed', message: 'Too many requests in flight.' },
    });
    release();
    await waitFor(65);
    expect(replies.get(64)).toMatchObject({ ok: true });
    ws.send(JSON.stringify({ t: 'invoke', id: 66, channel: InvokeChannel.Pause }));
    await waitFor(66);
    expect(replies.get(66)).toMatchObject({ ok: true });
  });

  it('refuses path traversal', async () => {
    const cookie = await sessionCookie();
    expect((await get(dashboard.port, '/%2e%2e/minion-secret.txt', { cookie })).status).toBe(404);
    expect(resolveStaticPath('/srv/r', '/../etc/passwd')).toBe('/srv/r/etc/passwd');
    expect(resolveStaticPath('/srv/r', '/%00')).toBeNull();
  });

  it('accepts only loopback names as the Host header', () => {
    for (const host of ['[::1]:80', '127.0.0.1', '127.0.0.1:8080', 'localhost', 'LOCALHOST:18080', '[::1]']) {
      expect(isLoopbackHostHeader(host), host).toBe(true);
    }
    for (const host of [
      undefined,
      '',
      '127.0.0.2:80',
      'evil.example',
      '127.0.0.1.evil.example',
      'localhost.evil.example',
      'evil.localhost',
      'localhost:80.evil.example',
      'localhost:123456',
      '[::1].evil.example',
    ]) {
      expect(isLoopbackHostHeader(host), String(host)).toBe(false);
    }
  });

  // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 reaches this server with its own
  // Host. Each case carries a credential that is valid (a fresh, unspent token or a live session cookie) and, on the
  // upgrade, the Origin matching that Host, so only the Host check can refuse; afterwards the same credential is shown
  // to work from a loopback Host, which proves the refusal came from the Host alone.
  const REBINDING_HOSTS = ['evil.example', '127.0.0.1.evil.example', 'localhost.evil.example'];

  describe.each(REBINDING_HOSTS)('DNS rebinding with Host %s', (foreignName) => {
    const foreignHost = (): string => `${foreignName}:${dashboard.port}`;

    it('refuses HTTP carrying a fresh token', async () => {
      const refused = await get(dashboard.port, `/?token=${TOKEN}`, { host: foreignHost() });
      expect(refused.status).toBe(403);
      expect(refused.headers['set-cookie']).toBeUndefined();
      expect((await get(dashboard.port, `/?token=${TOKEN}`)).status).toBe(303);
    });

    it('refuses HTTP carrying a valid session cookie', async () => {
      const cookie = await sessionCookie();
      const refused = await get(dashboard.port, '/', { host: foreignHost(), cookie });
      expect(refused.status).toBe(403);
      expect(refused.body).not.toContain('<title>Minion</title>');
      expect((await get(dashboard.port, '/', { cookie })).status).toBe(200);
    });

    it('refuses the WebSocket upgrade carrying a fresh token', async () => {
      const base = `ws://127.0.0.1:${dashboard.port}/bridge`;
      const refused = await openWs(`${base}?token=${TOKEN}`, {
        host: foreignHost(),
        origin: `http://${foreignHost()}`,
      });
      if (refused.ws) sockets.push(refused.ws);
      expect(refused.status).toBe(403);
      expect(dashboard.clientCount()).toBe(0);
      const ok = await openWs(`${base}?token=${TOKEN}`, { origin: dashboard.origin });
      if (ok.ws) sockets.push(ok.ws);
      expect(ok.status).toBe(101);
    });

    it('refuses the WebSocket upgrade carrying a valid session cookie', async () => {
      const base = `ws://127.0.0.1:${dashboard.port}/bridge`;
      const cookie = await sessionCookie();
      const refused = await openWs(base, { host: foreignHost(), origin: `http://${foreignHost()}`, cookie });
      if (refused.ws) sockets.push(refused.ws);
      expect(refused.status).toBe(403);
      expect(dashboard.clientCount()).toBe(0);
      const ok = await openWs(base, { origin: dashboard.origin, cookie });
      if (ok.ws) sockets.push(ok.ws);
      expect(ok.status).toBe(101);
    });
  });

  it('works behind an SSH tunnel on another local port, still refusing foreign names', async () => {
    const tunnelHost = 'localhost:18080';
    const exchange = await get(dashboard.port, `/?token=${TOKEN}`, { host: tunnelHost });
    expect(exchange.status).toBe(303);
    const cookie = String(exchange.headers['set-cookie']).split(';')[0]!;
    const page = await get(dashboard.port, '/', { host: tunnelHost, cookie });
    expect(page.status).toBe(200);
    expect(String(page.headers['content-security-policy'])).toContain(
      `connect-src 'self' ws://${tunnelHost}`,
    );
    const base = `ws://127.0.0.1:${dashboard.port}/bridge`;
    const ok = await openWs(base, { host: tunnelHost, origin: `http://${tunnelHost}`, cookie });
    expect(ok.status).toBe(101);
    sockets.push(ok.ws!);
    // The page's origin must match the Host it talks to.
    expect((await openWs(base, { host: tunnelHost, origin: 'http://localhost:9999', cookie })).status).toBe(
      403,
    );
    // The session cookie that works through the tunnel is still refused under a foreign name.
    for (const host of ['127.0.0.1.evil.example:80', 'localhost.evil.example', '10.0.0.5:8080']) {
      expect((await get(dashboard.port, '/', { host, cookie })).status, host).toBe(403);
    }
  });

  it('refuses WebSocket upgrades without a token, with a wrong one, or from another origin', async () => {
    const base = `ws://127.0.0.1:${dashboard.port}/bridge`;
    expect((await openWs(base)).status).toBe(401);
    expect((await openWs(`${base}?token=nope`)).status).toBe(403);
    expect((await openWs(base, { cookie: `minion_dashboard_${dashboard.port}=forged` })).status).toBe(403);
    const cookie = await sessionCookie();
    expect((await openWs(base, { cookie, origin: 'https://evil.example' })).status).toBe(403);
    const ok = await openWs(base, { cookie, origin: dashboard.origin });
    expect(ok.status).toBe(101);
    sockets.push(ok.ws!);
    expect(dashboard.clientCount()).toBe(1);
  });

  /** A bridge client as the page would open it (its Origin), with the token or a session cookie. */
  function client(cookie?: string) {
    const api = createWebBridgeClient({
      url: `ws://127.0.0.1:${dashboard.port}/bridge${cookie ? '' : `?token=${TOKEN}`}`,
      createSocket: (url) => {
        const ws = new WebSocket(url, { origin: dashboard.origin, headers: cookie ? { cookie } : {} });
        sockets.push(ws);
        return ws as unknown as WebSocketLike;
      },
    });
    return api;
  }

  it('round-trips invokes through the web bridge client', async () => {
    const api = client();
    const paused = await api.pause();
    expect(paused).toMatchObject({ ok: true, value: { state: 'paused' } });
    expect(core.calls).toEqual([['pause']]);
    const logs = await api.recentLogs({ limit: 2 });
    expect(logs.ok && logs.value.map((l) => l.id)).toEqual([0, 1]);
    api.close();
  });

  it('rejects bad payloads and unknown channels with the same validation as IPC', async () => {
    const cookie = await sessionCookie();
    const api = client(cookie);
    const bad = await api.recentLogs({ limit: -5 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid-request', issues: [{ path: 'limit' }] } });
    const raw = await openWs(`ws://127.0.0.1:${dashboard.port}/bridge`, { cookie, origin: dashboard.origin });
    const ws = raw.ws!;
    sockets.push(ws);
    const reply = new Promise<unknown>((resolve) =>
      ws.once('message', (data) => resolve(JSON.parse(String(data)))),
    );
    ws.send(JSON.stringify({ t: 'invoke', id: 7, channel: 'fs:read', payload: '/etc/passwd' }));
    expect(await reply).toMatchObject({
      t: 'result',
      id: 7,
      result: { ok: false, error: { code: 'invalid-request' } },
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('not json');
    expect(await closed).toBe(1007);
    expect(core.calls).toEqual([]);
    api.close();
  });

  it('delivers core events batched', async () => {
    const api = client();
    const batches: number[][] = [];
    let wanted = 0;
    let reached: () => void = () => undefined;
    api.on(EventChannel.Logs, (lines) => {
      batches.push(lines.map((l) => l.id));
      if (batches.flat().length >= wanted) reached();
    });
    // The first invoke guarantees the server registered the client (and its batcher).
    await api.snapshot();
    wanted = 1_000;
    let arrived = new Promise<void>((resolve) => (reached = resolve));
    // 2,000 lines in one burst: one batch, capped to the newest 1,000 (the cap bounds memory per batch).
    for (let i = 0; i < 2_000; i++) core.emitCore('log', logLine(i));
    await arrived;
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual(Array.from({ length: 1_000 }, (_, i) => 1_000 + i));
    wanted = 1_300;
    arrived = new Promise<void>((resolve) => (reached = resolve));
    for (let i = 2_000; i < 2_300; i++) core.emitCore('log', logLine(i));
    await arrived;
    expect(batches).toHaveLength(2);
    expect(batches[1]).toHaveLength(300);
    const update = new Promise((resolve) => api.on(EventChannel.Updates, resolve));
    updates.set({ state: 'ready', availableVersion: '2.0.0' });
    expect(await update).toMatchObject({ state: 'ready', availableVersion: '2.0.0' });
    api.close();
  });

  it('stops listening to the core when the last client leaves', async () => {
    const api = client();
    await api.snapshot();
    expect(core.listenerCount('log')).toBe(1);
    api.close();
    await expect.poll(() => dashboard.clientCount()).toBe(0);
    expect(core.listenerCount('log')).toBe(0);
    expect(updates.listenerCount).toBe(0);
  });

  it('offers the core an approval surface with one session per open page, until it closes', async () => {
    expect(core.approvers.surfaceOpen).toBe(true);
    expect(core.approvers.sessionCount).toBe(0);
    // The printed token opens one session; further pages come in with the session cookie.
    const cookie = await sessionCookie();
    const first = client(cookie);
    const second = client(cookie);
    await Promise.all([first.snapshot(), second.snapshot()]);
    expect(core.approvers.sessionCount).toBe(2);
    first.close();
    await expect.poll(() => core.approvers.sessionCount).toBe(1);
    await dashboard.close();
    expect(core.approvers.surfaceOpen).toBe(false);
    expect(core.approvers.sessionCount).toBe(0);
  });

  it('answers calls in flight when the server goes away', async () => {
    const api = client();
    await api.ready;
    core.stopDelayMs = 0;
    await dashboard.close();
    const result = await api.snapshot();
    expect(result.ok).toBe(false);
    api.close();
    dashboard = await startWebDashboard({ core, updates, rendererDir: dir, token: TOKEN });
  });

  it('refuses an upgrade with wrong credentials even from the page origin', async () => {
    const base = `ws://127.0.0.1:${dashboard.port}/bridge`;
    const origin = dashboard.origin;
    expect(await openWs(`${base}?token=wrong-token-0123456789`, { origin })).toMatchObject({ status: 403 });
    const cookieName = (await sessionCookie()).split('=')[0]!;
    expect(await openWs(base, { origin, cookie: `${cookieName}=forged` })).toMatchObject({ status: 403 });
    // The printed token was spent by sessionCookie().
    expect(await openWs(`${base}?token=${TOKEN}`, { origin })).toMatchObject({ status: 403 });
    expect(dashboard.clientCount()).toBe(0);
  });

  it('refuses upgrades with the reason in the status line', async () => {
    const base = `ws://127.0.0.1:${dashboard.port}`;
    const origin = dashboard.origin;
    expect(await openWs(`${base}/bridge`, { origin })).toEqual({
      status: 401,
      statusMessage: 'Unauthorized',
    });
    expect(await openWs(`${base}/other?token=${TOKEN}`, { origin })).toEqual({
      status: 404,
      statusMessage: 'Not Found',
    });
    expect(await openWs(`${base}/bridge?token=nope-0123456789`, { origin })).toEqual({
      status: 403,
      statusMessage: 'Forbidden',
    });
    expect(await openWs(`${base}/bridge?token=${TOKEN}`, { origin: 'http://evil.example' })).toEqual({
      status: 403,
      statusMessage: 'Forbidden',
    });
    expect(await openWs(`${base}/bridge?token=${TOKEN}`, { origin, host: 'evil.example' })).toEqual({
      status: 403,
      statusMessage: 'Forbidden',
    });
  });

  it('spends the token only on an upgrade it accepts, and then for that one socket', async () => {
    const base = `ws://127.0.0.1:${dashboard.port}/bridge`;
    // Refused for its Origin: the token is still good.
    expect((await openWs(`${base}?token=${TOKEN}`, { origin: 'http://evil.example' })).status).toBe(403);
    const first = await openWs(`${base}?token=${TOKEN}`, { origin: dashboard.origin });
    sockets.push(first.ws!);
    expect(first.status).toBe(101);
    expect((await openWs(`${base}?token=${TOKEN}`, { origin: dashboard.origin })).status).toBe(403);
    expect((await get(dashboard.port, `/?token=${TOKEN}`)).status).toBe(403);
  });

  it('an upgrade with a session cookie leaves the current link unspent', async () => {
    const cookie = await sessionCookie();
    const link = new URL(dashboard.freshLink());
    const opened = await openWs(`ws://127.0.0.1:${dashboard.port}/bridge`, {
      origin: dashboard.origin,
      cookie,
    });
    sockets.push(opened.ws!);
    expect(opened.status).toBe(101);
    expect((await get(dashboard.port, link.pathname + link.search)).status).toBe(303);
  });

  it('keeps at most 64 sessions, forgetting the oldest', async () => {
    const oldest = await sessionCookie();
    const cookies: string[] = [];
    for (let i = 0; i < 64; i++) {
      const link = new URL(dashboard.freshLink());
      const exchange = await get(dashboard.port, link.pathname + link.search);
      cookies.push(String(exchange.headers['set-cookie']).split(';')[0]!);
    }
    expect(dashboard.sessionCount()).toBe(64);
    expect((await get(dashboard.port, '/', { cookie: oldest })).status).toBe(403);
    expect((await get(dashboard.port, '/', { cookie: cookies[0]! })).status).toBe(200);
    expect((await get(dashboard.port, '/', { cookie: cookies[63]! })).status).toBe(200);
  });

  it('keeps delivering events to the clients still open when another leaves', async () => {
    const cookie = await sessionCookie();
    const leaving = client(cookie);
    const staying = client(cookie);
    await Promise.all([leaving.snapshot(), staying.snapshot()]);
    leaving.close();
    await expect.poll(() => dashboard.clientCount()).toBe(1);
    const received = new Promise<number[]>((resolve) =>
      staying.on(EventChannel.Logs, (lines) => resolve(lines.map((l) => l.id))),
    );
    core.emitCore('log', logLine(7));
    expect(await received).toEqual([7]);
    staying.close();
  });

  it('closes a socket that sends more than 2 MiB at once, and keeps serving', async () => {
    const cookie = await sessionCookie();
    const opened = await openWs(`ws://127.0.0.1:${dashboard.port}/bridge`, {
      cookie,
      origin: dashboard.origin,
    });
    const ws = opened.ws!;
    sockets.push(ws);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.on('error', () => undefined);
    ws.send('x'.repeat(2 * 1024 * 1024 + 1));
    expect(await closed).toBe(1009);
    expect((await get(dashboard.port, '/', { cookie })).status).toBe(200);
  });

  it('rejects when the port is taken', async () => {
    await expect(
      startWebDashboard({ core, updates, rendererDir: dir, port: dashboard.port, token: TOKEN }),
    ).rejects.toThrow(/EADDRINUSE/);
  });

  it('makes its own 32-byte token when given none, a new one per fresh link', async () => {
    const own = await startWebDashboard({ core, updates, rendererDir: dir });
    try {
      expect(own.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(own.url).toBe(`${own.origin}/?token=${own.token}`);
      const link = own.freshLink();
      expect(own.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(link).toBe(`${own.origin}/?token=${own.token}`);
      expect(link).not.toBe(own.url);
    } finally {
      await own.close();
    }
  });

  it('a cookie without a value is not a dashboard cookie', async () => {
    const reply = await get(dashboard.port, '/', { cookie: 'minion_dashboard_abc' });
    expect(reply.status).toBe(401);
  });

  it('tells the page why a fresh link ended its session', async () => {
    const ws = (
      await openWs(`ws://127.0.0.1:${dashboard.port}/bridge?token=${TOKEN}`, { origin: dashboard.origin })
    ).ws!;
    sockets.push(ws);
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    dashboard.freshLink({ endSessions: true });
    expect(await closed).toEqual([1008, 'session ended by a fresh link']);
  });

  it('skips log batches to a client that stopped reading, but still sends it other events', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${dashboard.port}/bridge?token=${TOKEN}`, {
      origin: dashboard.origin,
    });
    sockets.push(ws);
    await new Promise((resolve) => ws.once('open', resolve));
    await expect.poll(() => dashboard.clientCount()).toBe(1);
    let logLines = 0;
    const updateArrived = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { channel: string; payload: unknown[] };
        if (message.channel === EventChannel.Logs) logLines += message.payload.length;
        if (message.channel === EventChannel.Updates) resolve();
      }),
    );
    ws.pause(); // the page stops reading (a stalled tab or tunnel)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      // Four batches of ~10 MB each: more than the 8 MiB a client may fall behind, whatever the kernel buffers.
      const text = 'x'.repeat(10_000);
      for (let batch = 0; batch < 4; batch++) {
        for (let i = 0; i < 1000; i++) core.emitCore('log', logLine(batch * 1000 + i, text));
        vi.advanceTimersByTime(100);
      }
      updates.set({ state: 'ready', availableVersion: '2.0.0' });
      vi.advanceTimersByTime(100);
    } finally {
      vi.useRealTimers();
    }
    ws.resume();
    await updateArrived;
    expect(logLines).toBeGreaterThan(0);
    expect(logLines).toBeLessThan(4000);
  });

  it('survives clients that reset the connection during a refused upgrade', async () => {
    for (let i = 0; i < 5; i++) {
      const socket = connect(dashboard.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write(
        `GET /bridge HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      socket.resetAndDestroy();
      await closed;
    }
    expect((await get(dashboard.port, `/?token=${TOKEN}`)).status).toBe(303);
  });

  describe('liveness', () => {
    // Only the ping interval is faked; sockets stay real.
    beforeEach(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }));
    afterEach(() => vi.useRealTimers());

    const connect = async (autoPong: boolean): Promise<{ ws: WebSocket; pings: () => number }> => {
      const ws = new WebSocket(`ws://127.0.0.1:${dashboard.port}/bridge?token=${TOKEN}`, {
        origin: dashboard.origin,
        autoPong,
      });
      sockets.push(ws);
      let pings = 0;
      ws.on('ping', () => pings++);
      await new Promise((resolve) => ws.once('open', resolve));
      await expect.poll(() => dashboard.clientCount()).toBe(1);
      return { ws, pings: () => pings };
    };

    const roundTrip = (ws: WebSocket, id: number): Promise<void> =>
      new Promise((resolve) => {
        const onMessage = (data: unknown): void => {
          if ((JSON.parse(String(data)) as { id?: number }).id !== id) return;
          ws.off('message', onMessage);
          resolve();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ t: 'invoke', id, channel: InvokeChannel.Snapshot }));
      });

    it('pings every 30 s and keeps a client that answers', async () => {
      const { ws, pings } = await connect(true);
      for (let round = 1; round <= 3; round++) {
        vi.advanceTimersByTime(30_000);
        await expect.poll(pings).toBe(round);
        // The pong went out before this call, so its reply proves the server has read the pong.
        await roundTrip(ws, round);
      }
      expect(ws.readyState).toBe(WebSocket.OPEN);
      expect(dashboard.clientCount()).toBe(1);
    });

    it('drops a client that missed a pong', async () => {
      const { ws, pings } = await connect(false);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      vi.advanceTimersByTime(30_000);
      await expect.poll(pings).toBe(1);
      expect(dashboard.clientCount()).toBe(1);
      vi.advanceTimersByTime(30_000);
      expect(await closed).toBe(1006);
      await expect.poll(() => dashboard.clientCount()).toBe(0);
    });
  });
});
