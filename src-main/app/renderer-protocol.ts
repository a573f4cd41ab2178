/**
 * The renderer is served from a custom `app://minion/` scheme rather than file:// (Electron security checklist:
 * file:// pages share one origin with every local file and make `'self'` in a CSP mean "any file on disk").
 * The response builder is plain Node (`Response` is global in Node 20), so it is tested without Electron.
 */
import type { Protocol } from 'electron';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { resolveStaticPath } from '../bridge/web-server';
import { HARDENING_HEADERS, rendererCspHeader } from '../../src-shared/csp';

export const APP_SCHEME = 'app';
export const APP_HOST = 'minion';
export const RENDERER_ENTRY_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** Registered before `ready`: a standard, secure scheme gets a real origin, fetch and a secure context. */
export const APP_SCHEME_PRIVILEGES = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
} as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * Is `url` a page of ours? The packaged renderer (app://minion/…) or, in development only, the Vite dev server's
 * origin. Compares scheme and host explicitly: WHATWG `origin` is "null" for non-special schemes like app:.
 */
export function isAppUrl(url: string, devServerOrigin: string | null = null): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST) return true;
  return devServerOrigin !== null && parsed.origin === devServerOrigin;
}

export async function rendererResponse(requestUrl: string, rendererDir: string): Promise<Response> {
  const headers = { ...HARDENING_HEADERS, 'Content-Security-Policy': rendererCspHeader() };
  const url = new URL(requestUrl);
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) {
    return new Response('Not found', { status: 404, headers });
  }
  const file = resolveStaticPath(rendererDir, url.pathname === '/' ? '/index.html' : url.pathname);
  if (!file) return new Response('Not found', { status: 404, headers });
  try {
    const body = await readFile(file);
    return new Response(new Uint8Array(body), {
      status: 200,
      headers: {
        ...headers,
        'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      },
    });
  } catch {
    return new Response('Not found', { status: 404, headers });
  }
}

export function serveRenderer(protocol: Pick<Protocol, 'handle'>, rendererDir: string): void {
  protocol.handle(APP_SCHEME, (request) => rendererResponse(request.url, rendererDir));
}
