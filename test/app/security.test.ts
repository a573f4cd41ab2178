import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RENDERER_CSP_META, rendererCspHeader, webDashboardCspHeader } from '../../src-shared/csp';
import { isAppUrl, rendererResponse } from '../../src-main/app/renderer-protocol';
import {
  hardenSession,
  hardenWebContents,
  isAllowedExternalUrl,
  isAllowedRequest,
} from '../../src-main/app/security';
import { FakeEvent } from './fake-electron';

function parseCsp(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(';').map((part) => {
      const [name, ...values] = part.trim().split(/\s+/);
      return [name!, values];
    }),
  );
}

describe('CSP', () => {
  it('is strict: nothing by default, only our own scripts, no inline/eval, no plugins, no framing', () => {
    for (const policy of [
      RENDERER_CSP_META,
      rendererCspHeader(),
      webDashboardCspHeader('http://127.0.0.1:5000'),
    ]) {
      const csp = parseCsp(policy);
      expect(csp.get('default-src')).toEqual(["'none'"]);
      expect(csp.get('script-src')).toEqual(["'self'"]);
      expect(csp.get('style-src')).toEqual(["'self'"]);
      expect(csp.get('object-src')).toEqual(["'none'"]);
      expect(csp.get('base-uri')).toEqual(["'none'"]);
      expect(csp.get('form-action')).toEqual(["'none'"]);
      expect(policy).not.toMatch(/unsafe-|\*|https?:(?!\/\/127)|blob:/);
    }
    expect(parseCsp(rendererCspHeader()).get('frame-ancestors')).toEqual(["'none'"]);
    // A meta-delivered policy cannot carry frame-ancestors (browsers ignore it there).
    expect(parseCsp(RENDERER_CSP_META).has('frame-ancestors')).toBe(false);
    expect(parseCsp(webDashboardCspHeader('http://127.0.0.1:5000')).get('connect-src')).toEqual([
      "'self'",
      'ws://127.0.0.1:5000',
    ]);
  });

  it('matches the exact meta string the renderer ships', () => {
    expect(RENDERER_CSP_META).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'",
    );
    const html = readFileSync(join(__dirname, '../../src-renderer/index.html'), 'utf8');
    expect(html.replace(/\s+/g, ' ')).toContain(`content="${RENDERER_CSP_META}"`);
  });
});

describe('external links', () => {
  it.each([
    ['https://minion.invalid/docs', true],
    ['mailto:ops@example.com', true],
    ['http://example.com', false],
    ['file:///etc/passwd', false],
    ['javascript:alert(1)', false],
    ['smb://share/x', false],
    ['not a url', false],
  ])('%s → %s', (url, allowed) => {
    expect(isAllowedExternalUrl(url)).toBe(allowed);
  });
});

