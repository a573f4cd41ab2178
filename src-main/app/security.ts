/**
 * Electron security checklist, applied to every web contents and to the session: no navigation, no new windows,
 * no permissions, no remote content, CSP on every response, external links only through the OS for allow-listed
 * schemes. Each piece takes the narrow part of Electron it touches, so tests can drive it with fakes.
 */
import type { Session, WebContents } from 'electron';
import { rendererCspHeader } from '../../src-shared/csp';

/** Links the page may hand to the OS: web pages over TLS and mail. Never file:, javascript:, custom handlers… */
export const EXTERNAL_URL_SCHEMES: readonly string[] = ['https:', 'mailto:'];

export function isAllowedExternalUrl(url: string): boolean {
  try {
    return EXTERNAL_URL_SCHEMES.includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

export type HardenableWebContents = Pick<WebContents, 'on' | 'setWindowOpenHandler'>;

export interface HardenOptions {
  isAppUrl: (url: string) => boolean;
  openExternal: (url: string) => Promise<void>;
  onBlocked?: (what: string, url: string) => void;
}

export function hardenWebContents(contents: HardenableWebContents, options: HardenOptions): void {
  const { isAppUrl, openExternal, onBlocked } = options;
  const sendOut = (url: string): void => {
    if (isAllowedExternalUrl(url)) void openExternal(url).catch(() => undefined);
    else onBlocked?.('external link', url);
  };
  contents.setWindowOpenHandler(({ url }) => {
    // target=_blank links leave through the OS browser; the app itself never opens a second window.
    sendOut(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event, url) => {
    event.preventDefault();
    if (!isAppUrl(url)) sendOut(url);
  });
  contents.on('will-frame-navigate', (event) => {
    if (!isAppUrl(event.url)) {
      event.preventDefault();
      onBlocked?.('frame navigation', event.url);
    }
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) {
      event.preventDefault();
      onBlocked?.('redirect', url);
    }
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    onBlocked?.('webview', '');
  });
}

export type HardenableSession = Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'> & {
  webRequest: Pick<Session['webRequest'], 'onHeadersReceived' | 'onBeforeRequest'>;
};

/** Requests the dashboard may make: its own pages and inline data, plus DevTools' own scheme. */
export function isAllowedRequest(url: string, isAppUrl: (url: string) => boolean): boolean {
  if (isAppUrl(url)) return true;
  return url.startsWith('data:') || url.startsWith('devtools:');
}

export function hardenSession(
  session: HardenableSession,
  options: { isAppUrl: (url: string) => boolean },
): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  // No remote content: anything that is not our renderer is cancelled before it leaves the machine.
  session.webRequest.onBeforeRequest((details, callback) => {
    callback({ cancel: !isAllowedRequest(details.url, options.isAppUrl) });
  });
  // The CSP header also covers responses the app:// handler does not produce (the Vite dev server in development).
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [rendererCspHeader()] },
    });
  });
}
