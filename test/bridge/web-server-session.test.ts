/**
 * The dashboard session as a trust boundary (docs/security.md): the session cookie belongs to one run, the WebSocket
 * upgrade needs the page's Origin, and the printed token opens exactly one session, on a page load or an upgrade.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startWebDashboard, type WebDashboard } from '../../src-main/bridge/web-server';
import { FakeCore, FakeUpdates } from './fake-core';

const TOKEN = 'session-test-token-0123456789';

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; setCookie: string | null }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        const raw = res.headers['set-cookie'];
        resolve({ status: res.statusCode ?? 0, setCookie: raw ? String(raw[0]) : null });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function openWs(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

describe('dashboard session', () => {
  let dir: string;
  const dashboards: WebDashboard[] = [];
  const sockets: WebSocket[] = [];

  const start = async (port = 0): Promise<WebDashboard> => {
    const dashboard = await startWebDashboard({
      core: new FakeCore(),
      updates: new FakeUpdates(),
      rendererDir: dir,
      port,
      token: TOKEN,
    });
    dashboards.push(dashboard);
    return dashboard;
  };

  const exchange = async (dashboard: WebDashboard): Promise<string> => {
    const reply = await get(dashboard.port, `/?token=${TOKEN}`);
    expect(reply.status).toBe(303);
    return (reply.setCookie ?? '').split(';')[0] ?? '';
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'minion-web-session-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Minion</title>');
  });

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    for (const d of dashboards.splice(0)) await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the session cookie after a random id of the run, not the port: another run on the same port never takes it', async () => {
    const first = await start();
    const cookie = await exchange(first);
    const name = cookie.split('=')[0] ?? '';
    expect(name).toMatch(/^minion_dashboard_[0-9a-f]{24}$/);
    expect(name).not.toContain(String(first.port));
    const port = first.port;
    await first.close();
    dashboards.splice(dashboards.indexOf(first), 1);

    const second = await start(port);
    const secondCookie = await exchange(second);
    expect(secondCookie.split('=')[0]).not.toBe(name);
    // The first run's cookie is of no use to the second (403: a dashboard cookie, but not of this run).
    expect((await get(second.port, '/', { cookie })).status).toBe(403);
    expect((await get(second.port, '/', { cookie: secondCookie })).status).toBe(200);
  });

  it('refuses a WebSocket upgrade without an Origin, even with a valid session cookie', async () => {
    const dashboard = await start();
    const cookie = await exchange(dashboard);
    const base = `ws://127.0.0.1:${dashboard.port}/bridge`;
    expect((await openWs(base, { cookie })).status).toBe(403);
    expect((await openWs(base, { cookie, origin: `http://127.0.0.1:${dashboard.port + 1}` })).status).toBe(
      403,
    );
    const ok = await openWs(base, { cookie, origin: dashboard.origin });
    expect(ok.status).toBe(101);
    sockets.push(ok.ws!);
  });

  it('spends the token on a WebSocket upgrade: it opens one socket, then nothing (no second socket, no page)', async () => {
    const dashboard = await start();
    const url = `ws://127.0.0.1:${dashboard.port}/bridge?token=${TOKEN}`;
    const origin = { origin: dashboard.origin };
    // A refused upgrade (wrong Origin) does not spend it.
    expect((await openWs(url, { origin: 'http://evil.example' })).status).toBe(403);
    const first = await openWs(url, origin);
    expect(first.status).toBe(101);
    sockets.push(first.ws!);
    expect((await openWs(url, origin)).status).toBe(403);
    expect((await get(dashboard.port, `/?token=${TOKEN}`)).status).toBe(403);
  });

  it('spends the token on a page load: the upgrade cannot reuse it', async () => {
    const dashboard = await start();
    await exchange(dashboard);
    const url = `ws://127.0.0.1:${dashboard.port}/bridge?token=${TOKEN}`;
    expect((await openWs(url, { origin: dashboard.origin })).status).toBe(403);
  });
});