describe('hardenWebContents', () => {
  function setup() {
    const handlers = new Map<string, (...args: unknown[]) => void>();
    let openHandler: ((details: { url: string }) => { action: string }) | null = null;
    const opened: string[] = [];
    const blocked: string[] = [];
    hardenWebContents(
      {
        on: (event: string, listener: (...args: unknown[]) => void) => void handlers.set(event, listener),
        setWindowOpenHandler: (handler: typeof openHandler) => void (openHandler = handler),
      } as never,
      {
        isAppUrl: (url) => isAppUrl(url),
        openExternal: async (url) => void opened.push(url),
        onBlocked: (w, u) => blocked.push(`${w} ${u}`),
      },
    );
    return { handlers, openHandler: openHandler!, opened, blocked };
  }

  it('denies window.open, passing allow-listed links to the OS', () => {
    const { openHandler, opened, blocked } = setup();
    expect(openHandler({ url: 'https://minion.invalid/help' })).toEqual({ action: 'deny' });
    expect(openHandler({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://minion.invalid/help']);
    expect(blocked).toEqual(['external link file:///etc/passwd']);
  });

  it('denies every navigation of the page itself', () => {
    const { handlers, opened } = setup();
    for (const url of ['https://evil.example/', 'app://minion/other.html', 'file:///tmp/x']) {
      const event = new FakeEvent();
      handlers.get('will-navigate')!(event, url);
      expect(event.defaultPrevented, url).toBe(true);
    }
    expect(opened).toEqual(['https://evil.example/']);
  });

  it('denies foreign frame navigations, redirects and webviews', () => {
    const { handlers } = setup();
    const frame = new FakeEvent('https://evil.example/');
    handlers.get('will-frame-navigate')!(frame);
    expect(frame.defaultPrevented).toBe(true);
    const ownFrame = new FakeEvent('app://minion/index.html');
    handlers.get('will-frame-navigate')!(ownFrame);
    expect(ownFrame.defaultPrevented).toBe(false);
    const redirect = new FakeEvent();
    handlers.get('will-redirect')!(redirect, 'https://evil.example/');
    expect(redirect.defaultPrevented).toBe(true);
    const webview = new FakeEvent();
    handlers.get('will-attach-webview')!(webview);
    expect(webview.defaultPrevented).toBe(true);
  });
});

describe('hardenSession', () => {
  it('denies permissions, cancels remote requests and sets the CSP header', () => {
    let requestHandler: ((wc: unknown, permission: string, cb: (granted: boolean) => void) => void) | null =
      null;
    let checkHandler: (() => boolean) | null = null;
    let beforeRequest: ((details: { url: string }, cb: (r: { cancel: boolean }) => void) => void) | null =
      null;
    let headersReceived:
      ((details: { responseHeaders?: Record<string, string[]> }, cb: (r: unknown) => void) => void) | null =
      null;
    hardenSession(
      {
        setPermissionRequestHandler: (h: typeof requestHandler) => void (requestHandler = h),
        setPermissionCheckHandler: (h: typeof checkHandler) => void (checkHandler = h),
        webRequest: {
          onBeforeRequest: (h: typeof beforeRequest) => void (beforeRequest = h),
          onHeadersReceived: (h: typeof headersReceived) => void (headersReceived = h),
        },
      } as never,
      { isAppUrl: (url) => isAppUrl(url) },
    );
    for (const permission of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read']) {
      let granted: boolean | null = null;
      requestHandler!({}, permission, (g) => (granted = g));
      expect(granted, permission).toBe(false);
    }
    expect(checkHandler!()).toBe(false);
    const decide = (url: string) => {
      let cancel: boolean | null = null;
      beforeRequest!({ url }, (r) => (cancel = r.cancel));
      return cancel;
    };
    expect(decide('app://minion/assets/index.js')).toBe(false);
    expect(decide('https://cdn.example/lib.js')).toBe(true);
    expect(decide('http://127.0.0.1:8080/')).toBe(true);
    let response: { responseHeaders: Record<string, string[]> } | null = null;
    headersReceived!(
      { responseHeaders: { 'Content-Type': ['text/html'] } },
      (r) => (response = r as typeof response),
    );
    expect(response!.responseHeaders).toEqual({
      'Content-Type': ['text/html'],
      'Content-Security-Policy': [rendererCspHeader()],
    });
    expect(isAllowedRequest('data:image/png;base64,AA', (u) => isAppUrl(u))).toBe(true);
  });
});

describe('app:// renderer protocol', () => {
  const dir = mkdtempSync(join(tmpdir(), 'minion-renderer-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html>');
  writeFileSync(join(dir, 'assets', 'index.js'), 'export {}');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the renderer with CSP and type', async () => {
    const page = await rendererResponse('app://minion/', dir);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('<!doctype html>');
    expect(page.headers.get('content-security-policy')).toBe(rendererCspHeader());
    const script = await rendererResponse('app://minion/assets/index.js', dir);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
  });

  it('refuses other hosts, traversal and missing files', async () => {
    expect((await rendererResponse('app://other/index.html', dir)).status).toBe(404);
    expect((await rendererResponse('app://minion/%2e%2e/%2e%2e/etc/passwd', dir)).status).toBe(404);
    expect((await rendererResponse('app://minion/nope.js', dir)).status).toBe(404);
  });
});

/** Static, `require` and dynamic imports of `electron`, `electron-*` and `electron/…` (ESLint sees only the static ones). */
const ELECTRON_IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]electron(?:-[\w-]+)?(?:\/[^'"]*)?['"]/;

/**
 * Every source file under `dirs` (relative to `root`) that imports Electron, plus the files scanned. A directory that
 * does not exist throws: a renamed folder must not make the check pass by scanning nothing.
 */
function scanForElectronImports(root: string, dirs: string[]): { offenders: string[]; scanned: string[] } {
  const offenders: string[] = [];
  const scanned: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|tsx|js|mjs|cjs)$/.test(entry)) {
        scanned.push(relative(root, path));
        if (ELECTRON_IMPORT.test(readFileSync(path, 'utf8'))) offenders.push(relative(root, path));
      }
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  return { offenders, scanned };
}

const HEADLESS_DIRS = ['src-main/agent', 'src-main/sandbox', 'src-main/cli', 'src-main/bridge', 'src-shared'];

describe('headless core', () => {
  it('the import scan finds every form of Electron import in a planted tree, and nothing else', () => {
    const root = mkdtempSync(join(tmpdir(), 'minion-scan-'));
    try {
      const planted: Record<string, string> = {
        'core/static.ts': "import { app } from 'electron';",
        'core/type-only.ts': 'import type { Tray } from "electron";',
        'core/nested/required.js': "const { shell } = require('electron')",
        'core/dynamic.mjs': "await import('electron-store')",
        'core/subpath.tsx': "import x from 'electron/main'",
        'core/clean.ts': "import { z } from 'zod'; // electron",
        'core/not-source.md': "import { app } from 'electron';",
      };
      for (const [name, source] of Object.entries(planted)) {
        mkdirSync(join(root, name, '..'), { recursive: true });
        writeFileSync(join(root, name), source);
      }
      const { offenders, scanned } = scanForElectronImports(root, ['core']);
      expect(offenders.sort()).toEqual(
        [
          'core/dynamic.mjs',
          'core/nested/required.js',
          'core/static.ts',
          'core/subpath.tsx',
          'core/type-only.ts',
        ].map((name) => join(...name.split('/'))),
      );
      expect(scanned).toHaveLength(6);
      expect(() => scanForElectronImports(root, ['core', 'renamed-away'])).toThrow(/ENOENT/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('src-main/agent, sandbox, cli, bridge and src-shared import no Electron package', () => {
    const root = join(__dirname, '../..');
    const { offenders, scanned } = scanForElectronImports(root, HEADLESS_DIRS);
    for (const dir of HEADLESS_DIRS) {
      expect(
        scanned.some((path) => path.startsWith(join(...dir.split('/')))),
        `${dir} holds sources`,
      ).toBe(true);
    }
    expect(offenders).toEqual([]);
  });
});
